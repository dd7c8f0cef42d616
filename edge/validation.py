"""The checks the engine makes of values from outside it (a page's JSON, a served model, a
saved state), written once: each names the value, says what it wanted and shows what it got.

JSON numbers arrive as int or float; True is an int to Python but never a number here, and
neither is NaN or an infinity. A check raises ValueError, or the `error` it is given (a
subclass, or a function that makes the server's own error from the message).

>>> is_number(0.5), is_number(3), is_number(True), is_number(float("nan")), is_number("1")
(True, True, False, False, False)
>>> is_whole(3), is_whole(3.0), is_whole(False)
(True, False, False)
>>> finite("time 'at'", 12)
12.0
>>> finite("score", float("inf"))
Traceback (most recent call last):
...
ValueError: score must be a finite number, got inf
>>> whole("size", 0, low=1)
Traceback (most recent call last):
...
ValueError: size must be a whole number >= 1, got 0
>>> whole("hour", 24, 0, 23)
Traceback (most recent call last):
...
ValueError: hour must be a whole number from 0 to 23, got 24
>>> word("interest", "trail running")
Traceback (most recent call last):
...
ValueError: interest must be a non-empty word without spaces, got 'trail running'
>>> known_fields({"pin": {}, "hide": []}, ("pin", "exclude"), "slots.picks")
Traceback (most recent call last):
...
ValueError: slots.picks: unknown field 'hide'; expected some of ['pin', 'exclude']
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

_SPACE = re.compile(r"\s")  # what str.isspace() finds, searched in C
Error = Callable[[str], Exception]  # what a check raises, made from its message


def is_number(value: object) -> bool:
    """Whether `value` is a finite JSON number (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def is_whole(value: object) -> bool:
    """Whether `value` is a JSON whole number (an int, not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def finite(name: str, value: object, error: Error = ValueError) -> float:
    """`value` as a float, or `error` if it is not a finite number."""
    if not is_number(value):
        raise error(f"{name} must be a finite number, got {value!r}")
    return float(value)


def whole(name: str, value: object, low: int = 0, high: int | None = None, error: Error = ValueError) -> int:
    """`value`, or `error` if it is not a whole number from `low` to `high` (or up, without one)."""
    if not is_whole(value) or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise error(f"{name} must be a whole number {bounds}, got {value!r}")
    return value


def word(name: str, value: object) -> str:
    """`value`, or ValueError if it is not a non-empty string without whitespace."""
    if not isinstance(value, str) or not value or _SPACE.search(value):
        raise ValueError(f"{name} must be a non-empty word without spaces, got {value!r}")
    return value


def known_fields(value: Any, known: tuple[str, ...], path: str, error: Error = ValueError) -> dict:
    """`value`, or `error` if it is not an object or has a field that is not in `known`."""
    if not isinstance(value, dict):
        raise error(f"{path}: must be an object, got {value!r}")
    unknown = [key for key in value if key not in known]
    if unknown:
        raise error(f"{path}: unknown field {unknown[0]!r}; expected some of {list(known)}")
    return value
