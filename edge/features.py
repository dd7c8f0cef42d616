"""Turn a visit's context and a candidate's description into sparse hashed features.

Context says who is looking and when (device, time of day, referrer, page, declared
interests); a candidate says what it is (`topic:sports price:low`). The model learns
on their crosses, so it can find that mobile evening visitors click sports, and on the
candidate's own features, so it also learns what everyone clicks. Names are hashed
into a fixed number of buckets: the model's size stays bounded whatever a site sends,
and a federated delta carries bucket numbers, never feature names.

>>> tokens = context_tokens({"device": "mobile", "hour": 20, "weekday": 6})
>>> tokens
['device:mobile', 'daypart:evening', 'weekday:sat', 'weekend']
>>> crossed_names(tokens[:1], ["topic:sports"])
['topic:sports', 'device:mobile & topic:sports']
"""

from __future__ import annotations

import math
import zlib

DAYPARTS = ("night",) * 6 + ("morning",) * 6 + ("afternoon",) * 6 + ("evening",) * 6
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # JavaScript's getDay() order
CONTEXT_KEYS = ("device", "hour", "weekday", "referrer", "page", "interests")
KNUTH = 0x9E3779B1  # 2**32 divided by the golden ratio, rounded to odd


def context_tokens(context: dict) -> list[str]:
    """Describe the visit as categorical tokens; raises ValueError on malformed values."""
    unknown = set(context) - set(CONTEXT_KEYS)
    if unknown:
        raise ValueError(f"unknown context keys {sorted(unknown)}; expected some of {list(CONTEXT_KEYS)}")
    tokens = []
    for key in ("device", "referrer", "page"):
        if key in context:
            tokens.append(f"{key}:{_word(key, context[key])}")
    if "hour" in context:
        tokens.append(f"daypart:{DAYPARTS[_integer('hour', context['hour'], 24)]}")
    if "weekday" in context:
        day = _integer("weekday", context["weekday"], 7)
        tokens.append(f"weekday:{WEEKDAYS[day]}")
        tokens.append("weekend" if day in (0, 6) else "weekday")
    for interest in context.get("interests", ()):
        tokens.append(f"interest:{_word('interests', interest)}")
    return tokens


def candidate_tokens(slot: str, candidate: dict) -> list[str]:
    """The candidate's own features, plus one that names this variant of this slot."""
    variant = candidate.get("id")
    if not isinstance(variant, str) or not variant:
        raise ValueError(f"candidate in slot {slot!r} needs a non-empty string 'id', got {variant!r}")
    features = candidate.get("features")
    if isinstance(features, str):
        features = features.split()
    if not isinstance(features, list) or not all(isinstance(f, str) and f for f in features):
        raise ValueError(f"candidate {variant!r} in slot {slot!r} needs 'features' as a list of strings")
    return [*features, f"variant:{slot}/{variant}"]


def crossed_names(context: list[str], candidate: list[str]) -> list[str]:
    """Each candidate token alone, then crossed with each context token."""
    names = list(candidate)
    names += [f"{c} & {f}" for c in context for f in candidate]
    return names


class Hasher:
    """Map feature names to one of 2**bits buckets, stable across runs and platforms.

    A cross `CONTEXT & TOKEN` goes to `key(CONTEXT) ^ bucket(TOKEN)`: a visit crosses
    its context with every candidate's tokens, and one XOR per cross is much cheaper
    than making and hashing each name. The server, which only knows bucket numbers,
    finds a cross's bucket from its name just the same:

    >>> hasher = Hasher(18)
    >>> hasher("topic:sports")
    43398
    >>> hasher("device:mobile & topic:sports") == hasher.key("device:mobile") ^ hasher("topic:sports")
    True
    """

    def __init__(self, bits: int) -> None:
        if not 8 <= bits <= 24:
            raise ValueError(f"hash bits must be between 8 and 24, got {bits}")
        self.bits = bits
        self.mask = (1 << bits) - 1
        self._cache: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        index = self._cache.get(name)
        if index is None:
            context, cross, token = name.partition(" & ")
            index = self._cache[name] = self.key(context) ^ self(token) if cross else _crc(name) & self.mask
        return index

    def key(self, context: str) -> int:
        """What the buckets of a context token's crosses are XORed with.

        CRC is linear, so XORing two of them would make whole families of crosses
        collide; Knuth's multiplicative hash of the CRC breaks that up.
        """
        return (_crc(context) * KNUTH & 0xFFFFFFFF) >> (32 - self.bits)


def _crc(name: str) -> int:
    # crc32 is in C and stable everywhere; Python's hash() is salted per process.
    return zlib.crc32(name.encode())


def _word(key: str, value: object) -> str:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise ValueError(f"context {key!r} must be a non-empty word, got {value!r}")
    return value


def _integer(key: str, value: object, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"context {key!r} must be a number, got {value!r}")
    if value != int(value) or not 0 <= value < limit:
        raise ValueError(f"context {key!r} must be a whole number from 0 to {limit - 1}, got {value!r}")
    return int(value)
