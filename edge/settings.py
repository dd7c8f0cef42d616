"""A site's settings for every visitor's engine: editor rules, segments, and the wording of "why".

Editors change them on the server; devices get them as one JSON document, in the
`settings` part of the global model or in a worker message:

    {"rules": {...},                       see edge.rules
     "segments": {"NAME": condition},      see edge.segments
     "explain": {"templates": {...}, "words": {...}}}   see edge.explain

Every part may be left out (no rules, no segments, the default wording). A document
is checked whole before anything is used, and a new one replaces the old one whole.

>>> settings = Settings.from_dict({"rules": {"kill_switch": True}, "explain": {"words": {"evening": "soir"}}})
>>> settings.rules.kill_switch, settings.explainer.sentence("daypart:evening & topic:golf")
(True, 'Popular in the soir')
>>> Settings.from_dict({"rule": {}})
Traceback (most recent call last):
    ...
ValueError: site settings: unknown field 'rule'; expected some of ['rules', 'segments', 'explain']
"""

from __future__ import annotations

from typing import Any

from edge.explain import Explainer
from edge.rules import Rules
from edge.segments import Segments
from edge.validation import known_fields

PARTS = ("rules", "segments", "explain")
EXPLAIN_PARTS = ("templates", "words")


class Settings:
    """A site's editor rules, segments and explainer, built from one checked document."""

    def __init__(
        self, rules: Rules | None = None, segments: Segments | None = None, explain: dict[str, dict] | None = None
    ) -> None:
        self.rules = rules or Rules()
        self.segments = segments or Segments()
        self.explain = explain or {}  # the site's own wording, kept to save it again
        self.explainer = Explainer(**self.explain)

    @classmethod
    def from_dict(cls, document: Any) -> Settings:
        """Check the document and build the settings; raises ValueError naming the bad part."""
        known_fields(document, PARTS, "site settings")
        explain = document.get("explain", {})
        known_fields(explain, EXPLAIN_PARTS, "explain")
        for part, table in explain.items():
            if not isinstance(table, dict):
                raise ValueError(f"explain.{part} must be an object, got {table!r}")
        return cls(
            Rules.from_dict(document.get("rules", {})),
            Segments.from_dict(document.get("segments", {})),
            {part: dict(table) for part, table in explain.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules.to_dict(), "segments": self.segments.to_dict(), "explain": self.explain}

