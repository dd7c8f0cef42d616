"""What a slot optimizes, and how an outcome becomes a bounded reward.

A slot declares its objective (`data-p13n-objective` in the page):

- `click` (the default): a click on a variant is its reward, learned at once;
- `convert:GOAL`: a click counts only if a conversion of GOAL (`p13n.track("convert",
  {goal})`) follows it within `ATTRIBUTION_SECONDS` on the same device;
- `value:GOAL`: as `convert:GOAL`, rewarded by the conversion's value, log-scaled and
  capped at `VALUE_CAP`, so one huge order cannot swamp the model.

>>> round(Objective.parse("value:order").reward(100.0), 3)  # log(101) / log(1001)
0.668
>>> Objective.parse("value:order").reward(5000.0), Objective.parse("convert:signup").reward(5000.0)
(1.0, 1.0)
>>> Objective.parse("likes")
Traceback (most recent call last):
ValueError: objective must be 'click', 'convert:GOAL' or 'value:GOAL' (GOAL a word of letters, digits, '_' or '-'), got 'likes'
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from edge.validation import is_number

# A conversion is credited to the clicks, in slots that optimize its goal, made on this
# device at most this long before it (the usual "1-day click" attribution window).
ATTRIBUTION_SECONDS = 24 * 3600.0
# Clicks that wait for a conversion, at most; the oldest is learned as not converting.
AWAITING_CLICKS = 64
# A conversion's value counts up to this much; rewards are log(1 + value) / log(1 + cap).
VALUE_CAP = 1000.0
CLICK = "click"
_FORM = re.compile(r"(convert|value):([A-Za-z0-9_-]{1,64})")


class Objective(NamedTuple):
    """`kind` is click, convert or value; `goal` names the conversion (None for clicks)."""

    kind: str
    goal: str | None = None

    @classmethod
    def parse(cls, text: object) -> Objective:
        if text is None or text == CLICK:
            return cls(CLICK)
        match = _FORM.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValueError("objective must be 'click', 'convert:GOAL' or 'value:GOAL' "
                             f"(GOAL a word of letters, digits, '_' or '-'), got {text!r}")
        return cls(match[1], match[2])

    def __str__(self) -> str:
        return self.kind if self.goal is None else f"{self.kind}:{self.goal}"

    def reward(self, value: float) -> float:
        """The reward, in [0, 1], of a conversion of this objective's goal worth `value`."""
        if self.kind != "value":
            return 1.0
        return min(1.0, math.log1p(max(0.0, value)) / math.log1p(VALUE_CAP))


def conversion(event: dict) -> tuple[str, float]:
    """A convert event's goal and value, checked: `{"goal": "order", "value"?: 42.5}`.

    >>> conversion({"goal": "order", "value": -1})
    Traceback (most recent call last):
    ValueError: a conversion's value must be a finite number >= 0, got -1
    """
    goal, value = event.get("goal"), event.get("value", 0.0)
    if not isinstance(goal, str) or not _FORM.fullmatch(f"convert:{goal}"):
        raise ValueError(f"a conversion needs a 'goal' word of letters, digits, '_' or '-', got {goal!r}")
    if not is_number(value) or value < 0:
        raise ValueError(f"a conversion's value must be a finite number >= 0, got {value!r}")
    return goal, float(value)
