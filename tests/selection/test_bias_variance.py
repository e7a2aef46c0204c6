"""Bias-variance by resampling (vs analytic values and Monte Carlo) and Hoeffding bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.selection import (
    bias_variance,
    hoeffding_delta,
    hoeffding_epsilon,
    hoeffding_sample_size,
    make_polynomial_ridge,
    make_polynomial_ridge_upto,
)


def _sine(x):
    return jnp.sin(2 * jnp.pi * x)


def _uniform(key, n):
    return jax.random.uniform(key, (n,), jnp.float64)


X_TEST = np.linspace(0.0, 1.0, 41)


def test_constant_model_matches_analytic_decomposition(x64, key):
    # f_S = mean of the training labels: f̄ = E f(x) = 0 for x ~ U[0, 1];
    # Var f_S = (Var f(x) + σ²) / n = (1/2 + σ²) / n; bias² = mean_t f(x_t)².
    sigma, n = 0.5, 10
    bv = bias_variance(
        key, make_polynomial_ridge(0), _sine, X_TEST, 0.0,
        sample_x=_uniform, noise_std=sigma, n_train=n, n_datasets=20000,
    )
    assert float(bv.noise) == pytest.approx(sigma**2)
    assert float(bv.variance) == pytest.approx((0.5 + sigma**2) / n, rel=0.04)
    assert float(bv.bias2) == pytest.approx(float(np.mean(np.sin(2 * np.pi * X_TEST) ** 2)), rel=0.01)
    assert bv.predictions.shape == (20000, X_TEST.size)


@pytest.mark.parametrize("degree", [1, 3, 6])
def test_decomposition_sums_to_monte_carlo_test_error(x64, key, degree):
    bv = bias_variance(
        key, make_polynomial_ridge(degree), _sine, X_TEST, 1e-6,
        sample_x=_uniform, noise_std=0.3, n_train=30, n_datasets=4000,
    )
    total = float(bv.noise + bv.bias2 + bv.variance)
    assert float(bv.expected_error) == pytest.approx(total, rel=0.03)


def test_bias_falls_and_variance_rises_with_degree(x64, key):
    results = [
        bias_variance(
            key, make_polynomial_ridge(d), _sine, X_TEST, 0.0,
            sample_x=_uniform, noise_std=0.3, n_train=20, n_datasets=2000,
        )
        for d in (1, 3, 6)
    ]
    bias2 = [float(r.bias2) for r in results]
    variance = [float(r.variance) for r in results]
    assert bias2[0] > bias2[1] and bias2[0] > bias2[2]
    assert variance[0] < variance[1] < variance[2]


def test_vmap_over_lambda_equals_loop(x64, key):
    lams = jnp.array([1e-6, 1e-3, 1e-1])
    kwargs = dict(sample_x=_uniform, noise_std=0.3, n_train=20, n_datasets=200)
    fp = make_polynomial_ridge(5)
    batched = jax.vmap(lambda lam: bias_variance(key, fp, _sine, X_TEST, lam, **kwargs))(lams)
    for i, lam in enumerate(lams):
        single = bias_variance(key, fp, _sine, X_TEST, lam, **kwargs)
        assert float(batched.variance[i]) == pytest.approx(float(single.variance), rel=1e-8)
        assert float(batched.bias2[i]) == pytest.approx(float(single.bias2), rel=1e-8)
    # stronger ridge: less variance
    assert float(batched.variance[2]) < float(batched.variance[0])


def test_hoeffding_values_match_direct_formula(x64):
    n, eps, a, b = 500, 0.05, 0.0, 2.0
    assert float(hoeffding_delta(n, eps, a, b)) == pytest.approx(2 * np.exp(-2 * n * eps**2 / 4), rel=1e-12)
    delta = 0.05
    eps_star = float(hoeffding_epsilon(n, delta, a, b))
    assert eps_star == pytest.approx(2.0 * np.sqrt(np.log(2 / delta) / (2 * n)), rel=1e-12)
    assert float(hoeffding_delta(n, eps_star, a, b)) == pytest.approx(delta, rel=1e-10)
    # union bound over K models
    K = 20
    assert float(hoeffding_delta(n, eps, a, b, num_models=K)) == pytest.approx(
        K * float(hoeffding_delta(n, eps, a, b)), rel=1e-12
    )
    eps_union = float(hoeffding_epsilon(n, delta, a, b, num_models=K))
    assert eps_union == pytest.approx(2.0 * np.sqrt(np.log(2 * K / delta) / (2 * n)), rel=1e-12)
    assert eps_union > eps_star
    m = hoeffding_sample_size(0.05, 0.01, num_models=10)
    assert m == int(np.ceil(np.log(2 * 10 / 0.01) / (2 * 0.05**2)))
    assert float(hoeffding_delta(m, 0.05, num_models=10)) <= 0.01 < float(hoeffding_delta(m - 1, 0.05, num_models=10))
    np.testing.assert_allclose(
        hoeffding_epsilon(jnp.array([100, 400]), 0.1), [np.sqrt(np.log(20) / 200), np.sqrt(np.log(20) / 800)]
    )


def test_hoeffding_empirical_coverage(key):
    # 0/1 losses with true risk p: the fraction of test sets with |L_test − p| ≥ ε is ≤ δ
    p, n, trials, delta = 0.3, 200, 20000, 0.1
    eps = float(hoeffding_epsilon(n, delta))
    losses = jax.random.bernoulli(key, p, (trials, n)).astype(jnp.float32)
    deviation = jnp.abs(jnp.mean(losses, axis=1) - p)
    coverage_failure = float(jnp.mean(deviation >= eps))
    assert coverage_failure <= delta
    # the bound is loose but not absurd: deviations of half of ε do happen
    assert float(jnp.mean(deviation >= eps / 2)) > 0.005


def test_bad_input_raises(key):
    with pytest.raises(ValueError, match="n must be >= 1"):
        hoeffding_epsilon(0, 0.1)
    with pytest.raises(ValueError, match="delta"):
        hoeffding_epsilon(10, 0.0)
    with pytest.raises(ValueError, match="b must be > a"):
        hoeffding_delta(10, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="eps"):
        hoeffding_delta(10, -0.1)
    with pytest.raises(ValueError, match="num_models"):
        hoeffding_epsilon(10, 0.1, num_models=0)
    with pytest.raises(ValueError, match="n_datasets"):
        bias_variance(key, make_polynomial_ridge(1), _sine, X_TEST, 0.0, sample_x=_uniform,
                      noise_std=0.1, n_train=10, n_datasets=1)
    with pytest.raises(ValueError, match="noise_std"):
        bias_variance(key, make_polynomial_ridge(1), _sine, X_TEST, 0.0, sample_x=_uniform,
                      noise_std=-0.1, n_train=10)
    with pytest.raises(ValueError, match="degree"):
        make_polynomial_ridge(-1)


def test_masked_degree_equals_fixed_degree(x64, key):
    kwargs = dict(sample_x=_uniform, noise_std=0.3, n_train=20, n_datasets=100)
    upto = make_polynomial_ridge_upto(8)
    for degree in (2, 5):
        fixed = bias_variance(key, make_polynomial_ridge(degree), _sine, X_TEST, 1e-4, **kwargs)
        masked = bias_variance(key, upto, _sine, X_TEST, (degree, 1e-4), **kwargs)
        np.testing.assert_allclose(masked.predictions, fixed.predictions, rtol=1e-6, atol=1e-8)
