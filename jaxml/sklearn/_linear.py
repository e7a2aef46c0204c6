"""``LinearRegression``, ``Ridge`` and ``Lasso`` over ``jaxml.linear``.

The facade pattern every jaxml estimator follows:

1. ``__init__`` stores scikit-learn's parameters untouched (no validation there); each class
   carries scikit-learn's own ``_parameter_constraints`` and ``fit`` starts with
   ``self._validate_params()``, so a bad value raises scikit-learn's ``InvalidParameterError``.
2. ``fit`` validates with ``sklearn.utils.validation.validate_data`` (float64 or float32 kept,
   as scikit-learn does, finite), then calls a jitted function defined at module level, inside
   ``float64()``: it compiles once per input shape, not once per call. Static choices
   (``fit_intercept``, ``positive``, weighted or not) are static arguments; swept values
   (``alpha``, ``tol``, ``max_iter``) are traced.
3. scikit-learn's parameters are translated to the course's conventions inside the jitted
   function (DESIGN.md): ``Ridge(alpha)`` minimizes ‖y − Xw‖² + alpha‖w‖², which is the course's
   (1/2N)‖y − Xw‖² + λ‖w‖² with λ = alpha/(2N); ``Lasso(alpha)`` minimizes
   (1/2N)‖y − Xw‖² + alpha‖w‖₁, i.e. λ = alpha.
4. Fitted attributes are numpy arrays of X's float dtype; ``predict`` is X @ coef_ᵀ + intercept_
   in numpy.

All three models work on the weighted, centered sufficient statistics
(``jaxml.linear.centered_stats``): with sample weights s_n, ``fit_intercept=True`` centers X
and y at their weighted means (x̄, ȳ), fits w on the centered data and sets
intercept_ = ȳ − x̄ᵀw, as scikit-learn does (the intercept is not penalized). The Gram matrix
Σ s_n (x_n − x̄)(x_n − x̄)ᵀ is formed once (Θ(ND²)); everything after it costs Θ(D³) or less,
and every target of a 2-D y shares it. Exception: ``Lasso`` on one unweighted target with tall X,
D ≥ 256 and X ≤ 32 MiB first runs coordinate descent over X's columns (Θ(ND) per sweep, no Gram
matrix) and forms the Gram matrix only if that needs more than max(4, D/64) sweeps.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import sklearn.linear_model as _sk
from jax import lax
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxml.core.xla_cpu import after
from jaxml.linear.regression import (
    CenteredStats,
    _cd,
    _centered_stats,
    _nonneg_quadratic,
    _Quadratic,
    _ridge_gram_solve,
    soft_threshold,
)
from jaxml.sklearn._base import float64, key_from_random_state

_FLOATS = [np.float64, np.float32]


def _intercepts(stats, coef):
    """ȳ − x̄ᵀw per target, (T,), from coef (T, D)."""
    return stats.y_mean - jnp.matmul(coef, stats.x_mean, precision=lax.Precision.HIGHEST)


_ROWS = 1024  # rows per chunk of the one-pass statistics on CPU (a chunk stays in cache)
_XLA_CPU_ALIGN = 64  # XLA:CPU aliases a host buffer that starts on this boundary instead of copying it
# Below this size X is copied whole: numpy places large arrays (mmap'd) at one offset mod 64, so
# the in-place split compiles once per problem shape; small ones land anywhere on the heap.
_IN_PLACE_MIN_BYTES = 1 << 22


def _flat_aligned(X):
    """(head, tail), X's row-major data split so that ``tail`` starts on a 64-byte boundary:
    ravel(X) = concatenate([head, tail]), head has < 64/itemsize elements. ``jax.device_put``
    of ``tail`` is then a view of the user's buffer, not a copy (numpy allocates at 16 mod 64
    bytes; copying a 100k × 100 float64 X costs a pass over 80 MB, like its validation).
    The head is never longer than the first chunk of rows ``_one_pass_stats`` reads."""
    if not X.flags.c_contiguous:
        X = np.ascontiguousarray(X)
    flat = X.reshape(-1)
    if X.nbytes < _IN_PLACE_MIN_BYTES:
        # Small arrays come from the heap at varying offsets mod 64: the split would give the same
        # problem up to 64/itemsize shapes, each a compile; their copy costs next to nothing.
        return flat[:0], flat
    skip = (-X.ctypes.data) % _XLA_CPU_ALIGN
    k = skip // X.itemsize if skip % X.itemsize == 0 else 0
    k = min(k, flat.shape[0])
    return flat[:k], flat[k:]


def _one_pass_stats(head, tail, Y, sample_weight, fit_intercept: bool) -> tuple[CenteredStats, jax.Array]:
    """``centered_stats`` of X = reshape(concatenate([head, tail]), (N, D)) in ONE pass over X,
    plus a flag: every statistic is finite (false as soon as X or Y holds a NaN or ±inf).

    Shifted sums: with s = the mean of the first chunk of rows (t likewise for Y) and
    u_n = x_n − s, Σ s_n (x_n − x̄)(x_n − x̄)ᵀ = Σ s_n u_n u_nᵀ − (Σs) (x̄ − s)(x̄ − s)ᵀ and
    x̄ = s + Σ s_n u_n / Σs. The subtracted rank-one term is small (s is within a few
    standard errors of x̄), so nothing cancels: the accuracy of centering at x̄ without the
    pass that computes x̄ first. Rows are read a chunk at a time (never a centered copy of X)."""
    n, t = Y.shape
    d = (head.shape[0] + tail.shape[0]) // n
    k = head.shape[0]
    dtype = tail.dtype
    chunk = _ROWS if jax.default_backend() == "cpu" else n
    first = min(n, chunk)
    X0 = jnp.concatenate([head, tail[: first * d - k]]).reshape(first, d)
    if fit_intercept:
        shift_x, shift_y = jnp.mean(X0, axis=0), jnp.mean(Y[:first], axis=0)
    else:
        shift_x, shift_y = jnp.zeros((d,), dtype), jnp.zeros((t,), dtype)
    # The Gram matrix is symmetric: on CPU (D ≥ 64) it is built from the column blocks on and
    # above the diagonal only, 3/4 of the products (as ``centered_stats``; 3 or 4 blocks measured
    # no faster).
    parts = 2 if jax.default_backend() == "cpu" and d >= 64 else 1
    edges = [d * i // parts for i in range(parts + 1)]
    pairs = [(i, j) for i in range(parts) for j in range(i, parts)]
    hi = lax.Precision.HIGHEST

    def add(acc, Xr, start, size):
        Yr = lax.dynamic_slice_in_dim(Y, start, size)
        U, V = Xr - shift_x[None, :], Yr - shift_y[None, :]
        sx, sy = acc[-2:]
        if sample_weight is None:
            if fit_intercept:
                sx, sy = sx + jnp.sum(U, axis=0), sy + jnp.sum(V, axis=0)
        else:
            wr = lax.dynamic_slice_in_dim(sample_weight, start, size)
            if fit_intercept:
                sx, sy = sx + jnp.matmul(wr, U, precision=hi), sy + jnp.matmul(wr, V, precision=hi)
            root = jnp.sqrt(wr)[:, None]
            U, V = U * root, V * root
        xy, yy = acc[-4] + jnp.matmul(V.T, U, precision=hi), acc[-3] + jnp.sum(V * V, axis=0)
        cols = [U[:, edges[i]:edges[i + 1]] for i in range(parts)]
        products = zip(acc[:-4], pairs, strict=True)
        blocks = tuple(b + jnp.matmul(cols[i].T, cols[j], precision=hi) for b, (i, j) in products)
        return (*blocks, xy, yy, sx, sy)

    zeros = tuple(jnp.zeros((edges[i + 1] - edges[i], edges[j + 1] - edges[j]), dtype) for i, j in pairs)
    acc = (*zeros, jnp.zeros((t, d), dtype), jnp.zeros((t,), dtype), jnp.zeros((d,), dtype), jnp.zeros((t,), dtype))
    acc = add(acc, X0, 0, first)

    def rows(start, size):
        return lax.dynamic_slice_in_dim(tail, start * d - k, size * d).reshape(size, d)

    full = (n - first) // chunk
    if full:
        acc = lax.fori_loop(0, full, lambda i, a: add(a, rows(first + i * chunk, chunk), first + i * chunk, chunk), acc)
    rest = n - first - full * chunk
    if rest:
        start = first + full * chunk
        acc = add(acc, rows(start, rest), start, rest)
    *upper, xy, yy, sx, sy = acc
    block = dict(zip(pairs, upper, strict=True))
    gram = jnp.block([[block[(i, j)] if i <= j else block[(j, i)].T for j in range(parts)] for i in range(parts)])
    weight_sum = jnp.asarray(n, dtype) if sample_weight is None else jnp.sum(sample_weight)
    if fit_intercept:
        dx, dy = sx / weight_sum, sy / weight_sum
        gram = gram - weight_sum * jnp.outer(dx, dx)
        xy = xy - weight_sum * jnp.outer(dy, dx)
        yy = yy - weight_sum * dy * dy
        x_mean, y_mean = shift_x + dx, shift_y + dy
    else:
        x_mean, y_mean = shift_x, shift_y
    stats = CenteredStats(gram, xy.T, yy, x_mean, y_mean, weight_sum)
    finite = jnp.isfinite(jnp.sum(gram) + jnp.sum(xy) + jnp.sum(yy) + jnp.sum(x_mean) + jnp.sum(y_mean))
    return stats, finite


@functools.partial(jax.jit, static_argnames=("fit_intercept", "positive"))
def _fit_least_squares(X, Y, sample_weight, tol, fit_intercept, positive):
    stats = _centered_stats(X, Y, sample_weight, fit_intercept)
    d = X.shape[1]
    n_singular = min(X.shape)
    if positive:
        solve = jax.vmap(lambda q: _nonneg_quadratic(stats.gram, q, jnp.zeros((d,), X.dtype), 20_000, 1e-12))
        coef, _, _ = solve(stats.xty.T)
        return coef, _intercepts(stats, coef), jnp.zeros((), jnp.int32), jnp.zeros((n_singular,), X.dtype)
    evals, evecs = jnp.linalg.eigh(stats.gram)
    eps = jnp.finfo(X.dtype).eps
    # scipy's lstsq (scikit-learn) treats singular values σ ≤ tol·σ_max as 0. The normal
    # equations are exact enough while κ(XᵀX) = (σ_max/σ_min)² < 1/√eps and no σ is cut;
    # otherwise solve from the SVD of the centered, weighted X, as lstsq does.
    well_conditioned = (evals[0] > evals[-1] * jnp.sqrt(eps)) & (evals[0] > evals[-1] * tol**2)

    def spectral(_):
        coef = jnp.matmul(evecs / evals[None, :], jnp.matmul(evecs.T, stats.xty)).T
        singular = jnp.sqrt(jnp.maximum(evals[::-1], 0.0))[:n_singular]
        return coef, jnp.asarray(d, jnp.int32), singular

    def svd(_):
        # after(): the SVD runs once the eigendecomposition is done (XLA:CPU workaround).
        Xc, Yc = after(X, evals), Y
        if fit_intercept:
            Xc, Yc = Xc - stats.x_mean[None, :], Yc - stats.y_mean[None, :]
        if sample_weight is not None:
            root = jnp.sqrt(sample_weight)[:, None]
            Xc, Yc = Xc * root, Yc * root
        U, s, Vt = jnp.linalg.svd(Xc, full_matrices=False)
        keep = s > tol * s[0]
        inv = jnp.where(keep, 1.0 / jnp.where(keep, s, 1.0), 0.0)
        coef = jnp.matmul(Vt.T * inv[None, :], jnp.matmul(U.T, Yc)).T
        return coef, jnp.sum(keep).astype(jnp.int32), s

    coef, rank, singular = lax.cond(well_conditioned, spectral, svd, None)
    return coef, _intercepts(stats, coef), rank, singular


@functools.partial(jax.jit, static_argnames=("fit_intercept", "positive", "shared_alpha"))
def _fit_ridge(head, tail, Y, sample_weight, alphas, max_iter, tol, gate, fit_intercept, positive, shared_alpha):
    stats, finite = _one_pass_stats(head, tail, Y, sample_weight, fit_intercept)
    d = stats.gram.shape[0]
    dtype = stats.gram.dtype

    def solve(stats):
        if positive:
            def one(q, alpha):
                A = stats.gram + alpha * jnp.eye(d, dtype=dtype)
                return _nonneg_quadratic(A, q, jnp.zeros((d,), dtype), max_iter, tol)

            return jax.vmap(one)(stats.xty.T, alphas)
        coef = _ridge_gram_solve(stats.gram, stats.xty, alphas, shared_alpha).T
        return coef, jnp.zeros((Y.shape[1],), jnp.int32), jnp.ones((Y.shape[1],), bool)

    def skip(stats):
        # Non-finite input: the facade re-validates X (raising scikit-learn's error) before
        # anything reads these; no factorization runs on NaNs.
        return jnp.zeros((Y.shape[1], d), dtype), jnp.zeros((Y.shape[1],), jnp.int32), jnp.ones((Y.shape[1],), bool)

    coef, n_iter, converged = lax.cond(finite | ~gate, solve, skip, stats)
    return coef, _intercepts(stats, coef), n_iter, jnp.all(converged), finite


@functools.partial(jax.jit, static_argnames=("fit_intercept", "positive", "random"))
def _fit_lasso(head, tail, Y, sample_weight, alpha, coef_init, max_iter, tol, key, gate, fit_intercept, positive,
               random):
    stats, finite = _one_pass_stats(head, tail, Y, sample_weight, fit_intercept)
    # scikit-learn rescales the weights to sum to N: the objective is
    # (1/(2Σs)) Σ s_n (y_n − x_nᵀw − w₀)² + alpha‖w‖₁, the course's lasso on these statistics.
    A = stats.gram / stats.weight_sum
    yy = stats.yty / stats.weight_sum

    def solve(_):
        def one(q, yy, w0):
            return _cd(_Quadratic(A, None, q, yy), alpha, w0, max_iter, tol, positive, key if random else None)

        result = jax.vmap(one)(stats.xty.T / stats.weight_sum, yy, coef_init)
        return result.w, result.n_iter, result.gap

    def skip(_):
        # Non-finite input: the facade re-validates X (raising scikit-learn's error) first.
        return jnp.zeros_like(coef_init), jnp.zeros(yy.shape, jnp.int32), jnp.zeros_like(yy)

    w, n_iter, gap = lax.cond(finite | ~gate, solve, skip, None)
    return w, _intercepts(stats, w), n_iter, gap, gap <= tol * yy, finite


# Coordinate descent over X's columns (Θ(ND) per sweep) against the Gram path (Θ(ND²) once, then
# Θ(D²) per sweep). Flop count: the Gram matrix is ~¾·N·D² multiply-adds, a GEMM on both cores near
# peak; a column sweep is ~3·N·D (D dots, D axpys, one Xᵀr for the duality gap) on one core and
# memory-bound, plus ~4 passes over X up front (Xᵀ, x̄, ‖x_j − x̄_j‖², the first gap). Their ratio
# goes as 1/D, but the sweeps are fast only while Xᵀ stays in the last-level cache between sweeps.
# Measured on this CPU (2 cores, 32 MiB L3), quiet, float64, 3 sweeps, column/Gram ms:
#   N=20000: D=64 8.5/5.5, D=128 17/11.5, D=200 17/15.5, D=300 52/32, D=400 70/61, D=600 110/108;
#   D=400: N=5000 7.5/18.6, N=10000 15.5/27.6, N=15000 34/39.
# So the column path is chosen for D ≥ 256 with Xᵀ ≤ 32 MiB; a sweep there costs ~1/8 of the Gram
# matrix, so it runs at most max(4, D/64) sweeps, then hands its iterate to the Gram path as a warm
# start (worst case ≈ 2x the Gram path alone; ~2x faster than it when few sweeps suffice).
_MIN_COLUMN_FEATURES = 256
_MAX_COLUMN_BYTES = 32 * 2**20
_COLUMN_SWEEPS_PER_FEATURE = 1 / 64


def _use_columns(n, d, n_targets, weighted, itemsize=8):
    """The column path is chosen for one unweighted target, D ≥ 256 features, N ≥ D and
    N·D·itemsize ≤ 32 MiB (see above); a 2-D y shares one Gram matrix across its targets instead."""
    return (not weighted and n_targets == 1 and d >= _MIN_COLUMN_FEATURES and n >= d
            and n * d * itemsize <= _MAX_COLUMN_BYTES)


def _column_sweep_budget(d):
    """Sweeps the column path may run before handing over to the Gram path: max(4, ⌊D/64⌋)."""
    return max(4, int(d * _COLUMN_SWEEPS_PER_FEATURE))


def _cd_columns(XT, x_mean, col_sq, yc, lam, w0, max_iter, budget, tol, positive, key):
    """Cyclic (or per-sweep permuted) coordinate descent over the columns of the centred X,
    r = yc − X_c w kept up to date, X_c = X − 1 x̄ᵀ never formed: with x_j = XT[j],

        ρ_j = (x_j − x̄_j)ᵀr/N + a_j w_j,   w_j ← S_λ(ρ_j)/a_j,   r ← r − (x_j − x̄_j)(w_j' − w_j),

    a_j = ‖x_j − x̄_j‖²/N. Stops on the Gram path's duality gap (``_duality_gap`` with
    A w = X_cᵀ(yc − r)/N, i.e. q − A w = X_cᵀr/N, ‖r‖²/N and rᵀyc/N read off r) ≤ tol·‖yc‖²/N,
    after max_iter sweeps or after ``budget`` sweeps. Returns (w, sweeps, gap)."""
    n = XT.shape[1]
    d = w0.shape[0]
    yy = jnp.dot(yc, yc) / n
    target = tol * yy
    hi = lax.Precision.HIGHEST

    def gap_of(w, r):
        correlation = (jnp.matmul(XT, r, precision=hi) - x_mean * jnp.sum(r)) / n
        r_norm2 = jnp.dot(r, r) / n
        dual_norm = jnp.max(correlation) if positive else jnp.max(jnp.abs(correlation))
        s = jnp.where(dual_norm > lam, lam / jnp.where(dual_norm > 0, dual_norm, 1.0), 1.0)
        r_dot_y = jnp.dot(r, yc) / n
        return 0.5 * r_norm2 * (1 + s**2) + lam * jnp.sum(jnp.abs(w)) - s * r_dot_y

    def coordinate(order, sum_r, i, carry):
        w, r = carry
        j = i if order is None else order[i]
        a_j, w_j, m_j = col_sq[j], w[j], x_mean[j]
        x_j = lax.dynamic_index_in_dim(XT, j, 0, keepdims=False)
        # Σr moves only by rounding within a sweep (each x_j − x̄_j sums to 0): it is refreshed
        # once per sweep instead of being summed for every coordinate.
        rho = (jnp.dot(x_j, r, precision=hi) - m_j * sum_r) / n + a_j * w_j
        shrunk = jnp.maximum(rho - lam, 0.0) if positive else soft_threshold(rho, lam)
        safe_a = jnp.where(a_j > 0, a_j, 1.0)
        w_j_new = jnp.where(a_j > 0, shrunk / safe_a, 0.0)
        # Unconditional update: a lax.cond skipping unmoved coordinates measured slower.
        return w.at[j].set(w_j_new), r - (x_j - m_j) * (w_j_new - w_j)

    def cond(state):
        _, _, k, gap = state
        return (k < max_iter) & (k < budget) & (gap > target)

    def body(state):
        w, r, k, _ = state
        order = None if key is None else jax.random.permutation(jax.random.fold_in(key, k), d)
        w, r = lax.fori_loop(0, d, functools.partial(coordinate, order, jnp.sum(r)), (w, r))
        return w, r, k + 1, gap_of(w, r)

    r0 = yc - (jnp.matmul(w0, XT, precision=hi) - jnp.dot(w0, x_mean))
    init = (w0, r0, jnp.zeros((), jnp.int32), gap_of(w0, r0))
    w, _, k, gap = lax.while_loop(cond, body, init)
    return w, k, gap


@functools.partial(jax.jit, static_argnames=("fit_intercept", "positive", "random"))
def _fit_lasso_columns(head, tail, Y, alpha, coef_init, max_iter, tol, key, gate, fit_intercept, positive, random):
    """``_fit_lasso`` (unweighted) by coordinate descent over X's columns (``_cd_columns``) for at most
    ``_column_sweep_budget(D)`` sweeps, then, where a target has not converged, the Gram path warm
    started from that iterate. Xᵀ is made once (one pass; a column of row-major X is a strided read)."""
    n, t = Y.shape
    d = coef_init.shape[1]
    # Xᵀ written in place (row 0 straddles head and tail): a fused concatenate-then-transpose
    # measured ~10x slower than this update of a zero buffer.
    k = head.shape[0]
    row0 = jnp.concatenate([head, tail[: d - k]])
    XT = jnp.zeros((d, n), tail.dtype).at[:, 1:].set(tail[d - k:].reshape(n - 1, d).T).at[:, 0].set(row0)
    dtype = XT.dtype
    y_mean = jnp.mean(Y, axis=0) if fit_intercept else jnp.zeros((t,), dtype)
    # The barrier materializes Xᵀ once: fused into the reductions below, the transpose was
    # recomputed inside them with strided reads.
    XT = lax.optimization_barrier(XT)
    x_mean = jnp.mean(XT, axis=1) if fit_intercept else jnp.zeros((d,), dtype)
    col_sq = jnp.sum(jnp.square(XT - x_mean[:, None]), axis=1) / n
    Yc = Y - y_mean[None, :]
    yy = jnp.sum(Yc * Yc, axis=0) / n
    finite = jnp.isfinite(jnp.sum(col_sq) + jnp.sum(x_mean) + jnp.sum(yy) + jnp.sum(y_mean))
    budget = _column_sweep_budget(d)

    def solve(_):
        def one(yc, w0):
            return _cd_columns(XT, x_mean, col_sq, yc, alpha, w0, max_iter, budget, tol, positive,
                               key if random else None)

        # One target: the column path is chosen for one only.
        w, k, gap = (v[None] for v in one(Yc[:, 0], coef_init[0]))
        done = jnp.all((gap <= tol * yy) | (k >= max_iter)) | ~finite

        def gram(_):
            # Too many sweeps for the column path: finish on the Gram matrix, warm started.
            stats, _ = _one_pass_stats(head, tail, Y, None, fit_intercept)
            A = stats.gram / stats.weight_sum

            def finish(q, yy_t, w_t, k_t, gap_t):
                res = _cd(_Quadratic(A, None, q, yy_t), alpha, w_t, max_iter - k_t, tol, positive,
                          key if random else None)
                return jnp.where(gap_t <= tol * yy_t, w_t, res.w), k_t + res.n_iter, jnp.where(
                    gap_t <= tol * yy_t, gap_t, res.gap)

            return jax.vmap(finish)(stats.xty.T / stats.weight_sum, stats.yty / stats.weight_sum, w, k, gap)

        return lax.cond(done, lambda _: (w, k, gap), gram, None)

    # No lax.cond on ``finite`` (its operands would include Xᵀ): on non-finite input the initial
    # duality gap is NaN, so no sweep runs, and the facade re-validates X before reading anything.
    del gate
    w, n_iter, gap = solve(None)
    intercept = y_mean - jnp.matmul(w, x_mean, precision=lax.Precision.HIGHEST)
    return w, intercept, n_iter, gap, gap <= tol * yy, finite


class _LinearModel(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Shared validation, output shaping and prediction; subclasses implement ``_solve``."""

    _squeeze_single_target = False  # Lasso returns a 1-D coef_ for a one-column 2-D y

    _one_pass = False  # Ridge, Lasso: X read once, in place (``_one_pass_stats``), checked on device

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets), with
        optional per-sample weights (n_samples,) (a scalar weighs every sample alike); returns
        self."""
        self._validate_params()
        # The one-pass models check X's finiteness on device, from the statistics they compute
        # anyway (a NaN or ±inf anywhere makes them non-finite), instead of numpy's extra pass
        # over X; only then is X validated again, to raise scikit-learn's own error.
        X, y = validate_data(self, X, y, dtype=_FLOATS, y_numeric=True, multi_output=True,
                             ensure_all_finite=not self._one_pass)
        y = np.asarray(y, dtype=X.dtype)
        if sample_weight is not None and not (self._squeeze_single_target and np.isscalar(sample_weight)):
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        else:
            sample_weight = None
        Y = y[:, None] if y.ndim == 1 else y
        self._check_targets(Y.shape[1])
        with float64():
            Yj = jax.device_put(Y)
            sw = None if sample_weight is None else jax.device_put(sample_weight)
            if self._one_pass:
                head, tail = (jax.device_put(part) for part in _flat_aligned(X))
                coef, intercept, finite = self._solve(head, tail, Yj, sw, True)
                if not bool(finite):
                    validate_data(self, X, y, dtype=_FLOATS, y_numeric=True, multi_output=True)
                    # Finite but overflowing (|x| near the float's maximum): solve as given.
                    coef, intercept, _ = self._solve(head, tail, Yj, sw, False)
            else:
                # device_put, not jnp.asarray: the same copy, half the time on CPU.
                coef, intercept = self._solve(jax.device_put(X), Yj, sw)
        coef, intercept = np.asarray(coef, dtype=X.dtype), np.asarray(intercept, dtype=X.dtype)
        if y.ndim == 1 or (self._squeeze_single_target and coef.shape[0] == 1):
            coef = coef[0]
        self.coef_ = coef
        if not self.fit_intercept:
            self.intercept_ = 0.0
        elif y.ndim == 1:
            self.intercept_ = intercept[0]
        else:
            self.intercept_ = intercept
        return self

    def _check_targets(self, n_targets):
        pass

    def predict(self, X):
        """X @ coef_ᵀ + intercept_, shape (n_samples,) or (n_samples, n_targets)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        return X @ self.coef_.T + self.intercept_


