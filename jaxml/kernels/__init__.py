"""Kernels, kernel ridge regression, support vector machines, k-nearest neighbours."""

from jaxml.kernels.functions import *  # noqa: F403
from jaxml.kernels.functions import __all__ as _functions_all
from jaxml.kernels.knn import *  # noqa: F403
from jaxml.kernels.knn import __all__ as _knn_all
from jaxml.kernels.linear_svc import *  # noqa: F403
from jaxml.kernels.linear_svc import __all__ as _linear_svc_all
from jaxml.kernels.ridge import *  # noqa: F403
from jaxml.kernels.ridge import __all__ as _ridge_all
from jaxml.kernels.smo import *  # noqa: F403
from jaxml.kernels.smo import __all__ as _smo_all
from jaxml.kernels.svm import *  # noqa: F403
from jaxml.kernels.svm import __all__ as _svm_all

__all__ = [*_functions_all, *_knn_all, *_linear_svc_all, *_ridge_all, *_smo_all, *_svm_all]
