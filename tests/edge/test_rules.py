"""Editor rules pin, exclude and boost, hold out a stable control group, and refuse bad documents."""

from __future__ import annotations

import copy
import json
import math

import pytest

from edge.rules import RuleError, Rules, draw

PAGE = ["tent", "helmet", "bottle", "map"]
SCORES = {"tent": 0.1, "helmet": 0.5, "bottle": 0.4, "map": 0.2}
VISITORS = [f"visitor-{i}" for i in range(4000)]


def arrange(document: dict, visitor: str = "v-1", default=PAGE, scores=SCORES):
    return Rules.from_dict(document).apply("picks", default, scores, visitor)


def test_without_rules_variants_are_ranked_by_score():
    arranged = arrange({})
    assert arranged.ranking == ["helmet", "bottle", "map", "tent"]
    assert arranged.scores == SCORES
    assert arranged.group == "personalized"


def test_ties_keep_the_page_order():
    assert arrange({}, scores=dict.fromkeys(PAGE, 0.5)).ranking == PAGE


def test_excluded_variants_are_never_shown():
    assert arrange({"slots": {"picks": {"exclude": ["helmet", "kayak"]}}}).ranking == ["bottle", "map", "tent"]


def test_excluding_every_variant_leaves_the_slot_empty():
    assert arrange({"slots": {"picks": {"exclude": PAGE}}}).ranking == []


def test_pins_hold_their_position_whatever_the_scores():
    rules = {"slots": {"picks": {"pin": {"tent": 1, "map": 3}}}}
    assert arrange(rules).ranking == ["tent", "helmet", "map", "bottle"]


def test_a_pin_past_the_end_puts_the_variant_last_and_an_absent_one_is_ignored():
    rules = {"slots": {"picks": {"pin": {"tent": 9, "kayak": 1}}}}
    assert arrange(rules, scores={**SCORES, "tent": 0.9}).ranking == ["helmet", "bottle", "map", "tent"]


def test_boosts_add_to_scores_and_can_bury():
    arranged = arrange({"slots": {"picks": {"boost": {"tent": 0.35, "helmet": -1}}}})
    assert arranged.ranking == ["tent", "bottle", "map", "helmet"]
    assert arranged.scores["tent"] == 0.1 + 0.35
    assert arranged.scores["helmet"] == 0.5 - 1


def test_rules_apply_only_to_their_own_slot():
    rules = Rules.from_dict({"slots": {"hero": {"exclude": ["helmet"], "holdout": 1}}})
    assert rules.apply("picks", PAGE, SCORES, "v-1").ranking == ["helmet", "bottle", "map", "tent"]


def test_the_holdout_sees_the_default_order_with_editorial_rules_but_no_boost():
    rules = {"slots": {"picks": {"holdout": 1, "exclude": ["helmet"], "pin": {"map": 1}, "boost": {"bottle": 9}}}}
    arranged = arrange(rules)
    assert arranged.group == "holdout"
    assert arranged.ranking == ["map", "tent", "bottle"]
    assert arranged.scores == SCORES


def test_the_holdout_share_is_the_share_of_visitors_held_out():
    rules = Rules.from_dict({"slots": {"picks": {"holdout": 0.2}}})
    held_out = sum(rules.group("picks", visitor) == "holdout" for visitor in VISITORS)
    assert abs(held_out / len(VISITORS) - 0.2) < 0.02


def test_a_visitor_stays_in_the_same_group_on_every_visit():
    rules = Rules.from_dict({"holdout": 0.5})
    first = [rules.group("picks", visitor) for visitor in VISITORS[:200]]
    restored = Rules.from_dict(json.loads(json.dumps(rules.to_dict())))
    assert [restored.group("picks", visitor) for visitor in VISITORS[:200]] == first
    assert {"holdout", "personalized"} == set(first)


def test_slots_draw_their_groups_independently():
    hero_and_picks = sum(draw(v, "hero") < 0.5 and draw(v, "picks") < 0.5 for v in VISITORS)
    assert abs(hero_and_picks / len(VISITORS) - 0.25) < 0.03


def test_the_site_wide_share_holds_a_visitor_out_of_every_slot_or_none():
    rules = Rules.from_dict({"holdout": 0.05})
    groups = [{rules.group(slot, visitor) for slot in ("hero", "picks", "news")} for visitor in VISITORS]
    assert all(len(g) == 1 for g in groups)
    held_out = sum(g == {"holdout"} for g in groups)
    assert abs(held_out / len(VISITORS) - 0.05) < 0.02


def test_raising_the_share_only_moves_visitors_into_the_holdout():
    small, large = Rules.from_dict({"holdout": 0.1}), Rules.from_dict({"holdout": 0.3})
    for visitor in VISITORS:
        if small.group("picks", visitor) == "holdout":
            assert large.group("picks", visitor) == "holdout"


