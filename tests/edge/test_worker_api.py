"""The JSON boundary the browser worker talks through."""

from __future__ import annotations

import json

from edge import worker_api

PICKS = [{"id": "a", "features": ["topic:x"]}, {"id": "b", "features": ["topic:y"]}]


def ask(message: dict) -> dict:
    return json.loads(worker_api.handle(json.dumps(message)))


def test_saved_state_is_restored():
    worker_api.boot(None, None)
    decision = ask({"type": "decide", "slot": "s", "candidates": PICKS, "context": {}})
    assert ask({"type": "track", "event": {"type": "click", "decision": decision["id"], "variant": "b"}}) == {"learned": True}
    saved = json.dumps(ask({"type": "state"}))
    assert json.loads(worker_api.boot(saved, None)) == {"restored": True, "warning": None}
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS})["ranking"] == ["b", "a"]


def test_unreadable_state_is_discarded_with_a_warning():
    booted = json.loads(worker_api.boot(json.dumps({"schema": 99}), None))
    assert booted["restored"] is False
    assert "schema 99" in booted["warning"]
    assert ask({"type": "decide", "slot": "s", "candidates": PICKS})["ranking"] == ["a", "b"]


def test_a_fresh_visitor_starts_from_the_global_model():
    model = {"version": 2, "intercept": 0.0, "weights": []}
    assert json.loads(worker_api.boot(None, json.dumps(model))) == {"restored": False, "warning": None}
    assert ask({"type": "state"})["global_version"] == 2


def test_bad_messages_get_an_error_reply():
    worker_api.boot(None, None)
    assert ask({"type": "decide", "slot": "s"}) == {"error": "decide message is missing 'candidates'"}
    assert "unknown event type" in ask({"type": "track", "event": {"type": "scroll"}})["error"]
