"""Kernel functions vs scikit-learn's pairwise kernels, combinations, and Mercer's check."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import pairwise

from jaxml.kernels import (
    as_kernel,
    cosine_kernel,
    gram,
    is_mercer_kernel,
    kernel_product,
    kernel_sum,
    laplacian_kernel,
    linear_kernel,
    manhattan_distances,
    mercer_check,
    polynomial_kernel,
    quadratic_kernel,
    rbf_kernel,
    sigmoid_kernel,
    squared_distances,
)


def _data(n=30, m=20, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d))


def test_kernels_match_sklearn_pairwise(x64):
    X, Z = _data()
    np.testing.assert_allclose(gram(linear_kernel, X, Z), pairwise.linear_kernel(X, Z), rtol=1e-12)
    np.testing.assert_allclose(
        gram(quadratic_kernel, X, Z), pairwise.polynomial_kernel(X, Z, degree=2, gamma=1.0, coef0=0.0), rtol=1e-12
    )
    for d in (1, 2, 3, 5):
        np.testing.assert_allclose(
            gram(as_kernel(polynomial_kernel, degree=d), X, Z),
            pairwise.polynomial_kernel(X, Z, degree=d, gamma=1.0, coef0=1.0),
            rtol=1e-11,
        )
    np.testing.assert_allclose(
        gram(as_kernel(polynomial_kernel, degree=3, gamma=0.3, coef0=-0.5), X, Z),
        pairwise.polynomial_kernel(X, Z, degree=3, gamma=0.3, coef0=-0.5),
        rtol=1e-11,
    )
    for gamma in (0.01, 0.5, 3.0):
        np.testing.assert_allclose(
            gram(as_kernel(rbf_kernel, gamma=gamma), X, Z), pairwise.rbf_kernel(X, Z, gamma=gamma),
            rtol=1e-10, atol=1e-14,
        )
    np.testing.assert_allclose(
        gram(as_kernel(sigmoid_kernel, gamma=0.5, coef0=1.0), X, Z),
        pairwise.sigmoid_kernel(X, Z, gamma=0.5, coef0=1.0),
        rtol=1e-12,
    )
    np.testing.assert_allclose(squared_distances(X, Z), pairwise.euclidean_distances(X, Z, squared=True), rtol=1e-10)


def test_laplacian_cosine_manhattan_match_sklearn(x64):
    X, Z = _data()
    X[3] = 0.0  # a zero row: cosine similarity 0, as scikit-learn
    np.testing.assert_allclose(manhattan_distances(X, Z), pairwise.manhattan_distances(X, Z), rtol=1e-13)
    for g in (0.1, 0.7):
        np.testing.assert_allclose(gram(as_kernel(laplacian_kernel, gamma=g), X, Z),
                                   pairwise.laplacian_kernel(X, Z, gamma=g), rtol=1e-13)
    np.testing.assert_allclose(gram(cosine_kernel, X, Z), pairwise.cosine_similarity(X, Z), rtol=1e-12, atol=1e-15)
    assert is_mercer_kernel(as_kernel(laplacian_kernel, gamma=0.5)) and is_mercer_kernel(cosine_kernel)
    assert not is_mercer_kernel(as_kernel(laplacian_kernel, gamma=-0.5))


def test_kernel_is_phi_inner_product_for_quadratic(x64):
    # (xᵀx')² = φ(x)ᵀφ(x') with φ(x) = vec(x xᵀ): the kernel trick, checked explicitly.
    X, Z = _data(5, 4, 3)
    phi = lambda A: np.einsum("ni,nj->nij", A, A).reshape(len(A), -1)  # noqa: E731
    np.testing.assert_allclose(gram(quadratic_kernel, X, Z), phi(X) @ phi(Z).T, rtol=1e-12)


def test_sums_and_products(x64):
    X, Z = _data()
    k1 = as_kernel(rbf_kernel, gamma=0.2)
    k2 = as_kernel(polynomial_kernel, degree=2)
    K1, K2 = pairwise.rbf_kernel(X, Z, gamma=0.2), pairwise.polynomial_kernel(X, Z, degree=2, gamma=1, coef0=1)
    np.testing.assert_allclose(gram(kernel_sum([k1, k2], [0.3, 2.0]), X, Z), 0.3 * K1 + 2.0 * K2, rtol=1e-12)
    np.testing.assert_allclose(gram(kernel_product([k1, k2, linear_kernel]), X, Z), K1 * K2 * (X @ Z.T), rtol=1e-11)
    assert is_mercer_kernel(kernel_sum([k1, kernel_product([k2, linear_kernel])], [1.0, 0.5]))
    assert not is_mercer_kernel(as_kernel(sigmoid_kernel, gamma=1.0))
    assert not is_mercer_kernel(as_kernel(polynomial_kernel, degree=2, coef0=-1.0))


def test_mercer_check_accepts_kernels_and_flags_non_kernels(x64):
    X, _ = _data(40)
    for k in (linear_kernel, as_kernel(rbf_kernel, gamma=0.7), as_kernel(polynomial_kernel, degree=3),
              kernel_sum([linear_kernel, as_kernel(rbf_kernel, gamma=2.0)], [0.5, 3.0]),
              kernel_product([as_kernel(rbf_kernel, gamma=0.1), as_kernel(polynomial_kernel, degree=2)])):
        report = mercer_check(gram(k, X))
        assert bool(report.is_kernel) and bool(report.symmetric)
    # tanh(γxᵀx' + c) is the classic non-kernel: a Gram matrix with a clearly negative eigenvalue.
    bad = mercer_check(gram(as_kernel(sigmoid_kernel, gamma=1.0, coef0=1.0), X), tol=1e-8)
    assert not bool(bad.is_kernel) and bool(bad.symmetric) and float(bad.min_eigenvalue) < -0.1
    # A negative weight breaks Mercer: k_rbf − 2 k_lin has a negative eigenvalue.
    K = np.asarray(gram(as_kernel(rbf_kernel, gamma=0.5), X)) - 2.0 * np.asarray(gram(linear_kernel, X))
    report = mercer_check(K, tol=1e-8)
    assert not bool(report.is_kernel)
    np.testing.assert_allclose(report.min_eigenvalue, np.linalg.eigvalsh(K)[0], rtol=1e-10)
    # Not symmetric.
    A = np.asarray(gram(linear_kernel, X)) + np.triu(np.ones((40, 40)), 1)
    report = mercer_check(A, tol=1e-8)
    assert not bool(report.symmetric) and not bool(report.is_kernel)


def test_negative_weights_rejected():
    with pytest.raises(ValueError, match="weights"):
        kernel_sum([linear_kernel, quadratic_kernel], [1.0, -0.5])
    with pytest.raises(ValueError, match="weights"):
        kernel_sum([linear_kernel, quadratic_kernel], [1.0])


def test_bad_input():
    X, Z = _data()
    with pytest.raises(ValueError, match="same number of features"):
        gram(linear_kernel, X, Z[:, :2])
    with pytest.raises(ValueError, match="X"):
        gram(linear_kernel, np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="K must be square"):
        mercer_check(np.ones((3, 4)))
    with pytest.raises(ValueError, match="tol"):
        mercer_check(np.eye(3), tol=-1.0)
    with pytest.raises(ValueError, match="kernel"):
        as_kernel(3.0)


def test_gamma_traced_jit_vmap_and_no_retrace(x64):
    X, Z = _data()
    gammas = jnp.array([0.1, 0.5, 2.0])

    @jax.jit
    def rbf_gram(gamma, X, Z):
        return gram(as_kernel(rbf_kernel, gamma=gamma), X, Z)

    swept = jax.vmap(rbf_gram, in_axes=(0, None, None))(gammas, X, Z)
    for i, g in enumerate(gammas):
        np.testing.assert_allclose(swept[i], pairwise.rbf_kernel(X, Z, gamma=float(g)), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(rbf_gram(g, X, Z), swept[i], rtol=1e-12)
    # A kernel is a pytree: passing it to a jitted function with a new γ does not recompile.
    f = jax.jit(chex.assert_max_traces(lambda k, X: gram(k, X), n=1))
    a = f(as_kernel(rbf_kernel, gamma=0.1), X)
    b = f(as_kernel(rbf_kernel, gamma=0.9), X)
    np.testing.assert_allclose(b, pairwise.rbf_kernel(X, gamma=0.9), rtol=1e-10, atol=1e-14)
    assert not np.allclose(a, b)


def test_float32_and_eager_equals_jit(key):
    X = jax.random.normal(key, (16, 3), jnp.float32)
    k = as_kernel(rbf_kernel, gamma=0.4)
    K = gram(k, X)
    assert K.dtype == jnp.float32
    np.testing.assert_allclose(K, jax.jit(gram)(k, X), rtol=1e-6)
    np.testing.assert_allclose(K, pairwise.rbf_kernel(np.asarray(X, np.float64), gamma=0.4), atol=1e-5)
    assert bool(mercer_check(K).is_kernel)
