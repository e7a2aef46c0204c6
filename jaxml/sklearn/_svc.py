"""``SVC`` over ``jaxml.kernels`` (see the class docstring for the problem solved)."""

from __future__ import annotations

import functools
import warnings

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.kernels import kernel_svm_dual_solve
from jaxml.sklearn._base import float64, key_from_random_state, to_numpy
from jaxml.sklearn._kernel_params import (
    _check_kernel_params,
    _make_kernel,
    _max_epochs,
    _non_negative,
    _one_vs_rest,
    _positive,
)


@functools.partial(jax.jit, static_argnames=("max_epochs",))
def _fit_kernel_ovr(kernel, X, Y, lam, key, tol, max_epochs, bias_sq):
    K = kernel(X, X) + bias_sq
    return jax.vmap(lambda y: kernel_svm_dual_solve(key, K, y, lam, tol=tol, max_epochs=max_epochs))(Y)


@jax.jit
def _kernel_scores(kernel, X, X_train, dual_coef, intercept):
    return kernel(X, X_train) @ dual_coef.T + intercept[None, :]



class _SVMBase(ClassifierMixin, BaseEstimator):
    def _prepare(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got 1 class "
                f"({self.classes_[0]!r})"
            )
        C = _positive(self.C, "C")
        tol = _non_negative(self.tol, "tol")
        max_epochs = _max_epochs(self.max_iter)
        # λ = 1/(C N): scikit-learn's ½‖w‖² + C Σ hinge is the course's objective times 1/λ.
        lam = 1.0 / (C * X.shape[0])
        return X, _one_vs_rest(encoded, len(self.classes_)), C, lam, tol, max_epochs

    def _warn_unconverged(self, result, max_epochs):
        gaps = np.asarray(result.gap)[np.arange(len(result.gap)), np.asarray(result.num_epochs) - 1]
        self.n_iter_ = to_numpy(result.num_epochs).astype(np.int32)
        self.duality_gap_ = gaps
        if not np.all(to_numpy(result.converged)):
            warnings.warn(
                f"{type(self).__name__} did not converge in {max_epochs} epochs: duality gap "
                f"{gaps.max():.3e} > tol = {self.tol:g}; increase max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def predict(self, X):
        """The class of the largest score (two classes: classes_[1] when the score is > 0)."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[idx]



class SVC(_SVMBase):
    """Kernel SVM by the course's dual coordinate ascent (``jaxml.kernels.svm``), with
    scikit-learn's ``SVC`` parameters: min ½‖w‖² + C Σ_n [1 − y_n f(x_n)]₊ in the feature space of
    the kernel, f(x) = Σ_n (C α_n y_n) k(x, x_n) + b.

    Intercept: a regularized bias through the kernel k(x, x') + s² (s = ``intercept_scaling``),
    b = s² Σ_n C α_n y_n — not libsvm's unregularized intercept; see the module doc.
    Several classes: one-vs-rest (scikit-learn's SVC is one-vs-one internally; its default
    ``decision_function_shape="ovr"`` output has the same (n, K) shape).

    Parameters:
      C: > 0 (λ = 1/(C·N)). kernel: "linear", "poly", "rbf". degree, gamma ("scale", "auto" or
      > 0), coef0: as scikit-learn. tol: duality-gap tolerance. max_iter: epochs (−1: 10 000).
      intercept_scaling: s (0 = no intercept, the course's SVM). random_state: epoch orders.

    Attributes:
      classes_, support_ (indices with α > 0 in some problem), support_vectors_,
      dual_coef_ (P, n_SV) = C α_n y_n, intercept_ (P,), alpha_ (P, N) the course's α ∈ [0, 1],
      n_iter_, duality_gap_, n_features_in_ (P = 1 for two classes, else K).
    """

    def __init__(self, C=1.0, *, kernel="rbf", degree=3, gamma="scale", coef0=0.0, tol=1e-4,
                 max_iter=-1, intercept_scaling=1.0, random_state=None):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.max_iter = max_iter
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state

    def fit(self, X, y):
        """Fit on X (n_samples, n_features) and labels y of any type; returns self."""
        X, Y, C, lam, tol, max_epochs = self._prepare(X, y)
        gamma, degree, coef0 = _check_kernel_params(self, X, gamma_default="scale")
        scaling = _non_negative(self.intercept_scaling, "intercept_scaling")
        self._gamma = gamma
        with float64():
            kernel = _make_kernel(self.kernel, gamma, degree, coef0)
            result = _fit_kernel_ovr(kernel, X, Y, lam, key_from_random_state(self.random_state), tol, max_epochs,
                                     scaling**2)
            alpha = to_numpy(result.alpha)
        self._warn_unconverged(result, max_epochs)
        self.alpha_ = alpha
        support = np.flatnonzero(np.any(alpha > 0, axis=0))
        self.support_ = support.astype(np.int32)
        self.support_vectors_ = X[support]
        self.dual_coef_ = C * alpha[:, support] * Y[:, support]
        self.intercept_ = scaling**2 * self.dual_coef_.sum(axis=1)
        self._degree, self._coef0 = degree, coef0
        return self

    def decision_function(self, X):
        """f(x) = Σ_{n ∈ SV} dual_coef_ k(x, x_n) + intercept_: (n,) for two classes, else (n, K)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if len(self.support_) == 0:
            scores = np.broadcast_to(self.intercept_[None, :], (X.shape[0], len(self.intercept_)))
        else:
            with float64():
                kernel = _make_kernel(self.kernel, self._gamma, self._degree, self._coef0)
                scores = to_numpy(_kernel_scores(kernel, X, self.support_vectors_, self.dual_coef_,
                                                 self.intercept_))
        return scores[:, 0] if scores.shape[1] == 1 else scores



__all__ = ["SVC"]
