"""The engine's settings: which learner, optimizer and policy, and how they learn and explore.

>>> Config.from_dict({"policy": "greedy"}).new_policy().name
'greedy'
>>> Config.from_dict({"policy": "greedy", "speed": 3})
Traceback (most recent call last):
ValueError: unknown config keys ['speed']
"""

from __future__ import annotations

import dataclasses

from edge import linear_model, optim, policies

# FTRL-Proximal is the default: its per-feature steps shrink as a feature is seen, as a
# posterior's would, where one plain step size is too big for rare features or too
# small for common ones (see bench/edge_quality.py).
OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "ftrl": lambda lr: optim.FTRLProximal(alpha=lr)}


@dataclasses.dataclass(frozen=True)
class Config:
    """How the engine learns and explores. Sites get theirs from the global model."""

    hash_bits: int = 18
    optimizer: str = "ftrl"  # how the built-in learner steps: "sgd", "adam" or "ftrl" (see edge.optim)
    learning_rate: float = 0.05  # sgd, adam: the step size; ftrl: its alpha
    l2: float = 0.0
    # LinUCB, half a standard deviation up: on four simulated sites of different shapes Thompson
    # sampling explored too much (last or next to last of our policies on each); no one setting
    # won every site: α = 0.3 wins the news site (its stories churn), α = 1 the catalog (each item
    # is rarely seen), and elsewhere the gaps are seed noise (bench/edge_quality.py, README).
    policy: str = "lin-ucb"
    epsilon: float = 0.05  # epsilon-greedy: the share of decisions that explore
    alpha: float = 0.5  # lin-ucb: the bound's width, in standard deviations of the logit
    prior_precision: float = 2.0  # thompson, lin-ucb: how sure we are of a logit never seen
    min_explore: float = 0.0  # the share of decisions that show a random candidate, whatever the policy
    clip_norm: float = 5.0  # the L2 norm a federated update is clipped to (the server's default; it clips to its own)
    seed: int | None = None  # None: the OS picks, so visitors do not all explore alike
    max_open_decisions: int = 32
    reasons_per_variant: int = 3

    def __post_init__(self) -> None:
        if self.policy not in policies.BY_NAME:
            raise ValueError(f"unknown policy {self.policy!r}; expected one of {sorted(policies.BY_NAME)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
        if not 0 <= self.min_explore <= 1:
            raise ValueError(f"min_explore must be a share from 0 to 1, got {self.min_explore!r}")

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        return cls(**values)

    def new_learner(self) -> linear_model.LogisticRegression:
        return linear_model.LogisticRegression(optimizer=OPTIMIZERS[self.optimizer](self.learning_rate), l2=self.l2)

    def new_policy(self) -> policies.Policy:
        if self.policy == "greedy":
            return policies.Greedy()
        if self.policy == "epsilon-greedy":
            return policies.EpsilonGreedy(self.epsilon)
        if self.policy == "lin-ucb":
            return policies.LinUCB(self.alpha, self.prior_precision)
        return policies.ThompsonSampling(self.prior_precision)
