"""Federated rounds: how a site's rounds run, and closing one into a new global model.

Round r collects the updates devices send while version r - 1 is the newest model and
publishes version r. Each update is a device's gradient and curvature of the log loss at
the global weights (`edge.federated`); the server clips each to L2 norm C, sums them
(m · aggregate, the aggregate a mean or a trimmed mean), adds Gaussian noise N(0, σ²C²) to
every coordinate of both sums (the Gaussian mechanism on a sum of sensitivity C, as in
DP-FedAvg, McMahan et al. 2018) and takes one Bayesian step of the diagonal posterior on
them (`posterior.step`), with the server's step size η. Only then is η applied, so η never
changes the privacy the noise buys.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np

from edge.federated import CURVATURE_SCALE
from sync_server import aggregation, analytics, posterior
from sync_server.records import RoundConfig, RoundState

if TYPE_CHECKING:
    from sync_server.storage import Store


def make_aggregator(config: RoundConfig) -> aggregation.Aggregator:
    return aggregation.TrimmedMean(config.trim) if config.aggregator == "trimmed_mean" else aggregation.Mean()


def _posterior(store: Store, site: str, state: RoundState) -> tuple[np.ndarray, np.ndarray]:
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


def close_round(store: Store, site: str, rng: np.random.Generator) -> RoundState | None:
    """Close the open round of `site` if it is due, publishing the next version; the state
    after it, or None if it was not due. It runs under the database's write lock and reads the
    round there, so with several server processes each round closes exactly once."""
    with store.db.transaction(store.round_lock(site)):
        state = store.round_state(site)
        reason = state.due(time.time())
        now = time.time()
        if reason is None or not state.accepting:
            return None
        config, round_ = state.config, state.version + 1
        deltas, counters = store.round_updates(site, round_)
        m = len(deltas)
        clipped = aggregation.clip(deltas, config.clip_norm)
        aggregator, noise_std = make_aggregator(config), config.noise_multiplier * config.clip_norm
        sums = []  # the gradients' and the curvatures' noisy sums, the intercept's first
        for parts in (clipped, [d.curvatures() for d in clipped]):
            intercept_mean, mean = aggregator.aggregate(parts, state.buckets)
            total = m * np.concatenate([[intercept_mean], mean])
            sums.append(total + rng.normal(0.0, noise_std, total.size) if noise_std > 0 else total)
        gradient, curvature = sums[0], sums[1] / CURVATURE_SCALE  # devices send the curvature scaled up
        noise = (noise_std, noise_std / CURVATURE_SCALE)
        weights, precisions = posterior.step(*_posterior(store, site, state), gradient, curvature, noise, config.learning_rate)
        nonzero, stated = np.flatnonzero(weights[1:]), np.flatnonzero(precisions[1:] != posterior.PRIOR_PRECISION)
        spent = state.epsilon_if_closed(now)
        totals = analytics.add_noise(analytics.sum_counters(counters), config.counter_noise, rng)
        store.publish_round(
            site,
            {"version": round_, "closed_at": now, "reason": reason, "devices": m,
             "noise_multiplier": config.noise_multiplier, "clip_norm": config.clip_norm,
             "learning_rate": config.learning_rate, "aggregator": config.aggregator,
             "epsilon": spent if math.isfinite(spent) else None, "delta": config.delta},
            float(weights[0]),
            nonzero,
            weights[1:][nonzero],
            totals,
            (float(precisions[0]), stated, precisions[1:][stated]),
        )
        # A replayed update is recognised by the update_ids of the rounds it could still join.
        store.prune(site, before=round_ + 1 - max(config.versions_kept, config.max_staleness + 1))
    return store.round_state(site)

