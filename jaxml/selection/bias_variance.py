"""Bias-variance decomposition by resampling, and Hoeffding bounds (SYLLABUS 2).

Bias-variance. Data y = f(x) + ε, E ε = 0, Var ε = σ². A learner trained on a random training
set S gives f_S; at a test point x, with f̄(x) = E_S f_S(x),

    E_{S,ε}[(f_S(x) − y)²] = σ²  +  (f̄(x) − f(x))²  +  E_S[(f_S(x) − f̄(x))²]
                             noise       bias²              variance

``bias_variance`` estimates each term by drawing ``n_datasets`` training sets (one ``vmap``),
fitting, and predicting on test points; averaged over the test points. The expected test error
itself is estimated independently by Monte Carlo on fresh noisy test labels.

Hoeffding. For a fixed predictor and N i.i.d. test losses in [a, b], the test error L_test is
close to the true risk L_D:

    P[|L_D − L_test| ≥ ε] ≤ 2 exp(−2Nε² / (b − a)²)

so with probability ≥ 1 − δ, |L_D − L_test| ≤ (b − a) sqrt(log(2/δ) / (2N)). Choosing the best
of K models on the same test set needs the bound for all K at once (union bound): δ → δ/K.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_scalar
from jaxml.core.types import Array, PRNGKey, float_dtype
from jaxml.linear import polynomial_features, ridge_path_gram

# ----------------------------------------------------------------------------------------------
# bias-variance


class BiasVariance(NamedTuple):
    """The decomposition, averaged over the T test points.

    Attributes:
      noise: σ².
      bias2: (1/T) Σ_t (f̄(x_t) − f(x_t))², f̄ the mean prediction over the training sets.
      variance: (1/T) Σ_t (1/S) Σ_s (f_s(x_t) − f̄(x_t))².
      expected_error: Monte-Carlo estimate of E_{S,ε}[(f_S(x) − y)²] on fresh noisy labels
        (its expectation is noise + bias2 + variance).
      mean_prediction: f̄(x_t), (T,).
      predictions: f_s(x_t), (S, T).
    """

    noise: Array
    bias2: Array
    variance: Array
    expected_error: Array
    mean_prediction: Array
    predictions: Array


@functools.partial(
    jax.jit,
    static_argnames=("fit_predict", "true_fn", "sample_x", "n_train", "n_datasets"),
)
def _bias_variance(key, hyper, x_test, noise_std, *, fit_predict, true_fn, sample_x, n_train, n_datasets):
    f_test = true_fn(x_test)
    dtype = f_test.dtype

    def one_dataset(k):
        kx, ke, kt = jax.random.split(k, 3)
        x = sample_x(kx, n_train)
        y = true_fn(x) + noise_std * jax.random.normal(ke, (n_train,), dtype)
        pred = fit_predict(x, y, x_test, hyper)
        y_test = f_test + noise_std * jax.random.normal(kt, f_test.shape, dtype)
        return pred, jnp.mean((pred - y_test) ** 2)

    preds, errors = jax.vmap(one_dataset)(jax.random.split(key, n_datasets))
    mean_pred = jnp.mean(preds, axis=0)
    bias2 = jnp.mean((mean_pred - f_test) ** 2)
    variance = jnp.mean(jnp.mean((preds - mean_pred[None, :]) ** 2, axis=0))
    noise = jnp.asarray(noise_std, dtype) ** 2
    return BiasVariance(noise, bias2, variance, jnp.mean(errors), mean_pred, preds)


def bias_variance(
    key: PRNGKey,
    fit_predict: Callable[[Array, Array, Array, Any], Array],
    true_fn: Callable[[Array], Array],
    x_test: Array,
    hyper: Any = None,
    *,
    sample_x: Callable[[PRNGKey, int], Array],
    noise_std,
    n_train: int,
    n_datasets: int = 200,
) -> BiasVariance:
    """Estimate noise, bias² and variance of a learner by resampling training sets (vmapped).

    For s = 1..S: x ~ ``sample_x(key_s, n_train)``, y = f(x) + σε, predictions
    f_s(x_test) = ``fit_predict(x, y, x_test, hyper)``; all S fits run as one ``vmap`` in one
    ``jit``. ``hyper`` is traced, so ``jax.vmap`` over it sweeps model complexity given by a
    number (λ); a structural complexity (polynomial degree) is a different ``fit_predict``
    (see ``make_polynomial_ridge``). Cost: S fits.

    Args:
      key: the randomness of the training sets and of the Monte-Carlo test labels.
      fit_predict: ``fit_predict(x_train, y_train, x_test, hyper) -> (T,)`` predictions; pure.
        Keep it module-level or cached (it keys the compile cache).
      true_fn: the noiseless target f, ``(n, ...) -> (n,)``.
      x_test: test inputs (T, ...).
      hyper: the learner's hyper-parameter (pytree, traced).
      sample_x: ``sample_x(key, n) -> (n, ...)`` draws training inputs.
      noise_std: σ ≥ 0.
      n_train: training-set size N. n_datasets: number S of training sets (≥ 2).

    Returns:
      ``BiasVariance``; noise + bias2 + variance estimates ``expected_error``.
    """
    check_array(x_test, "x_test")
    check_scalar(noise_std, "noise_std", minimum=0.0)
    check_int(n_train, "n_train", minimum=1)
    check_int(n_datasets, "n_datasets", minimum=2)
    return _bias_variance(
        key, hyper, jnp.asarray(x_test), noise_std,
        fit_predict=fit_predict, true_fn=true_fn, sample_x=sample_x,
        n_train=n_train, n_datasets=n_datasets,
    )


def _ridge_solve(Phi, y, lam):
    """(ΦᵀΦ + 2Nλ I) w = Φᵀy by ``jaxml.linear.ridge_path_gram`` (pseudo-inverse floor: λ = 0
    allowed, minimum norm when rank-deficient)."""
    return ridge_path_gram(Phi.T @ Phi, Phi.T @ y, Phi.shape[0], jnp.reshape(lam, (1,)))[0]


@functools.lru_cache(maxsize=64)
def make_polynomial_ridge(degree: int) -> Callable[[Array, Array, Array, Any], Array]:
    """``fit_predict(x, y, x_test, lam)`` for ridge on φ(x) = [1, x, …, x^d] (course λ:
    (ΦᵀΦ + 2Nλ I)w = Φᵀy; λ = 0 gives least squares, minimum-norm when rank-deficient).

    Cached per degree so that ``bias_variance`` compiles once per degree.
    """
    check_int(degree, "degree", minimum=0)

    def fit_predict(x, y, x_test, lam):
        w = _ridge_solve(polynomial_features(x, degree), y, lam)
        return polynomial_features(x_test, degree) @ w

    return fit_predict


@functools.lru_cache(maxsize=64)
def make_polynomial_ridge_upto(max_degree: int) -> Callable[[Array, Array, Array, Any], Array]:
    """``fit_predict(x, y, x_test, (degree, lam))``: ridge on [1, x, …, x^degree] for any traced
    degree ≤ ``max_degree``.

    The features above ``degree`` are zeroed: their eigenvalues in ΦᵀΦ are 0, so (with λ > 0
    or the pseudo-inverse floor at λ = 0) their weights are exactly 0 and the fit equals
    ``make_polynomial_ridge(degree)``. Because the degree is now a number, ``jax.vmap`` sweeps
    model complexity with one compilation.
    """
    check_int(max_degree, "max_degree", minimum=0)

    def fit_predict(x, y, x_test, hyper):
        degree, lam = hyper
        keep = (jnp.arange(max_degree + 1) <= degree).astype(x.dtype)[None, :]
        w = _ridge_solve(polynomial_features(x, max_degree) * keep, y, lam)
        return (polynomial_features(x_test, max_degree) * keep) @ w

    return fit_predict


# ----------------------------------------------------------------------------------------------
# Hoeffding


def _check_hoeffding(n, a, b, num_models=1):
    check_scalar(n, "n", minimum=1.0)
    check_scalar(num_models, "num_models", minimum=1.0)
    if all(isinstance(v, (int, float, np.number, np.ndarray)) for v in (a, b)):
        if np.any(np.asarray(b) <= np.asarray(a)):
            raise ValueError(f"b must be > a (losses lie in [a, b]), got a={a}, b={b}")


def hoeffding_delta(n, eps, a=0.0, b=1.0, num_models=1) -> Array:
    """δ = 2K exp(−2Nε²/(b − a)²): bound on P[max_k |L_D(f_k) − L_test(f_k)| ≥ ε].

    K = ``num_models`` = 1 is Hoeffding's inequality for one model; K > 1 adds the union bound
    over K models evaluated on the same N test samples. A value ≥ 1 means the bound is vacuous.
    Vectorized over its arguments.
    """
    _check_hoeffding(n, a, b, num_models)
    check_scalar(eps, "eps", minimum=0.0, strict_min=True)
    n, eps, a, b, k = (jnp.asarray(v, float_dtype()) for v in (n, eps, a, b, num_models))
    return 2.0 * k * jnp.exp(-2.0 * n * eps**2 / (b - a) ** 2)


def hoeffding_epsilon(n, delta, a=0.0, b=1.0, num_models=1) -> Array:
    """ε = (b − a) sqrt(log(2K/δ) / (2N)): with probability ≥ 1 − δ, every one of the K models
    has |L_D − L_test| ≤ ε (K = 1: a single model). The inverse of ``hoeffding_delta``."""
    _check_hoeffding(n, a, b, num_models)
    check_scalar(delta, "delta", minimum=0.0, maximum=1.0, strict_min=True)
    n, delta, a, b, k = (jnp.asarray(v, float_dtype()) for v in (n, delta, a, b, num_models))
    return (b - a) * jnp.sqrt(jnp.log(2.0 * k / delta) / (2.0 * n))


def hoeffding_sample_size(eps, delta, a=0.0, b=1.0, num_models=1) -> int:
    """Smallest N with 2K exp(−2Nε²/(b − a)²) ≤ δ: N = ⌈(b − a)² log(2K/δ) / (2ε²)⌉."""
    check_scalar(eps, "eps", minimum=0.0, strict_min=True)
    check_scalar(delta, "delta", minimum=0.0, maximum=1.0, strict_min=True)
    _check_hoeffding(1, a, b, num_models)
    return int(np.ceil((b - a) ** 2 * np.log(2.0 * num_models / delta) / (2.0 * eps**2)))


__all__ = [
    "BiasVariance",
    "bias_variance",
    "hoeffding_delta",
    "hoeffding_epsilon",
    "hoeffding_sample_size",
    "make_polynomial_ridge",
    "make_polynomial_ridge_upto",
]
