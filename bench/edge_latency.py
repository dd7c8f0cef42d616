"""How long the engine takes to decide and to learn, on CPython, against River.

A decision ranks the 20 items of the simulated shop for one visit (about 30 active features
per candidate: each item feature alone and crossed with each context token); learning is one
click. Two levels are timed in the same run:

- `engine`: `edge.Personalizer.decide` and `.learn`, everything included (features,
  hashing, scoring, the policy, reasons, bookkeeping, and learning from the slot's previous
  decision, which the engine does when the slot is decided again, before it ranks). Each
  policy shows one item; the default policy is also timed showing all 20, with River's
  `LogisticRegression` as its learner, and with a new visitor at every decision. The goal is
  a decide p99 under 200 µs for 20 candidates of some 30 features each: that is the
  `new visitors` rows. The one visitor who clicks on every decision soon has a full profile
  (session intent and lasting tastes), which adds up to 13 context tokens: their candidates
  have some 80 features (`mean_engine_features_with_profile`), the heavier case.
  A visitor who clicks every decision leaves no negative for the next decision to learn;
  `new visitors, clicks as simulated` clicks as the simulated site's visitors do (1–5 %), so
  nearly every one of its decisions first learns the previous, unclicked impression; its
  `decide+learn` row adds the click's learning to the decision it follows, when there is one.
  `10 candidates` does the same with half the shop's items: the goal is a p50 of
  decide and learn under 100 µs there.
- `model`: the learner alone, on the same hashed features: scoring 20 candidates and one
  `learn_one`, for `edge.linear_model.LogisticRegression` and
  `river.linear_model.LogisticRegression` with the same optimizer.

`river_over_edge` gives River's time over ours for the same work, at both levels.

Each call is timed twice: wall time (`latency_us`) and the CPU time of this thread
(`cpu_us`). The machines these run on are shared, and a wall-time tail mostly measures the
moments another process had the core; the CPU-time tail is what the engine itself costs
(garbage collection included, since it runs on this thread). `gc` says how often Python's
cyclic collector ran during the timed calls and how long its longest pause was.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections import defaultdict

import edge
from bench import Progress
from bench.timing import summary_us, timed
from edge import linear_model, policies
from edge.features import Hasher, candidate_tokens, context_tokens, crossed_names
from edge.profile import Profile
from sync_server.demo.simulation import Site

SLOT = "hero"
SEED = 1
GOAL_P99_US = 200.0
GOAL_TEN_P50_US = 100.0  # decide and learn, 10 candidates, a new visitor clicking as simulated
TEN = f"engine {edge.Config().policy}, 10 candidates, clicks as simulated decide+learn"
SECONDS_BETWEEN_DECISIONS = 10.0  # one visitor browsing: their profile grows and fades as they click
DEFAULT = edge.Config(seed=SEED)
HASHER = Hasher(DEFAULT.hash_bits)


def run(quick: bool, progress: Progress) -> tuple[dict, dict]:
    n = 2_000 if quick else 20_000
    warmup = n // 10
    site = Site.default()
    visits = list(progress(site.visits(n + warmup, seed=SEED), total=n + warmup, desc="visits"))
    candidates = site.candidates()

    features = [_hashed_features(v.context, candidates) for v in visits]
    # The visits are the benchmark's, not the engine's: keep the collector's full passes from
    # scanning them, as they would not in a browser tab.
    gc.freeze()
    pauses = _GcPauses()
    with pauses:
        # Round-robin over the contenders, one visit at a time, so that whatever else the machine
        # does in the meantime slows them all alike.
        engine_features = defaultdict(list)  # label -> features per candidate of its last decision
        samples = _time_engines(list(_engines()), visits, candidates, progress, engine_features)
        learners = {"edge model": _edge_learner(), "river model": _river_learner()}
        samples |= _time_learners(learners, features, [c["id"] for c in candidates], visits, progress)
    gc.unfreeze()

    latency = {row: summary_us(wall[warmup:]) for row, (wall, _) in samples.items()}
    cpu = {row: summary_us(cpu[warmup:]) for row, (_, cpu) in samples.items()}
    ours = f"engine {DEFAULT.policy}"
    pairs = {"engine": (ours, f"{ours}, River learner"), "model": ("edge model", "river model")}
    figures = {
        "latency_us": latency,
        "cpu_us": cpu,
        "river_over_edge": {
            f"{level} {step} {q}": cpu[f"{river} {step}"][q] / cpu[f"{edge_} {step}"][q]
            for level, (edge_, river) in pairs.items()
            for step in (("decide", "learn") if level == "engine" else ("rank", "learn"))
            for q in ("p50", "p99")
        },
        "decide_p99_under_goal": {
            row.removesuffix(" decide"): {"wall": latency[row]["p99"] < GOAL_P99_US, "cpu": stats["p99"] < GOAL_P99_US}
            for row, stats in cpu.items() if row.endswith(" decide")
        },
        "ten_candidates_decide_and_learn_p50_under_goal": {
            clock: table[TEN]["p50"] <= GOAL_TEN_P50_US for clock, table in (("wall", latency), ("cpu", cpu))},
        "gc": pauses.summary(),
    }
    params = {
        "decisions": n,
        "warmup": warmup,
        "candidates": len(candidates),
        "mean_active_features": sum(len(x) for xs in features for x in xs) / sum(len(xs) for xs in features),
        "mean_engine_features_with_profile": {label: sum(n) / len(n) for label, n in engine_features.items()},
        "engine_config": dataclasses.asdict(DEFAULT),
        "goal_p99_us": GOAL_P99_US,
        "goal_ten_candidates_p50_us": GOAL_TEN_P50_US,
    }
    return figures, params


def _engines():
    """(label, engine, how many items a decision shows, whether each visit is a new visitor,
    whether the visitor clicks every decision rather than as the simulation says, how many of
    the shop's candidates a decision ranks) for each engine configuration timed."""
    for policy in policies.BY_NAME:
        yield f"engine {policy}", edge.Personalizer(dataclasses.replace(DEFAULT, policy=policy)), 1, False, True, 20
    yield f"engine {DEFAULT.policy}, new visitors", edge.Personalizer(DEFAULT), 1, True, True, 20
    yield f"engine {DEFAULT.policy}, new visitors, clicks as simulated", edge.Personalizer(DEFAULT), 1, True, False, 20
    yield f"engine {DEFAULT.policy}, 10 candidates, clicks as simulated", edge.Personalizer(DEFAULT), 1, True, False, 10
    yield f"engine {DEFAULT.policy}, 20 shown", edge.Personalizer(DEFAULT), None, False, True, 20
    yield f"engine {DEFAULT.policy}, River learner", edge.Personalizer(DEFAULT, learner=_river_learner()), 1, False, True, 20


Samples = dict[str, tuple[list[int], list[int]]]  # row -> (wall ns, CPU ns) per call


def _time_engines(engines, visits, candidates, progress, features: dict[str, list[int]]) -> Samples:
    samples = {f"{label} {step}": ([], []) for label, *_, always, _ in engines
               for step in (("decide", "learn") if always else ("decide", "decide+learn"))}
    for t, visit in enumerate(progress(visits, desc="engines")):
        for label, engine, size, new_visitor, always, offered in _turn(engines, t):
            at = t * SECONDS_BETWEEN_DECISIONS
            if new_visitor:  # as in edge_quality: the context's tokens only, some 30 features per candidate
                engine.profile = Profile()
            else:  # what an engaged visitor's profile adds to the context
                features[label].append(_features_per_candidate(engine))
            decision, *ns = timed(engine.decide, SLOT, candidates[:offered], visit.context, at=at, size=size)
            _add(samples[f"{label} decide"], ns)
            click = {"type": "click", "decision": decision.id, "variant": decision.ranking[0], "at": at}
            if always:  # time a click on every decision: learning costs the same whatever the outcome
                _add(samples[f"{label} learn"], timed(engine.learn, click)[1:])
                continue
            learned = timed(engine.learn, click)[1:] if visit.click(decision.ranking[0]) else (0, 0)
            _add(samples[f"{label} decide+learn"], [a + b for a, b in zip(ns, learned)])
    return samples


def _time_learners(learners, features, ids, visits, progress) -> Samples:
    samples = {f"{label} {step}": ([], []) for label in learners for step in ("rank", "learn")}
    for t, (xs, visit) in enumerate(progress(zip(features, visits), total=len(visits), desc="learners")):
        for label, model in _turn(list(learners.items()), t):
            scores, *ns = timed(_scores, model, xs)
            _add(samples[f"{label} rank"], ns)
            best = max(range(len(xs)), key=scores.__getitem__)
            _add(samples[f"{label} learn"], timed(model.learn_one, xs[best], visit.click(ids[best]))[1:])
    return samples


def _features_per_candidate(engine: edge.Personalizer) -> int:
    """How many features a candidate of the engine's last decision had (0 before the first)."""
    if not engine.open_decisions:
        return 0
    buckets, _ = next(iter(engine.open_decisions[next(reversed(engine.open_decisions))]["shown"].values()))
    return len(buckets)


def _add(row: tuple[list[int], list[int]], ns) -> None:
    wall, cpu = ns
    row[0].append(wall)
    row[1].append(cpu)


class _GcPauses:
    """Counts the cyclic collector's runs per generation while active, and times them."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.longest_us = [0.0, 0.0, 0.0]
        self._started = 0

    def __enter__(self) -> _GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        generation = info["generation"]
        self.runs[generation] += 1
        pause = (time.perf_counter_ns() - self._started) / 1000
        self.longest_us[generation] = max(self.longest_us[generation], pause)

    def summary(self) -> dict:
        return {f"generation {g}": {"runs": self.runs[g], "longest_us": self.longest_us[g]} for g in range(3)}


def _turn(contenders: list, t: int) -> list:
    """Everyone in turn, starting with a different one each time, so none always pays for
    what the one before it left behind (a garbage collection, a cold cache)."""
    start = t % len(contenders)
    return contenders[start:] + contenders[:start]


def _scores(model, xs: list[dict]) -> list[float]:
    return [model.predict_proba_one(x)[True] for x in xs]


def _hashed_features(context: dict, candidates: list[dict]) -> list[dict]:
    tokens = context_tokens(context)
    return [{HASHER(name): 1.0 for name in crossed_names(tokens, candidate_tokens(SLOT, c))} for c in candidates]


def _edge_learner() -> linear_model.LogisticRegression:
    return DEFAULT.new_learner()


def _river_learner():
    """River's LogisticRegression with the engine's optimizer and step size."""
    from river import linear_model as river_linear_model
    from river import optim as river_optim

    optimizers = {"sgd": river_optim.SGD, "adam": river_optim.Adam, "ftrl": lambda lr: river_optim.FTRLProximal(alpha=lr)}
    return river_linear_model.LogisticRegression(optimizer=optimizers[DEFAULT.optimizer](DEFAULT.learning_rate), l2=DEFAULT.l2)