class LinearRegression(_LinearModel):
    """Ordinary least squares, scikit-learn's ``LinearRegression``:
    argmin_w Σ_n s_n (y_n − x_nᵀw − w₀)² (s_n = sample weights, 1 by default).

    Solved from the weighted, centered Gram matrix G = VΛVᵀ (one symmetric eigendecomposition):
    w = V Λ⁻¹ Vᵀ Xᵀy. When G is ill-conditioned (κ(G) > 1/√eps) or a singular value σ of the
    centered X falls below ``tol``·σ_max, the answer comes instead from the SVD of the centered,
    weighted X with singular values σ ≤ tol·σ_max treated as 0 — scipy's ``lstsq(cond=tol)``,
    which scikit-learn calls (the minimum-norm solution on rank-deficient data).

    ``positive=True`` solves non-negative least squares (w ≥ 0) by projected coordinate descent
    on G polished by an exact solve on the free set (``jaxml.linear.nonnegative_least_squares``),
    the answer of ``scipy.optimize.nnls``.

    Parameters:
      fit_intercept: fit an unpenalized offset by centering X and y at their weighted means.
      copy_X: accepted; X is never modified here.
      tol: the relative singular-value cutoff above (scikit-learn uses it the same way for dense
        X, where scipy's lstsq takes it as ``cond``).
      n_jobs: accepted; no effect (one compiled program; every target shares the Gram matrix).
      positive: constrain the coefficients to be ≥ 0.

    Attributes:
      coef_ (n_features,) or (n_targets, n_features), intercept_ (float or (n_targets,)),
      rank_ and singular_ (rank and singular values of the centered, weighted X; not set when
      positive=True; from G's eigenvalues when G is well conditioned), n_features_in_.
      Float32 X gives float32 attributes and predictions, as in scikit-learn.
    """

    _parameter_constraints = dict(_sk.LinearRegression._parameter_constraints)

    def __init__(self, *, fit_intercept=True, copy_X=True, tol=1e-6, n_jobs=None, positive=False):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive

    def _solve(self, X, Y, sample_weight):
        coef, intercept, rank, singular = _fit_least_squares(
            X, Y, sample_weight, float(self.tol), bool(self.fit_intercept), bool(self.positive)
        )
        if not self.positive:
            self.rank_ = int(rank)
            self.singular_ = np.asarray(singular, dtype=X.dtype)
        return coef, intercept


