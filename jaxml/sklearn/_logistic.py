"""``LogisticRegression`` over ``jaxml.linear`` (binary sigmoid and multinomial softmax).

scikit-learn's ``LogisticRegression(C)`` with the L2 penalty minimizes

    C Σ_n ℓ(x_n, y_n) + ½‖W‖²   ⇔   (1/N) Σ_n ℓ(x_n, y_n) + (λ/2)‖W‖²  with λ = 1/(C N),

the course's objective (DESIGN.md); the intercept is not penalized. Two classes use the sigmoid
model σ(xᵀw + b) (``coef_`` of shape (1, D)); three or more the multinomial softmax model
(``coef_`` (K, D); intercepts centred to sum to zero, the same predictions as any other choice).
``solver="lbfgs"`` runs optax L-BFGS in one jitted while-loop; ``solver="newton"`` runs damped
Newton (hand Hessian for two classes, autodiff Hessian for K classes). Both stop when the
gradient's largest entry is ≤ ``tol`` (scikit-learn's ``gtol``) or after ``max_iter`` iterations.
The facade follows ``_linear.py``: validate with scikit-learn, compute in float64 inside
jitted module-level jaxml functions, keep numpy attributes.

Compilation is per input shape, so ``fit`` pads the data to a few bucketed shapes (powers of
two for small sizes, multiples of 1/8 of the leading power of two beyond): padded rows get
sample weight 0 and padded columns are all zero, whose penalized weights stay exactly 0. The
objective and the solution are unchanged; a new size mostly reuses a compiled program.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.linear import (
    fit_logistic_lbfgs,
    fit_logistic_newton,
    fit_softmax_lbfgs,
    fit_softmax_newton,
)
from jaxml.sklearn._base import float64, to_numpy

_SOLVERS = {
    ("lbfgs", False): fit_logistic_lbfgs,
    ("newton", False): fit_logistic_newton,
    ("lbfgs", True): fit_softmax_lbfgs,
    ("newton", True): fit_softmax_newton,
}


def _bucket(size: int, minimum: int) -> int:
    """The padded size: the next power of two up to 1024, then the next multiple of 1/8 of
    the leading power of two (at most 12.5% padding)."""
    if size <= minimum:
        return minimum
    if size <= 1024:
        return 1 << (size - 1).bit_length()
    step = 1 << (size.bit_length() - 4)
    return -(-size // step) * step


def _pad(X: np.ndarray, encoded: np.ndarray):
    """(X padded with zero rows and columns, labels padded with class 0, 0/1 row weights)."""
    n, d = X.shape
    n_pad, d_pad = _bucket(n, 16), _bucket(d, 4)
    X_pad = np.zeros((n_pad, d_pad), np.float64)
    X_pad[:n, :d] = X
    y_pad = np.zeros(n_pad, np.int32)
    y_pad[:n] = encoded
    weight = np.zeros(n_pad, np.float64)
    weight[:n] = 1.0
    return X_pad, y_pad, weight


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """scikit-learn's L2-penalized ``LogisticRegression`` over jaxml's solvers.

    Parameters:
      C: inverse regularization strength > 0; the course's λ = 1/(C·n_samples).
      fit_intercept: fit an unpenalized intercept.
      max_iter: maximum solver iterations.
      tol: stop when ‖∇L‖_∞ ≤ tol (L the mean loss + (λ/2)‖W‖²).
      solver: "lbfgs" (default) or "newton".

    Attributes:
      classes_ (K,), coef_ (1, D) or (K, D), intercept_ (1,) or (K,), n_iter_ (1,),
      n_features_in_.
    """

    def __init__(self, C=1.0, *, fit_intercept=True, max_iter=100, tol=1e-4, solver="lbfgs"):
        self.C = C
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver

    def _check_params(self):
        C, tol = float(self.C), float(self.tol)
        if not np.isfinite(C) or C <= 0:
            raise ValueError(f"C must be a finite number > 0, got {self.C!r}")
        if not np.isfinite(tol) or tol < 0:
            raise ValueError(f"tol must be a finite number >= 0, got {self.tol!r}")
        if isinstance(self.max_iter, bool) or int(self.max_iter) != self.max_iter or self.max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        if self.solver not in ("lbfgs", "newton"):
            raise ValueError(f"solver must be 'lbfgs' or 'newton', got {self.solver!r}")
        return C, tol, int(self.max_iter)

    def fit(self, X, y):
        """Fit on X (n_samples, n_features) and labels y (n_samples,) of any type; returns self."""
        C, tol, max_iter = self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {self.classes_[0]!r}"
            )
        multiclass = len(self.classes_) > 2
        solve = _SOLVERS[(self.solver, multiclass)]
        lam = 1.0 / (C * X.shape[0])
        extra = {"num_classes": len(self.classes_)} if multiclass else {}
        X_pad, y_pad, weight = _pad(X, encoded)
        with float64():
            result = solve(
                X_pad, y_pad, lam, sample_weight=weight, fit_intercept=bool(self.fit_intercept),
                tol=tol, max_iter=max_iter, **extra,
            )
            w, b = to_numpy(result.w)[: X.shape[1]], to_numpy(result.b)
            n_iter, grad_norm = int(result.num_iter), float(result.grad_norm)
        self.coef_ = w.T if multiclass else w[None, :]
        self.intercept_ = np.atleast_1d(b).astype(np.float64)
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        if n_iter >= max_iter and grad_norm > tol:
            warnings.warn(
                f"LogisticRegression ({self.solver}) did not converge in {max_iter} iterations: "
                f"max |gradient| = {grad_norm:.3e} > tol = {tol:g}; increase max_iter or scale "
                "the data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def decision_function(self, X):
        """Scores Xcoef_ᵀ + intercept_: (n_samples,) for two classes (the log-odds of
        classes_[1]), (n_samples, K) otherwise."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        scores = X @ self.coef_.T + self.intercept_[None, :]
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_log_proba(self, X):
        """log P(class | x), (n_samples, K), by log σ / log-softmax in a stable form."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            # log σ(t) = −log(1 + e^{−t}) = −logaddexp(0, −t)
            return np.stack([-np.logaddexp(0.0, scores), -np.logaddexp(0.0, -scores)], axis=1)
        return _log_softmax(scores)

    def predict_proba(self, X):
        """P(class | x), (n_samples, K); rows sum to one."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each row, taken from ``classes_``."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[idx]


__all__ = ["LogisticRegression"]
