"""The engine as the browser's worker sees it: JSON text in, JSON text out.

Passing text keeps the JavaScript side free of Python objects and makes every
message easy to log. One engine lives per worker. Times (`at`) are seconds, as
`Date.now() / 1000` gives them. Messages, by `type`:

- `decide` `{slot, candidates, at, context?, size?, keep?, objective?}` -> a decision; `keep` is
  the order the page painted, shown unless a fresh decision is clearly better (`Personalizer.decide`)
- `decide_page` `{slots: [{slot, candidates, size?, keep?, objective?}], at, context?, shown?}` ->
  `{decisions}`, no item in two slots nor in `shown`, what the page view's other slots show
- `track` `{event}` -> `{learned: true, decisions}`; a click, view or convert event carries its `at`
- `outcomes` `{outcomes}` -> `{learned, dropped, next, decisions}`: the page's queue of clicks and
  conversions (see `_outcomes`)
- `preferences` `{interests?, variety?}` -> `{interests, variety}`: the visitor's declared
  interests, which steer the next decision at once (`Personalizer.declare`), and whether
  they want more variety (`Personalizer.declare_variety`)
- `profile` -> `{profile, variety}`: what the engine knows of the visitor (interests, decayed
  views and clicks), for the server's profile store, and their wish for variety
- `restore_profile` `{profile}` -> `{interests}`: take a profile synced from another device
  (`Personalizer.restore_profile`)
- `configure` `{settings}` -> `{configured: true}`: the site's rules, segments and wording
- `state` -> the engine's whole state, for IndexedDB
- `delta` -> the update to post to the sync server
- `update` `{clip_norm?, counted?}` -> `{update, counted}`: the delta clipped to the server's
  `clip_norm` too, with the counters gained since `counted` (what earlier updates carried)
- `begin_federation` -> `{counted}`: the visitor granted `improve`; what was learned before
  stays on the device (see `_begin_federation`)
- `merge_global` `{model}` -> `{merged: version}`; the model may carry the site's `settings`
  (the worker passes the compact form's bytes to `merge_model` instead)
- `counters` -> `{counters}`: impressions and clicks per slot, variant and arm

`CHANGES` says what each message may change besides answering (the engine's state, the
visitor's profile, what the model learned), for the worker to save, sync and send.

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
import re
from collections.abc import Callable
from typing import Any

from edge import federated, model_form
from edge.config import Config
from edge.early_table import early_table as make_early_table
from edge.engine import Personalizer

VISITOR_ID = re.compile(r"[0-9a-f-]{16,36}")  # as the engine draws them (16 hex digits) or a page does (a UUID)
_engine = Personalizer()


def boot(
    state_json: str | None, global_model: str | bytes | memoryview | None, config_json: str | None = None,
    visitor: str | None = None,
) -> str:
    """Restore the visitor's saved state, or start from the global model (and its `settings`).

    The model comes as the server sends it: the compact form's bytes (what the worker
    fetches) or JSON text. `config_json` holds the site's engine settings, e.g.
    `{"policy": "greedy"}`, for a visitor without saved state; saved state keeps the
    settings it was made with. The features hash into as many buckets as the site's model
    has (its `hash_bits`): saved state made for another size is discarded, since its
    weights would mean other features. `visitor` is the pseudonymous id the page drew for a
    visitor without saved state: the page's early ranker put them in their holdout group by it.
    """
    global _engine
    if visitor is not None and not (isinstance(visitor, str) and VISITOR_ID.fullmatch(visitor)):
        raise ValueError(f"a visitor id is 16 to 36 hexadecimal digits and dashes, got {visitor!r}")
    model = read_model(global_model) if global_model else None
    warning = None
    if state_json:
        try:
            engine = Personalizer.from_dict(json.loads(state_json))
        except (ValueError, KeyError, TypeError) as error:
            warning = f"discarded unreadable saved state: {error}"
        else:
            bits = model.get("hash_bits", engine.config.hash_bits) if model else engine.config.hash_bits
            if bits == engine.config.hash_bits:
                _engine = engine
                return json.dumps({"restored": True, "warning": None})
            warning = (f"discarded saved state: its features hash into 2^{engine.config.hash_bits} buckets, "
                       f"the site's model into 2^{bits}")
    config = json.loads(config_json) if config_json else {}
    if model and "hash_bits" in model:
        config["hash_bits"] = model["hash_bits"]
    _engine = Personalizer(Config.from_dict(config), visitor=visitor)
    if model:
        _engine.merge_global(model)
    return json.dumps({"restored": False, "warning": warning})


def read_model(body: str | bytes | memoryview) -> dict:
    """A served global model as a dict: JSON text, or the compact form's bytes (`edge.model_form`)."""
    return json.loads(body) if isinstance(body, str) else model_form.decode(bytes(body))


