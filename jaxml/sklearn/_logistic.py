"""``LogisticRegression`` and ``LogisticRegressionCV`` over ``jaxml.linear`` (sigmoid and softmax).

scikit-learn's ``LogisticRegression(C, l1_ratio=ρ)`` with sample weights s (times the class
weights) minimizes

    C Σ_n s_n ℓ(x_n, y_n) + ρ‖W‖₁ + ½(1 − ρ)‖W‖²
    ⇔  Σ_n v_n ℓ(x_n, y_n) + α‖W‖₁ + (λ/2)‖W‖²,   v = s/Σs, α = ρ/(CΣs), λ = (1 − ρ)/(CΣs),

the course's objective (DESIGN.md; v = 1/N without weights); the intercept is not penalized
(except by 'liblinear', below) and ``C=np.inf`` (or the deprecated ``penalty=None``) is λ = α = 0.
Two classes use the sigmoid model σ(xᵀw + b) (``coef_`` (1, D)); three or more the multinomial
softmax model (``coef_`` (K, D); intercepts centred to sum to zero, as scikit-learn's solvers
leave them from a zero start).

Solvers. scikit-learn's names are accepted where they are valid in scikit-learn (the same
penalty/solver/dual combinations are rejected with the same messages) and mapped to the jaxml
solver that minimizes the same function; all stop when the largest entry of the gradient (of
the minimum-norm subgradient with an L1 term) is ≤ ``tol``, scikit-learn's ``gtol`` for lbfgs:

=====================================  =========================================================
scikit-learn ``solver``, penalty       jaxml
=====================================  =========================================================
'lbfgs', 'newton-cg', 'sag', 'saga'    L-BFGS with an exact line search (``glm_lbfgs``)
  with L2 or none
'newton-cholesky', two classes         damped Newton, hand Hessian (``fit_logistic_newton``)
'newton-cholesky', K classes           L-BFGS (the (DK)² Hessian is not worth forming here)
'newton' (jaxml only)                  damped Newton (autodiff Hessian for K classes)
'saga' with L1 or elastic-net          proximal Newton (``jaxml.linear.logistic_l1``)
'liblinear' (two classes only)         the above on [X, intercept_scaling] without intercept:
                                       liblinear penalizes the intercept's synthetic weight
=====================================  =========================================================

'liblinear' with ``dual=True`` solves the same primal problem. ``random_state`` only seeds
scikit-learn's stochastic solvers and ``n_jobs``, ``verbose`` do not change the result: they are
accepted and ignored (``n_jobs`` warns as scikit-learn does).

dtype: float64 and float32 X are kept (as scikit-learn does): the solve runs in X's dtype inside
``float64()`` and the fitted attributes have X's dtype. Small problems pad the rows to a few
bucketed sizes (zero weight) so that new sizes reuse a compiled program; large ones are passed
as they are (a copy of X would cost as much as several solver iterations) and compile once per
shape.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import sklearn.linear_model as _sk
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxml.linear import logistic as _lg
from jaxml.linear.logistic_l1 import binary_prox_newton, softmax_prox_newton
from jaxml.sklearn._base import float64

_SOLVERS = {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga", "newton"}

# Problems with at most this many entries in X are padded to bucketed row counts; above it the
# copy costs more than a compilation saves.
_PAD_MAX_SIZE = 1 << 18


def _bucket(size: int, minimum: int = 16) -> int:
    """The padded size: the next power of two up to 1024, then the next multiple of 1/8 of
    the leading power of two (at most 12.5% padding)."""
    if size <= minimum:
        return minimum
    if size <= 1024:
        return 1 << (size - 1).bit_length()
    step = 1 << (size.bit_length() - 4)
    return -(-size // step) * step


def _check_solver(solver, penalty, dual):
    """scikit-learn's solver/penalty/dual compatibility rules and messages ('newton' as 'lbfgs')."""
    if solver not in ["liblinear", "saga"] and penalty not in ("l2", None):
        raise ValueError(f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty.")
    if solver != "liblinear" and dual:
        raise ValueError(f"Solver {solver} supports only dual=False, got dual={dual}")
    if penalty == "elasticnet" and solver != "saga":
        raise ValueError(f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
    if solver == "liblinear" and penalty is None:
        raise ValueError("C=np.inf as well as penalty=None is not supported for the liblinear solver")
    return solver


def _jaxml_solver(solver: str, penalty: str, multiclass: bool) -> str:
    """The jaxml solver kind for a scikit-learn solver name and penalty (module docstring)."""
    if penalty in ("l1", "elasticnet"):
        return "prox_newton"
    if solver == "newton" or (solver == "newton-cholesky" and not multiclass):
        return "newton"
    return "lbfgs"


def _strengths(penalty, C, l1_ratio, weight_sum):
    """(λ, α): the L2 and L1 strengths of the mean-loss objective for scikit-learn's C and ρ."""
    if C == np.inf:
        return 0.0, 0.0
    scale = 1.0 / (C * weight_sum)
    if penalty == "l1":
        return 0.0, scale
    if penalty == "elasticnet":
        return (1.0 - l1_ratio) * scale, l1_ratio * scale
    return scale, 0.0


def _solve_one(kind, X, labels, v, l2, l1, tol, max_iter, w0, b0, *, num_classes, fit_intercept, cold=False):
    """One fit from (w0, b0) (un-jitted; inside the kernels below). Binary: w (D,), b ();
    K classes: W (D, K), b (K,)."""
    if num_classes == 2:
        y = labels.astype(X.dtype)
        if kind == "lbfgs":
            return _lg.glm_lbfgs(X, y, v, l2, tol, max_iter, w0[:, None], b0[None], binary=True,
                                 fit_intercept=fit_intercept, cold=cold)
        if kind == "newton":
            return _lg._fit_binary_newton(X, y, v, l2, tol, max_iter, w0, b0, fit_intercept=fit_intercept)
        return binary_prox_newton(X, y, v, l2, l1, tol, max_iter, w0, b0, fit_intercept=fit_intercept)
    Y = jax.nn.one_hot(labels, num_classes, dtype=X.dtype)
    if kind == "lbfgs":
        fit = _lg.glm_lbfgs(X, Y, v, l2, tol, max_iter, w0, b0, binary=False, fit_intercept=fit_intercept,
                            cold=cold)
        return fit._replace(b=fit.b - jnp.mean(fit.b))
    if kind == "newton":
        return _lg._softmax_newton(X, Y, v, l2, tol, max_iter, w0, b0, fit_intercept=fit_intercept)
    return softmax_prox_newton(X, Y, v, l2, l1, tol, max_iter, w0, b0, fit_intercept=fit_intercept)


@functools.partial(jax.jit, static_argnames=("kind", "num_classes", "fit_intercept", "cold"))
def _fit_kernel(X, labels, v, l2, l1, tol, max_iter, w0, b0, *, kind, num_classes, fit_intercept, cold):
    fit = _solve_one(kind, X, labels, v, l2, l1, tol, max_iter, w0, b0, num_classes=num_classes,
                     fit_intercept=fit_intercept, cold=cold)
    return fit.w, fit.b, fit.num_iter, fit.grad_norm


@functools.partial(jax.jit, static_argnames=("kind", "num_classes", "fit_intercept"))
def _path_kernel(X, labels, V, l2s, l1s, tol, max_iter, w0, b0, *, kind, num_classes, fit_intercept):
    """The regularization path of every fold: folds vmapped (V (F, N) their training weights,
    summing to one), the grid (l2s, l1s (G, F)) along a ``lax.scan`` in which each fold starts
    from its solution at the previous grid point. Returns w (G, F, ...), b, iterations (G, F)."""

    def one(v, l2, l1, w, b):
        fit = _solve_one(kind, X, labels, v, l2, l1, tol, max_iter, w, b, num_classes=num_classes,
                         fit_intercept=fit_intercept)
        return fit.w, fit.b, fit.num_iter

    def step(carry, strengths):
        w, b = carry
        w, b, it = jax.vmap(one)(V, *strengths, w, b)
        return (w, b), (w, b, it)

    _, (ws, bs, its) = jax.lax.scan(step, (w0, b0), (l2s, l1s))
    return ws, bs, its


def _to_device(X: np.ndarray) -> jax.Array:
    """X (C-contiguous) on the default device. ``jax.device_put`` aliases a 64-byte aligned
    host array instead of copying it; an unaligned one is first copied into an aligned buffer
    by numpy, which was several times faster than XLA's own copy (about 50 vs 200-450 ms for
    80 MB)."""
    if X.ctypes.data % 64 != 0 and jax.default_backend() == "cpu":
        buffer = np.empty(X.nbytes + 64, np.uint8)
        offset = -buffer.ctypes.data % 64
        aligned = buffer[offset: offset + X.nbytes].view(X.dtype).reshape(X.shape)
        np.copyto(aligned, X)
        X = aligned
    return jax.device_put(X)


def _resolve_penalty(est):
    """(penalty, l1_ratio) from ``penalty``/``l1_ratio``/``C`` with scikit-learn's warnings."""
    if est.penalty == "deprecated":
        if est.l1_ratio == 0 or est.l1_ratio is None:
            penalty = "l2"
            if est.l1_ratio is None:
                warnings.warn(
                    "'l1_ratio=None' was deprecated in version 1.8 and will trigger an error in 1.10. "
                    "Use 0<=l1_ratio<=1 instead.",
                    FutureWarning, stacklevel=3,
                )
        elif est.l1_ratio == 1:
            penalty = "l1"
        else:
            penalty = "elasticnet"
        if est.C == np.inf:
            penalty = None
    else:
        penalty = est.penalty
        warnings.warn(
            "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this warning, "
            "leave 'penalty' set to its default value and use 'l1_ratio' or 'C' instead. Use l1_ratio=0 "
            "instead of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio set to a float between "
            "0 and 1 instead of penalty='elasticnet', and C=np.inf instead of penalty=None.",
            FutureWarning, stacklevel=3,
        )
    return penalty


def _sample_weights(class_weight, sample_weight, X, y, classes, encoded):
    """s = sample_weight × class_weight[y] (scikit-learn's rule), or None for unit weights."""
    if sample_weight is None and class_weight is None:
        return None
    sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, copy=True)
    if class_weight is not None:
        cw = compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sample_weight)
        sw *= cw[encoded].astype(X.dtype)
    return sw


