"""The personalizer: rank a page's slots for this visitor and learn from what they do.

Time is passed in (`at`, seconds, e.g. `Date.now() / 1000`), never read from a clock:
the visitor's profile fades with it, and a replay decides the same way every time.

>>> p = Personalizer(Config(policy="greedy"))
>>> hero = [{"id": "a", "features": ["topic:news"]}, {"id": "b", "features": ["topic:sports"]}]
>>> first = p.decide("hero", hero, {"device": "mobile"}, at=0)
>>> first.ranking          # nothing learned yet: the page's own order
['a', 'b']
>>> p.learn({"type": "click", "decision": first.id, "variant": "b", "at": 5})
['hero#1']
>>> again = p.decide("hero", hero, {"device": "mobile"}, at=10)
>>> again.ranking
['b', 'a']
>>> again.why["b"]
['Popular with other visitors', 'Popular with visitors on mobile']

A page with several slots never shows one item twice: each slot takes what the
slots before it left.

>>> page = p.decide_page([
...     {"slot": "hero", "candidates": hero, "size": 1},
...     {"slot": "more", "candidates": hero},
... ], at=20)
>>> [d.ranking for d in page]
[['b'], ['a']]

Editors have the last word (`configure`, or the `settings` part of a global model):

>>> p.configure({"rules": {"slots": {"hero": {"pin": {"a": 1}}}}})
>>> p.decide("hero", hero, at=30).ranking
['a', 'b']
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import ChainMap
from collections.abc import Mapping
from itertools import repeat, zip_longest
from typing import Any, NamedTuple

from edge import federated, linear_model, policies, variety
from edge.base import Features, LinearClassifier, State, restore_rng, rng_state
from edge.config import Config
from edge.features import Crossing, Hasher, candidate_tokens, context_tokens, crossed_names
from edge.federated import COUNTS
from edge.linear_model.log_reg import sigmoid
from edge.migrations import SCHEMA, upgrade
from edge.objectives import ATTRIBUTION_SECONDS, AWAITING_CLICKS, CLICK, Objective, conversion
from edge.policies import base as policy_base
from edge.profile import Profile, check_time
from edge.rules import NO_RULES, new_visitor
from edge.settings import Settings
from edge.validation import whole

CLICKS = Objective(CLICK)  # what a slot optimizes unless it says otherwise
# The visitor's group in a slot (see edge.rules): ranked by the model, the control group
# that sees the page's order, or everyone's page order while the kill switch is on.
PERSONALIZED, HOLDOUT, OFF = "personalized", "holdout", "off"
COUNTED_ARMS = (PERSONALIZED, HOLDOUT)  # what the dashboard compares; "off" is neither
SLOT_KEYS = {"slot", "candidates", "size", "keep", "objective"}
# A painted order is replaced only when the posterior is all but sure it is worse: a variant
# shown below another (or not at all) beats it by more than this many standard deviations
# of their difference (one chance in 700 by noise). Anything less is noise, and the visitor
# keeps what they already see; the next view shows what was learned.
CREDIBLE_Z = 3.0
REMEMBERED_CLICKS = 256  # click and conversion ids learned, so that one sent twice is learned once
KNOWN_CANDIDATES = 4096  # candidates whose tokens and buckets are remembered
KNOWN_SLOTS = 256  # slots whose last candidates are remembered, laid out
# A visitor who asks for more variety gets it in every slot: items alike to one shown above
# them lose this much score (`edge.variety.spread`), and this share of decisions explores.
VISITOR_VARIETY = 1.0
VISITOR_EXPLORE = 0.1
# The weight a declared interest gives the cross of itself with the same candidate feature.
# A logit of +1 (e^1 ≈ 2.7 times the odds) leads a slot the model knows nothing about yet,
# and clicks on other things can still outweigh it.
INTEREST_WEIGHT = 1.0


@dataclasses.dataclass(frozen=True)
class Decision:
    """What one slot shows, best first, with each candidate's click probability, the
    features that most raised the score of each variant shown (`reasons`), the same
    in sentences a visitor reads (`why`), and the visitor's group in this slot.
    Only personalized decisions have reasons: the others show the page's order."""

    id: str
    slot: str
    ranking: list[str]
    scores: dict[str, float]
    reasons: dict[str, list[str]]
    why: dict[str, list[str]]
    arm: str = PERSONALIZED
    # Whether `ranking` is the order the page had painted (`keep`), kept since no fresh
    # decision was clearly better, and the order a later view of the slot should paint.
    kept: bool = False
    next: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class _Candidate(NamedTuple):
    """One candidate as the engine remembers it: its tokens and their buckets, and its
    own features (what a click on it tells the visitor's profile)."""

    tokens: tuple[str, ...]
    buckets: list[int]
    features: list[str]


class _Slot(NamedTuple):
    """A slot's candidates as its last decision had them, checked and laid out."""

    given: list[dict]  # a copy of the candidates as the page gave them, to know them again
    objective: Objective
    candidates: dict[str, _Candidate]
    crossing: Crossing


