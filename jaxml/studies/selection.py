"""Chapter 2 studies: the bias-variance trade-off and K-fold cross-validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.linear import polynomial_features
from jaxml.selection import (
    bias_variance,
    grid_search_cv,
    make_polynomial_ridge_upto,
    squared_error,
    weighted_ridge,
)
from jaxml.studies import StudyContext, StudyResult, savefig, study

CHAPTER = "2. Generalization and model selection"


def _sine(x):
    return jnp.sin(2 * jnp.pi * x)


def _uniform(key, n):
    return jax.random.uniform(key, (n,), jnp.float64)


@study("bias_variance", CHAPTER, "Noise, bias² and variance against polynomial degree")
def bias_variance_study(ctx: StudyContext) -> StudyResult:
    """Least squares on φ(x) = [1, x, …, x^d] fitted to 25 noisy samples of sin(2πx): the
    decomposition E(f_S(x) − y)² = σ² + bias² + variance from resampled training sets."""
    import matplotlib.pyplot as plt

    degrees = list(range(0, 8 if ctx.quick else 11))
    n_datasets = 300 if ctx.quick else 2000
    noise_std, n_train = 0.3, 25
    with jax.enable_x64(True):  # Vandermonde matrices up to degree 10 need float64
        x_test = jnp.linspace(0.0, 1.0, 101)
        fit_predict = make_polynomial_ridge_upto(max(degrees))

        # One compilation: the degree is a traced number (features above it are zeroed).
        def at_degree(d):
            return bias_variance(
                ctx.key("bias_variance"), fit_predict, _sine, x_test, (d, 0.0),
                sample_x=_uniform, noise_std=noise_std, n_train=n_train, n_datasets=n_datasets,
            )

        bv = jax.vmap(at_degree)(jnp.asarray(degrees))
        rows = np.stack([np.asarray(v) for v in (bv.noise, bv.bias2, bv.variance, bv.expected_error)], 1)
    noise, bias2, variance, error = np.asarray(rows).T
    total = noise + bias2 + variance
    best = int(np.argmin(error))

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.semilogy(degrees, bias2, "o-", label="bias²")
    ax.semilogy(degrees, variance, "s-", label="variance")
    ax.semilogy(degrees, noise, "--", color="gray", label="noise σ²")
    ax.semilogy(degrees, total, "k-", lw=2, label="noise + bias² + variance")
    ax.semilogy(degrees, error, "x", color="red", ms=9, label="test error (Monte Carlo)")
    ax.axvline(degrees[best], color="red", alpha=0.3)
    ax.set_xlabel("polynomial degree d")
    ax.set_ylabel("squared error")
    ax.set_title(f"sin(2πx) + N(0, {noise_std}²), N = {n_train}, {n_datasets} training sets")
    ax.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "bias_variance.png")
    gap = np.max(np.abs(total - error) / error)
    return StudyResult(
        metrics={
            "best degree": str(degrees[best]),
            "min expected test error": f"{error[best]:.4f}",
            "bias² at d=1 / at best": f"{bias2[1]:.3f} / {bias2[best]:.4f}",
            "variance at best / at max degree": f"{variance[best]:.4f} / {variance[-1]:.3g}",
            "max |sum − MC error| / MC error": f"{gap:.2%}",
        },
        figures=[path],
        summary=(
            "Bias² falls and variance rises with the degree; their sum with the noise matches the "
            f"Monte-Carlo test error, which is lowest at degree {degrees[best]}."
        ),
    )


DEGREE = 9


@study("cross_validation", CHAPTER, "5-fold cross-validation error against the ridge λ")
def cross_validation_study(ctx: StudyContext) -> StudyResult:
    """Ridge on degree-9 polynomial features of 40 noisy sine samples; 5-fold CV over a grid of
    λ (one vmapped call over folds × grid) against the test error on fresh data."""
    import matplotlib.pyplot as plt

    from jaxml.core.data import make_sine_regression

    n, k = 40, 5
    lams = np.logspace(-12, 0, 13 if ctx.quick else 40)
    with jax.enable_x64(True):
        x, y = make_sine_regression(ctx.key("cv-data"), n, noise=0.3, dtype=jnp.float64)
        x_test, y_test = make_sine_regression(ctx.key("cv-test"), 5000, noise=0.3, dtype=jnp.float64)
        Phi, Phi_test = polynomial_features(x, DEGREE), polynomial_features(x_test, DEGREE)
        # weighted ridge (1/(2Σs))Σ s(y − φᵀw)² + λ‖w‖² on the training folds
        grid = grid_search_cv(
            weighted_ridge, squared_error, Phi, y, jnp.asarray(lams), key=ctx.key("cv-folds"), k=k
        )
        full = jax.vmap(lambda lam: weighted_ridge(Phi, y, jnp.ones(n), lam))(jnp.asarray(lams))
        test_error = np.asarray(jnp.mean((y_test[None, :] - full @ Phi_test.T) ** 2, axis=1))
        mean, variance = np.asarray(grid.mean), np.asarray(grid.variance)
    stderr = np.sqrt(variance / k)
    best = int(grid.best_index)
    oracle = int(np.argmin(test_error))

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.errorbar(lams, mean, yerr=stderr, fmt="o-", ms=3, capsize=2, label=f"{k}-fold CV error ± s.e.")
    ax.plot(lams, test_error, "k--", label="test error (5000 fresh points)")
    ax.axhline(0.09, color="gray", lw=0.8, label="noise σ²")
    ax.axvline(lams[best], color="C0", alpha=0.4, label=f"CV choice λ = {lams[best]:.1e}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("λ")
    ax.set_ylabel("mean squared error")
    ax.set_title(f"ridge, degree-{DEGREE} polynomial, N = {n}")
    ax.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "cross_validation.png")
    return StudyResult(
        metrics={
            "λ chosen by CV": f"{lams[best]:.2e}",
            "CV error at choice": f"{mean[best]:.4f} ± {stderr[best]:.4f}",
            "test error at CV choice": f"{test_error[best]:.4f}",
            "best test error (oracle λ)": f"{test_error[oracle]:.4f} at λ = {lams[oracle]:.1e}",
        },
        figures=[path],
        summary=(
            "The CV curve tracks the test error: small λ overfits, large λ underfits, and the "
            f"λ picked by CV gives a test error within {test_error[best] / test_error[oracle] - 1:.1%} "
            "of the best λ."
        ),
    )


STUDIES = ["bias_variance", "cross_validation"]
__all__ = ["bias_variance_study", "cross_validation_study"]
