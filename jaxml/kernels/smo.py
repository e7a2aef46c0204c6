"""Sequential minimal optimization (SMO) for the kernel SVM with an unregularized intercept.

libsvm's C-SVC problem (Chang and Lin, "LIBSVM", §2.1), labels y_n ∈ {−1, 1}, per-sample bounds
C_n ≥ 0 (C times class and sample weights):

  min_α  f(α) = ½ αᵀQα − eᵀα   s.t.  0 ≤ α_n ≤ C_n,  yᵀα = 0,     Q_nm = y_n y_m k(x_n, x_m),

with the decision function  f(x) = Σ_n α_n y_n k(x, x_n) − ρ.  The equality constraint is the
KKT condition of the free (unregularized) intercept b = −ρ of the primal
min ½‖w‖² + Σ_n C_n [1 − y_n (wᵀφ(x_n) + b)]₊.

SMO changes two variables at a time, so that yᵀα = 0 stays satisfied. With the gradient
G = ∇f(α) = Qα − e and the index sets

  I_up(α)  = {n : α_n < C_n, y_n = 1  or  α_n > 0, y_n = −1},
  I_low(α) = {n : α_n < C_n, y_n = −1 or  α_n > 0, y_n = 1},

α is optimal iff m(α) = max_{I_up} −y_n G_n ≤ M(α) = min_{I_low} −y_n G_n; the solver stops when
m(α) − M(α) < tol. The working set is libsvm's second-order choice (Fan, Chen and Lin 2005, WSS 3):

  i = argmax_{t ∈ I_up} −y_t G_t,
  j = argmin_{t ∈ I_low, −y_t G_t < −y_i G_i}  −b_it² / a_it,
      b_it = −y_i G_i + y_t G_t > 0,  a_it = K_ii + K_tt − 2K_it  (τ = 1e-12 where a_it ≤ 0),

then the two-variable subproblem is solved exactly and clipped to the box as libsvm does
(``Solver::Solve``), and G ← G + Q_i Δα_i + Q_j Δα_j: two kernel rows per iteration, Θ(N·D)
with rows computed on demand (no N×N matrix, no cache) or Θ(N) from a given Gram matrix. Ties in
the argmax / argmin go to the last index, as libsvm's ``>=`` / ``<=`` comparisons do.

The intercept follows libsvm's ``calculate_rho``: with F the free variables (0 < α_n < C_n),
ρ = mean_{n ∈ F} y_n G_n; without free variables ρ = (ub + lb)/2, the midpoint of the interval
that the KKT conditions leave for ρ (ub = min of y_n G_n over {α_n = C_n, y_n = −1} ∪
{α_n = 0, y_n = 1}, lb = max over {α_n = C_n, y_n = 1} ∪ {α_n = 0, y_n = −1}).

Differences from libsvm: no shrinking (it changes the path, not the optimum within tol) and no
kernel cache (rows are recomputed); Q is float64 here (libsvm stores it in float32).

Every solver here works on traced values and is ``jax.vmap``-able (one-vs-one pairs run as one
batched ``lax.while_loop``); a ``valid`` mask removes padding rows from the problem.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxml.core.types import Array

TAU = 1e-12  # libsvm's replacement for a non-positive curvature a_ij
NO_LIMIT = jnp.iinfo(jnp.int32).max  # max_iter for "run until the stopping rule holds"


class SMOResult(NamedTuple):
    """Result of ``smo_solve``.

    Attributes:
      alpha: (N,) α ∈ [0, C] (libsvm's dual coefficients are y ⊙ α).
      gradient: (N,) G = Qα − e at the returned α.
      rho: ρ of the decision function f(x) = Σ α_n y_n k(x, x_n) − ρ (libsvm's rule).
      objective: ½αᵀQα − eᵀα = ½ Σ_n α_n (G_n − 1).
      num_iter: int32, pair updates done.
      converged: bool, the stopping rule m(α) − M(α) < tol held (False: max_iter reached).
    """

    alpha: Array
    gradient: Array
    rho: Array
    objective: Array
    num_iter: Array
    converged: Array


def _bounds(alpha, C):
    """libsvm's alpha_status: upper if α ≥ C, else lower if α ≤ 0, else free."""
    upper = alpha >= C
    return upper, ~upper & (alpha <= 0)


def _last_argmax(v):
    """Index of the last maximum (libsvm's ``>=`` scan): max{n : v_n = max v}.

    Two plain (vectorized) max reductions, not ``argmax`` of the reversed v: XLA CPU's
    argmax is a (value, index) reduction that does not vectorize, and the reversal is a copy;
    measured ~5× faster for the working-set selection of an SMO iteration (N = 10 000, float64).
    The barrier makes v one buffer read by both reductions: were v recomputed inside each fusion,
    the two copies could differ in rounding and no entry would equal the maximum.
    """
    v = jax.lax.optimization_barrier(v)
    iota = jax.lax.iota(jnp.int32, v.shape[0])
    return jnp.max(jnp.where(v == jnp.max(v), iota, -1))


def _last_argmin(v):
    """Index of the last minimum: max{n : v_n = min v} (see ``_last_argmax``)."""
    v = jax.lax.optimization_barrier(v)
    iota = jax.lax.iota(jnp.int32, v.shape[0])
    return jnp.max(jnp.where(v == jnp.min(v), iota, -1))


def _index_sets(alpha, y, C, valid):
    upper, lower = _bounds(alpha, C)
    pos = y > 0
    up = valid & jnp.where(pos, ~upper, ~lower)
    low = valid & jnp.where(pos, ~lower, ~upper)
    return up, low


def smo_violation(alpha, gradient, y, C, valid=None):
    """m(α) − M(α) = max_{I_up} −y_n G_n − min_{I_low} −y_n G_n (≤ 0 at an exact optimum)."""
    valid = jnp.ones(y.shape, bool) if valid is None else valid
    up, low = _index_sets(alpha, y, C, valid)
    yg = y * gradient
    return jnp.max(jnp.where(up, -yg, -jnp.inf)) + jnp.max(jnp.where(low, yg, -jnp.inf))


def _pair_update(ai, aj, Gi, Gj, yi, yj, Ci, Cj, quad):
    """libsvm's exact solution of the two-variable subproblem, clipped to the box (Solver::Solve)."""
    zero = jnp.zeros_like(ai)
    # y_i ≠ y_j: α_i − α_j is kept.
    delta = (-Gi - Gj) / quad
    diff = ai - aj
    oi, oj = ai + delta, aj + delta
    c = (diff > 0) & (oj < 0)
    oi, oj = jnp.where(c, diff, oi), jnp.where(c, zero, oj)
    c = (diff <= 0) & (oi < 0)
    oi, oj = jnp.where(c, zero, oi), jnp.where(c, -diff, oj)
    c = (diff > Ci - Cj) & (oi > Ci)
    oi, oj = jnp.where(c, Ci, oi), jnp.where(c, Ci - diff, oj)
    c = (diff <= Ci - Cj) & (oj > Cj)
    oi, oj = jnp.where(c, Cj + diff, oi), jnp.where(c, Cj, oj)
    # y_i = y_j: α_i + α_j is kept.
    delta = (Gi - Gj) / quad
    total = ai + aj
    si, sj = ai - delta, aj + delta
    c = (total > Ci) & (si > Ci)
    si, sj = jnp.where(c, Ci, si), jnp.where(c, total - Ci, sj)
    c = (total <= Ci) & (sj < 0)
    si, sj = jnp.where(c, total, si), jnp.where(c, zero, sj)
    c = (total > Cj) & (sj > Cj)
    si, sj = jnp.where(c, total - Cj, si), jnp.where(c, Cj, sj)
    c = (total <= Cj) & (si < 0)
    si, sj = jnp.where(c, zero, si), jnp.where(c, total, sj)
    same = yi == yj
    return jnp.where(same, si, oi), jnp.where(same, sj, oj)


def smo_rho(alpha, gradient, y, C, valid=None):
    """libsvm's ρ: mean of y_n G_n over free α_n, else (ub + lb)/2 (see the module docstring)."""
    valid = jnp.ones(y.shape, bool) if valid is None else valid
    upper, lower = _bounds(alpha, C)
    yg = y * gradient
    pos = y > 0
    free = valid & ~upper & ~lower
    to_ub = valid & ((upper & ~pos) | (lower & pos))
    to_lb = valid & ((upper & pos) | (lower & ~pos))
    ub = jnp.min(jnp.where(to_ub, yg, jnp.inf))
    lb = jnp.max(jnp.where(to_lb, yg, -jnp.inf))
    num_free = jnp.sum(free)
    mean_free = jnp.sum(jnp.where(free, yg, 0.0)) / jnp.maximum(num_free, 1)
    return jnp.where(num_free > 0, mean_free, 0.5 * (ub + lb))


def smo_solve(kernel_row, diag: Array, y: Array, C: Array, *, tol, max_iter=NO_LIMIT,
              valid: Array | None = None) -> SMOResult:
    """min ½αᵀQα − eᵀα s.t. 0 ≤ α ≤ C, yᵀα = 0 by SMO with WSS 3, from α = 0 (G = −e).

    Args:
      kernel_row: ``kernel_row(i) -> (N,)`` the row K[i, :] (i a traced int32).
      diag: (N,) K_nn. y: (N,) labels in {−1, 1} (float). C: (N,) upper bounds C_n ≥ 0.
      tol: stop when m(α) − M(α) < tol (traced). max_iter: pair-update budget (traced int).
      valid: (N,) bool, False for padding rows (never selected, not used for ρ).

    Returns:
      ``SMOResult``. Θ(cost of two kernel rows + N) per iteration; traced, vmappable.
    """
    n = y.shape[0]
    dtype = diag.dtype
    valid = jnp.ones((n,), bool) if valid is None else valid
    y = y.astype(dtype)
    C = C.astype(dtype)
    tol = jnp.asarray(tol, dtype)
    max_iter = jnp.asarray(max_iter, jnp.int32)

    def cond(state):
        _, _, it, done = state
        return ~done & (it < max_iter)

    def body(state):
        alpha, G, it, _ = state
        up, low = _index_sets(alpha, y, C, valid)
        yg = y * G
        cand = jnp.where(up, -yg, -jnp.inf)
        i = _last_argmax(cand)
        g_max = cand[i]
        k_i = kernel_row(i)
        g_max2 = jnp.max(jnp.where(low, yg, -jnp.inf))
        grad_diff = g_max + yg
        quad = diag[i] + diag - 2.0 * k_i
        quad = jnp.where(quad > 0, quad, TAU)
        obj_diff = jnp.where(low & (grad_diff > 0), -(grad_diff * grad_diff) / quad, jnp.inf)
        j = _last_argmin(obj_diff)
        stop = (g_max + g_max2 < tol) | ~(obj_diff[j] < jnp.inf)

        k_j = kernel_row(j)
        ai, aj = alpha[i], alpha[j]
        new_i, new_j = _pair_update(ai, aj, G[i], G[j], y[i], y[j], C[i], C[j], quad[j])
        d_i = jnp.where(stop, 0.0, new_i - ai)
        d_j = jnp.where(stop, 0.0, new_j - aj)
        G = G + y * ((y[i] * d_i) * k_i + (y[j] * d_j) * k_j)
        alpha = alpha.at[i].set(jnp.where(stop, ai, new_i)).at[j].set(jnp.where(stop, aj, new_j))
        return alpha, G, it + (~stop).astype(jnp.int32), stop

    init = (jnp.zeros((n,), dtype), -jnp.ones((n,), dtype), jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    alpha, G, it, done = jax.lax.while_loop(cond, body, init)
    rho = smo_rho(alpha, G, y, C, valid)
    objective = 0.5 * jnp.sum(jnp.where(valid, alpha * (G - 1.0), 0.0))
    return SMOResult(alpha, G, rho, objective, it, done)


def smo_polish(result: SMOResult, kernel_columns, y: Array, C: Array, *, size: int, tol=0.0,
               valid: Array | None = None) -> SMOResult:
    """Exact finish on the face of the box that SMO stopped on: with the bound α_n fixed, the free
    set F (0 < α_n < C_n, at most ``size`` of them) is moved to the minimizer of f on that face,

      K_FF u = ρ'·1 − (y⊙G)_F,   1ᵀu = 0,   α_F ← α_F + y_F ⊙ u,   G ← G + y ⊙ (K_{:,F} u),

    with (y⊙G)_F = K_{F,:}(y⊙α) − y_F recomputed from the columns (exact on F),

    i.e. ρ' = 1ᵀK_FF⁻¹(y⊙G)_F / 1ᵀK_FF⁻¹1 (Cholesky of K_FF + δI, δ = 1e-10·max K_nn: duplicate
    points make K_FF singular, and their common coefficient is still determined). The step is kept
    only if the new α_F stay in [0, C_F] and m(α) − M(α) stays below max(its value, tol) (the
    stopping rule still holds); then ρ is recomputed.
    Θ(N·size) kernel values + Θ(size³).

    Args:
      result: ``smo_solve``'s result. kernel_columns: ``kernel_columns(idx) -> (N, len(idx))``
      the columns K[:, idx]. y, C, valid, tol: as ``smo_solve``. size: static bound on |F|.
    """
    n = y.shape[0]
    valid = jnp.ones((n,), bool) if valid is None else valid
    dtype = result.gradient.dtype
    y = y.astype(dtype)
    C = C.astype(dtype)
    alpha, G = result.alpha, result.gradient
    upper, lower = _bounds(alpha, C)
    free = valid & ~upper & ~lower
    count = jnp.sum(free)
    idx = jnp.argsort(~free, stable=True)[:size]
    m = free[idx].astype(dtype)
    cols = kernel_columns(idx) * m[None, :]  # (N, size)
    K_ff = cols[idx] * m[:, None]
    scale = jnp.max(jnp.where(m > 0, jnp.diagonal(K_ff), 0.0))
    chol = jax.scipy.linalg.cho_factor(
        K_ff + jnp.diag(1.0 - m) + 1e-10 * jnp.maximum(scale, 1e-300) * jnp.eye(size, dtype=dtype), lower=True)
    # y⊙G on F recomputed from the columns, (y⊙G)_F = K_{F,:}(y⊙α) − y_F: exact even when the
    # SMO loop accumulated G from lower-precision kernel rows.
    yg = m * (cols.T @ (y * alpha) - y[idx])
    a = jax.scipy.linalg.cho_solve(chol, m)
    b = jax.scipy.linalg.cho_solve(chol, yg)
    rho = jnp.sum(m * b) / jnp.sum(m * a)
    u = m * (rho * a - b)
    new_alpha_f = alpha[idx] + y[idx] * u
    new_alpha = alpha.at[idx].set(jnp.where(m > 0, new_alpha_f, alpha[idx]))
    new_G = G + y * (cols @ u)
    new_G = new_G.at[idx].set(jnp.where(m > 0, y[idx] * (yg + K_ff @ u), new_G[idx]))
    old_violation = smo_violation(alpha, G, y, C, valid)
    new_violation = smo_violation(new_alpha, new_G, y, C, valid)
    in_box = jnp.all((new_alpha_f >= 0) & (new_alpha_f <= C[idx]) | (m == 0))
    finite = jnp.all(jnp.isfinite(new_G)) & jnp.all(jnp.isfinite(u))
    keep = (count > 0) & (count <= size) & in_box & finite & (new_violation <= jnp.maximum(old_violation, tol))
    alpha = jnp.where(keep, new_alpha, alpha)
    G = jnp.where(keep, new_G, G)
    objective = 0.5 * jnp.sum(jnp.where(valid, alpha * (G - 1.0), 0.0))
    return SMOResult(alpha, G, smo_rho(alpha, G, y, C, valid), objective, result.num_iter, result.converged)


@jax.jit
def smo_solve_gram(K: Array, y: Array, C: Array, tol, max_iter=NO_LIMIT, valid: Array | None = None) -> SMOResult:
    """``smo_solve`` on a Gram matrix K (N, N) (K[i] is the row; precomputed kernels)."""
    return smo_solve(lambda i: K[i], jnp.diagonal(K), y, C, tol=tol, max_iter=max_iter, valid=valid)


def kernel_diagonal(kernel, X: Array) -> Array:
    """(N,) k(x_n, x_n), one 1×1 kernel block per row (Θ(ND))."""
    return jax.vmap(lambda x: kernel(x[None, :], x[None, :])[0, 0])(X)


@jax.jit
def smo_solve_kernel(kernel, X: Array, y: Array, C: Array, tol, max_iter=NO_LIMIT,
                     valid: Array | None = None) -> SMOResult:
    """``smo_solve`` with kernel rows k(x_i, X) computed on demand from X (N, D): Θ(ND) per
    iteration, Θ(ND) memory. ``kernel`` is a jaxml kernel (``Partial``, traced hyper-parameters)."""
    return smo_solve(lambda i: kernel(X[i][None, :], X)[0], kernel_diagonal(kernel, X), y, C, tol=tol,
                     max_iter=max_iter, valid=valid)


def smo_dual_objective(alpha: Array, K: Array, y: Array) -> Array:
    """f(α) = ½ (y⊙α)ᵀK(y⊙α) − Σα (libsvm's minimized dual objective). Θ(N²)."""
    ya = y * alpha
    return 0.5 * ya @ (K @ ya) - jnp.sum(alpha)


__all__ = [
    "NO_LIMIT",
    "SMOResult",
    "TAU",
    "kernel_diagonal",
    "smo_dual_objective",
    "smo_polish",
    "smo_rho",
    "smo_solve",
    "smo_solve_gram",
    "smo_solve_kernel",
    "smo_violation",
]
