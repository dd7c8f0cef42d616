"""Simulated traffic: many visitors' devices, each a CPython `edge` engine, speaking HTTP.

A `Device` is what the snippet and its worker do in a browser, without the page: it makes a
pseudonymous visitor id and secret, records its visitor's consent with the server, starts from
the site's global model, decides the shop's slots on every visit, learns from every click on
the spot and, if its visitor granted `improve`, takes a participation token for the round when
it merges a model (`sync_server.tokens`) and spends it on one clipped delta with its counters
(at most the model's `device_rounds_per_year` in 365 days), then merges the next global model.
Visitors click with the known probabilities of a
simulated site (`sync_server.demo.simulation`), here an outdoor shop with the demo page's slots.

`simulate` drives a crowd of devices against a running server, with a progress bar; it fills
the demo's dashboard and the admin tests' server. Every device sends from its own address
(`X-Forwarded-For`, which the server trusts from loopback), as real devices do, so the
per-address rate limit treats each device on its own.

>>> shop = Shop.demo()
>>> [slot.name for slot in shop.slots], [c["id"] for c in shop.slots[1].candidates]
(['hero', 'picks'], ['tent', 'helmet', 'bottle'])
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
from tqdm import tqdm

from edge import Config, Personalizer, federated, model_form
from sync_server import tokens
from sync_server.demo.simulation import Archetype, Item, Site, Visit
from sync_server.sites import DEFAULT_HOLDOUT

log = logging.getLogger(__name__)
POLICY_VERSION = "demo-2026"
DAY = 86_400.0
DEMO_DEVICES = 200
# The default site-wide control group, and a larger one of the hero's own, so the demo's short
# run already shows an uplift with a confidence sequence narrow enough to read.
DEMO_RULES = {"holdout": DEFAULT_HOLDOUT, "slots": {"hero": {"holdout": 0.2}}}
DEMO_SAMPLE = 4_000  # visits in the demo's logged sample
# The demo's 200 devices come back all month, so each joins up to 12 rounds (k = 12) with the
# noise that keeps that within the default budget (σ = 7.73: ε ≤ 2 per visitor-year at δ = 1e-6);
# at the shipped k = 1 they would fill about three rounds between them. Its rounds close at 100
# devices: the shipped 250 to 1,000 are more than the demo has.
DEMO_ROUNDS = {"device_rounds_per_year": 12, "noise_multiplier": 7.73, "min_devices": 50, "target_devices": 100}


@dataclasses.dataclass(frozen=True)
class Slot:
    """A slot of the simulated page, its variants' click odds given by `site`."""

    name: str
    site: Site
    size: int

    @property
    def candidates(self) -> list[dict]:
        return self.site.candidates()


@dataclasses.dataclass(frozen=True)
class Shop:
    """A page of slots whose visitors come from one set of archetypes."""

    slots: list[Slot]

    @classmethod
    def demo(cls) -> Shop:
        """The demo shop (browser_pkg/demo/index.html): a hero banner and a row of picks."""
        hero = [Item("spring-hike", ("topic:hiking", "season:spring")),
                Item("city-bike", ("topic:cycling", "style:urban")),
                Item("lake-swim", ("topic:swimming", "season:summer"))]
        picks = [Item("tent", ("topic:camping", "price:high")),
                 Item("helmet", ("topic:cycling", "price:mid")),
                 Item("bottle", ("topic:hiking", "price:low"))]
        effects = {("daypart:evening", "topic:camping"): 0.3, ("weekend", "topic:hiking"): 0.4,
                   ("device:mobile", "price:high"): -0.3}
        return cls([Slot("hero", Site(hero, OUTDOOR_ARCHETYPES, 0.015, effects), size=1),
                    Slot("picks", Site(picks, OUTDOOR_ARCHETYPES, 0.015, effects), size=3)])

    def catalog(self) -> dict:
        """The shop's public catalog (sync_server.catalog): what its page says about its slots."""
        archetypes = self.slots[0].site.archetypes
        return {"slots": {slot.name: [{**c, "title": c["id"].replace("-", " ").capitalize()} for c in slot.candidates]
                          for slot in self.slots},
                "interests": sorted({i for a in archetypes for i in a.interests}),
                "pages": sorted({p for a in archetypes for p in a.pages})}

    def visits(self, n: int, seed: int) -> Iterator[tuple[Visit, list[dict[str, float]]]]:
        """`n` visits, each with every slot's click probabilities for its context."""
        first, *others = self.slots
        for visit in first.site.visits(n, seed):
            yield visit, [visit.ctr, *(slot.site.ctr(visit.context) for slot in others)]


