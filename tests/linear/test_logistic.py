"""Logistic regression: stable loss, hand gradient/Hessian, solvers vs scikit-learn."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression

from jaxml.core.gradcheck import REGISTRY, compare_gradients
from jaxml.linear import (
    fit_logistic_gd,
    fit_logistic_lbfgs,
    fit_logistic_newton,
    fit_softmax_lbfgs,
    fit_softmax_newton,
    logistic_grad,
    logistic_hessian,
    logistic_loss,
    logistic_newton_path,
    logistic_predict,
    logistic_predict_proba,
    sigmoid,
    softmax_grad,
    softmax_loss,
    softmax_predict_proba,
)
from jaxml.linear import logistic as lg


def _breast_cancer(n=200):
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X[:n], y[:n]


def _iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


def _problem(key, n=40, d=5, dtype=jnp.float64):
    kx, ky, kw = jax.random.split(key, 3)
    X = jax.random.normal(kx, (n, d), dtype)
    y = (jax.random.uniform(ky, (n,)) < 0.5).astype(jnp.int32).at[:2].set(jnp.array([0, 1], jnp.int32))
    w = jax.random.normal(kw, (d,), dtype)
    return w, X, y


def test_sigmoid_and_loss_are_stable_at_large_margins(x64):
    assert float(sigmoid(jnp.array(-1e4))) == 0.0 and float(sigmoid(jnp.array(1e4))) == 1.0
    X = jnp.array([[1.0], [1.0], [-1.0], [-1.0]])
    y = jnp.array([1, 0, 1, 0])
    # per-sample losses: log(1+e^{1e4}) − 1e4 = 0, 1e4, log(1+e^{−1e4}) + 1e4 = 1e4, 0
    loss = logistic_loss(jnp.array([1e4]), X, y, 0.0)
    assert float(loss) == pytest.approx(2e4 / 4, rel=1e-15)
    grad = logistic_grad(jnp.array([1e4]), X, y, 0.0)
    np.testing.assert_allclose(grad, [(0.0 + 1.0 - 1.0 * 0 + 1.0) / 4 * 1.0], rtol=1e-15)


def test_logistic_nll_matches_numpy_and_is_exact_at_large_logits(x64):
    z = np.array([-1e4, -3.0, 0.0, 2.5, 1e4])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    per_sample = np.logaddexp(0.0, z) - y * z  # 1e4, log(1+e^-3), log 2, log(1+e^-2.5), 1e4
    assert float(lg.logistic_nll(jnp.asarray(z), jnp.asarray(y))) == pytest.approx(per_sample.mean(), rel=1e-15)
    v = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    assert float(lg.logistic_nll(jnp.asarray(z), jnp.asarray(y), jnp.asarray(v))) == pytest.approx(
        v @ per_sample, rel=1e-15)


def test_loss_matches_direct_formula(x64, key):
    w, X, y = _problem(key)
    z = np.asarray(X) @ np.asarray(w)
    direct = np.mean(np.log1p(np.exp(z)) - np.asarray(y) * z) + 0.5 * 0.3 * np.sum(np.asarray(w) ** 2)
    assert float(logistic_loss(w, X, y, 0.3)) == pytest.approx(direct, rel=1e-13)


@pytest.mark.parametrize("weighted", [False, True])
def test_hand_gradient_and_hessian_equal_autodiff(x64, key, weighted):
    w, X, y = _problem(key)
    s = jax.random.uniform(jax.random.fold_in(key, 1), (X.shape[0],)) if weighted else None
    lam = 0.2
    auto_grad = jax.grad(logistic_loss)(w, X, y, lam, s)
    np.testing.assert_allclose(logistic_grad(w, X, y, lam, s), auto_grad, rtol=1e-10, atol=1e-14)
    hand_hess = logistic_hessian(w, X, y, lam, s)
    np.testing.assert_allclose(hand_hess, jax.jacfwd(logistic_grad)(w, X, y, lam, s), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(hand_hess, jax.hessian(logistic_loss)(w, X, y, lam, s), rtol=1e-10, atol=1e-14)
    check_grads(lambda w: logistic_loss(w, X, y, lam, s), (w,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("n", [2 * lg._ROW_BLOCK, 2 * lg._ROW_BLOCK + 37])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_blocked_newton_terms_equal_autodiff_across_row_blocks(x64, key, n, fit_intercept):
    # full row blocks in the fori_loop, with and without a partial last block
    kx, ky, kv, kt = jax.random.split(key, 4)
    d = 4
    X = jax.random.normal(kx, (n, d), jnp.float64)
    y = jax.random.bernoulli(ky, 0.4, (n,)).astype(jnp.float64)
    v = jax.random.uniform(kv, (n,), jnp.float64)
    v = v / jnp.sum(v)
    theta = jax.random.normal(kt, (d + int(fit_intercept),), jnp.float64)

    def objective(theta):
        z = X @ theta[:d] + (theta[d] if fit_intercept else 0.0)
        return v @ (jax.nn.softplus(z) - y * z) + 0.5 * 0.1 * theta[:d] @ theta[:d]

    value, grad, hess = jax.jit(lg._binary_value_grad_hess, static_argnums=5)(theta, X, y, v, 0.1, fit_intercept)
    assert float(value) == pytest.approx(float(objective(theta)), rel=1e-12)
    np.testing.assert_allclose(grad, jax.grad(objective)(theta), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(hess, jax.hessian(objective)(theta), rtol=1e-10, atol=1e-14)


def test_sum_over_row_blocks_covers_every_row_once():
    rows = np.arange(23.0)
    for n, block in [(23, 5), (20, 5), (3, 5), (23, 23)]:
        total = lg._sum_over_row_blocks(
            lambda start, size: jnp.sum(jax.lax.dynamic_slice_in_dim(jnp.asarray(rows[:n]), start, size)), n, block
        )
        assert float(total) == rows[:n].sum()


def test_softmax_gradient_equals_autodiff(x64, key):
    kx, ky, kw = jax.random.split(key, 3)
    X = jax.random.normal(kx, (30, 4), jnp.float64)
    y = jax.random.randint(ky, (30,), 0, 3).at[:3].set(jnp.arange(3))
    W = jax.random.normal(kw, (4, 3), jnp.float64)
    np.testing.assert_allclose(
        softmax_grad(W, X, y, 0.1), jax.grad(softmax_loss)(W, X, y, 0.1), rtol=1e-10, atol=1e-14
    )
    check_grads(lambda W: softmax_loss(W, X, y, 0.1), (W,), order=2, modes=("rev",))
    # two classes with W = [0, w]: softmax is the sigmoid model
    w = W[:, 1]
    W2 = jnp.stack([jnp.zeros_like(w), w], axis=1)
    yb = (y > 0).astype(jnp.int32)
    assert float(softmax_loss(W2, X, yb, 0.0)) == pytest.approx(float(logistic_loss(w, X, yb, 0.0)), rel=1e-13)
    np.testing.assert_allclose(softmax_predict_proba(W2, X)[:, 1], logistic_predict_proba(w, X), rtol=1e-13)


@pytest.mark.parametrize("name", ["linear.logistic_loss", "linear.logistic_hessian", "linear.softmax_loss"])
def test_registered_gradients(x64, key, name):
    row = compare_gradients(REGISTRY[name], key)
    assert row.ok, row


@pytest.mark.parametrize("solver", [fit_logistic_newton, fit_logistic_lbfgs])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_binary_solvers_match_sklearn(x64, solver, fit_intercept):
    X, y = _breast_cancer()
    n, lam = X.shape[0], 0.01
    ref = LogisticRegression(C=1 / (n * lam), fit_intercept=fit_intercept, tol=1e-12, max_iter=10000)
    ref.fit(X, y)
    fit = solver(X, y, lam, tol=1e-10, fit_intercept=fit_intercept)
    np.testing.assert_allclose(fit.w, ref.coef_[0], rtol=1e-5, atol=1e-5 * np.abs(ref.coef_).max())
    if fit_intercept:
        assert float(fit.b) == pytest.approx(ref.intercept_[0], rel=1e-5)
    assert float(fit.grad_norm) <= 1e-10
    ref_obj = logistic_loss(jnp.asarray(ref.coef_[0]), X + 0.0, y, lam) if not fit_intercept else None
    if ref_obj is not None:
        assert float(fit.objective) <= float(ref_obj) + 1e-12
    np.testing.assert_array_equal(logistic_predict(fit.w, X, fit.b), ref.predict(X))


@pytest.mark.parametrize("solver", [fit_softmax_newton, fit_softmax_lbfgs])
def test_softmax_solvers_match_sklearn(x64, solver):
    X, y = _iris()
    n, lam = X.shape[0], 0.01
    ref = LogisticRegression(C=1 / (n * lam), tol=1e-12, max_iter=10000).fit(X, y)
    fit = solver(X, y, lam, tol=1e-10, fit_intercept=True)
    np.testing.assert_allclose(fit.w.T, ref.coef_, rtol=1e-5, atol=1e-5 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(softmax_predict_proba(fit.w, X, fit.b), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("solver", [fit_logistic_newton, fit_logistic_lbfgs])
def test_warm_start_at_the_optimum_needs_no_iteration(x64, solver):
    X, y = _breast_cancer()
    cold = solver(X, y, 0.01, tol=1e-9, fit_intercept=True)
    warm = solver(X, y, 0.01, tol=1e-9, fit_intercept=True, w_init=cold.w, b_init=cold.b)
    assert int(cold.num_iter) > 3 and int(warm.num_iter) <= 1
    np.testing.assert_allclose(warm.w, cold.w, rtol=1e-7, atol=1e-9)
    near = solver(X, y, 0.012, tol=1e-9, fit_intercept=True, w_init=cold.w, b_init=cold.b)
    far = solver(X, y, 0.012, tol=1e-9, fit_intercept=True)
    assert int(near.num_iter) < int(far.num_iter)
    np.testing.assert_allclose(near.w, far.w, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="w_init must have shape"):
        solver(X, y, 0.01, w_init=np.zeros(3))
    with pytest.raises(ValueError, match="b_init must be a scalar"):
        solver(X, y, 0.01, b_init=np.zeros(2))


def test_newton_converges_quadratically(x64):
    X, y = _breast_cancer()
    _, values, gnorms = logistic_newton_path(X, y, 0.01, num_steps=10)
    g = np.asarray(gnorms)
    assert g[-1] < 1e-12
    # quadratic convergence: once small, the gradient norm roughly squares at each step
    k = int(np.argmax(g < 1e-3))
    assert g[k + 1] < 10 * g[k] ** 1.5
    assert np.all(np.diff(np.asarray(values)) <= 1e-15)


def test_gradient_descent_decreases_to_the_optimum(x64, key):
    X, y = _breast_cancer()
    lam = 0.05
    smooth = np.linalg.eigvalsh(X.T @ X / X.shape[0]).max() / 4 + lam
    result = fit_logistic_gd(X, y, lam, learning_rate=1.0 / smooth, num_steps=3000, key=key)
    losses = result.history["loss"]
    assert np.all(np.diff(losses) <= 1e-15)  # monotone for γ = 1/L
    optimum = fit_logistic_newton(X, y, lam, tol=1e-12)
    assert losses[-1] - float(optimum.objective) < 1e-9
    np.testing.assert_allclose(result.state.params, optimum.w, atol=1e-4)


def _numpy_gd(X, y, lam, lr, steps):
    """w ← w − γ[(1/N)Xᵀ(σ(Xw) − y) + λw] from w = 0, in numpy."""
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        w = w - lr * (X.T @ (1 / (1 + np.exp(-X @ w)) - y) / len(y) + lam * w)
    return w


def test_gradient_descent_reuses_one_program_for_every_lambda_and_learning_rate(x64, key, monkeypatch):
    # λ and γ are fit's traced hparams (γ written into the module's one inject_hyperparams SGD):
    # the loss is traced once for both calls, and each run equals plain numpy GD.
    monkeypatch.setattr(lg, "_gd_objective", chex.assert_max_traces(lg._gd_objective, n=1))
    X, y = _breast_cancer(100)
    for lam, lr in ((0.1, 0.5), (0.01, 0.2)):
        result = fit_logistic_gd(X, y, lam, learning_rate=lr, num_steps=20, key=key)
        np.testing.assert_allclose(result.state.params, _numpy_gd(X, y, lam, lr, 20), rtol=1e-12, atol=1e-14)
        w1 = _numpy_gd(X, y, lam, lr, 1)
        assert result.history["loss"][1] == pytest.approx(float(logistic_loss(w1, X, y, lam)), rel=1e-12)


def test_sample_weights_equal_repetition(x64):
    X, y = _breast_cancer(80)
    counts = np.arange(X.shape[0]) % 3  # 0, 1 or 2 copies
    repeated = fit_logistic_newton(np.repeat(X, counts, 0), np.repeat(y, counts), 0.02, tol=1e-12)
    weighted = fit_logistic_newton(X, y, 0.02, sample_weight=counts.astype(float), tol=1e-12)
    np.testing.assert_allclose(weighted.w, repeated.w, rtol=1e-9)
    weighted_lbfgs = fit_logistic_lbfgs(X, y, 0.02, sample_weight=counts.astype(float), tol=1e-10)
    np.testing.assert_allclose(weighted_lbfgs.w, repeated.w, rtol=1e-6)


def test_vmap_over_lambda_equals_loop_and_jit_equals_eager(x64):
    X, y = _breast_cancer(120)
    lams = jnp.array([1e-3, 1e-2, 1e-1])
    for solver in (fit_logistic_newton, fit_logistic_lbfgs):
        batched = jax.vmap(lambda lam, solver=solver: solver(X, y, lam, tol=1e-10).w)(lams)
        for i, lam in enumerate(lams):
            np.testing.assert_allclose(batched[i], solver(X, y, float(lam), tol=1e-10).w, rtol=1e-7)
    w = jnp.linspace(-1, 1, X.shape[1])
    eager = logistic_loss(w, X, y, 0.1)
    jitted = jax.jit(logistic_loss)(w, jnp.asarray(X), jnp.asarray(y), 0.1)
    assert float(jitted) == pytest.approx(float(eager), rel=1e-14)


def test_no_recompilation_on_second_call(x64, monkeypatch):
    # λ, tol and max_iter are traced: a second call with new values reuses the program.
    for name in ("_fit_binary_newton", "_fit_binary_lbfgs"):
        body = chex.assert_max_traces(getattr(lg, name).__wrapped__, n=1)
        monkeypatch.setattr(lg, name, jax.jit(body, static_argnames="fit_intercept"))
    X, y = _breast_cancer(60)
    fit_logistic_newton(X, y, 0.1)
    fit_logistic_lbfgs(X, y, 0.1)
    newton = fit_logistic_newton(X, y, 0.2, tol=1e-9, max_iter=20)
    lbfgs = fit_logistic_lbfgs(X, y, 0.2, tol=1e-9, max_iter=200)
    assert float(newton.grad_norm) <= 1e-9 and float(lbfgs.grad_norm) <= 1e-9
    np.testing.assert_allclose(lbfgs.w, newton.w, rtol=1e-6, atol=1e-9)


def test_float32_solution_close_to_float64():
    X, y = _breast_cancer()
    w32 = fit_logistic_lbfgs(X.astype(np.float32), y, 0.01, tol=1e-5)
    assert w32.w.dtype == jnp.float32
    with jax.enable_x64(True):
        w64 = fit_logistic_newton(X, y, 0.01, tol=1e-12)
        np.testing.assert_allclose(np.asarray(w32.w, np.float64), w64.w, atol=2e-3)


def test_bad_input_raises(x64):
    X, y = _breast_cancer(50)
    with pytest.raises(ValueError, match="y must take values in"):
        fit_logistic_lbfgs(X, y * 2, 0.1)
    with pytest.raises(ValueError, match="y must contain at least 2 classes"):
        fit_logistic_newton(X, np.ones_like(y), 0.1)
    with pytest.raises(ValueError, match="lam"):
        fit_logistic_newton(X, y, -1.0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains"):
        logistic_loss(np.zeros(X.shape[1]), bad, y, 0.1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        logistic_grad(np.zeros(X.shape[1]), X, y[:-1], 0.1)
    with pytest.raises(ValueError, match="w must have shape"):
        logistic_loss(np.zeros(3), X, y, 0.1)
    with pytest.raises(ValueError, match="sample_weight"):
        fit_logistic_lbfgs(X, y, 0.1, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="y must take values in"):
        fit_softmax_lbfgs(X, np.where(y == 0, -1, y), 0.1, num_classes=2)
    with pytest.raises(ValueError, match="learning_rate"):
        fit_logistic_gd(X, y, 0.1, learning_rate=0.0, num_steps=5, key=jax.random.key(0))


@pytest.mark.parametrize("binary", [True, False])
def test_glm_lbfgs_matches_sklearn_newton_cholesky_and_vmaps_over_lambda(x64, binary):
    X, y = _breast_cancer() if binary else _iris()
    n = X.shape[0]
    T = jnp.asarray(y, jnp.float64) if binary else jax.nn.one_hot(y, 3, dtype=jnp.float64)
    k = 1 if binary else 3
    v = jnp.full((n,), 1.0 / n)

    def solve(lam):
        return lg.glm_lbfgs(jnp.asarray(X), T, v, lam, 1e-10, 500, jnp.zeros((X.shape[1], k)), jnp.zeros(k),
                            binary=binary, fit_intercept=True, cold=True)

    lams = jnp.array([0.1, 0.01])
    fits = jax.jit(jax.vmap(solve))(lams)
    for i, lam in enumerate(np.asarray(lams)):
        ref = LogisticRegression(C=1 / (n * lam), solver="newton-cholesky", tol=1e-12).fit(X, y)
        coef = fits.w[i][None, :] if binary else fits.w[i].T
        b = fits.b[i] if binary else fits.b[i] - jnp.mean(fits.b[i])
        np.testing.assert_allclose(coef, ref.coef_, atol=1e-8 * np.abs(ref.coef_).max())
        np.testing.assert_allclose(np.atleast_1d(b), ref.intercept_, atol=1e-8)
        assert float(fits.grad_norm[i]) <= 1e-10


def test_l1_prox_newton_matches_liblinear_and_its_subgradient_vanishes(x64):
    from jaxml.linear import fit_logistic_l1, logistic_grad, min_norm_subgradient

    X, y = _breast_cancer()
    n, C = X.shape[0], 0.5
    ref = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", fit_intercept=False, tol=1e-12,
                             max_iter=100_000).fit(X, y)
    fit = fit_logistic_l1(X, y, 1.0 / (C * n), tol=1e-12)
    np.testing.assert_allclose(fit.w, ref.coef_[0], atol=1e-7)
    np.testing.assert_array_equal(np.asarray(fit.w) == 0, ref.coef_[0] == 0)
    g = logistic_grad(fit.w, X, y, 0.0)
    G = min_norm_subgradient(fit.w, g, 1.0 / (C * n), jnp.ones_like(fit.w))
    assert float(jnp.max(jnp.abs(G))) <= 1e-12
