"""The course's optimizers as ``optax.GradientTransformation``s, and brute-force grid search."""

from jaxml.optim.rules import *  # noqa: F403
from jaxml.optim.rules import __all__ as _rules_all
from jaxml.optim.search import *  # noqa: F403
from jaxml.optim.search import __all__ as _search_all

__all__ = [*_rules_all, *_search_all]
