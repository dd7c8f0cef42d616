"""The engine as the browser's worker sees it: JSON text in, JSON text out.

Passing text keeps the JavaScript side free of Python objects and makes every
message easy to log. One engine lives per worker.

>>> import json
>>> boot(None, None)
'{"restored": false, "warning": null}'
>>> reply = json.loads(handle(json.dumps({"type": "decide", "slot": "hero",
...     "candidates": [{"id": "a", "features": ["topic:news"]}], "context": {}})))
>>> reply["ranking"]
['a']
>>> json.loads(handle('{"type": "fly"}'))
{'error': "unknown message type 'fly'"}
"""

from __future__ import annotations

import json

from edge.engine import Personalizer

_engine = Personalizer()


def boot(state_json: str | None, global_model_json: str | None) -> str:
    """Restore the visitor's saved state, or start from the global model."""
    global _engine
    warning = None
    if state_json:
        try:
            _engine = Personalizer.from_dict(json.loads(state_json))
            return json.dumps({"restored": True, "warning": None})
        except (ValueError, KeyError, TypeError) as error:
            warning = f"discarded unreadable saved state: {error}"
    _engine = Personalizer()
    if global_model_json:
        _engine.adopt_global(json.loads(global_model_json))
    return json.dumps({"restored": False, "warning": warning})


def handle(message_json: str) -> str:
    """Answer one message from the page; bad input answers `{"error": ...}` and changes nothing."""
    message = json.loads(message_json)
    kind = message.get("type")
    try:
        if kind == "decide":
            reply = _engine.decide(message["slot"], message["candidates"], message.get("context")).to_dict()
        elif kind == "track":
            _engine.learn(message["event"])
            reply = {"learned": True}
        elif kind == "state":
            reply = _engine.to_dict()
        else:
            raise ValueError(f"unknown message type {kind!r}")
    except KeyError as error:
        reply = {"error": f"{kind} message is missing {error}"}
    except ValueError as error:
        reply = {"error": str(error)}
    return json.dumps(reply)
