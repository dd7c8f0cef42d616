"""Linear models with River's API."""

from edge.linear_model.foreign import ForeignLearner, adopt
from edge.linear_model.log_reg import LogisticRegression

__all__ = ["ForeignLearner", "LogisticRegression", "adopt"]
