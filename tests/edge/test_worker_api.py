"""The JSON boundary the browser worker talks through."""

from __future__ import annotations

import json

import pytest

from edge import model_form, worker_api
from edge.engine import INTEREST_WEIGHT
from edge.features import Hasher

PICKS = [{"id": "a", "features": ["topic:x"]}, {"id": "b", "features": ["topic:y"]}]
GLOBAL = {"site": "shop", "version": 2, "intercept": 0.0, "weights": [[Hasher(18)("topic:y"), 5.0]]}
NOW = 1_800_000_000.0


def ask(message: dict) -> dict:
    return json.loads(worker_api.handle(json.dumps(message)))


def test_saved_state_is_restored():
    worker_api.boot(None, json.dumps(GLOBAL))
    decision = ask({"type": "decide", "slot": "s", "candidates": PICKS, "context": {}, "at": NOW})
    assert set(decision) >= {"id", "slot", "ranking", "scores", "reasons", "why", "arm"}
    click = {"type": "click", "decision": decision["id"], "variant": "b", "at": NOW}
    assert ask({"type": "track", "event": click}) == {"learned": True, "decisions": [decision["id"]]}
    saved = json.dumps(ask({"type": "state"}))
    assert json.loads(worker_api.boot(saved, None)) == {"restored": True, "warning": None}
    assert json.dumps(ask({"type": "state"})) == saved


def test_unreadable_state_is_discarded_with_a_warning():
    booted = json.loads(worker_api.boot(json.dumps({"schema": 99}), None))
    assert booted["restored"] is False
    assert "schema 99" in booted["warning"]
    assert ask({"type": "state"})["decisions_made"] == 0


def test_a_fresh_visitor_starts_from_the_global_model():
    assert json.loads(worker_api.boot(None, json.dumps(GLOBAL))) == {"restored": False, "warning": None}
    assert ask({"type": "state"})["global"]["version"] == 2
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS, "size": 1, "at": NOW})["ranking"] == ["b"]


def test_the_engine_hashes_into_as_many_buckets_as_the_sites_model():
    small = {**GLOBAL, "hash_bits": 12, "weights": [[Hasher(12)("topic:y"), 5.0]]}
    worker_api.boot(None, json.dumps(small))
    assert ask({"type": "state"})["config"]["hash_bits"] == 12
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS, "size": 1, "at": NOW})["ranking"] == ["b"]
    saved = json.dumps(ask({"type": "state"}))
    assert json.loads(worker_api.boot(saved, json.dumps(small)))["restored"] is True
    booted = json.loads(worker_api.boot(saved, json.dumps({**GLOBAL, "hash_bits": 18})))  # the site was rebuilt
    assert booted["restored"] is False and "2^12 buckets, the site's model into 2^18" in booted["warning"]
    assert ask({"type": "state"})["config"]["hash_bits"] == 18


def test_the_site_chooses_the_policy_of_a_new_visitor():
    worker_api.boot(None, None, json.dumps({"policy": "lin-ucb", "alpha": 2.0}))
    assert ask({"type": "state"})["policy"]["alpha"] == 2.0
    saved = json.dumps(ask({"type": "state"}))
    worker_api.boot(saved, None, json.dumps({"policy": "greedy"}))
    assert ask({"type": "state"})["policy"]["name"] == "lin-ucb"  # saved state keeps its own


def test_a_page_is_decided_in_one_message():
    worker_api.boot(None, None)
    reply = ask({"type": "decide_page", "context": {"device": "mobile"}, "at": NOW,
                 "slots": [{"slot": "hero", "candidates": PICKS, "size": 1}, {"slot": "row", "candidates": PICKS}]})
    hero, row = reply["decisions"]
    assert len(hero["ranking"]) == 1 and row["ranking"] == [v for v in ("a", "b") if v not in hero["ranking"]]


