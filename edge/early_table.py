"""The engine's ranking as a table a page can score with before Python has started.

A page paints its slots while its worker is still booting Python: the snippet's early ranker
(browser_pkg/src/early/) scores the candidates in JavaScript from this table, which the worker
writes to IndexedDB whenever it saves the engine. It is the compact model form
(`edge.model_form`), one reader for it and for the published global model: the visitor's
own model's mean weights and the policy's precisions, with what else the score needs in the
header: the policy and its parameters, the visitor's own context tokens (interests and
tastes, as of `at`), the visitor's site-wide group (`edge.rules`), their wish for variety,
and the site's settings. The weights are float16, so the early order can differ from the
engine's on a near tie; the engine then keeps the painted order (`Personalizer.decide`'s
`keep`) unless it is clearly worse.

>>> from edge.engine import Config, Personalizer
>>> engine = Personalizer(Config(policy="greedy"))
>>> engine.merge_global({"version": 3, "intercept": -1.0, "weights": [[7, 0.5]]})
>>> table = model_form.decode(early_table(engine, at=0))
>>> table["policy"], table["group"], table["tokens"], table["intercept"], table["weights"]
('greedy', 'personalized', [], -1.0, [[7, 0.5]])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge import model_form, policies
from edge.base import to_pairs
from edge.rules import SITE_WIDE

if TYPE_CHECKING:
    from edge.engine import Personalizer


def early_table(engine: Personalizer, at: float) -> bytes:
    """The table of `engine` for a page that visits at about `at` (seconds)."""
    config = engine.config
    header = {
        "version": engine.global_version or 0, "intercept": engine.model.intercept, "hash_bits": config.hash_bits,
        "policy": config.policy, "alpha": config.alpha, "prior_precision": config.prior_precision,
        "min_explore": config.min_explore, "variety": engine.variety, "tokens": engine.profile.tokens(at),
        "group": engine.settings.rules.group(SITE_WIDE, engine.visitor), "settings": engine.settings.to_dict(),
    }
    if isinstance(engine.policy, policies.ConfidencePolicy):
        header["precisions"] = sorted(to_pairs(engine.policy.precisions))
    weights = sorted(engine.model.weights.items())
    return model_form.encode(header, [b for b, _ in weights], [w for _, w in weights])
