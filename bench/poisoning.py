"""Model poisoning: how far an attacker who controls a share of a round's devices moves one weight.

The honest devices are real: bench federated_quality's shop, DEVICES `edge.Personalizer`s a
round that merge the newest model, meet their visitor on VISITS visits and send their evidence
(gradient and curvature, clipped to C on the device) with a token (`federated_quality.Run`,
recorded once). Every run below replays the same honest updates, round by round, through the
server's own `parse_update`, `Store.add_updates` and `close_round` with the shipped round config
(η = 0.1, C = 5, σ = 2.24: noise of s = σC on the gradients' sums, t = s / CURVATURE_SCALE on the
curvatures'), under the default `mean` aggregator and `trimmed_mean`.

Two targets: `often`, the bucket honest devices touch most over the rounds (their curvature
measures it, above the noise), and `rarely`, one only a device or two touch, whose honest
curvature stays under the noise floor (the server neither moves nor publishes it without an attack).
An attacker holds k = 1 %, 5 %, 10 % of the round's devices, each with a token of its own
(what the token limits make expensive), in place of as many honest ones, and every one sends an
update of norm C on the target alone, pushing its weight up:

- `gradient`: all of C on the target's gradient, no curvature;
- `best split`: C split between gradient and curvature as maximizes the round's expected push,
  knowing the honest sums on the target and its precision (an attacker who sees everything).

The shift reported is the target weight after the rounds minus that of the same run without the
attackers (the same honest updates, the same noise draws), per round: exactly the attack's effect.

The bound. `posterior.step` moves a weight of precision P by η'·(info/P')·G/H, info = H²/(H + s²),
P' = P + info, η' the round's step size (η raised for the noise, at most 1: `posterior.step_size`).
Per unit of the gradient sum G that is η'·H / (P(H + s²) + H²), largest at H = s√P, so

    shift a round  ≤  η' · kC / (P + 2s√P)        (the mean: k attackers add at most kC to G)

whatever curvature the attackers add: per attacker η'·C / (P + 2s√P), 0.014 at η' = 0.1 and the
prior's P = 2, however many honest devices the round has. It is no longer a share of C: the step
divides the sums by the evidence's curvature, not by the devices, so honest devices dilute an
attack only by measuring the weight far beyond s√P, and P grows with every measured round, so
the bound shrinks round by round. All of the norm on the gradient is the best attack where the
honest curvature H is past s√P; short of it (a bucket touched rarely, or a well-measured one
whose P has grown) attackers gain by adding curvature up to H = s√P, and on a bucket the honest
devices leave under the noise floor only curvature makes it measured at all: an unpublished
weight is moved and published. Adding curvature also lets the honest gradient and the noise on
that weight take a step they would not have taken, which can add to or cut from the attack (zero
on average, as the noise is), so there the bound holds on average, not round by round.
The trimmed mean cuts the top and bottom 10 % of each weight's values: attackers below that
share are cut away, but its sensitivity is no longer C and the DP guarantee does not hold; it
is not the default.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np

from bench import Progress, federated_quality
from edge.federated import CURVATURE_SCALE
from sync_server import posterior
from sync_server.demo.simulation import Site
from sync_server.records import RoundConfig, Update
from sync_server.rounds import close_round, dense_precisions
from sync_server.storage import Store
from sync_server.tokens import TokenKeys
from sync_server.updates import parse_update

SLOT = federated_quality.SLOT
HASH_BITS = federated_quality.HASH_BITS
DEVICES = 1_000  # per round
VISITS = 8  # per device and round
ROUNDS = 5
SHARES = (0.01, 0.05, 0.10)
AGGREGATORS = ("mean", "trimmed_mean")
ATTACKS = ("gradient", "best split")
SEEDS = (1, 2)  # the noise draws
SPLITS = 181  # angles between all gradient and all curvature the best split tries


@dataclasses.dataclass(frozen=True)
class Attack:
    """`devices` attackers, each sending norm C on `target` with `split` deciding how much is curvature."""

    target: int
    devices: int
    split: bool

    def updates(self, store: Store, honest: list[Update], version: int, keys: TokenKeys) -> tuple[list[Update], float]:
        """The attackers' updates on model `version`, and the share of their norm on the curvature."""
        config = store.round_state(SLOT).config
        c, s = config.clip_norm, config.noise_multiplier * config.clip_norm
        angle = 0.0
        if self.split:
            precision = _precisions(store, version)[self.target + 1]
            angle = _best_angle(self.devices * c, *_sums(honest, self.target), precision, s)
        delta = {"intercept": 0.0, "idx": [self.target], "val": [c * math.cos(angle)],
                 "intercept_curvature": 0.0, "curvature": [c * math.sin(angle)]}
        sent = [parse_update({"base_version": version, "samples": VISITS, "delta": delta,
                              "token": keys.mint(SLOT, version + 1)}, 1 << HASH_BITS, version, 0)
                for _ in range(self.devices)]
        return sent, math.sin(angle)


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    devices, rounds, seeds = (200, 3, SEEDS[:1]) if quick else (DEVICES, ROUNDS, SEEDS)
    honest = _honest(devices, rounds, progress)
    targets = _targets([update for updates in honest for update in updates])
    cases = [(aggregator, share, seed, target, attack) for aggregator in AGGREGATORS for share in SHARES
             for seed in seeds for target in [None, *targets] for attack in (ATTACKS if target else [None])]
    traces = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, (aggregator, share, seed, target, attack) in enumerate(progress(cases, total=len(cases), desc="runs")):
            k = round(share * devices)
            kept = [updates[: devices - k] for updates in honest]
            threat = Attack(targets[target], k, attack == "best split") if target else None
            traces[aggregator, share, seed, target, attack] = _run(Path(tmp) / f"{n}.db", aggregator, kept, seed, threat,
                                                                   targets)
    figures = {"shift": _shifts(traces, seeds)}
    figures["targets"] = {name: {"bucket": bucket, "devices_touching_per_round": [_touching(u, bucket) for u in honest],
                                 "honest_curvature_per_round": [_sums(u, bucket)[1] for u in honest]}
                          for name, bucket in targets.items()}
    shipped = RoundConfig()
    s = shipped.noise_multiplier * shipped.clip_norm
    figures["noise"] = {"gradient_sum_std": s, "curvature_sum_std": s / CURVATURE_SCALE,
                        "curvature_floor": posterior.NOISE_FLOOR * s / CURVATURE_SCALE,
                        "curvature_reaching_the_bound_at_prior": s * math.sqrt(posterior.PRIOR_PRECISION)}
    params = {"devices_per_round": devices, "rounds": rounds, "visits_per_device": VISITS, "hash_bits": HASH_BITS,
              "seeds": list(seeds), "shares": list(SHARES), "round_config": dataclasses.asdict(shipped),
              "honest": "bench federated_quality's shop devices (federated_quality.Run, private), recorded once",
              "attack": "k of the round's devices, in place of as many honest ones, each norm C on the target",
              "bound": "eta' * k * C / (P + 2 s sqrt(P)), P the target's precision before the round, s = sigma C"}
    return figures, params


