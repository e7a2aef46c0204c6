"""Splits, K-fold CV and grid search (vmapped) against loops, numpy and scikit-learn."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score

from jaxml.linear import fit_logistic_lbfgs, fit_logistic_newton, ridge_path
from jaxml.selection import (
    cross_validate,
    grid_search_cv,
    kfold_assignments,
    kfold_indices,
    kfold_masks,
    ridge_cv,
    squared_error,
    train_test_split,
    weighted_ridge,
)
from jaxml.selection import split as sp


def _diabetes(n=200):
    X, y = load_diabetes(return_X_y=True)
    return X[:n], y[:n] - y.mean()  # centred: no intercept needed


def _ridge_fit(X, y, s, lam):
    return weighted_ridge(X, y, s, lam)


def test_train_test_split_is_a_partition(key):
    X = jnp.arange(50.0)[:, None] * jnp.ones((1, 3))
    y = jnp.arange(50)
    X_tr, X_te, y_tr, y_te = train_test_split(key, X, y, test_ratio=0.2)
    assert X_te.shape == (10, 3) and X_tr.shape == (40, 3)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(50))
    np.testing.assert_array_equal(X_tr[:, 0], y_tr)  # rows stay paired
    again = train_test_split(key, X, y, test_ratio=0.2)
    np.testing.assert_array_equal(again[3], y_te)
    other = train_test_split(jax.random.key(1), X, y, test_ratio=0.2)
    assert not np.array_equal(other[3], y_te)


def test_kfold_partition_sizes_and_consistency(key):
    n, k = 23, 5
    ids = np.asarray(kfold_assignments(key, n, k))
    counts = np.bincount(ids, minlength=k)
    assert sorted(counts.tolist()) == [4, 4, 5, 5, 5]
    masks = np.asarray(kfold_masks(key, n, k))
    np.testing.assert_array_equal(masks.sum(axis=0), np.ones(n))
    for f, (train, test) in enumerate(kfold_indices(key, n, k)):
        np.testing.assert_array_equal(np.flatnonzero(masks[f]), test)
        assert len(train) + len(test) == n and not set(train) & set(test)


def test_weighted_ridge_closed_form_and_subset(x64):
    X, y = _diabetes(60)
    lam = 0.01
    n, d = X.shape
    w = weighted_ridge(jnp.asarray(X), jnp.asarray(y), jnp.ones(n), lam)
    direct = np.linalg.solve(X.T @ X + 2 * n * lam * np.eye(d), X.T @ y)
    np.testing.assert_allclose(w, direct, rtol=1e-9)
    keep = np.arange(n) % 3 != 0
    w_sub = weighted_ridge(jnp.asarray(X), jnp.asarray(y), jnp.asarray(keep, float), lam)
    Xs, ys = X[keep], y[keep]
    direct_sub = np.linalg.solve(Xs.T @ Xs + 2 * keep.sum() * lam * np.eye(d), Xs.T @ ys)
    np.testing.assert_allclose(w_sub, direct_sub, rtol=1e-9)
    # λ = 0 on rank-deficient data (a duplicated column): the minimum-norm solution, as
    # jaxml.linear's ridge path (the same spectral solver and floor) and numpy's pinv
    X2 = np.concatenate([X[:, :3], X[:, :3]], axis=1)
    w0 = weighted_ridge(jnp.asarray(X2), jnp.asarray(y), jnp.ones(n), 0.0)
    np.testing.assert_allclose(w0, np.linalg.pinv(X2) @ y, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(w0, ridge_path(X2, y, jnp.zeros(1))[0], rtol=1e-12, atol=1e-14)


def test_cross_validate_equals_loop_and_sklearn(x64, key):
    X, y = _diabetes()
    lam, k = 1e-3, 5
    result = cross_validate(_ridge_fit, squared_error, X, y, lam, key=key, k=k)
    folds = kfold_indices(key, X.shape[0], k)
    loop = []
    for train, test in folds:
        Xt, yt = X[train], y[train]
        w = np.linalg.solve(Xt.T @ Xt + 2 * len(train) * lam * np.eye(X.shape[1]), Xt.T @ yt)
        loop.append(np.mean((y[test] - X[test] @ w) ** 2))
    np.testing.assert_allclose(result.fold_errors, loop, rtol=1e-9)
    assert float(result.mean) == pytest.approx(np.mean(loop), rel=1e-9)
    assert float(result.variance) == pytest.approx(np.var(loop, ddof=1), rel=1e-9)
    # scikit-learn with the same folds; Ridge(alpha = 2 N_train λ) per fold
    for f, (train, test) in enumerate(folds):
        ref = -cross_val_score(
            Ridge(alpha=2 * len(train) * lam, fit_intercept=False), X, y,
            cv=[(train, test)], scoring="neg_mean_squared_error",
        )
        assert float(result.fold_errors[f]) == pytest.approx(ref[0], rel=1e-8)


def test_grid_search_equals_loop_over_grid(x64, key):
    X, y = _diabetes()
    lams = jnp.logspace(-6, 0, 7)
    grid = grid_search_cv(_ridge_fit, squared_error, X, y, lams, key=key, k=4)
    assert grid.fold_errors.shape == (7, 4)
    for i, lam in enumerate(lams):
        single = cross_validate(_ridge_fit, squared_error, X, y, lam, key=key, k=4)
        np.testing.assert_allclose(grid.fold_errors[i], single.fold_errors, rtol=1e-9)
    assert int(grid.best_index) == int(np.argmin(grid.mean))
    via_helper = ridge_cv(X, y, lams, key=key, k=4)  # its own one-factorization-per-fold path
    np.testing.assert_allclose(via_helper.fold_errors, grid.fold_errors, rtol=1e-10)
    np.testing.assert_allclose(via_helper.variance, grid.variance, rtol=1e-8)
    assert int(via_helper.best_index) == int(grid.best_index)
    # λ too large underfits: the CV error curve is not flat
    assert float(grid.mean[-1]) > 1.05 * float(grid.mean[grid.best_index])


@pytest.mark.parametrize("n", [200, 203])  # equal folds, then folds of 50 and 51 rows
def test_ridge_cv_equals_grid_search_cv_of_sklearn_ridge(n, x64, key):
    from sklearn.model_selection import GridSearchCV

    X, y = _diabetes(n)
    k = 4
    folds = kfold_indices(key, n, k)
    n_train = np.array([len(train) for train, _ in folds])
    lams = np.logspace(-5, 0, 6)
    result = ridge_cv(X, y, lams, key=key, k=k)
    assert result.fold_errors.shape == (6, k)
    # scikit-learn's alpha is 2 N_train λ: one alpha grid per fold when the folds differ in size
    for f, (train, test) in enumerate(folds):
        search = GridSearchCV(
            Ridge(fit_intercept=False), {"alpha": 2 * n_train[f] * lams}, cv=[(train, test)],
            scoring="neg_mean_squared_error",
        ).fit(X, y)
        np.testing.assert_allclose(result.fold_errors[:, f], -search.cv_results_["mean_test_score"], rtol=1e-9)
    assert int(result.best_index) == int(np.argmin(np.mean(result.fold_errors, axis=1)))


def test_ridge_cv_compiles_once_per_shape(x64, key, monkeypatch):
    body = chex.assert_max_traces(sp._ridge_cv.__wrapped__, n=1)
    monkeypatch.setattr(sp, "_ridge_cv", jax.jit(body, static_argnames="k"))
    X, y = _diabetes(100)
    ridge_cv(X, y, np.ones(3), key=key, k=5)
    again = ridge_cv(X[::-1].copy(), y[::-1].copy(), jnp.full(3, 0.5), key=jax.random.key(4), k=5)
    assert again.fold_errors.shape == (3, 5)


def _logistic_fit(X, y, s, C):
    # scikit-learn's C on a training fold of size Σs is λ = 1 / (C Σs)
    return fit_logistic_lbfgs(X, y, 1.0 / (C * jnp.sum(s)), sample_weight=s, tol=1e-9).w


def _misclassified(w, X, y):
    return ((X @ w > 0).astype(jnp.int32) != y).astype(X.dtype)


def test_logistic_grid_search_matches_sklearn_accuracy(x64, key):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X, y = X[:300], y[:300]
    Cs = jnp.array([1e-3, 1e-1, 10.0])
    grid = grid_search_cv(_logistic_fit, _misclassified, X, y, Cs, key=key, k=5)
    folds = kfold_indices(key, X.shape[0], 5)
    for i, C in enumerate(Cs):
        ref = cross_val_score(
            LogisticRegression(C=float(C), fit_intercept=False, tol=1e-10, max_iter=5000),
            X, y, cv=folds,
        )
        np.testing.assert_allclose(1 - np.asarray(grid.fold_errors[i]), ref, atol=1e-12)


def test_no_recompilation_on_second_call(x64, key, monkeypatch):
    # New λ (a Python float, then an array) and new folds reuse the compiled CV program.
    statics = {"_cross_validate": ("fit_fn", "error_fn"),
               "_grid_search_cv": ("fit_fn", "error_fn", "grid_batch_size", "warm_start")}
    for name, static in statics.items():
        body = chex.assert_max_traces(getattr(sp, name).__wrapped__, n=1)
        monkeypatch.setattr(sp, name, jax.jit(body, static_argnames=static))
    X, y = _diabetes(100)
    cross_validate(_ridge_fit, squared_error, X, y, 0.1, key=key, k=5)
    grid_search_cv(_ridge_fit, squared_error, X, y, jnp.ones(3), key=key, k=5)
    cv = cross_validate(_ridge_fit, squared_error, X, y, 0.5, key=jax.random.key(3), k=5)
    grid = grid_search_cv(_ridge_fit, squared_error, X, y, jnp.full(3, 0.5), key=jax.random.key(3), k=5)
    np.testing.assert_allclose(grid.mean, np.full(3, float(cv.mean)), rtol=1e-12)


def test_bad_input_raises(key):
    X, y = _diabetes(20)
    with pytest.raises(ValueError, match="k must be <= the number of samples"):
        cross_validate(_ridge_fit, squared_error, X, y, 0.1, key=key, k=21)
    with pytest.raises(ValueError, match="k must be >= 2"):
        kfold_masks(key, 20, 1)
    with pytest.raises(ValueError, match="key must be given"):
        cross_validate(_ridge_fit, squared_error, X, y, 0.1, k=5)
    with pytest.raises(ValueError, match="test_masks"):
        cross_validate(_ridge_fit, squared_error, X, y, 0.1, test_masks=np.full((3, 20), 0.5))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        cross_validate(_ridge_fit, squared_error, X, y[:-1], 0.1, key=key)
    with pytest.raises(ValueError, match="test_ratio"):
        train_test_split(key, X, y, test_ratio=1.5)
    with pytest.raises(ValueError, match="hypers"):
        grid_search_cv(_ridge_fit, squared_error, X, y, {"a": jnp.ones(3), "b": jnp.ones(2)}, key=key)
    with pytest.raises(ValueError, match="lams"):
        ridge_cv(X, y, jnp.array([-1.0, 1.0]), key=key)
    bad = X.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="X contains"):
        cross_validate(_ridge_fit, squared_error, bad, y, 0.1, key=key)


def test_grid_batch_size_gives_the_same_result(x64, key):
    X, y = _diabetes(80)
    lams = jnp.logspace(-4, 0, 5)
    full = grid_search_cv(_ridge_fit, squared_error, X, y, lams, key=key, k=4)
    mapped = grid_search_cv(_ridge_fit, squared_error, X, y, lams, key=key, k=4, grid_batch_size=2)
    np.testing.assert_allclose(mapped.fold_errors, full.fold_errors, rtol=1e-10)
    assert int(mapped.best_index) == int(full.best_index)


def _warm_logistic_fit(X, y, s, C, init):
    fit = fit_logistic_newton(X, y, 1.0 / (C * jnp.sum(s)), sample_weight=s, tol=1e-11, w_init=init)
    return fit.w


def _counting_fit(X, y, s, lam, init):
    # a learner whose answer depends on its start: the number of grid points visited so far
    count = jnp.zeros((), X.dtype) if init is None else init[1] + 1.0
    return weighted_ridge(X, y, s, lam), count


def _count_error(params, X, y):
    return jnp.full(X.shape[0], params[1])


def test_warm_start_path_equals_cold_grid_and_passes_the_previous_solution(x64, key):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X, y = X[:240], y[:240]
    Cs = jnp.logspace(-3, 1, 6)
    warm = grid_search_cv(_warm_logistic_fit, _misclassified, X, y, Cs, key=key, k=4, warm_start=True)
    cold = grid_search_cv(
        lambda X, y, s, C: _warm_logistic_fit(X, y, s, C, None), _misclassified, X, y, Cs, key=key, k=4,
    )
    np.testing.assert_array_equal(warm.fold_errors, cold.fold_errors)
    # the k-th grid point sees the (k−1)-th point's parameters of the same fold
    path = grid_search_cv(_counting_fit, _count_error, X, y, jnp.ones(5), key=key, k=3, warm_start=True)
    np.testing.assert_array_equal(path.fold_errors, np.repeat(np.arange(5.0)[:, None], 3, axis=1))
    with pytest.raises(ValueError, match="warm_start"):
        grid_search_cv(_counting_fit, _count_error, X, y, jnp.ones(5), key=key, warm_start=True, grid_batch_size=2)
