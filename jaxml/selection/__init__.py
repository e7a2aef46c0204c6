"""Model selection: splits, K-fold cross-validation, grid search, bias-variance, Hoeffding."""

from jaxml.selection.bias_variance import *  # noqa: F403
from jaxml.selection.bias_variance import __all__ as _bv_all
from jaxml.selection.split import *  # noqa: F403
from jaxml.selection.split import __all__ as _split_all

__all__ = [*_split_all, *_bv_all]