def test_the_device_sends_a_delta_and_merges_the_next_global_model():
    worker_api.boot(None, json.dumps({**GLOBAL, "settings": {"rules": {"holdout": 1.0}}}))
    decision = ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})
    assert decision["arm"] == "holdout" and decision["ranking"] == ["a", "b"]
    ask({"type": "track", "event": {"type": "click", "decision": decision["id"], "variant": "a", "at": NOW}})
    update = ask({"type": "delta"})
    assert update["base_version"] == 2 and update["samples"] == 1
    assert ask({"type": "counters"}) == {"counters": [
        {"slot": "s", "variant": "a", "arm": "holdout", "impressions": 1, "clicks": 1},
        {"slot": "s", "variant": "b", "arm": "holdout", "impressions": 1, "clicks": 0},
    ]}
    assert ask({"type": "merge_global", "model": {**GLOBAL, "version": 3}}) == {"merged": 3}
    assert ask({"type": "delta"}) == {"error": "nothing learned since global model version 3"}


def test_bad_messages_get_an_error_reply_and_change_nothing():
    worker_api.boot(None, None)
    before = ask({"type": "state"})
    assert ask({"type": "decide", "slot": "s", "at": NOW}) == {"error": "decide message is missing 'candidates'"}
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS}) == {"error": "decide message is missing 'at'"}
    assert "must be a list of words" in ask({"type": "preferences", "interests": "hiking"})["error"]
    assert "must be a share from 0 to 1" in ask({"type": "configure", "settings": {"rules": {"holdout": 2}}})["error"]
    assert "unknown event type" in ask({"type": "track", "event": {"type": "scroll"}})["error"]
    assert "version must be a whole number" in ask({"type": "merge_global", "model": {**GLOBAL, "version": "3"}})["error"]
    assert ask({"type": "merge_global"}) == {"error": "merge_global message is missing 'model'"}
    assert json.loads(worker_api.handle("[1, 2]")) == {"error": "unknown message type None"}
    assert ask({"type": "state"}) == before


def test_the_visitor_declares_interests_and_views_pages_that_shape_the_next_decision():
    worker_api.boot(None, None, json.dumps({"policy": "greedy"}))
    assert ask({"type": "preferences", "interests": ["hiking"]}) == {"interests": ["hiking"], "variety": False}
    viewed = {"type": "view", "features": ["topic:y"], "at": NOW}
    assert ask({"type": "track", "event": viewed}) == {"learned": True, "decisions": []}
    profile = ask({"type": "state"})["profile"]
    assert profile["interests"] == ["hiking"] and "topic:y" in profile["session"]["entries"]


def test_the_site_configures_rules_and_wording_in_one_message():
    worker_api.boot(None, json.dumps(GLOBAL))
    assert ask({"type": "configure", "settings": {"rules": {"slots": {"s": {"pin": {"a": 1}}}}}}) == {"configured": True}
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})["ranking"] == ["a", "b"]
    assert ask({"type": "configure", "settings": {"rules": {"kill_switch": True}}}) == {"configured": True}
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})["arm"] == "off"


def test_a_declared_interest_steers_the_next_decision_and_never_goes_into_a_delta():
    leaning_to_y = {**GLOBAL, "weights": [[Hasher(18)("topic:y"), 0.5]]}
    worker_api.boot(None, json.dumps(leaning_to_y), json.dumps({"policy": "greedy"}))
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})["ranking"] == ["b", "a"]  # the global model
    ask({"type": "preferences", "interests": ["topic:x"]})
    decision = ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})
    assert decision["ranking"] == ["a", "b"]
    assert decision["why"]["a"][0] == "You told us you like x"
    ask({"type": "track", "event": {"type": "click", "decision": decision["id"], "variant": "a", "at": NOW}})
    interest = Hasher(18)("interest:topic:x & topic:x")
    change = ask({"type": "delta"})["delta"]
    assert interest not in change["idx"] or abs(change["val"][change["idx"].index(interest)]) < INTEREST_WEIGHT / 2

    ask({"type": "preferences", "interests": []})
    weights = dict(ask({"type": "state"})["model"]["weights"])
    assert abs(weights.get(interest, 0.0)) < INTEREST_WEIGHT / 2  # what the click taught stays