def _max_iter_warning(name, solver, n_iter, max_iter, grad_norm, tol):
    if n_iter >= max_iter and not grad_norm <= tol:
        warnings.warn(
            f"{name} ({solver}) did not converge in {max_iter} iterations: max |gradient| = "
            f"{grad_norm:.3e} > tol = {tol:g}; increase max_iter or scale the data.",
            ConvergenceWarning, stacklevel=3,
        )


class _Problem:
    """The data of a fit in the solver's form (shared by ``LogisticRegression`` and the CV)."""

    def __init__(self, X, encoded, num_classes, weights, solver, penalty, fit_intercept, intercept_scaling):
        self.liblinear = solver == "liblinear"
        if self.liblinear and fit_intercept:
            # liblinear's synthetic feature: x ↦ [x, intercept_scaling], its weight penalized
            X = np.hstack([X, np.full((X.shape[0], 1), intercept_scaling, X.dtype)])
        self.fit_intercept = fit_intercept and not self.liblinear
        self.intercept_scaling = intercept_scaling if self.liblinear and fit_intercept else None
        self.num_classes = num_classes
        self.kind = _jaxml_solver(solver, penalty, num_classes > 2)
        self.dtype = X.dtype
        n, self.n_features = X.shape
        self.weight_sum = float(n if weights is None else np.sum(weights))
        n_pad = _bucket(n) if X.size <= _PAD_MAX_SIZE else n
        if n_pad != n:
            X = np.concatenate([X, np.zeros((n_pad - n, X.shape[1]), X.dtype)])
            encoded = np.concatenate([encoded, np.zeros(n_pad - n, encoded.dtype)])
        v = np.zeros(n_pad, X.dtype)
        v[:n] = 1.0 / n if weights is None else weights / self.weight_sum
        self.X, self.labels, self.v = X, encoded.astype(np.int32), v

    def initial(self, coef, intercept):
        """(w0, b0) in the solver's layout from scikit-learn-shaped coef_/intercept_ (or zeros)."""
        d, k = self.n_features, self.num_classes
        if k == 2:
            if coef is None:
                return np.zeros(d, self.dtype), np.zeros((), self.dtype)
            w0, b0 = np.asarray(coef, self.dtype).reshape(-1), np.asarray(intercept[0], self.dtype)
            if self.intercept_scaling is not None:
                w0 = np.append(w0, b0 / self.intercept_scaling).astype(self.dtype)
            return w0, np.zeros((), self.dtype) if self.intercept_scaling is not None else b0
        if coef is None:
            return np.zeros((d, k), self.dtype), np.zeros(k, self.dtype)
        return np.asarray(coef, self.dtype).T.copy(), np.asarray(intercept, self.dtype)

    def attributes(self, w, b):
        """(coef_, intercept_) in scikit-learn's shapes from the solver's (w, b)."""
        w, b = np.asarray(w, self.dtype), np.asarray(b, self.dtype)
        if self.num_classes == 2:
            coef, intercept = w[None, :], np.atleast_1d(b).astype(self.dtype)
            if self.intercept_scaling is not None:
                coef, intercept = coef[:, :-1], (self.intercept_scaling * coef[:, -1]).astype(self.dtype)
            return np.ascontiguousarray(coef), intercept
        return np.ascontiguousarray(w.T), b


