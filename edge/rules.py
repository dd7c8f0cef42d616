"""Editor rules: what a site's editors decide about a slot, whatever the model thinks.

Rules are data, a JSON document the admin dashboard edits and every device
downloads; they are checked once, when loaded, and never run as code:

    {"holdout": 0.05,
     "slots": {"picks": {"pin": {"tent": 1}, "exclude": ["helmet"],
                         "boost": {"bottle": 0.1}, "holdout": 0.1}}}

- `pin` puts a variant at a position (1 is the top), whatever its score;
- `exclude` never shows a variant;
- `boost` adds to a variant's score before ranking (a negative boost buries it);
- `variety` re-ranks what the slot shows for variety (`edge.variety.spread`): the weight,
  in the score's units, of how alike an item is to one shown above it (0: none);
- `holdout` is the share of visitors, from 0 to 1, in a control group that sees
  the page's default order, so the dashboard can measure what personalization
  adds. The top-level `holdout` holds for slots without their own.
- `kill_switch: true` stops everything: every visitor sees every slot as authored.

Holdout measures the model, so only the model's scores are withheld from the
control group: exclusions and pins hold for everyone. A visitor's group is a
stable draw from a hash of their id: the same visitor stays in the same group on
every visit, and raising a share only moves visitors into holdout. The top-level
share is site-wide (one draw per visitor, so a visitor in it sees no slot
personalized, and the holdout measures the whole site's effect); a slot's own share
draws per slot.

>>> rules = Rules.from_dict({"slots": {"picks": {"pin": {"tent": 1}, "boost": {"bottle": 0.3}}}})
>>> arranged = rules.apply("picks", ["tent", "helmet", "bottle"],
...                        {"tent": 0.1, "helmet": 0.5, "bottle": 0.4}, visitor="v-123")
>>> arranged.ranking, arranged.group
(['tent', 'bottle', 'helmet'], 'personalized')
>>> site_wide = Rules.from_dict({"holdout": 0.5})
>>> len({site_wide.group(slot, "v-7") for slot in ("hero", "picks", "footer", "news")})
1
>>> Rules.from_dict({"slots": {"picks": {"holdout": 1.5}}})
Traceback (most recent call last):
    ...
edge.rules.RuleError: slots.picks.holdout: must be a share from 0 to 1, got 1.5
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
from collections.abc import Callable
from typing import Any, Literal

from edge.validation import is_number, is_whole, known_fields

Group = Literal["personalized", "holdout", "off"]
SLOT_KEYS = ("pin", "exclude", "boost", "variety", "holdout")
DOCUMENT_KEYS = ("kill_switch", "holdout", "slots")
SITE_WIDE = "\x00site"  # what the site-wide holdout draws on, a name no slot can have (slot names are words)


class RuleError(ValueError):
    """A rules document is malformed; the message names the bad field."""


@dataclasses.dataclass(frozen=True)
class Arrangement:
    """A slot's final order, the scores it was ranked by, and the visitor's group.

    The group is `personalized` (ranked by score), `holdout` (the control group:
    default order) or `off` (the kill switch: default order, no rules).
    """

    ranking: list[str]
    scores: dict[str, float]
    group: Group


@dataclasses.dataclass(frozen=True)
class SlotRules:
    """The rules for one slot; see the module docstring for what each one does."""

    pin: dict[str, int] = dataclasses.field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    boost: dict[str, float] = dataclasses.field(default_factory=dict)
    holdout: float | None = None  # None: the document's share
    variety: float = 0.0

    @classmethod
    def from_dict(cls, rules: Any, path: str) -> SlotRules:
        known_fields(rules, SLOT_KEYS, path, RuleError)
        pin = _mapping(rules.get("pin", {}), f"{path}.pin", _position)
        exclude = tuple(_variants(rules.get("exclude", []), f"{path}.exclude"))
        boost = _mapping(rules.get("boost", {}), f"{path}.boost", _number)
        holdout = rules.get("holdout")
        if holdout is not None:
            holdout = _share(holdout, f"{path}.holdout")
        variety = _number(rules.get("variety", 0.0), f"{path}.variety")
        if variety < 0:
            raise RuleError(f"{path}.variety: must be a weight of 0 or more, got {variety!r}")
        _check_pins(pin, exclude, path)
        return cls(pin, exclude, boost, holdout, variety)

    def to_dict(self) -> dict[str, Any]:
        rules = {"pin": self.pin, "exclude": list(self.exclude), "boost": self.boost, "variety": self.variety}
        rules = {key: value for key, value in rules.items() if value}
        if self.holdout is not None:  # an explicit 0 overrides the document's share
            rules["holdout"] = self.holdout
        return rules

    def arrange(self, default: list[str], scores: dict[str, float], personalized: bool) -> list[str]:
        """Drop excluded variants, rank the rest by boosted score if personalized, then pin."""
        shown = [variant for variant in default if variant not in self.exclude] if self.exclude else list(default)
        if personalized:
            shown.sort(key=scores.__getitem__, reverse=True)  # stable, reversed too: ties keep the page's order
        if not self.pin:
            return shown
        pinned = sorted((position, variant) for variant, position in self.pin.items() if variant in shown)
        ranking = [variant for variant in shown if variant not in self.pin]
        for position, variant in pinned:
            ranking.insert(position - 1, variant)  # past the end appends: a short slot keeps it last
        return ranking

    def allows(self, ranking: list[str], variants: list[str]) -> bool:
        """Whether `ranking`, shown from `variants`, is one these rules could have made:
        nothing excluded, every pin in its place. Scores aside: boosts only move scores."""
        rest = [variant for variant in variants if variant not in ranking]
        order = [*ranking, *rest]
        made = self.arrange(order, {v: float(-i) for i, v in enumerate(order)}, personalized=True)
        return made[: len(ranking)] == ranking

    def boosted(self, scores: dict[str, float]) -> dict[str, float]:
        if not self.boost:
            return scores  # never changed after, so no copy
        return {variant: score + self.boost.get(variant, 0.0) for variant, score in scores.items()}


NO_RULES = SlotRules()


class Rules:
    """A site's editor rules for every slot, with the holdout share and the kill switch."""

    def __init__(
        self, slots: dict[str, SlotRules] | None = None, holdout: float = 0.0, kill_switch: bool = False
    ) -> None:
        self.slots = slots or {}
        self.holdout = holdout
        self.kill_switch = kill_switch

    @classmethod
    def from_dict(cls, document: Any) -> Rules:
        """Check a rules document and build the rules; raises RuleError naming the bad field."""
        known_fields(document, DOCUMENT_KEYS, "rules", RuleError)
        kill_switch = document.get("kill_switch", False)
        if not isinstance(kill_switch, bool):
            raise RuleError(f"kill_switch: must be true or false, got {kill_switch!r}")
        holdout = _share(document.get("holdout", 0.0), "holdout")
        slots = document.get("slots", {})
        if not isinstance(slots, dict):
            raise RuleError(f"slots: must be an object of slot name to rules, got {slots!r}")
        for slot in slots:
            _variant(slot, "slots")
        return cls({slot: SlotRules.from_dict(r, f"slots.{slot}") for slot, r in slots.items()}, holdout, kill_switch)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kill_switch": self.kill_switch,
            "holdout": self.holdout,
            "slots": {slot: rules.to_dict() for slot, rules in self.slots.items()},
        }

    def group(self, slot: str, visitor: str) -> Group:
        """Which group this visitor is in for this slot; the same answer on every visit."""
        if not isinstance(visitor, str) or not visitor:
            raise ValueError(f"visitor must be a non-empty string id, got {visitor!r}")
        if self.kill_switch:
            return "off"
        share = self.slots.get(slot, NO_RULES).holdout
        share, scope = (self.holdout, SITE_WIDE) if share is None else (share, slot)
        # A draw is never below 0: without a holdout share, no draw is needed.
        return "holdout" if share > 0 and draw(visitor, scope) < share else "personalized"

    def allows(self, slot: str, ranking: list[str], variants: list[str]) -> bool:
        """Whether the personalized group of `slot` may show `ranking` (see `SlotRules.allows`)."""
        return self.slots.get(slot, NO_RULES).allows(ranking, variants)

    def apply(self, slot: str, default: list[str], scores: dict[str, float], visitor: str) -> Arrangement:
        """Order a slot's variants: `default` is the page's order, `scores` the numbers
        the policy ranks by, so without rules its order comes back unchanged
        (best first, ties in the page's order) and boosts are in the same units."""
        _check_ranking(default, scores)
        group = self.group(slot, visitor)
        if group == "off":
            return Arrangement(list(default), dict(scores), group)
        rules = self.slots.get(slot, NO_RULES)
        if group == "holdout":
            return Arrangement(rules.arrange(default, scores, personalized=False), dict(scores), group)
        boosted = rules.boosted(scores)
        return Arrangement(rules.arrange(default, boosted, personalized=True), boosted, group)


