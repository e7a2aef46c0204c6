"""Least squares, ridge, lasso, polynomial features, costs and likelihoods (SYLLABUS §1).

Notation (the course's): N samples, D features, a design matrix X ∈ R^{N×D} (augment it with a
column of ones, ``jaxml.core.data.add_bias``, for an offset w₀), targets y ∈ R^N, weights
w ∈ R^D and the residual e = y − Xw.

Every public function validates its input outside ``jit`` (a bad argument raises a ``ValueError``
naming it) and then calls a jitted function defined at module level, so a second call on the same
shapes does not recompile. The regularization strength λ is a traced argument: ``jax.vmap`` over
λ runs a whole sweep in one compiled call. Gram products use ``Precision.HIGHEST`` so that the
normal equations keep full float32 accuracy on accelerators too.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxml.core.checks import check_array, check_int, check_same_length, check_scalar, check_xy
from jaxml.core.gradcheck import register_gradient
from jaxml.core.types import Array, float_dtype
from jaxml.core.xla_cpu import after
from jaxml.optim import l1_subgradient

_HI = lax.Precision.HIGHEST


# --------------------------------------------------------------------------------------------
# Validation helpers (run outside jit; shape checks still run on tracers)


def _check_w(w, X, name: str = "w"):
    check_array(w, name, ndim=1)
    if jnp.shape(w)[0] != jnp.shape(X)[1]:
        raise ValueError(
            f"{name} must have shape (D,) = ({jnp.shape(X)[1]},) to match X, got {jnp.shape(w)}"
        )


def _check_loss_args(w, X, y):
    check_xy(X, y)
    _check_w(w, X)


def _check_lam(lam, name: str = "lam"):
    check_scalar(lam, name, minimum=0.0)
    if jnp.ndim(lam) != 0:
        raise ValueError(
            f"{name} must be a scalar (vmap over it to sweep), got shape {jnp.shape(lam)}"
        )


def _check_lams(lams, name: str = "lams"):
    check_array(lams, name, ndim=1)
    check_scalar(lams, name, minimum=0.0)


def _check_solver_options(max_iter, tol):
    check_scalar(max_iter, "max_iter", minimum=0.0)
    check_scalar(tol, "tol", minimum=0.0)


_GRAM_CHUNK = 1024


def _gram(X):
    """XᵀX at full precision: Θ(ND²).

    On CPU (for D ≥ 64 and N ≥ 2·1024) the product uses its symmetry the way BLAS ``syrk`` does:
    with X = [A B] split by columns, only AᵀA, AᵀB and BᵀB are formed (3/4 of the flops), over
    row chunks of 1024 that stay in cache. Measured ~20% faster than one ``X.T @ X`` for
    N = 100 000, D = 200 in float64 on one core. Elsewhere it is one matrix product.
    """
    n, d = X.shape
    if jax.default_backend() != "cpu" or d < 64 or n < 2 * _GRAM_CHUNK:
        return jnp.matmul(X.T, X, precision=_HI)
    h = d // 2

    def add_rows(blocks, rows):
        AA, AB, BB = blocks
        A, B = rows[:, :h], rows[:, h:]
        return (
            AA + jnp.matmul(A.T, A, precision=_HI),
            AB + jnp.matmul(A.T, B, precision=_HI),
            BB + jnp.matmul(B.T, B, precision=_HI),
        )

    zeros = (
        jnp.zeros((h, h), X.dtype),
        jnp.zeros((h, d - h), X.dtype),
        jnp.zeros((d - h, d - h), X.dtype),
    )
    full = n // _GRAM_CHUNK
    blocks = lax.fori_loop(
        0, full, lambda i, b: add_rows(b, lax.dynamic_slice_in_dim(X, i * _GRAM_CHUNK, _GRAM_CHUNK)),
        zeros,
    )
    if n % _GRAM_CHUNK:
        blocks = add_rows(blocks, X[full * _GRAM_CHUNK :])
    AA, AB, BB = blocks
    return jnp.block([[AA, AB], [AB.T, BB]])


def _xt(X, v):
    """Xᵀv at full precision: Θ(ND). Written as vᵀX: ``X.T @ v`` makes XLA on CPU copy a
    transposed X first (as slow as the Gram product itself for D = 200)."""
    return jnp.matmul(v, X, precision=_HI)


# --------------------------------------------------------------------------------------------
# Costs and their hand gradients


def mse(w: Array, X: Array, y: Array) -> Array:
    """Mean squared error MSE(w) = (1/N) Σₙ eₙ², e = y − Xw.

    Args:
      w: weights, shape (D,).
      X: design matrix, shape (N, D).
      y: targets, shape (N,).

    Returns:
      A scalar. Cost Θ(ND).
    """
    _check_loss_args(w, X, y)
    e = y - jnp.matmul(X, w, precision=_HI)
    return jnp.mean(e**2)


def least_squares_cost(w: Array, X: Array, y: Array) -> Array:
    """The course's least-squares cost J(w) = (1/2N) ‖y − Xw‖² = (1/2N) eᵀe (half the MSE).

    Convex in w; its minimizers solve the normal equations XᵀXw = Xᵀy. Cost Θ(ND).
    """
    _check_loss_args(w, X, y)
    e = y - jnp.matmul(X, w, precision=_HI)
    return 0.5 * jnp.mean(e**2)


def least_squares_grad(w: Array, X: Array, y: Array) -> Array:
    """Hand gradient of ``least_squares_cost``: ∇J(w) = −(1/N) Xᵀe, e = y − Xw.

    Returns:
      Shape (D,). Cost Θ(ND) (two matrix-vector products).
    """
    _check_loss_args(w, X, y)
    e = y - jnp.matmul(X, w, precision=_HI)
    return -_xt(X, e) / X.shape[0]


def mae(w: Array, X: Array, y: Array) -> Array:
    """Mean absolute error MAE(w) = (1/N) Σₙ |eₙ|, e = y − Xw (convex, not differentiable where
    some eₙ = 0; robust to outliers). Cost Θ(ND)."""
    _check_loss_args(w, X, y)
    e = y - jnp.matmul(X, w, precision=_HI)
    return jnp.mean(jnp.abs(e))


def mae_subgradient(w: Array, X: Array, y: Array) -> Array:
    """A subgradient of ``mae``: g = −(1/N) Xᵀ sign(e), e = y − Xw.

    Where no residual is 0 this is the gradient; where eₙ = 0 it takes sign(0) = 0, a valid
    element of the subdifferential. Shape (D,). Cost Θ(ND).
    """
    _check_loss_args(w, X, y)
    e = y - jnp.matmul(X, w, precision=_HI)
    return -_xt(X, jnp.sign(e)) / X.shape[0]


def ridge_objective(w: Array, X: Array, y: Array, lam) -> Array:
    """The course's ridge objective (1/2N) ‖y − Xw‖² + λ ‖w‖². Cost Θ(ND)."""
    _check_loss_args(w, X, y)
    _check_lam(lam)
    e = y - jnp.matmul(X, w, precision=_HI)
    return 0.5 * jnp.mean(e**2) + lam * jnp.sum(w**2)


