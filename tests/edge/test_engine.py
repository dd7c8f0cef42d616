"""The personalizer ranks, learns from clicks at once, explains, and keeps its state."""

from __future__ import annotations

import json

import pytest

from edge import Config, Personalizer
from edge.features import Hasher

PICKS = [
    {"id": "tent", "features": ["topic:camping", "price:high"]},
    {"id": "helmet", "features": ["topic:cycling", "price:mid"]},
    {"id": "bottle", "features": "topic:hiking price:low"},
]
EVENING_MOBILE = {"device": "mobile", "hour": 20, "weekday": 6, "referrer": "search", "page": "home"}


def click(engine: Personalizer, variant: str, context=EVENING_MOBILE) -> None:
    decision = engine.decide("picks", PICKS, context)
    engine.learn({"type": "click", "decision": decision.id, "variant": variant})


def test_a_fresh_engine_keeps_the_page_order():
    assert Personalizer().decide("picks", PICKS, EVENING_MOBILE).ranking == ["tent", "helmet", "bottle"]


def test_clicks_move_a_variant_to_the_top_at_once():
    engine = Personalizer()
    click(engine, "bottle")
    assert engine.decide("picks", PICKS, EVENING_MOBILE).ranking[0] == "bottle"


def test_what_is_learned_in_one_context_does_not_swamp_another():
    engine = Personalizer()
    for _ in range(20):
        click(engine, "bottle", {"device": "mobile"})
        click(engine, "helmet", {"device": "desktop"})
    assert engine.decide("picks", PICKS, {"device": "mobile"}).ranking[0] == "bottle"
    assert engine.decide("picks", PICKS, {"device": "desktop"}).ranking[0] == "helmet"


def test_unclicked_variants_become_negatives_when_the_slot_is_decided_again():
    engine = Personalizer()
    click(engine, "bottle")
    scores = engine.decide("picks", PICKS, EVENING_MOBILE).scores
    assert scores["bottle"] > 0.5 > scores["tent"]


def test_decisions_give_the_features_that_raised_a_score():
    engine = Personalizer()
    for _ in range(3):
        click(engine, "bottle")
    reasons = engine.decide("picks", PICKS, EVENING_MOBILE).reasons
    assert reasons["tent"] == []
    assert len(reasons["bottle"]) == Config().reasons_per_variant
    assert all("hiking" in r or "low" in r or "bottle" in r for r in reasons["bottle"])


def test_state_round_trips_through_json_exactly():
    engine = Personalizer()
    for variant in ("bottle", "tent", "bottle"):
        click(engine, variant)
    state = json.loads(json.dumps(engine.to_dict()))
    restored = Personalizer.from_dict(state)
    assert restored.to_dict() == engine.to_dict()
    assert restored.decide("picks", PICKS, EVENING_MOBILE) == engine.decide("picks", PICKS, EVENING_MOBILE)


def test_state_from_another_schema_is_refused_clearly():
    state = Personalizer().to_dict()
    state["schema"] = 99
    with pytest.raises(ValueError, match="schema 99"):
        Personalizer.from_dict(state)


def test_old_decisions_are_closed_so_state_stays_bounded():
    engine = Personalizer(Config(max_open_decisions=4))
    for i in range(10):
        engine.decide(f"slot{i}", PICKS, {})
    assert len(engine.open_decisions) == 4


def test_the_global_model_is_where_a_new_visitor_starts():
    hashed = Hasher(18)
    weights = [[hashed("topic:cycling"), 2.0]]
    engine = Personalizer()
    engine.adopt_global({"version": 3, "intercept": -1.0, "weights": weights})
    assert engine.global_version == 3
    assert engine.decide("picks", PICKS, {}).ranking[0] == "helmet"


BAD_DECISIONS = [
    ("", PICKS, {}, "slot must be a non-empty string"),
    ("picks", [], {}, "non-empty list of candidates"),
    ("picks", [{"features": ["a"]}], {}, "non-empty string 'id'"),
    ("picks", [{"id": "a"}], {}, "needs 'features' as a list of strings"),
    ("picks", [{"id": "a", "features": [3]}], {}, "needs 'features' as a list of strings"),
    ("picks", [PICKS[0], PICKS[0]], {}, "two candidates with id 'tent'"),
    ("picks", PICKS, {"colour": "red"}, "unknown context keys ['colour']"),
    ("picks", PICKS, {"hour": float("nan")}, "'hour' must be a number"),
    ("picks", PICKS, {"hour": 24}, "whole number from 0 to 23"),
    ("picks", PICKS, {"device": "big screen"}, "non-empty word"),
]


@pytest.mark.parametrize("slot, candidates, context, problem", BAD_DECISIONS, ids=[b[3] for b in BAD_DECISIONS])
def test_bad_decision_input_is_refused_and_changes_nothing(slot, candidates, context, problem):
    engine = Personalizer()
    click(engine, "bottle")
    before = engine.to_dict()
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        engine.decide(slot, candidates, context)
    assert engine.to_dict() == before


@pytest.mark.parametrize("event, problem", [
    ({"type": "hover"}, "unknown event type 'hover'"),
    ({"type": "click", "decision": "picks#99", "variant": "tent"}, "no open decision 'picks#99'"),
    ({"type": "click", "decision": "picks#1", "variant": "kayak"}, "'kayak' was not shown"),
])
def test_bad_events_are_refused_and_change_nothing(event, problem):
    engine = Personalizer()
    engine.decide("picks", PICKS, {})
    before = engine.to_dict()
    with pytest.raises(ValueError, match=problem):
        engine.learn(event)
    assert engine.to_dict() == before