def new_visitor(rng: random.Random) -> str:
    """A random pseudonymous visitor id: it only decides the visitor's groups (`draw`).

    >>> new_visitor(random.Random(3))
    '97b750923ceb3ffd'
    """
    return f"{rng.getrandbits(64):016x}"


def draw(visitor: str, slot: str) -> float:
    """A uniform number in [0, 1) fixed by the visitor and the slot.

    >>> draw("v-123", "picks") == draw("v-123", "picks") != draw("v-123", "hero")
    True
    """
    digest = hashlib.sha256(f"{visitor}\x1f{slot}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _check_ranking(default: list[str], scores: dict[str, float]) -> None:
    if not isinstance(default, list) or len(set(default)) != len(default):
        raise ValueError(f"default order must be a list of distinct variant ids, got {default!r}")
    if not isinstance(scores, dict) or set(scores) != set(default):
        raise ValueError(f"scores must name exactly the variants {default!r}, got {scores!r}")
    values = scores.values()
    if set(map(type, values)) <= {float} and math.isfinite(sum(values)):
        return  # the engine's case, checked in C: floats, none infinite or NaN (else the sum would not be finite)
    for variant, score in scores.items():
        if not is_number(score):
            raise ValueError(f"score of {variant!r} must be a finite number, got {score!r}")


def _check_pins(pin: dict[str, int], exclude: tuple[str, ...], path: str) -> None:
    at: dict[int, str] = {}
    for variant, position in pin.items():
        if position in at:
            raise RuleError(f"{path}.pin: {at[position]!r} and {variant!r} are both pinned to position {position}")
        at[position] = variant
    both = sorted(set(pin) & set(exclude))
    if both:
        raise RuleError(f"{path}: {both[0]!r} is both pinned and excluded")


def _mapping(value: Any, path: str, check: Callable[[Any, str], Any]) -> dict:
    if not isinstance(value, dict):
        raise RuleError(f"{path}: must be an object of variant id to value, got {value!r}")
    return {_variant(variant, path): check(v, f"{path}.{variant}") for variant, v in value.items()}


def _variants(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise RuleError(f"{path}: must be a list of variant ids, got {value!r}")
    return [_variant(variant, path) for variant in value]


def _variant(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise RuleError(f"{path}: ids must be non-empty strings, got {value!r}")
    return value


def _position(value: Any, path: str) -> int:
    if not is_whole(value) or value < 1:
        raise RuleError(f"{path}: position must be a whole number from 1 (the top), got {value!r}")
    return value


def _number(value: Any, path: str) -> float:
    if not is_number(value):
        raise RuleError(f"{path}: must be a finite number, got {value!r}")
    return value


def _share(value: Any, path: str) -> float:
    if _number(value, path) < 0 or value > 1:
        raise RuleError(f"{path}: must be a share from 0 to 1, got {value!r}")
    return value