def test_a_profile_from_another_device_replaces_this_one_and_its_interests_steer():
    worker_api.boot(None, None, json.dumps({"policy": "greedy"}))
    ask({"type": "preferences", "interests": ["topic:y"]})
    ask({"type": "track", "event": {"type": "view", "features": ["topic:y"], "at": NOW}})
    synced = ask({"type": "profile"})["profile"]
    assert synced["interests"] == ["topic:y"] and "topic:y" in synced["taste"]["entries"]

    worker_api.boot(None, None, json.dumps({"policy": "greedy"}))
    assert ask({"type": "restore_profile", "profile": synced}) == {"interests": ["topic:y"]}
    assert ask({"type": "profile"})["profile"] == synced
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})["ranking"] == ["b", "a"]
    assert "schema" in ask({"type": "restore_profile", "profile": {"schema": 7}})["error"]
    assert ask({"type": "profile"})["profile"] == synced


def test_an_update_carries_the_counters_gained_since_the_last_one_and_the_servers_clip():
    worker_api.boot(None, json.dumps(GLOBAL))
    ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})
    shown = ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})  # closes the first: two negatives
    sent = ask({"type": "update", "clip_norm": 1e-3})
    update = sent["update"]
    assert update["base_version"] == 2 and update["samples"] == 2
    assert worker_api.federated.norm(update["delta"]) <= 1e-3 * (1 + 1e-9)
    assert [(c["variant"], c["impressions"], c["clicks"]) for c in update["counters"]] == [("a", 2, 0), ("b", 2, 0)]

    # A click on an impression an earlier update counted waits until its row gains an impression.
    clicked = shown["ranking"][0]
    ask({"type": "track", "event": {"type": "click", "decision": shown["id"], "variant": clicked, "at": NOW}})
    held = ask({"type": "update", "counted": sent["counted"]})
    assert held["update"]["counters"] == [] and held["counted"] == sent["counted"]
    ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})
    later = ask({"type": "update", "counted": held["counted"]})["update"]["counters"]
    assert sorted((c["variant"] == clicked, c["impressions"], c["clicks"]) for c in later) == [(False, 1, 0), (True, 1, 1)]
    assert ask({"type": "update", "counted": [{"slot": "s"}]}) == {
        "error": "counted rows need slot, variant and arm, got {'slot': 's'}"}


def click_on(slot: str, variant: str, at: float) -> None:
    decision = ask({"type": "decide", "slot": slot, "candidates": PICKS, "at": at})
    ask({"type": "track", "event": {"type": "click", "decision": decision["id"], "variant": variant, "at": at}})


def test_learning_from_before_improve_was_granted_is_never_sent_under_it():
    worker_api.boot(None, json.dumps(GLOBAL))
    for t in range(5):
        click_on("before", "a", NOW + t)  # learned while the visitor had not granted `improve`
    counted = ask({"type": "begin_federation"})["counted"]
    assert {row["slot"] for row in counted} == {"before"}
    assert "error" in ask({"type": "update", "counted": counted})  # nothing learned since the grant

    click_on("after", "b", NOW + 10)
    update = ask({"type": "update", "counted": counted})["update"]
    assert {row["slot"] for row in update["counters"]} == {"after"}  # counts from before stay here
    assert 1 <= update["samples"] <= 2  # the click on b (and a, passed over, once its decision closes)
    # The evidence is gathered from the grant on: the intercept's curvature Σ p(1 − p) holds the
    # one example since (about 0.07 here); with the examples from before the grant it is about 2.
    assert update["delta"]["idx"] and update["delta"]["intercept_curvature"] < 0.5


