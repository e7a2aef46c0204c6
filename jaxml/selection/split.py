"""Train/test split, K-fold cross-validation and grid search, vmapped (SYLLABUS 2).

K-fold cross-validation partitions the N samples at random into K folds F_1..F_K of sizes
⌊N/K⌋ or ⌈N/K⌉, fits on the other K−1 folds and tests on F_k:

    L_k = (1/|F_k|) Σ_{n∈F_k} ℓ(f_{−k}(x_n), y_n),   CV = (1/K) Σ_k L_k,
    variance = (1/(K−1)) Σ_k (L_k − CV)²

Unequal fold sizes cannot be stacked for ``vmap``; here every fold keeps all N rows and is
described by a 0/1 mask instead: a *weighted* learner ``fit_fn(X, y, sample_weight, hyper)``
trains with weights s = 1 − m_k (the training folds) and the test error is the m_k-weighted mean.
All K fits then run as one ``vmap`` inside one ``jit``; ``grid_search_cv`` adds a second ``vmap``
over the hyper-parameter grid, so K × G fits are one compiled call. A learner whose work on the
full data does not depend on the hyper-parameter (the Gram matrix and its eigendecomposition in
``weighted_ridge``) computes it once per fold, not once per grid point: ``vmap`` only batches
what depends on the batched argument.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_same_length, check_scalar, check_xy
from jaxml.core.types import Array, PRNGKey, float_dtype
from jaxml.linear import ridge_path_gram
from jaxml.linear.regression import _spectral_ridge

# ----------------------------------------------------------------------------------------------
# splits


def train_test_split(key: PRNGKey, X: Array, y: Array, *, test_ratio: float = 0.25):
    """Random split of (X, y) into a training and a test set by one permutation.

    N_test = round(test_ratio · N) (at least 1, at most N − 1) samples form the test set.
    Cost Θ(N) plus copying the rows.

    Args:
      key: the permutation's key.
      X: (N, ...) inputs. y: (N, ...) targets.
      test_ratio: fraction of the samples held out, in (0, 1).

    Returns:
      ``(X_train, X_test, y_train, y_test)``.
    """
    check_array(X, "X")
    check_array(y, "y")
    n = check_same_length(X=X, y=y)
    if not 0.0 < float(test_ratio) < 1.0:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    n_test = min(max(1, int(round(test_ratio * n))), n - 1)
    if n < 2:
        raise ValueError(f"X must have at least 2 samples to split, got {n}")
    perm = jax.random.permutation(key, n)
    test, train = perm[:n_test], perm[n_test:]
    X, y = jnp.asarray(X), jnp.asarray(y)
    return X[train], X[test], y[train], y[test]


def _check_folds(n: int, k: int) -> None:
    check_int(n, "n", minimum=1)
    check_int(k, "k", minimum=2)
    if k > n:
        raise ValueError(f"k must be <= the number of samples n={n}, got k={k}")


@functools.partial(jax.jit, static_argnames=("n", "k"))
def _fold_ids(key, n, k):
    perm = jax.random.permutation(key, n)
    return jnp.zeros((n,), jnp.int32).at[perm].set(jnp.arange(n, dtype=jnp.int32) % k)


def kfold_assignments(key: PRNGKey, n: int, k: int) -> Array:
    """The fold of every sample, a random partition into K folds of sizes ⌊N/K⌋ or ⌈N/K⌉.

    Sample ``perm[i]`` goes to fold i mod K for a random permutation ``perm``. Returns (N,) int32.
    """
    _check_folds(n, k)
    return _fold_ids(key, n, k)


def kfold_masks(key: PRNGKey, n: int, k: int, dtype=jnp.float32) -> Array:
    """Test masks m (K, N): m[k, n] = 1 when sample n is in fold k. Training weights are 1 − m."""
    ids = kfold_assignments(key, n, k)
    return (ids[None, :] == jnp.arange(k)[:, None]).astype(dtype)


def kfold_indices(key: PRNGKey, n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same partition as ``kfold_masks`` as K pairs of numpy index arrays (train, test),
    e.g. for scikit-learn's ``cv=`` argument."""
    ids = np.asarray(kfold_assignments(key, n, k))
    return [(np.flatnonzero(ids != f), np.flatnonzero(ids == f)) for f in range(k)]


