"""Slots that optimize conversions or value: clicks wait for the conversion they lead to,
within the attribution window, and are learned as a bounded reward."""

from __future__ import annotations

import json
import pickle

import pytest

from edge import Config, Personalizer
from edge.objectives import ATTRIBUTION_SECONDS, AWAITING_CLICKS

ROW = [{"id": "bait", "features": ["topic:gossip"]}, {"id": "deal", "features": ["topic:camping"]}]
NOW = 1_800_000_000.0
GREEDY = Config(policy="greedy", seed=1)


def clicked(engine: Personalizer, variant: str, objective: str, at: float = NOW, slot: str = "row") -> str:
    decision = engine.decide(slot, ROW, at=at, objective=objective)
    engine.learn({"type": "click", "decision": decision.id, "variant": variant, "at": at})
    return decision.id


def score(engine: Personalizer, variant: str, objective: str) -> float:
    return engine.decide("probe", ROW, at=NOW, objective=objective).scores[variant]


def test_a_click_in_a_conversion_slot_is_rewarded_only_when_the_goal_follows():
    engine = Personalizer(GREEDY)
    samples = engine.samples
    decision = clicked(engine, "deal", "convert:order")
    assert engine.samples == samples and len(engine.awaiting) == 1  # the click alone teaches the model nothing
    assert engine.learn({"type": "convert", "goal": "signup", "at": NOW + 60}) == []  # another goal
    assert engine.learn({"type": "convert", "goal": "order", "value": 80, "at": NOW + 600}) == [decision]
    assert engine.awaiting == [] and engine.samples == samples + 1
    assert engine.learn({"type": "convert", "goal": "order", "at": NOW + 700}) == []  # credited once
    deal = next(c for c in engine.counters() if c["variant"] == "deal")
    assert (deal["impressions"], deal["clicks"], deal["conversions"]) == (1, 1, 1)  # for the dashboard's uplift


def test_conversion_slots_learn_what_converts_where_click_slots_learn_what_is_clicked():
    by_clicks, by_orders = Personalizer(GREEDY), Personalizer(GREEDY)
    for i in range(30):
        at = NOW + i * 3600.0
        for engine, objective in ((by_clicks, "click"), (by_orders, "convert:order")):
            clicked(engine, "bait", objective, at)  # clicked a lot, never bought
            if i % 3 == 0:
                clicked(engine, "deal", objective, at + 1)
                engine.learn({"type": "convert", "goal": "order", "at": at + 60})
    assert by_clicks.decide("row", ROW, at=NOW + 40 * 3600).ranking[0] == "bait"
    assert by_orders.decide("row", ROW, at=NOW + 40 * 3600, objective="convert:order").ranking[0] == "deal"


def test_a_click_no_conversion_follows_within_the_window_is_learned_as_no_reward():
    engine = Personalizer(GREEDY)
    clicked(engine, "deal", "convert:order")
    samples = engine.samples
    engine.decide("hero", ROW, at=NOW + ATTRIBUTION_SECONDS - 1)
    assert len(engine.awaiting) == 1
    engine.decide("footer", ROW, at=NOW + ATTRIBUTION_SECONDS + 1)
    assert engine.awaiting == [] and engine.samples == samples + 1
    assert engine.learn({"type": "convert", "goal": "order", "at": NOW + ATTRIBUTION_SECONDS + 2}) == []


def test_clicks_awaiting_a_conversion_are_bounded():
    engine = Personalizer(GREEDY)
    for i in range(AWAITING_CLICKS + 5):
        clicked(engine, "deal", "convert:order", NOW + i, slot=f"row{i % 40}")
    assert len(engine.awaiting) == AWAITING_CLICKS


def test_value_is_a_bounded_reward():
    cheap, dear = Personalizer(GREEDY), Personalizer(GREEDY)
    for i in range(40):
        at = NOW + i * 60.0
        for engine, value in ((cheap, 1.0), (dear, 1e9)):
            clicked(engine, "deal", "value:order", at)
            engine.learn({"type": "convert", "goal": "order", "value": value, "at": at + 1})
    assert score(dear, "deal", "value:order") > score(cheap, "deal", "value:order")
    assert max(abs(w) for w in dear.model.weights.values()) < 5  # a huge order is a reward of 1, no more


def test_awaiting_clicks_survive_the_engines_state():
    engine = Personalizer(GREEDY)
    decision = clicked(engine, "deal", "convert:order")
    restored = Personalizer.from_dict(json.loads(json.dumps(engine.to_dict())))
    assert restored.learn({"type": "convert", "goal": "order", "at": NOW + 5, "id": "o-1"}) == [decision]
    assert restored.has_learned("o-1")


@pytest.mark.parametrize("event, problem", [
    ({"type": "convert", "at": NOW}, "needs a 'goal' word"),
    ({"type": "convert", "goal": "an order", "at": NOW}, "needs a 'goal' word"),
    ({"type": "convert", "goal": "order", "value": -3, "at": NOW}, "value must be a finite number >= 0"),
    ({"type": "convert", "goal": "order", "value": "12", "at": NOW}, "value must be a finite number >= 0"),
    ({"type": "convert", "goal": "order"}, "time 'at' must be a finite number"),
    ({"type": "convert", "goal": "order", "at": NOW, "id": 7}, "id must be a string"),
])
def test_bad_conversions_are_refused_and_change_nothing(event, problem):
    engine = Personalizer(GREEDY)
    clicked(engine, "deal", "convert:order")
    before = pickle.dumps({k: v for k, v in vars(engine).items() if not k.startswith("_")})
    with pytest.raises(ValueError, match=problem):
        engine.learn(event)
    assert pickle.dumps({k: v for k, v in vars(engine).items() if not k.startswith("_")}) == before


@pytest.mark.parametrize("objective", ["likes", "convert:", "convert:an order", "value", 3])
def test_a_slot_with_an_unknown_objective_is_refused(objective):
    with pytest.raises(ValueError, match="objective must be 'click', 'convert:GOAL' or 'value:GOAL'"):
        Personalizer(GREEDY).decide("row", ROW, at=NOW, objective=objective)


def test_a_late_slot_does_not_repeat_what_the_page_shows():
    engine = Personalizer(GREEDY)
    page = engine.decide_page([{"slot": "hero", "candidates": ROW, "size": 1}], at=NOW)
    late = engine.decide_page([{"slot": "late", "candidates": ROW}], at=NOW + 1, shown=page[0].ranking)
    assert late[0].ranking == ["deal"]
    with pytest.raises(ValueError, match="shown must be a list"):
        engine.decide_page([{"slot": "late", "candidates": ROW}], at=NOW, shown="bait")
