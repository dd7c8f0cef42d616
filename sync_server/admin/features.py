"""Plain words for the model's hashed buckets, where the server can guess the feature behind one.

Devices send bucket numbers, never feature names, so the server cannot read its own
model. It does know a few names every site's model uses: each variant's own feature
(`variant:SLOT/ID`, from the counters) and its crosses with the context tokens that
have a fixed vocabulary (device type, part of day, day of week). Hashing those names
finds their buckets; any other bucket stays a number. A guess can be wrong when another,
unknown feature shares the bucket, so the page says "probably".

>>> names = BucketNames(bits=18, variants=[("picks", "tent")])
>>> names.describe(names.hasher("device:mobile & variant:picks/tent"))
'tent in picks: popular with visitors on mobile'
>>> names.describe(names.hasher("variant:picks/tent"))
'tent in picks: popular with other visitors'
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.explain import Explainer
from edge.features import DAYPARTS, WEEKDAYS, Hasher

DEVICES = ("mobile", "desktop", "tablet")
KNOWN_CONTEXT = (*(f"device:{d}" for d in DEVICES), *(f"daypart:{p}" for p in dict.fromkeys(DAYPARTS)),
                 *(f"weekday:{d}" for d in WEEKDAYS), "weekend", "weekday")


class BucketNames:
    """The known feature names of `variants` ((slot, variant) pairs), by bucket."""

    def __init__(self, bits: int, variants: Iterable[tuple[str, str]]) -> None:
        self.hasher = Hasher(bits)
        self.explainer = Explainer()
        self.names: dict[int, tuple[str, str, str]] = {}  # bucket -> (slot, variant, feature name)
        for slot, variant in variants:
            own = f"variant:{slot}/{variant}"
            for name in (own, *(f"{context} & {own}" for context in KNOWN_CONTEXT)):
                self.names.setdefault(self.hasher(name), (slot, variant, name))

    def describe(self, bucket: int) -> str | None:
        """What the bucket probably stands for, or None if no known name hashes to it."""
        if bucket not in self.names:
            return None
        slot, variant, name = self.names[bucket]
        sentence = self.explainer.sentence(name)
        return f"{variant} in {slot}: {sentence[0].lower()}{sentence[1:]}"
