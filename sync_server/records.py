"""The server's plain records: what a visitor allowed, what a device sent, how a site's rounds
run and where they stand. They hold and check values and know nothing of HTTP or storage, so
every layer can use them (the HTTP handlers, the rounds, the store).

>>> config = RoundConfig(min_devices=2, target_devices=5, round_seconds=60.0)
>>> config.due(pending=5, opened_at=0.0, now=1.0), config.due(pending=2, opened_at=0.0, now=61.0)
('target_devices', 'deadline')
>>> print(config.due(pending=1, opened_at=0.0, now=61.0))
None
>>> RoundConfig(clip_norm="1")
Traceback (most recent call last):
...
ValueError: clip_norm must be float, got '1'
>>> RoundConfig(noise_multiplier=1e300)
Traceback (most recent call last):
...
ValueError: noise_multiplier must be at most 1000.0, got 1e+300

A config stored before a check existed still loads, its bad values replaced (see `load`):

>>> config, problems = RoundConfig.load({"noise_multiplier": 1e300, "clip_norm": -1.0, "target_devices": 500})
>>> config  # doctest: +ELLIPSIS
RoundConfig(..., target_devices=500, ..., clip_norm=5.0, noise_multiplier=1000.0, ...)
>>> problems
['clip_norm cannot be -1.0', 'noise_multiplier must be at most 1000.0, got 1e+300']
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import NamedTuple

from sync_server.privacy import MAX_NOISE_MULTIPLIER, visitor_epsilon, window_epsilon


@dataclasses.dataclass(frozen=True)
class Consent:
    """One decision of a visitor: each purpose granted or not, under a policy version."""

    visitor: str
    policy_version: str
    personalize: bool
    improve: bool
    sync: bool


class Token(NamedTuple):
    """A spent participation token as an update carries it (tokens.py)."""

    round: int
    nonce: bytes
    authenticator: bytes


class Counter(NamedTuple):
    """Impressions, clicks and conversions of one variant in one slot, in the personalized or holdout arm."""

    slot: str
    variant: str
    arm: str
    impressions: int
    clicks: int
    conversions: int | None = None  # counted only in slots that optimize a goal


@dataclasses.dataclass(frozen=True, slots=True)
class Update:
    """A checked update (updates.py); `idx` and `val` are lists from JSON, NumPy arrays from the compact form."""

    base_version: int
    samples: int
    intercept: float
    idx: Sequence[int]
    val: Sequence[float]
    update_id: str | None = None
    counters: tuple[Counter, ...] = ()
    token: Token | None = None  # always there in an update a device sent (tokens.py)
    intercept_curvature: float = 0.0
    curvature: Sequence[float] = ()  # parallel to idx; empty: no curvature


AGGREGATORS = ("mean", "trimmed_mean")
FIELD_TYPES = {"float": (int, float), "int": int, "str": str, "float | None": (int, float, type(None))}
# Beyond these a value is a slip of the keyboard, and some would overflow the arithmetic (σ·C in the
# noise, σ in the accountant). A new field with a number an admin sets gets a row here.
MAXIMA = {
    "learning_rate": 100.0,
    "min_devices": 1_000_000,
    "target_devices": 1_000_000,
    "round_seconds": 366 * 86400.0,
    "check_seconds": 366 * 86400.0,
    "max_staleness": 1_000,
    "clip_norm": 1e3,
    "noise_multiplier": MAX_NOISE_MULTIPLIER,
    "epsilon_budget": 1e4,
    "counter_noise": 1e6,
    "device_rounds_per_year": 366 * 24,  # an hourly round every hour of a year
    "tokens_per_network": 100_000,
}


@dataclasses.dataclass(frozen=True)
class RoundConfig:
    """How one site's rounds run; stored per site, and these defaults suit a small site."""

    # η, the damping of the posterior's step (sync_server/posterior.py): an example's ~30 features
    # move one logit together. At 0.3 the model swung round to round, below devices alone, on the
    # shop and the small site without noise; at 0.1 it climbed steadily (README, bench federated_quality).
    learning_rate: float = 0.1
    # A device joins one round a year (k = 1), so its evidence counts once: a round should be
    # large. The noise σC on a round's sums is the same whatever its size while its evidence grows
    # with its devices, so what a round teaches grows about as the square of its size.
    min_devices: int = 250  # a round never closes with fewer devices (3,000 visitors a year: 12 rounds)
    target_devices: int = 1000  # a round closes as soon as this many devices took part…
    # …or this long after its first update, given min_devices. A month, not an hour: with an hourly
    # deadline every site under 1,000 visitors an hour closed its rounds at min_devices, and the
    # shop's year of 48 rounds of 250 kept 0.21 of a shared engine's gain against 0.35 for 12 of
    # 1,000 on the same visitors (bench federated_quality's shop, one seed).
    round_seconds: float = 30 * 86400.0
    check_seconds: float = 3600.0  # devices look for a new model, and send an update that is due, this often
    max_staleness: int = 2  # deltas trained on a model up to this many versions old count
    clip_norm: float = 5.0  # C: the server clips every update to this L2 norm (a click's gradient is about 5.5)
    noise_multiplier: float = 2.24  # σ: noise of std σC on the sums; with k = 1, ε ≤ 2 at δ = 1e-6 (ε = 1.991)
    aggregator: str = "mean"  # or "trimmed_mean", robust to a few Byzantine devices
    trim: float = 0.1  # share of values the trimmed mean drops at each end
    delta: float = 1e-6  # δ of the reported (ε, δ)
    epsilon_budget: float | None = 2.0  # per visitor and 365 days: rounds pause before ε passes it
    # k: a device joins at most this many rounds in any 365 days. One: ε then does not grow with the
    # rounds a site runs, and σ = 2.39 instead of 8.26 for k = 12 (both by the RDP bound, before the
    # exact accountant: 2.24 and 7.73 now) carried three times the private
    # gain on the shop (bench federated_quality).
    device_rounds_per_year: int = 1
    participation_rate: float = 1.0  # devices send in a round with this probability
    counter_noise: float = 0.0  # std of the noise on every published analytics total
    tokens_per_network: int = 5  # tokens per round for one client network (/24 or /56), all visitors
    versions_kept: int = 3  # model versions kept, with the updates of their rounds; older ones are pruned

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, FIELD_TYPES[field.type]):
                raise ValueError(f"{field.name} must be {field.type}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value!r}")
            if value is not None and field.name in MAXIMA and value > MAXIMA[field.name]:
                raise ValueError(f"{field.name} must be at most {MAXIMA[field.name]}, got {value!r}")
        checks = {
            "learning_rate": self.learning_rate > 0,
            "min_devices": self.min_devices >= 1,
            "target_devices": self.target_devices >= self.min_devices,
            "round_seconds": self.round_seconds > 0,
            "check_seconds": self.check_seconds > 0,
            "max_staleness": self.max_staleness >= 0,
            "clip_norm": self.clip_norm > 0,
            "noise_multiplier": self.noise_multiplier >= 0,
            "aggregator": self.aggregator in AGGREGATORS,
            "trim": 0 <= self.trim < 0.5,
            "delta": 0 < self.delta < 1,
            "epsilon_budget": self.epsilon_budget is None or self.epsilon_budget > 0,
            "participation_rate": 0 < self.participation_rate <= 1,
            "device_rounds_per_year": self.device_rounds_per_year >= 1,
            "counter_noise": self.counter_noise >= 0,
            "tokens_per_network": self.tokens_per_network >= 1,
            "versions_kept": self.versions_kept >= 1,
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f"{field} cannot be {getattr(self, field)!r}")

    @classmethod
    def load(cls, stored: dict) -> tuple[RoundConfig, list[str]]:
        """The config `stored` describes, and what was wrong with it: a database may hold values
        from before today's checks, and one bad value must not stop a site. A value over its
        maximum becomes the maximum (for σ, the side of more privacy); any other bad or unknown
        field is left at its default."""
        try:
            return cls(**stored), []
        except (TypeError, ValueError):
            pass
        config, problems = cls(), {}
        for _ in range(2):  # twice: a field checked against another (target_devices) may pass once that one is in
            for name, value in stored.items():
                fixed = MAXIMA[name] if name in MAXIMA and _over(value, MAXIMA[name]) else value
                try:
                    config = dataclasses.replace(config, **{name: fixed})
                except (TypeError, ValueError) as error:
                    problems[name] = str(error)
                    continue
                if fixed is not value:
                    problems[name] = f"{name} must be at most {MAXIMA[name]}, got {value!r}"
                elif name in problems:
                    del problems[name]
        return config, [problems[name] for name in sorted(problems)]

    def due(self, pending: int, opened_at: float | None, now: float) -> str | None:
        """Why a round with `pending` updates, the first at `opened_at`, should close now, or None."""
        if pending >= self.target_devices:
            return "target_devices"
        if pending >= self.min_devices and now >= opened_at + self.round_seconds:
            return "deadline"
        return None

    def for_devices(self) -> dict:
        """What a device needs to take part: how to clip, how often to join and to look for a new model."""
        return {"clip_norm": self.clip_norm, "participation_rate": self.participation_rate,
                "check_seconds": self.check_seconds, "max_staleness": self.max_staleness,
                "device_rounds_per_year": self.device_rounds_per_year}