def ridge_grad(w: Array, X: Array, y: Array, lam) -> Array:
    """Hand gradient of ``ridge_objective``: −(1/N) Xᵀe + 2λw. Shape (D,). Cost Θ(ND)."""
    _check_loss_args(w, X, y)
    _check_lam(lam)
    e = y - jnp.matmul(X, w, precision=_HI)
    return -_xt(X, e) / X.shape[0] + 2 * lam * w


def lasso_objective(w: Array, X: Array, y: Array, lam) -> Array:
    """The course's lasso objective (1/2N) ‖y − Xw‖² + λ ‖w‖₁ (= scikit-learn's Lasso with
    alpha = λ, fit_intercept=False). Cost Θ(ND)."""
    _check_loss_args(w, X, y)
    _check_lam(lam)
    e = y - jnp.matmul(X, w, precision=_HI)
    return 0.5 * jnp.mean(e**2) + lam * jnp.sum(jnp.abs(w))


def mae_value_and_subgradient(w: Array, X: Array, y: Array) -> tuple[Array, Array]:
    r"""MAE of a linear model and a subgradient of it, for ``jaxml.optim.subgradient_descent``.

    .. math::

      L(w) = \frac{1}{N} \sum_n |y_n - x_n^\top w|, \qquad
      g = -\frac{1}{N} X^\top \mathrm{sign}(e), \quad e = y - Xw

    Θ(ND). Minimizing it is least-absolute-deviations regression (the MLE under Laplace noise).

    Args:
      w: (D,) weights. X: (N, D) design. y: (N,) targets.

    Returns:
      ``(L(w), g)``, a scalar and a (D,) subgradient.
    """
    return mae(w, X, y), mae_subgradient(w, X, y)


def l1_least_squares_value_and_subgradient(
    w: Array, X: Array, y: Array, lam: Array
) -> tuple[Array, Array]:
    r"""The lasso objective and a subgradient of it, for ``jaxml.optim.subgradient_descent``.

    .. math::

      L(w) = \frac{1}{2N} \|y - Xw\|^2 + \lambda \|w\|_1, \qquad
      g = -\frac{1}{N} X^\top (y - Xw) + \lambda\, \mathrm{sign}(w)

    (sign(0) = 0, ``jaxml.optim.l1_subgradient``; scikit-learn: ``Lasso(alpha=λ,
    fit_intercept=False)``). Θ(ND).

    Args:
      w: (D,) weights. X: (N, D) design. y: (N,) targets. lam: λ ≥ 0 (traced).

    Returns:
      ``(L(w), g)``, a scalar and a (D,) subgradient.
    """
    return lasso_objective(w, X, y, lam), least_squares_grad(w, X, y) + lam * l1_subgradient(w)


# --------------------------------------------------------------------------------------------
# Least squares by the normal equations


@jax.jit
def _least_squares(X, y):
    gram, xty = _gram(X), _xt(X, y)
    evals, evecs = jnp.linalg.eigh(gram)
    eps = jnp.finfo(X.dtype).eps
    # Solving the normal equations loses accuracy like κ(XᵀX)·eps = κ(X)²·eps: past
    # κ(XᵀX) = 1/√eps (also for a singular Gram) switch to the SVD of X itself.
    well_conditioned = evals[0] > evals[-1] * jnp.sqrt(eps)

    def spectral_solve(_):
        return _spectral_ridge(evals, evecs, xty, jnp.zeros((1,), xty.dtype))[0]

    def minimum_norm(_):
        # after(): the SVD runs once the eigendecomposition is done (XLA:CPU workaround).
        return jnp.linalg.lstsq(after(X, evals), y)[0]

    return lax.cond(well_conditioned, spectral_solve, minimum_norm, None)


def least_squares(X: Array, y: Array) -> Array:
    """Least squares w* = argmin (1/2N) ‖y − Xw‖²: the solution of the normal equations
    XᵀX w = Xᵀy.

    The Gram matrix XᵀX = VΛVᵀ is factored once (symmetric eigendecomposition) and the normal
    equations are solved as w = V Λ⁻¹ Vᵀ Xᵀy — a linear solve, never an explicit inverse. When
    XᵀX is singular or ill-conditioned (κ(XᵀX) > 1/√eps, e.g. duplicated columns or a
    high-degree polynomial basis) the minimum-norm solution X⁺y is returned instead, computed from
    the SVD of X (equal to ``np.linalg.lstsq`` / ``np.linalg.pinv(X) @ y``): never NaN.

    Args:
      X: design matrix, shape (N, D) (add a column of ones for an offset).
      y: targets, shape (N,).

    Returns:
      w, shape (D,). Cost Θ(ND² + D³) (Gram product plus factorization; the fallback SVD is also
      Θ(ND²)). Under ``vmap`` both branches run.
    """
    check_xy(X, y)
    return _least_squares(X, y)


# --------------------------------------------------------------------------------------------
# Ridge


@jax.jit
def _ridge(X, y, lam):
    n, d = X.shape
    gram, xty = _gram(X), _xt(X, y)
    system = gram + (2 * n * lam) * jnp.eye(d, dtype=gram.dtype)
    chol = jnp.linalg.cholesky(system)
    # jnp.linalg.cholesky returns NaN (it does not raise) when the system is not positive
    # definite, which only happens for λ = 0 with a singular Gram matrix.
    factored = jnp.all(jnp.isfinite(chol))
    eye = jnp.eye(d, dtype=chol.dtype)
    w = jax.scipy.linalg.cho_solve((jnp.where(factored, chol, eye), True), xty)
    solved = factored & jnp.all(jnp.isfinite(w))

    def minimum_norm(w):
        # after(): the eigendecomposition runs once the Cholesky solve is done (XLA:CPU workaround).
        evals, evecs = jnp.linalg.eigh(after(system, w))
        return _spectral_ridge(evals, evecs, xty, jnp.zeros((1,), xty.dtype))[0]

    return lax.cond(solved, lambda w: w, minimum_norm, w)


