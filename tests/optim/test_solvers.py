"""newton_minimize and lbfgs_minimize: known optima (quadratic, Rosenbrock), traced tolerances,
vmap, and the logistic-regression solutions they underlie."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from jaxml.linear import fit_logistic_lbfgs, fit_logistic_newton, logistic_loss
from jaxml.optim import inf_norm, lbfgs_minimize, newton_minimize


def _quadratic(dtype):
    """f(x) = ½xᵀAx − bᵀx with A SPD (κ = 100): x* = A⁻¹b."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    A = Q @ np.diag(np.logspace(0, 2, 6)) @ Q.T
    b = rng.standard_normal(6)
    x_star = np.linalg.solve(A, b)
    A, b = jnp.asarray(A, dtype), jnp.asarray(b, dtype)
    return (lambda x: 0.5 * x @ A @ x - b @ x), x_star


def rosenbrock(x):
    """f(x) = Σ_i 100(x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at x = (1, …, 1)."""
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _minimize(solver, f, x0, tol, max_iter):
    if solver is newton_minimize:
        return newton_minimize(f, x0, tol=tol, max_iter=max_iter)
    return lbfgs_minimize(f, x0, tol=tol, max_iter=max_iter)


@pytest.mark.parametrize("solver", [newton_minimize, lbfgs_minimize])
def test_quadratic_optimum_float64(x64, solver):
    f, x_star = _quadratic(jnp.float64)
    res = _minimize(solver, f, jnp.zeros(6), 1e-10, 200)
    np.testing.assert_allclose(res.params, x_star, rtol=1e-8, atol=1e-10)
    assert float(res.grad_norm) <= 1e-10
    assert float(res.value) == pytest.approx(float(f(jnp.asarray(x_star))), rel=1e-12)
    if solver is newton_minimize:
        assert int(res.num_iter) == 1  # one full Newton step solves a quadratic exactly


@pytest.mark.parametrize("solver", [newton_minimize, lbfgs_minimize])
def test_quadratic_optimum_float32(solver):
    f, x_star = _quadratic(jnp.float32)
    res = _minimize(solver, f, jnp.zeros(6, jnp.float32), 1e-4, 200)
    assert res.params.dtype == jnp.float32
    np.testing.assert_allclose(res.params, x_star, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("solver", [newton_minimize, lbfgs_minimize])
def test_rosenbrock_reaches_the_minimum(x64, solver):
    x0 = jnp.array([-1.2, 1.0, -0.5, 0.8])
    res = _minimize(solver, rosenbrock, x0, 1e-9, 500)
    np.testing.assert_allclose(res.params, np.ones(4), atol=1e-7)
    assert float(res.value) < 1e-14
    assert float(res.grad_norm) <= 1e-9
    assert 5 < int(res.num_iter) < 500  # curved valley: several damped steps, then converged


def test_newton_falls_back_to_gradient_where_the_hessian_is_indefinite(x64):
    # f = x₀⁴/4 − x₀²/2 + x₁²: at x₀ = 0.1 the Hessian's first entry is 3x₀² − 1 < 0
    f = lambda x: 0.25 * x[0] ** 4 - 0.5 * x[0] ** 2 + x[1] ** 2
    res = newton_minimize(f, jnp.array([0.1, 1.0]), tol=1e-12, max_iter=100)
    np.testing.assert_allclose(res.params, [1.0, 0.0], atol=1e-10)
    assert np.all(np.isfinite(np.asarray(res.params)))


def test_max_iter_and_a_traced_tolerance_without_retracing(x64):
    f, _ = _quadratic(jnp.float64)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def run(tol, max_iter):
        newton = newton_minimize(rosenbrock, jnp.array([-1.2, 1.0]), tol=tol, max_iter=max_iter)
        lbfgs = lbfgs_minimize(f, jnp.zeros(6), tol=tol, max_iter=max_iter)
        return newton, lbfgs

    loose = run(1e-2, 100)
    tight = run(1e-10, 100)  # another tolerance: the same program
    capped = run(1e-10, 3)
    assert int(tight[0].num_iter) > int(loose[0].num_iter)
    assert int(tight[1].num_iter) > int(loose[1].num_iter)
    assert float(loose[0].grad_norm) <= 1e-2 and float(tight[0].grad_norm) <= 1e-10
    assert int(capped[0].num_iter) == 3 and int(capped[1].num_iter) == 3


def test_lbfgs_takes_a_pytree(x64):
    f, x_star = _quadratic(jnp.float64)
    res = lbfgs_minimize(lambda p: f(jnp.concatenate([p["a"], p["b"]])),
                         {"a": jnp.zeros(2), "b": jnp.zeros(4)}, tol=1e-10, max_iter=200)
    np.testing.assert_allclose(jnp.concatenate([res.params["a"], res.params["b"]]), x_star, rtol=1e-8)
    assert float(inf_norm({"a": jnp.array([1.0, -3.0]), "b": jnp.array([2.0])})) == 3.0


def test_vmap_over_a_parameter_of_the_objective_equals_a_loop(x64):
    shifts = jnp.array([0.5, 1.0, 2.0])

    def solve(c):
        f = lambda x: jnp.sum((x - c) ** 4) + jnp.sum((x - c) ** 2)
        return newton_minimize(f, jnp.zeros(3), tol=1e-12, max_iter=50).params

    batched = jax.vmap(solve)(shifts)
    for i, c in enumerate(shifts):
        np.testing.assert_allclose(batched[i], solve(c), rtol=1e-12)
        np.testing.assert_allclose(batched[i], np.full(3, float(c)), rtol=1e-10)


def test_bad_x0_raises():
    with pytest.raises(ValueError, match="x0 must be a flat"):
        newton_minimize(lambda x: jnp.sum(x**2), jnp.zeros((2, 2)), tol=1e-6, max_iter=5)


def test_logistic_objective_through_the_solvers_equals_the_logistic_fits(x64):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X[:200] - X[:200].mean(0)) / X[:200].std(0)
    y = y[:200]
    lam = 0.01
    f = lambda w: logistic_loss(w, X, y, lam)
    w0 = jnp.zeros(X.shape[1])
    newton = newton_minimize(f, w0, tol=1e-10, max_iter=50)  # autodiff Hessian
    lbfgs = lbfgs_minimize(f, w0, tol=1e-9, max_iter=1000)
    ref = LogisticRegression(C=1 / (len(y) * lam), fit_intercept=False, tol=1e-12, max_iter=10000).fit(X, y)
    hand = fit_logistic_newton(X, y, lam, tol=1e-10)
    np.testing.assert_allclose(newton.params, hand.w, rtol=1e-9, atol=1e-12)
    assert int(newton.num_iter) == int(hand.num_iter)
    np.testing.assert_allclose(lbfgs.params, fit_logistic_lbfgs(X, y, lam, tol=1e-9, max_iter=1000).w, rtol=1e-9)
    np.testing.assert_allclose(newton.params, ref.coef_[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lbfgs.params, ref.coef_[0], rtol=1e-5, atol=1e-6)


def test_optim_imports_no_model_family():
    # Layering: the optimizers are written once for every family and depend on none of them.
    import subprocess
    import sys

    code = ("import sys, jaxml.optim; families = ('linear', 'kernels', 'fairness', 'selection', "
            "'unsupervised', 'sklearn'); print(sorted(m for m in sys.modules "
            "if m.split('.')[:2][-1] in families and m.startswith('jaxml.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