def _fit_problem(problem, C, penalty, l1_ratio, tol, max_iter, coef_init=None, intercept_init=None):
    """Solve one problem; returns (coef_, intercept_, n_iter, grad_norm)."""
    w0, b0 = problem.initial(coef_init, intercept_init)
    if max_iter == 0:
        coef, intercept = problem.attributes(w0, b0)
        return coef, intercept, 0, np.inf
    l2, l1 = _strengths(penalty, C, l1_ratio, problem.weight_sum)
    dtype = problem.dtype
    with float64():
        out = _fit_kernel(
            _to_device(problem.X), problem.labels, problem.v, np.asarray(l2, dtype), np.asarray(l1, dtype),
            np.asarray(tol, dtype), np.asarray(max_iter, np.int32), w0, b0,
            kind=problem.kind, num_classes=problem.num_classes, fit_intercept=problem.fit_intercept,
            cold=coef_init is None,
        )
        w, b, n_iter, grad_norm = jax.device_get(out)
    coef, intercept = problem.attributes(w, b)
    return coef, intercept, int(n_iter), float(grad_norm)


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """scikit-learn's ``LogisticRegression`` (same parameters and defaults) over jaxml's solvers.

    Minimizes Σ_n v_n ℓ_n + α‖W‖₁ + (λ/2)‖W‖² with v = s/Σs, α = ρ/(CΣs), λ = (1 − ρ)/(CΣs)
    (ρ = ``l1_ratio``; s the sample weights times the class weights): the module docstring gives
    the mapping of scikit-learn's solver names to jaxml's solvers. ``tol``: stop when the largest
    entry of the (minimum-norm sub)gradient of that objective is ≤ tol. ``warm_start=True``
    starts from the previous ``coef_``/``intercept_``. ``random_state``, ``verbose`` and
    ``n_jobs`` do not change the result (accepted and ignored; ``n_jobs`` warns as in
    scikit-learn); ``dual=True`` (liblinear) gives the same solution as the primal.

    Attributes:
      classes_ (K,), coef_ (1, D) or (K, D), intercept_ (1,) or (K,), n_iter_ (1,),
      n_features_in_; float32 X gives float32 coef_ and intercept_.
    """

    _parameter_constraints: dict = {
        **_sk.LogisticRegression._parameter_constraints,
        "solver": [StrOptions(_SOLVERS)],
    }

    def __init__(
        self,
        penalty="deprecated",
        *,
        C=1.0,
        l1_ratio=0.0,
        dual=False,
        tol=1e-4,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        verbose=0,
        warm_start=False,
        n_jobs=None,
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n_samples, n_features), labels y (n_samples,) of any type and optional
        sample_weight (n_samples,); returns self."""
        self._validate_params()
        penalty = _resolve_penalty(self)
        solver = _check_solver(self.solver, penalty, self.dual)
        if penalty != "elasticnet" and self.l1_ratio is not None and 0 < self.l1_ratio < 1:
            warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got (penalty={penalty})",
                          stacklevel=2)
        if (self.penalty == "l2" and self.l1_ratio != 0) or (self.penalty == "l1" and self.l1_ratio != 1):
            warnings.warn(f"Inconsistent values: penalty={self.penalty} with l1_ratio={self.l1_ratio}. penalty is "
                          "deprecated. Please use l1_ratio only.", stacklevel=2)
        if penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
        C = self.C
        if self.penalty is None:
            if self.C != 1.0:
                warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters", stacklevel=2)
            C, penalty = np.inf, "l2"
        if penalty is None:
            penalty = "l2"
        if self.n_jobs is not None:
            warnings.warn(f"'n_jobs' has no effect since 1.8 and will be removed in 1.10. You provided "
                          f"'n_jobs={self.n_jobs}', please leave it unspecified.", FutureWarning, stacklevel=2)

        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if solver == "liblinear":
            if n_classes > 2:
                raise ValueError(
                    "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). "
                    "Either use another solver or wrap the estimator in a OneVsRestClassifier to keep "
                    "applying a one-versus-rest scheme."
                )
            if np.max(X) > 1e30:
                raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results "
                                 "in a frozen fit. Please choose another solver or rescale the input X.")
        if n_classes < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data contains only one "
                f"class: {self.classes_[0]!r}"
            )
        weights = _sample_weights(self.class_weight, sample_weight, X, y, self.classes_, encoded)
        coef_init = intercept_init = None
        if self.warm_start and getattr(self, "coef_", None) is not None:
            coef_init, intercept_init = self.coef_, self.intercept_
            expected = (1 if n_classes == 2 else n_classes, X.shape[1])
            if coef_init.shape != expected:
                raise ValueError(f"Initialization coef is of shape {coef_init.shape}, expected shape {expected}")
        problem = _Problem(X, encoded, n_classes, weights, solver, penalty, bool(self.fit_intercept),
                           self.intercept_scaling)
        l1_ratio = 0.0 if self.l1_ratio is None else float(self.l1_ratio)
        coef, intercept, n_iter, grad_norm = _fit_problem(
            problem, C, penalty, l1_ratio, float(self.tol), int(self.max_iter), coef_init, intercept_init
        )
        self.coef_, self.intercept_ = coef, intercept
        self.n_iter_ = np.array([n_iter], dtype=np.int32)
        _max_iter_warning(type(self).__name__, solver, n_iter, int(self.max_iter), grad_norm, float(self.tol))
        return self

    def decision_function(self, X):
        """Scores Xcoef_ᵀ + intercept_: (n_samples,) for two classes (the log-odds of
        classes_[1]), (n_samples, K) otherwise."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        scores = X @ self.coef_.T + self.intercept_[None, :]
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_log_proba(self, X):
        """log P(class | x), (n_samples, K): log σ(±t) = −log(1 + e^{∓t}) for two classes, the
        log-softmax t_k − logsumexp(t) for K."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.stack([-np.logaddexp(0, scores), -np.logaddexp(0, -scores)], axis=1)
        shifted = scores - scores.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict_proba(self, X):
        """P(class | x) = σ / softmax of the scores, (n_samples, K); rows sum to one."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each row, taken from ``classes_``."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[idx]