def ridge(X: Array, y: Array, lam) -> Array:
    """Ridge regression: argmin (1/2N) ‖y − Xw‖² + λ ‖w‖², the solution of
    (XᵀX + 2Nλ I) w = Xᵀy, by a Cholesky factorization (``cho_solve``, no inverse).

    scikit-learn's ``Ridge(alpha)`` minimizes ‖y − Xw‖² + alpha ‖w‖²: alpha = 2Nλ.

    Args:
      X: design matrix, shape (N, D).
      y: targets, shape (N,).
      lam: λ ≥ 0, a scalar; traced, so ``jax.vmap(ridge, (None, None, 0))(X, y, lams)`` sweeps
        it in one call (the Gram product is shared across the sweep; for many λ, ``ridge_path``
        is faster still). For λ = 0 with a singular XᵀX the minimum-norm solution is returned.

    Returns:
      w, shape (D,). Cost Θ(ND² + D³).
    """
    check_xy(X, y)
    _check_lam(lam)
    return _ridge(X, y, lam)


def _spectral_ridge(evals, evecs, xty, two_n_lams):
    """w(λ) = V (Λ + 2NλI)⁺ Vᵀ Xᵀy for each entry of ``two_n_lams`` (L,) -> (L, D), from the
    eigendecomposition XᵀX = VΛVᵀ (ascending Λ): the one spectral ridge solver of jaxml.

    The pseudo-inverse floor: a direction whose system eigenvalue Λ_i + 2Nλ is
    ≤ D·eps·Λ_max gets weight 0 (Λ_max floored at the smallest normal number, so that an all-zero
    Gram gives w = 0). Why this floor: a symmetric eigensolver returns each eigenvalue of the
    computed XᵀX with an absolute error of about D·eps·‖XᵀX‖₂ = D·eps·Λ_max (rounding in the
    Gram product and the backward-stable factorization). Below that level an eigenvalue cannot
    be told from 0, and dividing by it would amplify noise by up to 1/eps; dropping it gives the
    minimum-norm solution (X⁺y at λ = 0, as ``numpy.linalg.pinv`` with a relative cutoff).
    For λ > 0 with 2Nλ above the floor nothing is dropped and the result is exact ridge.
    Rounding can make a zero eigenvalue slightly negative: Λ is clipped at 0 first.
    """
    evals = jnp.maximum(evals, 0.0)
    d = evals.shape[0]
    tiny = jnp.finfo(evals.dtype).tiny
    floor = d * jnp.finfo(evals.dtype).eps * jnp.maximum(evals[-1], tiny)
    proj = jnp.matmul(evecs.T, xty, precision=_HI)
    denom = evals[None, :] + two_n_lams[:, None]
    keep = denom > floor
    scaled = jnp.where(keep, proj[None, :] / jnp.where(keep, denom, 1.0), 0.0)
    return jnp.matmul(scaled, evecs.T, precision=_HI)


@jax.jit
def _ridge_path_gram(gram, xty, n_samples, lams):
    evals, evecs = jnp.linalg.eigh(gram)
    return _spectral_ridge(evals, evecs, xty, 2 * n_samples * lams)


def ridge_path_gram(gram: Array, xty: Array, n_samples, lams: Array) -> Array:
    """Ridge solutions for many λ from sufficient statistics: XᵀX = VΛVᵀ is factored once, then
    w(λ) = V (Λ + 2Nλ I)⁻¹ Vᵀ Xᵀy costs Θ(D²) per λ.

    This is the building block of fast cross-validation: a fold's training Gram matrix is the
    total Gram matrix minus the held-out rows' Gram matrix.

    Args:
      gram: XᵀX, shape (D, D), symmetric positive semi-definite.
      xty: Xᵀy, shape (D,).
      n_samples: N, the number of rows behind ``gram`` (scales λ as in the course objective).
      lams: λ values ≥ 0, shape (L,).

    Returns:
      Weights, shape (L, D). Cost Θ(D³ + L D²).
    """
    check_array(gram, "gram", ndim=2)
    check_array(xty, "xty", ndim=1)
    if gram.shape[0] != gram.shape[1] or gram.shape[0] != xty.shape[0]:
        raise ValueError(f"gram must be (D, D) and xty (D,), got {gram.shape} and {xty.shape}")
    check_scalar(n_samples, "n_samples", minimum=0.0, strict_min=True)
    _check_lams(lams)
    return _ridge_path_gram(gram, xty, n_samples, lams)


@jax.jit
def _ridge_path(X, y, lams):
    return _ridge_path_gram(_gram(X), _xt(X, y), X.shape[0], lams)


def ridge_path(X: Array, y: Array, lams: Array) -> Array:
    """Ridge solutions w(λ) = (XᵀX + 2Nλ I)⁻¹Xᵀy for every λ in ``lams`` from ONE symmetric
    eigendecomposition XᵀX = VΛVᵀ: w(λ) = V diag(1/(Λ + 2Nλ)) Vᵀ Xᵀy.

    Args:
      X: design matrix, shape (N, D).
      y: targets, shape (N,).
      lams: λ values ≥ 0, shape (L,).

    Returns:
      Weights, shape (L, D), row l for ``lams[l]``. Cost Θ(ND² + D³ + L D²) — the fast way for
      many λ (a Cholesky per λ would be Θ(L D³)).
    """
    check_xy(X, y)
    _check_lams(lams)
    return _ridge_path(X, y, lams)


# --------------------------------------------------------------------------------------------
# Lasso


def soft_threshold(z: Array, t) -> Array:
    """The proximal operator of t‖·‖₁: S_t(z) = sign(z) · max(|z| − t, 0), elementwise. Θ(size)."""
    return jnp.sign(z) * jnp.maximum(jnp.abs(z) - t, 0.0)


class LassoResult(NamedTuple):
    """What a lasso solver returns.

    Attributes:
      w: weights, shape (D,) (or (L, D) from ``lasso_path``).
      n_iter: iterations run (FISTA steps or coordinate-descent sweeps), int32.
      gap: the final duality gap of (1/2N)‖y − Xw‖² + λ‖w‖₁ (≥ 0; 0 only at the optimum).
    """

    w: Array
    n_iter: Array
    gap: Array


