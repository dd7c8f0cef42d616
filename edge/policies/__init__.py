"""Slot policies: how to order a slot's candidates, and how much to explore doing it."""

from __future__ import annotations

from edge.base import State, rebuild
from edge.policies.base import ConfidencePolicy, LinearLearner, Policy, Ranking, dot, readable_weights
from edge.policies.epsilon_greedy import EpsilonGreedy
from edge.policies.greedy import Greedy
from edge.policies.lin_ucb import LinUCB
from edge.policies.thompson import ThompsonSampling

__all__ = [
    "ConfidencePolicy", "EpsilonGreedy", "Greedy", "LinUCB", "LinearLearner", "Policy", "Ranking",
    "ThompsonSampling", "BY_NAME", "dot", "from_dict", "readable_weights",
]

BY_NAME: dict[str, type[Policy]] = {p.name: p for p in (Greedy, EpsilonGreedy, ThompsonSampling, LinUCB)}


def from_dict(state: State) -> Policy:
    """Rebuild whichever policy `state` describes."""
    return rebuild(BY_NAME, state, "policy")
