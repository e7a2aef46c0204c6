"""``SVC`` over ``jaxml.kernels.smo``: libsvm's C-SVC problem, one-vs-one, solved by SMO in JAX.

The fit groups the samples by class as libsvm does (classes in sorted order, samples in their
original order inside a class), builds the K(K−1)/2 one-vs-one problems (class a is +1, class b
is −1 for the pair a < b), pads them to one bucketed length L (padding rows have C_n = 0 and are
masked out) and solves all of them in one ``jax.vmap``-ed ``lax.while_loop``
(``jaxml.kernels.smo.smo_solve``), kernel rows computed on demand. The results are laid out as
libsvm's model (support vectors grouped by class, ``dual_coef_`` (K−1, n_SV) with the
coefficients of class a's vectors in row b−1 and of class b's vectors in row a for the pair
(a, b)), then flipped in sign for two classes as scikit-learn does.
"""

from __future__ import annotations

import functools
import warnings
from numbers import Real

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC as _SkSVC
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import _ovr_decision_function, check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from jaxml.kernels import sigmoid_kernel
from jaxml.kernels.smo import NO_LIMIT, kernel_diagonal, smo_polish, smo_solve
from jaxml.sklearn._base import float64, to_numpy
from jaxml.sklearn._kernel_params import _make_kernel

_POLISH = 256  # largest free set that the exact finish (smo_polish) solves


