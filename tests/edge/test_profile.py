"""The behaviour profile fades with time, buckets strength into tokens, stays small, and keeps its state."""

from __future__ import annotations

import json
import math

import pytest

from edge import profile as profiles
from edge.profile import Horizon, Profile

MINUTE, DAY = 60.0, 86400.0


def test_counts_halve_every_half_life():
    horizon = Horizon(half_life=100.0)
    horizon.record(["topic:hiking"], at=0, seen=1.0, clicked=2.0)
    assert horizon.counts("topic:hiking", at=100) == (0.5, 1.0)
    assert horizon.counts("topic:hiking", at=300) == (0.125, 0.25)


def test_new_events_add_to_what_is_left():
    horizon = Horizon(half_life=100.0)
    horizon.record(["topic:hiking"], at=0, seen=1.0)
    horizon.record(["topic:hiking"], at=100, seen=1.0)
    assert horizon.counts("topic:hiking", at=100) == (1.5, 0.0)


def test_a_clock_that_goes_backwards_never_grows_a_count():
    horizon = Horizon(half_life=100.0)
    horizon.record(["topic:hiking"], at=1000, seen=1.0)
    assert horizon.counts("topic:hiking", at=500) == (1.0, 0.0)
    horizon.record(["topic:hiking"], at=500, seen=1.0)
    assert horizon.counts("topic:hiking", at=1100) == (1.0, 0.0)


def test_a_feature_never_seen_counts_zero():
    assert Horizon(half_life=100.0).counts("topic:golf", at=5) == (0.0, 0.0)
    assert Horizon(half_life=100.0).strength("topic:golf", at=5) == 0.0


def test_a_click_weighs_more_than_a_view_and_strength_saturates_below_one():
    horizon = Horizon(half_life=100.0)
    horizon.record(["topic:viewed"], at=0, seen=1.0)
    horizon.record(["topic:clicked"], at=0, clicked=1.0)
    horizon.record(["topic:binged"], at=0, clicked=1000.0)
    strengths = horizon.strongest(at=0)
    assert list(strengths) == ["topic:binged", "topic:clicked", "topic:viewed"]
    assert strengths["topic:clicked"] == 0.5
    assert 0.99 < strengths["topic:binged"] < 1.0


def test_a_full_horizon_drops_its_weakest_feature():
    horizon = Horizon(half_life=100.0, capacity=3)
    horizon.record(["topic:old"], at=0, clicked=1.0)
    horizon.record(["topic:strong"], at=0, clicked=5.0)
    horizon.record(["topic:recent"], at=200, seen=1.0)
    horizon.record(["topic:new"], at=200, seen=1.0)
    assert sorted(horizon) == ["topic:new", "topic:recent", "topic:strong"]


def test_a_profile_stays_bounded_however_much_it_sees():
    profile = Profile(capacity=8)
    for i in range(100):
        profile.see([f"topic:t{i}", f"price:p{i}"], at=i)
    state = profile.to_dict()
    assert len(state["session"]["entries"]) == len(state["taste"]["entries"]) == 8
    assert "topic:t99" in state["session"]["entries"]


def test_session_intent_fades_fast_and_taste_lasts():
    profile = Profile()
    profile.click(["topic:hiking"], at=0)
    later = profile.features(at=3 * 60 * MINUTE)
    assert later["session:topic:hiking"] < 0.02
    assert later["likes:topic:hiking"] > 0.49


def test_one_view_is_session_intent_for_one_half_life():
    profile = Profile()
    profile.see(["topic:hiking"], at=0)
    assert "session:topic:hiking" in profile.tokens(at=29 * MINUTE)
    assert "session:topic:hiking" not in profile.tokens(at=31 * MINUTE)


def test_taste_is_bucketed_by_strength_cumulatively():
    profile = Profile()
    profile.see(["topic:news"], at=0)
    profile.click(["topic:hiking"], at=0)
    for _ in range(3):
        profile.click(["topic:camping"], at=0)
    tokens = profile.tokens(at=0)
    assert "likes:topic:news" not in tokens  # one view is not yet a taste
    assert "likes:topic:hiking" in tokens and "loves:topic:hiking" not in tokens
    assert "likes:topic:camping" in tokens and "loves:topic:camping" in tokens


def test_only_the_strongest_features_become_tokens():
    profile = Profile()
    for i in range(10):
        for _ in range(i + 1):
            profile.click([f"topic:t{i}"], at=0)
    tokens = profile.tokens(at=0)
    session = [t for t in tokens if t.startswith("session:")]
    likes = [t for t in tokens if t.startswith("likes:")]
    assert session == ["session:topic:t9", "session:topic:t8", "session:topic:t7"]
    assert likes == [f"likes:topic:t{i}" for i in range(9, 9 - profiles.TASTE_TOKENS, -1)]


