"""The policies `edge_quality` and `obd_replay` pit against each other, behind one interface.

Each gets a visit's context (in the engine's format) and the slot's candidates, chooses one
item to show, and then learns whether it was clicked.
"""

from __future__ import annotations

import abc
import random

import edge
from edge.features import context_tokens
from edge.profile import Profile

SLOT = "hero"


class Contestant(abc.ABC):
    """A policy that shows one item per visit and learns from the click, or its absence."""

    @abc.abstractmethod
    def choose(self, context: dict, candidates: list[dict]) -> str:
        """The id of the candidate to show."""

    @abc.abstractmethod
    def learn(self, context: dict, item: str, clicked: bool) -> None:
        """Learn the outcome of showing `item` in `context`."""

    visitor: int | None = None  # who the visit is, if visitors come back; None: a new visitor

    def meet(self, visitor: int | None) -> None:
        """Who the next visit is. Only what keeps a profile per visitor, as our engine does on
        each visitor's device, makes use of it."""
        self.visitor = visitor


class Random(Contestant):
    """Shows any candidate with equal chance: the floor every learner must beat."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def choose(self, context: dict, candidates: list[dict]) -> str:
        return self.rng.choice(candidates)["id"]

    def learn(self, context: dict, item: str, clicked: bool) -> None:
        pass


class Popularity(Contestant):
    """Thompson sampling on a Beta-Bernoulli CTR per item, ignoring the context.

    This is what a site gets from plain A/B/n optimisation: the item most people click.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.clicks: dict[str, int] = {}
        self.shows: dict[str, int] = {}

    def choose(self, context: dict, candidates: list[dict]) -> str:
        def sample(item: str) -> float:
            clicks = self.clicks.get(item, 0)
            return self.rng.betavariate(1 + clicks, 1 + self.shows.get(item, 0) - clicks)

        return max((c["id"] for c in candidates), key=sample)

    def learn(self, context: dict, item: str, clicked: bool) -> None:
        self.shows[item] = self.shows.get(item, 0) + 1
        self.clicks[item] = self.clicks.get(item, 0) + clicked


class RiverLinUCB(Contestant):
    """River's `bandit.LinUCBDisjoint`: a ridge regression of the click per item over the
    context's tokens (one-hot, plus a bias), ranked by its upper confidence bound `alpha`
    standard deviations up."""

    def __init__(self, alpha: float = 1.0, seed: int = 0) -> None:
        from river import bandit

        self.policy = bandit.LinUCBDisjoint(alpha=alpha, seed=seed)

    def choose(self, context: dict, candidates: list[dict]) -> str:
        return self.policy.pull([c["id"] for c in candidates], context=_one_hot(context))

    def learn(self, context: dict, item: str, clicked: bool) -> None:
        self.policy.update(item, _one_hot(context), float(clicked))


class VowpalWabbit(Contestant):
    """Vowpal Wabbit's `--cb_explore_adf`: a contextual bandit over context × item features.

    The context is the shared example and each candidate an action; `-q ca` crosses them, as
    the engine does. VW returns a probability for each action and we draw from it; that
    probability goes back to VW with the outcome, so it learns from its own choices.
    `options` choose how it estimates and explores: `--cb_type mtr --epsilon 0.05` are VW's
    defaults; `--cb_type dm` regresses the click on the features directly, without the
    importance weights (1 / probability, up to 400 here) that make MTR's steps wild when
    clicks are rare.
    """

    BASE = "--cb_explore_adf -q ca --quiet"

    def __init__(self, options: str = "", seed: int = 0) -> None:
        import vowpalwabbit

        self.args = f"{self.BASE} {options}".strip()
        self.vw = vowpalwabbit.Workspace(f"{self.args} --random_seed {seed}")
        self.rng = random.Random(seed)
        self._lines: list[str] = []  # the last multi-line example: shared context, then actions
        self._pmf: list[float] = []
        self._ids: list[str] = []

    def choose(self, context: dict, candidates: list[dict]) -> str:
        self._lines = [_vw_shared(context), *(_vw_action(c) for c in candidates)]
        self._pmf = self.vw.predict(self._lines)
        self._ids = [c["id"] for c in candidates]
        return self.rng.choices(self._ids, weights=self._pmf)[0]

    def learn(self, context: dict, item: str, clicked: bool) -> None:
        action = self._ids.index(item)
        labelled = list(self._lines)
        # VW minimises cost: a click costs -1, no click 0; the label carries the propensity.
        labelled[action + 1] = f"0:{-1.0 if clicked else 0.0}:{self._pmf[action]} {labelled[action + 1]}"
        self.vw.learn(labelled)


class Engine(Contestant):
    """Our `edge.Personalizer`, showing the top of its ranking in a slot of size one.

    The engine is built to serve one visitor; here it serves every visit of the site, as
    a global model would. A new visitor starts from an empty profile, a returning one
    (`meet`) from their own: visitors share what the model learned, never each other's
    history. Visits are a minute apart on the engine's clock.

    It may also learn from an item something else showed, such as a logged random policy:
    its own decision was then never seen, so it is withdrawn, and the item is recorded as
    a decision of its own, which the engine learns from like any other.
    """

    SECONDS_BETWEEN_VISITS = 60.0

    def __init__(self, config: edge.Config) -> None:
        self.engine = edge.Personalizer(config)
        self.clock = 0.0
        self._decision: edge.Decision | None = None
        self._candidates: dict[str, dict] = {}
        self._profiles: dict[int, Profile] = {}

    def choose(self, context: dict, candidates: list[dict]) -> str:
        self.clock += self.SECONDS_BETWEEN_VISITS
        visitor = self.visitor
        self.engine.profile = Profile() if visitor is None else self._profiles.setdefault(visitor, Profile())
        self._decision = self.engine.decide(SLOT, candidates, context, at=self.clock, size=1)
        self._candidates = {c["id"]: c for c in candidates}
        return self._decision.ranking[0]

    def learn(self, context: dict, item: str, clicked: bool) -> None:
        decision = self._decision
        if item != decision.ranking[0]:
            del self.engine.open_decisions[decision.id]
            decision = self.engine.decide(SLOT, [self._candidates[item]], context, at=self.clock)
        if clicked:
            self.engine.learn({"type": "click", "decision": decision.id, "variant": item, "at": self.clock})


def _one_hot(context: dict) -> dict[str, float]:
    return {"bias": 1.0, **{token: 1.0 for token in context_tokens(context)}}


def _vw_shared(context: dict) -> str:
    return "shared |c " + " ".join(_vw_word(t) for t in context_tokens(context))


def _vw_action(candidate: dict) -> str:
    return "|a " + " ".join(_vw_word(f) for f in [*candidate["features"], f"id:{candidate['id']}"])


def _vw_word(token: str) -> str:
    # In VW's text format ':' separates a feature from its value and '|' starts a namespace.
    return token.replace(":", "=").replace("|", "/").replace(" ", "_")
