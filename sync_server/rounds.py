"""Federated rounds: how a site's rounds run, and closing one into a new global model.

Round r collects the deltas devices send while version r - 1 is the newest model and
publishes version r (DP-FedAvg, McMahan et al. 2018):

    w_r = w_(r-1) + η · (aggregate(clip(deltas, C)) + N(0, σ²C²/m²))

The noise is added before the server learning rate η scales the step, so η never
changes the privacy the noise buys (with η = 1 this is exactly w + mean + noise).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np

from sync_server import aggregation, analytics
from sync_server.records import RoundConfig, RoundState

if TYPE_CHECKING:
    from sync_server.storage import Store


def make_aggregator(config: RoundConfig) -> aggregation.Aggregator:
    return aggregation.TrimmedMean(config.trim) if config.aggregator == "trimmed_mean" else aggregation.Mean()


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
        intercept_step, step = make_aggregator(config).aggregate(
            aggregation.clip(deltas, config.clip_norm), state.buckets)
        if config.noise_multiplier > 0:
            noise_intercept, noise = aggregation.gaussian_noise(
                rng, config.noise_multiplier * config.clip_norm / m, state.buckets)
            intercept_step, step = intercept_step + noise_intercept, step + noise
        intercept, idx, val = store.model_arrays(site, state.version)
        weights = config.learning_rate * step
        weights[idx] += val
        nonzero = np.flatnonzero(weights)
        spent = state.epsilon_if_closed(now)
        totals = analytics.add_noise(analytics.sum_counters(counters), config.counter_noise, rng)
        store.publish_round(
            site,
            {"version": round_, "closed_at": now, "reason": reason, "devices": m,
             "noise_multiplier": config.noise_multiplier, "clip_norm": config.clip_norm,
             "learning_rate": config.learning_rate, "aggregator": config.aggregator,
             "epsilon": spent if math.isfinite(spent) else None, "delta": config.delta},
            intercept + config.learning_rate * intercept_step,
            nonzero,
            weights[nonzero],
            totals,
        )
        # A replayed update is recognised by the update_ids of the rounds it could still join.
        store.prune(site, before=round_ + 1 - max(config.versions_kept, config.max_staleness + 1))
    return store.round_state(site)