# ----------------------------------------------------------------------------------------------
# a weighted learner for CV: ridge


def weighted_ridge(X: Array, y: Array, sample_weight: Array, lam) -> Array:
    """Weighted ridge w = argmin (1/(2Σs)) Σ_n s_n (y_n − x_nᵀw)² + λ‖w‖².

    Normal equations (XᵀSX + 2(Σs)λ I) w = XᵀSy, S = diag(s); with s = 1 this is
    ``jaxml.linear.ridge`` (scikit-learn ``Ridge(alpha=2Nλ, fit_intercept=False)``). Solved by
    ``jaxml.linear.ridge_path_gram`` from the sufficient statistics (XᵀSX, XᵀSy, Σs): the
    eigendecomposition XᵀSX = V diag(e) Vᵀ, w = V diag(1/(e + 2Σsλ)) VᵀXᵀSy, with its
    pseudo-inverse floor (λ = 0 on rank-deficient data gives the minimum-norm least-squares
    solution). Cost Θ(ND² + D³); under ``vmap`` over λ only the Θ(D²) back-substitution is
    batched. Pure and jit-safe (used inside CV).

    Args:
      X: (N, D). y: (N,). sample_weight: (N,) non-negative (0/1 fold masks in CV). lam: λ ≥ 0.
    """
    Xs = X * sample_weight[:, None]
    return ridge_path_gram(Xs.T @ X, Xs.T @ y, jnp.sum(sample_weight), jnp.reshape(lam, (1,)))[0]


def squared_error(w: Array, X: Array, y: Array) -> Array:
    """Per-sample squared error (y_n − x_nᵀw)², (N,): the error function of regression CV."""
    return (y - X @ w) ** 2


# ----------------------------------------------------------------------------------------------
# cross-validation and grid search


class CVResult(NamedTuple):
    """K-fold cross-validation of one learner.

    Attributes:
      fold_errors: L_k, the test error of each fold (K,).
      mean: the CV estimate (1/K) Σ_k L_k.
      variance: (1/(K−1)) Σ_k (L_k − mean)² (the spread of the fold errors; the standard error
        of the mean is sqrt(variance / K)).
    """

    fold_errors: Array
    mean: Array
    variance: Array


class GridSearchCVResult(NamedTuple):
    """K-fold cross-validation of every point of a hyper-parameter grid of G points.

    Attributes:
      fold_errors: (G, K). mean: (G,). variance: (G,) as in ``CVResult``.
      best_index: argmin_g mean[g] (int32; ties go to the first).
    """

    fold_errors: Array
    mean: Array
    variance: Array
    best_index: Array


def _test_error(error_fn, params, X, y, test_mask):
    """The mean per-sample error over the fold's test rows."""
    return jnp.sum(test_mask * error_fn(params, X, y)) / jnp.sum(test_mask)


def _fold_errors(fit_fn, error_fn, X, y, hyper, test_mask):
    params = fit_fn(X, y, 1.0 - test_mask, hyper)
    return _test_error(error_fn, params, X, y, test_mask)


def _summarize(fold_errors):
    k = fold_errors.shape[-1]
    mean = jnp.mean(fold_errors, axis=-1)
    variance = jnp.sum((fold_errors - mean[..., None]) ** 2, axis=-1) / (k - 1)
    return mean, variance


@functools.partial(jax.jit, static_argnames=("fit_fn", "error_fn"))
def _cross_validate(fit_fn, error_fn, X, y, hyper, test_masks):
    per_fold = jax.vmap(_fold_errors, in_axes=(None, None, None, None, None, 0))
    fold_errors = per_fold(fit_fn, error_fn, X, y, hyper, test_masks)
    mean, variance = _summarize(fold_errors)
    return CVResult(fold_errors, mean, variance)


def _warm_fold(fit_fn, error_fn, X, y, hyper, test_mask, init):
    params = fit_fn(X, y, 1.0 - test_mask, hyper, init)
    return params, _test_error(error_fn, params, X, y, test_mask)


