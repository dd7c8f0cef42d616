"""LinUCB with a diagonal design matrix, so it fits millions of hashed features."""

from __future__ import annotations

import math
import random

from edge.policies.base import ConfidencePolicy
from edge.validation import is_number


class LinUCB(ConfidencePolicy):
    """Rank by an upper confidence bound on each arm's click logit (Li et al., 2010).

    LinUCB scores an arm `m · x + alpha · sqrt(xᵀ A⁻¹ x)` where `A = λI + Σ x xᵀ` sums
    the features of every example learned. Over 2¹⁸ hashed features the full `A` is
    out of reach (and `river.bandit.LinUCBDisjoint` keeps one per arm, so arms share
    nothing), so this variant keeps only A's diagonal: one number per feature ever
    seen, `x[i]²` added per example, and the width, the square root of the mean of
    `1 / A[i][i]` over the active features (see `ConfidencePolicy.variance` for why the
    mean), costs one lookup per active feature. The mean `m` comes from the logistic learner,
    which makes this the generalized linear UCB of Filippi et al. (2010).

    It is deterministic: the same model and precisions always give the same order.
    A candidate never seen has the widest bound, so it is tried first.

    >>> import random
    >>> from edge import linear_model, optim, policies
    >>> model = linear_model.LogisticRegression(optimizer=optim.SGD(0.1))
    >>> policy = policies.LinUCB(alpha=1.0, prior_precision=1.0)
    >>> old = {"variant:old": 1.0}
    >>> for i in range(99):              # two clicks in three impressions
    ...     model.learn_one(old, i % 3 != 0)
    ...     policy.update(old, model.predict_proba_one(old)[True])
    >>> new = {"variant:new": 1.0}
    >>> candidates = {"old": old, "new": new}
    >>> policy.rank(candidates, model, random.Random(0)).arms
    ['new', 'old']
    >>> for _ in range(20):              # twenty impressions of the new one later
    ...     policy.update(new, 0.5)
    >>> policy.rank(candidates, model, random.Random(0)).arms
    ['old', 'new']

    References: L. Li, W. Chu, J. Langford and R. Schapire, "A Contextual-Bandit Approach
    to Personalized News Article Recommendation", WWW 2010; S. Filippi, O. Cappé,
    A. Garivier and C. Szepesvári, "Parametric Bandits: The Generalized Linear Case",
    NeurIPS 2010.
    """

    name = "lin-ucb"

    def __init__(self, alpha: float = 1.0, prior_precision: float = 10.0) -> None:
        if not (is_number(alpha) and alpha >= 0):
            raise ValueError(f"alpha must be a non-negative number, got {alpha!r}")
        super().__init__(prior_precision)
        self.alpha = alpha

    def _information(self, p: float) -> float:
        return 1.0

    def _scores(self, logits: dict[str, float], variances: dict[str, float] | None, rng: random.Random) -> dict[str, float]:
        return {arm: z + self.alpha * math.sqrt(variances[arm]) for arm, z in logits.items()}
