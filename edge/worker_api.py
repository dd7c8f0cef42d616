"""The engine as the browser's worker sees it: JSON text in, JSON text out.

Passing text keeps the JavaScript side free of Python objects and makes every
message easy to log. One engine lives per worker. Times (`at`) are seconds, as
`Date.now() / 1000` gives them. Messages, by `type`:

- `decide` `{slot, candidates, at, context?, size?}` -> a decision
- `decide_page` `{slots: [{slot, candidates, size?}], at, context?}` -> `{decisions}`
- `track` `{event}` -> `{learned: true}`; a click or view event carries its `at`
- `preferences` `{interests}` -> `{interests}`: the visitor's declared interests
- `configure` `{settings}` -> `{configured: true}`: the site's rules, segments and wording
- `state` -> the engine's whole state, for IndexedDB
- `delta` -> the update to post to the sync server
- `merge_global` `{model}` -> `{merged: version}`; the model may carry the site's `settings`
- `counters` -> `{counters}`: impressions and clicks per slot, variant and arm

>>> import json
>>> boot(None, None)
'{"restored": false, "warning": null}'
>>> reply = json.loads(handle(json.dumps({"type": "decide", "slot": "hero",
...     "candidates": [{"id": "a", "features": ["topic:news"]}], "context": {}, "at": 1.7e9})))
>>> reply["ranking"], reply["arm"]
(['a'], 'personalized')
>>> json.loads(handle('{"type": "fly"}'))
{'error': "unknown message type 'fly'"}
"""

from __future__ import annotations

import json
from typing import Any, Callable

from edge.engine import Config, Personalizer

_engine = Personalizer()


def boot(state_json: str | None, global_model_json: str | None, config_json: str | None = None) -> str:
    """Restore the visitor's saved state, or start from the global model (and its `settings`).

    `config_json` holds the site's engine settings, e.g. `{"policy": "greedy"}`, for a
    visitor without saved state; saved state keeps the settings it was made with.
    """
    global _engine
    warning = None
    if state_json:
        try:
            _engine = Personalizer.from_dict(json.loads(state_json))
            return json.dumps({"restored": True, "warning": None})
        except (ValueError, KeyError, TypeError) as error:
            warning = f"discarded unreadable saved state: {error}"
    _engine = Personalizer(Config.from_dict(json.loads(config_json)) if config_json else None)
    if global_model_json:
        _engine.merge_global(json.loads(global_model_json))
    return json.dumps({"restored": False, "warning": warning})


def _decide(message: dict) -> dict:
    decision = _engine.decide(
        message["slot"], message["candidates"], message.get("context"), at=message["at"], size=message.get("size")
    )
    return decision.to_dict()


def _decide_page(message: dict) -> dict:
    decisions = _engine.decide_page(message["slots"], message.get("context"), at=message["at"])
    return {"decisions": [d.to_dict() for d in decisions]}


def _track(message: dict) -> dict:
    _engine.learn(message["event"])
    return {"learned": True}


def _preferences(message: dict) -> dict:
    _engine.declare(message["interests"])
    return {"interests": _engine.profile.interests}


def _configure(message: dict) -> dict:
    _engine.configure(message["settings"])
    return {"configured": True}


def _merge_global(message: dict) -> dict:
    _engine.merge_global(message["model"])
    return {"merged": _engine.global_version}


HANDLERS: dict[str, Callable[[dict], Any]] = {
    "decide": _decide,
    "decide_page": _decide_page,
    "track": _track,
    "preferences": _preferences,
    "configure": _configure,
    "state": lambda message: _engine.to_dict(),
    "delta": lambda message: _engine.delta(),
    "merge_global": _merge_global,
    "counters": lambda message: {"counters": _engine.counters()},
}


def handle(message_json: str) -> str:
    """Answer one message from the page; bad input answers `{"error": ...}` and changes nothing."""
    message = json.loads(message_json)
    kind = message.get("type") if isinstance(message, dict) else None
    try:
        if kind not in HANDLERS:
            raise ValueError(f"unknown message type {kind!r}")
        reply = HANDLERS[kind](message)
    except KeyError as error:
        reply = {"error": f"{kind} message is missing {error}"}
    except ValueError as error:
        reply = {"error": str(error)}
    return json.dumps(reply)