class _Quadratic(NamedTuple):
    """Sufficient statistics of (1/2N)‖y − Xw‖² = ½ (yᵀy/N − 2 qᵀw + wᵀ A w):
    A = XᵀX/N (None when D > N: then products go through X), q = Xᵀy/N, yy = yᵀy/N."""

    A: Array | None
    X: Array
    q: Array
    yy: Array


def _quadratic(X, y, use_gram: bool) -> _Quadratic:
    n = X.shape[0]
    A = _gram(X) / n if use_gram else None
    return _Quadratic(A, X, _xt(X, y) / n, jnp.sum(y * y) / n)


def _matvec(quad: _Quadratic, v):
    """A v with A = XᵀX/N: Θ(D²) from the Gram matrix, Θ(ND) through X."""
    if quad.A is not None:
        return jnp.matmul(quad.A, v, precision=_HI)
    return _xt(quad.X, jnp.matmul(quad.X, v, precision=_HI)) / quad.X.shape[0]


def _duality_gap(quad: _Quadratic, w, Aw, lam, positive: bool = False):
    """Duality gap of P(w) = (1/2N)‖r‖² + λ‖w‖₁, r = y − Xw, at the dual point ν = s r with
    s = min(1, λ / ‖Xᵀr/N‖∞) (scikit-learn's formulation A divided by N):
    G = ½‖r‖²/N (1 + s²) + λ‖w‖₁ − s rᵀy/N. Θ(D) given Aw. Under w ≥ 0 (``positive``) the dual
    constraint is one-sided, Xᵀν/N ≤ λ, so the dual norm is max_j (Xᵀr/N)_j instead."""
    r_norm2 = jnp.maximum(quad.yy - 2 * jnp.dot(quad.q, w) + jnp.dot(w, Aw), 0.0)
    correlation = quad.q - Aw
    dual_norm = jnp.max(correlation) if positive else jnp.max(jnp.abs(correlation))
    s = jnp.where(dual_norm > lam, lam / jnp.where(dual_norm > 0, dual_norm, 1.0), 1.0)
    r_dot_y = quad.yy - jnp.dot(quad.q, w)
    return 0.5 * r_norm2 * (1 + s**2) + lam * jnp.sum(jnp.abs(w)) - s * r_dot_y


def _fista(quad: _Quadratic, lam, w0, max_iter, tol, lipschitz) -> LassoResult:
    """FISTA on the quadratic form, with gradient-based adaptive restart."""
    safe_l = jnp.where(lipschitz > 0, lipschitz, 1.0)
    step = jnp.where(lipschitz > 0, 1.0 / safe_l, 0.0)
    target = tol * quad.yy
    Aw0 = _matvec(quad, w0)
    dtype = w0.dtype
    init = (w0, Aw0, w0, Aw0, jnp.ones((), dtype), jnp.zeros((), jnp.int32),
            _duality_gap(quad, w0, Aw0, lam))

    def cond(state):
        *_, k, gap = state
        return (k < max_iter) & (gap > target)

    def body(state):
        w, Aw, z, Az, t, k, _ = state
        grad_z = Az - quad.q
        w_new = soft_threshold(z - step * grad_z, step * lam)
        Aw_new = _matvec(quad, w_new)
        t_new = 0.5 * (1 + jnp.sqrt(1 + 4 * t**2))
        # O'Donoghue & Candès restart: drop the momentum when it points uphill.
        restart = jnp.dot(z - w_new, w_new - w) > 0
        t_new = jnp.where(restart, jnp.ones_like(t_new), t_new)
        beta = jnp.where(restart, 0.0, (t - 1) / t_new)
        z_new = w_new + beta * (w_new - w)
        Az_new = Aw_new + beta * (Aw_new - Aw)
        return (w_new, Aw_new, z_new, Az_new, t_new, k + 1, _duality_gap(quad, w_new, Aw_new, lam))

    w, _, _, _, _, k, gap = lax.while_loop(cond, body, init)
    return LassoResult(w, k, gap)


def _cd(quad: _Quadratic, lam, w0, max_iter, tol, positive: bool = False, key=None) -> LassoResult:
    """Coordinate descent on the Gram form; A w is updated incrementally (Θ(D) per coordinate,
    Θ(D²) per sweep). Cyclic order, or a fresh random permutation per sweep when ``key`` is
    given (scikit-learn's ``selection="random"``). ``positive`` constrains w ≥ 0: the 1-D
    minimizer is then max(ρ_j − λ, 0)/a_jj."""
    A = quad.A
    d = w0.shape[0]
    diag = jnp.diagonal(A)
    target = tol * quad.yy
    Aw0 = jnp.matmul(A, w0, precision=_HI)

    def coordinate(order, i, carry):
        w, Aw = carry
        j = i if order is None else order[i]
        a_jj, w_j = diag[j], w[j]
        # ρ_j = (1/N) x_jᵀ(y − Σ_{k≠j} x_k w_k); the 1-D problem's minimizer is S_λ(ρ_j)/a_jj.
        rho = quad.q[j] - Aw[j] + a_jj * w_j
        shrunk = jnp.maximum(rho - lam, 0.0) if positive else soft_threshold(rho, lam)
        safe_a = jnp.where(a_jj > 0, a_jj, 1.0)
        w_j_new = jnp.where(a_jj > 0, shrunk / safe_a, 0.0)
        return w.at[j].set(w_j_new), Aw + A[j] * (w_j_new - w_j)

    def cond(state):
        _, _, k, gap = state
        return (k < max_iter) & (gap > target)

    def body(state):
        w, Aw, k, _ = state
        order = None if key is None else jax.random.permutation(jax.random.fold_in(key, k), d)
        w, Aw = lax.fori_loop(0, d, functools.partial(coordinate, order), (w, Aw))
        # Recompute A w once per sweep so rounding in the incremental updates cannot accumulate.
        Aw = jnp.matmul(A, w, precision=_HI)
        return w, Aw, k + 1, _duality_gap(quad, w, Aw, lam, positive)

    init = (w0, Aw0, jnp.zeros((), jnp.int32), _duality_gap(quad, w0, Aw0, lam, positive))
    w, _, k, gap = lax.while_loop(cond, body, init)
    return LassoResult(w, k, gap)