OUTDOOR_ARCHETYPES = [
    Archetype("commuter", share=0.3, devices={"mobile": 0.8, "desktop": 0.2}, hours=(7, 8, 8, 9, 17, 18, 18, 19),
              weekend=0.1, referrers={"social": 0.5, "direct": 0.5}, pages={"home": 1.0}, interests=("cycling",),
              tastes={"topic:cycling": 1.0, "style:urban": 0.6, "price:high": -0.4}),
    Archetype("hiker", share=0.35, devices={"mobile": 0.4, "desktop": 0.6}, hours=tuple(range(9, 23)),
              weekend=0.5, referrers={"search": 0.6, "email": 0.4}, pages={"home": 1.0}, interests=("hiking",),
              tastes={"topic:hiking": 1.1, "topic:camping": 0.5, "price:low": 0.3}),
    Archetype("camper", share=0.2, devices={"desktop": 0.7, "tablet": 0.3}, hours=tuple(range(18, 24)),
              weekend=0.6, referrers={"search": 0.5, "direct": 0.5}, pages={"home": 1.0}, interests=("camping",),
              tastes={"topic:camping": 1.2, "price:high": 0.3, "topic:swimming": 0.4}),
    Archetype("swimmer", share=0.15, devices={"mobile": 0.6, "desktop": 0.4}, hours=tuple(range(6, 21)),
              weekend=0.4, referrers={"social": 0.6, "search": 0.4}, pages={"home": 1.0}, interests=("swimming",),
              tastes={"topic:swimming": 1.3, "season:summer": 0.4}),
]


def logged_sample(shop: Shop, visits: int, seed: int) -> list[dict]:
    """What a site logs while it shows each slot's variants uniformly at random: impressions
    for offline replay (sync_server.replay), one per slot and visit."""
    rng = random.Random(seed + 1)
    rows = []
    for visit, ctrs in shop.visits(visits, seed):
        for slot, ctr in zip(shop.slots, ctrs):
            shown = rng.choice(slot.candidates)["id"]
            rows.append({"slot": slot.name, "context": visit.context, "candidates": slot.candidates,
                         "shown": shown, "clicked": rng.random() < ctr[shown]})
    return rows


class Server:
    """The sync server as devices reach it; the global model is fetched with its ETag, as a
    browser's HTTP cache revalidates it, and shared by every device like a cached response."""

    def __init__(self, url: str, site: str, fresh_seconds: float = 0.5) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=30.0)
        self.site = site
        self.fresh_seconds = fresh_seconds  # a simulated day passes in moments: revalidate often
        self._model: dict = {}
        self._etag, self._fetched_at = "", -float("inf")

    def global_model(self, revalidate: bool = False) -> dict:
        if revalidate or time.monotonic() - self._fetched_at >= self.fresh_seconds:
            answer = self.http.get(f"/v1/sites/{self.site}/model",  # in the compact form, as the worker asks
                                   headers={"accept": model_form.MEDIA_TYPE, "if-none-match": self._etag})
            if answer.status_code != 304:
                answer.raise_for_status()
                self._model, self._etag = model_form.decode(answer.content), answer.headers["etag"]
            self._fetched_at = time.monotonic()
        return self._model

    def post(self, path: str, body: dict, address: str, secret: str | None = None) -> httpx.Response:
        headers = {"x-forwarded-for": address, **({"authorization": f"Bearer {secret}"} if secret else {})}
        return self.http.post(path, json=body, headers=headers)

    def token(self, model: dict, visitor: str, secret: str, address: str) -> dict | httpx.Response:
        """A participation token for the round `model` opened, or the server's refusal."""
        request, round_ = tokens.blind(), model["version"] + 1
        answer = self.post(f"/v1/sites/{self.site}/tokens",
                           {"visitor": visitor, "round": round_, "blinded": tokens.encode(request.blinded)},
                           address, secret)
        if answer.status_code != 201:
            return answer
        return request.finalize(round_, answer.json()["evaluation"], model["federation"]["token_key"])