def _bucket(n: int, minimum: int = 32) -> int:
    """n rounded up to a grid with ≤ 12.5 % padding (8 steps per power of two): shapes repeat."""
    if n <= minimum:
        return minimum
    step = max((1 << (int(n).bit_length() - 1)) // 8, 1)
    return -(-n // step) * step


def _row_function(kind, degree, gamma, coef0, X):
    """i ↦ k(x_i, X) in float32, as libsvm stores Q (``Qfloat``): the SMO loop's kernel rows.

    Float32 halves the cost of the row (XLA's float64 ``exp`` and mat-vec are the loop's main
    cost); α, G, ρ and the exact finish stay in float64. RBF: ‖x‖² is computed once (not per row)
    on centred data (k is translation invariant; centring reduces the cancellation in
    ‖x‖² + ‖z‖² − 2xᵀz; the exact Σ_d (x_d − z_d)² measured 2–3× slower on XLA CPU)."""
    f32 = jnp.float32
    gamma, coef0 = gamma.astype(f32), coef0.astype(f32)
    if kind == "rbf":
        X = (X - jnp.mean(X, axis=0)[None, :]).astype(f32)
        norms = jnp.sum(X * X, axis=1)
        return lambda i: jnp.exp(-gamma * jnp.maximum(norms[i] + norms - 2.0 * (X @ X[i]), 0.0))
    X = X.astype(f32)
    if kind == "linear":
        return lambda i: X @ X[i]
    if kind == "sigmoid":
        return lambda i: jnp.tanh(gamma * (X @ X[i]) + coef0)
    return lambda i: jax.lax.integer_pow(gamma * (X @ X[i]) + coef0, degree)


def _pair_solver(kernel, gamma, coef0, data, y, C, valid, tol, max_iter, kind, degree):
    """One padded one-vs-one problem: data = X_pair (L, D), or the Gram block (L, L) if
    kind == "precomputed". SMO to libsvm's stopping rule, then ``smo_polish`` (exact on the final
    face when it has at most ``_POLISH`` free variables; float64 kernel columns)."""
    if kind == "precomputed":
        row, diag, columns = (lambda i: data[i]), jnp.diagonal(data), (lambda idx: data[:, idx])
    else:
        row = _row_function(kind, degree, gamma, coef0, data)

        def columns(idx):
            return kernel(data, data[idx])

        diag = kernel_diagonal(kernel, data)
    result = smo_solve(row, diag, y, C, tol=tol, max_iter=max_iter, valid=valid)
    return smo_polish(result, columns, y, C, size=min(_POLISH, y.shape[0]), tol=tol, valid=valid)


@functools.partial(jax.jit, static_argnames=("kind", "degree"))
def _fit_pairs(kernel, gamma, coef0, data, y, C, valid, tol, max_iter, kind, degree):
    solve = functools.partial(_pair_solver, kernel, gamma, coef0, tol=tol, max_iter=max_iter, kind=kind,
                              degree=degree)
    return jax.vmap(solve)(data, y, C, valid)


@jax.jit
def _scores(kernel, X, support_vectors, weights, intercept):
    return kernel(X, support_vectors) @ weights + intercept[None, :]


def _check_sample_weight(sample_weight, n_samples):
    sample_weight = np.asarray([] if sample_weight is None else sample_weight, dtype=np.float64)
    if sample_weight.shape[0] == 0:
        return np.ones(n_samples)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(f"sample_weight and X have incompatible shapes: {sample_weight.shape} vs ({n_samples}, ...)")
    return sample_weight


def _weighted_variance(X, weight):
    """Var of all entries of X with row weights w: Σ_n w_n Σ_d (x_nd − μ)² / (D Σ_n w_n)."""
    w = np.maximum(weight, 0.0)
    mean = (w @ X).sum() / (X.shape[1] * w.sum())
    return float((w @ ((X - mean) ** 2)).sum() / (X.shape[1] * w.sum()))


class SVC(ClassifierMixin, BaseEstimator):
    """C-support vector classification with libsvm's problem, by SMO in JAX (``jaxml.kernels.smo``).

    Each pair of classes (a, b), a < b, solves libsvm's dual with y = +1 for class a, −1 for b:

      min_α ½ αᵀQα − eᵀα  s.t.  0 ≤ α_n ≤ C_n,  yᵀα = 0,   Q_nm = y_n y_m k(x_n, x_m),
      C_n = C · class_weight_[class of n] · sample_weight_n,

    whose decision value is f_ab(x) = Σ_n α_n y_n k(x, x_n) − ρ_ab, the intercept −ρ from the KKT
    conditions (libsvm's rule: the mean of y_n G_n over the free α_n, else the midpoint of its
    bounds). Kernels as scikit-learn: linear xᵀx', poly (γxᵀx' + coef0)^degree, rbf
    exp(−γ‖x − x'‖²), sigmoid tanh(γxᵀx' + coef0), "precomputed" or a callable returning the
    Gram matrix; γ = "scale": 1/(D·Var(X)), "auto": 1/D.

    Prediction: libsvm's vote (f_ab(x) > 0 votes for a, else b; the first class with most votes);
    ``decision_function`` is −f for two classes (> 0 ↔ classes_[1]), the (n, K(K−1)/2) values f_ab
    for ``decision_function_shape="ovo"``, and scikit-learn's ``_ovr_decision_function`` of them
    for "ovr" (votes plus a confidence in (−1/3, 1/3)); ``break_ties=True`` predicts its argmax.

    Parameters without effect here: ``shrinking`` (the solver never shrinks; the optimum is the
    same within tol), ``cache_size`` (kernel rows are computed on demand, no cache), ``verbose``,
    ``random_state`` (only libsvm's probability estimates draw random numbers).
    ``probability=True`` raises ValueError (Platt scaling is not implemented; it is deprecated in
    scikit-learn 1.9). Samples with sample_weight ≤ 0 are removed, as libsvm does (``support_``
    then indexes the full X, where libsvm indexes the reduced one). With ``sample_weight``,
    γ = "scale" uses the weighted variance of X (weights as repetitions, so that weighting equals
    repeating samples); scikit-learn ignores the weights there.

    Solver: SMO with libsvm's working-set selection and stopping rule m(α) − M(α) < tol, kernel
    rows computed on demand in float32 (libsvm also keeps Q in float32), α, G and ρ in float64,
    then an exact float64 finish on the final face when it has ≤ 256 free variables
    (``jaxml.kernels.smo.smo_polish``), kept only if the stopping rule still holds.

    Attributes (scikit-learn's): classes_, class_weight_, support_, support_vectors_ (empty for
    precomputed or callable kernels), n_support_, dual_coef_ (K−1, n_SV), intercept_
    (K(K−1)/2,), coef_ (linear kernel), fit_status_ (1 if max_iter stopped a problem), n_iter_
    (pair updates per problem), shape_fit_, probA_ / probB_ (empty), n_features_in_.
    """

    _parameter_constraints = dict(_SkSVC._parameter_constraints)

    def __init__(self, *, C=1.0, kernel="rbf", degree=3, gamma="scale", coef0=0.0, shrinking=True,
                 probability="deprecated", tol=1e-3, cache_size=200, class_weight=None, verbose=False,
                 max_iter=-1, decision_function_shape="ovr", break_ties=False, random_state=None):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.probability = probability
        self.tol = tol
        self.cache_size = cache_size
        self.class_weight = class_weight
        self.verbose = verbose
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape
        self.break_ties = break_ties
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    # ---------------------------------------------------------------- fit

    def _kernel(self):
        kernel = self.kernel
        if kernel == "sigmoid":
            return Partial(sigmoid_kernel, gamma=jnp.asarray(self._gamma), coef0=jnp.asarray(float(self.coef0)))
        return _make_kernel(kernel, self._gamma, int(self.degree), float(self.coef0))

    def _validate_fit_input(self, X, y):
        if callable(self.kernel):
            check_consistent_length(X, y)
            self._X_fit = X
            K = np.asarray(self.kernel(X, X), dtype=np.float64)
            if K.ndim != 2 or K.shape[0] != K.shape[1]:
                raise ValueError("X.shape[0] should be equal to X.shape[1]")
            return K, y
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(f"Precomputed matrix must be a square matrix. Input is a {X.shape[0]}x{X.shape[1]} "
                             "matrix.")
        return X, y

    def fit(self, X, y, sample_weight=None):
        """Fit the K(K−1)/2 one-vs-one SVMs on X (n, D) (or a Gram matrix for kernel="precomputed")
        and labels y; ``sample_weight`` scales C per sample. Returns self."""
        self._validate_params()
        if self.probability != "deprecated":
            warnings.warn("The `probability` parameter was deprecated in 1.9 and will be removed in version 1.11. "
                          "Use `CalibratedClassifierCV(SVC(), ensemble=False)` instead of `SVC(probability=True)`",
                          FutureWarning, stacklevel=2)
            if self.probability:
                raise ValueError("probability=True (Platt scaling) is not implemented by jaxml's SVC; "
                                 "use probability=False or sklearn.calibration.CalibratedClassifierCV.")
        data, y = self._validate_fit_input(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        self.class_weight_ = compute_class_weight(self.class_weight, classes=classes, y=y)
        if len(classes) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got {len(classes)} class")
        self.classes_ = classes
        n = data.shape[0]
        if encoded.shape[0] != n:
            raise ValueError(f"X and y have incompatible shapes.\nX has {n} samples, but y has {encoded.shape[0]}.")
        weight = _check_sample_weight(sample_weight, n)
        precomputed = callable(self.kernel) or self.kernel == "precomputed"

        positive = weight > 0
        if not positive.any():
            raise ValueError("Invalid input - all samples have zero or negative weights.")
        members = [np.flatnonzero((encoded == c) & positive) for c in range(len(classes))]
        if sum(len(m) > 0 for m in members) < 2:
            raise ValueError("Invalid input - all samples with positive weights belong to the same class.")
        if any(len(m) == 0 for m in members):
            raise ValueError("Every class needs a sample with a positive weight; classes "
                             f"{[classes[c] for c, m in enumerate(members) if len(m) == 0]} have none.")

        self._gamma = 0.0 if precomputed else self._resolve_gamma(data, weight, sample_weight is not None)
        alpha, rho, n_iter, converged, pairs, rows = self._solve(data, members, weight, precomputed)
        self._store_model(data, members, alpha, rho, pairs, rows, precomputed)
        self.n_iter_ = n_iter.astype(np.int32)
        self.fit_status_ = int(not converged.all())
        self.shape_fit_ = data.shape if not callable(self.kernel) else getattr(X, "shape", (n,))
        self.probA_ = np.empty(0)
        self.probB_ = np.empty(0)
        if not (np.isfinite(self._intercept).all() and np.isfinite(self._dual_coef).all()):
            raise ValueError("The dual coefficients or intercepts are not finite. The input data may contain large "
                             "values and need to be preprocessed.")
        if self.fit_status_:
            warnings.warn(f"Solver terminated early (max_iter={self.max_iter}).  Consider pre-processing your data "
                          "with StandardScaler or MinMaxScaler.", ConvergenceWarning, stacklevel=2)
        return self

    def _resolve_gamma(self, X, weight, weighted):
        if isinstance(self.gamma, str):
            if self.gamma == "scale":
                # With sample weights, the variance of the data they stand for (weights as
                # repetitions); scikit-learn ignores them here.
                var = X.var() if not weighted else _weighted_variance(X, weight)
                return 1.0 / (X.shape[1] * var) if var != 0 else 1.0
            return 1.0 / X.shape[1]
        assert isinstance(self.gamma, Real)
        return float(self.gamma)

    def _solve(self, data, members, weight, precomputed):
        """Pad the one-vs-one problems to one length and solve them in one vmapped run."""
        num_classes = len(members)
        pairs = [(a, b) for a in range(num_classes) for b in range(a + 1, num_classes)]
        length = _bucket(max(len(members[a]) + len(members[b]) for a, b in pairs))
        P = len(pairs)
        rows = np.zeros((P, length), np.int64)
        y = np.ones((P, length))
        C = np.zeros((P, length))
        valid = np.zeros((P, length), bool)
        class_C = float(self.C) * self.class_weight_
        for p, (a, b) in enumerate(pairs):
            na, nb = len(members[a]), len(members[b])
            idx = np.concatenate([members[a], members[b]])
            rows[p, :na + nb] = idx
            y[p, na:na + nb] = -1.0
            C[p, :na] = class_C[a] * weight[members[a]]
            C[p, na:na + nb] = class_C[b] * weight[members[b]]
            valid[p, :na + nb] = True
        if precomputed:
            blocks = data[rows[:, :, None], rows[:, None, :]]
            kernel = None
        else:
            blocks = data[rows]
            kernel = self._kernel()
        max_iter = NO_LIMIT if self.max_iter == -1 else min(int(self.max_iter), int(NO_LIMIT))
        kind = "precomputed" if precomputed else ("poly" if self.kernel == "polynomial" else self.kernel)
        with float64():
            result = _fit_pairs(kernel, jnp.asarray(self._gamma), jnp.asarray(float(self.coef0)), blocks, y, C, valid,
                                float(self.tol), max_iter, kind=kind, degree=int(self.degree))
            alpha, rho, n_iter, converged = (to_numpy(v) for v in
                                             (result.alpha, result.rho, result.num_iter, result.converged))
        return alpha * y * valid, rho, n_iter, converged, pairs, rows

    def _store_model(self, data, members, coef, rho, pairs, rows, precomputed):
        """libsvm's model layout from the pairs' coefficients y_n α_n (see the module docstring)."""
        n, num_classes = data.shape[0], len(members)
        nonzero = np.zeros(n, bool)
        for p, (a, b) in enumerate(pairs):
            m = len(members[a]) + len(members[b])
            nonzero[rows[p, :m][coef[p, :m] != 0]] = True
        support_by_class = [m[nonzero[m]] for m in members]
        support = np.concatenate(support_by_class).astype(np.int32)
        position = np.full(n, -1)
        position[support] = np.arange(len(support))
        dual_coef = np.zeros((num_classes - 1, len(support)))
        weights = np.zeros((len(support), len(pairs)))
        for p, (a, b) in enumerate(pairs):
            na, nb = len(members[a]), len(members[b])
            for row, sl in ((b - 1, slice(0, na)), (a, slice(na, na + nb))):
                idx, values = rows[p, sl], coef[p, sl]
                keep = nonzero[idx]
                dual_coef[row, position[idx[keep]]] = values[keep]
                weights[position[idx[keep]], p] = values[keep]
        self.support_ = support
        self.n_support_ = np.array([len(s) for s in support_by_class], dtype=np.int32)
        self._dual_coef = dual_coef
        self._intercept = -rho
        self._weights = weights
        binary = num_classes == 2
        self.dual_coef_ = -dual_coef if binary else dual_coef
        self.intercept_ = rho.copy() if binary else -rho
        if precomputed:
            self.support_vectors_ = np.empty((0, 0))
            self._sv_padded = None
        else:
            self.support_vectors_ = data[support]
            size = _bucket(len(support), minimum=8)
            self._sv_padded = np.zeros((size, data.shape[1]))
            self._sv_padded[: len(support)] = self.support_vectors_
            self._weights_padded = np.zeros((size, len(pairs)))
            self._weights_padded[: len(support)] = weights

    # ------------------------------------------------------------ predict

    @property
    def coef_(self):
        """Primal weights (K(K−1)/2, D) = Σ_n dual coefficients · x_n (linear kernel only)."""
        if self.kernel != "linear":
            raise AttributeError("coef_ is only available when using a linear kernel")
        check_is_fitted(self)
        coef = self._weights.T @ self.support_vectors_
        return -coef if len(self.classes_) == 2 else coef

    def _pair_values(self, X):
        """libsvm's f_ab(x) = Σ_n y_n α_n k(x, x_n) − ρ_ab, shape (n, K(K−1)/2)."""
        check_is_fitted(self)
        if callable(self.kernel):
            K = np.asarray(self.kernel(X, self._X_fit), dtype=np.float64)
            if K.shape[1] != self.shape_fit_[0]:
                raise ValueError(f"X.shape[1] = {K.shape[1]} should be equal to {self.shape_fit_[0]}, the number of "
                                 "samples at training time")
            return K[:, self.support_] @ self._weights + self._intercept[None, :]
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        if self.kernel == "precomputed":
            if X.shape[1] != self.shape_fit_[0]:
                raise ValueError(f"X.shape[1] = {X.shape[1]} should be equal to {self.shape_fit_[0]}, the number of "
                                 "samples at training time")
            return X[:, self.support_] @ self._weights + self._intercept[None, :]
        with float64():
            return to_numpy(_scores(self._kernel(), X, self._sv_padded, self._weights_padded, self._intercept))

    def decision_function(self, X):
        """−f_01(x) for two classes (n,); else the ovo values f_ab (n, K(K−1)/2) or, for
        decision_function_shape="ovr", scikit-learn's ``_ovr_decision_function`` of them (n, K)."""
        dec = self._pair_values(X)
        if len(self.classes_) == 2:
            return -dec[:, 0]
        if self.decision_function_shape == "ovr":
            return _ovr_decision_function(dec < 0, -dec, len(self.classes_))
        return dec

    def predict(self, X):
        """libsvm's one-vs-one vote (f_ab > 0 votes for a, else for b; ties to the first class), or
        the argmax of the "ovr" decision function when break_ties=True."""
        check_is_fitted(self)
        if self.break_ties and self.decision_function_shape == "ovo":
            raise ValueError("break_ties must be False when decision_function_shape is 'ovo'")
        num_classes = len(self.classes_)
        if self.break_ties and self.decision_function_shape == "ovr" and num_classes > 2:
            return self.classes_[np.argmax(self.decision_function(X), axis=1)]
        dec = self._pair_values(X)
        votes = np.zeros((dec.shape[0], num_classes), np.int64)
        p = 0
        for a in range(num_classes):
            for b in range(a + 1, num_classes):
                positive = dec[:, p] > 0
                votes[:, a] += positive
                votes[:, b] += ~positive
                p += 1
        return self.classes_[np.argmax(votes, axis=1)]


__all__ = ["SVC"]
