"""jaxml.kernels.linear_svc: liblinear's solvers (TRON, dual coordinate descent, L1 coordinate
descent) against liblinear itself on the same problems."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from jaxml.kernels import (
    active_first_order,
    fit_linear_svc,
    hinge_objective,
    l1_squared_hinge_objective,
    liblinear_primal_tol,
    squared_hinge_objective,
)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), np.where(y == 1, 1.0, -1.0)


def _solve(X, y, c, solver, tol=1e-10, max_iter=100_000):
    with jax.enable_x64(True):
        sol = fit_linear_svc(jax.random.key(0), X, y[None], c[None], np.ones(len(y)), tol, max_iter, 1.0,
                             solver=solver, fit_intercept=False)
        return jax.device_get(sol)


# (solver, liblinear's LinearSVC arguments, objective)
CASES = [
    ("tron", dict(loss="squared_hinge", dual=False), squared_hinge_objective),
    ("dual_squared_hinge", dict(loss="squared_hinge", dual=True), squared_hinge_objective),
    ("dual_hinge", dict(loss="hinge", dual=True), hinge_objective),
    ("l1_squared_hinge", dict(loss="squared_hinge", penalty="l1", dual=False), l1_squared_hinge_objective),
]


@pytest.mark.parametrize("solver, kwargs, objective", CASES, ids=[c[0] for c in CASES])
def test_solvers_match_liblinear(cancer, solver, kwargs, objective):
    X, y = cancer
    C = 0.3
    sol = _solve(X, y, np.full(len(y), C), solver)
    assert bool(sol.converged[0])
    ref = LinearSVC(C=C, fit_intercept=False, tol=1e-10, max_iter=100_000, random_state=0, **kwargs).fit(X, y)
    w, w_ref = sol.w[0], ref.coef_[0]
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=1e-6 * np.abs(w_ref).max())
    with jax.enable_x64(True):
        c = jnp.full(len(y), C)
        ours, theirs = float(objective(w, X, y, c)), float(objective(w_ref, X, y, c))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_objectives_by_hand():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0])
    c = np.array([0.5, 2.0, 1.0])
    w = np.array([0.4, -0.25])
    margins = y * (X @ w)  # 0.4, 0.5, 0.15 → slacks 0.6, 0.5, 0.85
    slack = 1 - margins
    with jax.enable_x64(True):
        np.testing.assert_allclose(squared_hinge_objective(w, X, y, c), 0.5 * w @ w + np.sum(c * slack**2))
        np.testing.assert_allclose(hinge_objective(w, X, y, c), 0.5 * w @ w + np.sum(c * slack))
        np.testing.assert_allclose(l1_squared_hinge_objective(w, X, y, c), 0.65 + np.sum(c * slack**2))


def test_primal_tolerance_counts_kept_samples():
    y = np.array([1.0, 1.0, -1.0, -1.0, -1.0, 1.0])
    c = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # the last sample is dropped: 2 positive of 5
    np.testing.assert_allclose(liblinear_primal_tol(y, c, 0.1), 0.1 * 2 / 5)
    # Weighted counts: a weight 3 counts as three samples (3 + 1 positive, 3 negative, of 7).
    np.testing.assert_allclose(liblinear_primal_tol(y, c, 0.1, np.array([3.0, 1, 1, 1, 1, 1])), 0.1 * 3 / 7)


def test_active_first_order_is_a_permutation_with_active_first():
    active = jnp.asarray(np.random.default_rng(0).random(1000) < 0.3)
    order = np.asarray(active_first_order(jax.random.key(1), active))
    np.testing.assert_array_equal(np.sort(order), np.arange(1000))
    m = int(active.sum())
    assert np.all(np.asarray(active)[order[:m]]) and not np.any(np.asarray(active)[order[m:]])
    assert not np.all(np.diff(order[:m]) > 0)  # shuffled, not sorted


def test_budget_exhausted_is_reported(cancer):
    X, y = cancer
    sol = _solve(X, y, np.full(len(y), 0.3), "dual_hinge", max_iter=2)
    assert int(sol.num_iter[0]) == 2 and not bool(sol.converged[0])


def test_zero_cost_samples_are_left_out(cancer):
    """c_n = 0 removes sample n (liblinear drops zero-weight samples): same w as without it."""
    X, y = cancer
    keep = np.arange(len(y)) % 3 != 0
    c = np.where(keep, 0.3, 0.0)
    for solver in ("tron", "dual_hinge"):
        full = _solve(X, y, c, solver)
        # Zero-cost rows replaced by copies of kept rows (same shapes, one compiled program).
        X2, y2 = X.copy(), y.copy()
        X2[~keep], y2[~keep] = X[1], y[1]
        other = _solve(X2, y2, c, solver)
        np.testing.assert_allclose(full.w[0], other.w[0], atol=1e-7)


def test_tron_hand_gradient_and_hessian_product_equal_autodiff():
    """TRON's hand ∇P₂ and its generalized Hessian product v + 2Xᵀ(c_I ⊙ Xv) equal autodiff in
    float64 at a point where no margin sits on the kink z = 1."""
    from jaxml.kernels.linear_svc import _sq_hinge_grad, _sq_hinge_value

    with jax.enable_x64(True):
        kx, kw, kv, ky = jax.random.split(jax.random.key(3), 4)
        X = jax.random.normal(kx, (40, 6), jnp.float64)
        y = jnp.where(jax.random.bernoulli(ky, 0.5, (40,)), 1.0, -1.0)
        c = jnp.linspace(0.5, 2.0, 40)
        w, v = 0.3 * jax.random.normal(kw, (6,), jnp.float64), jax.random.normal(kv, (6,), jnp.float64)
        value, z = _sq_hinge_value(w, X, y, c)
        assert float(jnp.min(jnp.abs(z - 1.0))) > 1e-3 and 0 < int(jnp.sum(z < 1)) < 40
        grad, c_active = _sq_hinge_grad(w, X.T, y, c, z)
        np.testing.assert_allclose(value, squared_hinge_objective(w, X, y, c), rtol=1e-14)
        np.testing.assert_allclose(grad, jax.grad(squared_hinge_objective)(w, X, y, c), rtol=1e-10, atol=1e-12)
        hv = v + 2.0 * (X.T @ (c_active * (X @ v)))
        auto_hv = jax.jvp(lambda u: jax.grad(squared_hinge_objective)(u, X, y, c), (w,), (v,))[1]
        np.testing.assert_allclose(hv, auto_hv, rtol=1e-10, atol=1e-12)
