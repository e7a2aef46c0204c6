"""Group fairness criteria: independence, separation, sufficiency, and their relaxations."""

from jaxml.fairness.criteria import *  # noqa: F403
from jaxml.fairness.criteria import __all__ as _criteria_all

__all__ = [*_criteria_all]
