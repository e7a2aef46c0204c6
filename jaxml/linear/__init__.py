"""Linear models: least squares, ridge, lasso, polynomial features, logistic regression."""

from jaxml.linear.logistic import *  # noqa: F403
from jaxml.linear.logistic import __all__ as _logistic_all
from jaxml.linear.regression import *  # noqa: F403
from jaxml.linear.regression import __all__ as _regression_all

__all__ = [*_regression_all, *_logistic_all]