def early_table(at: float) -> bytes:
    """The engine's table for the page's early ranker (`edge.early_table`), as of `at`."""
    return make_early_table(_engine, at)


def merge_model(body: bytes | memoryview) -> str:
    """Take a newer global model in the compact form: `{"merged": version}`, or `{"error"}`
    naming the problem, which changes nothing."""
    try:
        return json.dumps(_merge_global({"model": model_form.decode(bytes(body))}))
    except ValueError as error:
        return json.dumps({"error": str(error)})


def _decide(message: dict) -> dict:
    decision = _engine.decide(
        message["slot"], message["candidates"], message.get("context"), at=message["at"], size=message.get("size"),
        keep=message.get("keep"), objective=message.get("objective"),
    )
    return decision.to_dict()


def _decide_page(message: dict) -> dict:
    decisions = _engine.decide_page(message["slots"], message.get("context"), at=message["at"], shown=message.get("shown"))
    return {"decisions": [d.to_dict() for d in decisions]}


def _track(message: dict) -> dict:
    return {"learned": True, "decisions": _engine.learn(message["event"])}


def _outcomes(message: dict) -> dict:
    """Learn the page's queue: clicks, each `{id, slot, variant, at, decision?, shown?}`, and
    conversions, each `{id, type: "convert", goal, value?, at}`, in the order they happened.

    A click's `decision` is the one it was made on; `shown` (`{candidates, size?, ranking,
    context?, objective?}`) is what the slot showed. A click with no open decision (made on
    an order painted before the engine decided, or on a decision the page left before it
    was saved) is learned against that view's decision, made now from `shown`, keeping its
    ranking. An id learned before is not learned again. Answers the ids `learned`, those
    `dropped` with why (`{id, reason}`), `next`, `{slot: ranking}` for the next view of
    each slot clicked to paint (`Personalizer.redraw`), and `decisions`, `{id: [decision]}`,
    the decisions each conversion rewarded.
    """
    learned, dropped, next_views, decisions = [], [], {}, {}
    for outcome in message["outcomes"]:
        try:
            if not isinstance(outcome, dict):
                raise TypeError(f"an outcome must be an object, got {outcome!r}")
            if outcome.get("type") == "convert":
                decisions[outcome["id"]] = _engine.learn(outcome)
            elif not _engine.has_learned(outcome["id"]):
                next_views.update(_learn_click(outcome))
        except (KeyError, TypeError, ValueError) as error:
            dropped.append({"id": outcome.get("id") if isinstance(outcome, dict) else None, "reason": str(error)})
        else:
            learned.append(outcome["id"])
    return {"learned": learned, "dropped": dropped, "next": next_views, "decisions": decisions}


def _learn_click(click: dict) -> dict[str, list[str]]:
    """Learn a queued click; what its slot's next view paints."""
    decision = click.get("decision")
    if decision not in _engine.open_decisions and "shown" in click:
        shown = click["shown"]
        decision = _engine.decide(click["slot"], shown["candidates"], shown.get("context"), at=click["at"],
                                  size=shown.get("size"), keep=shown["ranking"], objective=shown.get("objective")).id
    _engine.learn({"type": "click", "decision": decision, "variant": click["variant"], "at": click["at"], "id": click["id"]})
    return _engine.redraw(decision)


