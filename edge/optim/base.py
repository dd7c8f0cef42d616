"""The optimizer API: turn a gradient into a weight update, one step at a time."""

from __future__ import annotations

import abc
import inspect
from collections.abc import Iterable

from edge.base import State, Stateful, check_state_name, to_pairs

Weights = dict
Gradient = dict


class Optimizer(Stateful):
    """A sequential optimizer over sparse weights, as in `river.optim.base.Optimizer`.

    `step(w, g)` updates only the weights named in the gradient, in place, so a step
    costs as much as the example has features, however many weights the model has.

    Subclasses keep each constructor argument in an attribute of the same name and
    list their per-feature tables (e.g. Adam's moments) in `per_feature`: from that,
    the base class saves and restores the whole state.
    """

    per_feature: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.n_iterations = 0

    def step(self, w: Weights, g: Gradient) -> None:
        """Update `w` in place with gradient `g`."""
        self._step(w, g)
        self.n_iterations += 1

    @abc.abstractmethod
    def _step(self, w: Weights, g: Gradient) -> None: ...

    def settle(self, w: Weights, keys: Iterable) -> None:
        """Bring the weights of `keys` up to date with the optimizer's own state, after a step.
        Most optimizers leave them so; River's FTRL sets a weight from its statistics as
        they were before the step, so the engine settles it and its next decision reflects
        the example just learned."""

    def follow(self, w: Weights) -> None:
        """Take `w` as the weights from now on, though they were set from outside (a
        federated merge). Most optimizers step from whatever the weights are; one whose
        weights follow from its own state (FTRL) changes that state to match."""

    @classmethod
    def _hyperparameters(cls) -> list[str]:
        return list(inspect.signature(cls).parameters)

    def to_dict(self) -> State:
        state: State = {"name": type(self).__name__, "n_iterations": self.n_iterations}
        state.update((name, getattr(self, name)) for name in self._hyperparameters())
        state.update((name, to_pairs(getattr(self, name))) for name in self.per_feature)
        return state

    @classmethod
    def from_dict(cls, state: State) -> Optimizer:
        check_state_name(state, cls.__name__)
        optimizer = cls(**{name: state[name] for name in cls._hyperparameters()})
        optimizer.n_iterations = state["n_iterations"]
        for name in cls.per_feature:
            setattr(optimizer, name, dict(state[name]))
        return optimizer

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyperparameters())
        return f"{type(self).__name__}({params})"