def _lipschitz(quad: _Quadratic):
    """L = λ_max(XᵀX)/N, the Lipschitz constant of the gradient of (1/2N)‖y − Xw‖²."""
    if quad.A is not None:
        return jnp.linalg.eigvalsh(quad.A)[-1]
    X = quad.X
    return jnp.linalg.eigvalsh(jnp.matmul(X, X.T, precision=_HI))[-1] / X.shape[0]


@functools.partial(jax.jit, static_argnames=("method", "positive"))
def _lasso(X, y, lam, w0, max_iter, tol, method, positive=False):
    n, d = X.shape
    if method == "cd":
        return _cd(_quadratic(X, y, True), lam, w0, max_iter, tol, positive)
    quad = _quadratic(X, y, n >= d)
    return _fista(quad, lam, w0, max_iter, tol, _lipschitz(quad))


def _lasso_entry(X, y, lam, w0, max_iter, tol, method, positive=False):
    check_xy(X, y)
    _check_lam(lam)
    _check_solver_options(max_iter, tol)
    X, y = jnp.asarray(X), jnp.asarray(y)
    if w0 is None:
        w0 = jnp.zeros((X.shape[1],), float_dtype(X, y))
    else:
        _check_w(w0, X, "w0")
    return _lasso(X, y, lam, w0, max_iter, tol, method, bool(positive))


def lasso_fista(
    X: Array, y: Array, lam, *, max_iter=1000, tol=1e-6, w0: Array | None = None
) -> LassoResult:
    """Lasso argmin (1/2N)‖y − Xw‖² + λ‖w‖₁ by proximal gradient with FISTA momentum:

        w_{k+1} = S_{λ/L}(z_k − ∇f(z_k)/L),  t_{k+1} = (1 + √(1 + 4t_k²))/2,
        z_{k+1} = w_{k+1} + ((t_k − 1)/t_{k+1}) (w_{k+1} − w_k),

    with ∇f(z) = (XᵀXz − Xᵀy)/N, step 1/L, L = λ_max(XᵀX)/N, and adaptive restart (t ← 1 when
    the momentum points uphill). One jitted ``lax.while_loop`` that stops when the duality gap is
    ≤ tol · ‖y‖²/N (scikit-learn's criterion) or after ``max_iter`` steps.

    Args:
      X: design matrix, shape (N, D).
      y: targets, shape (N,).
      lam: λ ≥ 0 (traced: vmappable).
      max_iter: maximum number of proximal steps.
      tol: relative duality-gap tolerance.
      w0: starting point (warm start), shape (D,); zeros by default.

    Returns:
      ``LassoResult(w, n_iter, gap)``. Cost Θ(ND² + D³) once (Gram matrix and λ_max) then Θ(D²)
      per step when N ≥ D; Θ(ND) per step through X when D > N.
    """
    return _lasso_entry(X, y, lam, w0, max_iter, tol, "fista")


def lasso_cd(
    X: Array, y: Array, lam, *, max_iter=1000, tol=1e-6, w0: Array | None = None, positive: bool = False
) -> LassoResult:
    """Lasso argmin (1/2N)‖y − Xw‖² + λ‖w‖₁ by cyclic coordinate descent: for j = 1..D,

        ρ_j = (1/N) x_jᵀ (y − Σ_{k≠j} x_k w_k),   w_j ← S_λ(ρ_j) / (‖x_j‖²/N),

    (the exact minimizer along coordinate j; w_j = 0 for an all-zero column; under
    ``positive=True``, w ≥ 0, the update is w_j ← max(ρ_j − λ, 0) / (‖x_j‖²/N)). Sweeps run in a
    jitted ``lax.while_loop`` (coordinates in a ``lax.fori_loop``) until the duality gap is
    ≤ tol · ‖y‖²/N or ``max_iter`` sweeps.

    Args:
      X: design matrix, shape (N, D).
      y: targets, shape (N,).
      lam: λ ≥ 0 (traced: vmappable).
      max_iter: maximum number of sweeps.
      tol: relative duality-gap tolerance.
      w0: starting point (warm start), shape (D,); zeros by default.
      positive: constrain w ≥ 0 (the duality gap then uses the one-sided dual norm
        max_j (Xᵀr/N)_j).

    Returns:
      ``LassoResult(w, n_iter, gap)``. Cost Θ(ND²) once for the Gram matrix (memory Θ(D²)),
      then Θ(D²) per sweep.
    """
    return _lasso_entry(X, y, lam, w0, max_iter, tol, "cd", positive)


@functools.partial(jax.jit, static_argnames=("method",))
def _lasso_path(X, y, lams, max_iter, tol, method):
    n, d = X.shape
    quad = _quadratic(X, y, method == "cd" or n >= d)
    lipschitz = _lipschitz(quad) if method == "fista" else None
    order = jnp.argsort(-lams)

    def solve(w, lam):
        if method == "cd":
            res = _cd(quad, lam, w, max_iter, tol)
        else:
            res = _fista(quad, lam, w, max_iter, tol, lipschitz)
        return res.w, res

    dtype = float_dtype(X, y)
    _, path = lax.scan(solve, jnp.zeros((d,), dtype), lams[order])
    inverse = jnp.zeros_like(order).at[order].set(jnp.arange(order.shape[0]))
    return jax.tree.map(lambda leaf: leaf[inverse], path)


def lasso_path(
    X: Array, y: Array, lams: Array, *, method: str = "cd", max_iter=1000, tol=1e-6
) -> LassoResult:
    """Lasso solutions for every λ in ``lams``, solved from the largest λ down with warm starts
    (each solution starts the next solve), in one ``lax.scan``; the Gram matrix is computed once.

    Args:
      X: design matrix, shape (N, D).
      y: targets, shape (N,).
      lams: λ values ≥ 0, shape (L,), any order (results come back in the order given).
      method: "cd" (``lasso_cd``) or "fista" (``lasso_fista``).
      max_iter, tol: per-λ solver limits (duality gap ≤ tol · ‖y‖²/N).

    Returns:
      ``LassoResult`` with w of shape (L, D), n_iter and gap of shape (L,). Cost Θ(ND²) once plus
      the solver's iterations (Θ(D²) each).
    """
    check_xy(X, y)
    _check_lams(lams)
    _check_solver_options(max_iter, tol)
    if method not in ("cd", "fista"):
        raise ValueError(f"method must be 'cd' or 'fista', got {method!r}")
    return _lasso_path(X, y, lams, max_iter, tol, method)


