"""The visitor's behaviour profile: what they look at and click, fading with time.

A profile keeps exponentially decayed counts of the features (`topic:hiking`,
`price:low`, any word a site uses) of content the visitor *saw* (opened: the
page they are reading) and *clicked* (a variant they chose), over two horizons:

- the **session**, with a short half-life (30 minutes): what they are after now;
- their **taste**, with a long half-life (30 days): what they keep coming back to.

Impressions are not "seen": the visitor did not choose them, so they say nothing
about interest. A count halves every half-life, so a profile needs no clean-up
job and an old habit gives way to a new one by itself. Each horizon holds at most
`capacity` features; the weakest makes room for a new one, so state stays small.

Time is always passed in (`at`, seconds, e.g. `Date.now() / 1000`): the math never
reads a clock, so it is exact to test and replays the same way on every device.

>>> profile = Profile()
>>> profile.declare(["trail_running"])
>>> profile.see(["topic:hiking"], at=0)
>>> profile.click(["topic:hiking", "price:low"], at=60)
>>> profile.tokens(at=120)
['interest:trail_running', 'session:topic:hiking', 'session:price:low', 'likes:topic:hiking', 'likes:price:low']
>>> round(profile.features(at=120)["likes:topic:hiking"], 3)
0.6

A month later the session is long over; a view and a click on hiking still
make a taste, a single click on a cheap item no longer does:

>>> profile.tokens(at=120 + 30 * 86400)
['interest:trail_running', 'likes:topic:hiking']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

from edge.base import State, Stateful
from edge.validation import is_number, whole, word

SCHEMA = 1
SESSION_HALF_LIFE = 30 * 60.0
TASTE_HALF_LIFE = 30 * 86400.0
CAPACITY = 64

# Strength maps engagement (views + CLICK_WEIGHT × clicks, decayed) into [0, 1):
# engagement / (engagement + HALF_STRENGTH). It saturates, so a binge reads as
# "strong", never as a number that drowns every other feature.
CLICK_WEIGHT = 2.0
HALF_STRENGTH = 2.0

# Token thresholds on strength. One fresh view makes 0.33, one click 0.5.
SESSION_MIN = 0.2  # a single view stays session intent for one half-life
LIKES_MIN = 0.4  # more than one view: a click or two views
LOVES_MIN = 0.75  # about three clicks or six views
SESSION_TOKENS = 3  # the model crosses every token with every candidate feature:
TASTE_TOKENS = 5  # few, strong tokens keep a decision fast


class Horizon(Stateful):
    """Decayed counts of features seen and clicked, halving every `half_life` seconds.

    Each entry is stored as of the time it last changed and decayed when read, so
    recording an event touches only its own features.

    >>> taste = Horizon(half_life=100.0, capacity=2)
    >>> taste.record(["topic:hiking"], at=0, seen=1.0)
    >>> taste.record(["topic:hiking"], at=100, clicked=1.0)
    >>> taste.counts("topic:hiking", at=200)
    (0.25, 0.5)
    >>> taste.record(["topic:news"], at=200, seen=1.0)
    >>> taste.record(["topic:golf"], at=200, seen=1.0)  # full: the weakest goes
    >>> {name: round(strength, 2) for name, strength in taste.strongest(at=200).items()}
    {'topic:hiking': 0.38, 'topic:golf': 0.33}
    """

    def __init__(self, half_life: float, capacity: int = CAPACITY) -> None:
        if not is_number(half_life) or half_life <= 0:
            raise ValueError(f"half_life must be a positive number of seconds, got {half_life!r}")
        whole("capacity", capacity, low=1)
        self.half_life = half_life
        self.capacity = capacity
        self._entries: dict[str, tuple[float, float, float]] = {}  # name -> (seen, clicked, as of)
        # Every count fades at the same rate, so log2(engagement) moved back to time 0
        # orders entries as their engagement does at any later time ("forward decay",
        # Cormode et al. 2009): ranking and evicting need no power of two per entry.
        self._order: dict[str, float] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, names: Iterable[str], at: float, seen: float = 0.0, clicked: float = 0.0) -> None:
        """Add `seen` views and `clicked` clicks of each name at time `at`."""
        for name in dict.fromkeys(names):  # once per event, even if a feature repeats
            if name not in self._entries and len(self._entries) >= self.capacity:
                self._forget(min(self._order, key=self._order.__getitem__))
            old_seen, old_clicked = self.counts(name, at)
            as_of = max(at, self._entries.get(name, (0.0, 0.0, at))[2])
            self._remember(name, (old_seen + seen, old_clicked + clicked, as_of))

    def counts(self, name: str, at: float) -> tuple[float, float]:
        """The decayed (seen, clicked) counts of `name` at time `at`."""
        seen, clicked, as_of = self._entries.get(name, (0.0, 0.0, at))
        # A clock that went backwards (another device, a fixed time zone) never grows a count.
        fading = 0.5 ** (max(0.0, at - as_of) / self.half_life)
        return seen * fading, clicked * fading

    def strength(self, name: str, at: float) -> float:
        """How strongly the visitor engages with `name`, from 0 (never) towards 1."""
        seen, clicked = self.counts(name, at)
        engagement = seen + CLICK_WEIGHT * clicked
        return engagement / (engagement + HALF_STRENGTH)

    def strongest(self, at: float, limit: int | None = None, minimum: float = 0.0) -> dict[str, float]:
        """The strengths of the `limit` strongest features (None: all) from `minimum` on, strongest first."""
        # What heapq.nlargest gives, ties included, but sorted in C: a horizon holds a few dozen names.
        names = sorted(self._order, key=self._order.__getitem__, reverse=True)[:limit]
        strengths = {name: self.strength(name, at) for name in names}
        return {name: strength for name, strength in strengths.items() if strength >= minimum}

    def _remember(self, name: str, entry: tuple[float, float, float]) -> None:
        seen, clicked, as_of = self._entries[name] = entry
        engagement = seen + CLICK_WEIGHT * clicked
        self._order[name] = (math.log2(engagement) if engagement > 0 else -math.inf) + as_of / self.half_life

    def _forget(self, name: str) -> None:
        del self._entries[name], self._order[name]

    def to_dict(self) -> State:
        return {
            "half_life": self.half_life,
            "capacity": self.capacity,
            "entries": {name: list(entry) for name, entry in self._entries.items()},
        }

    @classmethod
    def from_dict(cls, state: State) -> Horizon:
        horizon = cls(state["half_life"], state["capacity"])
        if len(state["entries"]) > horizon.capacity:
            raise ValueError(f"profile has {len(state['entries'])} entries, more than its capacity {horizon.capacity}")
        for name, entry in state["entries"].items():
            if not (isinstance(entry, list) and len(entry) == 3 and all(map(is_number, entry))):
                raise ValueError(f"profile entry {name!r} must be [seen, clicked, as_of], got {entry!r}")
            horizon._remember(word("feature", name), tuple(entry))
        return horizon


class ProfileFeatures(Mapping[str, float]):
    """A profile's features at one time: `interest:NAME` (1.0), `session:NAME` and
    `likes:NAME` (strengths). A live view: a feature is computed only when read, as
    segment rules read a few of the many a profile holds.
    """

    def __init__(self, profile: Profile, at: float) -> None:
        self._profile = profile
        self._at = at
        self._horizons = {"session": profile.session, "likes": profile.taste}

    def __getitem__(self, name: str) -> float:
        kind, _, feature = name.partition(":")
        if kind == "interest" and feature in self._profile.interests:
            return 1.0
        horizon = self._horizons.get(kind)
        if horizon is None or feature not in horizon:
            raise KeyError(name)
        return horizon.strength(feature, self._at)

    def __iter__(self) -> Iterator[str]:
        yield from (f"interest:{interest}" for interest in self._profile.interests)
        for kind, horizon in self._horizons.items():
            yield from (f"{kind}:{feature}" for feature in horizon)

    def __len__(self) -> int:
        return len(self._profile.interests) + sum(map(len, self._horizons.values()))


class Profile(Stateful):
    """Declared interests plus decayed behaviour over a session and a taste horizon."""

    def __init__(
        self,
        session_half_life: float = SESSION_HALF_LIFE,
        taste_half_life: float = TASTE_HALF_LIFE,
        capacity: int = CAPACITY,
    ) -> None:
        self.session = Horizon(session_half_life, capacity)
        self.taste = Horizon(taste_half_life, capacity)
        self.interests: list[str] = []

    def declare(self, interests: Iterable[str]) -> None:
        """Replace the interests the visitor declared (in the preferences widget)."""
        words = sorted({word("interest", interest) for interest in interests})
        if len(words) > self.taste.capacity:
            raise ValueError(f"at most {self.taste.capacity} interests, got {len(words)}")
        self.interests = words

    def see(self, features: Iterable[str], at: float) -> None:
        """The visitor opened content with these features (a page, an article)."""
        self._record(features, at, seen=1.0)

    def click(self, features: Iterable[str], at: float) -> None:
        """The visitor clicked a variant with these features."""
        self._record(features, at, clicked=1.0)

    def _record(self, features: Iterable[str], at: float, **amounts: float) -> None:
        # Check everything first, so bad input changes nothing.
        names = [word("feature", feature) for feature in features]
        at = check_time(at)
        for horizon in (self.session, self.taste):
            horizon.record(names, at, **amounts)

    def features(self, at: float) -> ProfileFeatures:
        """The profile as named numbers at time `at`, e.g. for segment rules."""
        return ProfileFeatures(self, check_time(at))

    def tokens(self, at: float) -> list[str]:
        """Context tokens for the model: interests, then strong session and taste features.

        Taste is bucketed by strength, cumulatively: a strong taste gives both
        `likes:NAME` and `loves:NAME`, so the model learns what liking means
        first and what loving adds later.
        """
        at = check_time(at)
        tokens = [f"interest:{interest}" for interest in self.interests]
        tokens += [f"session:{name}" for name in self.session.strongest(at, SESSION_TOKENS, SESSION_MIN)]
        for name, strength in self.taste.strongest(at, TASTE_TOKENS, LIKES_MIN).items():
            tokens += [f"likes:{name}"] + ([f"loves:{name}"] if strength >= LOVES_MIN else [])
        return tokens

    def to_dict(self) -> State:
        return {
            "schema": SCHEMA,
            "interests": list(self.interests),
            "session": self.session.to_dict(),
            "taste": self.taste.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: State) -> Profile:
        if state.get("schema") != SCHEMA:
            raise ValueError(f"profile state has schema {state.get('schema')!r}; this reads schema {SCHEMA}")
        profile = cls()
        profile.session = Horizon.from_dict(state["session"])
        profile.taste = Horizon.from_dict(state["taste"])
        profile.declare(state["interests"])
        return profile


def check_time(at: object) -> float:
    if not is_number(at):
        raise ValueError(f"time 'at' must be a finite number of seconds, got {at!r}")
    return at