_RIDGE_SOLVERS = ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs")


class Ridge(_LinearModel):
    """scikit-learn's ``Ridge``: argmin_w Σ_n s_n (y_n − x_nᵀw − w₀)² + alpha‖w‖² (s_n = sample
    weights, 1 by default), i.e. the course's (1/2N)‖y − Xw‖² + λ‖w‖² with λ = alpha/(2N).

    The normal equations (G + alpha I) w = Xᵀy on the weighted, centered Gram matrix G are
    solved by one Cholesky factorization (shared by every target when alpha is a scalar; one
    per target for a per-target alpha); alpha = 0 with a singular G gives the minimum-norm
    solution from G's eigendecomposition.

    ``solver``: every scikit-learn value is accepted. They all solve this same problem, and the
    direct solve is exact (it meets any ``tol``), so "auto", "svd", "cholesky", "lsqr",
    "sparse_cg", "sag" and "saga" give the same answer here; ``solver_`` reports scikit-learn's
    name for the choice ("cholesky" for "auto"). ``positive=True`` (w ≥ 0) is allowed with
    "auto" and "lbfgs" only, as in scikit-learn (any other solver raises ``ValueError``; "lbfgs"
    without positive=True too): it runs projected coordinate descent on G + alpha I, polished to
    the exact optimum once the free set is found (``_nonneg_quadratic``), stopping when the
    largest step is ≤ tol·max|w| or after max_iter sweeps (10 000 when None).

    Parameters:
      alpha: regularization strength ≥ 0, a scalar or one per target (n_targets,).
      fit_intercept: fit an unpenalized offset by centering X and y at their weighted means.
      copy_X: accepted; X is never modified here.
      max_iter, tol: used by positive=True only (see above).
      solver: see above.
      positive: constrain the coefficients to be ≥ 0.
      random_state: accepted; no effect (the solvers here are deterministic).

    Attributes:
      coef_ (n_features,) or (n_targets, n_features), intercept_ (float or (n_targets,)),
      n_iter_ (per target: 1 for the direct solve — scikit-learn reports None there —, sweeps
      when positive=True), solver_, n_features_in_.
      Float32 X gives float32 attributes and predictions, as in scikit-learn.
    """

    _parameter_constraints = dict(_sk.Ridge._parameter_constraints)
    _one_pass = True

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=None, tol=1e-4,
                 solver="auto", positive=False, random_state=None):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets), with
        optional per-sample weights; returns self."""
        self._validate_params()
        if self.solver == "lbfgs" and not self.positive:
            raise ValueError("'lbfgs' solver can be used only when positive=True. Please use another solver.")
        if self.positive and self.solver not in ("auto", "lbfgs"):
            raise ValueError(
                f"solver='{self.solver}' does not support positive fitting. Please set the solver to "
                "'auto' or 'lbfgs', or set `positive=False`"
            )
        return super().fit(X, y, sample_weight)

    def _check_targets(self, n_targets):
        alphas = np.ravel(np.asarray(self.alpha, dtype=np.float64))
        if alphas.shape[0] not in (1, n_targets):
            raise ValueError(
                f"Number of targets and number of penalties do not correspond: {alphas.shape[0]} != {n_targets}"
            )
        if not np.all(np.isfinite(alphas)) or np.any(alphas < 0):
            raise ValueError(f"alpha must hold finite values >= 0, got {self.alpha!r}")
        self._alphas = alphas

    def _solve(self, head, tail, Y, sample_weight, gate):
        alphas = self._alphas
        shared = bool(np.all(alphas == alphas[0]))
        alphas = np.broadcast_to(alphas, (Y.shape[1],)).astype(tail.dtype)
        max_iter = 10_000 if self.max_iter is None else int(self.max_iter)
        coef, intercept, n_iter, converged, finite = _fit_ridge(
            head, tail, Y, sample_weight, alphas, max_iter, float(self.tol), gate,
            bool(self.fit_intercept), bool(self.positive), shared,
        )
        if gate and not bool(finite):
            return coef, intercept, finite
        del self._alphas
        if self.positive:
            self.solver_ = "lbfgs"
            self.n_iter_ = np.asarray(n_iter)
            if not bool(converged):
                warnings.warn(
                    f"Ridge(positive=True) did not converge in {max_iter} sweeps; increase max_iter or tol.",
                    ConvergenceWarning, stacklevel=4,
                )
        else:
            self.solver_ = "cholesky" if self.solver == "auto" else self.solver
            self.n_iter_ = np.ones(Y.shape[1], np.int32)
        return coef, intercept, finite


class Lasso(_LinearModel):
    """scikit-learn's ``Lasso``: argmin (1/(2Σs)) Σ_n s_n (y_n − x_nᵀw − w₀)² + alpha‖w‖₁
    (s_n = sample weights, 1 by default; scikit-learn rescales them to sum to N, which leaves
    this objective unchanged) — the course's lasso with λ = alpha — by coordinate descent on the
    weighted, centered Gram matrix (``jaxml.linear.lasso_cd``'s solver):

        ρ_j = (Xᵀy/Σs)_j − (Aw)_j + A_jj w_j,   w_j ← S_alpha(ρ_j) / A_jj,   A = G/Σs,

    or, for one unweighted target with D ≥ 256 features, N ≥ D and X ≤ 32 MiB, by the same
    iteration over X's columns with the residual r = y_c − X_c w kept up to date (Θ(ND) per sweep
    instead of Θ(ND²) once; ρ_j = (x_j − x̄_j)ᵀr/N + A_jj w_j, X_c never formed), for at most
    max(4, D/64) sweeps before it hands over to the Gram path (``_fit_lasso_columns``),

    stopped when the duality gap is ≤ tol·Σ s_n (y_n − ȳ)²/Σs (scikit-learn's criterion) or
    after max_iter sweeps. Each target of a 2-D y is an independent problem (as in scikit-learn);
    all share the Gram matrix.

    Parameters:
      alpha: regularization strength ≥ 0 (alpha = 0 warns, as in scikit-learn: coordinate
        descent then converges slowly; use LinearRegression).
      fit_intercept: fit an unpenalized offset by centering X and y at their weighted means.
      precompute: accepted; the Gram matrix is always computed here (an array given is checked
        for shape (n_features, n_features) and not used: the centered, weighted Gram matrix is
        formed from X).
      copy_X: accepted; X is never modified here.
      max_iter: maximum number of coordinate-descent sweeps.
      tol: duality-gap tolerance, relative to Σ s_n (y_n − ȳ)²/Σs.
      warm_start: start from the previous fit's coef_ (when its shape matches) instead of 0.
      positive: constrain the coefficients to be ≥ 0 (w_j ← max(ρ_j − alpha, 0)/A_jj; the duality
        gap then uses the one-sided dual norm).
      random_state: seeds ``selection="random"``.
      selection: "cyclic" (coordinates 1..D in order) or "random" (a new random permutation of
        the coordinates every sweep, drawn from random_state; scikit-learn draws coordinates with
        replacement, so the iterates, not the optimum, differ).

    Attributes:
      coef_ (n_features,) or (n_targets, n_features), intercept_ (float or (n_targets,)),
      n_iter_ (sweeps run; a list per target for a 2-D y), dual_gap_ (the final duality gap of
      the objective above, per target for a 2-D y), n_features_in_.
      Float32 X gives float32 attributes and predictions, as in scikit-learn.
    """

    _parameter_constraints = dict(_sk.Lasso._parameter_constraints)
    _squeeze_single_target = True
    _one_pass = True

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, copy_X=True, max_iter=1000,
                 tol=1e-4, warm_start=False, positive=False, random_state=None, selection="cyclic"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection

    def fit(self, X, y, sample_weight=None):
        """Fit on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_targets), with
        optional per-sample weights; returns self."""
        self._validate_params()
        if self.alpha == 0:
            warnings.warn(
                "With alpha=0, this algorithm does not converge well. You are advised to use the "
                "LinearRegression estimator", stacklevel=2,
            )
        return super().fit(X, y, sample_weight)

    def _solve(self, head, tail, Y, sample_weight, gate):
        n_targets = Y.shape[1]
        d = (head.shape[0] + tail.shape[0]) // Y.shape[0]
        dtype = tail.dtype
        if not isinstance(self.precompute, bool) and np.shape(self.precompute) != (d, d):
            raise ValueError(f"precompute must be a bool or a ({d}, {d}) Gram matrix, got shape "
                             f"{np.shape(self.precompute)}")
        coef_init = np.zeros((n_targets, d), dtype)
        previous = getattr(self, "coef_", None) if self.warm_start else None
        if previous is not None and np.size(previous) == n_targets * d:
            coef_init = np.reshape(previous, (n_targets, d)).astype(dtype)
        random = self.selection == "random"
        key = key_from_random_state(self.random_state) if random else jax.random.key(0)
        max_iter = 1000 if self.max_iter is None else int(self.max_iter)
        if _use_columns(Y.shape[0], d, n_targets, sample_weight is not None, np.dtype(dtype).itemsize):
            coef, intercept, n_iter, gap, converged, finite = _fit_lasso_columns(
                head, tail, Y, float(self.alpha), coef_init, max_iter, float(self.tol), key, gate,
                bool(self.fit_intercept), bool(self.positive), random,
            )
        else:
            coef, intercept, n_iter, gap, converged, finite = _fit_lasso(
                head, tail, Y, sample_weight, float(self.alpha), coef_init, max_iter, float(self.tol), key, gate,
                bool(self.fit_intercept), bool(self.positive), random,
            )
        if gate and not bool(finite):
            return coef, intercept, finite
        n_iter, gap = np.asarray(n_iter), np.asarray(gap, dtype=dtype)
        self.n_iter_ = int(n_iter[0]) if n_targets == 1 else [int(k) for k in n_iter]
        self.dual_gap_ = gap[0] if n_targets == 1 else gap
        if not np.all(np.asarray(converged)):
            warnings.warn(
                f"Objective did not converge: Lasso ran {max_iter} sweeps, duality gap {np.max(gap):.3e}; "
                "increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return coef, intercept, finite


__all__ = ["Lasso", "LinearRegression", "Ridge"]
