"""``LinearSVC``, ``SVC``, ``KernelRidge`` and ``KNeighborsClassifier`` over ``jaxml.kernels``.

The facade pattern of ``_linear.py``: scikit-learn's parameters stored untouched, validation by
``validate_data`` (float64), the work in jitted module-level jaxml functions inside
``float64()``, numpy attributes out. Translations to the course's conventions (DESIGN.md):

- ``LinearSVC(C)`` / ``SVC(C)`` minimize ½‖w‖² + C Σ_n [1 − y_n f(x_n)]₊, which is the course's
  (λ/2)‖w‖² + (1/N) Σ_n [1 − y_n f(x_n)]₊ times 1/λ with λ = 1/(C·N). Both are solved by the
  course's dual coordinate ascent (``jaxml.kernels.svm``), stopped when the duality gap of the
  course's objective is ≤ ``tol``; scikit-learn's dual variables are C·α.
- Intercept: the course's SVM has none. Both SVMs add a *regularized* bias the way liblinear does
  (``LinearSVC(intercept_scaling=s)``): a constant feature s, i.e. the kernel k(x, x') + s².
  ``LinearSVC`` therefore solves scikit-learn's exact problem; ``SVC`` (libsvm, an unregularized
  intercept and the constraint Σ_n α_n y_n = 0) differs slightly — its predictions agree on
  ordinary data, its objective is not the same.
- Several classes: one-vs-rest for both SVMs (``jax.vmap`` of the binary solver over the
  classes); ``SVC``'s ``decision_function`` has scikit-learn's default "ovr" shape (n, K).
- ``KernelRidge(alpha)``: α = (K + alpha·I)⁻¹y, the course's kernel ridge with λ = alpha/(2N).
- ``KNeighborsClassifier``: brute-force Euclidean kNN with uniform weights (chunked ``lax.top_k``);
  a tie in the vote goes to the smallest class, as in scikit-learn.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.core.checks import check_choice
from jaxml.kernels import (
    kernel_ridge_solve,
    kernel_svm_dual_solve,
    knn_class_counts,
    linear_kernel,
    nearest_neighbors,
    polynomial_kernel,
    rbf_kernel,
    svm_dual_solve,
)
from jaxml.sklearn._base import float64, key_from_random_state, to_numpy

_KERNELS = ("linear", "poly", "polynomial", "rbf")


def _make_kernel(kernel: str, gamma: float, degree, coef0: float) -> Partial:
    """A jaxml kernel with scikit-learn's parametrization (γ, degree, coef0 are traced leaves)."""
    if kernel == "linear":
        return Partial(linear_kernel)
    if kernel in ("poly", "polynomial"):
        return Partial(polynomial_kernel, degree=jnp.asarray(degree), gamma=jnp.asarray(gamma),
                       coef0=jnp.asarray(coef0))
    return Partial(rbf_kernel, gamma=jnp.asarray(gamma))


def _check_kernel_params(est, X, *, gamma_default):
    check_choice(est.kernel, "kernel", _KERNELS)
    gamma = est.gamma
    if gamma is None:
        gamma = gamma_default
    if gamma == "scale":
        var = float(X.var())
        gamma = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    elif gamma == "auto":
        gamma = 1.0 / X.shape[1]
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be 'scale', 'auto' or a number > 0, got {est.gamma!r}")
    degree = est.degree
    if isinstance(degree, bool) or int(degree) != degree or degree < 0:
        raise ValueError(f"degree must be an integer >= 0, got {est.degree!r}")
    coef0 = float(est.coef0)
    if not np.isfinite(coef0):
        raise ValueError(f"coef0 must be finite, got {est.coef0!r}")
    return gamma, int(degree), coef0


def _positive(value, name):
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _non_negative(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _max_epochs(max_iter):
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or (max_iter < 1 and max_iter != -1):
        raise ValueError(f"max_iter must be an integer >= 1 (or -1: no limit), got {max_iter!r}")
    return 10_000 if max_iter == -1 else int(max_iter)


def _one_vs_rest(encoded, num_classes):
    """(P, N) labels in {−1, 1}: one problem for two classes (+1 = classes_[1]), else one per class."""
    if num_classes == 2:
        return np.where(encoded == 1, 1.0, -1.0)[None, :]
    return np.where(encoded[None, :] == np.arange(num_classes)[:, None], 1.0, -1.0)


# --------------------------------------------------------------------------------------------
# SVMs
# --------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("max_epochs",))
def _fit_linear_ovr(X, Y, lam, key, tol, max_epochs):
    return jax.vmap(lambda y: svm_dual_solve(key, X, y, lam, tol=tol, max_epochs=max_epochs))(Y)


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


# --------------------------------------------------------------------------------------------
# Kernel ridge
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# k-nearest neighbours
# --------------------------------------------------------------------------------------------


class KNeighborsClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn's ``KNeighborsClassifier`` with ``algorithm="brute"``, Euclidean distance and
    uniform weights, over ``jaxml.kernels.knn`` (chunked ‖a‖² − 2aᵀb + ‖b‖², ``lax.top_k``).

    Parameters:
      n_neighbors: k ≥ 1 (≤ n_samples at predict time).
      weights: "uniform" only.
      chunk_size: queries per chunk (memory chunk_size × n_samples).

    Attributes:
      classes_, n_samples_fit_, n_features_in_.
    """

    def __init__(self, n_neighbors=5, *, weights="uniform", chunk_size=64):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.chunk_size = chunk_size

    def fit(self, X, y):
        """Store the training set (kNN has no training step); returns self."""
        if self.weights != "uniform":
            raise ValueError(f"weights must be 'uniform', got {self.weights!r}")
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_neighbors must be an integer >= 1, got {k!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, self._encoded = np.unique(y, return_inverse=True)
        self._encoded = self._encoded.astype(np.int32)
        self._X = X
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Distances (ascending) and indices of the n_neighbors nearest training points."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        self._check_k(k)
        with float64():
            sq_dist, idx = nearest_neighbors(self._X, X, k, chunk_size=self.chunk_size)
            sq_dist, idx = to_numpy(sq_dist), to_numpy(idx)
        return (np.sqrt(sq_dist), idx) if return_distance else idx

    def _check_k(self, k):
        if k > self.n_samples_fit_:
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                             f"n_samples_fit = {self.n_samples_fit_}")

    def predict_proba(self, X):
        """Share of the k neighbours in each class, (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        self._check_k(self.n_neighbors)
        with float64():
            counts = knn_class_counts(self._X, self._encoded, X, self.n_neighbors,
                                      num_classes=len(self.classes_), chunk_size=self.chunk_size)
            return to_numpy(counts).astype(np.float64) / self.n_neighbors

    def predict(self, X):
        """Majority class of the k neighbours; a tie goes to the smallest class in classes_."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


__all__ = ["KNeighborsClassifier", "KernelRidge", "LinearSVC", "SVC"]
