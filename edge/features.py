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

import copy
import operator
import zlib
from collections.abc import Callable
from itertools import repeat

from edge.validation import is_number, word

DAYPARTS = ("night",) * 6 + ("morning",) * 6 + ("afternoon",) * 6 + ("evening",) * 6
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # JavaScript's getDay() order
CONTEXT_KEYS = ("device", "hour", "weekday", "referrer", "page", "interests")
KNOWN_KEYS = 1024  # context keys whose crosses with a slot's tokens are remembered (see `Crossing`)
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
        self._keys: dict[str, int] = {}

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
        key = self._keys.get(context)
        if key is None:
            key = self._keys[context] = (_crc(context) * KNUTH & 0xFFFFFFFF) >> (32 - self.bits)
        return key


class Crossing:
    """A slot's candidates crossed with one visit's context, laid out to be scored at once.

    Candidates share most of their tokens (many items are `topic:sports`), so each distinct
    token is laid out once, with its crosses: `buckets` holds every distinct token's own
    bucket, then their crosses with the first context token (`keys`, see `Hasher.key`),
    then with the second, and so on. A sum over a candidate's features is then the sum of
    its tokens' sums, which costs one lookup per distinct token and cross rather than one
    per candidate's feature, and every step of it runs in C. Names that share a bucket
    add up, as in any hashed feature vector.

    >>> hasher = Hasher(18)
    >>> context = ["device:mobile", "weekend"]
    >>> own = {"a": [hasher("topic:news"), hasher("price:low")], "b": [hasher("topic:news")]}
    >>> crossing = Crossing(list(map(hasher.key, context)), own)
    >>> len(crossing.buckets)                # two distinct tokens, each alone and crossed twice
    6
    >>> names = crossed_names(context, ["topic:news", "price:low"])
    >>> crossing.features("a") == [hasher(name) for name in names]
    True
    >>> crossing.sums([1.0] * 6)             # one per feature: how many features each has
    {'a': 6.0, 'b': 3.0}
    >>> crossing.means([2.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    {'a': 0.5, 'b': 1.0}

    The layout depends on the candidates only: another visit's context reuses it.

    >>> crossing.recrossed([hasher.key("device:desktop")]).features("b") == [hasher("topic:news"),
    ...     hasher("device:desktop & topic:news")]
    True
    """

    def __init__(self, keys: list[int], candidates: dict[str, list[int]]) -> None:
        position: dict[int, int] = {}
        self.tokens = {v: [position.setdefault(b, len(position)) for b in own] for v, own in candidates.items()}
        self.own = list(position)  # the distinct tokens' buckets
        self._variants = list(self.tokens)
        self._gathers = list(map(_gather, self.tokens.values()))
        self._lengths = list(map(len, self.tokens.values()))
        self._crosses: dict[int, list[int]] = {}  # context key -> the tokens' crosses with it, for every visit
        self._cross(keys)

    def recrossed(self, keys: list[int]) -> Crossing:
        """The same candidates crossed with other context keys."""
        crossing = copy.copy(self)
        crossing._cross(keys)
        return crossing

    def _cross(self, keys: list[int]) -> None:
        self.keys = keys
        self.width = width = 1 + len(keys)  # a token's own bucket, then its crosses
        own, n, crosses = self.own, len(self.own), self._crosses
        if len(crosses) >= KNOWN_KEYS:
            crosses.clear()
        self.buckets = buckets = list(own)
        for key in keys:
            row = crosses.get(key)
            if row is None:
                row = crosses[key] = list(map(key.__xor__, own))
            buckets += row
        self._rows = [slice(i, i + n) for i in range(0, width * n, n)]  # a row per context key
        self._counts = list(map(operator.mul, self._lengths, repeat(width)))

    def sums(self, values: list[float]) -> dict[str, float]:
        """Each candidate's sum of `values`, which hold one number per entry of `buckets`."""
        per_token = list(map(sum, zip(*map(values.__getitem__, self._rows))))
        return dict(zip(self._variants, map(sum, map(operator.call, self._gathers, repeat(per_token)))))

    def means(self, values: list[float]) -> dict[str, float]:
        """Each candidate's mean of `values` over its features."""
        return dict(zip(self._variants, map(operator.truediv, self.sums(values).values(), self._counts)))

    def features(self, variant: str, values: list | None = None) -> list:
        """The variant's buckets (or its entries of `values`), in `crossed_names` order."""
        values = self.buckets if values is None else values
        tokens, n = self.tokens[variant], len(self.own)
        return [values[row + t] for row in range(0, self.width * n, n) for t in tokens]


def _gather(indices: list[int]) -> Callable[[list], tuple]:
    """Picks `indices` out of a list, as a tuple even for one (which itemgetter gives bare)."""
    if len(indices) > 1:
        return operator.itemgetter(*indices)
    only = indices[0]
    return lambda values: (values[only],)


def _crc(name: str) -> int:
    # crc32 is in C and stable everywhere; Python's hash() is salted per process.
    return zlib.crc32(name.encode())


def _word(key: str, value: object) -> str:
    return word(f"context {key!r}", value)


def _integer(key: str, value: object, limit: int) -> int:
    if not is_number(value):
        raise ValueError(f"context {key!r} must be a number, got {value!r}")
    if value != int(value) or not 0 <= value < limit:
        raise ValueError(f"context {key!r} must be a whole number from 0 to {limit - 1}, got {value!r}")
    return int(value)
