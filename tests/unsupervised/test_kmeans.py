"""k-means: agreement with scikit-learn, monotone WCSS, empty clusters, k-means++, restarts, elbow."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans

from jaxml.studies.unsupervised import plot_elbow
from jaxml.unsupervised import (
    elbow_point,
    kmeans_elbow,
    kmeans_fit,
    kmeans_inertia,
    kmeans_init,
    kmeans_plusplus,
    kmeans_predict,
    kmeans_random_init,
    kmeans_restarts,
    kmeans_score,
    kmeans_step,
    kmeans_transform,
)
from jaxml.unsupervised import kmeans as kmeans_module


def blobs(seed=0, n=300, d=3, k=4, spread=4.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(k, d))
    labels = rng.integers(0, k, n)
    return centers[labels] + rng.normal(size=(n, d)), labels


def sklearn_lloyd(X, init, tol, max_iter=300):
    return KMeans(init.shape[0], init=init, n_init=1, tol=tol, max_iter=max_iter, algorithm="lloyd").fit(X)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_from_same_init(x64, seed):
    X, _ = blobs(seed, k=5, spread=2.0)  # overlapping: many steps
    init = X[np.random.default_rng(seed).choice(len(X), 5, replace=False)]
    ref = sklearn_lloyd(X, init, tol=1e-4)
    ours = kmeans_fit(X, init, tol=1e-4 * np.mean(np.var(X, axis=0)))
    assert int(ours.n_iter) == ref.n_iter_
    np.testing.assert_array_equal(np.asarray(ours.labels), ref.labels_)
    np.testing.assert_allclose(np.asarray(ours.centers), ref.cluster_centers_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(ours.inertia), ref.inertia_, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 5])
def test_stops_when_the_assignment_is_stable_like_sklearn(x64, seed):
    # tol = 0: only an unchanged assignment stops either library (scikit-learn compares labels,
    # the fit compares cluster sums and counts), so the step counts must agree exactly.
    X, _ = blobs(seed, n=500, k=6, spread=1.5)
    init = X[np.random.default_rng(seed).choice(len(X), 6, replace=False)]
    ref = sklearn_lloyd(X, init, tol=0.0)
    ours = kmeans_fit(X, init, tol=0.0)
    assert ref.n_iter_ < 300 and bool(ours.converged)
    assert int(ours.n_iter) == ref.n_iter_
    np.testing.assert_array_equal(np.asarray(ours.labels), ref.labels_)


def test_matches_sklearn_float32(key):
    X, _ = blobs(3, k=4)
    X = X.astype(np.float32)
    init = X[:4].copy()
    ref = sklearn_lloyd(X, init, tol=0.0)
    ours = kmeans_fit(X, init, tol=0.0)
    assert ours.centers.dtype == jnp.float32
    assert np.mean(np.asarray(ours.labels) == ref.labels_) > 0.99
    np.testing.assert_allclose(float(ours.inertia), ref.inertia_, rtol=1e-4)


def test_wcss_is_non_increasing_and_ends_at_inertia(x64):
    X, _ = blobs(4, n=400, k=6, spread=1.5)
    init = X[:6]
    res = kmeans_fit(X, init, tol=0.0, max_iter=100)
    n = int(res.n_iter)
    hist = np.asarray(res.wcss_history)
    assert n > 3 and np.all(np.isnan(hist[n:])) and np.all(np.isfinite(hist[:n]))
    assert np.all(np.diff(hist[:n]) <= 1e-9 * hist[0])
    # converged by a stable assignment: the last step's WCSS is the final inertia
    assert bool(res.converged)
    np.testing.assert_allclose(hist[n - 1], float(res.inertia), rtol=1e-10)
    np.testing.assert_allclose(float(res.inertia), float(kmeans_inertia(res.centers, X, res.labels)), rtol=1e-12)


def test_step_by_step_equals_fit(x64):
    X, _ = blobs(5)
    init = jnp.asarray(X[:4])
    state = kmeans_init(init, X.shape[0])
    wcss = []
    for _ in range(5):
        state, info = kmeans_step(state, jnp.asarray(X))
        wcss.append(float(info.wcss))
    fit = kmeans_fit(X, init, tol=0.0, max_iter=5)
    np.testing.assert_allclose(np.asarray(state.centers), np.asarray(fit.centers), rtol=1e-12)
    np.testing.assert_allclose(wcss[: int(fit.n_iter)], np.asarray(fit.wcss_history)[: int(fit.n_iter)], rtol=1e-10)


def test_empty_cluster_reseeded_from_farthest_point(x64):
    X, _ = blobs(6, k=3)
    far = np.array([[1e3, 1e3, 1e3], [-1e3, 1e3, 0.0]])  # two centers nobody picks
    init = np.vstack([X[:3], far])
    res = kmeans_fit(X, init, tol=0.0)
    ref = sklearn_lloyd(X, init, tol=0.0)
    assert np.all(np.isfinite(np.asarray(res.centers)))
    assert np.unique(np.asarray(res.labels)).size == 5  # every cluster got points back
    np.testing.assert_array_equal(np.asarray(res.labels), ref.labels_)
    np.testing.assert_allclose(float(res.inertia), ref.inertia_, rtol=1e-10)
    # the first step reported the two empty clusters
    state, info = kmeans_step(kmeans_init(jnp.asarray(init), len(X)), jnp.asarray(X))
    assert int(info.num_empty) == 2
    d2 = np.min(((X[:, None, :] - init[None, :3]) ** 2).sum(-1), axis=1)
    farthest = set(np.argsort(-d2)[:2].tolist())
    got = {int(np.argmin(((X - c) ** 2).sum(1))) for c in np.asarray(state.centers)[3:]}
    assert got == farthest


def test_duplicate_points_no_nan(x64):
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 10, axis=0)  # 2 distinct points, K = 4
    res = kmeans_fit(X, X[[0, 1, 2, 3]], tol=0.0)
    assert np.all(np.isfinite(np.asarray(res.centers)))
    assert float(res.inertia) == pytest.approx(0.0, abs=1e-12)
    centers, _ = kmeans_plusplus(jax.random.key(0), X, 4)
    assert np.all(np.isfinite(np.asarray(centers)))


def test_kmeans_plusplus_d2_distribution(x64):
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    n = len(X)
    d2 = (X - X.T) ** 2
    # P(second = j) = Σ_i (1/N) d²(i, j) / Σ_m d²(i, m)
    expected = np.mean(d2 / d2.sum(axis=1, keepdims=True), axis=0)
    keys = jax.random.split(jax.random.key(1), 4000)
    idx = jax.vmap(lambda k: kmeans_module._plusplus_impl(k, jnp.asarray(X), 2, 1)[1])(keys)
    freq = np.bincount(np.asarray(idx[:, 1]), minlength=n) / len(keys)
    np.testing.assert_allclose(freq, expected, atol=0.03)
    assert np.all(np.asarray(idx[:, 0]) != np.asarray(idx[:, 1]))  # D² = 0 at the first center


def test_kmeans_plusplus_prefix_and_greedy(x64, key):
    X, _ = blobs(7, n=200, k=5)
    c8, i8 = kmeans_plusplus(key, X, 8)
    c3, i3 = kmeans_plusplus(key, X, 3)
    np.testing.assert_array_equal(np.asarray(i8)[:3], np.asarray(i3))
    np.testing.assert_array_equal(np.asarray(c8), X[np.asarray(i8)])
    # greedy trials lower the seeding potential on average
    def potential(c):
        return np.sum(np.min(((X[:, None] - np.asarray(c)[None]) ** 2).sum(-1), axis=1))
    keys = jax.random.split(key, 20)
    plain = np.mean([potential(kmeans_plusplus(k, X, 5)[0]) for k in keys])
    greedy = np.mean([potential(kmeans_plusplus(k, X, 5, num_local_trials=4)[0]) for k in keys])
    assert greedy < plain


def test_restarts_equal_loop_over_keys(x64, key):
    X, _ = blobs(8, n=200, k=5, spread=2.0)
    best, inertias = kmeans_restarts(key, X, 5, n_init=4, num_local_trials=2, tol=0.0)
    loop = []
    for k in jax.random.split(key, 4):
        centers = kmeans_module._plusplus(k, jnp.asarray(X), 5, 2)[0]
        loop.append(float(kmeans_fit(X, centers, tol=0.0).inertia))
    np.testing.assert_allclose(np.asarray(inertias), loop, rtol=1e-12)
    assert float(best.inertia) == pytest.approx(min(loop), rel=1e-12)
    rand_best, _ = kmeans_restarts(key, X, 5, n_init=3, init="random")
    assert np.isfinite(float(rand_best.inertia))


def test_elbow_masked_runs_equal_unpadded_runs(x64, key):
    X, _ = blobs(9, n=240, k=4, spread=6.0)
    ks = [1, 2, 3, 4, 5, 6]
    res = kmeans_elbow(key, X, ks, n_init=2, tol=0.0)
    keys = jax.random.split(key, 2)
    for k, inertia in zip(ks, np.asarray(res.inertias), strict=True):
        runs = [float(kmeans_fit(X, kmeans_plusplus(kk, X, k)[0], tol=0.0).inertia) for kk in keys]
        assert inertia == pytest.approx(min(runs), rel=1e-10)
    assert elbow_point(ks, res.inertias) == 4
    ax = plot_elbow(ks, res.inertias)
    assert ax.get_xlabel().startswith("number of clusters")
    curve, marker = ax.get_lines()
    np.testing.assert_array_equal(curve.get_xdata(), ks)
    assert list(marker.get_xdata()) == [4]  # the elbow is marked


def test_vmap_over_tol_equals_loop(x64):
    X, _ = blobs(10, k=4, spread=1.5)
    init = jnp.asarray(X[:4])
    tols = jnp.asarray([0.0, 1e-2, 1.0])
    batched = jax.vmap(lambda t: kmeans_fit(X, init, tol=t).n_iter)(tols)
    loop = [int(kmeans_fit(X, init, tol=float(t)).n_iter) for t in tols]
    np.testing.assert_array_equal(np.asarray(batched), loop)
    assert loop[0] > loop[2]


def test_jit_equals_eager_and_no_recompilation(x64):
    X, _ = blobs(11)
    init = X[:4]
    jitted = kmeans_fit(X, init)
    with jax.disable_jit():
        eager = kmeans_fit(X, init)
    np.testing.assert_allclose(np.asarray(eager.centers), np.asarray(jitted.centers), rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(eager.labels), np.asarray(jitted.labels))
    # tol is traced: one trace serves every tolerance, and the answers are those of the public
    # eager-dispatched calls
    fit = jax.jit(chex.assert_max_traces(lambda X, init, tol: kmeans_fit(X, init, tol=tol), n=1))
    tight, loose = fit(X, init, 0.0), fit(X, init, 1e3)
    assert int(loose.n_iter) == 1 < int(tight.n_iter)
    for tol, run in ((0.0, tight), (1e3, loose)):
        direct = kmeans_fit(X, init, tol=tol)
        np.testing.assert_allclose(np.asarray(run.centers), np.asarray(direct.centers), rtol=1e-12)
        assert int(run.n_iter) == int(direct.n_iter)


def test_predict_and_random_init(x64, key):
    X, _ = blobs(12)
    res = kmeans_fit(X, kmeans_random_init(key, X, 4))
    np.testing.assert_array_equal(np.asarray(kmeans_predict(res.centers, X)), np.asarray(res.labels))
    assert len(np.unique(np.asarray(kmeans_random_init(key, X, 10)), axis=0)) == 10


def test_blocked_steps_match_sklearn_and_the_unblocked_assignment(x64):
    # N = 9000 > the block of 4096 rows: two scanned blocks and a remainder of 808 rows
    X, _ = blobs(14, n=9000, k=5, spread=1.5)
    w = np.random.default_rng(14).uniform(0.0, 2.0, len(X))
    init = X[:5]
    ours = kmeans_fit(X, init, tol=0.0, sample_weight=w)
    ref = KMeans(5, init=init, n_init=1, tol=0.0, algorithm="lloyd").fit(X, sample_weight=w)
    assert int(ours.n_iter) == ref.n_iter_
    np.testing.assert_array_equal(np.asarray(ours.labels), ref.labels_)
    np.testing.assert_allclose(np.asarray(ours.centers), ref.cluster_centers_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(float(ours.inertia), ref.inertia_, rtol=1e-12)
    Xj, wj, centers = jnp.asarray(X), jnp.asarray(w), jnp.asarray(init)
    x_sq = jnp.sum(Xj * Xj, axis=1)
    labels, min_d2, sums, counts = kmeans_module._blocked_moments(Xj, x_sq, centers, wj, Xj * wj[:, None])
    want_labels, want_d2 = kmeans_module._assign(Xj, x_sq, centers, None)
    np.testing.assert_array_equal(np.asarray(labels), np.asarray(want_labels))
    np.testing.assert_allclose(np.asarray(min_d2), np.asarray(want_d2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sums), np.asarray(jax.ops.segment_sum(Xj * wj[:, None], want_labels, 5)),
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(counts), np.asarray(jax.ops.segment_sum(wj, want_labels, 5)), rtol=1e-12)


def test_integer_weights_equal_repeated_points(x64, key):
    X, _ = blobs(15, n=120, k=4, spread=2.0)
    counts = np.random.default_rng(15).integers(0, 4, len(X))
    init = X[counts > 0][:4]
    weighted = kmeans_fit(X, init, tol=0.0, sample_weight=counts.astype(float))
    repeated = kmeans_fit(np.repeat(X, counts, axis=0), init, tol=0.0)
    np.testing.assert_allclose(np.asarray(weighted.centers), np.asarray(repeated.centers), rtol=1e-12)
    assert float(weighted.inertia) == pytest.approx(float(repeated.inertia), rel=1e-12)
    # weighted seeding never picks a zero-weight point
    _, idx = kmeans_plusplus(key, X, 8, num_local_trials=3, sample_weight=counts.astype(float))
    assert np.all(counts[np.asarray(idx)] > 0)


def test_transform_and_score_match_sklearn(x64):
    X, _ = blobs(16, n=200, k=3)
    Xt = X[:50] + 100.0  # far from the origin: the expansion is taken about the centers' mean
    ref = KMeans(3, init=X[:3], n_init=1, algorithm="lloyd").fit(X)
    centers = ref.cluster_centers_
    np.testing.assert_allclose(np.asarray(kmeans_transform(centers, Xt)), ref.transform(Xt), rtol=1e-12)
    w = np.arange(50.0)
    assert float(kmeans_score(centers, Xt, sample_weight=w)) == pytest.approx(ref.score(Xt, sample_weight=w),
                                                                               rel=1e-12)
    np.testing.assert_array_equal(np.asarray(kmeans_predict(centers, Xt)), ref.predict(Xt))
    assert kmeans_transform(centers.astype(np.float32), Xt.astype(np.float32)).dtype == jnp.float32


def test_bad_input():
    X, _ = blobs(13, n=20)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_plusplus(jax.random.key(0), X, 21)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_restarts(jax.random.key(0), X, 0)
    with pytest.raises(ValueError, match="init_centers"):
        kmeans_fit(X, np.zeros((21, 3)))
    with pytest.raises(ValueError, match="init_centers"):
        kmeans_fit(X, np.zeros((2, 4)))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains"):
        kmeans_fit(bad, X[:2])
    with pytest.raises(ValueError, match="tol"):
        kmeans_fit(X, X[:2], tol=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        kmeans_fit(X, X[:2], max_iter=0)
    with pytest.raises(ValueError, match="sample_weight"):
        kmeans_fit(X, X[:2], sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        kmeans_fit(X, X[:2], sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="init"):
        kmeans_restarts(jax.random.key(0), X, 2, init="farthest")
    with pytest.raises(ValueError, match="ks"):
        kmeans_elbow(jax.random.key(0), X, [1, 25])