class _Draw(NamedTuple):
    """A fresh ranking of one slot, and what it was drawn from."""

    ranking: list[str]  # the variants shown, best first
    arm: str
    probabilities: dict[str, float]
    means: dict[str, float]  # each variant's logit, boosted by the rules
    variances: dict[str, float] | None  # each logit's posterior variance, if the policy keeps one
    contributions: list[float]  # the weight of each of the slot's buckets


@dataclasses.dataclass(frozen=True)
class _SlotRequest:
    """One slot of a page, checked, its candidates crossed with the visit."""

    slot: str
    size: int
    candidates: dict[str, _Candidate]  # variant -> its tokens, in the page's order
    crossing: Crossing
    keep: list[str] | None = None  # the order the page painted, if it did
    objective: Objective = CLICKS


class Personalizer:
    """Ranks candidates with an online logistic model over context × candidate features.

    Every variant shown in a decision is an impression. A click on it is a positive
    example, learned at once; variants of that decision never clicked become negative
    examples when the slot is decided again (the visitor moved on).

    The visit's context tokens are what the page says (`edge.features`), what the
    visitor did (`edge.profile`: interests, decayed views and clicks) and the segments
    they are in (`edge.segments`). The site's editor rules (`edge.rules`) then arrange
    every slot and put the visitor in its personalized or holdout group, by the
    engine's own pseudonymous `visitor` id (drawn at random unless given).

    `learner` replaces the built-in `LogisticRegression` (then `learning_rate` and
    `l2` do not apply): any linear classifier with `learn_one`, `predict_proba_one`,
    `weights` and `intercept` works, River's `LogisticRegression` included (the engine
    holds another library's in an `edge.linear_model.ForeignLearner`). Only the built-in
    one has JSON state and can merge global models (see `edge.base.LinearClassifier`).
    """

    def __init__(
        self, config: Config | None = None, learner: LinearClassifier | Any = None, visitor: str | None = None,
    ) -> None:
        if visitor is not None and not (isinstance(visitor, str) and visitor):
            raise ValueError(f"visitor must be a non-empty string id, got {visitor!r}")
        self.config = config or Config()
        self.model = linear_model.adopt(learner) if learner is not None else self.config.new_learner()
        self.policy = self.config.new_policy()
        self.rng = random.Random(self.config.seed)
        drawn = new_visitor(self.rng)  # drawn even when given, so that a seeded engine explores alike
        self.visitor = drawn if visitor is None else visitor
        self.profile = Profile()
        self.variety = False  # whether the visitor asked for more variety (`declare_variety`)
        self.settings = Settings()
        self.base: federated.GlobalModel | None = None  # the global model last merged
        self.start = federated.LinearModel()  # the local model right after that merge
        self.samples = 0  # examples learned since then
        self.evidence = federated.Evidence()  # what they say about that global model, for the server
        self.decisions_made = 0
        self.clicks_learned: list[str] = []  # the ids of the last REMEMBERED_CLICKS clicks learned
        # decision id -> {"slot", "arm", "shown": {variant: [buckets, values]},
        #                 "features": {variant: its own features}, "clicked": [variant]}
        # Replaced, never changed in place, so a `to_dict` taken earlier stays as it was.
        self.open_decisions: dict[str, dict] = {}
        # Clicks in slots that optimize a goal, oldest first, until a conversion rewards them or the
        # attribution window passes: {"decision", "slot", "variant", "arm", "objective", "at", "shown"}.
        self.awaiting: list[dict] = []
        # (slot, variant, arm) -> (impressions, clicks), and the conversions its clicks led to
        # in a slot that optimizes a goal: the numbers of `COUNTS`.
        self.counts: dict[tuple[str, str, str], tuple[int, ...]] = {}
        self._hash = Hasher(self.config.hash_bits)
        self._known: dict[tuple, _Candidate] = {}  # see `_tokens`
        self._slots: dict[str, _Slot] = {}  # see `_remember_slot`

    @property
    def global_version(self) -> int | None:
        return self.base.version if self.base else None

    # Deciding

    def decide(
        self, slot: str, candidates: list[dict], context: dict | None = None, *, at: float, size: int | None = None,
        keep: list[str] | None = None, objective: str = CLICK,
    ) -> Decision:
        """Rank `candidates` for a visit at time `at`, best first; `size` of them are shown (default all).

        `keep` is the order the page already painted (a ranking remembered from an
        earlier view): the decision shows it, unless the rules no longer allow it (a new
        pin or exclusion, the kill switch, the holdout) or the posterior is all but sure
        it is worse (see `CREDIBLE_Z`); a new draw never replaces it for noise. Either way
        the decision's `next` is a fresh draw, for the slot's next view to paint.
        `objective` is what the slot optimizes (see `edge.objectives`).

        >>> p = Personalizer(Config(seed=1))
        >>> row = [{"id": "a", "features": []}, {"id": "b", "features": []}, {"id": "c", "features": []}]
        >>> d = p.decide("row", row, at=0, keep=["c", "b", "a"])
        >>> d.ranking, d.kept
        (['c', 'b', 'a'], True)
        >>> p.configure({"rules": {"slots": {"row": {"pin": {"a": 1}}}}})
        >>> d = p.decide("row", row, at=1, keep=["c", "b", "a"])
        >>> d.ranking[0], d.kept
        ('a', False)
        """
        spec = {"slot": slot, "candidates": candidates, "size": size, "keep": keep, "objective": objective}
        return self.decide_page([spec], context, at=at)[0]

    def decide_page(
        self, slots: list[dict], context: dict | None = None, *, at: float, shown: list[str] | None = None,
    ) -> list[Decision]:
        """Decide several slots of one page, never showing an item (by id) in two of them.

        Each slot is `{"slot", "candidates", "size"?, "keep"?, "objective"?}`, as `decide`
        takes them. Slots are filled in the order given, so list the most valuable first.
        `shown` lists the items other slots of the page view show already (a slot a
        single-page app adds late joins the page): no slot here repeats them.

        >>> p = Personalizer(Config(policy="greedy"))
        >>> row = [{"id": "a", "features": []}, {"id": "b", "features": []}]
        >>> [d.ranking for d in p.decide_page([{"slot": "late", "candidates": row}], at=0, shown=["a"])]
        [['b']]
        """
        if not isinstance(slots, list) or not slots:
            raise ValueError(f"a page needs a non-empty list of slots, got {slots!r}")
        if shown is not None and not (isinstance(shown, list) and all(isinstance(v, str) for v in shown)):
            raise ValueError(f"shown must be a list of the item ids the page shows already, got {shown!r}")
        visit = self._visit_tokens(context or {}, at)
        keys = list(map(self._hash.key, visit))
        requests = [self._read_slot(spec, keys) for spec in slots]
        names = [r.slot for r in requests]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"slot {name!r} appears twice on the page")

        for request in requests:
            self._close_decisions(request.slot)
        self._expire_awaiting(at)
        shown_on_page: set[str] = set(shown or ())
        decisions = []
        for request in requests:
            decision = self._decide_slot(request, visit, shown_on_page)
            shown_on_page.update(decision.ranking)
            decisions.append(decision)
        self._forget_oldest_decisions()
        return decisions

    def _visit_tokens(self, context: dict, at: float) -> tuple[str, ...]:
        """What the page says about the visit, what the visitor did, and their segments."""
        profile = self.profile.features(at)  # checks `at`
        tokens = context_tokens(context) + self.profile.tokens(at)
        # A ChainMap reads the few profile features segments ask for; a merged dict would compute all.
        tokens += self.settings.segments.tokens(ChainMap(context, profile))
        return tuple(dict.fromkeys(tokens))  # an interest may come from both the page and the profile

    def _read_slot(self, spec: object, keys: list[int]) -> _SlotRequest:
        if not isinstance(spec, dict):
            raise ValueError(f"each slot must be an object, got {spec!r}")
        unknown = spec.keys() - SLOT_KEYS
        if unknown:
            raise ValueError(f"slot has unknown keys {sorted(unknown)}; expected some of {sorted(SLOT_KEYS)}")
        slot, candidates = spec.get("slot"), spec.get("candidates")
        if not isinstance(slot, str) or not slot:
            raise ValueError(f"slot must be a non-empty string, got {slot!r}")
        if not isinstance(candidates, list) or not candidates:
            raise ValueError(f"slot {slot!r} needs a non-empty list of candidates")
        size = spec.get("size")
        size = len(candidates) if size is None else whole(f"size of slot {slot!r}", size, low=1)
        keep = spec.get("keep")
        if keep is not None and not (isinstance(keep, list) and all(isinstance(v, str) for v in keep)):
            raise ValueError(f"keep of slot {slot!r} must be a list of variant ids, got {keep!r}")
        objective = Objective.parse(spec.get("objective"))

        remembered = self._slots.get(slot)
        if remembered is None or remembered.given != candidates or remembered.objective != objective:
            remembered = self._remember_slot(slot, candidates, keys, objective)
        elif remembered.crossing.keys != keys:  # the same candidates in another context
            remembered = self._slots[slot] = remembered._replace(crossing=remembered.crossing.recrossed(keys))
        return _SlotRequest(slot, size, remembered.candidates, remembered.crossing, keep, objective)

    def _remember_slot(self, slot: str, candidates: list, keys: list[int], objective: Objective) -> _Slot:
        """Check the slot's candidates and lay them out; pages decide the same slot with the
        same candidates again and again, so the next decision only compares them."""
        known: dict[str, _Candidate] = {}
        for candidate in candidates:
            if not isinstance(candidate, dict):
                raise ValueError(f"candidate in slot {slot!r} must be an object, got {candidate!r}")
            described = self._tokens(slot, candidate, objective)
            if candidate["id"] in known:
                raise ValueError(f"slot {slot!r} has two candidates with id {candidate['id']!r}")
            known[candidate["id"]] = described
        if len(self._slots) >= KNOWN_SLOTS:
            self._slots.clear()
        crossing = Crossing(keys, {v: c.buckets for v, c in known.items()})
        self._slots[slot] = remembered = _Slot(_copied(candidates), objective, known, crossing)
        return remembered

    def _tokens(self, slot: str, candidate: dict, objective: Objective) -> _Candidate:
        """The candidate's tokens and their buckets, checked once: pages show the same
        candidates again and again, so they are remembered by what describes them.

        A slot that optimizes something other than clicks adds a token naming its
        objective (`objective:convert:order`), crossed with the visit like the others:
        conversions are rarer than clicks and come in other contexts, and that token's
        weights learn so, while the items' own features stay shared with click slots.
        """
        features = candidate.get("features")
        try:
            key = (slot, candidate.get("id"), tuple(features) if isinstance(features, list) else features, objective)
            known = self._known.get(key)
        except TypeError:  # unhashable, so not a valid candidate: `candidate_tokens` says why
            key, known = None, None
        if known is None:
            tokens = candidate_tokens(slot, candidate)
            features = list(dict.fromkeys(tokens[:-1]))  # the variant's name aside
            if objective.kind != CLICK:
                tokens.append(f"objective:{objective}")
            tokens = tuple(dict.fromkeys(tokens))
            known = _Candidate(tokens, list(map(self._hash, tokens)), features)
            if len(self._known) >= KNOWN_CANDIDATES:
                self._known.clear()
            self._known[key] = known
        return known

    def _draw(self, request: _SlotRequest, shown_on_page: set[str]) -> _Draw:
        """A fresh ranking of the slot: the policy's order, arranged by the rules."""
        crossing = request.crossing
        # One lookup per distinct token and cross (see `Crossing`), for the logits and the reasons.
        contributions = list(map(policies.readable_weights(self.model).get, crossing.buckets, repeat(0.0)))
        intercept = self.model.intercept
        logits = {v: intercept + z for v, z in crossing.sums(contributions).items() if v not in shown_on_page}
        variances = None
        weight_variances = self.policy.weight_variances(crossing.buckets)
        if weight_variances is not None:
            means = crossing.means(list(weight_variances))
            variances = {v: means[v] for v in logits}
        ranking = self.policy.order(logits, variances, self.rng)
        arranged = self.settings.rules.apply(request.slot, list(logits), ranking.scores, self.visitor)
        # The rules' boosts, in logits, so that the posterior's means are compared as ranked.
        means = {v: z + arranged.scores[v] - ranking.scores[v] for v, z in logits.items()}
        shown = arranged.ranking
        if arranged.group == PERSONALIZED:
            shown = self._vary(request, shown, arranged.scores)
        return _Draw(shown[: request.size], arranged.group, ranking.probabilities, means, variances, contributions)

    def _vary(self, request: _SlotRequest, ranking: list[str], scores: dict[str, float]) -> list[str]:
        """The slot's ranking with the variety its rules and the visitor ask for (`edge.variety`)."""
        rules = self.settings.rules.slots.get(request.slot, NO_RULES)
        weight = rules.variety + (VISITOR_VARIETY if self.variety else 0.0)
        if weight > 0:
            tokens = {v: request.candidates[v].tokens[:-1] for v in ranking}  # the variant's name aside
            ranking = variety.spread(ranking, scores, tokens, weight, request.size, rules.pin)
        share = max(self.config.min_explore, VISITOR_EXPLORE if self.variety else 0.0)
        return variety.explore(ranking, request.size, share, self.rng, rules.pin)

    def _keeps(self, request: _SlotRequest, drawn: _Draw) -> bool:
        """Whether the decision may show the order the page painted (see `decide`)."""
        keep = request.keep
        if keep is None or len(keep) != len(drawn.ranking) or len(set(keep)) != len(keep) or not set(keep) <= drawn.means.keys():
            return False  # made for other candidates, another size, or shown in another slot
        if drawn.arm != PERSONALIZED:
            return keep == drawn.ranking  # the holdout and the kill switch show the page's order
        if not self.settings.rules.allows(request.slot, keep, list(drawn.means)):
            return False
        if drawn.variances is None:
            return True  # no posterior, so nothing is ever clearly better than what is painted
        pinned = self.settings.rules.slots.get(request.slot, NO_RULES).pin
        movable = [v for v in keep if v not in pinned]
        unshown = [v for v in drawn.means if v not in keep and v not in pinned]
        return not _clearly_worse(movable, unshown, drawn.means, drawn.variances)

    def redraw(self, decision_id: str) -> dict[str, list[str]]:
        """`{slot: ranking}`: a fresh draw for the slot of an open decision, with its
        candidates and size, recording nothing. After a click it is what the slot's next
        view paints, so what the engine learned shows there; empty for a slot the engine
        no longer remembers (after a restart)."""
        decision = self.open_decisions.get(decision_id)
        remembered = decision and self._slots.get(decision["slot"])
        if not remembered:
            return {}
        request = _SlotRequest(decision["slot"], len(decision["shown"]), remembered.candidates, remembered.crossing)
        return {request.slot: self._draw(request, set()).ranking}

    def _decide_slot(self, request: _SlotRequest, visit: tuple[str, ...], shown_on_page: set[str]) -> Decision:
        drawn = self._draw(request, shown_on_page)
        kept = self._keeps(request, drawn)
        shown = list(request.keep) if kept else drawn.ranking
        arm, crossing, contributions = drawn.arm, request.crossing, drawn.contributions

        self.decisions_made += 1
        decision_id = f"{request.slot}#{self.decisions_made}"
        features = {v: crossing.features(v) for v in shown}
        impression = (1, 0) if request.objective.kind == CLICK else (1, 0, 0)  # a goal's slot counts conversions
        self.open_decisions[decision_id] = {
            "slot": request.slot,
            "arm": arm,
            "shown": {v: [buckets, [1.0] * len(buckets)] for v, buckets in features.items()},
            "features": {v: list(request.candidates[v].features) for v in shown},
            "clicked": [],
            "objective": str(request.objective),
        }
        for variant in shown:
            self._count(request.slot, variant, arm, *impression)
        if arm == PERSONALIZED:
            reasons = {v: self._reasons(visit, request.candidates[v].tokens, crossing.features(v, contributions)) for v in shown}
        else:
            reasons = {v: [] for v in shown}
        why = {v: self.settings.explainer.explain(names) for v, names in reasons.items()}
        return Decision(decision_id, request.slot, shown, drawn.probabilities, reasons, why, arm, kept, drawn.ranking)

    def _reasons(self, visit: tuple[str, ...], tokens: tuple[str, ...], contributions: list[float]) -> list[str]:
        """The names of the features that raised the score most, `contributions` being
        their weights in `crossed_names` order; names are made only for those."""
        if max(contributions) <= 0.0:
            return []
        top = sorted(range(len(contributions)), key=contributions.__getitem__, reverse=True)
        return [_feature_name(visit, tokens, i) for i in top[: self.config.reasons_per_variant] if contributions[i] > 0]

    # Learning

    def learn(self, event: dict) -> list[str]:
        """Learn from what the visitor did at time `at`, and answer the ids of the decisions
        it taught the model about:

        - `{"type": "click", "decision", "variant", "at"}`: they clicked a variant shown;
        - `{"type": "view", "features": [...], "at"}`: they opened content with these features;
        - `{"type": "convert", "goal", "value"?, "at"}`: they reached a goal (an order, a
          sign-up), which rewards the clicks that led there (see `_learn_convert`).

        An event may carry an `id` (a string): an event learned before is not learned again.

        >>> p = Personalizer(Config(policy="greedy"))
        >>> row = [{"id": "a", "features": []}, {"id": "b", "features": []}]
        >>> d = p.decide("row", row, at=0, objective="convert:order")
        >>> p.learn({"type": "click", "decision": d.id, "variant": "b", "at": 1})  # no reward yet
        []
        >>> p.learn({"type": "convert", "goal": "order", "value": 30, "at": 600, "id": "o1"})
        ['row#1']
        >>> p.learn({"type": "convert", "goal": "order", "value": 30, "at": 600, "id": "o1"})  # sent twice
        []
        """
        if not isinstance(event, dict):
            raise ValueError(f"event must be an object, got {event!r}")
        kind, event_id = event.get("type"), event.get("id")
        if kind not in EVENTS:
            raise ValueError(f"unknown event type {kind!r}; expected one of {sorted(EVENTS)}")
        if event_id is not None and not isinstance(event_id, str):
            raise ValueError(f"an event's id must be a string, got {event_id!r}")
        if event_id is not None and self.has_learned(event_id):
            return []  # sent again (a page left before it heard back): learned once
        taught = getattr(self, EVENTS[kind])(event)
        if event_id is not None:
            self.clicks_learned = [*self.clicks_learned[1 - REMEMBERED_CLICKS:], event_id]
        return taught

    def _learn_view(self, event: dict) -> list[str]:
        features = event.get("features")
        if not isinstance(features, list):
            raise ValueError(f"a view event needs 'features' as a list of strings, got {features!r}")
        self.profile.see(features, event.get("at"))
        return []

    def declare(self, interests: list[str]) -> None:
        """Replace the interests the visitor declared (in the preferences widget). They steer
        the next decision at once: an interest in `topic:hiking` adds INTEREST_WEIGHT to the
        weight of `interest:topic:hiking & topic:hiking`, which every candidate with feature
        `topic:hiking` has while the interest is declared.

        The engine would otherwise need clicks to learn what that cross is worth. The weight
        is the visitor's say, not something learned (`shift_weights`), so it never goes into
        a delta; dropping the interest takes it away again. A learner that takes no weights
        from outside (another library's) learns the cross from clicks alone.

        >>> engine = Personalizer(Config(policy="greedy"))
        >>> row = [{"id": "tent", "features": ["topic:camping"]}, {"id": "bike", "features": ["topic:cycling"]}]
        >>> engine.declare(["topic:cycling"])
        >>> engine.decide("picks", row, at=0).ranking
        ['bike', 'tent']
        >>> engine.declare([])
        >>> engine.decide("picks", row, at=0).ranking
        ['tent', 'bike']
        """
        if not isinstance(interests, list):
            raise ValueError(f"interests must be a list of words, got {interests!r}")
        before = self.profile.interests
        self.profile.declare(interests)
        self._steer(before)

    def restore_profile(self, profile: dict) -> None:
        """Take the visitor's profile synced from another device (as `Profile.to_dict` gives
        it) in place of this one; its declared interests steer as `declare`'s do."""
        if not isinstance(profile, dict):
            raise ValueError(f"a profile must be an object, got {profile!r}")
        before = self.profile.interests
        self.profile = Profile.from_dict(profile)
        self._steer(before)

    def _steer(self, before: list[str]) -> None:
        """Give the interests declared since `before` their weight, and take it from those dropped."""
        after = self.profile.interests
        added, dropped = set(after) - set(before), set(before) - set(after)
        shift = dict.fromkeys(added, INTEREST_WEIGHT) | dict.fromkeys(dropped, -INTEREST_WEIGHT)
        if shift and self.model.takes_weights:
            self.shift_weights({self._hash(f"interest:{interest} & {interest}"): change for interest, change in shift.items()})

    def declare_variety(self, wanted: bool) -> None:
        """Whether the visitor wants more variety (in the preferences widget): every slot
        then spreads what it shows over more kinds of item, and explores more.

        >>> row = [{"id": "a", "features": ["topic:news"]}, {"id": "b", "features": ["topic:news"]},
        ...        {"id": "c", "features": ["topic:sports"]}]
        >>> p = Personalizer(Config(policy="greedy", seed=1))
        >>> p.decide("row", row, at=0, size=2).ranking
        ['a', 'b']
        >>> p = Personalizer(Config(policy="greedy", seed=1))
        >>> p.declare_variety(True)
        >>> p.decide("row", row, at=0, size=2).ranking
        ['a', 'c']
        """
        if not isinstance(wanted, bool):
            raise ValueError(f"variety must be true or false, got {wanted!r}")
        self.variety = wanted

    def has_learned(self, event: str) -> bool:
        """Whether the event (a click or conversion) with this id (its optional `id`) was learned."""
        return event in self.clicks_learned

    def _learn_click(self, event: dict) -> list[str]:
        """A click is a reward at once in a slot that optimizes clicks; in a slot that
        optimizes a goal it waits for a conversion (`awaiting`)."""
        decision_id = event.get("decision")
        decision = self.open_decisions.get(decision_id)
        if decision is None:
            raise ValueError(f"no open decision {decision_id!r} to learn from")
        variant = event.get("variant")
        if variant not in decision["shown"]:
            raise ValueError(f"variant {variant!r} was not shown in decision {decision_id!r}")
        if variant in decision["clicked"]:
            return []  # a second click on the same impression teaches nothing new
        self.profile.click(decision["features"][variant], event.get("at"))  # first: it checks `at`
        self.open_decisions[decision_id] = {**decision, "clicked": [*decision["clicked"], variant]}
        self._count(decision["slot"], variant, decision["arm"], 0, 1)
        if decision["objective"] == CLICK:
            self._learn(_features(*decision["shown"][variant]), True)
            return [decision_id]
        self.awaiting = [*self.awaiting, {"decision": decision_id, "slot": decision["slot"], "variant": variant,
                                          "arm": decision["arm"], "objective": decision["objective"], "at": event["at"],
                                          "shown": decision["shown"][variant]}]
        while len(self.awaiting) > AWAITING_CLICKS:
            self._expire(self.awaiting[0])
        return []

    def _learn_convert(self, event: dict) -> list[str]:
        """A conversion of `goal` settles the clicks awaiting it, made on this device in
        slots whose objective names that goal, at most `ATTRIBUTION_SECONDS` before it:
        the last of them led there and is rewarded (last-click attribution); those before
        it did not, and are learned as no reward. A click no conversion follows within
        the window is learned as no reward too. A `value:GOAL` slot's reward is bounded
        (see `edge.objectives`) and learned as a Bernoulli draw of that probability, which
        keeps the learner's labels 0 or 1 and its expected label the reward (Agrawal &
        Goyal 2012).
        """
        goal, value = conversion(event)
        at = check_time(event.get("at"))
        self._expire_awaiting(at)
        settled = [c for c in self.awaiting if Objective.parse(c["objective"]).goal == goal and c["at"] <= at]
        if not settled:
            return []
        *missed, led = settled
        for click in missed:
            self._expire(click)
        self.awaiting = [c for c in self.awaiting if c is not led]
        reward = Objective.parse(led["objective"]).reward(value)
        self._count(led["slot"], led["variant"], led["arm"], 0, 0, 1)
        self._learn(_features(*led["shown"]), self.rng.random() < reward)
        return [led["decision"]]

    def _expire_awaiting(self, at: float) -> None:
        """Clicks older than the attribution window converted nothing: learn them so."""
        while self.awaiting and self.awaiting[0]["at"] < at - ATTRIBUTION_SECONDS:
            self._expire(self.awaiting[0])

    def _expire(self, click: dict) -> None:
        self.awaiting = [c for c in self.awaiting if c is not click]
        self._learn(_features(*click["shown"]), False)

    def _learn(self, x: Features, y: bool) -> None:
        if self.base is not None:  # the evidence is about the global model, so at its weights
            self.evidence.add(x, y, sigmoid(self.base.intercept + policy_base.dot(self.base.weights, x)))
        self.model.learn_one(x, y)
        self.model.settle(x)  # the next decision reflects it
        self.policy.learned(x, self.model)
        self.samples += 1

    def _count(self, slot: str, variant: str, arm: str, *gains: int) -> None:
        """Add `gains`, in the order of `COUNTS`, to a row of the counters."""
        if arm not in COUNTED_ARMS:
            return
        row = self.counts.get((slot, variant, arm), ())
        self.counts[(slot, variant, arm)] = tuple(map(sum, zip_longest(row, gains, fillvalue=0)))

    def _close_decisions(self, slot: str) -> None:
        for decision_id in [d for d, v in self.open_decisions.items() if v["slot"] == slot]:
            self._close(decision_id)

    def _forget_oldest_decisions(self) -> None:
        while len(self.open_decisions) > self.config.max_open_decisions:
            self._close(next(iter(self.open_decisions)))

    def _close(self, decision_id: str) -> None:
        """The visitor moved on: what they did not click is learned as no reward (clicks
        awaiting a conversion stay in `awaiting`)."""
        decision = self.open_decisions.pop(decision_id)
        for variant, (buckets, values) in decision["shown"].items():
            if variant not in decision["clicked"]:
                self._learn(_features(buckets, values), False)

    # Federating

    def counters(self) -> list[dict[str, Any]]:
        """Impressions and clicks per slot, variant and arm (personalized or holdout), and in a
        slot that optimizes a goal the conversions its clicks led to."""
        return [{"slot": slot, "variant": variant, "arm": arm, **dict(zip(COUNTS, row))}
                for (slot, variant, arm), row in sorted(self.counts.items())]

    def delta(self) -> dict[str, Any]:
        """The update for `POST /v1/sites/{site}/updates`: the evidence about the global model
        this visitor's examples gave since it was merged (see `edge.federated`), clipped to
        `clip_norm`, with its sample count."""
        if self.base is None:
            raise ValueError("no global model merged yet, so there is no version to send a delta against")
        if not self.samples:
            raise ValueError(f"nothing learned since global model version {self.base.version}")
        change = federated.clip(self.evidence.update(), self.config.clip_norm)
        return {"base_version": self.base.version, "samples": self.samples, "delta": change}

    def begin_federation(self) -> None:
        """The visitor just let this device send updates: measure the next delta from here.

        What the model learned before the consent stays on the device: the federated starting
        point moves to the current model and the sample count starts again, so the first
        update covers only what is learned from now on.

        >>> engine = Personalizer(Config(policy="greedy"))
        >>> engine.merge_global({"version": 1, "intercept": 0.0, "weights": []})
        >>> picked = engine.decide("picks", [{"id": "a", "features": ["topic:x"]}], at=0)
        >>> engine.learn({"type": "click", "decision": picked.id, "variant": "a", "at": 1})
        ['picks#1']
        >>> engine.samples
        1
        >>> engine.begin_federation()
        >>> engine.delta()
        Traceback (most recent call last):
        ValueError: nothing learned since global model version 1
        """
        self.start = federated.LinearModel(self.model.intercept, dict(self.model.weights))
        self.samples, self.evidence = 0, federated.Evidence()

    def shift_weights(self, changes: Mapping[int, float]) -> None:
        """Add `changes` (bucket -> amount) to the model's weights as the visitor's own say,
        not as learning: the federated starting point moves with them, so no delta carries
        them, and the optimizer takes the shifted weights as its own.

        >>> engine = Personalizer(Config(policy="greedy"))
        >>> engine.shift_weights({7: 0.5}); engine.shift_weights({7: -0.5})
        >>> dict(engine.model.weights), engine.start.weights
        ({}, {})
        """
        self.model.take_weights(self.model.intercept, _shifted(self.model.weights, changes))
        self.start = federated.LinearModel(self.start.intercept, _shifted(self.start.weights, changes))

    def configure(self, settings: dict) -> None:
        """Take the site's settings: editor rules, segments and wording (see `edge.settings`)."""
        self.settings = Settings.from_dict(settings)

    def merge_global(self, model: dict) -> None:
        """Take a newer global model, keeping what this visitor learned on their own.

        A new visitor's engine starts this way, from the global weights and precisions, the
        weights shrunk by the model's `noise_variance` (see `edge.federated`).
        The model's optional `settings` part holds the site's settings, as `configure` takes them.
        """
        new = federated.GlobalModel.parse(model, buckets=1 << self.config.hash_bits)
        settings = Settings.from_dict(model["settings"]) if "settings" in model else self.settings
        if self.base is not None and new.version < self.base.version:
            raise ValueError(f"global model version {new.version} is older than version {self.base.version}, merged already")
        old = self.base or federated.GlobalModel()
        # Noisy global weights are a prior, shrunk by their noise (see edge.federated).
        weights = federated.merge(self.model.weights, old.prior(), new.prior())
        intercept = new.intercept + (self.model.intercept - old.intercept)
        self.model.take_weights(intercept, weights)
        self.policy.merge_precisions(old.precisions, new.precisions)
        self.base, self.start, self.samples = new, federated.LinearModel(intercept, weights), 0
        self.evidence = federated.Evidence()
        self.settings = settings

    # State

    def to_dict(self) -> State:
        """The whole state as JSON types; `from_dict` restores it exactly (built-in learner only)."""
        return {
            "schema": SCHEMA,
            "config": dataclasses.asdict(self.config),
            "model": self.model.to_dict(),
            "policy": self.policy.to_dict(),
            "rng": rng_state(self.rng),
            "visitor": self.visitor,
            "profile": self.profile.to_dict(),
            "variety": self.variety,
            "settings": self.settings.to_dict(),
            "global": self.base.to_dict() if self.base else None,
            "start": self.start.to_dict(),
            "samples": self.samples,
            "evidence": self.evidence.to_dict(),
            "decisions_made": self.decisions_made,
            "clicks_learned": list(self.clicks_learned),
            "open_decisions": dict(self.open_decisions),
            "awaiting": list(self.awaiting),
            "counters": self.counters(),
        }

    @classmethod
    def from_dict(cls, state: State) -> Personalizer:
        """Restore an engine from `to_dict`'s output, migrating state an older engine saved (`edge.migrations`)."""
        state = upgrade(state)
        engine = cls(Config.from_dict(state["config"]), visitor=state["visitor"])
        engine.model = linear_model.LogisticRegression.from_dict(state["model"])
        engine.policy = policies.from_dict(state["policy"])
        engine.rng = restore_rng(state["rng"])
        engine.profile = Profile.from_dict(state["profile"])
        engine.declare_variety(state["variety"])
        engine.settings = Settings.from_dict(state["settings"])
        if state["global"] is not None:
            engine.base = federated.GlobalModel.parse(state["global"], buckets=1 << engine.config.hash_bits)
        engine.start = federated.LinearModel.from_dict(state["start"])
        engine.samples = state["samples"]
        engine.evidence = federated.Evidence.from_dict(state["evidence"])
        engine.decisions_made = state["decisions_made"]
        engine.clicks_learned = list(state["clicks_learned"])
        engine.open_decisions = dict(state["open_decisions"])
        engine.awaiting = list(state["awaiting"])
        engine.counts = {(c["slot"], c["variant"], c["arm"]): tuple(c[f] for f in COUNTS if f in c) for c in state["counters"]}
        return engine


