"""Linear SVMs with liblinear's problems (squared hinge and hinge, L2 and L1 penalties).

Labels y_n ∈ {−1, 1}, per-sample costs c_n ≥ 0 (liblinear's C × class weight × sample weight; a
sample with c_n = 0 is left out, as liblinear removes zero-weight samples), no separate intercept
(liblinear appends a constant feature, whose weight is regularized like the others):

  L2, squared hinge   P₂(w) = ½‖w‖² + Σ_n c_n [1 − y_n x_nᵀw]₊²
  L2, hinge           P₁(w) = ½‖w‖² + Σ_n c_n [1 − y_n x_nᵀw]₊
  L1, squared hinge   P_L1(w) = ‖w‖₁ + Σ_n c_n [1 − y_n x_nᵀw]₊²

Solvers (liblinear's, with its stopping rules, so that a tolerance means what it means there):

* ``tron_squared_hinge`` (liblinear ``-s 2``): trust-region Newton–CG on P₂ with the generalized
  Hessian H = I + 2 X_Iᵀ diag(c_I) X_I (I = {n : y_n x_nᵀw < 1}); every step is matrix–vector
  products. Stops when ‖∇P₂(w)‖ ≤ ε_p ‖∇P₂(0)‖, ε_p = tol · max(min(#pos, #neg), 1) / #samples.
* ``dual_cd_svc`` (``-s 1`` squared hinge, ``-s 3`` hinge): dual coordinate descent of Hsieh et
  al. (2008), algorithm 3, with shrinking, on

    min_α ½ αᵀ(Q + D)α − 1ᵀα,  0 ≤ α_n ≤ U_n,  Q_nm = y_n y_m x_nᵀx_m,  w = Σ_n α_n y_n x_n,

  hinge: U_n = c_n, D = 0; squared hinge: U_n = ∞, D_nn = 1/(2c_n). Coordinate n: gradient
  G = y_n x_nᵀw − 1 + D_nn α_n, α_n ← clip(α_n − G/(‖x_n‖² + D_nn), 0, U_n). Stops when the
  spread of projected gradients over an epoch, max PG − min PG, is ≤ tol (with every coordinate
  active).
* ``cd_l1_squared_hinge`` (``-s 5``): coordinate descent on P_L1 over features (Yuan et al. 2010):
  a one-variable Newton step with the L1 kink, backtracking line search. Stops when the summed
  minimum-norm subgradient over an epoch is ≤ ε_p times that of the first epoch.

Each returns ``LinearSVCSolution`` (w, iterations as liblinear counts them, converged =
iterations < max_iter, the rule scikit-learn warns by). ``jax.vmap`` over (y, c) solves the
one-vs-rest problems together.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxml.core.types import Array, PRNGKey


class LinearSVCSolution(NamedTuple):
    """A liblinear-style solve.

    Attributes:
      w: (D,) weights (the constant feature's weight last when the caller appended one).
      num_iter: int32, iterations as liblinear counts them (Newton steps for TRON, epochs for the
        coordinate descents).
      converged: bool, num_iter < max_iter (scikit-learn's ConvergenceWarning rule).
    """

    w: Array
    num_iter: Array
    converged: Array


# --------------------------------------------------------------------------------------------
# Objectives
# --------------------------------------------------------------------------------------------


def squared_hinge_objective(w: Array, X: Array, y: Array, c: Array) -> Array:
    """P₂(w) = ½‖w‖² + Σ_n c_n [1 − y_n x_nᵀw]₊². Θ(ND)."""
    slack = jnp.maximum(1.0 - y * (X @ w), 0.0)
    return 0.5 * jnp.dot(w, w) + jnp.sum(c * slack * slack)


def hinge_objective(w: Array, X: Array, y: Array, c: Array) -> Array:
    """P₁(w) = ½‖w‖² + Σ_n c_n [1 − y_n x_nᵀw]₊. Θ(ND)."""
    return 0.5 * jnp.dot(w, w) + jnp.sum(c * jnp.maximum(1.0 - y * (X @ w), 0.0))


def l1_squared_hinge_objective(w: Array, X: Array, y: Array, c: Array) -> Array:
    """P_L1(w) = ‖w‖₁ + Σ_n c_n [1 − y_n x_nᵀw]₊². Θ(ND)."""
    slack = jnp.maximum(1.0 - y * (X @ w), 0.0)
    return jnp.sum(jnp.abs(w)) + jnp.sum(c * slack * slack)


def liblinear_primal_tol(y: Array, c: Array, tol, count_weight: Array | None = None) -> Array:
    """liblinear's primal stopping tolerance ε_p = tol · max(min(#pos, #neg), 1) / #samples,
    counting only samples with c_n > 0 (liblinear drops the others before training).

    ``count_weight`` (N,) counts sample n as ``count_weight[n]`` samples (sample weights: then a
    weight k stops where k repeats of the sample would; liblinear counts every kept sample once,
    the same for unit weights)."""
    kept = c > 0
    weight = jnp.where(kept, 1.0 if count_weight is None else count_weight, 0.0)
    pos = jnp.sum(jnp.where(y > 0, weight, 0.0))
    total = jnp.sum(weight)
    neg = total - pos
    return tol * jnp.maximum(jnp.minimum(pos, neg), 1.0) / jnp.where(total > 0, total, 1.0)


# --------------------------------------------------------------------------------------------
# TRON: trust-region Newton–CG on the squared hinge (liblinear -s 2)
# --------------------------------------------------------------------------------------------


def _sq_hinge_value(w, X, y, c):
    z = y * (X @ w)
    slack = jnp.maximum(1.0 - z, 0.0)
    return 0.5 * jnp.dot(w, w) + jnp.sum(c * slack * slack), z


def _sq_hinge_grad(w, XT, y, c, z):
    """∇P₂ = w + 2 Xᵀ(c ⊙ y ⊙ (z − 1) ⊙ 1[z < 1]) and the generalized Hessian's weights c ⊙ 1[z < 1]."""
    c_active = jnp.where(z < 1.0, c, 0.0)
    return w + 2.0 * (XT @ (c_active * y * (z - 1.0))), c_active


def _transposed(X):
    """Xᵀ as its own row-major array: XLA CPU's Xᵀv on the row-major X measured several times
    slower than a matrix–vector product on a stored Xᵀ (the barrier keeps XLA from folding the
    transpose back into the product)."""
    return jax.lax.optimization_barrier(X.T)


def _trcg(X, XT, c_active, g, delta, max_cg):
    """Steihaug CG on min_s gᵀs + ½ sᵀHs, ‖s‖ ≤ δ, H s = s + 2 Xᵀ(c_I ⊙ X s); liblinear's trcg
    (stops at ‖r‖ ≤ 0.1‖g‖ or on the boundary). Returns s and the residual r = −g − Hs."""

    def hv(v):
        return v + 2.0 * (XT @ (c_active * (X @ v)))

    r0 = -g
    cgtol = 0.1 * jnp.sqrt(jnp.dot(g, g))

    def cond(carry):
        _, _, _, rtr, done, it = carry
        return ~done & (jnp.sqrt(rtr) > cgtol) & (it < max_cg)

    def body(carry):
        s, r, d, rtr, _, it = carry
        hd = hv(d)
        alpha = rtr / jnp.dot(d, hd)
        s_try = s + alpha * d
        hit = jnp.sqrt(jnp.dot(s_try, s_try)) > delta
        # On the boundary: the step from s along d that lands on ‖s‖ = δ (liblinear's formula,
        # written to avoid cancellation whichever the sign of sᵀd).
        std, sts, dtd = jnp.dot(s, d), jnp.dot(s, s), jnp.dot(d, d)
        dsq = delta * delta
        rad = jnp.sqrt(jnp.maximum(std * std + dtd * (dsq - sts), 0.0))
        to_boundary = jnp.where(std >= 0, (dsq - sts) / (std + rad), (rad - std) / dtd)
        step = jnp.where(hit, to_boundary, alpha)
        s = s + step * d
        r = r - step * hd
        rtr_new = jnp.dot(r, r)
        d = jnp.where(hit, d, r + (rtr_new / rtr) * d)
        return s, r, d, rtr_new, hit, it + 1

    init = (jnp.zeros_like(g), r0, r0, jnp.dot(r0, r0), jnp.asarray(False), jnp.asarray(0, jnp.int32))
    s, r, *_ = jax.lax.while_loop(cond, body, init)
    return s, r


def tron_squared_hinge(X: Array, y: Array, c: Array, tol, max_iter,
                       count_weight: Array | None = None) -> LinearSVCSolution:
    """min_w P₂(w) = ½‖w‖² + Σ_n c_n [1 − y_n x_nᵀw]₊² by liblinear's TRON (trust region, CG).

    From w = 0: solve the trust-region subproblem with the generalized Hessian
    H = I + 2 Xᵀ diag(c ⊙ 1[y ⊙ Xw < 1]) X by CG (``_trcg``); accept w + s when the actual
    reduction exceeds 10⁻⁴ of the predicted one; resize δ by liblinear's rules. Stops when
    ‖∇P₂(w)‖ ≤ ε_p ‖∇P₂(0)‖ (``liblinear_primal_tol``), after ``max_iter`` accepted steps, or when
    reductions fall below 10⁻¹² |P₂|. Each CG step is two matrix–vector products, Θ(ND).

    Args:
      X: (N, D). y: (N,) in {−1, 1}. c: (N,) costs ≥ 0. tol: liblinear's ε (traced).
      max_iter: Newton-step budget (traced). count_weight: see ``liblinear_primal_tol``.
    """
    eta0, eta1, eta2 = 1e-4, 0.25, 0.75
    sigma1, sigma2, sigma3 = 0.25, 0.5, 4.0
    eps = liblinear_primal_tol(y, c, tol, count_weight)
    max_cg = 2 * X.shape[1] + 20  # CG is exact after D steps in exact arithmetic: a safety cap
    XT = _transposed(X)

    w0 = jnp.zeros(X.shape[1], X.dtype)
    f0, z0 = _sq_hinge_value(w0, X, y, c)
    g0, ca0 = _sq_hinge_grad(w0, XT, y, c, z0)
    gnorm1 = jnp.sqrt(jnp.dot(g0, g0))

    def cond(carry):
        *_, it, search = carry
        return search & (it <= max_iter)

    def body(carry):
        w, f, g, ca, delta, it, _ = carry
        s, r = _trcg(X, XT, ca, g, delta, max_cg)
        w_new = w + s
        gs = jnp.dot(g, s)
        prered = -0.5 * (gs - jnp.dot(s, r))
        f_new, z_new = _sq_hinge_value(w_new, X, y, c)
        actred = f - f_new
        snorm = jnp.sqrt(jnp.dot(s, s))
        delta = jnp.where(it == 1, jnp.minimum(delta, snorm), delta)
        curvature = f_new - f - gs
        alpha = jnp.where(curvature <= 0, sigma3, jnp.maximum(sigma1, -0.5 * (gs / curvature)))
        delta = jnp.where(
            actred < eta0 * prered, jnp.minimum(jnp.maximum(alpha, sigma1) * snorm, sigma2 * delta),
            jnp.where(actred < eta1 * prered, jnp.maximum(sigma1 * delta, jnp.minimum(alpha * snorm, sigma2 * delta)),
                      jnp.where(actred < eta2 * prered,
                                jnp.maximum(sigma1 * delta, jnp.minimum(alpha * snorm, sigma3 * delta)),
                                jnp.maximum(delta, jnp.minimum(alpha * snorm, sigma3 * delta)))))
        accept = actred > eta0 * prered
        g_new, ca_new = _sq_hinge_grad(w_new, XT, y, c, z_new)
        w = jnp.where(accept, w_new, w)
        f = jnp.where(accept, f_new, f)
        g = jnp.where(accept, g_new, g)
        ca = jnp.where(accept, ca_new, ca)
        it = it + accept.astype(it.dtype)
        done = accept & (jnp.sqrt(jnp.dot(g, g)) <= eps * gnorm1)
        done |= f < -1.0e32
        done |= (jnp.abs(actred) <= 0) & (prered <= 0)
        done |= (jnp.abs(actred) <= 1.0e-12 * jnp.abs(f)) & (jnp.abs(prered) <= 1.0e-12 * jnp.abs(f))
        return w, f, g, ca, delta, it, ~done

    init = (w0, f0, g0, ca0, gnorm1, jnp.asarray(1, jnp.int32), gnorm1 > eps * gnorm1)
    w, *_, it, _ = jax.lax.while_loop(cond, body, init)
    num_iter = it - 1
    return LinearSVCSolution(w, num_iter, num_iter < max_iter)


# --------------------------------------------------------------------------------------------
# Dual coordinate descent with shrinking (liblinear -s 1 and -s 3)
# --------------------------------------------------------------------------------------------

_CHUNK = 256  # coordinates per inner scan: the scan carries only w (α is written once per chunk)


def _packed_shuffle(key: PRNGKey, values: Array, inactive: Array, n: int) -> Array:
    """``values`` (non-negative int32 < 2^bits, bits = ⌈log₂(n+1)⌉) in a random order with the
    ``inactive`` ones last: one single-array sort of packed uint32 keys (inactive bit | random
    bits | value), on XLA CPU several times faster than ``jax.random.permutation`` or an argsort.
    Ties in the random bits keep value order (not exactly uniform — all a coordinate order
    needs). n ≥ 2²⁴: an argsort."""
    bits = max(1, math.ceil(math.log2(n + 1)))
    if bits > 24:
        u = jax.random.uniform(key, values.shape) + inactive.astype(jnp.float32)
        return values[jnp.argsort(u)]
    rand = jax.random.bits(key, values.shape, jnp.uint32) >> (32 - (31 - bits))
    packed = (inactive.astype(jnp.uint32) << 31) | (rand << bits) | values.astype(jnp.uint32)
    return (jnp.sort(packed) & jnp.uint32((1 << bits) - 1)).astype(jnp.int32)


def active_first_order(key: PRNGKey, active: Array) -> Array:
    """A random order of 0..N−1 with the active indices first (int32, shape (N,)); see
    ``_packed_shuffle``."""
    n = active.shape[0]
    return _packed_shuffle(key, jnp.arange(n, dtype=jnp.int32), ~active, n)


def _prefix_sizes(n: int, chunk: int) -> tuple[int, ...]:
    """N, ⌈N/2⌉, ⌈N/4⌉, … down to the first size ≤ ``chunk``: the static lengths of the list
    prefix an epoch re-sorts (the smallest that holds every active coordinate)."""
    sizes = [n]
    while sizes[-1] > chunk:
        sizes.append(-(-sizes[-1] // 2))
    return tuple(sizes)


def dual_cd_svc(key: PRNGKey, X: Array, y: Array, c: Array, tol, max_iter, *, loss: str = "hinge",
                chunk: int = _CHUNK) -> LinearSVCSolution:
    """min_α ½αᵀ(Q + D)α − 1ᵀα over 0 ≤ α ≤ U by liblinear's dual coordinate descent with
    shrinking (Hsieh et al. 2008, algorithm 3); returns w = Σ_n α_n y_n x_n.

    hinge: U_n = c_n, D = 0 (the dual of P₁); squared hinge: U_n = ∞, D_nn = 1/(2c_n) (of P₂).
    An epoch visits the active coordinates in a random order: G = y_n x_nᵀw − 1 + D_nn α_n, the
    projected gradient PG = min(G, 0) at α_n = 0, max(G, 0) at α_n = U_n, G inside. A coordinate
    at a bound whose G points outward beyond last epoch's extreme PG (G > max PG at 0,
    G < min PG at U_n) is shrunk (skipped until the next full pass); else
    α_n ← clip(α_n − G/(‖x_n‖² + D_nn), 0, U_n), w += Δα_n y_n x_n. Stops when
    max PG − min PG ≤ tol over an epoch that ends with every coordinate active (else all are
    reactivated), or after ``max_iter`` epochs. Θ(D) per visited coordinate.

    Layout (XLA CPU pays per operation in a loop body, so the sequential part is kept minimal):
    a list of coordinates whose first m are the active ones, re-shuffled each epoch over the
    smallest static prefix (``_prefix_sizes``) that holds them; the active ones run in chunks of
    ``chunk`` (static) through a ``lax.scan`` that carries only w and computes G and the clipped
    step — a shrunk coordinate's clipped step is zero, so shrinking needs no branch there — and
    PG, the shrink tests and α's scatter follow per chunk, vectorized. Samples with c_n = 0 are
    never visited (liblinear drops them).

    Args:
      key: the epochs' orders. X: (N, D). y: (N,) in {−1, 1}. c: (N,) ≥ 0. tol: ε (traced).
      max_iter: epoch budget (traced). loss: "hinge" or "squared_hinge" (static).
    """
    n, d = X.shape
    dtype = X.dtype
    kept = c > 0
    inf = jnp.asarray(jnp.inf, dtype)
    hinge = loss == "hinge"
    if hinge:
        upper = jnp.where(kept, c, 0.0).astype(dtype)
        diag = jnp.zeros(n, dtype)
    else:
        upper = jnp.where(kept, inf, 0.0).astype(dtype)
        diag = jnp.where(kept, 0.5 / jnp.where(kept, c, 1.0), 0.0).astype(dtype)
    Xy = X * y[:, None]
    qd = diag + jnp.sum(X * X, axis=1)
    n_pad = -(-n // chunk) * chunk
    # The coordinate list, padded with n (out of range: gathers clip, scatters drop it).
    fresh = jnp.concatenate([jnp.arange(n, dtype=jnp.int32), jnp.full((n_pad - n,), n, jnp.int32)])
    n_kept = jnp.sum(kept).astype(jnp.int32)
    sizes = _prefix_sizes(n, chunk)

    def step(w, row):
        # jnp.sum(x ⊙ w), not a dot: a reduction fusion costs XLA CPU ~3× less per loop step.
        if hinge:
            x_i, a_i, q_i, u_i = row
            g = jnp.sum(x_i * w) - 1.0
            new = jnp.clip(a_i - g / q_i, 0.0, u_i)
        else:
            x_i, a_i, q_i, d_i = row
            g = jnp.sum(x_i * w) - 1.0 + a_i * d_i
            new = jnp.maximum(a_i - g / q_i, 0.0)
        return w + (new - a_i) * x_i, g

    def epoch(state):
        alpha, w, active, order, span, m, pg_max_old, pg_min_old, it, _ = state
        k = jax.random.fold_in(key, it)

        def shuffle(size):
            def run(order):
                head = order[:size]
                inactive = (head >= n) | ~active[jnp.minimum(head, n - 1)]
                return order.at[:size].set(_packed_shuffle(k, head, inactive, n))
            return run

        # The smallest static prefix holding every active coordinate (sizes decrease).
        which = jnp.sum(jnp.asarray(sizes) >= span) - 1
        order = jax.lax.switch(which, [shuffle(s) for s in sizes], order)

        def run_chunk(j, carry):
            alpha, w, active, pg_max, pg_min, shrunk_total = carry
            idx = jax.lax.dynamic_slice_in_dim(order, j * chunk, chunk)
            visit = j * chunk + jnp.arange(chunk) < m
            take = functools.partial(jnp.take, indices=idx, axis=0, mode="clip")
            a, u, dg = take(alpha), take(upper), take(diag)
            # A coordinate not to visit gets an infinite curvature: its step is zero.
            q = jnp.where(visit, take(qd), inf)
            w, g = jax.lax.scan(step, w, (take(Xy), a, q, u if hinge else dg))
            at_zero, at_upper = a == 0, a >= u
            shrink = visit & ((at_zero & (g > pg_max_old)) | (at_upper & (g < pg_min_old)))
            pg = jnp.where(at_zero, jnp.minimum(g, 0.0), jnp.where(at_upper, jnp.maximum(g, 0.0), g))
            counted = visit & ~shrink
            pg_max = jnp.maximum(pg_max, jnp.max(jnp.where(counted, pg, -inf)))
            pg_min = jnp.minimum(pg_min, jnp.min(jnp.where(counted, pg, inf)))
            alpha = alpha.at[idx].set(jnp.clip(a - g / q, 0.0, u), mode="drop")
            active = active.at[idx].set(take(active) & ~shrink, mode="drop")
            return alpha, w, active, pg_max, pg_min, shrunk_total + jnp.sum(shrink, dtype=jnp.int32)

        n_chunks = (m + chunk - 1) // chunk
        alpha, w, active, pg_max, pg_min, shrunk = jax.lax.fori_loop(
            0, n_chunks, run_chunk, (alpha, w, active, -inf, inf, jnp.asarray(0, jnp.int32)))
        it = it + 1
        span = m  # every coordinate still active sits in the first m places
        m = m - shrunk
        small = pg_max - pg_min <= tol
        all_active = m == n_kept
        done = small & all_active
        restart = small & ~all_active
        active = jnp.where(restart, kept, active)
        order = jnp.where(restart, fresh, order)
        span = jnp.where(restart, n, span)
        m = jnp.where(restart, n_kept, m)
        pg_max_old = jnp.where(restart | (pg_max <= 0), inf, pg_max)
        pg_min_old = jnp.where(restart | (pg_min >= 0), -inf, pg_min)
        return alpha, w, active, order, span, m, pg_max_old, pg_min_old, it, done

    def cond(state):
        *_, it, done = state
        return ~done & (it < max_iter)

    int0 = jnp.asarray(0, jnp.int32)
    init = (jnp.zeros(n, dtype), jnp.zeros(d, dtype), kept, fresh, jnp.asarray(n, jnp.int32), n_kept, inf, -inf,
            int0, jnp.asarray(False))
    _, w, *_, it, _ = jax.lax.while_loop(cond, epoch, init)
    return LinearSVCSolution(w, it, it < max_iter)


# --------------------------------------------------------------------------------------------
# L1-regularized squared hinge: coordinate descent over features (liblinear -s 5)
# --------------------------------------------------------------------------------------------


def cd_l1_squared_hinge(key: PRNGKey, X: Array, y: Array, c: Array, tol, max_iter,
                        count_weight: Array | None = None) -> LinearSVCSolution:
    """min_w P_L1(w) = ‖w‖₁ + Σ_n c_n [1 − y_n x_nᵀw]₊² by liblinear's coordinate descent.

    Keeps b = 1 − y ⊙ Xw. Feature j (random order per epoch): G = −2 Σ_n c_n y_n x_nj b_n 1[b_n > 0],
    H = max(2 Σ_n c_n x_nj² 1[b_n > 0], 10⁻¹²), the Newton step of G d + ½Hd² + |w_j + d| (soft
    threshold: d = −(G+1)/H if G+1 < Hw_j, −(G−1)/H if G−1 > Hw_j, else −w_j), halved until
    |w_j+d| − |w_j| + loss change ≤ σ(G d + |w_j+d| − |w_j|), σ = 0.01 (≤ 20 halvings). The
    violation of feature j is the minimum-norm subgradient |∂_j P_L1|; stops when an epoch's sum
    is ≤ ε_p × the first epoch's (``liblinear_primal_tol``), or after ``max_iter`` epochs.
    Θ(N) per feature and trial step. (liblinear also shrinks features; this visits all.)

    Args:
      key: the epochs' orders. X: (N, D). y: (N,) in {−1, 1}. c: (N,) ≥ 0. tol: ε (traced).
      max_iter: epoch budget (traced). count_weight: see ``liblinear_primal_tol``.
    """
    n, d = X.shape
    dtype = X.dtype
    eps = liblinear_primal_tol(y, c, tol, count_weight)
    cols = (X * y[:, None]).T  # (D, N): row j holds y_n x_nj
    col_sq = cols * cols @ c  # Σ_n c_n x_nj²
    sigma = 0.01

    def feature(j, carry):
        w, b, gnorm1 = carry
        xj = cols[j]
        wj = w[j]
        pos = b > 0
        cx = jnp.where(pos, c * xj, 0.0)
        g = -2.0 * jnp.dot(cx, b)
        h = jnp.maximum(2.0 * jnp.dot(cx, xj), 1e-12)
        gp, gn = g + 1.0, g - 1.0
        violation = jnp.where(wj == 0, jnp.maximum(jnp.maximum(-gp, gn), 0.0),
                              jnp.where(wj > 0, jnp.abs(gp), jnp.abs(gn)))
        step = jnp.where(gp < h * wj, -gp / h, jnp.where(gn > h * wj, -gn / h, -wj))
        loss_old = jnp.sum(jnp.where(pos, c * b * b, 0.0))
        delta0 = jnp.abs(wj + step) - jnp.abs(wj) + g * step

        def not_enough(ls):
            step, delta, k, ok = ls
            return ~ok & (k < 20)

        def halve(ls):
            step, delta, k, _ = ls
            cond = jnp.abs(wj + step) - jnp.abs(wj) - sigma * delta
            # liblinear's cheap upper bound first: loss change ≤ col_sq d² + G d.
            cheap = col_sq[j] * step * step + g * step + cond <= 0
            b_new = b - step * xj
            loss_new = jnp.sum(jnp.where(b_new > 0, c * b_new * b_new, 0.0))
            ok = cheap | (cond + loss_new - loss_old <= 0)
            return (jnp.where(ok, step, 0.5 * step), jnp.where(ok, delta, 0.5 * delta), k + 1, ok)

        moves = jnp.abs(step) >= 1e-12
        step, _, _, _ = jax.lax.while_loop(lambda ls: moves & not_enough(ls), halve,
                                           (step, delta0, jnp.asarray(0, jnp.int32), jnp.asarray(False)))
        step = jnp.where(moves, step, 0.0)
        return w.at[j].add(step), b - step * xj, gnorm1 + violation

    def epoch(state):
        w, b, gnorm_init, it, _ = state
        order = jax.random.permutation(jax.random.fold_in(key, it), d)
        w, b, gnorm = jax.lax.fori_loop(0, d, lambda s, carry: feature(order[s], carry),
                                        (w, b, jnp.zeros((), dtype)))
        gnorm_init = jnp.where(it == 0, gnorm, gnorm_init)
        # Rebuild b from w once per epoch: no drift from the running updates.
        b = 1.0 - y * (X @ w)
        return w, b, gnorm_init, it + 1, gnorm <= eps * gnorm_init

    def cond(state):
        *_, it, done = state
        return ~done & (it < max_iter)

    init = (jnp.zeros(d, dtype), jnp.ones(n, dtype), jnp.zeros((), dtype), jnp.asarray(0, jnp.int32),
            jnp.asarray(False))
    w, _, _, it, _ = jax.lax.while_loop(cond, epoch, init)
    return LinearSVCSolution(w, it, it < max_iter)


# --------------------------------------------------------------------------------------------
# One-vs-rest problems at once
# --------------------------------------------------------------------------------------------


def _augment(X, scaling, fit_intercept):
    if not fit_intercept:
        return X
    return jnp.concatenate([X, jnp.full((X.shape[0], 1), scaling, X.dtype)], axis=1)


@functools.partial(jax.jit, static_argnames=("solver", "fit_intercept"))
def fit_linear_svc(key: PRNGKey, X: Array, Y: Array, Cs: Array, sample_weight: Array, tol, max_iter, scaling, *,
                   solver: str, fit_intercept: bool) -> LinearSVCSolution:
    """P problems at once (vmap): X (N, D), Y (P, N) in {−1, 1}, Cs (P, N) per-sample costs,
    sample_weight (N,) the counts behind the primal tolerance (``liblinear_primal_tol``).

    ``fit_intercept`` appends the constant feature ``scaling`` (liblinear's bias, regularized);
    ``solver``: "tron" (L2 squared hinge, primal), "dual_hinge", "dual_squared_hinge" or
    "l1_squared_hinge". tol, max_iter and scaling are traced: one program per shape and solver.
    Returns ``LinearSVCSolution`` with w (P, D [+1]), num_iter (P,), converged (P,).
    """
    Xa = _augment(X, jnp.asarray(scaling, X.dtype), fit_intercept)
    tol = jnp.asarray(tol, X.dtype)
    keys = jax.random.split(key, Y.shape[0])
    if solver == "tron":
        return jax.vmap(lambda y, c: tron_squared_hinge(Xa, y, c, tol, max_iter, sample_weight))(Y, Cs)
    if solver == "l1_squared_hinge":
        return jax.vmap(lambda k, y, c: cd_l1_squared_hinge(k, Xa, y, c, tol, max_iter, sample_weight))(keys, Y, Cs)
    loss = {"dual_hinge": "hinge", "dual_squared_hinge": "squared_hinge"}[solver]

    def dual(args):
        return dual_cd_svc(*args[:1], Xa, *args[1:], tol, max_iter, loss=loss)

    # One problem after another, not vmap: under vmap the per-epoch ``lax.switch`` over prefix
    # sizes would run every branch.
    if Y.shape[0] == 1:
        return jax.tree.map(lambda leaf: leaf[None], dual((keys[0], Y[0], Cs[0])))
    return jax.lax.map(dual, (keys, Y, Cs))


__all__ = [
    "LinearSVCSolution",
    "active_first_order",
    "cd_l1_squared_hinge",
    "dual_cd_svc",
    "fit_linear_svc",
    "hinge_objective",
    "l1_squared_hinge_objective",
    "liblinear_primal_tol",
    "squared_hinge_objective",
    "tron_squared_hinge",
]
