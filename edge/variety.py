"""Variety: keep a slot from filling with one kind of item, and a profile from collapsing.

Two rules, applied to a slot's ranking after the policy and the editor rules:

- `spread`, a maximal-marginal-relevance re-rank (Carbonell & Goldstein, 1998): each place
  goes to the candidate with the best score minus `weight` times its greatest similarity
  to a candidate already placed above it. Similarity is the share of features two
  candidates have in common (Jaccard), so it needs no setting per site; the weight is in
  the score's units, logits: a weight of 1 lets an item of a new kind beat one of a kind
  already shown if it is at most 1 logit worse, less the overlap.
- `explore`, a floor on exploration: on a share of decisions, one shown place (never a
  pinned one) goes to a candidate drawn at random from those not shown, so that however sure
  the model is, every candidate keeps being tried and a profile cannot settle on one kind.

>>> tokens = {"a": ("topic:news", "format:video"), "b": ("topic:news", "format:video"),
...           "c": ("topic:sports", "format:video")}
>>> scores = {"a": 2.0, "b": 1.8, "c": 1.0}
>>> spread(["a", "b", "c"], scores, tokens, weight=0.0)
['a', 'b', 'c']
>>> spread(["a", "b", "c"], scores, tokens, weight=1.5)     # b is a's twin; c shares a third
['a', 'c', 'b']

Reference: J. Carbonell and J. Goldstein, "The Use of MMR, Diversity-Based Reranking for
Reordering Documents and Producing Summaries", SIGIR 1998.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence


def spread(
    ranking: list[str], scores: Mapping[str, float], tokens: Mapping[str, Sequence[str]], weight: float,
    size: int | None = None, fixed: Collection[str] = (),
) -> list[str]:
    """`ranking` re-ranked for variety; only its first `size` places (default all) are chosen
    again, the rest keep their order after them. `fixed` variants (pinned) keep their places."""
    size = len(ranking) if size is None else min(size, len(ranking))
    if weight <= 0 or size < 2:
        return ranking
    kinds = {v: frozenset(tokens[v]) for v in ranking}
    placed: list[str] = []
    left = [v for v in ranking if v not in fixed]
    for place in range(size):
        if ranking[place] in fixed:
            placed.append(ranking[place])
            continue
        best = max(left, key=lambda v: scores[v] - weight * _overlap(kinds[v], placed, kinds))  # first of ties
        placed.append(best)
        left.remove(best)
    return placed + [v for v in ranking if v not in placed]


def explore(ranking: list[str], size: int, share: float, rng: random.Random, fixed: Collection[str] = ()) -> list[str]:
    """With probability `share`, one of the first `size` places (not a `fixed` one) goes to a
    candidate drawn uniformly from those after them; the one it replaces moves down one.

    >>> explore(["a", "b", "c", "d"], size=2, share=1.0, rng=random.Random(0))
    ['a', 'c', 'b', 'd']
    """
    if share <= 0 or len(ranking) <= size or rng.random() >= share:
        return ranking
    places = [i for i in range(size) if ranking[i] not in fixed]
    if not places:
        return ranking
    place, pick = rng.choice(places), rng.randrange(size, len(ranking))
    chosen = ranking[pick]
    rest = ranking[:pick] + ranking[pick + 1:]
    return rest[:place] + [chosen] + rest[place:]


def _overlap(kind: frozenset[str], placed: list[str], kinds: Mapping[str, frozenset[str]]) -> float:
    """The greatest Jaccard similarity of `kind` to a candidate already placed."""
    return max((len(kind & kinds[v]) / (len(kind | kinds[v]) or 1) for v in placed), default=0.0)
