"""Real-time segments: named groups of visitors, defined by conditions on their features.

A segment is a small JSON condition over named features: the visit's context
(`device`, `hour`, `interests`, ...) and the visitor's profile (`likes:topic:hiking`,
`session:price:low`, see `edge.profile`). A document is parsed and checked once
into a tree of plain objects, then evaluated at every decision on the device;
nothing in it is ever run as code.

    {"all": [c, ...]}            every condition holds (an empty list always does)
    {"any": [c, ...]}            at least one holds (an empty list never does)
    {"not": c}                   c does not hold
    {"feature": NAME, CHECK: V}  one check of the feature's value:
        eq                       equals V (a string, number, true or false)
        in                       equals one of the list V
        lt, lte, gt, gte         compares with the number V
        contains                 the feature is a list (like `interests`) holding V
        exists                   true: the feature is present; false: it is absent

A check of a missing feature fails (except `exists: false`), so `not` of it
holds. Checks never mix types: the string "3" is not greater than 2, and `true`
does not equal 1. A visitor's segments become context tokens, `segment:NAME`,
so the model learns what each segment clicks.

>>> segments = Segments.from_dict({
...     "hikers": {"all": [{"feature": "likes:topic:hiking", "gte": 0.5},
...                        {"not": {"feature": "device", "eq": "mobile"}}]},
...     "night_owls": {"feature": "hour", "in": [22, 23, 0, 1]},
... })
>>> segments.tokens({"device": "desktop", "hour": 23, "likes:topic:hiking": 0.6})
['segment:hikers', 'segment:night_owls']
>>> segments.members({"device": "mobile", "likes:topic:hiking": 0.9})
[]
>>> Segments.from_dict({"hikers": {"all": [{"feature": "likes:topic:hiking", "gte": "lots"}]}})
Traceback (most recent call last):
    ...
edge.segments.SegmentError: hikers.all[0].gte: must be a finite number, got 'lots'
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Callable, Mapping
from typing import Any

from edge.validation import is_number

MAX_DEPTH = 16  # conditions nest this deep at most: no document can exhaust the stack


class SegmentError(ValueError):
    """A segment document is malformed; the message names the bad part by its path."""


class Condition(abc.ABC):
    """A parsed condition: tells whether a visitor's features satisfy it."""

    @abc.abstractmethod
    def matches(self, features: Mapping[str, Any]) -> bool: ...

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The JSON document this condition was parsed from."""


class AllOf(Condition):
    """Holds when every one of its conditions holds."""

    def __init__(self, conditions: list[Condition]) -> None:
        self.conditions = conditions

    def matches(self, features: Mapping[str, Any]) -> bool:
        return all(condition.matches(features) for condition in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {"all": [condition.to_dict() for condition in self.conditions]}


class AnyOf(Condition):
    """Holds when at least one of its conditions holds."""

    def __init__(self, conditions: list[Condition]) -> None:
        self.conditions = conditions

    def matches(self, features: Mapping[str, Any]) -> bool:
        return any(condition.matches(features) for condition in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {"any": [condition.to_dict() for condition in self.conditions]}


class Not(Condition):
    """Holds when its condition does not."""

    def __init__(self, condition: Condition) -> None:
        self.condition = condition

    def matches(self, features: Mapping[str, Any]) -> bool:
        return not self.condition.matches(features)

    def to_dict(self) -> dict[str, Any]:
        return {"not": self.condition.to_dict()}


def _kind(value: Any) -> str:
    """The type a check compares by: `bool` apart from numbers, ints and floats together."""
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def _equal(actual: Any, expected: Any) -> bool:
    return _kind(actual) == _kind(expected) and actual == expected


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, float], bool]:
    return lambda actual, expected: _kind(actual) == "number" and compare(actual, expected)


CHECKS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _equal,
    "in": lambda actual, expected: any(_equal(actual, e) for e in expected),
    "lt": _ordered(operator.lt),
    "lte": _ordered(operator.le),
    "gt": _ordered(operator.gt),
    "gte": _ordered(operator.ge),
    "contains": lambda actual, expected: isinstance(actual, list) and any(_equal(a, expected) for a in actual),
    "exists": lambda actual, expected: expected,  # only reached when the feature is present
}


class Check(Condition):
    """One check of one feature, e.g. `{"feature": "device", "eq": "mobile"}`."""

    def __init__(self, feature: str, check: str, value: Any) -> None:
        self.feature = feature
        self.check = check
        self.value = value

    def matches(self, features: Mapping[str, Any]) -> bool:
        if self.feature not in features:
            return self.check == "exists" and not self.value
        return CHECKS[self.check](features[self.feature], self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, self.check: self.value}


def parse(document: Any, path: str = "condition", depth: int = 0) -> Condition:
    """Check a condition document and build its tree; raises SegmentError naming the bad part."""
    if depth > MAX_DEPTH:
        raise SegmentError(f"{path}: conditions nest deeper than {MAX_DEPTH} levels")
    if not isinstance(document, dict) or not document:
        raise SegmentError(f"{path}: a condition must be a non-empty object, got {document!r}")
    if "feature" in document:
        return _parse_check(document, path)
    (key, value), *rest = document.items()
    if rest or key not in ("all", "any", "not"):
        raise SegmentError(f"{path}: expected one of 'all', 'any', 'not' or 'feature', got {list(document)}")
    if key == "not":
        return Not(parse(value, f"{path}.not", depth + 1))
    if not isinstance(value, list):
        raise SegmentError(f"{path}.{key}: must be a list of conditions, got {value!r}")
    children = [parse(child, f"{path}.{key}[{i}]", depth + 1) for i, child in enumerate(value)]
    return AllOf(children) if key == "all" else AnyOf(children)


def _parse_check(document: dict, path: str) -> Check:
    feature = document["feature"]
    if not isinstance(feature, str) or not feature:
        raise SegmentError(f"{path}.feature: must be a non-empty string, got {feature!r}")
    checks = [key for key in document if key != "feature"]
    if len(checks) != 1 or checks[0] not in CHECKS:
        raise SegmentError(f"{path}: give exactly one check of {list(CHECKS)} with 'feature', got {checks}")
    check = checks[0]
    return Check(feature, check, _check_value(check, document[check], f"{path}.{check}"))


def _check_value(check: str, value: Any, path: str) -> Any:
    if check == "exists":
        if not isinstance(value, bool):
            raise SegmentError(f"{path}: must be true or false, got {value!r}")
    elif check == "in":
        if not isinstance(value, list) or not value:
            raise SegmentError(f"{path}: must be a non-empty list of values, got {value!r}")
        return [_check_value("eq", item, f"{path}[{i}]") for i, item in enumerate(value)]
    elif check in ("eq", "contains"):
        if not (_kind(value) in ("str", "bool") or is_number(value)):
            raise SegmentError(f"{path}: must be a string, a finite number, true or false, got {value!r}")
    elif not is_number(value):
        raise SegmentError(f"{path}: must be a finite number, got {value!r}")
    return value


class Segments:
    """A site's named segments, checked once and evaluated at every decision."""

    def __init__(self, segments: dict[str, Condition] | None = None) -> None:
        self.segments = segments or {}

    @classmethod
    def from_dict(cls, document: Any) -> Segments:
        """Build segments from `{name: condition}`; raises SegmentError naming the bad part."""
        if not isinstance(document, dict):
            raise SegmentError(f"segments must be an object of name to condition, got {document!r}")
        for name in document:
            if not isinstance(name, str) or not name or any(c.isspace() for c in name):
                raise SegmentError(f"segment names must be non-empty words, got {name!r}")
        return cls({name: parse(condition, name) for name, condition in document.items()})

    def to_dict(self) -> dict[str, Any]:
        return {name: condition.to_dict() for name, condition in self.segments.items()}

    def members(self, features: Mapping[str, Any]) -> list[str]:
        """The names of the segments these features belong to, in the document's order."""
        return [name for name, condition in self.segments.items() if condition.matches(features)]

    def tokens(self, features: Mapping[str, Any]) -> list[str]:
        """Segment membership as context tokens for the model: `segment:NAME`."""
        return [f"segment:{name}" for name in self.members(features)]
