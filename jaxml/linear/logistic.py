"""Logistic regression: binary and softmax, gradient descent, Newton and L-BFGS (SYLLABUS 3).

The course's objective, with labels y ∈ {0, 1} and optional sample weights s (v = s / Σs, so
v = 1/N without weights):

    L(w) = Σ_n v_n [log(1 + e^{x_nᵀw}) − y_n x_nᵀw] + (λ/2)‖w‖²
    ∇L(w) = Xᵀ V (σ(Xw) − y) + λw                       (= (1/N)Xᵀ(σ(Xw) − y) + λw)
    ∇²L(w) = Xᵀ V S X + λI,   S = diag(σ(Xw)(1 − σ(Xw)))

with σ(t) = 1/(1 + e^{−t}) and σ' = σ(1 − σ). ``log(1 + e^t)`` is computed as softplus(t) =
max(t, 0) + log1p(e^{−|t|}), exact at |t| = 1e4 where the naive form overflows.

scikit-learn: ``LogisticRegression(C=1/(Nλ), fit_intercept=False)`` minimizes the same function
(its objective divided by C·N). With ``fit_intercept=True`` the model is σ(xᵀw + b) and b is not
penalized, as in scikit-learn.

Multiclass (softmax, K classes, W ∈ R^{D×K}, y ∈ {0..K−1}, Y its one-hot matrix):

    L(W) = Σ_n v_n [logsumexp(x_nᵀW) − x_nᵀw_{y_n}] + (λ/2)‖W‖²_F,   ∇L(W) = Xᵀ V (P − Y) + λW

with P = softmax(XW) row-wise — scikit-learn's multinomial ``LogisticRegression``.

Solvers: ``fit_logistic_gd`` (w ← w − γ∇L through ``jaxml.core.train.fit``), ``fit_logistic_newton``
(``jaxml.optim.newton_minimize``: damped Newton w ← w − t H⁻¹∇L with a backtracking line search,
on the hand Hessian) and ``fit_logistic_lbfgs`` (``jaxml.optim.lbfgs_minimize``: optax L-BFGS
with a zoom line search), each one jitted ``lax.while_loop``. The data term is written once,
``logistic_nll``. The Newton and L-BFGS fitters are vmappable over λ and over the sample
weights (K-fold CV as 0/1 weights); ``fit_logistic_gd`` traces λ and γ (one compiled loop for
every value).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import optax

from jaxml.core.checks import check_array, check_labels, check_same_length, check_scalar
from jaxml.core.gradcheck import register_gradient
from jaxml.core.train import FitResult, fit
from jaxml.core.types import Array, PRNGKey, float_dtype
from jaxml.optim import lbfgs_minimize, newton_minimize

# ----------------------------------------------------------------------------------------------
# validation (outside jit)


def _check_binary(X, y, lam, sample_weight=None, *, w=None):
    check_array(X, "X", ndim=2)
    check_array(y, "y", ndim=1)
    check_same_length(X=X, y=y)
    check_labels(y, "y", (0, 1), min_classes=2)
    check_scalar(lam, "lam", minimum=0.0)
    if w is not None:
        check_array(w, "w", ndim=1, min_samples=0)
        if np.shape(w)[0] != np.shape(X)[1]:
            raise ValueError(f"w must have shape ({np.shape(X)[1]},) to match X, got {np.shape(w)}")
    _check_weights(sample_weight, np.shape(X)[0])


def _check_weights(sample_weight, n):
    if sample_weight is None:
        return
    check_array(sample_weight, "sample_weight", ndim=1)
    if np.shape(sample_weight)[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {np.shape(sample_weight)}")
    check_scalar(sample_weight, "sample_weight", minimum=0.0)
    if not isinstance(sample_weight, jax.core.Tracer) and not np.sum(np.asarray(sample_weight)) > 0:
        raise ValueError("sample_weight must have a positive sum")


def _check_multiclass(X, y, lam, num_classes, sample_weight=None):
    check_array(X, "X", ndim=2)
    check_array(y, "y", ndim=1)
    check_same_length(X=X, y=y)
    if num_classes is None:
        if isinstance(y, jax.core.Tracer):
            raise ValueError("num_classes must be given when y is traced (inside jit or vmap)")
        num_classes = int(np.max(np.asarray(y))) + 1
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    check_labels(y, "y", range(num_classes), min_classes=2)
    check_scalar(lam, "lam", minimum=0.0)
    _check_weights(sample_weight, np.shape(X)[0])
    return num_classes


def _normalized_weights(n, sample_weight, dtype):
    """v = s / Σs (v = 1/N without weights): every loss is a weighted mean."""
    if sample_weight is None:
        return jnp.full((n,), 1.0 / n, dtype)
    s = jnp.asarray(sample_weight, dtype)
    return s / jnp.sum(s)


# ----------------------------------------------------------------------------------------------
# binary logistic regression: loss, hand gradient, hand Hessian


def sigmoid(t: Array) -> Array:
    """σ(t) = 1/(1 + e^{−t}), computed without overflow for large |t|. Cost Θ(size of t)."""
    return jax.nn.sigmoid(t)


def logistic_nll(z: Array, y: Array, weights: Array | None = None) -> Array:
    """The logistic (Bernoulli) negative log-likelihood of labels y ∈ {0, 1} given logits z:

        ℓ(z, y) = Σ_n v_n [log(1 + e^{z_n}) − y_n z_n],   v = ``weights`` (default v_n = 1/N),

    i.e. −Σ v_n log p(y_n | z_n) with p(1 | z) = σ(z). log(1 + e^z) is softplus(z) =
    max(z, 0) + log1p(e^{−|z|}), exact where the naive form overflows (|z| = 1e4). The one
    place jaxml writes this sum: the logistic objectives, solvers and the fairness-penalized
    loss all call it. Pure, no validation (a building block inside jitted losses). Θ(N).

    Args:
      z: logits (N,). y: labels (N,) in {0, 1} (any real dtype).
      weights: optional (N,) weights v of the sum (v = s/Σs for sample weights s).
    """
    terms = jax.nn.softplus(z) - y * z
    return jnp.mean(terms) if weights is None else weights @ terms


def logistic_loss(w: Array, X: Array, y: Array, lam, sample_weight: Array | None = None) -> Array:
    """L(w) = (1/N) Σ_n [log(1 + e^{x_nᵀw}) − y_n x_nᵀw] + (λ/2)‖w‖².

    With ``sample_weight`` s the mean becomes Σ_n v_n[...] with v = s/Σs. The log term is
    softplus(xᵀw), finite and exact for |xᵀw| up to the float range. Cost Θ(ND).

    Args:
      w: weights (D,).
      X: design (N, D).
      y: labels (N,) in {0, 1}.
      lam: λ ≥ 0 (traced: vmappable).
      sample_weight: optional non-negative weights (N,).
    """
    _check_binary(X, y, lam, sample_weight, w=w)
    dtype = float_dtype(w, X)
    v = _normalized_weights(np.shape(X)[0], sample_weight, dtype)
    return _binary_value(w, X, jnp.asarray(y, dtype), v, lam, False)


def logistic_grad(w: Array, X: Array, y: Array, lam, sample_weight: Array | None = None) -> Array:
    """Hand gradient ∇L(w) = (1/N) Xᵀ(σ(Xw) − y) + λw (weighted: Xᵀ V (σ(Xw) − y) + λw).

    Cost Θ(ND): one product Xw and one Xᵀr.
    """
    _check_binary(X, y, lam, sample_weight, w=w)
    dtype = float_dtype(w, X)
    v = _normalized_weights(np.shape(X)[0], sample_weight, dtype)
    residual = v * (sigmoid(X @ w) - jnp.asarray(y, dtype))
    return X.T @ residual + lam * w


def logistic_hessian(w: Array, X: Array, y: Array, lam, sample_weight: Array | None = None) -> Array:
    """Hand Hessian ∇²L(w) = (1/N) Xᵀ S X + λI, S = diag(σ(Xw)(1 − σ(Xw))).

    Positive definite for λ > 0. ``y`` does not enter (only its shape is checked). Cost Θ(ND²).
    """
    _check_binary(X, y, lam, sample_weight, w=w)
    dtype = float_dtype(w, X)
    v = _normalized_weights(np.shape(X)[0], sample_weight, dtype)
    p = sigmoid(X @ w)
    curvature = v * p * (1.0 - p)
    return (X.T * curvature[None, :]) @ X + lam * jnp.eye(X.shape[1], dtype=dtype)


def logistic_predict_proba(w: Array, X: Array, b=0.0) -> Array:
    """P(y = 1 | x) = σ(xᵀw + b) for every row of X (N, D) -> (N,). Cost Θ(ND)."""
    return sigmoid(X @ w + b)


def logistic_predict(w: Array, X: Array, b=0.0) -> Array:
    """Labels 1[xᵀw + b > 0] ∈ {0, 1} (the Bayes rule for σ(xᵀw + b) > 1/2), (N,) int32."""
    return (X @ w + b > 0).astype(jnp.int32)


# ----------------------------------------------------------------------------------------------
# softmax (multinomial) logistic regression


def _softmax_objective(W, X, y, v, lam):
    logits = X @ W
    picked = jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0]
    return v @ (jax.nn.logsumexp(logits, axis=1) - picked) + 0.5 * lam * jnp.sum(W * W)


def softmax_loss(W: Array, X: Array, y: Array, lam, sample_weight: Array | None = None) -> Array:
    """L(W) = (1/N) Σ_n [logsumexp(x_nᵀW) − x_nᵀw_{y_n}] + (λ/2)‖W‖²_F.

    Args:
      W: weights (D, K), one column per class.
      X: design (N, D).
      y: integer labels (N,) in {0, …, K−1}.
      lam: λ ≥ 0.
      sample_weight: optional weights (N,) (weighted mean as in ``logistic_loss``).

    Cost Θ(NDK). log-sum-exp keeps it finite for any logits.
    """
    _check_multiclass(X, y, lam, W.shape[1], sample_weight)
    dtype = float_dtype(W, X)
    v = _normalized_weights(np.shape(X)[0], sample_weight, dtype)
    return _softmax_objective(W, X, jnp.asarray(y, jnp.int32), v, lam)


def softmax_grad(W: Array, X: Array, y: Array, lam, sample_weight: Array | None = None) -> Array:
    """Hand gradient ∇L(W) = (1/N) Xᵀ(P − Y) + λW, P = softmax(XW), Y = one-hot(y). Θ(NDK)."""
    _check_multiclass(X, y, lam, W.shape[1], sample_weight)
    dtype = float_dtype(W, X)
    v = _normalized_weights(np.shape(X)[0], sample_weight, dtype)
    P = jax.nn.softmax(X @ W, axis=1)
    Y = jax.nn.one_hot(jnp.asarray(y, jnp.int32), W.shape[1], dtype=dtype)
    return X.T @ (v[:, None] * (P - Y)) + lam * W


def softmax_predict_proba(W: Array, X: Array, b: Array | None = None) -> Array:
    """P(y = k | x) = softmax(xᵀW + b)_k, (N, D) -> (N, K). Cost Θ(NDK)."""
    logits = X @ W if b is None else X @ W + b[None, :]
    return jax.nn.softmax(logits, axis=1)


# ----------------------------------------------------------------------------------------------
# solvers


class LogisticFit(NamedTuple):
    """A fitted (binary or softmax) logistic regression.

    Attributes:
      w: weights, (D,) binary or (D, K) softmax.
      b: intercept, () binary or (K,) softmax (zero unless ``fit_intercept``; softmax intercepts
        are centred, Σ_k b_k = 0, since adding a constant to all of them changes nothing).
      objective: L at the solution.
      grad_norm: ‖∇L‖_∞ at the solution (the stopping quantity, compared with ``tol``).
      num_iter: iterations performed (int32).
    """

    w: Array
    b: Array
    objective: Array
    grad_norm: Array
    num_iter: Array


def _split_theta(theta, fit_intercept):
    if fit_intercept:
        return theta
    return theta, None


def _with_intercept(z, b):
    return z if b is None else z + b


def _binary_value(theta, X, y, v, lam, fit_intercept):
    """The binary objective at θ = w or θ = (w, b) (b unpenalized)."""
    w, b = _split_theta(theta, fit_intercept)
    return logistic_nll(_with_intercept(X @ w, b), y, v) + 0.5 * lam * (w @ w)


def _softmax_value(theta, X, y_onehot, v, lam, fit_intercept):
    W, b = _split_theta(theta, fit_intercept)
    logits = X @ W if b is None else X @ W + b[None, :]
    nll = jax.nn.logsumexp(logits, axis=1) - jnp.sum(logits * y_onehot, axis=1)
    return v @ nll + 0.5 * lam * jnp.sum(W * W)


# Xᵀr as a fused multiply-and-reduce over rows: XLA:CPU lowers the dot X.T @ r (contracting X's
# leading axis) to a loop about 6× slower than X @ w at N = 100k, D = 100 (250 vs 40 ms); the
# reduction runs at the speed of one pass over X. For K columns, (RᵀX)ᵀ was the fastest form.


def _xt_vec(X, r):
    """Xᵀr for X (N, D), r (N,): Σ_n r_n x_n."""
    return jnp.sum(X * r[:, None], axis=0)


def _xt_mat(X, R):
    """XᵀR for X (N, D), R (N, K)."""
    return (R.T @ X).T


# The L-BFGS objectives carry their hand gradients: autodiff of X @ w transposes into a dot that
# contracts X's leading axis, which XLA:CPU ran about 3× slower than the whole hand value and
# gradient at N = 100k, D = 100 (80 vs 24 ms). The backward pass reuses the forward residual r.


@jax.custom_vjp
def _binary_objective(w, b, X, y, v, lam):
    """L(w, b) = Σ_n v_n [softplus(z_n) − y_n z_n] + (λ/2)‖w‖², z = Xw + b, with the hand
    gradient ∇_w L = Xᵀr + λw, ∂L/∂b = Σ_n r_n, r = v ⊙ (σ(z) − y) (reverse mode only)."""
    z = X @ w + b
    return logistic_nll(z, y, v) + 0.5 * lam * (w @ w)


def _binary_objective_fwd(w, b, X, y, v, lam):
    z = X @ w + b
    r = v * (sigmoid(z) - y)
    return logistic_nll(z, y, v) + 0.5 * lam * (w @ w), (X, r, w, lam)


def _binary_objective_bwd(res, g):
    X, r, w, lam = res
    return g * (_xt_vec(X, r) + lam * w), g * jnp.sum(r), None, None, None, None


_binary_objective.defvjp(_binary_objective_fwd, _binary_objective_bwd)


@jax.custom_vjp
def _softmax_objective_hand(W, b, X, Y, v, lam):
    """L(W, b) = Σ_n v_n [logsumexp(z_n) − y_nᵀz_n] + (λ/2)‖W‖²_F, Z = XW + 1bᵀ, with the hand
    gradient ∇_W L = XᵀR + λW, ∇_b L = Rᵀ1, R = diag(v)(softmax(Z) − Y) (reverse mode only)."""
    return _softmax_value((W, b), X, Y, v, lam, True)


def _softmax_objective_fwd(W, b, X, Y, v, lam):
    logits = X @ W + b[None, :]
    lse = jax.nn.logsumexp(logits, axis=1)
    value = v @ (lse - jnp.sum(logits * Y, axis=1)) + 0.5 * lam * jnp.sum(W * W)
    R = v[:, None] * (jnp.exp(logits - lse[:, None]) - Y)
    return value, (X, R, W, lam)


def _softmax_objective_bwd(res, g):
    X, R, W, lam = res
    return g * (_xt_mat(X, R) + lam * W), g * jnp.sum(R, axis=0), None, None, None, None


_softmax_objective_hand.defvjp(_softmax_objective_fwd, _softmax_objective_bwd)


# Rows per block in the Newton passes over the data. One pass per step computes z = Xw, the
# value, the gradient and the Hessian block by block, so that the scaled block Xᵀ_b diag(s_b)
# (D × 4096 float64 = 3.3 MB at D = 100) stays in cache in a reused buffer: formed whole,
# Xᵀ diag(s) is a fresh N × D array written and read back on every step. On XLA:CPU at
# N = 100k, D = 100 a Newton step went from about 45 to 29 ms (8192 rows: 35 ms).
_ROW_BLOCK = 4096


def _sum_over_row_blocks(block_terms, n: int, rows: int = _ROW_BLOCK):
    """Σ_b block_terms(start_b, size) over consecutive row blocks [start_b, start_b + size).

    Full blocks run in a ``fori_loop`` (one compiled body); the last partial block, whose size
    is static, is one more call.
    """
    num_blocks, tail = divmod(n, rows)
    total = block_terms(n - tail, tail) if tail else None
    if num_blocks == 0:
        return total

    def add_block(j, total):
        return jax.tree.map(jnp.add, total, block_terms(j * rows, rows))

    if total is None:
        total = block_terms(0, rows)
        return jax.lax.fori_loop(1, num_blocks, add_block, total)
    return jax.lax.fori_loop(0, num_blocks, add_block, total)


def _binary_value_grad_hess(theta, X, y, v, lam, fit_intercept):
    """Value, hand gradient and hand Hessian over θ = w or θ = [w; b] (b unpenalized).

    With p = σ(Xw + b), r = v ⊙ (p − y), s = v ⊙ p ⊙ (1 − p):
    ∇_w L = Xᵀr + λw, ∂L/∂b = Σr, ∇²_ww L = Xᵀ diag(s) X + λI, ∂²L/∂w∂b = Xᵀs, ∂²L/∂b² = Σs.
    All of them come from one pass over row blocks of X.
    """
    n, d = X.shape
    w = theta[:d]
    b = theta[d] if fit_intercept else 0.0

    def block_terms(start, size):
        X_b = jax.lax.dynamic_slice_in_dim(X, start, size, axis=0)
        y_b = jax.lax.dynamic_slice_in_dim(y, start, size)
        v_b = jax.lax.dynamic_slice_in_dim(v, start, size)
        z = X_b @ w + b
        p = sigmoid(z)
        r = v_b * (p - y_b)
        curvature = v_b * p * (1.0 - p)
        # Xt_b @ r, not r @ X_b: XLA:CPU runs the latter matvec several times slower.
        Xt_b = X_b.T
        XtS = Xt_b * curvature[None, :]
        return (logistic_nll(z, y_b, v_b), Xt_b @ r, XtS @ X_b,
                jnp.sum(r), jnp.sum(XtS, axis=1), jnp.sum(curvature))

    loss, grad_w, gram, grad_b, hess_wb, hess_bb = _sum_over_row_blocks(block_terms, n)
    value = loss + 0.5 * lam * (w @ w)
    grad_w = grad_w + lam * w
    hess_ww = gram + lam * jnp.eye(d, dtype=X.dtype)
    if not fit_intercept:
        return value, grad_w, hess_ww
    grad = jnp.concatenate([grad_w, grad_b[None]])
    hess = jnp.block([[hess_ww, hess_wb[:, None]], [hess_wb[None, :], hess_bb[None, None]]])
    return value, grad, hess


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_binary_newton(X, y, v, lam, tol, max_iter, w0, b0, *, fit_intercept):
    dtype = X.dtype
    y = y.astype(dtype)
    d = X.shape[1]
    theta0 = jnp.concatenate([w0, b0[None]]) if fit_intercept else w0

    def value_fn(theta):
        return _binary_value((theta[:d], theta[d]) if fit_intercept else theta, X, y, v, lam, fit_intercept)

    def vgh(theta):
        return _binary_value_grad_hess(theta, X, y, v, lam, fit_intercept)

    theta, value, gnorm, it = newton_minimize(value_fn, theta0, tol=tol, max_iter=max_iter, value_grad_hess=vgh)
    b = theta[d] if fit_intercept else jnp.zeros((), dtype)
    return LogisticFit(theta[:d], b, value, gnorm, it)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_binary_lbfgs(X, y, v, lam, tol, max_iter, w0, b0, *, fit_intercept):
    dtype = X.dtype
    y = y.astype(dtype)
    theta0 = (w0, b0) if fit_intercept else w0

    zero = jnp.zeros((), dtype)

    def value_fn(theta):
        w, b = theta if fit_intercept else (theta, zero)
        return _binary_objective(w, b, X, y, v, lam)

    theta, value, gnorm, it = lbfgs_minimize(value_fn, theta0, tol=tol, max_iter=max_iter)
    w, b = theta if fit_intercept else (theta, zero)
    return LogisticFit(w, b, value, gnorm, it)


def _prepare_binary(X, y, lam, sample_weight):
    _check_binary(X, y, lam, sample_weight)
    dtype = float_dtype(X)
    X = jnp.asarray(X, dtype)
    v = _normalized_weights(X.shape[0], sample_weight, dtype)
    return X, jnp.asarray(y), v, jnp.asarray(lam, dtype)


def _starting_point(w_init, b_init, d, dtype):
    """(w₀, b₀): zeros by default, else the given warm start (checked: w (D,), b a scalar)."""
    if w_init is None:
        w0 = jnp.zeros((d,), dtype)
    else:
        if np.shape(w_init) != (d,):
            raise ValueError(f"w_init must have shape ({d},), got {np.shape(w_init)}")
        w0 = jnp.asarray(w_init, dtype)
    if np.ndim(b_init) != 0:
        raise ValueError(f"b_init must be a scalar, got shape {np.shape(b_init)}")
    return w0, jnp.asarray(b_init, dtype)


def _run_binary(solver, X, y, lam, sample_weight, fit_intercept, tol, max_iter, w_init, b_init):
    """Checks and converts the arguments of a binary solver, then calls its jitted loop."""
    X, y, v, lam = _prepare_binary(X, y, lam, sample_weight)
    dtype = X.dtype
    w0, b0 = _starting_point(w_init, b_init, X.shape[1], dtype)
    return solver(
        X, y, v, lam, jnp.asarray(tol, dtype), jnp.asarray(max_iter, jnp.int32), w0, b0,
        fit_intercept=fit_intercept,
    )


def fit_logistic_newton(
    X: Array,
    y: Array,
    lam,
    *,
    sample_weight: Array | None = None,
    fit_intercept: bool = False,
    tol: float = 1e-8,
    max_iter: int = 50,
    w_init: Array | None = None,
    b_init=0.0,
) -> LogisticFit:
    """Damped Newton for the binary objective: w ← w − t (∇²L)⁻¹∇L, t from backtracking.

    Starts at w = ``w_init`` (default 0) and stops when ‖∇L‖_∞ ≤ ``tol`` or after ``max_iter``
    iterations, all in one jitted ``lax.while_loop``. Each iteration forms the hand Hessian (1/N)XᵀSX + λI (Θ(ND²)),
    factors it (Θ(D³)) and evaluates L once or a few times (Θ(ND)). Quadratic convergence near
    the optimum: typically 5–10 iterations. Vmappable over ``lam`` and ``sample_weight``.
    scikit-learn: ``LogisticRegression(C=1/(Nλ), solver="newton-cholesky")``.

    Args:
      X: design (N, D). y: labels (N,) in {0, 1}. lam: λ ≥ 0 (λ > 0 for separable data).
      sample_weight: optional weights (N,); the mean becomes Σ v_n ℓ_n with v = s/Σs.
      fit_intercept: add an unpenalized intercept b (model σ(xᵀw + b)).
      tol: gradient tolerance. max_iter: iteration cap.
      w_init, b_init: warm start (D,) and scalar, e.g. the solution at a nearby λ on a
        regularization path (``grid_search_cv(..., warm_start=True)``).

    Returns:
      ``LogisticFit(w, b, objective, grad_norm, num_iter)``.
    """
    return _run_binary(
        _fit_binary_newton, X, y, lam, sample_weight, fit_intercept, tol, max_iter, w_init, b_init
    )


def fit_logistic_lbfgs(
    X: Array,
    y: Array,
    lam,
    *,
    sample_weight: Array | None = None,
    fit_intercept: bool = False,
    tol: float = 1e-6,
    max_iter: int = 500,
    w_init: Array | None = None,
    b_init=0.0,
) -> LogisticFit:
    """L-BFGS (optax, memory 10, zoom line search) on the binary objective, from w = ``w_init``
    (default 0).

    One jitted ``lax.while_loop`` until ‖∇L‖_∞ ≤ ``tol`` or ``max_iter`` iterations; each
    iteration costs a few Θ(ND) evaluations of L and ∇L. The default solver of
    ``jaxml.sklearn.LogisticRegression``. Vmappable over ``lam`` and ``sample_weight`` (a whole
    K-fold × λ grid runs as one batched loop). Same arguments and result as
    ``fit_logistic_newton``.
    """
    return _run_binary(
        _fit_binary_lbfgs, X, y, lam, sample_weight, fit_intercept, tol, max_iter, w_init, b_init
    )


@functools.partial(jax.jit, static_argnames=("num_steps",))
def _newton_path(X, y, lam, *, num_steps):
    dtype = X.dtype
    v = jnp.full((X.shape[0],), 1.0 / X.shape[0], dtype)
    y = y.astype(dtype)

    def step(w, _):
        value, grad, hess = _binary_value_grad_hess(w, X, y, v, lam, False)
        w_next = w - jax.scipy.linalg.solve(hess, grad, assume_a="pos")
        return w_next, (value, jnp.max(jnp.abs(grad)))

    w, (values, gnorms) = jax.lax.scan(step, jnp.zeros((X.shape[1],), dtype), None, length=num_steps)
    return w, values, gnorms


def logistic_newton_path(X: Array, y: Array, lam, *, num_steps: int) -> tuple[Array, Array, Array]:
    """Pure Newton w_{t+1} = w_t − (∇²L(w_t))⁻¹∇L(w_t) from w_0 = 0 for ``num_steps`` steps.

    A ``lax.scan`` that keeps the history (the course's picture of quadratic convergence);
    ``fit_logistic_newton`` is the damped, tolerance-stopped solver.

    Returns:
      (w after the last step (D,), L(w_t) for t = 0..T−1 (T,), ‖∇L(w_t)‖_∞ (T,)).
    """
    _check_binary(X, y, lam)
    X = jnp.asarray(X, float_dtype(X))
    return _newton_path(X, jnp.asarray(y), jnp.asarray(lam, X.dtype), num_steps=num_steps)


def _gd_objective(w, batch, *, hparams):
    """L_B(w) = (1/B) Σ_{n∈B} [log(1 + e^{x_nᵀw}) − y_n x_nᵀw] + (λ/2)‖w‖² on the (mini)batch
    ``batch = (X_B, y_B)``, λ = ``hparams["lam"]`` (traced: one compiled loop for every λ)."""
    X, y = batch
    return logistic_nll(X @ w, y) + 0.5 * hparams["lam"] * (w @ w)


# Plain gradient descent, built once: fit writes the learning rate of each call into its state
# (``hparams["learning_rate"]``), so one compiled loop serves every γ and every λ.
_SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)


def fit_logistic_gd(
    X: Array,
    y: Array,
    lam,
    *,
    learning_rate: float,
    num_steps: int,
    key: PRNGKey,
    batch_size: int | None = None,
    w0: Array | None = None,
    tx: optax.GradientTransformation | None = None,
    progress: bool | None = False,
) -> FitResult:
    """Gradient descent w ← w − γ ∇L(w) on the binary objective, through ``jaxml.core.train.fit``.

    Full-batch by default (``batch_size=None``); with ``batch_size`` B it is mini-batch SGD on
    the unbiased estimate (1/B)Σ_{n∈B}[...] + (λ/2)‖w‖². For γ ≤ 1/L_smooth, with
    L_smooth = λ_max(XᵀX)/(4N) + λ, full-batch GD decreases L monotonically at a linear rate
    (λ > 0). Cost Θ(ND) per step (Θ(BD) with minibatches).

    λ and γ are traced (``fit``'s ``hparams``): calls that differ only in them run the same
    compiled loop.

    Args:
      X, y, lam: as in ``logistic_loss``.
      learning_rate: γ; with ``tx`` given it sets the learning rate of an
        ``optax.inject_hyperparams`` optimizer that has one, and is ignored by any other.
      num_steps: number of updates. key: draws the minibatches (unused for full batch).
      batch_size: minibatch size, or None. w0: start (zeros by default).
      tx: any optax transformation instead of plain GD (build it once and reuse it).

    Returns:
      ``FitResult``: ``state.params`` is w (D,); ``history["loss"][t]`` is L(w_t).
    """
    _check_binary(X, y, lam, w=w0)
    check_scalar(learning_rate, "learning_rate", minimum=0.0, strict_min=True)
    dtype = float_dtype(X)
    X = jnp.asarray(X, dtype)
    w0 = jnp.zeros((X.shape[1],), dtype) if w0 is None else jnp.asarray(w0, dtype)
    hparams = {"lam": jnp.asarray(lam, dtype), "learning_rate": jnp.asarray(learning_rate, dtype)}
    return fit(
        _gd_objective, _SGD if tx is None else tx, w0, (X, jnp.asarray(y, dtype)), key=key,
        num_steps=num_steps, batch_size=batch_size, hparams=hparams, progress=progress,
        desc="logistic GD",
    )


# ---- softmax solvers


def _prepare_multiclass(X, y, lam, num_classes, sample_weight):
    num_classes = _check_multiclass(X, y, lam, num_classes, sample_weight)
    dtype = float_dtype(X)
    X = jnp.asarray(X, dtype)
    v = _normalized_weights(X.shape[0], sample_weight, dtype)
    Y = jax.nn.one_hot(jnp.asarray(y, jnp.int32), num_classes, dtype=dtype)
    return X, Y, v, jnp.asarray(lam, dtype)


def _center(b):
    return b - jnp.mean(b)


def _softmax_lbfgs(X, Y, v, lam, tol, max_iter, W0, b0, *, fit_intercept):
    """L-BFGS on the softmax objective from (W0, b0), un-jitted (for the facade's kernels)."""
    dtype = X.dtype
    k = Y.shape[1]
    theta0 = (W0, b0) if fit_intercept else W0
    zero = jnp.zeros((k,), dtype)

    def value_fn(theta):
        W, b = theta if fit_intercept else (theta, zero)
        return _softmax_objective_hand(W, b, X, Y, v, lam)

    theta, value, gnorm, it = lbfgs_minimize(value_fn, theta0, tol=tol, max_iter=max_iter)
    W, b = theta if fit_intercept else (theta, zero)
    return LogisticFit(W, _center(b), value, gnorm, it)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_softmax_lbfgs(X, Y, v, lam, tol, max_iter, *, fit_intercept):
    dtype = X.dtype
    d, k = X.shape[1], Y.shape[1]
    W0 = jnp.zeros((d, k), dtype)
    return _softmax_lbfgs(X, Y, v, lam, tol, max_iter, W0, jnp.zeros((k,), dtype), fit_intercept=fit_intercept)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_softmax_newton(X, Y, v, lam, tol, max_iter, *, fit_intercept):
    d, k = X.shape[1], Y.shape[1]
    W0, b0 = jnp.zeros((d, k), X.dtype), jnp.zeros((k,), X.dtype)
    return _softmax_newton(X, Y, v, lam, tol, max_iter, W0, b0, fit_intercept=fit_intercept)


def _softmax_newton(X, Y, v, lam, tol, max_iter, W0, b0, *, fit_intercept):
    """Damped Newton on the softmax objective from (W0, b0), un-jitted (for the facade's kernels)."""
    dtype = X.dtype
    d, k = X.shape[1], Y.shape[1]
    size = d * k + (k if fit_intercept else 0)
    theta0 = jnp.concatenate([W0.reshape(-1), b0]) if fit_intercept else W0.reshape(-1)

    def unflatten(theta):
        W = theta[: d * k].reshape(d, k)
        return (W, theta[d * k :]) if fit_intercept else W

    def value_fn(theta):
        return _softmax_value(unflatten(theta), X, Y, v, lam, fit_intercept)

    # The softmax Hessian is singular along "add a constant to every class" for the
    # unpenalized intercepts (and for W when λ = 0); a relative jitter keeps Cholesky defined
    # and does not change the step along directions the gradient has no component on.
    jitter = 1e3 * jnp.finfo(dtype).eps

    def vgh(theta):
        value, grad = jax.value_and_grad(value_fn)(theta)
        hess = jax.hessian(value_fn)(theta)
        hess = hess + jitter * (1.0 + jnp.max(jnp.abs(jnp.diag(hess)))) * jnp.eye(size, dtype=dtype)
        return value, grad, hess

    theta, value, gnorm, it = newton_minimize(value_fn, theta0, tol=tol, max_iter=max_iter, value_grad_hess=vgh)
    W, b = unflatten(theta) if fit_intercept else (unflatten(theta), jnp.zeros((k,), dtype))
    return LogisticFit(W, _center(b), value, gnorm, it)


def fit_softmax_lbfgs(
    X: Array,
    y: Array,
    lam,
    *,
    num_classes: int | None = None,
    sample_weight: Array | None = None,
    fit_intercept: bool = False,
    tol: float = 1e-6,
    max_iter: int = 500,
) -> LogisticFit:
    """L-BFGS on the softmax objective (``softmax_loss``), W (D, K) from 0; as ``fit_logistic_lbfgs``.

    ``num_classes`` K (static) defaults to max(y) + 1. Cost Θ(NDK) per evaluation.
    scikit-learn: multinomial ``LogisticRegression(C=1/(Nλ))``.
    """
    X, Y, v, lam = _prepare_multiclass(X, y, lam, num_classes, sample_weight)
    return _fit_softmax_lbfgs(
        X, Y, v, lam, jnp.asarray(tol, X.dtype), jnp.asarray(max_iter, jnp.int32),
        fit_intercept=fit_intercept,
    )


def fit_softmax_newton(
    X: Array,
    y: Array,
    lam,
    *,
    num_classes: int | None = None,
    sample_weight: Array | None = None,
    fit_intercept: bool = False,
    tol: float = 1e-8,
    max_iter: int = 50,
) -> LogisticFit:
    """Damped Newton on the softmax objective over the flattened (DK [+K]) parameters.

    The Hessian is taken by autodiff of the objective (Θ(N(DK)²) to form, Θ((DK)³) to factor),
    so this solver suits small D·K; ``fit_softmax_lbfgs`` scales further.
    """
    X, Y, v, lam = _prepare_multiclass(X, y, lam, num_classes, sample_weight)
    return _fit_softmax_newton(
        X, Y, v, lam, jnp.asarray(tol, X.dtype), jnp.asarray(max_iter, jnp.int32),
        fit_intercept=fit_intercept,
    )


# ----------------------------------------------------------------------------------------------
# gradient registry (jaxml gradcheck and the generic test)


def _binary_args(key, dtype):
    kx, ky, kw = jax.random.split(key, 3)
    X = jax.random.normal(kx, (24, 5), dtype)
    y = (jax.random.uniform(ky, (24,)) < 0.5).astype(dtype).at[:2].set(jnp.array([0, 1], dtype))
    w = jax.random.normal(kw, (5,), dtype)
    return w, X, y, jnp.asarray(0.1, dtype)


def _hvp_args(key, dtype):
    w, X, y, lam = _binary_args(key, dtype)
    u = jax.random.normal(jax.random.fold_in(key, 7), w.shape, dtype)
    return w, u, X, y, lam


def _softmax_args(key, dtype):
    kx, ky, kw = jax.random.split(key, 3)
    X = jax.random.normal(kx, (24, 4), dtype)
    y = jax.random.randint(ky, (24,), 0, 3).at[:3].set(jnp.arange(3))
    W = jax.random.normal(kw, (4, 3), dtype)
    return W, X, y, jnp.asarray(0.1, dtype)


register_gradient(
    "linear.logistic_loss", loss=logistic_loss, grad=logistic_grad, make_args=_binary_args
)
# The Hessian is checked as the gradient of w ↦ ∇L(w)ᵀu, which is ∇²L(w)u (∇²L symmetric).
register_gradient(
    "linear.logistic_hessian",
    loss=lambda w, u, X, y, lam: logistic_grad(w, X, y, lam) @ u,
    grad=lambda w, u, X, y, lam: logistic_hessian(w, X, y, lam) @ u,
    make_args=_hvp_args,
)
register_gradient(
    "linear.softmax_loss", loss=softmax_loss, grad=softmax_grad, make_args=_softmax_args
)


__all__ = [
    "LogisticFit",
    "fit_logistic_gd",
    "fit_logistic_lbfgs",
    "fit_logistic_newton",
    "fit_softmax_lbfgs",
    "fit_softmax_newton",
    "logistic_grad",
    "logistic_hessian",
    "logistic_loss",
    "logistic_newton_path",
    "logistic_nll",
    "logistic_predict",
    "logistic_predict_proba",
    "sigmoid",
    "softmax_grad",
    "softmax_loss",
    "softmax_predict_proba",
]


# ----------------------------------------------------------------------------------------------
# L-BFGS with an exact line search along the margins (the facade's default solver)


def _glm_loss_terms(Z, T, binary):
    """Per-row loss ℓ (N,) and residual ∂ℓ/∂Z (N, K) at margins Z (N, K); T the targets
    (y (N,) for the sigmoid model, K = 1; one-hot Y (N, K) for softmax)."""
    if binary:
        z = Z[:, 0]
        return jax.nn.softplus(z) - T * z, (sigmoid(z) - T)[:, None]
    lse = jax.nn.logsumexp(Z, axis=1)
    return lse - jnp.sum(T * Z, axis=1), jnp.exp(Z - lse[:, None]) - T


def _glm_directional(Z, U, T, v, binary):
    """φ'(t), φ''(t) of the data term φ(t) = Σ v_n ℓ(Z_n + tU_n) at the given Z = Z₀ + tU."""
    if binary:
        s = sigmoid(Z[:, 0])
        u = U[:, 0]
        return v @ ((s - T) * u), v @ (s * (1.0 - s) * u * u)
    P = jax.nn.softmax(Z, axis=1)
    pu = jnp.sum(P * U, axis=1)
    return v @ jnp.sum((P - T) * U, axis=1), v @ (jnp.sum(P * U * U, axis=1) - pu * pu)


_LBFGS_MEMORY = 10
# The line search stops when |φ'(t)| ≤ this fraction of |φ'(0)| (a strong Wolfe condition with
# c₂ = 0.01: nearly exact, which L-BFGS rewards with fewer iterations), after at most 30 steps.
_LS_C2 = 1e-2
_LS_MAX = 30
# Margins are updated as Z ← Z + tU; recompute them from θ this often to stop rounding drift.
_REFRESH_EVERY = 10


def glm_lbfgs(X, T, v, lam, tol, max_iter, W0, b0, *, binary: bool, fit_intercept: bool, cold: bool = False):
    """L-BFGS (memory 10) on L(W, b) = Σ_n v_n ℓ(x_nᵀW + b, t_n) + (λ/2)‖W‖²_F for the sigmoid
    (``binary``: ℓ(z, y) = softplus(z) − yz, W (D, 1)) or softmax (ℓ(z, y) = logsumexp(z) − yᵀz,
    W (D, K)) model, b unpenalized; un-jitted and vmappable.

    Each iteration: the two-loop recursion gives the direction d = −H_k∇L (H₀ = (sᵀy/yᵀy) I), then
    an exact line search along d needs one product U = X d_W + d_b: the margins move as
    Z + tU, so φ(t) = L(θ + td) has φ'(t) = Σ v ℓ'(Z + tU)·U + λ(W + t d_W)·d_W and
    φ''(t) = Σ v Uᵀ∇²ℓ U + λ‖d_W‖² in Θ(NK) without touching X; safeguarded Newton steps on φ'
    (bracketed, convex φ) stop at |φ'(t)| ≤ 0.01|φ'(0)|. The new gradient Xᵀ(v ⊙ ∇ℓ) + λW is the
    iteration's second and last pass over X. Stops when ‖∇L‖_∞ ≤ ``tol`` (after at least one
    iteration) or after ``max_iter`` iterations; one ``lax.while_loop``.

    Returns:
      ``LogisticFit(W, b, L, ‖∇L‖_∞, iterations)`` (binary: w (D,), b (); softmax: W (D, K),
      b (K,), not centred). ``cold=True`` promises W0 = 0.
    """
    dtype = X.dtype
    d_feat, k = W0.shape
    size = d_feat * k
    p = size + (k if fit_intercept else 0)
    m = _LBFGS_MEMORY

    def unflat(theta):
        W = theta[:size].reshape(d_feat, k)
        return W, (theta[size:] if fit_intercept else jnp.zeros((k,), dtype))

    def margins(theta):
        W, b = unflat(theta)
        return ((X @ W[:, 0])[:, None] if binary else X @ W) + b[None, :]

    def value_grad(Z, theta):
        W, _ = unflat(theta)
        loss, R = _glm_loss_terms(Z, T, binary)
        R = v[:, None] * R
        XtR = _xt_vec(X, R[:, 0])[:, None] if binary else _xt_mat(X, R)
        gW = (XtR + lam * W).reshape(-1)
        grad = jnp.concatenate([gW, jnp.sum(R, axis=0)]) if fit_intercept else gW
        return v @ loss + 0.5 * lam * jnp.sum(W * W), grad

    def direction(grad, S, Y, rho, head, stored):
        def newest_first(i, carry):
            q, alphas = carry
            j = (head - 1 - i) % m
            a = jnp.where(i < stored, rho[j] * (S[j] @ q), 0.0)
            return q - a * Y[j], alphas.at[j].set(a)

        q, alphas = jax.lax.fori_loop(0, m, newest_first, (grad, jnp.zeros((m,), dtype)))
        last = (head - 1) % m
        gamma = jnp.where(stored > 0, (S[last] @ Y[last]) / (Y[last] @ Y[last]), 1.0)
        r = gamma * q

        def oldest_first(i, r):
            j = (head - stored + i) % m
            beta = rho[j] * (Y[j] @ r)
            return r + jnp.where(i < stored, alphas[j] - beta, 0.0) * S[j]

        return -jax.lax.fori_loop(0, m, oldest_first, r)

    def line_search(Z, U, theta, d, slope0):
        Wt, _ = unflat(theta)
        Wd, _ = unflat(d)
        wd, dd = jnp.sum(Wt * Wd), jnp.sum(Wd * Wd)

        def derivs(t):
            d1, d2 = _glm_directional(Z + t * U, U, T, v, binary)
            return d1 + lam * (wd + t * dd), d2 + lam * dd

        def cond(s):
            _, _, _, d1, _, i = s
            return (jnp.abs(d1) > _LS_C2 * jnp.abs(slope0)) & (i < _LS_MAX)

        def body(s):
            t, lo, hi, d1, d2, i = s
            lo = jnp.where(d1 < 0, t, lo)
            hi = jnp.where(d1 < 0, hi, t)
            newton = t - d1 / d2
            bisect = jnp.where(jnp.isfinite(hi), 0.5 * (lo + hi), 4.0 * t)
            t = jnp.where((newton > lo) & (newton < hi) & jnp.isfinite(newton), newton, bisect)
            d1, d2 = derivs(t)
            return t, lo, hi, d1, d2, i + 1

        one = jnp.ones((), dtype)
        d1, d2 = derivs(one)
        init = (one, jnp.zeros((), dtype), jnp.asarray(jnp.inf, dtype), d1, d2, jnp.zeros((), jnp.int32))
        return jax.lax.while_loop(cond, body, init)[0]

    def cond(c):
        # at least one iteration, as scipy's L-BFGS-B and optax (n_iter_ ≥ 1 on a warm start)
        it, grad = c[0], c[4]
        return (it < max_iter) & ((it == 0) | (jnp.max(jnp.abs(grad)) > tol))

    def body(c):
        it, theta, Z, value, grad, S, Y, rho, head, stored = c
        d = direction(grad, S, Y, rho, head, stored)
        slope0 = grad @ d
        descent = slope0 < 0
        # Not a descent direction (roundoff in the memory): restart from steepest descent.
        d = jnp.where(descent, d, -grad)
        slope0 = jnp.where(descent, slope0, -(grad @ grad))
        stored = jnp.where(descent, stored, 0)
        dW, db = unflat(d)
        U = ((X @ dW[:, 0])[:, None] if binary else X @ dW) + db[None, :]
        t = line_search(Z, U, theta, d, slope0)
        t = jnp.where(jnp.isfinite(t), t, 0.0)
        theta_new = theta + t * d
        Z_new = jax.lax.cond(
            (it + 1) % _REFRESH_EVERY == 0, lambda: margins(theta_new), lambda: Z + t * U
        )
        value_new, grad_new = value_grad(Z_new, theta_new)
        s, y = theta_new - theta, grad_new - grad
        sy = s @ y
        keep = sy > jnp.finfo(dtype).eps * (y @ y)
        S = jnp.where(keep, S.at[head].set(s), S)
        Y = jnp.where(keep, Y.at[head].set(y), Y)
        rho = jnp.where(keep, rho.at[head].set(1.0 / jnp.where(keep, sy, 1.0)), rho)
        head = jnp.where(keep, (head + 1) % m, head)
        stored = jnp.where(keep, jnp.minimum(stored + 1, m), stored)
        return it + 1, theta_new, Z_new, value_new, grad_new, S, Y, rho, head, stored

    theta0 = jnp.concatenate([W0.reshape(-1), b0]) if fit_intercept else W0.reshape(-1)
    # From W0 = 0 (``cold``, static) the margins are the intercepts: one pass over X saved.
    Z0 = jnp.broadcast_to(unflat(theta0)[1], (X.shape[0], k)) if cold else margins(theta0)
    value0, grad0 = value_grad(Z0, theta0)
    zero_i = jnp.zeros((), jnp.int32)
    init = (zero_i, theta0, Z0, value0, grad0, jnp.zeros((m, p), dtype), jnp.zeros((m, p), dtype),
            jnp.zeros((m,), dtype), zero_i, zero_i)
    it, theta, _, value, grad, *_ = jax.lax.while_loop(cond, body, init)
    W, b = unflat(theta)
    if binary:
        return LogisticFit(W[:, 0], b[0], value, jnp.max(jnp.abs(grad)), it)
    return LogisticFit(W, b, value, jnp.max(jnp.abs(grad)), it)