def lasso_duality_gap(w: Array, X: Array, y: Array, lam) -> Array:
    """Duality gap of the lasso at w: P(w) − D(ν) with ν = s r, r = y − Xw,
    s = min(1, λ/‖Xᵀr/N‖∞), D(ν) = (‖y‖² − ‖y − ν‖²)/(2N). Non-negative, zero exactly at the
    optimum: a certificate of accuracy (P(w) − P* ≤ gap). Cost Θ(ND)."""
    _check_loss_args(w, X, y)
    _check_lam(lam)
    n = X.shape[0]
    Xw = jnp.matmul(X, w, precision=_HI)
    quad = _Quadratic(None, X, _xt(X, y) / n, jnp.sum(y * y) / n)
    return _duality_gap(quad, w, _xt(X, Xw) / n, lam)


# --------------------------------------------------------------------------------------------
# Weighted, centered sufficient statistics and the solvers on them (behind jaxml.sklearn)


class CenteredStats(NamedTuple):
    """Sufficient statistics of a weighted least-squares problem with an unpenalized offset.

    With sample weights s_n ≥ 0 (1 when not given), weighted means x̄ = Σ s_n x_n / Σ s_n and
    ȳ = Σ s_n y_n / Σ s_n (0 when no offset is fitted):

    Attributes:
      gram: Σ_n s_n (x_n − x̄)(x_n − x̄)ᵀ, shape (D, D).
      xty: Σ_n s_n (x_n − x̄)(y_n − ȳ)ᵀ, shape (D, T).
      yty: Σ_n s_n (y_n − ȳ)², shape (T,).
      x_mean: x̄, shape (D,). y_mean: ȳ, shape (T,).
      weight_sum: Σ_n s_n.
    """

    gram: Array
    xty: Array
    yty: Array
    x_mean: Array
    y_mean: Array
    weight_sum: Array


def _weighted_mean(X, sample_weight):
    if sample_weight is None:
        return jnp.mean(X, axis=0)
    return _xt(X, sample_weight) / jnp.sum(sample_weight)


def _centered_stats(X, Y, sample_weight, fit_intercept: bool) -> CenteredStats:
    n, d = X.shape
    t = Y.shape[1]
    dtype = X.dtype
    if fit_intercept:
        x_mean, y_mean = _weighted_mean(X, sample_weight), _weighted_mean(Y, sample_weight)
    else:
        x_mean, y_mean = jnp.zeros((d,), dtype), jnp.zeros((t,), dtype)
    sqrt_w = None if sample_weight is None else jnp.sqrt(sample_weight)
    weight_sum = jnp.asarray(n, dtype) if sample_weight is None else jnp.sum(sample_weight)

    def rows(start, size):
        Xr = lax.dynamic_slice_in_dim(X, start, size)
        Yr = lax.dynamic_slice_in_dim(Y, start, size)
        if fit_intercept:
            Xr, Yr = Xr - x_mean[None, :], Yr - y_mean[None, :]
        if sqrt_w is not None:
            s = lax.dynamic_slice_in_dim(sqrt_w, start, size)[:, None]
            Xr, Yr = Xr * s, Yr * s
        return Xr, Yr

    # Centering and weighting happen chunk by chunk inside the Gram product (as in ``_gram``),
    # so the centered copy of X is never materialized: one pass over X for the means, one for
    # the products.
    split = jax.default_backend() == "cpu" and d >= 64
    h = d // 2

    def add(acc, start, size):
        Xr, Yr = rows(start, size)
        xy = acc[-2] + jnp.matmul(Yr.T, Xr, precision=_HI)
        yy = acc[-1] + jnp.sum(Yr * Yr, axis=0)
        if split:
            A, B = Xr[:, :h], Xr[:, h:]
            AA, AB, BB = acc[:3]
            return (AA + jnp.matmul(A.T, A, precision=_HI), AB + jnp.matmul(A.T, B, precision=_HI),
                    BB + jnp.matmul(B.T, B, precision=_HI), xy, yy)
        return (acc[0] + jnp.matmul(Xr.T, Xr, precision=_HI), xy, yy)

    if split:
        zeros = (jnp.zeros((h, h), dtype), jnp.zeros((h, d - h), dtype), jnp.zeros((d - h, d - h), dtype))
    else:
        zeros = (jnp.zeros((d, d), dtype),)
    acc = (*zeros, jnp.zeros((t, d), dtype), jnp.zeros((t,), dtype))
    if jax.default_backend() == "cpu" and n >= 2 * _GRAM_CHUNK:
        full = n // _GRAM_CHUNK
        acc = lax.fori_loop(0, full, lambda i, a: add(a, i * _GRAM_CHUNK, _GRAM_CHUNK), acc)
        if n % _GRAM_CHUNK:
            acc = add(acc, full * _GRAM_CHUNK, n - full * _GRAM_CHUNK)
    else:
        acc = add(acc, 0, n)
    if split:
        AA, AB, BB, xy, yy = acc
        gram = jnp.block([[AA, AB], [AB.T, BB]])
    else:
        gram, xy, yy = acc
    return CenteredStats(gram, xy.T, yy, x_mean, y_mean, weight_sum)


def centered_stats(X: Array, Y: Array, sample_weight: Array | None = None, *,
                   fit_intercept: bool = True) -> CenteredStats:
    """The weighted, centered sufficient statistics of ``CenteredStats`` (Gram matrix
    Σ s_n (x_n − x̄)(x_n − x̄)ᵀ, cross products, target sums of squares, the means).

    Fitting an offset w₀ unpenalized is the same as centering: for any w the best w₀ is
    ȳ − x̄ᵀw, and substituting it leaves the problem on x − x̄, y − ȳ. The centered X is
    never formed: rows are centered and scaled by √s_n a chunk at a time inside the products.

    Args:
      X: (N, D). Y: (N, T) targets (one column per target).
      sample_weight: (N,) non-negative weights s_n, or None for s_n = 1.
      fit_intercept: center (True) or use x̄ = 0, ȳ = 0 (False).

    Returns:
      ``CenteredStats``. Cost Θ(ND² + NDT) (two passes over X).
    """
    check_array(X, "X", ndim=2)
    check_array(Y, "Y", ndim=2)
    check_same_length(X=X, Y=Y)
    if sample_weight is not None:
        check_array(sample_weight, "sample_weight", ndim=1)
        check_scalar(sample_weight, "sample_weight", minimum=0.0)
        check_same_length(X=X, sample_weight=sample_weight)
    return _centered_stats_jit(X, Y, sample_weight, bool(fit_intercept))


