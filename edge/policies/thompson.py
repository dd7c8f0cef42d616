"""Thompson sampling on a diagonal Gaussian posterior over logistic weights."""

from __future__ import annotations

import math
import random

from edge.policies.base import ConfidencePolicy


class ThompsonSampling(ConfidencePolicy):
    """Rank by a draw from the posterior of each arm's click logit (Chapelle & Li, 2011).

    The posterior over the weights is the Laplace approximation of the paper's
    Algorithm 3: each weight is Gaussian, its mean is the learner's weight and its
    precision starts at `prior_precision` and grows by `x[i]² · p(1 − p)` with every
    example learned, `p` being the model's prediction for it (the logistic loss's
    curvature). An arm's logit `w · x` is then Gaussian with mean `m · x` and the
    variance `ConfidencePolicy.variance` gives (the mean of its weights' variances: a
    diagonal posterior spreads what one example says about the logit over all of the
    example's features, see there), and the policy draws that one number per arm, at
    the cost of one normal variate per arm instead of one per feature. (Arms that share
    a feature draw it independently, which explores a little more than one joint draw.)

    Features never seen carry the prior's variance, so a new candidate is ranked
    high often until the visitor's reactions pin its weights down: the exploration
    bonus falls out of the posterior rather than being bolted on.

    It is not the engine's default: at click rates of a few per cent it explores too much
    (`bench/edge_quality.py`, every simulated site). An example adds only `p(1 − p)`, some
    0.03, to a precision, so a logit's variance shrinks some thirty times slower than
    LinUCB's; and a ranking takes the best of one draw per arm, whose expected excess grows
    with the number of arms (as `σ·√(2 ln K)`), so the more candidates a slot has, the more
    often an arm ranks first for its noise alone.

    >>> import random
    >>> from edge import linear_model, optim, policies
    >>> model = linear_model.LogisticRegression(optimizer=optim.SGD(0.1))
    >>> policy = policies.ThompsonSampling(prior_precision=1.0)
    >>> old = {"variant:old": 1.0}
    >>> for i in range(99):              # two clicks in three impressions
    ...     model.learn_one(old, i % 3 != 0)
    ...     policy.update(old, model.predict_proba_one(old)[True])
    >>> candidates = {"old": old, "new": {"variant:new": 1.0}}
    >>> ranking = policy.rank(candidates, model, random.Random(7))
    >>> {arm: round(p, 2) for arm, p in ranking.probabilities.items()}
    {'old': 0.66, 'new': 0.52}
    >>> rng = random.Random(7)
    >>> firsts = [policy.pull(candidates, model, rng) for _ in range(1000)]
    >>> firsts.count("new")              # greedy would never put it first
    268

    Reference: O. Chapelle and L. Li, "An Empirical Evaluation of Thompson Sampling",
    NeurIPS 2011.
    """

    name = "thompson"

    def _information(self, p: float) -> float:
        return p * (1 - p)

    def _scores(self, logits: dict[str, float], variances: dict[str, float] | None, rng: random.Random) -> dict[str, float]:
        gauss = rng.gauss
        return {arm: z + math.sqrt(variances[arm]) * gauss(0.0, 1.0) for arm, z in logits.items()}
