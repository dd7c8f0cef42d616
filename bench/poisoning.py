"""Model poisoning: how far an attacker who controls a share of a round's devices moves one weight.

Every round has DEVICES devices. The honest ones send sparse deltas of one of two shapes
(`light`: about 30 weights with small changes, well inside the clip norm; `heavy`: 60 larger
changes, so the server clips them too); the target weight is one honest devices touch often,
with a small negative consensus. The attacker's devices (1 %, 5 %, 10 % of the round, each
with a participation token of its own, which is what the token limits make expensive) all push
the target weight up as far as they can: all of their norm on it (the server clips any delta to
C, so a larger push buys nothing).

The server's own code does the rest: `updates.parse_update` (with a minted token),
`Store.add_updates` and `rounds.close_round` with the default round config (clip norm C = 1,
noise multiplier 1, learning rate 1), under the default `mean` aggregator and `trimmed_mean`.
The shift reported is the target weight after ROUNDS rounds minus the same run without the
attack (same honest deltas, same noise draws), per round: exactly the attacker's effect.

What to expect: with the mean, m devices of which k attack, the shift per round is at most
η · C · k / m, i.e. the attacker's share times C (0.1 per round at 10 %), however large the
pushes. It is a bound, not robustness: it grows linearly with the rounds the attack lasts and
with the share of the round the attacker holds; the participation tokens are what bound that
share (README, "Privacy accounting"). The trimmed mean drops the top and bottom 10 % of every
weight's values, so an attacker below that share is cut away, but its sensitivity is no
longer C/m and the DP guarantee does not hold; it is not the default for that reason.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from bench import Progress
from sync_server.records import RoundConfig, Update
from sync_server.rounds import close_round
from sync_server.storage import Store
from sync_server.tokens import TokenKeys
from sync_server.updates import parse_update

SITE = "shop"
HASH_BITS = 12
DEVICES = 1_000  # per round
ROUNDS = 5
SHARES = (0.0, 0.01, 0.05, 0.10)
AGGREGATORS = ("mean", "trimmed_mean")
SEEDS = (1, 2)
TARGET = 7  # the attacked bucket


@dataclasses.dataclass(frozen=True)
class Shape:
    """How honest devices' deltas look."""

    name: str
    touched: int  # weights a device changes
    scale: float  # their typical change
    target_odds: float  # share of devices that touch the target weight
    target_mean: float  # the honest consensus on it


SHAPES = (Shape("light", 30, 0.05, 0.3, -0.02), Shape("heavy", 60, 0.3, 0.5, -0.05))


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    devices, rounds, seeds = (200, 3, SEEDS[:1]) if quick else (DEVICES, ROUNDS, SEEDS)
    config = RoundConfig(min_devices=devices, target_devices=devices)
    cases = [(aggregator, share, shape, seed) for aggregator in AGGREGATORS for share in SHARES
             for shape in SHAPES for seed in seeds]
    finals = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (aggregator, share, shape, seed) in enumerate(progress(cases, total=len(cases), desc="runs")):
            run_config = dataclasses.replace(config, aggregator=aggregator)
            finals[aggregator, share, shape.name, seed] = _attack(Path(tmp) / f"{n}.db", run_config, share, shape,
                                                                  seed, devices, rounds)
    figures = {}
    for aggregator in AGGREGATORS:
        for share in SHARES[1:]:
            shifts = [(finals[aggregator, share, shape.name, seed] - finals[aggregator, 0.0, shape.name, seed]) / rounds
                      for shape in SHAPES for seed in seeds]
            figures[f"{aggregator}, {share:.0%} attackers"] = {
                "shift_per_round": round(float(np.mean(shifts)), 4),
                "largest_shift_per_round": round(float(np.max(shifts)), 4),
                "bound_share_times_C": round(share * config.clip_norm * config.learning_rate, 4),
            }
    figures["noise_std_per_weight_and_round"] = round(config.noise_multiplier * config.clip_norm / devices, 5)
    params = {"devices_per_round": devices, "rounds": rounds, "hash_bits": HASH_BITS, "seeds": list(seeds),
              "shapes": [dataclasses.asdict(shape) for shape in SHAPES], "clip_norm": config.clip_norm,
              "noise_multiplier": config.noise_multiplier, "learning_rate": config.learning_rate,
              "trim": config.trim, "attack": "every attacking device puts its whole norm C on the target weight"}
    return figures, params


def _attack(db: Path, config: RoundConfig, share: float, shape: Shape, seed: int, devices: int, rounds: int) -> float:
    """The target weight after `rounds` rounds in which a `share` of the devices attack."""
    store, keys = Store(db), TokenKeys(bytes(32))
    store.create_site(SITE, hash_bits=HASH_BITS)
    store.set_round_config(SITE, config)
    honest_rng, noise_rng = np.random.default_rng(seed), np.random.default_rng(seed + 1000)
    attackers = round(share * devices)
    for version in range(rounds):
        payloads = [_honest(honest_rng, shape, version) for _ in range(devices - attackers)]
        payloads += [_poisoned(version) for _ in range(attackers)]
        updates = [_checked(payload, keys, version) for payload in payloads]
        store.add_updates([(SITE, update) for update in updates])
        if close_round(store, SITE, noise_rng) is None:
            raise RuntimeError(f"round {version + 1} did not close")
    _, idx, val = store.model_arrays(SITE, rounds)
    return float(val[np.searchsorted(idx, TARGET)]) if TARGET in idx else 0.0


def _honest(rng: np.random.Generator, shape: Shape, version: int) -> dict:
    others = rng.choice(np.arange(TARGET + 1, 1 << HASH_BITS), size=shape.touched, replace=False)
    values = rng.normal(0.0, shape.scale, size=shape.touched)
    idx, val = others.tolist(), values.tolist()
    if rng.random() < shape.target_odds:
        idx.append(TARGET)
        val.append(float(rng.normal(shape.target_mean, shape.scale)))
    return {"base_version": version, "samples": 20, "delta": {"intercept": 0.0, "idx": idx, "val": val}}


def _poisoned(version: int) -> dict:
    # Any push larger than C is clipped to C by the server: this is the most one device can do.
    return {"base_version": version, "samples": 20, "delta": {"intercept": 0.0, "idx": [TARGET], "val": [1e6]}}


def _checked(payload: dict, keys: TokenKeys, version: int) -> Update:
    return parse_update({**payload, "token": keys.mint(SITE, version + 1)}, 1 << HASH_BITS, version, 0)
