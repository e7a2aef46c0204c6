"""``LinearSVC`` over ``jaxml.kernels.linear_svc`` (see the class docstring for the problems solved)."""

from __future__ import annotations

import warnings

import jax
import numpy as np
import sklearn.svm
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.svm._base import _get_liblinear_solver_type
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from jaxml.kernels.linear_svc import fit_linear_svc
from jaxml.sklearn._base import float64, key_from_random_state


def _resolve_dual(dual, loss, penalty, multi_class, n_samples, n_features):
    """scikit-learn's ``dual="auto"`` rule: the dual when N < D and the combination has one, else
    the primal when it has one; an explicit bool is kept (unsupported pairs raise below)."""
    if dual != "auto":
        return bool(dual)
    prefer_dual = n_samples < n_features
    try:
        _get_liblinear_solver_type(multi_class, penalty, loss, prefer_dual)
        return prefer_dual
    except ValueError:
        return not prefer_dual


def _solver(loss, penalty, dual, requested):
    """The kernel solver. "auto" with the L2 squared hinge always takes TRON: primal and dual
    have the same optimum, and TRON (matrix products) beats the coordinate loop here even when
    N < D, where scikit-learn's rule would pick the dual."""
    if penalty == "l1":
        return "l1_squared_hinge"
    if loss == "hinge":
        return "dual_hinge"
    return "dual_squared_hinge" if dual and requested != "auto" else "tron"


class LinearSVC(LinearClassifierMixin, BaseEstimator):
    """scikit-learn's ``LinearSVC`` (liblinear's problems and stopping rules) over
    ``jaxml.kernels.linear_svc``.

    One-vs-rest: problem k has y_n = +1 for class k (two classes: one problem, +1 = classes_[1]),
    per-sample costs c_n = C · class_weight · sample_weight (liblinear: in a multiclass problem the
    class weight applies to the positive class only; samples with weight ≤ 0 are left out), and
    with ``fit_intercept`` the constant feature s = ``intercept_scaling`` appended to x, its weight
    regularized like the others (intercept_ = s · w_{D+1}):

      penalty="l2", loss="squared_hinge"   min ½‖w‖² + Σ_n c_n [1 − y_n wᵀx_n]₊²
      penalty="l2", loss="hinge"           min ½‖w‖² + Σ_n c_n [1 − y_n wᵀx_n]₊
      penalty="l1", loss="squared_hinge"   min ‖w‖₁ + Σ_n c_n [1 − y_n wᵀx_n]₊²

    Solvers (liblinear's, same stopping rules): the L2 squared hinge with ``dual=False`` or
    ``dual="auto"`` (the default; also when N < D, where scikit-learn would take the dual: same
    optimum, and the primal is the faster here) by trust-region Newton–CG (TRON); the hinge, and
    the squared hinge with ``dual=True``, by dual coordinate descent with shrinking; the L1
    penalty by coordinate descent over features. ``dual`` follows scikit-learn ("auto": the dual
    when N < D and available, else the primal) and raises its ValueError for a combination
    liblinear does not have.

    Parameters (scikit-learn's, same defaults):
      penalty, loss, dual, tol (liblinear's ε), C, fit_intercept, intercept_scaling,
      class_weight (dict or "balanced"), random_state (seeds the coordinate orders; not
      liblinear's draws, so dual solutions at loose tol differ within tol), max_iter (Newton
      steps or epochs). The primal tolerance counts a sample of weight k as k samples (so that
      weights equal repeats; liblinear counts every kept sample once — the same for unit weights).
      multi_class: "ovr"; "crammer_singer" raises ValueError (not implemented).
      verbose: accepted, no effect (nothing is printed).

    Attributes:
      classes_, coef_ (1, D) or (K, D), intercept_ ((1,) or (K,); 0.0 without intercept),
      n_iter_ (the largest iteration count over the problems), n_features_in_,
      feature_names_in_. Float32 input is fitted in float64, as scikit-learn does.
    """

    _parameter_constraints: dict = dict(sklearn.svm.LinearSVC._parameter_constraints)

    def __init__(
        self,
        penalty="l2",
        loss="squared_hinge",
        *,
        dual="auto",
        tol=1e-4,
        C=1.0,
        multi_class="ovr",
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        verbose=0,
        random_state=None,
        max_iter=1000,
    ):
        self.dual = dual
        self.tol = tol
        self.C = C
        self.multi_class = multi_class
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.verbose = verbose
        self.random_state = random_state
        self.max_iter = max_iter
        self.penalty = penalty
        self.loss = loss

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n_samples, n_features), labels y of any type, optional sample weights; returns self."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        dual = _resolve_dual(self.dual, self.loss, self.penalty, self.multi_class, *X.shape)
        # scikit-learn's errors for combinations liblinear has no solver for.
        _get_liblinear_solver_type(self.multi_class, self.penalty, self.loss, dual)
        if self.multi_class == "crammer_singer":
            raise ValueError("multi_class='crammer_singer' is not implemented in jaxml; use multi_class='ovr'")
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but the data "
                             f"contains only one class: {self.classes_[0]!r}")
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        class_weight = compute_class_weight(self.class_weight, classes=self.classes_, y=y,
                                            sample_weight=sample_weight)
        sample_weight = np.maximum(sample_weight, 0.0)
        Y, Cs = self._problems(encoded, n_classes, class_weight, sample_weight)
        solver = _solver(self.loss, self.penalty, dual, self.dual)
        with float64():
            sol = fit_linear_svc(key_from_random_state(self.random_state), X, Y, Cs, sample_weight, float(self.tol),
                                 int(self.max_iter), float(self.intercept_scaling), solver=solver,
                                 fit_intercept=bool(self.fit_intercept))
            w, n_iter = jax.device_get((sol.w, sol.num_iter))
        self.n_iter_ = int(np.max(n_iter))
        if self.n_iter_ >= self.max_iter:
            warnings.warn("Liblinear failed to converge, increase the number of iterations.",
                          ConvergenceWarning, stacklevel=2)
        w = np.asarray(w)
        if self.fit_intercept:
            self.coef_ = np.ascontiguousarray(w[:, :-1])
            self.intercept_ = self.intercept_scaling * w[:, -1]
        else:
            self.coef_ = w
            self.intercept_ = 0.0
        return self

    def _problems(self, encoded, n_classes, class_weight, sample_weight):
        """(Y, Cs), each (P, N): labels ±1 and costs C·weight_class·sample_weight per problem."""
        C = float(self.C)
        if n_classes == 2:
            positive = encoded == 1
            Y = np.where(positive, 1.0, -1.0)[None, :]
            Cs = (C * np.where(positive, class_weight[1], class_weight[0]) * sample_weight)[None, :]
            return Y, Cs
        positive = encoded[None, :] == np.arange(n_classes)[:, None]
        Y = np.where(positive, 1.0, -1.0)
        Cs = C * np.where(positive, class_weight[:, None], 1.0) * sample_weight[None, :]
        return Y, Cs


__all__ = ["LinearSVC"]
