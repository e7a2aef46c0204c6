"""``KernelRidge`` over jaxml's kernels (``jaxml.kernels.functions``) and a Cholesky solve."""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import sklearn.kernel_ridge
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxml.sklearn._base import float64, to_numpy
from jaxml.sklearn._kernel_params import _make_kernel

_KERNELS = ("linear", "poly", "polynomial", "rbf", "sigmoid", "laplacian", "cosine", "precomputed")


def _gram(kernel, X, Z):
    return X if kernel is None else kernel(X, Z)  # kernel None: X is the Gram matrix (precomputed or host)


def _add_diagonal(K, a):
    n = K.shape[0]
    return K.at[jnp.arange(n), jnp.arange(n)].add(a.astype(K.dtype))


def _weighted(K, Y, sw, weighted):
    if not weighted:  # static: no N² pass of multiplications by ones
        return K, Y
    # Weighted ridge Σ_n s_n (y_n − f(x_n))² + alpha‖f‖² in the dual: with S = diag(√s) (sw = √s),
    # α = S (S K S + alpha I)⁻¹ S y (scikit-learn's _solve_cholesky_kernel).
    return K * sw[:, None] * sw[None, :], Y * sw[:, None]


@functools.partial(jax.jit, static_argnames=("one_alpha", "weighted"))
def _fit_dual(kernel, X, Y, alpha, sw, one_alpha, weighted):
    """Dual coefficients (N, T) and whether the Cholesky factorization succeeded.

    α_t = S (S K S + alpha_t I)⁻¹ S y_t, K[n, m] = k(x_n, x_m), S = diag(√sample_weight): one
    Cholesky factorization for a shared alpha, one per target otherwise. Cost Θ(N²D + N³/3 + N²T).
    """
    K, Yw = _weighted(_gram(kernel, X, X), Y, sw, weighted)

    def solve(a, y):
        # K + alpha·I is symmetric positive definite for a PSD kernel and alpha > 0: Cholesky.
        return jsl.cho_solve(jsl.cho_factor(_add_diagonal(K, a), lower=True), y)

    dual = solve(alpha[0], Yw) if one_alpha else jax.vmap(solve, in_axes=(0, 1), out_axes=1)(alpha, Yw)
    return (dual * sw[:, None] if weighted else dual), jnp.all(jnp.isfinite(dual))


@functools.partial(jax.jit, static_argnames=("weighted",))
def _fit_lstsq(kernel, X, Y, alpha, sw, weighted):
    """The least-squares solution of (S K S + alpha I) c = S y, α = S c: scikit-learn's fallback when
    the system is not positive definite (a non-PSD kernel, or alpha = 0 and a singular K)."""
    K, Yw = _weighted(_gram(kernel, X, X), Y, sw, weighted)
    return jnp.linalg.lstsq(_add_diagonal(K, alpha[0]), Yw)[0] * sw[:, None]


@jax.jit
def _predict(kernel, X, X_fit, dual_coef):
    return _gram(kernel, X, X_fit) @ dual_coef


