"""Optimizers for the linear models, with River's names and numerics."""

from edge.optim.base import Optimizer
from edge.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "from_dict"]

_BY_NAME = {"SGD": SGD}


def from_dict(state: dict) -> Optimizer:
    """Rebuild whichever optimizer `state` describes."""
    try:
        optimizer = _BY_NAME[state["name"]]
    except KeyError:
        raise ValueError(f"unknown optimizer in state: {state.get('name')!r}") from None
    return optimizer.from_dict(state)