def _warm_path_errors(fit_fn, error_fn, X, y, hypers, test_masks):
    """Grid points in order along a ``lax.scan``; each fold's fit starts from its own solution
    at the previous point (the first from ``init=None``)."""
    first = jax.tree.map(lambda leaf: leaf[0], hypers)
    rest = jax.tree.map(lambda leaf: leaf[1:], hypers)
    cold = jax.vmap(lambda mask: _warm_fold(fit_fn, error_fn, X, y, first, mask, None))
    params, first_errors = cold(test_masks)
    over_folds = jax.vmap(_warm_fold, in_axes=(None, None, None, None, None, 0, 0))

    def step(params, hyper):
        return over_folds(fit_fn, error_fn, X, y, hyper, test_masks, params)

    _, rest_errors = jax.lax.scan(step, params, rest)
    return jnp.concatenate([first_errors[None], rest_errors])


@functools.partial(jax.jit, static_argnames=("fit_fn", "error_fn", "grid_batch_size", "warm_start"))
def _grid_search_cv(fit_fn, error_fn, X, y, hypers, test_masks, grid_batch_size=None, warm_start=False):
    over_folds = jax.vmap(_fold_errors, in_axes=(None, None, None, None, None, 0))
    if warm_start:
        fold_errors = _warm_path_errors(fit_fn, error_fn, X, y, hypers, test_masks)
    elif grid_batch_size is None:
        # Folds outside, grid inside: whatever a learner computes from (X, fold) alone is
        # then shared by every grid point of that fold.
        over_grid = jax.vmap(_fold_errors, in_axes=(None, None, None, None, 0, None))
        over_folds = jax.vmap(over_grid, in_axes=(None, None, None, None, None, 0))
        fold_errors = over_folds(fit_fn, error_fn, X, y, hypers, test_masks).T  # (G, K)
    else:
        fold_errors = jax.lax.map(
            lambda h: over_folds(fit_fn, error_fn, X, y, h, test_masks),
            hypers,
            batch_size=grid_batch_size,
        )
    mean, variance = _summarize(fold_errors)
    return GridSearchCVResult(fold_errors, mean, variance, jnp.argmin(mean).astype(jnp.int32))


def _resolve_masks(X, y, key, k, test_masks, dtype):
    check_array(X, "X")
    check_array(y, "y")
    n = check_same_length(X=X, y=y)
    if test_masks is None:
        if key is None:
            raise ValueError("key must be given to draw the folds (or pass test_masks)")
        _check_folds(n, k)
        return kfold_masks(key, n, k, dtype)
    check_array(test_masks, "test_masks", ndim=2)
    if np.shape(test_masks)[1] != n or np.shape(test_masks)[0] < 2:
        raise ValueError(f"test_masks must have shape (K >= 2, {n}), got {np.shape(test_masks)}")
    masks = np.asarray(test_masks)
    if not np.all((masks == 0) | (masks == 1)) or np.any(masks.sum(axis=1) == 0):
        raise ValueError("test_masks must hold 0/1 entries with a non-empty test set per fold")
    return jnp.asarray(masks, dtype)


def _canonical(hyper, dtype):
    """Float leaves as strongly typed arrays of X's dtype: a Python float and a float array
    (weakly vs strongly typed) would otherwise compile twice."""

    def fix(leaf):
        leaf = jnp.asarray(leaf)
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf.astype(dtype)
        return leaf

    return jax.tree.map(fix, hyper)


def cross_validate(
    fit_fn: Callable[[Array, Array, Array, Any], Any],
    error_fn: Callable[[Any, Array, Array], Array],
    X: Array,
    y: Array,
    hyper: Any,
    *,
    key: PRNGKey | None = None,
    k: int = 5,
    test_masks: Array | None = None,
) -> CVResult:
    """K-fold cross-validation: all K fits and tests in ONE jitted, vmapped call.

    Args:
      fit_fn: weighted learner ``fit_fn(X, y, sample_weight, hyper) -> params``; pure and
        traceable. Keep it a module-level function (it keys the compile cache).
      error_fn: ``error_fn(params, X, y) -> (N,)`` per-sample errors (e.g. ``squared_error``,
        or a 0/1 misclassification indicator).
      X: (N, D) inputs. y: (N,) targets.
      hyper: the learner's hyper-parameters (any pytree, traced).
      key: draws the random partition (``kfold_masks(key, N, k)``).
      k: the number of folds K (2 ≤ K ≤ N).
      test_masks: explicit (K, N) 0/1 test masks instead of ``key``/``k``.

    Returns:
      ``CVResult(fold_errors (K,), mean, variance)``. Cost: K fits and K evaluations on N rows.
    """
    dtype = float_dtype(jnp.asarray(X))
    masks = _resolve_masks(X, y, key, k, test_masks, dtype)
    hyper = _canonical(hyper, dtype)
    return _cross_validate(fit_fn, error_fn, jnp.asarray(X), jnp.asarray(y), hyper, masks)