class KernelRidge(RegressorMixin, BaseEstimator):
    """scikit-learn's ``KernelRidge``: min_f Σ_n s_n (y_n − f(x_n))² + alpha‖f‖²_H, whose solution is
    f(x) = Σ_n α_n k(x, x_n) with α = (K + alpha·I)⁻¹y (α = S(SKS + alpha·I)⁻¹Sy, S = diag(√s), with
    sample weights s) — the course's kernel ridge (``jaxml.kernels.ridge``) with λ = alpha/(2N).
    The Gram matrix is built and factorized (Cholesky) in one jitted call.

    Parameters:
      alpha: ≥ 0, a scalar or one value per target (one factorization per distinct target then).
      kernel: "linear" xᵀx', "poly"/"polynomial" (γxᵀx' + coef0)^degree, "rbf" exp(−γ‖x − x'‖²),
        "sigmoid" tanh(γxᵀx' + coef0), "laplacian" exp(−γ‖x − x'‖₁), "cosine" xᵀx'/(‖x‖‖x'‖),
        "precomputed" (X is the Gram matrix: (N, N) in fit, (M, N) in predict), or a callable
        k(x, x') → float on two rows, evaluated by scikit-learn's ``pairwise_kernels`` on the host
        (as scikit-learn does, one Python call per pair) with ``kernel_params`` as keywords; the
        solve is jaxml's. "chi2"/"additive_chi2" raise ValueError.
      gamma: ≥ 0, None: 1/n_features. degree, coef0: as scikit-learn's pairwise kernels.
      kernel_params: keyword arguments of a callable kernel (ignored for named kernels, as scikit-learn).

    When K + alpha·I is not positive definite (a non-PSD kernel such as the sigmoid, or alpha = 0
    with a singular K) the least-squares solution is used with a warning, as scikit-learn.

    Float32 X and y (and a kernel scikit-learn keeps in float32: not "laplacian" or a callable) are
    computed in float32 and give float32 ``dual_coef_``/predictions, as scikit-learn; else float64.

    Attributes:
      dual_coef_ (N,) or (N, T), X_fit_ (N, D), n_features_in_, feature_names_in_.
    """

    _parameter_constraints: dict = dict(sklearn.kernel_ridge.KernelRidge._parameter_constraints)

    def __init__(self, alpha=1, *, kernel="linear", gamma=None, degree=3, coef0=1, kernel_params=None):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    def _jax_kernel(self, n_features):
        """The jaxml kernel (None for "precomputed"), with scikit-learn's default γ = 1/n_features."""
        if self.kernel == "precomputed":
            return None
        gamma = 1.0 / n_features if self.gamma is None else float(self.gamma)
        return _make_kernel(self.kernel, gamma, self.degree, float(self.coef0))

    def _host_gram(self, X, Z=None):
        return pairwise_kernels(X, Z, metric=self.kernel, filter_params=True, **(self.kernel_params or {}))

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets); returns self.

        sample_weight: None, a float or an array (n_samples,) of per-sample weights s_n.
        """
        self._validate_params()
        if not callable(self.kernel) and self.kernel not in _KERNELS:
            raise ValueError(f"kernel={self.kernel!r} is not supported by jaxml's KernelRidge; supported: "
                             f"{', '.join(map(repr, _KERNELS))} or a callable")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True)
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(f"A precomputed Gram matrix must be square, got shape {X.shape}")
        weighted = sample_weight is not None
        # √s: the weighted system is S K S with S = diag(√s)
        sw = np.sqrt(_check_sample_weight(sample_weight, X)) if weighted else np.ones(X.shape[0], X.dtype)
        ravel = y.ndim == 1
        Y = y.reshape(-1, 1) if ravel else y
        alpha = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
        if alpha.ndim != 1 or alpha.shape[0] not in (1, Y.shape[1]):
            raise ValueError(f"alpha must be a scalar or have one value per target ({Y.shape[1]}), got shape "
                             f"{alpha.shape}")
        if not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
            raise ValueError(f"alpha must be finite and >= 0, got {self.alpha!r}")
        one_alpha = bool(np.all(alpha == alpha[0]))
        # scikit-learn's dtype: float32 when the Gram matrix (X's dtype, except for the laplacian and
        # callable kernels, which give float64) and y are both float32.
        keeps32 = X.dtype == np.float32 and y.dtype == np.float32
        dtype = np.float32 if keeps32 and not callable(self.kernel) and self.kernel != "laplacian" else np.float64
        with float64():
            if callable(self.kernel):
                kernel, data = None, jnp.asarray(self._host_gram(X))
            else:
                kernel, data = self._jax_kernel(X.shape[1]), jnp.asarray(X.astype(dtype, copy=False))
            args = (kernel, data, jnp.asarray(Y.astype(dtype, copy=False)), jnp.asarray(alpha, dtype),
                    jnp.asarray(sw.astype(dtype, copy=False)))
            dual, ok = _fit_dual(*args, one_alpha, weighted)
            if not bool(ok):
                warnings.warn("Singular matrix in solving dual problem. Using least-squares solution instead.",
                              stacklevel=2)
                dual = _fit_lstsq(*args, weighted)
            dual = to_numpy(dual)
        self.dual_coef_ = dual.ravel() if ravel else dual
        self.X_fit_ = X
        return self

    def predict(self, X):
        """f(x) = Σ_n α_n k(x, x_n) for each row: (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        dtype = self.dual_coef_.dtype
        with float64():
            dual = jnp.asarray(self.dual_coef_)
            if callable(self.kernel):
                return to_numpy(_predict(None, jnp.asarray(self._host_gram(X, self.X_fit_)), None, dual))
            X_fit = jnp.asarray(self.X_fit_.astype(dtype, copy=False))
            return to_numpy(_predict(self._jax_kernel(self.X_fit_.shape[1]), jnp.asarray(X.astype(dtype, copy=False)),
                                     X_fit, dual))


__all__ = ["KernelRidge"]
