"""Federated rounds: how a site's rounds run, and closing one into a new global model.

Round r collects the deltas devices send while version r - 1 is the newest model and
publishes version r (DP-FedAvg, McMahan et al. 2018):

    w_r = w_(r-1) + η · (aggregate(clip(deltas, C)) + N(0, σ²C²/m²))

The noise is added before the server learning rate η scales the step, so η never
changes the privacy the noise buys (with η = 1 this is exactly w + mean + noise).

>>> config = RoundConfig(min_devices=2, target_devices=5, round_seconds=60.0)
>>> config.due(pending=5, opened_at=0.0, now=1.0), config.due(pending=2, opened_at=0.0, now=61.0)
('target_devices', 'deadline')
>>> print(config.due(pending=1, opened_at=0.0, now=61.0))
None
>>> RoundConfig(clip_norm="1")
Traceback (most recent call last):
...
ValueError: clip_norm must be float, got '1'
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING

import numpy as np

from sync_server import aggregation, analytics
from sync_server.privacy import epsilon

if TYPE_CHECKING:
    from sync_server.storage import Store

AGGREGATORS = ("mean", "trimmed_mean")
FIELD_TYPES = {"float": (int, float), "int": int, "str": str, "float | None": (int, float, type(None))}


@dataclasses.dataclass(frozen=True)
class RoundConfig:
    """How one site's rounds run; stored per site, and these defaults suit a small site."""

    learning_rate: float = 1.0  # η, the server's step on the aggregated delta
    min_devices: int = 10  # a round never closes with fewer devices (noise σC/m needs m)
    target_devices: int = 100  # a round closes as soon as this many devices took part…
    round_seconds: float = 3600.0  # …or this long after its first update, given min_devices
    max_staleness: int = 2  # deltas trained on a model up to this many versions old count
    clip_norm: float = 1.0  # C: the server clips every delta to this L2 norm
    noise_multiplier: float = 1.0  # σ: noise of std σC on the sum of clipped deltas
    aggregator: str = "mean"  # or "trimmed_mean", robust to a few Byzantine devices
    trim: float = 0.1  # share of values the trimmed mean drops at each end
    delta: float = 1e-6  # δ of the reported (ε, δ)
    epsilon_budget: float | None = None  # training stops before ε would pass it
    participation_rate: float = 1.0  # devices send in a round with this probability
    counter_noise: float = 0.0  # std of the noise on every published analytics total
    versions_kept: int = 3  # model versions kept, with the updates of their rounds; older ones are pruned

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, FIELD_TYPES[field.type]):
                raise ValueError(f"{field.name} must be {field.type}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{field.name} must be a finite number, got {value!r}")
        checks = {
            "learning_rate": self.learning_rate > 0,
            "min_devices": self.min_devices >= 1,
            "target_devices": self.target_devices >= self.min_devices,
            "round_seconds": self.round_seconds > 0,
            "max_staleness": self.max_staleness >= 0,
            "clip_norm": self.clip_norm > 0,
            "noise_multiplier": self.noise_multiplier >= 0,
            "aggregator": self.aggregator in AGGREGATORS,
            "trim": 0 <= self.trim < 0.5,
            "delta": 0 < self.delta < 1,
            "epsilon_budget": self.epsilon_budget is None or self.epsilon_budget > 0,
            "participation_rate": 0 < self.participation_rate <= 1,
            "counter_noise": self.counter_noise >= 0,
            "versions_kept": self.versions_kept >= 1,
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f"{field} cannot be {getattr(self, field)!r}")

    def make_aggregator(self) -> aggregation.Aggregator:
        return aggregation.TrimmedMean(self.trim) if self.aggregator == "trimmed_mean" else aggregation.Mean()

    def due(self, pending: int, opened_at: float | None, now: float) -> str | None:
        """Why a round with `pending` updates, the first at `opened_at`, should close now, or None."""
        if pending >= self.target_devices:
            return "target_devices"
        if pending >= self.min_devices and now >= opened_at + self.round_seconds:
            return "deadline"
        return None

    def for_devices(self) -> dict:
        """What a device needs to take part: how to clip, how often to join, when rounds run."""
        return {"clip_norm": self.clip_norm, "participation_rate": self.participation_rate,
                "round_seconds": self.round_seconds, "max_staleness": self.max_staleness}


@dataclasses.dataclass
class RoundState:
    """Where a site's rounds stand: the newest version, the open round, the privacy spent."""

    site: str
    buckets: int
    version: int
    config: RoundConfig
    noise_multipliers: list[float]  # one per closed round, for the accountant
    pending: int = 0  # updates in the open round
    opened_at: float | None = None  # when the open round got its first update
    epsilon: float = dataclasses.field(init=False)  # spent by the closed rounds
    accepting: bool = dataclasses.field(init=False)  # False once the next round would pass the budget

    def __post_init__(self) -> None:
        self.epsilon = epsilon(self.noise_multipliers, self.config.delta)
        budget = self.config.epsilon_budget
        self.accepting = budget is None or epsilon(
            [*self.noise_multipliers, self.config.noise_multiplier], self.config.delta) <= budget

    def due(self, now: float) -> str | None:
        return self.config.due(self.pending, self.opened_at, now)


def close_round(store: Store, site: str, rng: np.random.Generator) -> RoundState | None:
    """Close the open round of `site` if it is due, publishing the next version; the state
    after it, or None if it was not due. It runs under the database's write lock and reads the
    round there, so with several server processes each round closes exactly once."""
    with store.writing():
        state = store.round_state(site)
        reason = state.due(time.time())
        if reason is None or not state.accepting:
            return None
        config, round_ = state.config, state.version + 1
        deltas, counters = store.round_updates(site, round_)
        m = len(deltas)
        intercept_step, step = config.make_aggregator().aggregate(
            aggregation.clip(deltas, config.clip_norm), state.buckets)
        if config.noise_multiplier > 0:
            noise_intercept, noise = aggregation.gaussian_noise(
                rng, config.noise_multiplier * config.clip_norm / m, state.buckets)
            intercept_step, step = intercept_step + noise_intercept, step + noise
        intercept, idx, val = store.model_arrays(site, state.version)
        weights = config.learning_rate * step
        weights[idx] += val
        nonzero = np.flatnonzero(weights)
        spent = epsilon([*state.noise_multipliers, config.noise_multiplier], config.delta)
        totals = analytics.add_noise(analytics.sum_counters(counters), config.counter_noise, rng)
        store.publish_round(
            site,
            {"version": round_, "closed_at": time.time(), "reason": reason, "devices": m,
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

