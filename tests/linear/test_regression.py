"""Least squares, ridge, lasso, polynomial features, costs and likelihoods (jaxml.linear.regression)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from jax.test_util import check_grads
from sklearn.linear_model import Lasso, Ridge

from jaxml.core.gradcheck import REGISTRY, compare_gradients
from jaxml.linear import regression as R


def _data(seed=0, n=60, d=5, noise=0.1, sparse=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    if sparse is not None:
        w[sparse:] = 0.0
    return X, X @ w + noise * rng.standard_normal(n)


# ------------------------------------------------------------------ costs and hand gradients


@pytest.mark.parametrize("name", ["linear.least_squares", "linear.mae", "linear.ridge"])
def test_hand_gradient_matches_autodiff_and_finite_differences(name, key, x64):
    check = REGISTRY[name]
    row = compare_gradients(check, key)
    assert row.err64 <= 1e-10, row
    assert row.ok, row
    args = check.make_args(key, jnp.float64)
    np.testing.assert_allclose(
        check.grad(*args), jax.grad(check.loss)(*args), rtol=1e-10, atol=1e-12
    )
    check_grads(lambda w: check.loss(w, *args[1:]), (args[0],), order=1, modes=("fwd", "rev"))


def test_costs_match_numpy(x64):
    X, y = _data()
    w = np.random.default_rng(1).standard_normal(X.shape[1])
    e = y - X @ w
    np.testing.assert_allclose(R.mse(w, X, y), np.mean(e**2), rtol=1e-12)
    np.testing.assert_allclose(R.least_squares_cost(w, X, y), 0.5 * np.mean(e**2), rtol=1e-12)
    np.testing.assert_allclose(R.mae(w, X, y), np.mean(np.abs(e)), rtol=1e-12)
    np.testing.assert_allclose(R.least_squares_grad(w, X, y), -X.T @ e / len(y), rtol=1e-12)
    np.testing.assert_allclose(R.mae_subgradient(w, X, y), -X.T @ np.sign(e) / len(y), rtol=1e-12)
    np.testing.assert_allclose(
        R.lasso_objective(w, X, y, 0.3), 0.5 * np.mean(e**2) + 0.3 * np.abs(w).sum(), rtol=1e-12
    )


def test_mae_subgradient_at_a_kink_is_in_the_subdifferential(x64):
    # One-parameter model y ≈ w: MAE(w) = mean|y − w| has subdifferential [−(#>w − #<w ± 1)/N].
    X, y = np.ones((3, 1)), np.array([0.0, 1.0, 2.0])
    g = R.mae_subgradient(np.array([1.0]), X, y)  # e = (−1, 0, 1): sign sum 0
    assert float(g[0]) == 0.0
    lo = (R.mae(np.array([1.0]), X, y) - R.mae(np.array([0.9]), X, y)) / 0.1
    hi = (R.mae(np.array([1.1]), X, y) - R.mae(np.array([1.0]), X, y)) / 0.1
    assert lo <= g[0] <= hi


# ------------------------------------------------------------------ least squares


def test_least_squares_matches_lstsq_and_solves_normal_equations(x64):
    X, y = _data(n=80, d=6)
    w = R.least_squares(X, y)
    np.testing.assert_allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    np.testing.assert_allclose(X.T @ (y - X @ np.asarray(w)), 0.0, atol=1e-10)
    np.testing.assert_allclose(R.least_squares_grad(w, X, y), 0.0, atol=1e-12)


def test_least_squares_rank_deficient_gives_minimum_norm(x64):
    X, y = _data(n=40, d=4)
    X = np.concatenate([X, X[:, :2], 2 * X[:, 1:2]], axis=1)  # rank 4 of 7 columns
    w = np.asarray(R.least_squares(X, y))
    assert np.all(np.isfinite(w))
    np.testing.assert_allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(w, np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-10)


def test_least_squares_ill_conditioned_polynomial_basis(x64):
    x = np.linspace(0, 1, 20)
    X = np.asarray(R.polynomial_features(jnp.asarray(x), 12))  # κ(X) ≈ 1e9: normal eqs. fail
    y = np.sin(2 * np.pi * x)
    w = np.asarray(R.least_squares(X, y))
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(X @ w, X @ ref, atol=1e-10)
    np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-6)


def test_least_squares_float32_close_to_float64():
    X, y = _data(n=100, d=5)
    w32 = R.least_squares(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32))
    assert w32.dtype == jnp.float32
    np.testing.assert_allclose(w32, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-4, atol=1e-5)


def test_least_squares_jit_equals_eager(x64):
    X, y = _data()
    np.testing.assert_allclose(jax.jit(R.least_squares)(X, y), R.least_squares(X, y), rtol=1e-12)


# ------------------------------------------------------------------ ridge


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.5])
def test_ridge_matches_sklearn(lam, x64):
    X, y = _data(n=50, d=8)
    w = R.ridge(X, y, lam)
    ref = Ridge(alpha=2 * len(y) * lam, fit_intercept=False, solver="svd").fit(X, y).coef_
    np.testing.assert_allclose(w, ref, rtol=1e-10)
    np.testing.assert_allclose(R.ridge_grad(w, X, y, lam), 0.0, atol=1e-12)


def test_ridge_vmap_over_lam_equals_loop_and_path(x64):
    X, y = _data(n=50, d=8)
    lams = jnp.asarray([0.0, 1e-3, 0.1, 3.0])
    swept = jax.vmap(R.ridge, in_axes=(None, None, 0))(X, y, lams)
    looped = np.stack([R.ridge(X, y, float(l)) for l in lams])
    np.testing.assert_allclose(swept, looped, rtol=1e-10)
    np.testing.assert_allclose(R.ridge_path(X, y, lams), looped, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(jax.jit(R.ridge)(X, y, 0.1), looped[2], rtol=1e-12)


def test_ridge_path_gram_is_ridge_on_the_rows_behind_the_gram(x64):
    X, y = _data(n=60, d=5)
    keep = np.arange(60) >= 12  # a "fold" held out: Gram of the rest = total − held-out
    G = X.T @ X - X[~keep].T @ X[~keep]
    b = X.T @ y - X[~keep].T @ y[~keep]
    lams = jnp.asarray([1e-3, 0.2])
    W = R.ridge_path_gram(G, b, int(keep.sum()), lams)
    np.testing.assert_allclose(W, R.ridge_path(X[keep], y[keep], lams), rtol=1e-9)


def test_ridge_zero_lambda_rank_deficient_is_minimum_norm_not_nan(x64):
    X, y = _data(n=30, d=3)
    X = np.concatenate([X, X], axis=1)
    w = np.asarray(R.ridge(X, y, 0.0))
    np.testing.assert_allclose(w, np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-10)
    path = np.asarray(R.ridge_path(X, y, jnp.asarray([0.0])))
    np.testing.assert_allclose(path[0], np.linalg.pinv(X) @ y, rtol=1e-8, atol=1e-10)


def test_spectral_ridge_floor_is_relative_to_the_largest_eigenvalue(x64):
    # One floor, D·eps·Λ_max, for ridge's fallback, the ridge path and the CV/bias-variance
    # learners: a direction with eigenvalue below it is dropped (pinv), one above it is kept.
    d = 4
    evecs = jnp.eye(d)
    floor = d * np.finfo(np.float64).eps * 1e4
    evals = jnp.asarray([0.5 * floor, 2.0 * floor, 1.0, 1e4])
    xty = jnp.ones(d)
    w = R._spectral_ridge(evals, evecs, xty, jnp.zeros(1))[0]
    np.testing.assert_allclose(w, [0.0, 1 / (2.0 * floor), 1.0, 1e-4], rtol=1e-12)
    # 2Nλ lifts a dropped direction above the floor: exact ridge there
    w = R._spectral_ridge(evals, evecs, xty, jnp.asarray([floor]))[0]
    np.testing.assert_allclose(w[0], 1 / (1.5 * floor), rtol=1e-12)
    # an all-zero Gram gives w = 0, not NaN
    assert np.all(np.asarray(R._spectral_ridge(jnp.zeros(d), evecs, xty, jnp.zeros(1))) == 0.0)


def test_ridge_float32_close_to_float64():
    X, y = _data(n=100, d=5)
    w = R.ridge(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), 0.01)
    assert w.dtype == jnp.float32
    with jax.enable_x64(True):
        ref = np.asarray(R.ridge(X, y, 0.01))
    np.testing.assert_allclose(w, ref, rtol=1e-4, atol=1e-5)


def test_no_recompilation_on_second_call(x64, monkeypatch):
    # Each jitted core traced at most once: new data, λ, tol and max_iter reuse the program.
    for name, static in (("_ridge", ()), ("_lasso", ("method", "positive")), ("_least_squares", ())):
        body = chex.assert_max_traces(getattr(R, name).__wrapped__, n=1)
        monkeypatch.setattr(R, name, jax.jit(body, static_argnames=static))
    X, y = _data(n=40, d=4)
    X2, y2 = _data(seed=3, n=40, d=4)
    w = R.ridge(X, y, 0.1)
    R.lasso_cd(X, y, 0.1)
    R.least_squares(X, y)
    w2 = R.ridge(X2, y2, 0.7)
    lasso2 = R.lasso_cd(X2, y2, 0.05, tol=1e-8, max_iter=50)
    R.least_squares(X2, y2)
    np.testing.assert_allclose(w, np.linalg.solve(X.T @ X + 2 * 40 * 0.1 * np.eye(4), X.T @ y), rtol=1e-10)
    np.testing.assert_allclose(w2, np.linalg.solve(X2.T @ X2 + 2 * 40 * 0.7 * np.eye(4), X2.T @ y2), rtol=1e-10)
    assert int(lasso2.n_iter) <= 50


# ------------------------------------------------------------------ lasso


def test_soft_threshold():
    z = jnp.asarray([-3.0, -0.5, 0.0, 0.2, 2.0])
    np.testing.assert_allclose(R.soft_threshold(z, 1.0), [-2.0, 0.0, 0.0, 0.0, 1.0])


def _assert_kkt(w, X, y, lam, atol):
    """Optimality of the lasso: (1/N)x_jᵀe = λ sign(w_j) where w_j ≠ 0, |(1/N)x_jᵀe| ≤ λ else."""
    w = np.asarray(w)
    corr = X.T @ (y - X @ w) / len(y)
    active = np.abs(w) > 0
    assert active.any() and (~active).any(), "test needs both active and inactive coordinates"
    np.testing.assert_allclose(corr[active], lam * np.sign(w[active]), atol=atol)
    assert np.all(np.abs(corr[~active]) <= lam + atol)


@pytest.mark.parametrize("solver", [R.lasso_cd, R.lasso_fista])
def test_lasso_solvers_match_sklearn_and_satisfy_kkt(solver, x64):
    X, y = _data(n=80, d=10, sparse=4, noise=0.5)
    lam = 0.1
    res = solver(X, y, lam, tol=1e-14, max_iter=20_000)
    ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    np.testing.assert_allclose(res.w, ref, rtol=1e-6, atol=1e-9)
    _assert_kkt(res.w, X, y, lam, atol=1e-7)
    assert 0 < int(res.n_iter) < 20_000
    assert -1e-14 <= float(res.gap) <= 1e-14 * np.mean(y**2)
    np.testing.assert_allclose(R.lasso_duality_gap(res.w, X, y, lam), res.gap, atol=1e-12)


def test_lasso_gap_bounds_suboptimality(x64):
    X, y = _data(n=80, d=10, sparse=4, noise=0.5)
    lam = 0.05
    rough = R.lasso_fista(X, y, lam, max_iter=3)
    exact = R.lasso_cd(X, y, lam, tol=1e-14, max_iter=10_000)
    excess = R.lasso_objective(rough.w, X, y, lam) - R.lasso_objective(exact.w, X, y, lam)
    assert 0 < excess <= float(rough.gap) + 1e-12


def test_lasso_wide_problem_fista_equals_cd(x64):
    X, y = _data(n=20, d=40, sparse=3, noise=0.1)  # D > N: FISTA works through X
    a = R.lasso_fista(X, y, 0.05, tol=1e-14, max_iter=50_000)
    b = R.lasso_cd(X, y, 0.05, tol=1e-14, max_iter=50_000)
    np.testing.assert_allclose(a.w, b.w, atol=1e-6)
    _assert_kkt(b.w, X, y, 0.05, atol=1e-7)


def test_lasso_above_lambda_max_is_zero(x64):
    X, y = _data(n=50, d=6)
    lam_max = np.max(np.abs(X.T @ y)) / len(y)
    assert np.all(np.asarray(R.lasso_cd(X, y, 1.01 * lam_max).w) == 0.0)
    assert np.any(np.asarray(R.lasso_cd(X, y, 0.9 * lam_max).w) != 0.0)


def test_lasso_vmap_over_lam_equals_loop(x64):
    X, y = _data(n=50, d=6, sparse=3)
    lams = jnp.asarray([0.01, 0.1, 0.5])
    swept = jax.vmap(lambda l: R.lasso_cd(X, y, l, tol=1e-12).w)(lams)
    looped = np.stack([R.lasso_cd(X, y, float(l), tol=1e-12).w for l in lams])
    np.testing.assert_allclose(swept, looped, atol=1e-10)


@pytest.mark.parametrize("method", ["cd", "fista"])
def test_lasso_path_equals_independent_solves_in_input_order(method, x64):
    X, y = _data(n=60, d=8, sparse=3, noise=0.3)
    lams = jnp.asarray([0.05, 0.5, 0.01, 0.2])  # unsorted on purpose
    path = R.lasso_path(X, y, lams, method=method, tol=1e-13, max_iter=20_000)
    assert path.w.shape == (4, 8)
    for l, w in zip(np.asarray(lams), np.asarray(path.w), strict=True):
        ref = Lasso(alpha=l, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
        np.testing.assert_allclose(w, ref, atol=1e-7)
    # warm starts: solving down the path takes fewer sweeps than cold starts
    cold = sum(int(R.lasso_cd(X, y, float(l), tol=1e-13).n_iter) for l in lams)
    if method == "cd":
        assert int(np.sum(path.n_iter)) < cold


def test_lasso_cd_positive_matches_sklearn(x64):
    X, y = _data(n=80, d=10, sparse=4, noise=0.5)
    lam = 0.05
    res = R.lasso_cd(X, y, lam, tol=1e-14, max_iter=20_000, positive=True)
    ref = Lasso(alpha=lam, fit_intercept=False, positive=True, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    unconstrained = R.lasso_cd(X, y, lam, tol=1e-14, max_iter=20_000).w
    assert np.any(np.asarray(unconstrained) < 0)  # the constraint is active
    np.testing.assert_allclose(res.w, ref, rtol=1e-6, atol=1e-9)
    assert np.all(np.asarray(res.w) >= 0) and float(res.gap) <= 1e-14 * np.mean(y**2)


# ------------------------------------------------------------------ centered statistics, NNLS


def test_centered_stats_match_numpy(x64):
    rng = np.random.default_rng(3)
    # N ≥ 2 chunks of 1024 and D ≥ 64: the chunked, block-split product on CPU
    n, d = 2 * 1024 + 37, 70
    X = rng.standard_normal((n, d)) * 2.0 + 5.0
    Y = rng.standard_normal((n, 2)) - 3.0
    s = rng.uniform(0.0, 2.0, n)
    stats = R.centered_stats(X, Y, s)
    xm, ym = s @ X / s.sum(), s @ Y / s.sum()
    Xc, Yc = (X - xm) * np.sqrt(s)[:, None], (Y - ym) * np.sqrt(s)[:, None]
    np.testing.assert_allclose(stats.x_mean, xm, rtol=1e-12)
    np.testing.assert_allclose(stats.y_mean, ym, rtol=1e-12)
    np.testing.assert_allclose(stats.gram, Xc.T @ Xc, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(stats.xty, Xc.T @ Yc, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(stats.yty, np.sum(Yc**2, axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.weight_sum, s.sum(), rtol=1e-12)
    plain = R.centered_stats(X[:50, :4], Y[:50], fit_intercept=False)
    np.testing.assert_allclose(plain.gram, X[:50, :4].T @ X[:50, :4], rtol=1e-12)
    np.testing.assert_allclose(plain.x_mean, np.zeros(4))


@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_nonnegative_least_squares_matches_scipy_nnls(lam, x64):
    X, y = _data(n=60, d=8, noise=0.5)
    n, d = X.shape
    w, n_iter, converged = R.nonnegative_least_squares(X, y, lam)
    # (1/2N)‖y − Xw‖² + λ‖w‖² = (1/2N)‖[y; 0] − [X; √(2Nλ) I] w‖²: NNLS on the augmented system
    ref = scipy.optimize.nnls(np.vstack([X, np.sqrt(2 * n * lam) * np.eye(d)]), np.concatenate([y, np.zeros(d)]))[0]
    assert np.any(ref == 0) and np.any(ref > 0)  # some constraints active, some not
    np.testing.assert_allclose(w, ref, rtol=1e-9, atol=1e-12)
    assert bool(converged) and int(n_iter) >= 1


# ------------------------------------------------------------------ features and likelihoods


def test_polynomial_features_is_vandermonde():
    x = jnp.asarray([-1.5, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(R.polynomial_features(x, 4), np.vander(x, 5, increasing=True))
    np.testing.assert_allclose(R.polynomial_features(x, 0), np.ones((4, 1)))
    jitted = jax.jit(R.polynomial_features, static_argnums=1)
    np.testing.assert_allclose(jitted(x, 3), np.vander(x, 4, increasing=True))


def test_gaussian_likelihood_mle_is_least_squares(x64):
    X, y = _data(n=70, d=4, noise=0.7)
    w_ls = R.least_squares(X, y)
    e = y - X @ np.asarray(w_ls)
    sigma_hat = np.sqrt(np.mean(e**2))
    ll = lambda w, s: R.gaussian_log_likelihood(w, s, X, y)
    np.testing.assert_allclose(ll(w_ls, 0.9), scipy.stats.norm(X @ w_ls, 0.9).logpdf(y).sum())
    # maximum over w at the least-squares solution, over σ at σ̂² = mean e²
    np.testing.assert_allclose(jax.grad(ll)(w_ls, 0.9), 0.0, atol=1e-9)
    np.testing.assert_allclose(jax.grad(ll, argnums=1)(w_ls, sigma_hat), 0.0, atol=1e-9)
    assert ll(w_ls, sigma_hat) > max(ll(w_ls, 0.9 * sigma_hat), ll(w_ls, 1.1 * sigma_hat))
    # the log-likelihood is −(N/σ²)·J(w) + const in w
    w2 = np.asarray(w_ls) + 0.1
    np.testing.assert_allclose(
        ll(w2, 0.9) - ll(w_ls, 0.9),
        -len(y) / 0.81 * (R.least_squares_cost(w2, X, y) - R.least_squares_cost(w_ls, X, y)),
        rtol=1e-10,
    )


def test_laplace_likelihood_mle_is_mae(x64):
    rng = np.random.default_rng(4)
    y = rng.exponential(size=41)  # skewed: mean and median differ
    X = np.ones((41, 1))  # intercept-only model: the MAE minimizer is the median
    b = 0.8
    ll = lambda w: R.laplace_log_likelihood(w, b, X, y)
    median, mean = np.array([np.median(y)]), np.array([np.mean(y)])
    np.testing.assert_allclose(ll(mean), scipy.stats.laplace(mean[0], b).logpdf(y).sum())
    assert ll(median) > max(ll(median + 1e-3), ll(median - 1e-3), ll(mean))
    np.testing.assert_allclose(
        ll(mean), -41 * np.log(2 * b) - 41 * R.mae(mean, X, y) / b, rtol=1e-12
    )
    b_hat = float(R.mae(median, X, y))
    grad_b = jax.grad(R.laplace_log_likelihood, argnums=1)(median, b_hat, X, y)
    np.testing.assert_allclose(grad_b, 0.0, atol=1e-9)


# ------------------------------------------------------------------ bad input


def test_bad_input_raises_naming_the_argument():
    X, y = _data(n=10, d=3)
    X, y = X.astype(np.float32), y.astype(np.float32)
    bad_X = X.copy()
    bad_X[2, 1] = np.nan
    bad_y = y.copy()
    bad_y[0] = np.inf
    w = np.zeros(3, np.float32)
    for fn in (R.least_squares, lambda a, b: R.ridge(a, b, 0.1), lambda a, b: R.lasso_cd(a, b, 0.1),
               lambda a, b: R.lasso_fista(a, b, 0.1), lambda a, b: R.mse(w, a, b),
               lambda a, b: R.ridge_path(a, b, jnp.ones(2))):
        with pytest.raises(ValueError, match="X contains"):
            fn(bad_X, y)
        with pytest.raises(ValueError, match="y contains"):
            fn(X, bad_y)
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            fn(X, y[:-1])
        with pytest.raises(ValueError, match="X must be 2-D"):
            fn(X[:, 0], y)
        with pytest.raises(ValueError, match="X must have at least"):
            fn(X[:0], y[:0])
    with pytest.raises(ValueError, match="lam must be >= 0"):
        R.ridge(X, y, -1.0)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        R.lasso_cd(X, y, -0.1)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        R.ridge_objective(w, X, y, -0.1)
    with pytest.raises(ValueError, match="lams must be >= 0"):
        R.ridge_path(X, y, jnp.asarray([0.1, -1.0]))
    with pytest.raises(ValueError, match="lams must be >= 0"):
        R.lasso_path(X, y, jnp.asarray([-0.1]))
    with pytest.raises(ValueError, match="degree must be >= 0"):
        R.polynomial_features(jnp.ones(3), -1)
    with pytest.raises(ValueError, match="x must be 1-D"):
        R.polynomial_features(jnp.ones((3, 1)), 2)
    with pytest.raises(ValueError, match="w must have shape"):
        R.least_squares_cost(np.zeros(4, np.float32), X, y)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        R.gaussian_log_likelihood(w, 0.0, X, y)
    with pytest.raises(ValueError, match="b must be > 0"):
        R.laplace_log_likelihood(w, -1.0, X, y)
    with pytest.raises(ValueError, match="method must be"):
        R.lasso_path(X, y, jnp.ones(2), method="newton")
    with pytest.raises(ValueError, match="tol must be >= 0"):
        R.lasso_fista(X, y, 0.1, tol=-1.0)


def test_vmapped_solvers_do_not_deadlock():
    """Regression: under vmap a lax.cond runs both branches; two independent batched LAPACK
    calls (Cholesky and eigh, eigh and SVD) in one program deadlocked jaxlib's CPU thread pool.
    Run in a subprocess so that a hang fails the test instead of the suite."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np
        jax.config.update("jax_enable_x64", True)
        from jaxml.linear import least_squares, ridge
        rng = np.random.default_rng(0)
        X = jnp.asarray(rng.standard_normal((500, 200))); y = jnp.asarray(rng.standard_normal(500))
        sweep = jax.jit(jax.vmap(ridge, in_axes=(None, None, 0)))
        batch = jax.jit(jax.vmap(least_squares))
        for _ in range(4):
            jax.block_until_ready(sweep(X, y, jnp.logspace(-4, 1, 8)))
            jax.block_until_ready(batch(jnp.stack([X] * 4), jnp.stack([y] * 4)))
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