def test_a_slot_share_overrides_the_document_share_even_when_zero():
    rules = Rules.from_dict({"holdout": 1, "slots": {"picks": {"holdout": 0}}})
    assert rules.group("picks", "v-1") == "personalized"
    assert rules.group("hero", "v-1") == "holdout"


def test_the_kill_switch_shows_every_slot_as_authored():
    arranged = arrange({"kill_switch": True, "slots": {"picks": {"exclude": ["tent"], "pin": {"map": 1}}}})
    assert arranged.ranking == PAGE
    assert arranged.group == "off"


def test_a_document_round_trips_through_json():
    document = {
        "kill_switch": False,
        "holdout": 0.05,
        "slots": {"picks": {"pin": {"tent": 1}, "exclude": ["helmet"], "boost": {"bottle": 0.1}, "holdout": 0}},
    }
    rules = Rules.from_dict(json.loads(json.dumps(document)))
    assert rules.to_dict() == document
    assert Rules.from_dict(rules.to_dict()).to_dict() == document


BAD_DOCUMENTS = [
    ([], "rules: must be an object"),
    ({"killswitch": True}, "rules: unknown field 'killswitch'"),
    ({"kill_switch": "yes"}, "kill_switch: must be true or false"),
    ({"holdout": -0.1}, "holdout: must be a share from 0 to 1"),
    ({"holdout": True}, "holdout: must be a finite number"),
    ({"slots": []}, "slots: must be an object of slot name to rules"),
    ({"slots": {"": {}}}, "slots: ids must be non-empty strings"),
    ({"slots": {"picks": []}}, "slots.picks: must be an object"),
    ({"slots": {"picks": {"pinned": {}}}}, "slots.picks: unknown field 'pinned'"),
    ({"slots": {"picks": {"pin": ["tent"]}}}, "slots.picks.pin: must be an object of variant id to value"),
    ({"slots": {"picks": {"pin": {"tent": 0}}}}, "slots.picks.pin.tent: position must be a whole number from 1"),
    ({"slots": {"picks": {"pin": {"tent": 1.0}}}}, "slots.picks.pin.tent: position must be a whole number"),
    ({"slots": {"picks": {"pin": {"tent": 1, "map": 1}}}}, "'tent' and 'map' are both pinned to position 1"),
    ({"slots": {"picks": {"pin": {"tent": 1}, "exclude": ["tent"]}}}, "slots.picks: 'tent' is both pinned and excluded"),
    ({"slots": {"picks": {"exclude": "tent"}}}, "slots.picks.exclude: must be a list of variant ids"),
    ({"slots": {"picks": {"exclude": ["tent", 7]}}}, "slots.picks.exclude: ids must be non-empty strings"),
    ({"slots": {"picks": {"boost": {"tent": math.nan}}}}, "slots.picks.boost.tent: must be a finite number"),
    ({"slots": {"picks": {"boost": {"tent": "high"}}}}, "slots.picks.boost.tent: must be a finite number"),
    ({"slots": {"picks": {"holdout": 1.5}}}, "slots.picks.holdout: must be a share from 0 to 1"),
]


@pytest.mark.parametrize("document, problem", BAD_DOCUMENTS, ids=[b[1] for b in BAD_DOCUMENTS])
def test_bad_documents_are_refused_naming_the_field(document, problem):
    before = copy.deepcopy(document)
    with pytest.raises(RuleError) as error:
        Rules.from_dict(document)
    assert problem in str(error.value)
    assert document == before


BAD_RANKINGS = [
    (["tent", "tent"], {"tent": 0.1}, "v-1", "distinct variant ids"),
    (PAGE, {"tent": 0.1}, "v-1", "scores must name exactly the variants"),
    (PAGE, {**SCORES, "tent": math.inf}, "v-1", "score of 'tent' must be a finite number"),
    (PAGE, {**SCORES, "tent": None}, "v-1", "score of 'tent' must be a finite number"),
    (PAGE, SCORES, "", "visitor must be a non-empty string id"),
]


@pytest.mark.parametrize("default, scores, visitor, problem", BAD_RANKINGS, ids=[b[3] for b in BAD_RANKINGS])
def test_bad_rankings_are_refused_and_change_nothing(default, scores, visitor, problem):
    rules = Rules.from_dict({"slots": {"picks": {"boost": {"tent": 1}}}})
    before = (rules.to_dict(), list(default), dict(scores))
    with pytest.raises(ValueError, match=problem):
        rules.apply("picks", default, scores, visitor)
    assert (rules.to_dict(), default, scores) == before


def test_applying_rules_leaves_its_inputs_alone():
    default, scores = list(PAGE), dict(SCORES)
    arrange({"slots": {"picks": {"boost": {"tent": 1}, "pin": {"map": 1}}}}, default=default, scores=scores)
    assert (default, scores) == (PAGE, SCORES)
