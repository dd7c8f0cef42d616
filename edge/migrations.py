"""Engine state an older engine saved, brought up to this engine's schema one step a version.

`Personalizer.to_dict` writes `"schema": SCHEMA` and `Personalizer.from_dict` passes what it
reads through `upgrade`, which runs the steps from the state's schema on: `STEPS[n - 1]` takes
state as schema `n` saved it and returns it as schema `n + 1` would have (`upgrade` writes the
number). To change what the engine saves, append a step: `SCHEMA` follows. A step writes the
values of its time ("click", not today's constant for it), as the state it reads is history.

>>> state = upgrade({"schema": 6, "open_decisions": {}, "awaiting": [], "samples": 0})
>>> state["schema"], state["variety"], sorted(state["evidence"])
(8, False, ['buckets', 'intercept'])
>>> upgrade({"schema": 9})
Traceback (most recent call last):
ValueError: engine state has schema 9, newer than this engine's 8: it was saved by a newer engine
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from edge import federated
from edge.base import State, rng_state
from edge.config import Config
from edge.profile import Profile
from edge.rules import new_visitor
from edge.settings import Settings
from edge.validation import is_whole


def upgrade(state: State) -> State:
    """Bring state saved by an older engine up to this engine's schema; a ValueError for state
    with no schema, or a newer one."""
    schema = state.get("schema") if isinstance(state, dict) else None
    if not is_whole(schema) or schema < 1:
        raise ValueError(f"engine state has no valid schema, got {schema!r}")
    if schema > SCHEMA:
        raise ValueError(f"engine state has schema {schema}, newer than this engine's {SCHEMA}: it was saved by a newer engine")
    for step in STEPS[schema - 1:]:
        schema += 1
        state = {**step(state), "schema": schema}
    return state


def _from_schema_1(state: State) -> State:
    """Schema 1 kept no policy, counters or global weights.

    It recorded only the global version it started from, so the model as migrated
    stands in for that global model: learning from now on is federated, and what came
    before stays the visitor's own until a merge replaces that stand-in.

    >>> model = {"name": "LogisticRegression", "optimizer": {"name": "SGD", "lr": 0.1, "n_iterations": 2},
    ...          "l2": 0.0, "intercept": 0.5, "intercept_lr": 0.01, "clip_gradient": 1e12, "weights": [[7, 0.25]]}
    >>> shown = {"picks#1": {"slot": "picks", "shown": {"tent": [[7, 1.0], [9, 1.0]]}, "clicked": []}}
    >>> state = _from_schema_1({"schema": 1, "config": {"learning_rate": 0.1}, "model": model, "global_version": 4,
    ...                         "decisions_made": 1, "open_decisions": shown})
    >>> state["global"]
    {'version': 4, 'intercept': 0.5, 'weights': [[7, 0.25]], 'precisions': []}
    >>> state["policy"]["name"], state["open_decisions"]["picks#1"]["shown"]
    ('lin-ucb', {'tent': [[7, 9], [1.0, 1.0]]})
    """
    config = Config.from_dict(state["config"])
    model = state["model"]
    start = {"intercept": model["intercept"], "weights": model["weights"]}
    version = state["global_version"]
    return {
        "config": dataclasses.asdict(config),
        "model": model,
        "policy": config.new_policy().to_dict(),
        "rng": rng_state(random.Random(config.seed)),
        "global": None if version is None else {"version": version, **start, "precisions": []},
        "start": start,
        "samples": 0,
        "decisions_made": state["decisions_made"],
        "open_decisions": {d: _open_decision_from_schema_1(v) for d, v in state["open_decisions"].items()},
        "counters": [],
    }


def _open_decision_from_schema_1(decision: dict) -> dict:
    """Schema 1 kept a variant's features as `[bucket, value]` pairs, later two lists, and had no holdout."""
    shown = {v: [[b for b, _ in pairs], [x for _, x in pairs]] for v, pairs in decision["shown"].items()}
    return {**decision, "arm": "personalized", "shown": shown}


def _from_schema_2(state: State) -> State:
    """Schema 2 had no visitor id, profile or site settings, and its open decisions
    kept no variant's own features: a click on one still teaches the model, not the profile.

    >>> state = _from_schema_2({"open_decisions": {"picks#1": {"shown": {"tent": [[7], [1.0]]}}}})
    >>> len(state["visitor"]), state["profile"]["interests"], state["open_decisions"]["picks#1"]["features"]
    (16, [], {'tent': []})
    """
    return {
        **state,
        "visitor": new_visitor(random.Random()),
        "profile": Profile().to_dict(),
        "settings": Settings().to_dict(),
        "open_decisions": {d: {**v, "features": {variant: [] for variant in v["shown"]}}
                           for d, v in state["open_decisions"].items()},
    }


def _from_schema_3(state: State) -> State:
    """Schema 3's engines all learned with SGD, and their configs did not say so.

    >>> _from_schema_3({"config": {"policy": "greedy"}})
    {'config': {'policy': 'greedy', 'optimizer': 'sgd'}}
    """
    return {**state, "config": {**state["config"], "optimizer": "sgd"}}


def _from_schema_4(state: State) -> State:
    """Schema 4 remembered no click ids.

    >>> _from_schema_4({"samples": 2})
    {'samples': 2, 'clicks_learned': []}
    """
    return {**state, "clicks_learned": []}


def _from_schema_5(state: State) -> State:
    """Schema 5's slots all optimized clicks, so no click awaited a conversion.

    >>> _from_schema_5({"open_decisions": {"picks#1": {"slot": "picks"}}})
    {'open_decisions': {'picks#1': {'slot': 'picks', 'objective': 'click'}}, 'awaiting': []}
    """
    decisions = {d: {**v, "objective": "click"} for d, v in state["open_decisions"].items()}
    return {**state, "open_decisions": decisions, "awaiting": []}


def _from_schema_6(state: State) -> State:
    """Schema 6 had no variety preference.

    >>> _from_schema_6({"samples": 2})
    {'samples': 2, 'variety': False}
    """
    return {**state, "variety": False}


def _from_schema_7(state: State) -> State:
    """Schema 7 sent deltas of its weights, not evidence: what it learned since its last merge
    stays its own, and evidence is gathered from now on.

    >>> _from_schema_7({"samples": 2})
    {'samples': 2, 'evidence': {'intercept': [0.0, 0.0], 'buckets': []}}
    """
    return {**state, "evidence": federated.Evidence().to_dict()}


# STEPS[n - 1] brings state from schema n to n + 1.
STEPS: list[Callable[[State], State]] = [
    _from_schema_1, _from_schema_2, _from_schema_3, _from_schema_4, _from_schema_5, _from_schema_6, _from_schema_7,
]
SCHEMA = len(STEPS) + 1  # what this engine saves