def test_queued_clicks_are_learned_once_on_their_decision_or_on_what_the_page_showed():
    worker_api.boot(None, None, json.dumps({"policy": "greedy"}))
    decided = ask({"type": "decide", "slot": "picks", "candidates": PICKS, "at": NOW})
    shown = {"candidates": PICKS, "ranking": ["b", "a"], "context": {"device": "mobile"}}
    queue = [
        {"id": "c1", "slot": "picks", "variant": "b", "at": NOW, "decision": decided["id"], "shown": shown},
        {"id": "c2", "slot": "more", "variant": "a", "at": NOW, "shown": shown},  # clicked before the engine decided
        {"id": "c3", "slot": "picks", "variant": "b", "at": NOW, "decision": "picks#999"},
        {"id": "c4", "slot": "more", "variant": "z", "at": NOW, "shown": shown},
        {"id": "c5", "slot": "top", "variant": "a", "at": NOW, "decision": "top#998", "shown": shown},  # its decision was lost
    ]
    reply = ask({"type": "outcomes", "outcomes": queue})
    assert reply["learned"] == ["c1", "c2", "c5"]
    assert [(d["id"], d["reason"]) for d in reply["dropped"]] == [
        ("c3", "no open decision 'picks#999' to learn from"), ("c4", "variant 'z' was not shown in decision 'more#3'")]
    # Learning shows on each slot's next view.
    assert reply["next"] == {"picks": ["b", "a"], "more": ["a", "b"], "top": ["a", "b"]}
    state = ask({"type": "state"})
    assert state["decisions_made"] == 4
    assert [d["clicked"] for d in state["open_decisions"].values()] == [["b"], [], ["a"]]  # more#2 closed by more#3
    assert ask({"type": "outcomes", "outcomes": queue[:2]})["learned"] == ["c1", "c2"]  # sent again: learned once
    assert ask({"type": "state"}) == state


def compact(model: dict) -> bytes:
    """`model` in the compact form the worker downloads."""
    idx, val = zip(*model["weights"])
    return model_form.encode({k: v for k, v in model.items() if k != "weights"}, idx, val)


def test_the_compact_form_boots_and_merges_as_the_json_form_does():
    small = {**GLOBAL, "hash_bits": 12, "weights": [[Hasher(12)("topic:y"), 5.0]],
             "settings": {"rules": {"holdout": 0.2}}}
    worker_api.boot(None, memoryview(compact(small)))  # what Pyodide hands over for a Uint8Array
    learned = ("config", "model", "settings", "global", "start")
    from_bytes = {key: ask({"type": "state"})[key] for key in learned}
    worker_api.boot(None, json.dumps(small))
    assert from_bytes == {key: ask({"type": "state"})[key] for key in learned}
    newer = {**small, "version": 3, "weights": [[Hasher(12)("topic:x"), 5.0]]}
    assert json.loads(worker_api.merge_model(memoryview(compact(newer)))) == {"merged": 3}
    assert ask({"type": "decide", "slot": "t", "candidates": PICKS, "size": 1, "at": NOW})["ranking"] == ["a"]


def test_a_bad_compact_model_is_refused_and_changes_nothing():
    worker_api.boot(None, json.dumps(GLOBAL))
    before = ask({"type": "state"})
    assert json.loads(worker_api.merge_model(b'{"version": 3}\n')) == {
        "error": 'compact model: the header needs "weights": {"layout": "dense" or "sparse", "count": n}'}
    older = compact({**GLOBAL, "hash_bits": 18, "version": 1})
    assert "older than version 2" in json.loads(worker_api.merge_model(older))["error"]
    assert ask({"type": "state"}) == before


def test_a_queued_conversion_rewards_the_click_that_led_to_it_once():
    worker_api.boot(None, None, json.dumps({"policy": "greedy"}))
    shown = {"candidates": PICKS, "ranking": ["a", "b"], "objective": "convert:order"}
    queue = [
        {"id": "c1", "slot": "picks", "variant": "b", "at": NOW, "shown": shown},  # the page left before the engine decided
        {"id": "o1", "type": "convert", "goal": "order", "value": 25, "at": NOW + 300},
        {"id": "o2", "type": "convert", "goal": "", "at": NOW + 300},
        "not an outcome",
    ]
    reply = ask({"type": "outcomes", "outcomes": queue})
    assert reply["learned"] == ["c1", "o1"] and reply["decisions"] == {"o1": ["picks#1"]}
    assert [d["id"] for d in reply["dropped"]] == ["o2", None]
    assert ask({"type": "outcomes", "outcomes": queue[:2]})["decisions"] == {"o1": []}  # sent again: learned once


