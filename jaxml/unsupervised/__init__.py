"""Unsupervised learning: k-means, Gaussian mixtures (EM), matrix factorization."""

from jaxml.unsupervised.factorization import *  # noqa: F403
from jaxml.unsupervised.factorization import __all__ as _mf_all
from jaxml.unsupervised.gmm import *  # noqa: F403
from jaxml.unsupervised.gmm import __all__ as _gmm_all
from jaxml.unsupervised.kmeans import *  # noqa: F403
from jaxml.unsupervised.kmeans import __all__ as _kmeans_all

__all__ = [*_kmeans_all, *_gmm_all, *_mf_all]
