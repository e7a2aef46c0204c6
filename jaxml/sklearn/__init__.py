"""scikit-learn-compatible estimators over jaxml's pure functions.

Each estimator takes scikit-learn's constructor parameters with scikit-learn's meaning
(``alpha``, ``C``, ``n_clusters``, ``random_state`` ...), validates input with scikit-learn's own
validation, translates to the course's conventions (DESIGN: λ ↔ alpha / C), runs the work in
jitted jaxml code, and returns numpy arrays.
"""

from jaxml.sklearn._cluster import *  # noqa: F403
from jaxml.sklearn._cluster import __all__ as _cluster_all
from jaxml.sklearn._kernel_ridge import *  # noqa: F403
from jaxml.sklearn._kernel_ridge import __all__ as _kernel_ridge_all
from jaxml.sklearn._linear import *  # noqa: F403
from jaxml.sklearn._linear import __all__ as _linear_all
from jaxml.sklearn._linear_svc import *  # noqa: F403
from jaxml.sklearn._linear_svc import __all__ as _linear_svc_all
from jaxml.sklearn._logistic import *  # noqa: F403
from jaxml.sklearn._logistic import __all__ as _logistic_all
from jaxml.sklearn._neighbors import *  # noqa: F403
from jaxml.sklearn._neighbors import __all__ as _neighbors_all
from jaxml.sklearn._svc import *  # noqa: F403
from jaxml.sklearn._svc import __all__ as _svc_all

__all__ = [*_linear_all, *_logistic_all, *_linear_svc_all, *_svc_all, *_kernel_ridge_all, *_neighbors_all,
           *_cluster_all]