def test_a_late_slot_joins_the_page_without_repeating_what_it_shows():
    worker_api.boot(None, None, json.dumps({"policy": "greedy"}))
    page = ask({"type": "decide_page", "at": NOW, "slots": [{"slot": "hero", "candidates": PICKS, "size": 1}]})
    late = ask({"type": "decide_page", "at": NOW, "shown": page["decisions"][0]["ranking"],
                "slots": [{"slot": "late", "candidates": PICKS, "objective": "value:order"}]})
    assert late["decisions"][0]["ranking"] == ["b"]


def test_a_new_visitor_takes_the_pages_id_and_a_known_one_keeps_theirs():
    page_id = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"  # crypto.randomUUID()
    worker_api.boot(None, json.dumps(GLOBAL), None, page_id)
    assert ask({"type": "state"})["visitor"] == page_id
    saved = json.dumps(ask({"type": "state"}))
    worker_api.boot(saved, None, None, "0" * 16)
    assert ask({"type": "state"})["visitor"] == page_id
    with pytest.raises(ValueError, match="16 to 36 hexadecimal digits"):
        worker_api.boot(None, None, None, "not an id")
    assert ask({"type": "state"})["visitor"] == page_id  # refused: nothing changed


def test_the_early_table_is_the_engines_model_in_the_compact_form():
    worker_api.boot(None, json.dumps(GLOBAL))
    decision = ask({"type": "decide", "slot": "s", "candidates": PICKS, "context": {}, "at": NOW})
    ask({"type": "track", "event": {"type": "click", "decision": decision["id"], "variant": "a", "at": NOW}})
    table = model_form.decode(worker_api.early_table(NOW))
    state = ask({"type": "state"})
    assert table["intercept"] == state["model"]["intercept"] and table["version"] == 2
    assert table["policy"] == "lin-ucb" and table["group"] == "personalized"
    assert "likes:topic:x" in table["tokens"]  # the click taught the visitor's profile
    weights = dict(state["model"]["weights"])
    assert {b for b, _ in table["weights"]} == {b for b, w in weights.items() if w}
    assert all(abs(w - weights[b]) <= abs(weights[b]) / 1024 for b, w in table["weights"])  # float16


def test_each_message_changes_what_changes_names_and_nothing_else():
    """The worker saves, syncs and sends by `CHANGES` alone, so it must be true of every message."""
    messages = {
        "decide": {"slot": "s", "candidates": PICKS, "at": NOW},
        "decide_page": {"slots": [{"slot": "s", "candidates": PICKS}], "at": NOW},
        "track": {"event": {"type": "click", "decision": "s#2", "variant": "a", "at": NOW}},
        "outcomes": {"outcomes": [{"id": "c1", "slot": "s", "variant": "a", "at": NOW, "decision": "s#2"}]},
        "preferences": {"interests": ["topic:x"]},
        "profile": {},
        "restore_profile": {"profile": None},  # another device's: filled in below
        "configure": {"settings": {"rules": {"holdout": 0.5}}},
        "state": {},
        "delta": {},
        "update": {},
        "merge_global": {"model": {**GLOBAL, "version": 3}},
        "begin_federation": {},
        "counters": {},
    }
    assert set(messages) == set(worker_api.HANDLERS) and set(worker_api.CHANGES) <= set(worker_api.HANDLERS)
    worker_api.boot(None, None)
    ask({"type": "preferences", "interests": ["topic:y"]})
    messages["restore_profile"]["profile"] = ask({"type": "profile"})["profile"]

    def seen() -> tuple[dict, dict]:
        return ask({"type": "state"}), ask({"type": "profile"})

    for kind, message in messages.items():
        worker_api.boot(None, json.dumps(GLOBAL))
        for _ in range(2):  # s#2 closes s#1: something learned, and a decision open
            ask({"type": "decide", "slot": "s", "candidates": PICKS, "at": NOW})
        state, profile = seen()
        assert "error" not in ask({"type": kind, **message}), kind
        state_after, profile_after = seen()
        moved = {"state": state_after != state, "profile": profile_after != profile,
                 "learned": state_after["samples"] > state["samples"]}
        assert tuple(part for part, changed in moved.items() if changed) == worker_api.CHANGES.get(kind, ()), kind