def test_a_feature_repeated_in_one_event_counts_once():
    profile = Profile()
    profile.click(["topic:hiking", "topic:hiking"], at=0)
    assert profile.taste.counts("topic:hiking", at=0) == (0.0, 1.0)


def test_declared_interests_are_tokens_and_features():
    profile = Profile()
    profile.declare(["hiking", "cycling", "hiking"])
    assert profile.interests == ["cycling", "hiking"]
    assert profile.tokens(at=0) == ["interest:cycling", "interest:hiking"]
    assert profile.features(at=0) == {"interest:cycling": 1.0, "interest:hiking": 1.0}
    profile.declare([])
    assert profile.tokens(at=0) == []


def test_features_name_every_strength_for_segments():
    profile = Profile()
    profile.see(["topic:hiking"], at=0)
    features = profile.features(at=0)
    assert features == {"session:topic:hiking": 1 / 3, "likes:topic:hiking": 1 / 3}


def test_features_are_a_live_view_read_on_demand():
    profile = Profile()
    profile.declare(["golf"])
    features = profile.features(at=0)
    assert "likes:topic:hiking" not in features and len(features) == 1
    profile.see(["topic:hiking"], at=0)
    assert features["likes:topic:hiking"] == 1 / 3
    assert sorted(features) == ["interest:golf", "likes:topic:hiking", "session:topic:hiking"]
    for missing in ("likes:topic:golf", "interest:hiking", "loves:topic:hiking", "topic:hiking"):
        with pytest.raises(KeyError):
            features[missing]


def test_state_round_trips_through_json_exactly():
    profile = Profile(session_half_life=600, taste_half_life=7 * DAY, capacity=16)
    profile.declare(["trail_running"])
    profile.see(["topic:hiking", "price:low"], at=1_700_000_000.25)
    profile.click(["topic:hiking"], at=1_700_000_123.5)
    state = json.loads(json.dumps(profile.to_dict()))
    restored = Profile.from_dict(state)
    assert restored.to_dict() == profile.to_dict()
    at = 1_700_100_000.0
    assert restored.features(at) == profile.features(at)
    assert restored.tokens(at) == profile.tokens(at)


def test_state_from_another_schema_is_refused_clearly():
    state = Profile().to_dict()
    state["schema"] = 2
    with pytest.raises(ValueError, match="profile state has schema 2"):
        Profile.from_dict(state)


@pytest.mark.parametrize("entries, problem", [
    ({"topic:hiking": [1.0, 0.0]}, "must be \\[seen, clicked, as_of\\]"),
    ({"topic:hiking": [1.0, math.nan, 0.0]}, "must be \\[seen, clicked, as_of\\]"),
    ({"topic hiking": [1.0, 0.0, 0.0]}, "non-empty word without spaces"),
    ({f"topic:t{i}": [1.0, 0.0, 0.0] for i in range(65)}, "more than its capacity 64"),
])
def test_malformed_state_is_refused_clearly(entries, problem):
    state = Profile().to_dict()
    state["taste"]["entries"] = entries
    with pytest.raises(ValueError, match=problem):
        Profile.from_dict(state)


@pytest.mark.parametrize("half_life, capacity, problem", [
    (0, 8, "half_life must be a positive number"),
    (math.inf, 8, "half_life must be a positive number"),
    (60, 0, "capacity must be a whole number"),
    (60, 2.5, "capacity must be a whole number"),
])
def test_bad_horizons_are_refused(half_life, capacity, problem):
    with pytest.raises(ValueError, match=problem):
        Horizon(half_life, capacity)


BAD_EVENTS = [
    ("see", (["topic:hiking", "topic trail"], 0), "non-empty word without spaces"),
    ("click", (["topic:hiking", ""], 0), "non-empty word without spaces"),
    ("click", ([3], 0), "non-empty word without spaces"),
    ("see", (["topic:hiking"], math.nan), "finite number of seconds"),
    ("see", (["topic:hiking"], "now"), "finite number of seconds"),
    ("click", (["topic:hiking"], True), "finite number of seconds"),
    ("declare", (["hiking", None],), "interest must be a non-empty word"),
    ("declare", ([f"i{n}" for n in range(65)],), "at most 64 interests"),
]


@pytest.mark.parametrize("method, args, problem", BAD_EVENTS, ids=[f"{b[0]}: {b[2]}" for b in BAD_EVENTS])
def test_bad_input_is_refused_and_changes_nothing(method, args, problem):
    profile = Profile()
    profile.declare(["hiking"])
    profile.click(["topic:hiking"], at=0)
    before = profile.to_dict()
    with pytest.raises(ValueError, match=problem):
        getattr(profile, method)(*args)
    assert profile.to_dict() == before


def test_reading_at_a_bad_time_is_refused():
    with pytest.raises(ValueError, match="finite number of seconds"):
        Profile().tokens(at=math.inf)