def _shifts(traces: dict, seeds: tuple[int, ...]) -> dict:
    """Per attack: its target's shift beyond the run without it, a round on average over the
    rounds and seeds, against the bound (on average, and the largest share of it one round took)."""
    rows = {}
    for aggregator, share, seed, target, attack in traces:
        if target is None or seed != seeds[0]:
            continue
        runs = [(traces[aggregator, share, s, target, attack], traces[aggregator, share, s, None, None]) for s in seeds]
        moves = [np.diff([0.0, *np.subtract(att["weights"][target], base["weights"][target])]) for att, base in runs]
        bounds = [np.asarray(att["bounds"]) for att, _ in runs]
        rows[f"{aggregator}, {share:.0%}, {target}, {attack}"] = {
            "shift_per_round": float(np.mean(moves)),
            "bound_per_round": float(np.mean(bounds)),
            "largest_round_over_its_bound": float(max(np.max(move / bound) for move, bound in zip(moves, bounds))),
            "curvature_share_of_norm": float(np.mean([att["curvature_share"] for att, _ in runs])),
        }
    return rows


def _honest(devices: int, rounds: int, progress: Progress) -> list[list[Update]]:
    """Each round's updates of the shop's real devices, in a private run of their own."""
    shape = federated_quality.Shape(Site.default(), rounds=rounds, devices=devices, visits=VISITS)
    with tempfile.TemporaryDirectory() as tmp:
        run = federated_quality.Run("private", shape, RoundConfig(), Path(tmp) / "honest.db")
        sent = [run.round(r, shape.visitors(r), shape.candidates(r))
                for r in progress(range(rounds), total=rounds, desc="honest devices")]
    if any(len(updates) != devices for updates in sent):  # every run's rounds close at a fixed count
        raise RuntimeError(f"some honest device sent nothing: {[len(updates) for updates in sent]}")
    return sent