class Device:
    """One visitor's browser: an engine, a consent, and a round it last took part in."""

    def __init__(self, server: Server, rng: random.Random, improve_share: float, refusals: Counter) -> None:
        self.server, self.refusals = server, refusals
        self.visitor, self.secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        self.address = f"198.18.{rng.randrange(256)}.{rng.randrange(1, 255)}"  # RFC 2544's test range
        model = server.global_model()  # a new visitor starts from the global model
        self.engine = Personalizer(Config(policy="thompson", hash_bits=model["hash_bits"], seed=rng.randrange(2**32)))
        self.engine.merge_global(model)
        self.improve = rng.random() < improve_share
        self.sent_in_version: int | None = None
        self.sent_at: list[float] = []  # when its updates went, to keep to the yearly cap
        self.counted: list[dict] = []  # the counters as the updates sent so far left them
        self.token: dict | None = None  # for the round the merged model opened

    def consent(self) -> None:
        purposes = {"personalize": True, "improve": self.improve, "sync": False}
        body = {"visitor": self.visitor, "policy_version": POLICY_VERSION, "purposes": purposes}
        self.server.post(f"/v1/consent?site={self.server.site}", body, self.address, self.secret).raise_for_status()
        self.take_token(self.server.global_model())

    def take_token(self, model: dict) -> None:
        """Ask for the token of the round `model` opened, well before spending it (as the worker
        does), so the time of the update does not point at the issuance."""
        self.token = None
        if not self.improve or model["version"] != self.engine.global_version:
            return
        answer = self.server.token(model, self.visitor, self.secret, self.address)
        if isinstance(answer, httpx.Response):  # the round closed meanwhile, or a limit: sits it out
            if answer.status_code not in (409, 429):
                answer.raise_for_status()
            self.refusals[answer.json()["error"]] += 1
        else:
            self.token = answer

    def visit(self, shop: Shop, visit: Visit, ctrs: list[dict[str, float]], rng: random.Random, at: float) -> int:
        """Decide the page, click what the visitor would click, learn; the clicks made."""
        slots = [{"slot": s.name, "candidates": s.candidates, "size": s.size} for s in shop.slots]
        clicks = 0
        for decision, ctr in zip(self.engine.decide_page(slots, visit.context, at=at), ctrs):
            for variant in decision.ranking:
                if rng.random() < ctr[variant]:
                    self.engine.learn({"type": "click", "decision": decision.id, "variant": variant, "at": at})
                    clicks += 1
        return clicks

    def take_part(self, min_samples: int, at: float) -> bool:
        """Send this round's update if the visitor allows it and it has learned enough; at most
        one per global version, since the server's privacy unit is one device's update per round,
        and at most the model's `device_rounds_per_year` in any 365 days, as the accountant assumes."""
        version = self.engine.global_version
        if not self.improve or self.sent_in_version == version or self.engine.samples < min_samples:
            return False
        cap = self.server.global_model()["federation"]["device_rounds_per_year"]
        if sum(at - sent < 365 * DAY for sent in self.sent_at) >= cap:
            return False
        if self.token is None or self.token["round"] != (version or 0) + 1:
            return False  # no token for this round: it sits the round out
        gains, counted = federated.counter_gains(self.engine.counters(), self.counted)
        answer = self.server.post(f"/v1/sites/{self.server.site}/updates",
                                  {**self.engine.delta(), "counters": gains, "token": self.token}, self.address)
        self.token = None  # spent, or refused for good
        if answer.status_code == 409:  # stale or expired (a round closed since it merged), or the budget is spent
            self.refusals[answer.json()["error"]] += 1
            return False
        answer.raise_for_status()
        self.sent_in_version, self.counted = version, counted
        self.sent_at.append(at)
        return True

    def refresh(self) -> None:
        """Merge the global model if a newer version is out (the worker checks on each page)."""
        model = self.server.global_model()
        if model["version"] > (self.engine.global_version or 0):
            self.engine.merge_global(model)
            self.take_token(model)


@dataclasses.dataclass
class Report:
    visits: int = 0
    clicks: int = 0
    updates: int = 0
    refused: Counter = dataclasses.field(default_factory=Counter)  # 409s by error code
    version: int = 0  # of the global model at the end

    def __str__(self) -> str:
        ctr = self.clicks / self.visits if self.visits else 0.0
        refused = ", ".join(f"{n} {code}" for code, n in sorted(self.refused.items())) or "none"
        return (f"{self.visits} visits, {self.clicks} clicks (CTR {ctr:.1%}), {self.updates} updates sent "
                f"(refused: {refused}); the global model is at version {self.version}")


def simulate(url: str, site: str, devices: int, visits: int, *, seed: int = 0, improve_share: float = 0.8,
             min_samples: int = 5, days: float = 30.0, fresh_seconds: float = 0.5, progress: bool = True) -> Report:
    """Run `visits` visits by `devices` returning visitors against the server at `url`.

    Visits spread evenly over the last `days` days (the engines' clocks, for decayed tastes);
    devices revalidate the global model at most every `fresh_seconds` of real time.
    """
    if devices < 1 or visits < 1:
        raise ValueError(f"need at least one device and one visit, got {devices} devices and {visits} visits")
    shop, rng, server = Shop.demo(), random.Random(seed), Server(url, site, fresh_seconds)
    report = Report()
    crowd = [Device(server, rng, improve_share, report.refused) for _ in range(devices)]
    for device in crowd:
        device.consent()
    start = time.time() - days * DAY
    bar = tqdm(total=visits, unit="visit", desc="simulating", disable=not progress)
    for i, (visit, ctrs) in enumerate(shop.visits(visits, seed)):
        device = rng.choice(crowd)
        device.refresh()
        at = start + i * days * DAY / visits
        report.clicks += device.visit(shop, visit, ctrs, rng, at=at)
        report.updates += device.take_part(min_samples, at)
        report.visits += 1
        bar.update()
    bar.close()
    report.version = server.global_model(revalidate=True)["version"]
    return report


def fill(url: str, site: str, visits: int) -> None:
    """`simulate` for the demo, once the server at `url` answers; a failure is logged, not raised."""
    try:
        wait_until_up(url)
        print(f"Demo traffic done: {simulate(url, site, DEMO_DEVICES, visits)}")
    except (httpx.HTTPError, TimeoutError, ValueError):
        log.exception("the demo traffic stopped")


def wait_until_up(url: str, timeout: float = 30.0, running: Callable[[], bool] = lambda: True) -> None:
    """Return once the server at `url` answers /healthz with 200, trying every 0.1 s; raise
    TimeoutError if it does not within `timeout`, RuntimeError as soon as `running()` is False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running():
            raise RuntimeError(f"the server at {url} stopped while starting")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"the server at {url} did not answer in {timeout} s")
