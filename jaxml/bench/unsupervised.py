"""Benchmarks of k-means and Gaussian mixtures against scikit-learn, through the facade.

Every row times what a user calls: ``jaxml.sklearn.KMeans(...).fit(X)`` /
``jaxml.sklearn.GaussianMixture(...).fit(X)`` on numpy X (validation, transfers and the fitted
attributes' copies included) against the scikit-learn estimator of the same name, with the same
parameters on the same data, in float64 and in float32 (each library computes in X's precision).

- ``kmeans_f64`` / ``kmeans_f32``: Lloyd, N = 200 000·size, D = 16, K = 16, 20 steps from the
  same initial centers (``init=<array>, n_init=1, tol=0``; data without clear clusters so neither
  side stops early); scikit-learn's ``algorithm="lloyd"`` at its default threads (OpenMP over
  all cores). Quality: inertia. jaxml's Lloyd runs on one core (XLA CPU does not split these
  products), scikit-learn's on all: with one other busy process on a 2-core machine its time
  grows ~5× (0.07 s → 0.38 s float64 measured), so only quiet-machine ratios mean anything.
- ``kmeans_default_f64`` / ``kmeans_default_f32``: ``KMeans(16)`` with its defaults (greedy
  k-means++, ``n_init="auto"`` = 1, ``tol=1e-4``, ``random_state=0``); the seeds differ (JAX vs
  numpy random draws), so the rows report both inertias and both step counts.
- ``gmm_full_f64`` / ``gmm_full_f32``: soft EM, full covariances, N = 100 000·size, D = 8, K = 8,
  20 steps from the same weights, means and precisions (tol = 0). Quality: the mean
  log-likelihood of the last E-step (``lower_bound_``).
"""

from __future__ import annotations

import warnings

import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference

KMEANS_STEPS = 20
GMM_STEPS = 20


def _overlapping_blobs(seed, n, d, k, spread):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(k, d))
    return centers[rng.integers(0, k, n)] + rng.normal(size=(n, d))


def _quiet(fn):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()

    return run


def _kmeans_data(size, dtype):
    n, d, k = max(int(200_000 * size), 64), 16, 16
    X = _overlapping_blobs(0, n, d, k, spread=1.0).astype(dtype)
    init = X[np.random.default_rng(1).choice(n, k, replace=False)].copy()
    return X, init, n, d, k


def _kmeans_same_init(size: float, dtype) -> BenchResult:
    import sklearn.cluster

    from jaxml.sklearn import KMeans

    X, init, n, d, k = _kmeans_data(size, dtype)
    params = dict(init=init, n_init=1, max_iter=KMEANS_STEPS, tol=0.0)
    compile_s, jax_s, ours = time_jax(_quiet(lambda: KMeans(k, **params).fit(X)))
    ref_s, ref = time_reference(_quiet(lambda: sklearn.cluster.KMeans(k, algorithm="lloyd", **params).fit(X)))
    name = np.dtype(dtype).name
    return BenchResult(
        task=f"KMeans(16, init=array, n_init=1, max_iter={KMEANS_STEPS}, tol=0).fit N={n} D={d} {name}",
        reference="sklearn KMeans(algorithm='lloyd'), default threads",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="inertia",
        jaxml_quality=float(ours.inertia_),
        reference_quality=float(ref.inertia_),
        goal=1.5,
        notes=(f"facade, numpy in/out; steps run: jaxml {ours.n_iter_}, sklearn {ref.n_iter_}; "
               f"cluster_centers_ dtype {ours.cluster_centers_.dtype} vs {ref.cluster_centers_.dtype}"),
    )


def _kmeans_defaults(size: float, dtype) -> BenchResult:
    import sklearn.cluster

    from jaxml.sklearn import KMeans

    X, _, n, d, k = _kmeans_data(size, dtype)
    compile_s, jax_s, ours = time_jax(_quiet(lambda: KMeans(k, random_state=0).fit(X)))
    ref_s, ref = time_reference(_quiet(lambda: sklearn.cluster.KMeans(k, random_state=0).fit(X)))
    name = np.dtype(dtype).name
    return BenchResult(
        task=f"KMeans(16) defaults (k-means++, n_init='auto', tol=1e-4).fit N={n} D={d} {name}",
        reference="sklearn KMeans(16), default threads",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="inertia",
        jaxml_quality=float(ours.inertia_),
        reference_quality=float(ref.inertia_),
        goal=1.5,
        notes=(f"facade, numpy in/out; different random seeds (JAX vs numpy draws): steps run jaxml "
               f"{ours.n_iter_}, sklearn {ref.n_iter_}"),
    )


def _gmm_full(size: float, dtype) -> BenchResult:
    import sklearn.mixture

    from jaxml.sklearn import GaussianMixture

    n, d, k = max(int(100_000 * size), 64), 8, 8
    X = _overlapping_blobs(2, n, d, k, spread=2.0).astype(dtype)
    rng = np.random.default_rng(3)
    means = X[rng.choice(n, k, replace=False)].astype(np.float64)
    weights = np.full(k, 1.0 / k)
    precisions = np.broadcast_to(np.linalg.inv(np.cov(X.astype(np.float64).T)), (k, d, d)).copy()
    params = dict(covariance_type="full", tol=0.0, max_iter=GMM_STEPS, weights_init=weights, means_init=means,
                  precisions_init=precisions)
    compile_s, jax_s, ours = time_jax(_quiet(lambda: GaussianMixture(k, **params).fit(X)))
    ref_s, ref = time_reference(_quiet(lambda: sklearn.mixture.GaussianMixture(k, **params).fit(X)))
    name = np.dtype(dtype).name
    return BenchResult(
        task=f"GaussianMixture(8, covariance_type='full', max_iter={GMM_STEPS}, tol=0, same init).fit "
             f"N={n} D={d} {name}",
        reference="sklearn GaussianMixture",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="mean log-likelihood",
        jaxml_quality=float(ours.lower_bound_),
        reference_quality=float(ref.lower_bound_),
        goal=3.0,
        notes=f"facade, numpy in/out; steps run: jaxml {ours.n_iter_}, sklearn {ref.n_iter_}",
    )


@register("kmeans_f64", "unsupervised")
def kmeans_f64(size: float) -> BenchResult:
    return _kmeans_same_init(size, np.float64)


@register("kmeans_f32", "unsupervised")
def kmeans_f32(size: float) -> BenchResult:
    return _kmeans_same_init(size, np.float32)


@register("kmeans_default_f64", "unsupervised")
def kmeans_default_f64(size: float) -> BenchResult:
    return _kmeans_defaults(size, np.float64)


@register("kmeans_default_f32", "unsupervised")
def kmeans_default_f32(size: float) -> BenchResult:
    return _kmeans_defaults(size, np.float32)


@register("gmm_full_f64", "unsupervised")
def gmm_full_f64(size: float) -> BenchResult:
    return _gmm_full(size, np.float64)


@register("gmm_full_f32", "unsupervised")
def gmm_full_f32(size: float) -> BenchResult:
    return _gmm_full(size, np.float32)


__all__ = ["gmm_full_f32", "gmm_full_f64", "kmeans_default_f32", "kmeans_default_f64", "kmeans_f32",
           "kmeans_f64"]
