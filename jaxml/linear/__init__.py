"""Linear models: least squares, ridge, lasso, polynomial features, logistic regression (L2, L1, elastic net)."""

from jaxml.linear.logistic import *  # noqa: F403
from jaxml.linear.logistic import __all__ as _logistic_all
from jaxml.linear.logistic_l1 import *  # noqa: F403
from jaxml.linear.logistic_l1 import __all__ as _logistic_l1_all
from jaxml.linear.regression import *  # noqa: F403
from jaxml.linear.regression import __all__ as _regression_all

__all__ = [*_regression_all, *_logistic_all, *_logistic_l1_all]