_centered_stats_jit = jax.jit(_centered_stats, static_argnames=("fit_intercept",))


def _ridge_gram_solve(gram, xty, alphas, shared_alpha: bool):
    """W (D, T) with (G + α_t I) w_t = b_t for each target t (α_t = alphas[t]): one Cholesky
    factorization for a shared α (every column solved with it), one per target otherwise. A
    factorization that fails (α = 0 with a singular G) falls back to the minimum-norm solution
    from the eigendecomposition of G (``_spectral_ridge``'s pseudo-inverse floor)."""
    d = gram.shape[0]
    eye = jnp.eye(d, dtype=gram.dtype)

    def cholesky_solve(alpha, b):
        chol = jnp.linalg.cholesky(gram + alpha * eye)
        # jnp.linalg.cholesky returns NaN (it does not raise) for a matrix that is not
        # positive definite.
        factored = jnp.all(jnp.isfinite(chol))
        w = jax.scipy.linalg.cho_solve((jnp.where(factored, chol, eye), True), b)
        return w, factored & jnp.all(jnp.isfinite(w))

    if shared_alpha:
        W, solved = cholesky_solve(alphas[0], xty)
    else:
        Wt, ok = jax.vmap(lambda a, b: cholesky_solve(a, b), in_axes=(0, 1))(alphas, xty)
        W, solved = Wt.T, jnp.all(ok)

    def minimum_norm(W):
        # after(): the eigendecomposition runs once the Cholesky solve is done (XLA:CPU workaround).
        evals, evecs = jnp.linalg.eigh(after(gram, W))
        per_target = jax.vmap(lambda b, a: _spectral_ridge(evals, evecs, b, a[None])[0], in_axes=(1, 0))
        return per_target(xty, alphas).T

    return lax.cond(solved, lambda W: W, minimum_norm, W)


def _nonneg_quadratic(A, q, w0, max_iter, tol, polish_every: int = 10):
    """argmin ½ wᵀAw − qᵀw subject to w ≥ 0 (A symmetric positive semi-definite).

    Projected coordinate descent, w_j ← max(0, w_j − (Aw − q)_j / A_jj) for j = 1..D, in
    blocks of ``polish_every`` sweeps. After each block the free set P = {j : w_j > 0} is
    polished: the equality-constrained problem A_PP w_P = q_P is solved by Cholesky, and that
    point is the exact optimum (returned at once) when it is feasible (w_P ≥ 0) and satisfies the
    remaining KKT conditions (Aw − q)_j ≥ −τ off P (τ = √eps · max|q|). Otherwise the descent
    goes on until the largest step is ≤ tol · max|w| or ``max_iter`` sweeps. Returns
    (w, sweeps run, converged).
    """
    d = w0.shape[0]
    dtype = A.dtype
    diag = jnp.diagonal(A)
    safe_diag = jnp.where(diag > 0, diag, 1.0)
    eye = jnp.eye(d, dtype=dtype)
    tau = jnp.sqrt(jnp.finfo(dtype).eps) * jnp.maximum(jnp.max(jnp.abs(q)), jnp.finfo(dtype).tiny)

    def coordinate(j, carry):
        w, Aw, step = carry
        w_j = w[j]
        w_j_new = jnp.where(diag[j] > 0, jnp.maximum(w_j - (Aw[j] - q[j]) / safe_diag[j], 0.0), 0.0)
        return w.at[j].set(w_j_new), Aw + A[j] * (w_j_new - w_j), jnp.maximum(step, jnp.abs(w_j_new - w_j))

    def sweep(_, carry):
        w, _, k, _ = carry
        w, _, step = lax.fori_loop(0, d, coordinate, (w, jnp.matmul(A, w, precision=_HI), jnp.zeros((), dtype)))
        small = step <= tol * jnp.max(jnp.abs(w))
        return w, step, k + 1, small

    def polish(w):
        free = w > 0
        both = free[:, None] & free[None, :]
        system = jnp.where(both, A, eye)
        chol = jnp.linalg.cholesky(system)
        w_free = jax.scipy.linalg.cho_solve((jnp.where(jnp.all(jnp.isfinite(chol)), chol, eye), True),
                                            jnp.where(free, q, 0.0))
        w_free = jnp.where(free, w_free, 0.0)
        grad = jnp.matmul(A, w_free, precision=_HI) - q
        ok = (jnp.all(jnp.isfinite(chol)) & jnp.all(jnp.isfinite(w_free)) & jnp.all(w_free >= 0)
              & jnp.all(free | (grad >= -tau)))
        return w_free, ok

    def cond(state):
        _, k, done, _ = state
        return (k < max_iter) & ~done

    def body(state):
        w, k, _, _ = state
        block = jnp.minimum(polish_every, max_iter - k)
        w, _, k, small = lax.fori_loop(0, block, sweep, (w, jnp.zeros((), dtype), k, False))
        w_exact, exact = polish(w)
        return jnp.where(exact, w_exact, w), k, exact | small, exact

    w0 = jnp.maximum(w0, 0.0)
    w_exact, exact = polish(w0)
    init = (jnp.where(exact, w_exact, w0), jnp.zeros((), jnp.int32), exact, exact)
    w, k, done, _ = lax.while_loop(cond, body, init)
    return w, k, done


@jax.jit
def _nnls(X, y, lam, max_iter, tol):
    n = X.shape[0]
    A = _gram(X) / n + 2 * lam * jnp.eye(X.shape[1], dtype=X.dtype)
    w, k, done = _nonneg_quadratic(A, _xt(X, y) / n, jnp.zeros((X.shape[1],), X.dtype), max_iter, tol)
    return w, k, done