def _preferences(message: dict) -> dict:
    """Each preference the message carries; one that is malformed changes nothing.

    >>> _ = boot(None, None)
    >>> json.loads(handle('{"type": "preferences", "variety": true}'))
    {'interests': [], 'variety': True}
    >>> json.loads(handle('{"type": "preferences", "interests": ["topic:x"], "variety": "yes"}'))
    {'error': "variety must be true or false, got 'yes'"}
    >>> json.loads(handle('{"type": "profile"}'))["profile"]["interests"]
    []
    """
    variety = message.get("variety", _engine.variety)
    if not isinstance(variety, bool):
        raise ValueError(f"variety must be true or false, got {variety!r}")
    if "interests" in message:
        _engine.declare(message["interests"])
    _engine.declare_variety(variety)
    return {"interests": _engine.profile.interests, "variety": _engine.variety}


def _restore_profile(message: dict) -> dict:
    _engine.restore_profile(message["profile"])
    return {"interests": _engine.profile.interests}


def _update(message: dict) -> dict:
    """The next update for the server (its counters the gains since `counted`, what earlier
    updates carried; see `federated.counter_gains`), and the counters it accounts for."""
    update = _engine.delta()
    if "clip_norm" in message:
        update["delta"] = federated.clip(update["delta"], message["clip_norm"])
    gains, counted = federated.counter_gains(_engine.counters(), message.get("counted", []))
    return {"update": {**update, "counters": gains}, "counted": counted}


def _begin_federation(message: dict) -> dict:
    """Learning from before a consent is not sent under it: the next delta is measured from
    the model as it is now, and the counters so far count as sent (`counted`, which the
    worker keeps for the next `update`), so the first update carries only what comes after.

    >>> _ = boot(None, '{"version": 1, "intercept": 0.0, "weights": []}')
    >>> d = json.loads(handle(json.dumps({"type": "decide", "slot": "s", "at": 0,
    ...     "candidates": [{"id": "a", "features": ["topic:x"]}]})))
    >>> _ = handle(json.dumps({"type": "track", "event": {"type": "click", "decision": d["id"], "variant": "a", "at": 1}}))
    >>> json.loads(handle('{"type": "begin_federation"}'))["counted"][0]["clicks"]
    1
    >>> json.loads(handle('{"type": "update", "counted": []}'))
    {'error': 'nothing learned since global model version 1'}
    """
    _engine.begin_federation()
    return {"counted": _engine.counters()}


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
    "outcomes": _outcomes,
    "preferences": _preferences,
    "profile": lambda message: {"profile": _engine.profile.to_dict(), "variety": _engine.variety},
    "restore_profile": _restore_profile,
    "configure": _configure,
    "state": lambda message: _engine.to_dict(),
    "delta": lambda message: _engine.delta(),
    "update": _update,
    "merge_global": _merge_global,
    "begin_federation": _begin_federation,
    "counters": lambda message: {"counters": _engine.counters()},
}

# What a message may change besides answering, so that the worker keeps no list of its own: it
# saves the engine's `state`, syncs the visitor's `profile` (with `sync`), and sends what the
# model `learned` once an update is due (with `improve`). A decision learns too: it closes the
# slot's last one, whose variants were passed over. A message not named changes nothing.
CHANGES: dict[str, tuple[str, ...]] = {
    "decide": ("state", "learned"),
    "decide_page": ("state", "learned"),
    "configure": ("state",),
    "merge_global": ("state",),
    "begin_federation": ("state",),
    "preferences": ("state", "profile"),
    "restore_profile": ("state", "profile"),
    "track": ("state", "profile", "learned"),
    "outcomes": ("state", "profile", "learned"),
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