def grid_search_cv(
    fit_fn: Callable[[Array, Array, Array, Any], Any],
    error_fn: Callable[[Any, Array, Array], Array],
    X: Array,
    y: Array,
    hypers: Any,
    *,
    key: PRNGKey | None = None,
    k: int = 5,
    test_masks: Array | None = None,
    grid_batch_size: int | None = None,
    warm_start: bool = False,
) -> GridSearchCVResult:
    """Grid search by K-fold CV, vmapped over the grid and over the folds in one jitted call.

    ``hypers`` is a pytree whose leaves share a leading axis of G grid points (e.g. an array of
    λ values; for a product grid, flatten it with ``jnp.meshgrid``). Arguments otherwise as in
    ``cross_validate``. The selected hyper-parameter is ``hypers[best_index]``.

    ``grid_batch_size``: ``None`` vmaps the whole grid (best for closed-form learners such as
    ``weighted_ridge``). An iterative learner with data-dependent loops (L-BFGS line searches)
    runs every lane of a vmapped ``while_loop`` until the slowest is done, which on CPU can cost
    more than running the grid points one after another: ``grid_batch_size=b`` then vmaps b grid
    points at a time inside a ``lax.map`` — still one compiled call, folds still vmapped.

    ``warm_start=True`` treats the grid as a regularization path (as scikit-learn's
    ``LogisticRegressionCV`` does): the points are fitted one after another in the given order
    (a ``lax.scan``, folds vmapped) and ``fit_fn`` takes a fifth argument, ``init``: ``None`` at
    the first point, then the same fold's parameters at the previous point. An iterative learner
    that starts there needs far fewer iterations when neighbouring points are close (order the
    grid monotonically). Exclusive with ``grid_batch_size``.

    Returns:
      ``GridSearchCVResult(fold_errors (G, K), mean (G,), variance (G,), best_index)``.
    """
    dtype = float_dtype(jnp.asarray(X))
    masks = _resolve_masks(X, y, key, k, test_masks, dtype)
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(hypers)}
    if None in sizes or len(sizes) != 1:
        raise ValueError(f"hypers leaves must share a leading grid axis, got sizes {sizes}")
    if 0 in sizes:
        raise ValueError("hypers must hold at least one grid point")
    hypers = _canonical(hypers, dtype)
    if grid_batch_size is not None:
        check_int(grid_batch_size, "grid_batch_size", minimum=1)
        if warm_start:
            raise ValueError("warm_start runs the grid in order; it cannot be combined with grid_batch_size")
    return _grid_search_cv(
        fit_fn, error_fn, jnp.asarray(X), jnp.asarray(y), hypers, masks,
        grid_batch_size=grid_batch_size, warm_start=bool(warm_start),
    )