def _fold_weights(n_pad, folds, weights, class_weight, encoded, classes):
    """Training weights of every fold, (F, n_pad): s_n × class_weight[y_n] on its training rows."""
    base = np.ones(len(encoded)) if weights is None else np.asarray(weights, np.float64)
    if class_weight is not None:
        base = base * np.array([class_weight.get(c, 1.0) for c in classes])[encoded]
    V = np.zeros((len(folds), n_pad))
    for f, (train, _) in enumerate(folds):
        V[f, train] = base[train]
    return V


def _fold_scorer(scoring, classes):
    """scikit-learn's per-fold scorer for ``LogisticRegressionCV`` (None: the estimator's score)."""
    if scoring is None:
        return None
    scorer = get_scorer(scoring)
    sig = inspect.signature(scorer._score_func).parameters if hasattr(scorer, "_score_func") else []
    if "labels" in sig:
        # the test fold may lack a class: pass every label, as scikit-learn does
        pos_label = {"pos_label": classes[-1]} if len(classes) <= 2 and "pos_label" in sig else {}
        scorer = make_scorer(
            scorer._score_func, greater_is_better=scorer._sign == 1, response_method=scorer._response_method,
            labels=classes, **pos_label, **getattr(scorer, "_kwargs", {}),
        )
    return scorer


