"""Why this: the features behind a decision, in words a visitor reads.

The model scores a variant by weights on feature names. A candidate's own features
(`topic:hiking`, `variant:picks/bottle`) carry what every visitor clicks; their
crosses with the visit (`device:mobile & topic:sports`) carry what visitors like
this one click. The first part of a cross describes the visitor, and that is what
a sentence is about: the visitor can already see the item.

Templates are keyed by the token they explain: an exact token (`daypart:night`),
else `KIND:*` for any `KIND:value`, or a bare word (`weekend`). A name with no
visitor token gets the `popular` template; a cross whose visitor token has no
template gets `similar`. In a template, `{value}` is the token's value, looked
up in `words` by its whole value (`price:low`), then by its last part (`low`),
else shown with `_` and `-` as spaces. A site rewords or translates by passing
its own templates and words, which override the defaults one by one.

>>> explainer = Explainer()
>>> explainer.explain(["interest:trail_running & topic:hiking",
...                    "device:mobile & topic:sports", "variant:picks/bottle"])
['You told us you like trail running', 'Popular with visitors on mobile', 'Popular with other visitors']
>>> explainer.sentence("likes:topic:hiking & price:low")
'You often look at hiking'
>>> german = Explainer(templates={"daypart:*": "Beliebt am {value}"}, words={"evening": "Abend"})
>>> german.sentence("daypart:evening & price:low")
'Beliebt am Abend'
"""

from __future__ import annotations

import string
from collections.abc import Iterable

TEMPLATES = {
    "interest:*": "You told us you like {value}",
    "likes:*": "You often look at {value}",
    "loves:*": "You look at {value} a lot",
    "session:*": "You were just looking at {value}",
    "segment:*": "Picked for {value}",
    "device:*": "Popular with visitors on {value}",
    "daypart:*": "Popular in the {value}",
    "daypart:night": "Popular at night",
    "weekday:*": "Popular on {value}",
    "weekend": "Popular at the weekend",
    "weekday": "Popular on weekdays",
    "referrer:*": "Popular with visitors coming from {value}",
    "page:*": "Popular on {value} pages",
    "popular": "Popular with other visitors",
    "similar": "Popular with visitors like you",
}
REMEMBERED = 4096  # sentences kept for names explained before
WORDS = {
    "sun": "Sundays", "mon": "Mondays", "tue": "Tuesdays", "wed": "Wednesdays",
    "thu": "Thursdays", "fri": "Fridays", "sat": "Saturdays",
}


class Explainer:
    """Turns feature names into sentences, with templates and words a site can override."""

    def __init__(self, templates: dict[str, str] | None = None, words: dict[str, str] | None = None) -> None:
        templates, words = templates or {}, words or {}
        for key, template in templates.items():
            _check_template(key, template)
        for word, text in words.items():
            if not isinstance(word, str) or not isinstance(text, str) or not text:
                raise ValueError(f"words must map strings to non-empty strings, got {word!r}: {text!r}")
        self.templates = {**TEMPLATES, **templates}
        self.words = {**WORDS, **words}
        self._said: dict[str, str] = {}  # name -> sentence: decisions explain the same names again and again

    def sentence(self, name: str) -> str:
        """One feature name, e.g. `device:mobile & topic:sports`, as a sentence."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a feature name must be a non-empty string, got {name!r}")
        said = self._said.get(name)
        if said is None:
            if len(self._said) >= REMEMBERED:
                self._said.clear()
            said = self._said[name] = self._sentence(name)
        return said

    def _sentence(self, name: str) -> str:
        parts = name.split(" & ")
        for part in parts:
            template = self._template(part)
            if template is not None:
                return template.format(value=self._word(part.partition(":")[2]))
        return self.templates["popular" if len(parts) == 1 else "similar"]

    def explain(self, names: Iterable[str], limit: int | None = None) -> list[str]:
        """Sentences for the names, most important first, each said once, at most `limit`."""
        sentences = list(dict.fromkeys(self.sentence(name) for name in names))
        return sentences[:limit]

    def _template(self, token: str) -> str | None:
        kind, colon, _ = token.partition(":")
        return self.templates.get(token) or (self.templates.get(f"{kind}:*") if colon else None)

    def _word(self, value: str) -> str:
        last = value.rpartition(":")[2]
        return self.words.get(value) or self.words.get(last) or last.replace("_", " ").replace("-", " ")


def _check_template(key: object, template: object) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError(f"template keys must be non-empty strings, got {key!r}")
    if not isinstance(template, str) or not template:
        raise ValueError(f"template {key!r} must be a non-empty string, got {template!r}")
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as error:
        raise ValueError(f"template {key!r} is malformed: {error}") from None
    if fields - {"value"}:
        raise ValueError(f"template {key!r} may only use {{value}}, got {sorted(fields - {'value'})}")
