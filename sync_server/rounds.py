"""Federated rounds: how a site's rounds run, and closing one into a new global model.

Round r collects the updates devices send while version r - 1 is the newest model and
publishes version r. Each update is a device's gradient and curvature of the log loss at
the global weights (`edge.federated`); the server clips each to L2 norm C, sums them
(m · aggregate, the aggregate a mean or a trimmed mean), adds Gaussian noise N(0, σ²C²) to
every coordinate of both sums (the Gaussian mechanism on a sum of sensitivity C, as in
DP-FedAvg, McMahan et al. 2018) and takes one Bayesian step of the diagonal posterior on
them (`posterior.step`), with the server's step size η. Only then is η applied, so η never
changes the privacy the noise buys.

`closing` computes all that from plain values, with no store and no clock, and says what to
publish; `close_round` reads them from the store under the round's lock and publishes it:

>>> config = RoundConfig(min_devices=1, target_devices=2, learning_rate=1.0, clip_norm=100.0,
...                      noise_multiplier=0.0, epsilon_budget=None)
>>> state = RoundState("shop", buckets=2, version=0, config=config, closed=[], pending=2, opened_at=0.0)
>>> sent = [Delta(0.0, [0], [1.0], curvature=[10.0]),              # curvatures are sent times 10
...         Delta(0.0, [0, 1], [1.0, -1.0], curvature=[10.0, 10.0])]
>>> counted = [[Counter("hero", "v1", "personalized", 3, 1)], []]
>>> done = closing(state, np.zeros(3), np.full(3, 2.0), sent, counted, now=60.0, rng=np.random.default_rng(0))
>>> done.version, done.round["reason"], done.round["devices"]
(1, 'target_devices', 2)
>>> done.weights.round(3).tolist(), done.precisions.tolist()   # G / (2 + H) without noise
([0.0, 0.5, -0.333], [2.0, 4.0, 3.0])
>>> done.counters
{('hero', 'v1', 'personalized'): [3.0, 1.0, None]}
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from edge.federated import CURVATURE_SCALE
from sync_server import aggregation, analytics, posterior
from sync_server.aggregation import Delta
from sync_server.analytics import Key
from sync_server.records import Counter, RoundConfig, RoundState

if TYPE_CHECKING:
    from sync_server.storage import Store


def make_aggregator(config: RoundConfig) -> aggregation.Aggregator:
    return aggregation.TrimmedMean(config.trim) if config.aggregator == "trimmed_mean" else aggregation.Mean()


@dataclasses.dataclass(frozen=True)
class Closing:
    """What closing a round publishes: its row in `rounds`, the new model dense (the
    intercept's weight and precision first), the noisy analytics totals, and the oldest
    version (with its round's updates and tokens) to keep."""

    round: dict  # version, closed_at, reason, devices, σ, C, η, aggregator, ε (None if infinite), δ
    weights: np.ndarray
    precisions: np.ndarray
    noise: tuple[float, float]  # the standard deviations of the noise on the gradients' and the curvatures' sums
    counters: dict[Key, list[float]]
    keep_from: int

    @property
    def version(self) -> int:
        return self.round["version"]

    def model(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The intercept, and the buckets of the nonzero weights with those weights: as a model is stored."""
        nonzero = np.flatnonzero(self.weights[1:])
        return float(self.weights[0]), nonzero, self.weights[1:][nonzero]

    def stated_precisions(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The intercept's precision, and the buckets whose precision is not the prior's with those precisions."""
        stated = np.flatnonzero(self.precisions[1:] != posterior.PRIOR_PRECISION)
        return float(self.precisions[0]), stated, self.precisions[1:][stated]


def closing(state: RoundState, weights: np.ndarray, precisions: np.ndarray, deltas: Sequence[Delta],
            counters: Sequence[Sequence[Counter]], now: float, rng: np.random.Generator) -> Closing:
    """Close the open round of `state` at `now`: the devices' `deltas` and `counters` clipped,
    summed and noised (with draws from `rng`, the gradients', the curvatures', then the
    counters'), and the posterior (`weights`, `precisions`: dense, the intercept's first)
    stepped on them. A ValueError if the round is not due or would pass the privacy budget."""
    config, round_, reason = state.config, state.version + 1, state.due(now)
    spent = state.epsilon_if_closed(now)
    if reason is None or (config.epsilon_budget is not None and spent > config.epsilon_budget):
        raise ValueError(f"round {round_} of {state.site} cannot close: "
                         + ("it is not due" if reason is None else f"ε would reach {spent:.3g}, over the budget"))
    clipped = aggregation.clip(deltas, config.clip_norm)
    aggregator, noise_std = make_aggregator(config), config.noise_multiplier * config.clip_norm
    sums = []  # the gradients' and the curvatures' noisy sums, the intercept's first
    for parts in (clipped, [d.curvatures() for d in clipped]):
        intercept_mean, mean = aggregator.aggregate(parts, state.buckets)
        total = len(deltas) * np.concatenate([[intercept_mean], mean])
        sums.append(total + rng.normal(0.0, noise_std, total.size) if noise_std > 0 else total)
    gradient, curvature = sums[0], sums[1] / CURVATURE_SCALE  # devices send the curvature scaled up
    noise = (noise_std, noise_std / CURVATURE_SCALE)
    new_weights, new_precisions = posterior.step(weights, precisions, gradient, curvature, noise, config.learning_rate)
    return Closing(
        round={"version": round_, "closed_at": now, "reason": reason, "devices": len(deltas),
               "noise_multiplier": config.noise_multiplier, "clip_norm": config.clip_norm,
               "learning_rate": config.learning_rate, "aggregator": config.aggregator,
               "epsilon": spent if math.isfinite(spent) else None, "delta": config.delta},
        weights=new_weights,
        precisions=new_precisions,
        noise=noise,
        counters=analytics.add_noise(analytics.sum_counters(counters), config.counter_noise, rng),
        # A replayed update is recognised by the update_ids of the rounds it could still join.
        keep_from=round_ + 1 - max(config.versions_kept, config.max_staleness + 1),
    )


def close_round(store: Store, site: str, rng: np.random.Generator) -> RoundState | None:
    """Close the open round of `site` if it is due, publishing the next version; the state
    after it, or None if it was not due. It runs under the database's write lock and reads the
    round there, so with several server processes each round closes exactly once."""
    with store.db.transaction(store.round_lock(site)):
        state, now = store.round_state(site), time.time()
        if state.due(now) is None or not state.accepting:
            return None
        deltas, counters = store.round_updates(site, state.version + 1)
        done = closing(state, *dense_model(store, site, state), deltas, counters, now, rng)
        store.publish_round(site, done.round, *done.model(), done.counters, done.stated_precisions())
        store.prune(site, before=done.keep_from)
    return store.round_state(site)


def dense_model(store: Store, site: str, state: RoundState) -> tuple[np.ndarray, np.ndarray]:
    """The newest version's weights and precisions as dense arrays, the intercept's first."""
    intercept, idx, val = store.model_arrays(site, state.version)
    weights = np.zeros(state.buckets + 1)
    weights[0], weights[np.asarray(idx, np.int64) + 1] = intercept, val
    return weights, dense_precisions(store, site, state.version, state.buckets)


def dense_precisions(store: Store, site: str, version: int, buckets: int) -> np.ndarray:
    """The precisions of `version` as a dense array, the intercept's first; the prior's where none is stated."""
    intercept_precision, idx, val = store.model_precisions(site, version)
    precisions = np.full(buckets + 1, posterior.PRIOR_PRECISION)
    precisions[0] = posterior.PRIOR_PRECISION if intercept_precision is None else intercept_precision
    precisions[np.asarray(idx, np.int64) + 1] = val
    return precisions