class LogisticRegressionCV(LogisticRegression):
    """scikit-learn's ``LogisticRegressionCV`` (same parameters, defaults and fitted attributes:
    ``Cs_``, ``l1_ratios_``, ``scores_``, ``coefs_paths_``, ``n_iter_``, ``C_``, ``l1_ratio_``,
    ``coef_``, ``intercept_``) over one compiled regularization path.

    For each l1_ratio, every fold's fit along the grid of C runs in one jitted call: the folds
    are vmapped (as training weights on the whole X, zero on the test rows), the values of C are
    taken in the given order along a ``lax.scan`` and each fold starts from its own solution at
    the previous C (the warm-started path of ``grid_search_cv(warm_start=True)`` and of
    scikit-learn's ``_logistic_regression_path``). Each fit minimizes the objective of
    ``LogisticRegression`` with λ, α from C and the fold's Σs, with the same solver mapping.
    Scores use scikit-learn's scorers on the test folds; with ``refit=True`` the best C (summed
    score over folds) is refitted on all the data from the mean of the folds' solutions.
    ``n_jobs``, ``verbose`` and ``random_state`` do not change the result (accepted, ignored).
    X is validated to float64 as scikit-learn's ``LogisticRegressionCV`` does.
    """

    _parameter_constraints: dict = {
        **_sk.LogisticRegressionCV._parameter_constraints,
        "solver": [StrOptions(_SOLVERS)],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios="warn",
        fit_intercept=True,
        cv=None,
        dual=False,
        penalty="deprecated",
        scoring="warn",
        solver="lbfgs",
        tol=1e-4,
        max_iter=100,
        class_weight=None,
        n_jobs=None,
        verbose=0,
        refit=True,
        intercept_scaling=1.0,
        random_state=None,
        use_legacy_attributes="warn",
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.dual = dual
        self.penalty = penalty
        self.scoring = scoring
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.solver = solver
        self.refit = refit
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.use_legacy_attributes = use_legacy_attributes

    def _resolve(self):
        """(penalty, l1_ratios as given or None, l1_ratios_ grid, scoring, legacy) with
        scikit-learn's warnings and checks."""
        if isinstance(self.l1_ratios, str) and self.l1_ratios == "warn":
            l1_ratios = None
            warnings.warn(
                "The default value for l1_ratios will change from None to (0.0,) in version 1.10. From version "
                "1.10 onwards, only array-like with values in [0, 1] will be allowed, None will be forbidden. "
                "To avoid this warning, explicitly set a value, e.g. l1_ratios=(0,).",
                FutureWarning, stacklevel=3,
            )
        else:
            l1_ratios = self.l1_ratios
        if self.penalty == "deprecated":
            if self.l1_ratios is None:
                warnings.warn("'l1_ratios=None' was deprecated in version 1.8 and will trigger an error in 1.10. "
                              "Use an array-like with values in [0, 1] instead.", FutureWarning, stacklevel=3)
            if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
                penalty = "l2"
            elif np.all(np.asarray(l1_ratios) == 1):
                penalty = "l1"
            else:
                penalty = "elasticnet"
        else:
            penalty = self.penalty
            warnings.warn(
                "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this warning, "
                "leave 'penalty' set to its default value and use 'l1_ratios' and 'Cs' instead.",
                FutureWarning, stacklevel=3,
            )
        if self.scoring == "warn":
            warnings.warn(
                "The default value of the parameter 'scoring' will change from None, i.e. accuracy, to "
                "'neg_log_loss' in version 1.11. To silence this warning, explicitly set the scoring parameter: "
                "scoring='neg_log_loss' for the new, scoring='accuracy' or scoring=None for the old default.",
                FutureWarning, stacklevel=3,
            )
            scoring = None
        else:
            scoring = self.scoring
        if self.use_legacy_attributes == "warn":
            warnings.warn(
                f"The fitted attributes of {type(self).__name__} will be simplified in scikit-learn 1.10 to "
                "remove redundancy. Set `use_legacy_attributes=False` to enable the new behavior now, or set it "
                "to `True` to silence this warning during the transition period.",
                FutureWarning, stacklevel=3,
            )
            legacy = True
        else:
            legacy = self.use_legacy_attributes
        _check_solver(self.solver, penalty, self.dual)
        if penalty == "elasticnet":
            if l1_ratios is None or len(l1_ratios) == 0 or any(
                not isinstance(r, numbers.Number) or r < 0 or r > 1 for r in l1_ratios
            ):
                raise ValueError(
                    f"l1_ratios must be an array-like of numbers between 0 and 1; got (l1_ratios={l1_ratios!r})"
                )
            grid = list(l1_ratios)
        else:
            if l1_ratios is not None and self.penalty != "deprecated":
                warnings.warn(f"l1_ratios parameter is only used when penalty is 'elasticnet'. Got "
                              f"(penalty={penalty})", stacklevel=3)
            grid = [None] if l1_ratios is None else list(l1_ratios)
        return penalty, l1_ratios, grid, scoring, legacy

    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate C (and l1_ratio) on X, y, then refit (``refit=True``) or average the
        folds' best models; returns self. ``params`` go to the scorer (e.g. its ``sample_weight``
        comes from ``sample_weight``)."""
        self._validate_params()
        penalty, l1_ratios, l1_grid, scoring, legacy = self._resolve()
        solver = self.solver
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        n_features = X.shape[1]
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        encoded = encoder.transform(y)
        n_classes = len(self.classes_)
        is_binary = n_classes == 2
        if n_classes < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data contains only one "
                f"class: {self.classes_[0]}."
            )
        if solver == "liblinear" and not is_binary:
            raise ValueError(
                "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). Either "
                "use another solver or wrap the estimator in a OneVsRestClassifier to keep applying a "
                "one-versus-rest scheme."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        score_params = dict(params)
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))

        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            if not set(class_weight.keys()) <= set(self.classes_):
                raise ValueError(
                    "The given class_weight dict must have the class labels as keys; "
                    f"classes={self.classes_} but key={class_weight.keys()}"
                )
        elif class_weight == "balanced":
            cw = compute_class_weight("balanced", classes=self.classes_, y=y, sample_weight=sample_weight)
            class_weight = dict(zip(self.classes_, cw, strict=True))

        Cs = np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, numbers.Integral) else np.asarray(self.Cs, float)
        self.Cs_ = Cs
        tol, max_iter = float(self.tol), int(self.max_iter)
        # every fold sees the whole (padded) X; its test rows get weight 0
        problem = _Problem(X, encoded, n_classes, None, solver, penalty, bool(self.fit_intercept),
                           self.intercept_scaling)
        V = _fold_weights(problem.X.shape[0], folds, sample_weight, class_weight, encoded, self.classes_)
        sums = V.sum(axis=1)
        V = (V / sums[:, None]).astype(np.float64)
        w0, b0 = problem.initial(None, None)
        n_folds, n_cs = len(folds), len(Cs)
        W0 = np.broadcast_to(w0, (n_folds, *w0.shape))
        B0 = np.broadcast_to(b0, (n_folds, *b0.shape))

        scorer = _fold_scorer(scoring, self.classes_)
        shell = LogisticRegression()
        shell.classes_, shell.n_features_in_ = self.classes_, n_features
        n_dof = n_features + int(self.fit_intercept)
        shape = (n_dof,) if is_binary else (n_classes, n_dof)
        paths = np.empty((n_folds, len(l1_grid), n_cs, *shape))
        scores = np.empty((n_folds, len(l1_grid), n_cs))
        n_iter = np.zeros((n_folds, len(l1_grid), n_cs), np.int32)
        for r, ratio in enumerate(l1_grid):
            rho = 0.0 if ratio is None else float(ratio)
            strengths = np.array([[_strengths(penalty, C, rho, s) for s in sums] for C in Cs])  # (G, F, 2)
            if max_iter == 0:
                ws = np.broadcast_to(W0, (n_cs, *W0.shape))
                bs = np.broadcast_to(B0, (n_cs, *B0.shape))
                its = np.zeros((n_cs, n_folds), np.int32)
            else:
                with float64():
                    out = _path_kernel(
                        _to_device(problem.X), problem.labels, V, strengths[..., 0], strengths[..., 1],
                        np.float64(tol), np.int32(max_iter), W0, B0,
                        kind=problem.kind, num_classes=n_classes, fit_intercept=problem.fit_intercept,
                    )
                    ws, bs, its = jax.device_get(out)
            n_iter[:, r, :] = np.asarray(its).T
            for f, (_, test) in enumerate(folds):
                X_test, y_test = X[test], y[test]
                sw_test = None if sample_weight is None else sample_weight[test]
                fold_params = {k: (v[test] if hasattr(v, "__len__") and len(v) == len(y) else v)
                               for k, v in score_params.items()}
                for g in range(n_cs):
                    coef, intercept = problem.attributes(ws[g, f], bs[g, f])
                    full = np.hstack([coef, intercept[:, None]]) if self.fit_intercept else coef
                    paths[f, r, g] = full[0] if is_binary else full
                    shell.coef_, shell.intercept_ = coef, intercept if self.fit_intercept else np.zeros_like(intercept)
                    if scorer is None:
                        scores[f, r, g] = shell.score(X_test, y_test, sample_weight=sw_test)
                    else:
                        scores[f, r, g] = scorer(shell, X_test, y_test, **fold_params)
        self._set_attributes(X, y, encoded, sample_weight, class_weight, penalty, l1_ratios, l1_grid, legacy,
                             paths, scores, n_iter, folds, solver, tol, max_iter)
        return self

    def _set_attributes(self, X, y, encoded, sample_weight, class_weight, penalty, l1_ratios, l1_grid, legacy,
                        paths, scores, n_iter, folds, solver, tol, max_iter):
        """scikit-learn's fitted attributes from the paths (F, R, G, ...) and scores (F, R, G)."""
        n_features = X.shape[1]
        n_classes = len(self.classes_)
        is_binary = n_classes == 2
        labels = self.classes_[1:] if is_binary else self.classes_
        n_out = 1 if is_binary else n_classes
        # scikit-learn's layout: coefs_paths (n_out, F, G, R, dof), scores (F, G, R)
        if is_binary:
            coefs_paths = np.swapaxes(paths, 1, 2)[None, ...]
        else:
            coefs_paths = np.moveaxis(paths, (0, 1, 2, 3), (1, 3, 2, 0))
        self.n_iter_ = np.swapaxes(n_iter, 1, 2)[None, ...]
        tiled = np.tile(np.swapaxes(scores, 1, 2)[None, ...], (n_out, 1, 1, 1))
        self.scores_ = dict(zip(labels, tiled, strict=True))
        self.coefs_paths_ = dict(zip(labels, coefs_paths, strict=True))
        self.C_, self.l1_ratio_ = [], []
        fold_scores = self.scores_[labels[0]]
        if self.refit:
            summed = fold_scores.sum(axis=0)
            best = np.unravel_index(np.argmax(summed), summed.shape)
            C_ = self.Cs_[best[0]]
            ratio = l1_grid[best[1]]
            self.C_.append(C_)
            self.l1_ratio_.append(ratio)
            if is_binary:
                init = np.mean(coefs_paths[0, :, best[0], best[1], :], axis=0)
            else:
                init = np.mean(coefs_paths[:, :, best[0], best[1], :], axis=1)
            init = np.atleast_2d(init)
            coef_init = init[:, :n_features]
            intercept_init = init[:, -1] if self.fit_intercept else np.zeros(n_out)
            weights = _sample_weights(class_weight, sample_weight, X, y, self.classes_, encoded)
            problem = _Problem(X, encoded, n_classes, weights, solver, penalty, bool(self.fit_intercept),
                               self.intercept_scaling)
            coef, intercept, _, _ = _fit_problem(problem, C_, penalty, 0.0 if ratio is None else float(ratio),
                                                 tol, max_iter, coef_init, intercept_init)
            w = np.hstack([coef, intercept[:, None]]) if self.fit_intercept else coef
        else:
            n_folds, n_cs, n_r = fold_scores.shape
            flat = fold_scores.reshape(n_folds, -1)
            best = list(zip(*np.unravel_index(np.argmax(flat, axis=1), (n_cs, n_r)), strict=True))
            if is_binary:
                w = np.mean([coefs_paths[0, i, b[0], b[1], :] for i, b in enumerate(best)], axis=0)[None, :]
            else:
                w = np.mean([coefs_paths[:, i, b[0], b[1], :] for i, b in enumerate(best)], axis=0)
            best = np.asarray(best)
            self.C_.append(np.mean(self.Cs_[best[:, 0]]))
            if penalty == "elasticnet":
                self.l1_ratio_.append(np.mean(np.asarray(l1_grid)[best[:, 1]]))
            else:
                self.l1_ratio_.append(0.0)
        self.coef_ = np.ascontiguousarray(w[:, :n_features])
        self.intercept_ = w[:, -1].copy() if self.fit_intercept else np.zeros(n_out)
        if not is_binary:
            self.C_ = np.tile(self.C_, n_classes)
            self.l1_ratio_ = np.tile(self.l1_ratio_, n_classes)
        self.C_ = np.asarray(self.C_)
        self.l1_ratio_ = np.asarray(self.l1_ratio_)
        self.l1_ratios_ = np.asarray(l1_grid)
        if l1_ratios is None:
            for cls in labels:
                self.coefs_paths_[cls] = self.coefs_paths_[cls][:, :, 0, :]
                self.scores_[cls] = self.scores_[cls][:, :, 0]
            self.n_iter_ = self.n_iter_[:, :, :, 0]
        if not legacy:
            n_folds, n_cs = len(folds), self.Cs_.size
            n_dof = n_features + int(self.fit_intercept)
            self.C_ = float(self.C_[0])
            newpaths = np.concatenate(list(self.coefs_paths_.values()))
            newscores = self.scores_[labels[0]]
            newniter = self.n_iter_[0]
            if l1_ratios is None:
                newpaths = newpaths.reshape(n_out, n_folds, n_cs, 1, n_dof)
                newscores = newscores.reshape(n_folds, n_cs, 1)
                newniter = newniter.reshape(n_folds, n_cs, 1)
                self.l1_ratio_ = 1.0 if self.penalty == "l1" else 0.0
            else:
                self.l1_ratio_ = float(self.l1_ratio_[0])
                newpaths = newpaths.reshape(n_out, n_folds, n_cs, len(self.l1_ratios_), n_dof)
            self.coefs_paths_ = np.moveaxis(newpaths, (0, 1, 3), (3, 0, 1))
            self.scores_ = np.moveaxis(newscores, (1, 2), (2, 1))
            self.n_iter_ = np.moveaxis(newniter, (1, 2), (2, 1))

    def score(self, X, y, sample_weight=None, **score_params):
        """The ``scoring`` metric (accuracy by default) of the fitted model on X, y."""
        scoring = "accuracy" if self.scoring == "warn" else (self.scoring or "accuracy")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        return get_scorer(scoring)(self, X, y, **score_params)


__all__ = ["LogisticRegression", "LogisticRegressionCV"]
