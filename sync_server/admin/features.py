"""Plain words for the model's hashed buckets, where the server can guess the feature behind one.

Devices send bucket numbers, never feature names, so the server cannot read its own
model. It does know a few names every site's model uses: each variant's own feature
(`variant:SLOT/ID`, from the counters) and its crosses with the context tokens that
have a fixed vocabulary (device type, part of day, day of week, referrer). The site's
catalog (catalog.py) and logged sample (replay.py) add its variants' titles and
features (`topic:camping`), the context tokens its visits have (`interest:hiking`) and
the behaviour tokens those features make on a device (`likes:topic:camping`). Hashing
those names finds their buckets; any other bucket stays unnamed. A guess can be wrong
when another, unknown feature shares the bucket, so the page says "probably".

>>> names = BucketNames(bits=18, variants=[("picks", "tent")], features=["topic:camping"], contexts=["interest:hiking"],
...                     titles={("picks", "tent"): "Two-person tent"})
>>> names.describe(names.hasher("device:mobile & variant:picks/tent"))
'“Two-person tent” in picks: popular with visitors on mobile'
>>> names.describe(names.hasher("variant:picks/tent"))
'“Two-person tent” in picks: popular with other visitors'
>>> names.describe(names.hasher("interest:hiking & topic:camping"))
'topic:camping: liked by visitors interested in hiking'
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.explain import Explainer
from edge.features import DAYPARTS, WEEKDAYS, Hasher

DEVICES = ("mobile", "desktop", "tablet")
REFERRERS = ("direct", "internal", "search", "social", "other")  # browser_pkg/src/snippet/context.js
KNOWN_CONTEXT = (*(f"device:{d}" for d in DEVICES), *(f"daypart:{p}" for p in dict.fromkeys(DAYPARTS)),
                 *(f"weekday:{d}" for d in WEEKDAYS), "weekend", "weekday", *(f"referrer:{r}" for r in REFERRERS))
# The visitor-facing sentences speak to the visitor ("You told us…"); an admin reads about them.
ADMIN_TEMPLATES = {
    "interest:*": "Liked by visitors interested in {value}",
    "likes:*": "Liked by visitors who often look at {value}",
    "loves:*": "Liked by visitors who look at {value} a lot",
    "session:*": "Liked by visitors just looking at {value}",
    "segment:*": "Liked by the segment {value}",
    "similar": "Liked by visitors in some context",
}


class BucketNames:
    """The known feature names of `variants` ((slot, variant) pairs, with the catalog's `titles`)
    and of candidate `features` and visit `contexts`, by bucket."""

    def __init__(self, bits: int, variants: Iterable[tuple[str, str]], features: Iterable[str] = (),
                 contexts: Iterable[str] = (), titles: dict[tuple[str, str], str] | None = None) -> None:
        titles = titles or {}
        self.hasher = Hasher(bits)
        self.explainer = Explainer(templates=ADMIN_TEMPLATES)
        self.names: dict[int, tuple[str, str]] = {}  # bucket -> (what it is about, feature name)
        features = list(dict.fromkeys(features))
        behaviour = [f"{kind}:{feature}" for feature in features for kind in ("session", "likes", "loves")]  # edge.profile
        crossing = (*KNOWN_CONTEXT, *dict.fromkeys(c for c in (*contexts, *behaviour) if c not in KNOWN_CONTEXT))
        subjects = [(f"{_quoted(titles.get((slot, variant)), variant)} in {slot}", f"variant:{slot}/{variant}")
                    for slot, variant in variants]
        subjects += [(feature, feature) for feature in features]
        for subject, own in subjects:
            for name in (own, *(f"{context} & {own}" for context in crossing)):
                self.names.setdefault(self.hasher(name), (subject, name))

    def describe(self, bucket: int) -> str | None:
        """What the bucket probably stands for, or None if no known name hashes to it."""
        if bucket not in self.names:
            return None
        subject, name = self.names[bucket]
        sentence = self.explainer.sentence(name)
        return f"{subject}: {sentence[0].lower()}{sentence[1:]}"


def _quoted(title: str | None, variant: str) -> str:
    return f"“{title}”" if title and title != variant else variant
