"""Benchmarks of k-means and Gaussian mixtures against scikit-learn (same data, same init).

- ``kmeans``: Lloyd, N = 200 000·size, D = 16, K = 16, float32, 20 steps from the same
  initial centers (tol = 0, data without clear clusters so neither side stops early), vs
  ``sklearn.cluster.KMeans(init=centers, n_init=1, algorithm="lloyd")``; quality: inertia.
- ``gmm_full``: soft EM, full covariances, N = 100 000·size, D = 8, K = 8, float64, 20 steps from
  the same weights, means and precisions (tol = 0), vs ``sklearn.mixture.GaussianMixture``;
  quality: the mean log-likelihood of the last E-step (``lower_bound_``).
"""

from __future__ import annotations

import warnings

import jax
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference

KMEANS_STEPS = 20
GMM_STEPS = 20


def _overlapping_blobs(seed, n, d, k, spread):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(k, d))
    return centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))


@register("kmeans", "unsupervised")
def kmeans_lloyd(size: float) -> BenchResult:
    from sklearn.cluster import KMeans

    from jaxml.unsupervised import kmeans_fit

    n, d, k = max(int(200_000 * size), 64), 16, 16
    X = _overlapping_blobs(0, n, d, k, spread=1.0).astype(np.float32)
    init = X[np.random.default_rng(1).choice(n, k, replace=False)].copy()
    Xj, init_j = jax.numpy.asarray(X), jax.numpy.asarray(init)

    def run_jaxml(X, init):
        return kmeans_fit(X, init, max_iter=KMEANS_STEPS, tol=0.0)

    compile_s, jax_s, ours = time_jax(run_jaxml, Xj, init_j)

    def run_sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return KMeans(k, init=init, n_init=1, max_iter=KMEANS_STEPS, tol=0.0, algorithm="lloyd").fit(X)

    ref_s, ref = time_reference(run_sklearn)
    return BenchResult(
        task=f"k-means Lloyd N={n} D={d} K={k} float32, {KMEANS_STEPS} steps, same init",
        reference="sklearn KMeans(lloyd)",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="inertia",
        jaxml_quality=float(ours.inertia),
        reference_quality=float(ref.inertia_),
        goal=1.5,
        notes=(f"steps run: jaxml {int(ours.n_iter)}, sklearn {ref.n_iter_}; jaxml timed through the "
               "public kmeans_fit (input validation included)"),
    )


@register("gmm_full", "unsupervised")
def gmm_full(size: float) -> BenchResult:
    from sklearn.mixture import GaussianMixture

    from jaxml.unsupervised import GMMParams, gmm_fit, precision_cholesky, precisions_from_cholesky

    n, d, k = max(int(100_000 * size), 64), 8, 8
    X = _overlapping_blobs(2, n, d, k, spread=2.0)
    rng = np.random.default_rng(3)
    means = X[rng.choice(n, k, replace=False)].copy()
    weights = np.full(k, 1.0 / k)
    covariances = np.broadcast_to(np.cov(X.T), (k, d, d)).copy()
    with jax.enable_x64(True):
        init = GMMParams(*(jax.numpy.asarray(a) for a in (weights, means, covariances)))
        precisions = np.asarray(precisions_from_cholesky(precision_cholesky(init.covariances, "full"), "full"))
        Xj = jax.numpy.asarray(X)

        def run_jaxml(X, init):
            return gmm_fit(X, init, covariance_type="full", tol=0.0, max_iter=GMM_STEPS)

        compile_s, jax_s, ours = time_jax(run_jaxml, Xj, init)

    def run_sklearn():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return GaussianMixture(k, covariance_type="full", tol=0.0, max_iter=GMM_STEPS,
                                   weights_init=weights, means_init=means,
                                   precisions_init=precisions).fit(X)

    ref_s, ref = time_reference(run_sklearn)
    return BenchResult(
        task=f"GMM soft EM full covariance N={n} D={d} K={k} float64, {GMM_STEPS} steps, same init",
        reference="sklearn GaussianMixture",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="mean log-likelihood",
        jaxml_quality=float(ours.lower_bound),
        reference_quality=float(ref.lower_bound_),
        goal=3.0,
        notes=f"steps run: jaxml {int(ours.n_iter)}, sklearn {ref.n_iter_}; jaxml timed through the public gmm_fit",
    )


__all__ = ["gmm_full", "kmeans_lloyd"]