def _targets(updates: list[Update]) -> dict[str, int]:
    """The bucket most of `updates` touch, and the first of those fewest touch (at least one)."""
    counts = np.bincount(np.concatenate([np.asarray(u.idx) for u in updates]), minlength=1 << HASH_BITS)
    return {"often": int(np.argmax(counts)), "rarely": int(np.argmin(np.where(counts > 0, counts, len(updates) + 1)))}


def _run(db: Path, aggregator: str, honest: list[list[Update]], seed: int, attack: Attack | None,
         targets: dict[str, int]) -> dict:
    """Every round of `honest` (and `attack`) closed on a new site: the `targets`' weights after
    each round, the bound on the attack's shift in each, and the attackers' curvature share."""
    store, keys = Store(db), TokenKeys(bytes(32))
    store.create_site(SLOT, hash_bits=HASH_BITS)
    m = len(honest[0]) + (attack.devices if attack else 0)
    store.set_round_config(SLOT, RoundConfig(aggregator=aggregator, min_devices=m, target_devices=m, max_staleness=0))
    rng = np.random.default_rng(seed)
    weights, bounds, shares = [], [], []
    for version, updates in enumerate(honest):
        sent = updates
        if attack:
            poisoned, share = attack.updates(store, updates, version, keys)
            sent, shares = updates + poisoned, [*shares, share]
        store.add_updates([(SLOT, update) for update in sent])
        if close_round(store, SLOT, rng) is None:
            raise RuntimeError(f"round {version + 1} did not close")
        if attack:
            bounds.append(_bound(store, version + 1, attack))
        _, idx, val = store.model_arrays(SLOT, version + 1)
        weights.append(dict(zip(idx.tolist(), val.tolist())))
    return {"weights": {name: [w.get(bucket, 0.0) for w in weights] for name, bucket in targets.items()},
            "bounds": bounds, "curvature_share": float(np.mean(shares)) if shares else 0.0}


def _bound(store: Store, version: int, attack: Attack) -> float:
    """η'·kC / (P + 2s√P) for the round that published `version` (see the module). Its step
    size η' is read back from the precisions: each measured weight's grew by H²/(H + s²)."""
    config = store.round_state(SLOT).config
    s = config.noise_multiplier * config.clip_norm
    before, after = _precisions(store, version - 1), _precisions(store, version)
    info = after - before
    curvature = (info + np.sqrt(info * info + 4 * info * s * s)) / 2  # H from info = H²/(H + s²); 0 where unmeasured
    eta = posterior.step_size(config.learning_rate, before, curvature, (s, s / CURVATURE_SCALE))
    p = before[attack.target + 1]
    return eta * attack.devices * config.clip_norm / (p + 2 * s * math.sqrt(p))


def _precisions(store: Store, version: int) -> np.ndarray:
    return dense_precisions(store, SLOT, version, 1 << HASH_BITS)


def _sums(updates: list[Update], bucket: int) -> tuple[float, float]:
    """The gradient and (unscaled) curvature the updates carry on `bucket` (each is within C already)."""
    g = h = 0.0
    for u in updates:
        at = np.flatnonzero(np.asarray(u.idx) == bucket)
        if at.size:
            g += float(np.asarray(u.val)[at[0]])
            h += float(np.asarray(u.curvature)[at[0]]) / CURVATURE_SCALE
    return g, h


def _touching(updates: list[Update], bucket: int) -> int:
    return sum(bucket in set(np.asarray(u.idx).tolist()) for u in updates)


def _best_angle(norm: float, g: float, h: float, p: float, s: float) -> float:
    """The angle between all gradient (0) and all curvature (π/2) at which attackers of total norm
    `norm` push a weight of precision `p`, with honest sums `g` and `h`, furthest on average: the
    step η'·H·G / (P(H + s²) + H²), times the chance that H stands above the noise floor."""
    angle = np.linspace(0.0, math.pi / 2, SPLITS)
    gradient, curvature = g + norm * np.cos(angle), h + norm * np.sin(angle) / CURVATURE_SCALE
    t = s / CURVATURE_SCALE
    measured = 0.5 * (1 + np.vectorize(math.erf)((curvature - posterior.NOISE_FLOOR * t) / (t * math.sqrt(2))))
    push = measured * gradient * curvature / (p * (curvature + s * s) + curvature * curvature)
    return float(angle[np.argmax(push)])
