"""Segments parse a small JSON language once, evaluate it safely, and refuse bad documents clearly."""

from __future__ import annotations

import copy
import json
import math
from collections import ChainMap

import pytest

from edge.profile import Profile
from edge.segments import MAX_DEPTH, SegmentError, Segments, parse

VISITOR = {"device": "desktop", "hour": 21, "interests": ["hiking", "golf"], "likes:topic:hiking": 0.6, "new": True}

CHECKS = [
    ({"feature": "device", "eq": "desktop"}, True),
    ({"feature": "device", "eq": "mobile"}, False),
    ({"feature": "hour", "eq": 21.0}, True),
    ({"feature": "new", "eq": True}, True),
    ({"feature": "device", "in": ["mobile", "desktop"]}, True),
    ({"feature": "hour", "in": [22, 23]}, False),
    ({"feature": "likes:topic:hiking", "gte": 0.6}, True),
    ({"feature": "likes:topic:hiking", "gt": 0.6}, False),
    ({"feature": "likes:topic:hiking", "lte": 0.6}, True),
    ({"feature": "likes:topic:hiking", "lt": 0.6}, False),
    ({"feature": "interests", "contains": "golf"}, True),
    ({"feature": "interests", "contains": "chess"}, False),
    ({"feature": "device", "exists": True}, True),
    ({"feature": "device", "exists": False}, False),
]


@pytest.mark.parametrize("condition, expected", CHECKS, ids=[json.dumps(c[0]) for c in CHECKS])
def test_each_check_compares_a_feature_value(condition, expected):
    assert parse(condition).matches(VISITOR) is expected


MISSING = [
    ({"feature": "likes:topic:golf", "lt": 0.5}, False),
    ({"feature": "likes:topic:golf", "eq": 0}, False),
    ({"not": {"feature": "likes:topic:golf", "gte": 0.5}}, True),
    ({"feature": "likes:topic:golf", "exists": False}, True),
    ({"feature": "likes:topic:golf", "exists": True}, False),
]


@pytest.mark.parametrize("condition, expected", MISSING, ids=[json.dumps(c[0]) for c in MISSING])
def test_a_check_of_a_missing_feature_fails(condition, expected):
    assert parse(condition).matches(VISITOR) is expected


MIXED_TYPES = [
    ({"feature": "hour", "eq": "21"}, False),
    ({"feature": "device", "gt": 0}, False),
    ({"feature": "new", "eq": 1}, False),
    ({"feature": "new", "gte": 1}, False),
    ({"feature": "device", "contains": "desk"}, False),
]


@pytest.mark.parametrize("condition, expected", MIXED_TYPES, ids=[json.dumps(c[0]) for c in MIXED_TYPES])
def test_checks_never_mix_types(condition, expected):
    assert parse(condition).matches(VISITOR) is expected


def test_all_any_and_not_combine_conditions():
    mobile = {"feature": "device", "eq": "mobile"}
    evening = {"feature": "hour", "gte": 18}
    assert parse({"all": [evening, {"not": mobile}]}).matches(VISITOR)
    assert not parse({"all": [evening, mobile]}).matches(VISITOR)
    assert parse({"any": [mobile, evening]}).matches(VISITOR)
    assert not parse({"any": [mobile, {"not": evening}]}).matches(VISITOR)


def test_an_empty_all_always_holds_and_an_empty_any_never_does():
    assert parse({"all": []}).matches({})
    assert not parse({"any": []}).matches({})


def test_segment_membership_becomes_context_tokens_in_document_order():
    segments = Segments.from_dict({
        "night_owls": {"feature": "hour", "in": [22, 23, 0, 1]},
        "hikers": {"feature": "likes:topic:hiking", "gte": 0.5},
        "golfers": {"feature": "interests", "contains": "golf"},
    })
    assert segments.members(VISITOR) == ["hikers", "golfers"]
    assert segments.tokens(VISITOR) == ["segment:hikers", "segment:golfers"]


