"""``LinearSVC`` over ``jaxml.kernels`` (see the class docstring for the problem solved)."""

from __future__ import annotations

import functools
import warnings

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.kernels import svm_dual_solve
from jaxml.sklearn._base import float64, key_from_random_state, to_numpy
from jaxml.sklearn._kernel_params import (
    _max_epochs,
    _non_negative,
    _one_vs_rest,
    _positive,
)


@functools.partial(jax.jit, static_argnames=("max_epochs",))
def _fit_linear_ovr(X, Y, lam, key, tol, max_epochs):
    return jax.vmap(lambda y: svm_dual_solve(key, X, y, lam, tol=tol, max_epochs=max_epochs))(Y)



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



class LinearSVC(_SVMBase):
    """scikit-learn's ``LinearSVC`` (hinge loss, L2 penalty, dual) over
    ``jaxml.kernels.svm`` — min ½‖w‖² + C Σ_n [1 − y_n (wᵀx_n + b)]₊ with liblinear's
    regularized intercept b = s·w_{D+1} (a constant feature s = ``intercept_scaling``).

    Parameters:
      C: > 0; the course's λ = 1/(C·N).
      loss: "hinge" only (the course's SVM; scikit-learn's default "squared_hinge" is not
        implemented and raises ValueError).
      tol: duality-gap tolerance on the course's objective (λ/2)‖w‖² + mean hinge.
      fit_intercept, intercept_scaling: the constant feature, as in scikit-learn.
      max_iter: epochs of coordinate ascent (each visits every dual variable once).
      random_state: seeds the epochs' random orders.

    Attributes:
      classes_, coef_ (1, D) or (K, D) one-vs-rest, intercept_ (1,) or (K,), n_iter_ (epochs per
      problem), duality_gap_ (final gap per problem), n_features_in_.
    """

    def __init__(self, C=1.0, *, loss="hinge", tol=1e-5, fit_intercept=True, intercept_scaling=1.0,
                 max_iter=1000, random_state=None):
        self.C = C
        self.loss = loss
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y):
        """Fit on X (n_samples, n_features) and labels y of any type; returns self."""
        if self.loss != "hinge":
            raise ValueError(f"loss must be 'hinge' (the course's SVM), got {self.loss!r}")
        X, Y, C, lam, tol, max_epochs = self._prepare(X, y)
        scaling = _positive(self.intercept_scaling, "intercept_scaling") if self.fit_intercept else 0.0
        Xa = np.hstack([X, np.full((X.shape[0], 1), scaling)]) if self.fit_intercept else X
        with float64():
            result = _fit_linear_ovr(Xa, Y, lam, key_from_random_state(self.random_state), tol, max_epochs)
            w = to_numpy(result.w)
        self._warn_unconverged(result, max_epochs)
        if self.fit_intercept:
            self.coef_, self.intercept_ = w[:, :-1], w[:, -1] * scaling
        else:
            self.coef_, self.intercept_ = w, np.zeros(w.shape[0])
        return self

    def decision_function(self, X):
        """wᵀx + b: (n_samples,) for two classes (positive ⇒ classes_[1]), else (n_samples, K)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        scores = X @ self.coef_.T + self.intercept_[None, :]
        return scores[:, 0] if scores.shape[1] == 1 else scores



__all__ = ["LinearSVC"]
