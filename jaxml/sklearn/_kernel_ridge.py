"""``KernelRidge`` over ``jaxml.kernels.kernel_ridge_solve``."""

from __future__ import annotations

import jax
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.kernels import kernel_ridge_solve
from jaxml.sklearn._base import float64, to_numpy
from jaxml.sklearn._kernel_params import (
    _check_kernel_params,
    _make_kernel,
    _non_negative,
)


@jax.jit
def _gram(kernel, X, Z):
    return kernel(X, Z)


@jax.jit
def _kernel_predict(kernel, X, X_fit, dual_coef):
    return kernel(X, X_fit) @ dual_coef


class KernelRidge(RegressorMixin, BaseEstimator):
    """scikit-learn's ``KernelRidge``: α = (K + alpha·I)⁻¹y, prediction k(x)ᵀα — the course's
    kernel ridge (``jaxml.kernels.kernel_ridge_solve``) with λ = alpha/(2N).

    Parameters:
      alpha: ≥ 0 (a scalar). kernel: "linear", "poly"/"polynomial", "rbf". gamma (None: 1/D),
      degree, coef0: as scikit-learn's pairwise kernels, (γxᵀx' + coef0)^degree and
      exp(−γ‖x − x'‖²).

    Attributes:
      dual_coef_ (N,) or (N, T), X_fit_ (N, D), n_features_in_.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def __init__(self, alpha=1.0, *, kernel="linear", gamma=None, degree=3, coef0=1):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0

    def fit(self, X, y):
        """Fit on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets)."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        alpha = _non_negative(self.alpha, "alpha")
        gamma, degree, coef0 = _check_kernel_params(self, X, gamma_default="auto")
        self._params = (gamma, degree, coef0)
        with float64():
            kernel = _make_kernel(self.kernel, gamma, degree, coef0)
            K = _gram(kernel, X, X)
            # Mercer's condition is checked (Θ(N³)) only when it can fail: poly with coef0 < 0.
            check = self.kernel in ("poly", "polynomial") and coef0 < 0
            self.dual_coef_ = to_numpy(kernel_ridge_solve(K, y, alpha / (2 * X.shape[0]), check_psd=check))
        self.X_fit_ = X
        return self

    def predict(self, X):
        """k(x)ᵀα for each row: (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        with float64():
            kernel = _make_kernel(self.kernel, *self._params)
            return to_numpy(_kernel_predict(kernel, X, self.X_fit_, self.dual_coef_))



__all__ = ["KernelRidge"]
