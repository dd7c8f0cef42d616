"""Editor rules as the admin sends them, from the form or the API: checked in size and depth
first, so a huge or deeply nested document is refused by name, never by the parser's stack.

>>> checked_rules('{"slots": {"picks": {"pin": {"tent": 1}}}}')["slots"]
{'picks': {'pin': {'tent': 1}}}
>>> checked_rules("[" * 1000 + "]" * 1000)
Traceback (most recent call last):
...
edge.rules.RuleError: the rules nest more than 8 levels deep
"""

from __future__ import annotations

import orjson

from edge.rules import RuleError, Rules
from sync_server.checks import nests_deeper
from sync_server.sites import DEFAULT_HOLDOUT

MAX_BYTES = 64_000  # hundreds of slots' rules; every device downloads them with the model
MAX_DEPTH = 8  # a rules document nests 4 levels (slots, slot, pin, variant)


def checked_rules(text: str | bytes) -> dict:
    """The rules document in JSON `text`, checked and normalized; RuleError naming the problem.
    A document without a top-level `holdout` keeps the default site-wide holdout: leaving it out
    is not turning it off (`"holdout": 0` is)."""
    if len(text) > MAX_BYTES:
        raise RuleError(f"the rules are {len(text)} characters; the limit is {MAX_BYTES}")
    try:
        document = orjson.loads(text)  # orjson refuses nesting past 1,024 levels itself
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            raise RuleError(f"the rules nest more than {MAX_DEPTH} levels deep") from None
        raise RuleError(f"the rules are not JSON: {error}") from None
    if nests_deeper(document, MAX_DEPTH):
        raise RuleError(f"the rules nest more than {MAX_DEPTH} levels deep")
    if isinstance(document, dict):
        document = {"holdout": DEFAULT_HOLDOUT, **document}
    return Rules.from_dict(document).to_dict()