def nonnegative_least_squares(X: Array, y: Array, lam=0.0, *, max_iter=10_000, tol=1e-10):
    """Non-negative least squares (ridge for λ > 0): argmin_{w ≥ 0} (1/2N)‖y − Xw‖² + λ‖w‖².

    The KKT conditions: with g = ∇ = (XᵀXw − Xᵀy)/N + 2λw, every j has w_j ≥ 0, g_j ≥ 0 and
    w_j g_j = 0. Solved by projected coordinate descent on the Gram matrix,
    w_j ← max(0, w_j − g_j / (‖x_j‖²/N + 2λ)), polished every 10 sweeps by solving the normal
    equations on the free set {j : w_j > 0}: once that set is right the answer is exact (the
    one ``scipy.optimize.nnls`` returns). scikit-learn: ``LinearRegression(positive=True,
    fit_intercept=False)`` for λ = 0, ``Ridge(alpha=2Nλ, positive=True, fit_intercept=False)``.

    Args:
      X: (N, D). y: (N,). lam: λ ≥ 0.
      max_iter: maximum number of sweeps. tol: stop when the largest step ≤ tol · max|w|.

    Returns:
      (w (D,), sweeps run, converged flag). Cost Θ(ND²) once, Θ(D²) per sweep, Θ(D³) per polish.
    """
    check_xy(X, y)
    _check_lam(lam)
    _check_solver_options(max_iter, tol)
    return _nnls(X, y, lam, max_iter, tol)


# --------------------------------------------------------------------------------------------
# Features and likelihoods


def polynomial_features(x: Array, degree: int) -> Array:
    """Polynomial feature map φ(x) = [1, x, x², …, x^d] of a scalar input, row by row.

    The leading 1 is the offset by augmentation (x̃ = [1, φ(x)] in the course): do not add
    another bias column.

    Args:
      x: inputs, shape (N,).
      degree: d ≥ 0, static (a structural size).

    Returns:
      Shape (N, d + 1), column k = x^k. Cost Θ(Nd).
    """
    check_array(x, "x", ndim=1)
    degree = check_int(degree, "degree", minimum=0)
    return jnp.stack([x**k if k else jnp.ones_like(x) for k in range(degree + 1)], axis=1)


def gaussian_log_likelihood(w: Array, sigma, X: Array, y: Array) -> Array:
    """Log-likelihood of y = Xw + ε with ε ~ N(0, σ²) i.i.d.:

        log p(y | X, w, σ) = −(N/2) log(2πσ²) − ‖y − Xw‖² / (2σ²).

    For any σ it is −(N/σ²) J(w) + const, so its maximizer over w is the least-squares solution;
    over σ it is maximized by σ̂² = (1/N)‖y − Xw‖². Cost Θ(ND).
    """
    _check_loss_args(w, X, y)
    check_scalar(sigma, "sigma", minimum=0.0, strict_min=True)
    n = X.shape[0]
    e = y - jnp.matmul(X, w, precision=_HI)
    return -0.5 * n * jnp.log(2 * jnp.pi * sigma**2) - jnp.sum(e**2) / (2 * sigma**2)


def laplace_log_likelihood(w: Array, b, X: Array, y: Array) -> Array:
    """Log-likelihood of y = Xw + ε with ε ~ Laplace(0, b) i.i.d. (density e^{−|ε|/b}/(2b)):

        log p(y | X, w, b) = −N log(2b) − Σₙ |yₙ − xₙᵀw| / b = −N log(2b) − N·MAE(w)/b.

    Its maximizer over w minimizes the MAE; over b it is maximized by b̂ = MAE(w). Cost Θ(ND).
    """
    _check_loss_args(w, X, y)
    check_scalar(b, "b", minimum=0.0, strict_min=True)
    n = X.shape[0]
    e = y - jnp.matmul(X, w, precision=_HI)
    return -n * jnp.log(2 * b) - jnp.sum(jnp.abs(e)) / b


# --------------------------------------------------------------------------------------------
# Hand gradients registered for `jaxml gradcheck`


def _regression_args(key, dtype, n=12, d=4):
    kx, kw, ky = jax.random.split(key, 3)
    X = jax.random.normal(kx, (n, d), dtype)
    w = jax.random.normal(kw, (d,), dtype)
    y = jax.random.normal(ky, (n,), dtype)
    return w, X, y


def _mae_args(key, dtype, n=12, d=4):
    # Residuals bounded away from 0 (|e| ≥ 0.5) so MAE is differentiable at w and central
    # differences do not cross a kink.
    w, X, _ = _regression_args(key, dtype, n, d)
    ks, km = jax.random.split(jax.random.fold_in(key, 1))
    signs = jnp.where(jax.random.bernoulli(ks, 0.5, (n,)), 1.0, -1.0).astype(dtype)
    magnitude = 0.5 + jax.random.uniform(km, (n,), dtype)
    return w, X, jnp.matmul(X, w, precision=_HI) + signs * magnitude


register_gradient(
    "linear.least_squares",
    loss=least_squares_cost,
    grad=least_squares_grad,
    make_args=_regression_args,
)
# |·| has a kink: check_grads to order 2 does not apply to the subgradients below.
register_gradient("linear.mae", loss=mae, grad=mae_subgradient, make_args=_mae_args, twice_differentiable=False)
# Away from the kinks (no residual, no weight exactly 0 for random data) the lasso subgradient
# is the gradient, so autodiff and central differences must agree with it.
register_gradient(
    "linear.l1_least_squares_subgradient",
    loss=lambda w, X, y, lam: l1_least_squares_value_and_subgradient(w, X, y, lam)[0],
    grad=lambda w, X, y, lam: l1_least_squares_value_and_subgradient(w, X, y, lam)[1],
    make_args=lambda key, dtype: (*_regression_args(key, dtype), jnp.asarray(0.3, dtype)),
    twice_differentiable=False,
)
register_gradient(
    "linear.ridge",
    loss=ridge_objective,
    grad=ridge_grad,
    make_args=lambda key, dtype: (*_regression_args(key, dtype), jnp.asarray(0.3, dtype)),
)


__all__ = [
    "CenteredStats",
    "LassoResult",
    "centered_stats",
    "gaussian_log_likelihood",
    "laplace_log_likelihood",
    "lasso_cd",
    "lasso_duality_gap",
    "lasso_fista",
    "lasso_objective",
    "l1_least_squares_value_and_subgradient",
    "lasso_path",
    "least_squares",
    "least_squares_cost",
    "least_squares_grad",
    "mae",
    "mae_subgradient",
    "mae_value_and_subgradient",
    "mse",
    "nonnegative_least_squares",
    "polynomial_features",
    "ridge",
    "ridge_grad",
    "ridge_objective",
    "ridge_path",
    "ridge_path_gram",
    "soft_threshold",
]
