"""``LinearRegression``, ``Ridge`` and ``Lasso`` over ``jaxml.linear``.

The facade pattern every jaxml estimator follows:

1. ``__init__`` stores scikit-learn's parameters untouched (no validation there).
2. ``fit`` validates with ``sklearn.utils.validation.validate_data`` (float64, finite), then calls a
   jitted function defined at module level, inside ``float64()``: it compiles once per input
   shape, not once per call. Static choices (``fit_intercept``) are static arguments; swept
   values (``alpha``, ``tol``) are traced.
3. scikit-learn's parameters are translated to the course's conventions inside the jitted
   function (DESIGN.md): ``Ridge(alpha)`` minimizes ‖y − Xw‖² + alpha‖w‖², which is the course's
   (1/2N)‖y − Xw‖² + λ‖w‖² with λ = alpha/(2N); ``Lasso(alpha)`` minimizes
   (1/2N)‖y − Xw‖² + alpha‖w‖₁, i.e. λ = alpha.
4. Fitted attributes are numpy arrays; ``predict`` is X @ coef_ + intercept_ in numpy.

``fit_intercept=True`` centers X and y (x̄, ȳ), fits w on the centered data, and sets
intercept_ = ȳ − x̄ᵀw, as scikit-learn does (the intercept is not penalized).
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.linear import lasso_cd, least_squares, ridge
from jaxml.sklearn._base import float64, to_numpy


def _center(X, y, fit_intercept: bool):
    """(X − x̄, y − ȳ, x̄, ȳ) when fitting an intercept, else (X, y, 0, 0)."""
    if not fit_intercept:
        return X, y, jnp.zeros(X.shape[1], X.dtype), jnp.zeros((), y.dtype)
    x_mean, y_mean = jnp.mean(X, axis=0), jnp.mean(y)
    return X - x_mean[None, :], y - y_mean, x_mean, y_mean


def _intercept(x_mean, y_mean, coef):
    return y_mean - jnp.dot(x_mean, coef)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_least_squares(X, y, fit_intercept):
    Xc, yc, x_mean, y_mean = _center(X, y, fit_intercept)
    coef = least_squares(Xc, yc)
    return coef, _intercept(x_mean, y_mean, coef)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_ridge(X, y, alpha, fit_intercept):
    Xc, yc, x_mean, y_mean = _center(X, y, fit_intercept)
    coef = ridge(Xc, yc, alpha / (2 * X.shape[0]))
    return coef, _intercept(x_mean, y_mean, coef)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_lasso(X, y, alpha, max_iter, tol, fit_intercept):
    Xc, yc, x_mean, y_mean = _center(X, y, fit_intercept)
    result = lasso_cd(Xc, yc, alpha, max_iter=max_iter, tol=tol)
    converged = result.gap <= tol * jnp.mean(yc**2)
    return result.w, _intercept(x_mean, y_mean, result.w), result.n_iter, result.gap, converged


class _LinearModel(RegressorMixin, BaseEstimator):
    """Shared validation and prediction; subclasses implement ``_solve(X, y)``."""

    def fit(self, X, y):
        """Fit on X (n_samples, n_features) and y (n_samples,); returns self."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        with float64():
            coef, intercept = self._solve(X, y)
        self.coef_ = to_numpy(coef)
        self.intercept_ = float(intercept)
        return self

    def predict(self, X):
        """X @ coef_ + intercept_, shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class LinearRegression(_LinearModel):
    """Ordinary least squares: scikit-learn's ``LinearRegression`` over
    ``jaxml.linear.least_squares`` (normal equations; minimum-norm solution when XᵀX is singular).

    Parameters:
      fit_intercept: fit an unpenalized offset by centering X and y.
      copy_X: accepted for compatibility; X is never modified.

    Attributes:
      coef_ (n_features,), intercept_ (float), n_features_in_.
    """

    def __init__(self, *, fit_intercept=True, copy_X=True):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X

    def _solve(self, X, y):
        return _fit_least_squares(X, y, bool(self.fit_intercept))


class Ridge(_LinearModel):
    """scikit-learn's ``Ridge``: argmin ‖y − Xw‖² + alpha‖w‖², solved by ``jaxml.linear.ridge``
    with the course's λ = alpha / (2N) (Cholesky of XᵀX + alpha I).

    Parameters:
      alpha: regularization strength ≥ 0 (a scalar).
      fit_intercept: fit an unpenalized offset by centering X and y.
      copy_X: accepted for compatibility; X is never modified.

    scikit-learn's iterative-solver parameters (``solver``, ``max_iter``, ``tol``) are not taken:
    the solve is direct.

    Attributes:
      coef_ (n_features,), intercept_ (float), n_features_in_.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X

    def _solve(self, X, y):
        alpha = _non_negative(self.alpha, "alpha")
        return _fit_ridge(X, y, alpha, bool(self.fit_intercept))


class Lasso(_LinearModel):
    """scikit-learn's ``Lasso``: argmin (1/2N)‖y − Xw‖² + alpha‖w‖₁ — the course's lasso with
    λ = alpha — by cyclic coordinate descent (``jaxml.linear.lasso_cd``), stopped when the
    duality gap is ≤ tol·‖y‖²/N (scikit-learn's criterion) or after max_iter sweeps.

    Parameters:
      alpha: regularization strength ≥ 0.
      fit_intercept: fit an unpenalized offset by centering X and y.
      copy_X: accepted for compatibility; X is never modified.
      max_iter: maximum number of coordinate-descent sweeps.
      tol: duality-gap tolerance, relative to ‖y‖²/N.

    Attributes:
      coef_ (n_features,), intercept_ (float), n_iter_ (sweeps run), dual_gap_ (final duality
      gap of the objective above), n_features_in_.
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=1000, tol=1e-4):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol

    def _solve(self, X, y):
        alpha = _non_negative(self.alpha, "alpha")
        tol = _non_negative(self.tol, "tol")
        max_iter = int(self.max_iter)
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter!r}")
        coef, intercept, n_iter, gap, converged = _fit_lasso(
            X, y, alpha, max_iter, tol, bool(self.fit_intercept)
        )
        self.n_iter_ = int(n_iter)
        self.dual_gap_ = float(gap)
        if not bool(converged):
            warnings.warn(
                f"Lasso did not converge in {max_iter} sweeps: duality gap {self.dual_gap_:.3e}; "
                "increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return coef, intercept


def _non_negative(value, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


__all__ = ["Lasso", "LinearRegression", "Ridge"]
