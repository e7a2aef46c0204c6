"""The course's optimizers: update rules as ``optax.GradientTransformation``s, Newton and L-BFGS
minimizers, brute-force grid search and the subgradient method. Depends on no model family."""

from jaxml.optim.rules import *  # noqa: F403
from jaxml.optim.rules import __all__ as _rules_all
from jaxml.optim.search import *  # noqa: F403
from jaxml.optim.search import __all__ as _search_all
from jaxml.optim.solvers import *  # noqa: F403
from jaxml.optim.solvers import __all__ as _solvers_all

__all__ = [*_rules_all, *_search_all, *_solvers_all]
