"""Matrix factorization over the observed entries only: SGD and ALS (SYLLABUS 6).

A ratings matrix X ∈ ℝ^{D×N} (rows d = users, columns n = items) is observed on a set Ω of
entries only, stored in COO form ``Ratings(rows, cols, values)``. The model is X ≈ W Zᵀ with
row factors W ∈ ℝ^{D×K} and column factors Z ∈ ℝ^{N×K}, x̂_dn = w_dᵀ z_n, and the objective is

    f(W, Z) = (1/|Ω|) · ½ Σ_{(d,n)∈Ω} (x_dn − w_dᵀ z_n)²  +  (λ/2) (‖W‖²_F + ‖Z‖²_F).

Modules: ``data`` (COO ratings, checks, split, CSV loader), ``model`` (factors, prediction, f and
its hand gradient, synthetic low-rank data), ``sgd`` (``mf_sgd``, minibatch SGD through
``jaxml.core.train.fit``), ``als`` (``mf_als``, alternating ridge solves), ``rank``
(``mf_select_rank``, K by validation RMSE). Every public name is re-exported here and from
``jaxml.unsupervised``; the model and solver names carry an ``mf_`` prefix.
"""

from jaxml.unsupervised.factorization.als import *  # noqa: F403
from jaxml.unsupervised.factorization.als import __all__ as _als_all
from jaxml.unsupervised.factorization.data import *  # noqa: F403
from jaxml.unsupervised.factorization.data import __all__ as _data_all
from jaxml.unsupervised.factorization.model import *  # noqa: F403
from jaxml.unsupervised.factorization.model import __all__ as _model_all
from jaxml.unsupervised.factorization.rank import *  # noqa: F403
from jaxml.unsupervised.factorization.rank import __all__ as _rank_all
from jaxml.unsupervised.factorization.sgd import *  # noqa: F403
from jaxml.unsupervised.factorization.sgd import __all__ as _sgd_all

__all__ = [*_data_all, *_model_all, *_sgd_all, *_als_all, *_rank_all]
