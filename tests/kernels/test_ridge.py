"""Kernel ridge: equals primal ridge with the linear kernel, equals sklearn KernelRidge(alpha=2Nλ)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from jaxml.kernels import (
    as_kernel,
    gram,
    kernel_ridge_fit,
    kernel_ridge_predict,
    kernel_ridge_solve,
    linear_kernel,
    polynomial_kernel,
    primal_ridge_weights,
    rbf_kernel,
    sigmoid_kernel,
)


def _data(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y, rng.normal(size=(15, d))


def test_linear_kernel_equals_primal_ridge_numpy(x64):
    X, y, Xq = _data()
    n, d = X.shape
    lam = 0.05
    w_numpy = np.linalg.solve(X.T @ X + 2 * n * lam * np.eye(d), X.T @ y)  # independent closed form
    params = kernel_ridge_fit(linear_kernel, X, y, lam)
    np.testing.assert_allclose(X.T @ params.alpha, w_numpy, rtol=1e-10)  # representer w = Xᵀα
    np.testing.assert_allclose(kernel_ridge_predict(linear_kernel, params, Xq), Xq @ w_numpy, rtol=1e-9)
    np.testing.assert_allclose(primal_ridge_weights(X, y, lam), w_numpy, rtol=1e-10)
    # A wrong scaling (λ instead of 2Nλ) would miss by far more than this.
    assert not np.allclose(np.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y), w_numpy, rtol=1e-3)


@pytest.mark.parametrize(
    "kernel,sk_kwargs",
    [
        (as_kernel(linear_kernel), dict(kernel="linear")),
        (as_kernel(rbf_kernel, gamma=0.3), dict(kernel="rbf", gamma=0.3)),
        (as_kernel(polynomial_kernel, degree=3), dict(kernel="poly", degree=3, gamma=1.0, coef0=1.0)),
    ],
)
def test_matches_sklearn_kernel_ridge(x64, kernel, sk_kwargs):
    X, y, Xq = _data()
    lam = 0.01
    ref = KernelRidge(alpha=2 * len(X) * lam, **sk_kwargs).fit(X, y)
    params = kernel_ridge_fit(kernel, X, y, lam)
    # K + 2NλI is ill-conditioned for the RBF kernel (cond ~1e8): both solvers agree to ~1e-8.
    np.testing.assert_allclose(params.alpha, ref.dual_coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(kernel_ridge_predict(kernel, params, Xq), ref.predict(Xq), rtol=1e-8, atol=1e-10)


def test_multi_target(x64):
    X, y, Xq = _data()
    Y = np.stack([y, 2 * y + 1], axis=1)
    ref = KernelRidge(alpha=0.8, kernel="rbf", gamma=0.5).fit(X, Y)
    params = kernel_ridge_fit(as_kernel(rbf_kernel, gamma=0.5), X, Y, 0.8 / (2 * len(X)))
    np.testing.assert_allclose(kernel_ridge_predict(as_kernel(rbf_kernel, gamma=0.5), params, Xq), ref.predict(Xq),
                               rtol=1e-9)


def test_vmap_over_lambda_and_gamma_equals_loop(x64):
    X, y, _ = _data()
    lams = jnp.array([1e-3, 1e-2, 1e-1])
    K = gram(as_kernel(rbf_kernel, gamma=0.4), X)
    path = jax.vmap(kernel_ridge_solve, in_axes=(None, None, 0))(K, jnp.asarray(y), lams)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(path[i], kernel_ridge_solve(K, y, float(lam)), rtol=1e-10)
    gammas = jnp.array([0.1, 1.0])
    fit_gamma = jax.jit(lambda g: kernel_ridge_solve(rbf_kernel(X, X, g), jnp.asarray(y), 0.01))
    swept = jax.vmap(fit_gamma)(gammas)
    for i, g in enumerate(gammas):
        np.testing.assert_allclose(swept[i], kernel_ridge_fit(as_kernel(rbf_kernel, gamma=g), X, y, 0.01).alpha,
                                   rtol=1e-9)


def test_jit_equals_eager_and_no_recompile(x64):
    X, y, _ = _data()
    K = gram(linear_kernel, X) + np.eye(len(X))
    solve = jax.jit(chex.assert_max_traces(kernel_ridge_solve, n=1))
    a = solve(jnp.asarray(K), jnp.asarray(y), 0.1)
    b = solve(jnp.asarray(K), jnp.asarray(y), 0.2)  # new λ: no retrace
    with jax.disable_jit():
        eager = kernel_ridge_solve(jnp.asarray(K), jnp.asarray(y), 0.1)
    np.testing.assert_allclose(a, eager, rtol=1e-12)
    np.testing.assert_allclose(b, np.linalg.solve(K + 2 * len(X) * 0.2 * np.eye(len(X)), y), rtol=1e-10)


def test_float32():
    X, y, Xq = _data()
    params = kernel_ridge_fit(as_kernel(rbf_kernel, gamma=0.3), X.astype(np.float32), y.astype(np.float32), 0.01)
    assert params.alpha.dtype == jnp.float32
    ref = KernelRidge(alpha=2 * len(X) * 0.01, kernel="rbf", gamma=0.3).fit(X, y).predict(Xq)
    np.testing.assert_allclose(kernel_ridge_predict(as_kernel(rbf_kernel, gamma=0.3), params, Xq), ref, atol=1e-4)


def test_non_psd_gram_rejected(x64):
    X, y, _ = _data()
    K_sigmoid = np.asarray(gram(as_kernel(sigmoid_kernel, gamma=1.0, coef0=1.0), X))
    with pytest.raises(ValueError, match="not positive semi-definite"):
        kernel_ridge_solve(K_sigmoid, y, 0.01)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        kernel_ridge_fit(as_kernel(sigmoid_kernel, gamma=1.0, coef0=1.0), X, y, 0.01)
    K_negative = np.asarray(gram(as_kernel(rbf_kernel, gamma=0.5), X)) - 2.0 * np.asarray(gram(linear_kernel, X))
    with pytest.raises(ValueError, match="K is not positive semi-definite"):
        kernel_ridge_solve(K_negative, y, 0.01)
    with pytest.raises(ValueError, match="K must be symmetric"):
        kernel_ridge_solve(np.triu(np.ones((40, 40))), y, 0.01)


def test_bad_input(x64):
    X, y, _ = _data()
    with pytest.raises(ValueError, match="lam must be >= 0"):
        kernel_ridge_fit(linear_kernel, X, y, -1.0)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        kernel_ridge_fit(linear_kernel, X, y[:-1], 0.1)
    with pytest.raises(ValueError, match="K must be square"):
        kernel_ridge_solve(np.ones((3, 4)), np.ones(3), 0.1)
    with pytest.raises(ValueError, match="y contains"):
        kernel_ridge_fit(linear_kernel, X, np.full_like(y, np.nan), 0.1)
    # λ = 0 with a singular K (rank 6 < 40): a clear error instead of NaN.
    with pytest.raises(ValueError, match="singular"):
        kernel_ridge_solve(np.asarray(gram(linear_kernel, X)), y, 0.0)
    with pytest.raises(ValueError, match="features"):
        kernel_ridge_predict(linear_kernel, kernel_ridge_fit(linear_kernel, X, y, 0.1), X[:, :2])