class ClosedRound(NamedTuple):
    """What the accountant and the dashboard need of a closed round."""

    closed_at: float
    noise_multiplier: float
    clip_norm: float
    learning_rate: float
    devices: int


def _over(value: object, maximum: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > maximum


@dataclasses.dataclass
class RoundState:
    """Where a site's rounds stand: the newest version, the open round, the privacy spent."""

    site: str
    buckets: int
    version: int
    config: RoundConfig
    closed: list[ClosedRound]  # in order, for the accountant and the dashboard
    pending: int = 0  # updates in the open round
    opened_at: float | None = None  # when the open round got its first update
    epsilon: float = dataclasses.field(init=False)  # the most a visitor spent in any 365 days
    accepting: bool = dataclasses.field(init=False)  # False while the next round would pass the budget

    def __post_init__(self) -> None:
        self.epsilon = visitor_epsilon(self._sigmas(), self.config.device_rounds_per_year, self.config.delta)
        budget = self.config.epsilon_budget
        self.accepting = budget is None or self.epsilon_if_closed(time.time()) <= budget

    def epsilon_if_closed(self, now: float) -> float:
        """What a visitor would have spent in the 365 days up to `now` if a round closed now."""
        rounds = [*self._sigmas(), (now, self.config.noise_multiplier)]
        return window_epsilon(rounds, self.config.device_rounds_per_year, self.config.delta, now)

    def _sigmas(self) -> list[tuple[float, float]]:
        return [(r.closed_at, r.noise_multiplier) for r in self.closed]

    def due(self, now: float) -> str | None:
        return self.config.due(self.pending, self.opened_at, now)
