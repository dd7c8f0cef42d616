"""The personalizer: rank a slot's candidates for this visitor and learn from what they do.

>>> p = Personalizer()
>>> hero = [{"id": "a", "features": ["topic:news"]}, {"id": "b", "features": ["topic:sports"]}]
>>> first = p.decide("hero", hero, {"device": "mobile"})
>>> first.ranking          # nothing learned yet: the page's own order
['a', 'b']
>>> p.learn({"type": "click", "decision": first.id, "variant": "b"})
>>> p.decide("hero", hero, {"device": "mobile"}).ranking
['b', 'a']
"""

from __future__ import annotations

import dataclasses
from typing import Any

from edge import linear_model, optim
from edge.base import State
from edge.features import Hasher, candidate_tokens, context_tokens, crossed_names

SCHEMA = 1


@dataclasses.dataclass(frozen=True)
class Config:
    """How the engine learns. Sites get theirs from the global model."""

    hash_bits: int = 18
    learning_rate: float = 0.1
    l2: float = 0.0
    max_open_decisions: int = 32
    reasons_per_variant: int = 3

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Decision:
    """A ranking of one slot's variants, with the features that most raised each score."""

    id: str
    slot: str
    ranking: list[str]
    scores: dict[str, float]
    reasons: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Personalizer:
    """Ranks candidates with an online logistic model over context × candidate features.

    Every variant shown in a decision is an impression. A click on it is a positive
    example, learned at once; variants of that decision never clicked become negative
    examples when the slot is decided again (the visitor moved on).
    """

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config()
        self.model = linear_model.LogisticRegression(
            optimizer=optim.SGD(self.config.learning_rate), l2=self.config.l2
        )
        self.global_version: int | None = None
        self.decisions_made = 0
        # decision id -> {"slot": str, "shown": {variant: [[bucket, value], ...]}, "clicked": [variant]}
        self.open_decisions: dict[str, dict] = {}
        self._hash = Hasher(self.config.hash_bits)

    def decide(self, slot: str, candidates: list[dict], context: dict | None = None) -> Decision:
        """Rank `candidates` for this visit, best first; ties keep the page's order."""
        if not isinstance(slot, str) or not slot:
            raise ValueError(f"slot must be a non-empty string, got {slot!r}")
        if not isinstance(candidates, list) or not candidates:
            raise ValueError(f"slot {slot!r} needs a non-empty list of candidates")
        ctx = context_tokens(context or {})
        named = {}
        for candidate in candidates:
            tokens = candidate_tokens(slot, candidate)
            if candidate["id"] in named:
                raise ValueError(f"slot {slot!r} has two candidates with id {candidate['id']!r}")
            named[candidate["id"]] = crossed_names(ctx, tokens)
        self._close_decisions(slot)

        scores, reasons, shown = {}, {}, {}
        for variant, names in named.items():
            x = {self._hash(name): 1.0 for name in names}
            scores[variant] = self.model.predict_proba_one(x)[True]
            reasons[variant] = self._reasons(names)
            shown[variant] = [[bucket, value] for bucket, value in x.items()]
        ranking = sorted(named, key=lambda v: -scores[v])

        self.decisions_made += 1
        decision_id = f"{slot}#{self.decisions_made}"
        self.open_decisions[decision_id] = {"slot": slot, "shown": shown, "clicked": []}
        self._forget_oldest_decisions()
        return Decision(decision_id, slot, ranking, scores, reasons)

    def learn(self, event: dict) -> None:
        """Learn from a visitor's action on a decision, e.g. `{"type": "click", ...}`."""
        kind = event.get("type")
        if kind != "click":
            raise ValueError(f"unknown event type {kind!r}; expected 'click'")
        decision = self.open_decisions.get(event.get("decision"))
        if decision is None:
            raise ValueError(f"no open decision {event.get('decision')!r} to learn from")
        variant = event.get("variant")
        if variant not in decision["shown"]:
            raise ValueError(f"variant {variant!r} was not shown in decision {event['decision']!r}")
        if variant in decision["clicked"]:
            return  # a second click on the same impression teaches nothing new
        decision["clicked"].append(variant)
        self.model.learn_one(dict(decision["shown"][variant]), True)

    def adopt_global(self, model: dict) -> None:
        """Start from the site's global model, as a first-time visitor does."""
        self.model = linear_model.LogisticRegression.from_dict(
            {**self.model.to_dict(), "intercept": model["intercept"], "weights": model["weights"]}
        )
        self.global_version = model["version"]

    def _close_decisions(self, slot: str) -> None:
        for decision_id in [d for d, v in self.open_decisions.items() if v["slot"] == slot]:
            self._close(decision_id)

    def _forget_oldest_decisions(self) -> None:
        while len(self.open_decisions) > self.config.max_open_decisions:
            self._close(next(iter(self.open_decisions)))

    def _close(self, decision_id: str) -> None:
        decision = self.open_decisions.pop(decision_id)
        for variant, x in decision["shown"].items():
            if variant not in decision["clicked"]:
                self.model.learn_one(dict(x), False)

    def _reasons(self, names: list[str]) -> list[str]:
        weights = self.model.weights
        contributions = [(weights.get(self._hash(n), 0.0), n) for n in names]
        positive = sorted((c for c in contributions if c[0] > 0), reverse=True)
        return [name for _, name in positive[: self.config.reasons_per_variant]]

    def to_dict(self) -> State:
        return {
            "schema": SCHEMA,
            "config": dataclasses.asdict(self.config),
            "model": self.model.to_dict(),
            "global_version": self.global_version,
            "decisions_made": self.decisions_made,
            "open_decisions": self.open_decisions,
        }

    @classmethod
    def from_dict(cls, state: State) -> "Personalizer":
        schema = state.get("schema")
        if schema != SCHEMA:
            raise ValueError(f"engine state has schema {schema!r}; this engine reads schema {SCHEMA}")
        engine = cls(Config.from_dict(state["config"]))
        engine.model = linear_model.LogisticRegression.from_dict(state["model"])
        engine.global_version = state["global_version"]
        engine.decisions_made = state["decisions_made"]
        engine.open_decisions = state["open_decisions"]
        return engine
