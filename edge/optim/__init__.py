"""Optimizers for the linear models, with River's names and numerics."""

from edge.base import State, rebuild
from edge.optim.adam import Adam
from edge.optim.base import Optimizer
from edge.optim.ftrl import FTRLProximal
from edge.optim.sgd import SGD

__all__ = ["Adam", "FTRLProximal", "Optimizer", "SGD", "from_dict"]

_BY_NAME: dict[str, type[Optimizer]] = {"Adam": Adam, "FTRLProximal": FTRLProximal, "SGD": SGD}


def from_dict(state: State) -> Optimizer:
    """Rebuild whichever optimizer `state` describes."""
    return rebuild(_BY_NAME, state, "optimizer")