def test_segments_read_a_live_profile_and_the_visit():
    segments = Segments.from_dict({
        "desktop_hikers": {"all": [{"feature": "likes:topic:hiking", "gte": 0.5},
                                   {"not": {"feature": "device", "eq": "mobile"}}]},
    })
    profile = Profile()
    profile.see(["topic:hiking"], at=0)
    assert segments.tokens(ChainMap({"device": "desktop"}, profile.features(at=0))) == []
    profile.click(["topic:hiking"], at=10)
    assert segments.tokens(ChainMap({"device": "desktop"}, profile.features(at=10))) == ["segment:desktop_hikers"]
    assert segments.tokens(ChainMap({"device": "mobile"}, profile.features(at=10))) == []


def test_feature_names_are_only_ever_looked_up():
    condition = parse({"feature": "__import__('os').system('false')", "exists": True})
    assert not condition.matches(VISITOR)


def test_a_document_round_trips_through_json():
    document = {
        "hikers": {"all": [{"feature": "likes:topic:hiking", "gte": 0.5}, {"not": {"feature": "device", "eq": "mobile"}}]},
        "evening": {"any": [{"feature": "hour", "in": [18, 19, 20]}, {"feature": "interests", "contains": "night"}]},
        "known": {"feature": "device", "exists": True},
    }
    segments = Segments.from_dict(json.loads(json.dumps(document)))
    assert segments.to_dict() == document


def nested_nots(depth: int) -> dict:
    condition = {"feature": "device", "exists": True}
    for _ in range(depth):
        condition = {"not": condition}
    return condition


def test_conditions_nest_to_a_fixed_depth():
    assert parse(nested_nots(MAX_DEPTH)).matches(VISITOR)
    with pytest.raises(SegmentError, match=f"nest deeper than {MAX_DEPTH} levels"):
        parse(nested_nots(MAX_DEPTH + 1))


BAD_DOCUMENTS = [
    ([], "segments must be an object of name to condition"),
    ({"night owls": {"all": []}}, "segment names must be non-empty words"),
    ({"s": []}, "s: a condition must be a non-empty object"),
    ({"s": {}}, "s: a condition must be a non-empty object"),
    ({"s": {"every": []}}, "s: expected one of 'all', 'any', 'not' or 'feature', got ['every']"),
    ({"s": {"all": [], "any": []}}, "s: expected one of 'all', 'any', 'not' or 'feature'"),
    ({"s": {"all": {"feature": "x", "eq": 1}}}, "s.all: must be a list of conditions"),
    ({"s": {"any": [{"feature": "x", "eq": 1}, 3]}}, "s.any[1]: a condition must be a non-empty object"),
    ({"s": {"not": {"all": [{"feature": ""}]}}}, "s.not.all[0].feature: must be a non-empty string"),
    ({"s": {"feature": "x"}}, "s: give exactly one check of"),
    ({"s": {"feature": "x", "gte": 1, "lt": 2}}, "s: give exactly one check of"),
    ({"s": {"feature": "x", "like": "a%"}}, "got ['like']"),
    ({"s": {"feature": "x", "gte": "1"}}, "s.gte: must be a finite number, got '1'"),
    ({"s": {"feature": "x", "lt": math.nan}}, "s.lt: must be a finite number"),
    ({"s": {"feature": "x", "gt": True}}, "s.gt: must be a finite number"),
    ({"s": {"feature": "x", "eq": [1]}}, "s.eq: must be a string, a finite number, true or false"),
    ({"s": {"feature": "x", "eq": math.inf}}, "s.eq: must be a string, a finite number, true or false"),
    ({"s": {"feature": "x", "contains": None}}, "s.contains: must be a string, a finite number"),
    ({"s": {"feature": "x", "in": []}}, "s.in: must be a non-empty list of values"),
    ({"s": {"feature": "x", "in": ["a", {"b": 1}]}}, "s.in[1]: must be a string, a finite number"),
    ({"s": {"feature": "x", "exists": "yes"}}, "s.exists: must be true or false"),
]


@pytest.mark.parametrize("document, problem", BAD_DOCUMENTS, ids=[b[1] for b in BAD_DOCUMENTS])
def test_bad_documents_are_refused_naming_the_bad_part(document, problem):
    before = copy.deepcopy(document)
    with pytest.raises(SegmentError) as error:
        Segments.from_dict(document)
    assert problem in str(error.value)
    assert document == before