@functools.partial(jax.jit, static_argnames=("k",))
def _ridge_cv(X, y, lams, fold_ids, k):
    n, d = X.shape
    m = -(-n // k)  # the largest fold
    hi = jax.lax.Precision.HIGHEST
    # Rows grouped by fold, each fold padded to m rows with index n: jnp.take fills those with
    # zeros, which add nothing to a Gram matrix and are masked out of the test error.
    counts = jnp.zeros((k,), jnp.int32).at[fold_ids].add(1)
    starts = jnp.cumsum(counts) - counts
    order = jnp.argsort(fold_ids, stable=True)
    slot = jnp.arange(m)[None, :]
    valid = slot < counts[:, None]
    idx = jnp.where(valid, order[jnp.minimum(starts[:, None] + slot, n - 1)], n)
    Xf = jnp.take(X, idx, axis=0, mode="fill", fill_value=0)  # (k, m, d)
    yf = jnp.take(y, idx, axis=0, mode="fill", fill_value=0)  # (k, m)
    fold_gram = jnp.einsum("fmi,fmj->fij", Xf, Xf, precision=hi)
    fold_xty = jnp.einsum("fmi,fm->fi", Xf, yf, precision=hi)
    # Training statistics of fold f: the sum of the OTHER folds' (no total-minus-fold
    # cancellation); Θ(K²D²).
    others = 1.0 - jnp.eye(k, dtype=X.dtype)
    train_gram = jnp.einsum("fg,gij->fij", others, fold_gram, precision=hi)
    train_xty = jnp.einsum("fg,gi->fi", others, fold_xty, precision=hi)
    n_train = (n - counts).astype(X.dtype)
    evals, evecs = jnp.linalg.eigh(train_gram)  # one factorization per fold serves every λ

    def fold_error(evals, evecs, xty, n_tr, X_test, y_test, mask, count):
        W = _spectral_ridge(evals, evecs, xty, 2 * n_tr * lams)  # (G, D)
        residual = y_test[:, None] - jnp.matmul(X_test, W.T, precision=hi)  # (m, G)
        return jnp.sum(mask[:, None] * residual**2, axis=0) / count

    fold_errors = jax.vmap(fold_error)(
        evals, evecs, train_xty, n_train, Xf, yf, valid.astype(X.dtype), counts.astype(X.dtype)
    ).T  # (G, K)
    mean, variance = _summarize(fold_errors)
    return GridSearchCVResult(fold_errors, mean, variance, jnp.argmin(mean).astype(jnp.int32))


def ridge_cv(X: Array, y: Array, lams: Array, *, key: PRNGKey, k: int = 5) -> GridSearchCVResult:
    """Ridge cross-validated over a grid of λ (G,) with the squared error, one factorization per
    fold for the whole grid.

    On the training folds of fold f (N_f rows) ridge solves (X_fᵀX_f + 2N_f λ I) w = X_fᵀy_f
    (the course's λ; scikit-learn's ``Ridge(alpha=2N_fλ, fit_intercept=False)``). With the
    eigendecomposition X_fᵀX_f = V Λ Vᵀ, computed once per fold,

        w_f(λ) = V (Λ + 2N_fλ I)⁻¹ Vᵀ X_fᵀy_f      (Θ(D²) per λ),

    and the test error L_f(λ) = (1/|F_f|) Σ_{n∈F_f} (y_n − x_nᵀw_f(λ))² is computed on the
    held-out rows only. Each fold's training Gram matrix is the sum of the other folds' Gram
    matrices (each fold's is formed once). The folds are ``kfold_assignments(key, N, k)``, the
    partition ``grid_search_cv(weighted_ridge, ...)`` uses, and the result is the same (the
    same spectral solver and pseudo-inverse floor, ``jaxml.linear.ridge_path_gram``).

    Args:
      X: (N, D). y: (N,). lams: λ values ≥ 0, shape (G,) (a scalar is one grid point).
      key: draws the folds. k: the number of folds K (2 ≤ K ≤ N).

    Returns:
      ``GridSearchCVResult(fold_errors (G, K), mean (G,), variance (G,), best_index)``.
      Cost Θ(ND² + K D³ + G(KD² + ND)).
    """
    check_xy(X, y)
    check_scalar(lams, "lams", minimum=0.0)
    n = np.shape(X)[0]
    _check_folds(n, k)
    X, y = jnp.asarray(X), jnp.asarray(y)
    dtype = float_dtype(X, y)
    lams = jnp.atleast_1d(jnp.asarray(lams, dtype))
    if lams.ndim != 1:
        raise ValueError(f"lams must be a scalar or a 1-D grid, got shape {lams.shape}")
    return _ridge_cv(X.astype(dtype), y.astype(dtype), lams, kfold_assignments(key, n, k), int(k))


__all__ = [
    "CVResult",
    "GridSearchCVResult",
    "cross_validate",
    "grid_search_cv",
    "kfold_assignments",
    "kfold_indices",
    "kfold_masks",
    "ridge_cv",
    "squared_error",
    "train_test_split",
    "weighted_ridge",
]