def _shifted(weights: dict, changes: Mapping[int, float]) -> dict:
    shifted = dict(weights)
    for bucket, change in changes.items():
        shifted[bucket] = shifted.get(bucket, 0.0) + change
        if shifted[bucket] == 0.0:
            del shifted[bucket]
    return shifted


# What each event type is learned by (`Personalizer.learn`).
EVENTS = {"click": "_learn_click", "view": "_learn_view", "convert": "_learn_convert"}


def _clearly_worse(shown: list[str], unshown: list[str], means: dict[str, float], variances: dict[str, float]) -> bool:
    """Whether a variant shown lower than another, or not at all, beats it by more than
    CREDIBLE_Z standard deviations of the posterior of their difference."""
    for i, above in enumerate(shown):
        for below in [*shown[i + 1:], *unshown]:
            if means[below] - means[above] > CREDIBLE_Z * math.sqrt(variances[above] + variances[below]):
                return True
    return False


def _features(buckets: list[int], values: list[float]) -> Features:
    """A shown variant's features as the learner takes them: names that share a bucket
    add up, as they do in the score (`Crossing`)."""
    x = dict(zip(buckets, values))
    if len(x) < len(buckets):
        x = {}
        for bucket, value in zip(buckets, values):
            x[bucket] = x.get(bucket, 0.0) + value
    return x


def _copied(candidates: list[dict]) -> list[dict]:
    """Checked candidates, copied deep enough that a page changing them later changes no copy."""
    return [{**c, "features": list(c["features"])} if isinstance(c["features"], list) else dict(c) for c in candidates]


def _feature_name(visit: tuple[str, ...], tokens: tuple[str, ...], i: int) -> str:
    """The name of feature `i` of `crossed_names(visit, tokens)`, without making the others."""
    if i < len(tokens):
        return tokens[i]
    context, token = divmod(i - len(tokens), len(tokens))
    return crossed_names([visit[context]], [tokens[token]])[-1]
