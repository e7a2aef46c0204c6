"""Grid search vs a numpy loop; subgradient descent vs scikit-learn's exact LAD and lasso."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.linear_model import Lasso, QuantileRegressor

from jaxml.core.gradcheck import REGISTRY, compare_gradients
from jaxml.linear import l1_least_squares_value_and_subgradient, mae_value_and_subgradient
from jaxml.optim import (
    grid_search,
    inverse_sqrt_decay,
    inverse_time_decay,
    l1_subgradient,
    subgradient_descent,
)

# ----------------------------------------------------------------- grid search

TRACES = {"n": 0}


def least_squares(w, X, y):
    TRACES["n"] += 1
    return 0.5 * jnp.mean((y - X @ w) ** 2)


def regression_data(n=40, d=3, seed=0, noise="gaussian"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    eps = rng.laplace(size=n) if noise == "laplace" else 0.1 * rng.normal(size=n)
    return X, X @ w + eps, w


def test_grid_search_equals_numpy_loop():
    X, y, _ = regression_data()
    grids = [np.linspace(-2, 2, 9), np.linspace(-1.5, 1.5, 7), np.linspace(-3, 3, 5)]
    res = grid_search(
        least_squares, grids, jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)
    )
    table = np.empty((9, 7, 5))
    for idx in itertools.product(*(range(len(g)) for g in grids)):
        w = np.array([g[i] for g, i in zip(grids, idx, strict=True)])
        table[idx] = 0.5 * np.mean((y - X @ w) ** 2)
    np.testing.assert_allclose(res.table, table, rtol=1e-5)
    best = np.unravel_index(np.argmin(table), table.shape)
    np.testing.assert_allclose(
        res.params, [g[i] for g, i in zip(grids, best, strict=True)], rtol=1e-6
    )
    np.testing.assert_allclose(res.value, table.min(), rtol=1e-5)


def test_grid_search_chunked_equals_vmapped_and_does_not_recompile(x64):
    X, y, _ = regression_data(seed=1)
    grids = [jnp.linspace(-2, 2, 11), jnp.linspace(-2, 2, 13), jnp.linspace(-2, 2, 3)]
    full = grid_search(least_squares, grids, X, y)
    chunked = grid_search(least_squares, grids, X, y, batch_size=50)
    np.testing.assert_allclose(chunked.table, full.table, rtol=1e-12)
    traces = TRACES["n"]
    again = grid_search(least_squares, grids, X + 1.0, y)  # new data, same shapes
    assert TRACES["n"] == traces
    assert not np.allclose(again.table, full.table)


def test_grid_search_ignores_nan():
    def log_barrier(w):
        return jnp.log(w[0]) ** 2 + (w[1] - 0.5) ** 2  # NaN for w0 < 0

    res = grid_search(log_barrier, [jnp.linspace(-2.0, 2.0, 5), jnp.linspace(0.0, 1.0, 3)])
    np.testing.assert_allclose(res.params, [1.0, 0.5])
    assert np.isnan(res.table[0, 0])


@pytest.mark.parametrize(
    "grids,match",
    [
        ([], "grids"),
        ([jnp.linspace(0, 1, 3), jnp.ones((2, 2))], r"grids\[1\]"),
        ([jnp.array([0.0, jnp.nan])], r"grids\[0\]"),
        ([jnp.zeros((0,))], r"grids\[0\]"),
    ],
)
def test_grid_search_bad_grids(grids, match):
    with pytest.raises(ValueError, match=match):
        grid_search(lambda w: jnp.sum(w**2), grids)


def test_grid_search_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        grid_search(lambda w: jnp.sum(w**2), [jnp.linspace(0, 1, 3)], batch_size=0)


# ----------------------------------------------------------------- subgradients


def test_l1_subgradient_is_sign_with_zero_at_zero():
    w = jnp.array([-2.0, 0.0, 3.0, -0.0])
    np.testing.assert_array_equal(l1_subgradient(w), [-1.0, 0.0, 1.0, 0.0])


def test_subgradients_equal_numpy_formulas(x64):
    X, y, _ = regression_data(n=30, d=4, seed=2)
    w = np.array([0.3, -0.2, 0.0, 1.0])
    value, g = mae_value_and_subgradient(jnp.asarray(w), jnp.asarray(X), jnp.asarray(y))
    e = y - X @ w
    np.testing.assert_allclose(value, np.mean(np.abs(e)), rtol=1e-12)
    np.testing.assert_allclose(g, -X.T @ np.sign(e) / 30, rtol=1e-12)
    value, g = l1_least_squares_value_and_subgradient(
        jnp.asarray(w), jnp.asarray(X), jnp.asarray(y), 0.2
    )
    np.testing.assert_allclose(value, 0.5 * np.mean(e**2) + 0.2 * np.abs(w).sum(), rtol=1e-12)
    np.testing.assert_allclose(g, -X.T @ e / 30 + 0.2 * np.sign(w), rtol=1e-12)
    assert g[2] == pytest.approx(float(-X[:, 2] @ e / 30), rel=1e-12)  # 0 chosen at w_2 = 0


@pytest.mark.parametrize("name", ["linear.mae", "linear.l1_least_squares_subgradient"])
def test_registered_subgradients_match_autodiff_away_from_kinks(name, key, x64):
    row = compare_gradients(REGISTRY[name], key)
    assert row.err64 <= 1e-10 and row.fd64 <= 1e-6 and row.ok, row
    args = REGISTRY[name].make_args(key, jnp.float64)
    check_grads(lambda w: REGISTRY[name].loss(w, *args[1:]), (args[0],), order=1, modes=["rev"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_subgradient_descent_mae_reaches_exact_lad_optimum(dtype):
    X, y, _ = regression_data(n=200, d=5, noise="laplace")
    exact = QuantileRegressor(quantile=0.5, alpha=0, fit_intercept=False, solver="highs").fit(X, y)
    mae_star = np.mean(np.abs(y - X @ exact.coef_))
    with jax.enable_x64(dtype == "float64"):
        res = subgradient_descent(
            mae_value_and_subgradient,
            jnp.zeros(5, dtype),
            jnp.asarray(X, dtype),
            jnp.asarray(y, dtype),
            learning_rate_schedule=inverse_sqrt_decay(0.5),
            num_steps=3000,
        )
        assert res.params.dtype == jnp.dtype(dtype)
    mae = np.mean(np.abs(y - X @ np.asarray(res.params, np.float64)))
    assert (mae - mae_star) / mae_star < 1e-5
    np.testing.assert_allclose(res.params, exact.coef_, atol=2e-2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_subgradient_descent_lasso_reaches_sklearn_objective(dtype):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 6))
    y = X @ np.array([1.5, -2.0, 0.0, 0.0, 0.5, 0.0]) + 0.3 * rng.normal(size=150)
    lam = 0.2
    ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y).coef_
    objective = lambda w: 0.5 * np.mean((y - X @ w) ** 2) + lam * np.abs(w).sum()
    with jax.enable_x64(dtype == "float64"):
        res = subgradient_descent(
            l1_least_squares_value_and_subgradient,
            jnp.zeros(6, dtype),
            jnp.asarray(X, dtype),
            jnp.asarray(y, dtype),
            jnp.asarray(lam, dtype),
            learning_rate_schedule=inverse_time_decay(0.5, 10.0),
            num_steps=3000,
        )
    w = np.asarray(res.params, np.float64)
    # the zero coordinates oscillate at |w_j| ~ γ_t λ: a small but non-zero gap remains
    assert (objective(w) - objective(ref)) / objective(ref) < 5e-5
    np.testing.assert_allclose(w, ref, atol=1e-3)
    assert np.sum(ref == 0) >= 2  # the reference is sparse; the iterates hover near its zeros
    np.testing.assert_array_less(np.abs(w[ref == 0]), 1e-3)


def test_subgradient_descent_keeps_best_iterate_of_a_non_monotone_run(x64):
    X, y, _ = regression_data(n=100, d=3, noise="laplace", seed=4)
    res = subgradient_descent(
        mae_value_and_subgradient, jnp.zeros(3), X, y, learning_rate_schedule=0.05, num_steps=400
    )
    losses = np.asarray(res.losses)
    assert np.any(np.diff(losses) > 0)  # not a descent method
    np.testing.assert_array_equal(res.best_losses, np.minimum.accumulate(losses))
    last_value = float(mae_value_and_subgradient(res.last_params, X, y)[0])
    assert float(res.value) == pytest.approx(min(losses.min(), last_value), rel=1e-14)
    assert float(mae_value_and_subgradient(res.params, X, y)[0]) == pytest.approx(
        float(res.value), rel=1e-14
    )


MAE_TRACES = {"n": 0}


def counted_mae(w, X, y):
    MAE_TRACES["n"] += 1
    return mae_value_and_subgradient(w, X, y)


def test_subgradient_descent_vmap_over_step_equals_loop_and_no_retrace(x64):
    X, y, _ = regression_data(n=60, d=3, noise="laplace", seed=5)
    steps = jnp.array([0.01, 0.05, 0.2])
    run = lambda lr: (
        subgradient_descent(
            counted_mae, jnp.zeros(3), X, y, learning_rate_schedule=lr, num_steps=100
        ).value
    )
    swept = jax.vmap(run)(steps)
    for i, lr in enumerate(steps):
        np.testing.assert_allclose(swept[i], run(float(lr)), rtol=1e-12)
    traces = MAE_TRACES["n"]
    run(0.3)  # a new float step size is a traced argument: no new trace
    assert MAE_TRACES["n"] == traces


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"w0": jnp.array([jnp.nan, 0.0, 0.0])}, "w0"),
        ({"num_steps": 0}, "num_steps"),
        ({"learning_rate_schedule": -0.1}, "learning_rate_schedule"),
    ],
)
def test_subgradient_descent_bad_input(kwargs, match):
    X, y, _ = regression_data(n=20, d=3)
    args = {"w0": jnp.zeros(3), "num_steps": 10, "learning_rate_schedule": 0.1, **kwargs}
    w0 = args.pop("w0")
    with pytest.raises(ValueError, match=match):
        subgradient_descent(mae_value_and_subgradient, w0, X, y, **args)
