"""Benchmark entries for kNN and kernel ridge (the SVMs: ``linear_svc``, ``svc``) — jaxml against scikit-learn on the
same data in the same process."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference
from jaxml.kernels import (
    as_kernel,
    kernel_ridge_fit,
    kernel_ridge_predict,
    knn_classify,
    rbf_kernel,
)
from jaxml.kernels.knn import DEFAULT_CHUNK


def _blobs(seed: int, n: int, d: int, classes: int, spread: float):
    """Gaussian classes around random centres (N(0, spread²I) centres, unit noise), float32."""
    rng = np.random.default_rng(seed)
    centres = spread * rng.standard_normal((classes, d))
    y = rng.integers(0, classes, n)
    X = centres[y] + rng.standard_normal((n, d))
    return X.astype(np.float32), y.astype(np.int32)


@register("knn", "kernels")
def knn(size: float) -> BenchResult:
    """kNN classification: 10000·size queries vs 50000·size points, D=32, k=5 (float32)."""
    from sklearn.neighbors import KNeighborsClassifier

    n, q, d, k, classes = max(int(50_000 * size), 100), max(int(10_000 * size), 10), 32, 5, 10
    X, y = _blobs(0, n + q, d, classes, spread=0.5)
    X, Xq, y, yq = X[:n], X[n:], y[:n], y[n:]
    ref_model = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(X, y)
    ref_s, ref_pred = time_reference(ref_model.predict, Xq)
    Xj, yj, Xqj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(Xq)

    def predict(Xj, yj, Xqj):
        return knn_classify(Xj, yj, Xqj, k, num_classes=classes)

    compile_s, jax_s, pred = time_jax(predict, Xj, yj, Xqj)
    pred = np.asarray(pred)
    agreement = float(np.mean(pred == ref_pred))
    return BenchResult(
        task=f"kNN k={k} Q={q} N={n} D={d} float32",
        reference='sklearn KNeighborsClassifier(algorithm="brute").predict',
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="test accuracy",
        jaxml_quality=float(np.mean(pred == yq)),
        reference_quality=float(np.mean(ref_pred == yq)),
        goal=1.0,
        notes=f"‖x‖²−2qᵀx scores, exact two-stage blocked lax.top_k, {DEFAULT_CHUNK} queries a chunk; predictions "
        f"agree with scikit-learn on {100 * agreement:.2f}% of queries (float32 rounding of near ties).",
    )


def _regression(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] ** 2 - X[:, 2] * X[:, 3] + 0.2 * rng.standard_normal(n)
    return X, y


@register("kernel_ridge", "kernels")
def kernel_ridge(size: float) -> BenchResult:
    """Kernel ridge RBF, N=5000·size train, 2000 test, D=8 (float64), fit + predict."""
    from sklearn.kernel_ridge import KernelRidge

    n, m, d = max(int(5_000 * size), 50), 2_000, 8
    X, y = _regression(1, n + m, d)
    X, Xt, y, yt = X[:n], X[n:], y[:n], y[n:]
    gamma, alpha = 0.3, 1.0
    lam = alpha / (2 * n)

    def reference():
        return KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(X, y).predict(Xt)

    ref_s, ref_pred = time_reference(reference)
    with jax.enable_x64(True):
        kernel = as_kernel(rbf_kernel, gamma=gamma)

        def fit_predict(X, y, Xt, lam):
            return kernel_ridge_predict(kernel, kernel_ridge_fit(kernel, X, y, lam), Xt)

        compile_s, jax_s, pred = time_jax(fit_predict, jnp.asarray(X), jnp.asarray(y), jnp.asarray(Xt), lam)
        pred = np.asarray(pred)
    return BenchResult(
        task=f"kernel ridge RBF N={n} D={d} + predict {m}, float64",
        reference='sklearn KernelRidge(kernel="rbf").fit().predict()',
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="test MSE",
        jaxml_quality=float(np.mean((pred - yt) ** 2)),
        reference_quality=float(np.mean((ref_pred - yt) ** 2)),
        goal=1.0,
        notes=f"alpha = 2Nλ = {alpha}; Gram by one matmul, Cholesky solve of K + 2NλI. "
        f"max |prediction difference| {np.max(np.abs(pred - ref_pred)):.2e}.",
    )


# The SVMs' entries live in their own modules; importing them registers them with this family.
import jaxml.bench.linear_svc  # noqa: E402, F401
import jaxml.bench.svc  # noqa: E402, F401

__all__: list[str] = []
