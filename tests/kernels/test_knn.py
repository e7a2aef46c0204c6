"""kNN vs scikit-learn's brute-force neighbours, tie rule, chunking, bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from jaxml.kernels import knn_classify, knn_predict_proba, knn_regress, nearest_neighbors


def _data(n=200, q=57, d=5, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, classes, n)
    return X, y, rng.normal(size=(q, d))


@pytest.mark.parametrize("k", [1, 4, 7])
def test_classifier_and_regressor_match_sklearn(x64, k):
    X, y, Q = _data()
    ref = KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(X, y)
    # chunk_size 16 does not divide 57 queries: the ragged last chunk is exercised.
    np.testing.assert_array_equal(knn_classify(X, y, Q, k, chunk_size=16), ref.predict(Q))
    np.testing.assert_allclose(knn_predict_proba(X, y, Q, k, chunk_size=16), ref.predict_proba(Q), atol=1e-15)
    dist, idx = ref.kneighbors(Q)
    sq, ours = nearest_neighbors(X, Q, k, chunk_size=16)
    np.testing.assert_array_equal(ours, idx)
    np.testing.assert_allclose(np.sqrt(sq), dist, rtol=1e-10, atol=1e-12)
    targets = X @ np.arange(1.0, 6.0) + y
    reg = KNeighborsRegressor(n_neighbors=k, algorithm="brute").fit(X, targets)
    np.testing.assert_allclose(knn_regress(X, targets, Q, k, chunk_size=16), reg.predict(Q), rtol=1e-12)
    # multi-output regression
    two = np.stack([targets, -2 * targets], axis=1)
    reg2 = KNeighborsRegressor(n_neighbors=k, algorithm="brute").fit(X, two)
    np.testing.assert_allclose(knn_regress(X, two, Q, k), reg2.predict(Q), rtol=1e-12)


@pytest.mark.parametrize("n", [200, 3001])
def test_manhattan_matches_sklearn(x64, n):
    X, _, Q = _data(n=n)
    dist, idx = NearestNeighbors(n_neighbors=6, algorithm="brute", metric="manhattan").fit(X).kneighbors(Q)
    ours_dist, ours_idx = nearest_neighbors(X, Q, 6, metric="manhattan")
    np.testing.assert_array_equal(ours_idx, idx)
    np.testing.assert_allclose(ours_dist, dist, rtol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_select_equals_top_k_with_ties(x64, dtype):
    from jaxml.kernels.knn import _select

    # Few distinct values: many exact ties, which must go to the lower index as in lax.top_k.
    scores = jnp.asarray(np.random.default_rng(2).integers(0, 5, size=(30, 300)), dtype)
    for k in (1, 4, 16, 17):
        best, idx = _select(scores, k)
        ref_best, ref_idx = jax.lax.top_k(scores, k)
        np.testing.assert_array_equal(best, ref_best)
        np.testing.assert_array_equal(idx, ref_idx)


def test_vote_tie_goes_to_smallest_label(x64):
    # Query at 0; neighbours at distances 1, 2, 3, 4 with labels 3, 1, 1, 3: a 2–2 tie between
    # classes 1 and 3 → class 1 (the smallest), as scikit-learn does, whatever the order.
    X = np.array([[1.0], [2.0], [3.0], [4.0], [10.0]])
    y = np.array([3, 1, 1, 3, 0])
    Q = np.array([[0.0]])
    assert int(knn_classify(X, y, Q, 4)[0]) == 1
    assert KNeighborsClassifier(n_neighbors=4, algorithm="brute").fit(X, y).predict(Q)[0] == 1
    y_swapped = np.array([1, 3, 3, 1, 0])
    assert int(knn_classify(X, y_swapped, Q, 4)[0]) == 1


def test_chunk_size_does_not_change_answer(key):
    X, y, Q = _data(q=100)
    a = knn_classify(X, y, Q, 5, chunk_size=7)
    b = knn_classify(X, y, Q, 5, chunk_size=1000)
    np.testing.assert_array_equal(a, b)


def test_float32_agrees_with_sklearn():
    X, y, Q = _data(d=8, seed=3)
    X32, Q32 = X.astype(np.float32), Q.astype(np.float32)
    ours = knn_classify(X32, y, Q32, 5)
    ref = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X, y).predict(Q)
    assert (np.asarray(ours) == ref).mean() >= 0.98
    assert nearest_neighbors(X32, Q32, 3)[0].dtype == jnp.float32


def test_no_recompile_and_jit_equals_eager(x64):
    X, y, Q = _data()
    jitted = jax.jit(chex.assert_max_traces(lambda X, Q: nearest_neighbors(X, Q, 3, chunk_size=8), n=1))
    a = jitted(jnp.asarray(X), jnp.asarray(Q))
    b = jitted(jnp.asarray(X) + 1.0, jnp.asarray(Q))  # new values: no retrace
    with jax.disable_jit():
        eager = nearest_neighbors(jnp.asarray(X), jnp.asarray(Q), 3, chunk_size=8)
    np.testing.assert_array_equal(a[1], eager[1])
    np.testing.assert_allclose(a[0], eager[0], rtol=1e-12)
    assert b[0].shape == (57, 3)


def test_vmap_over_training_sets(x64):
    # Leave-one-block-out style: vmapped search over 3 training sets equals a loop.
    X, _, Q = _data()
    sets = jnp.stack([X[:60], X[60:120], X[120:180]])
    batched = jax.vmap(lambda Xs: nearest_neighbors(Xs, jnp.asarray(Q), 2, chunk_size=16))(sets)
    for i in range(3):
        np.testing.assert_array_equal(batched[1][i], nearest_neighbors(sets[i], Q, 2, chunk_size=16)[1])


def test_bad_input():
    X, y, Q = _data(n=10)
    with pytest.raises(ValueError, match="k must be <= the number of training points"):
        knn_classify(X, y, Q, 11)
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn_classify(X, y, Q, 0)
    with pytest.raises(ValueError, match="X_query"):
        knn_classify(X, y, Q[:, :2], 3)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        knn_regress(X, y[:5].astype(float), Q, 3)
    with pytest.raises(ValueError, match="y_train"):
        knn_classify(X, y.astype(float), Q, 3)
    with pytest.raises(ValueError, match="y_train must take values"):
        knn_classify(X, y, Q, 3, num_classes=2)
    with pytest.raises(ValueError, match="X_train"):
        knn_classify(np.full_like(X, np.nan), y, Q, 3)
    with pytest.raises(ValueError, match="metric"):
        nearest_neighbors(X, Q, 3, metric="chebyshev")


def test_blocked_search_matches_sklearn(x64):
    # N = 3001 > 2k·128: the two-stage selection (with a padded last block and tile) is used; the
    # default chunk (64) gives 3 tiles of 1024 points, small chunks a single tile.
    X, y, Q = _data(n=3001, q=70, d=4)
    dist, idx = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X, y).kneighbors(Q)
    for chunk in (None, 8, 1):
        sq, ours = nearest_neighbors(X, Q, 5, chunk_size=chunk)
        np.testing.assert_array_equal(ours, idx)
        np.testing.assert_allclose(np.sqrt(sq), dist, rtol=1e-10, atol=1e-12)
    # duplicated training points: exact ties (scikit-learn orders them arbitrarily; ours lower index first)
    X2 = np.concatenate([X, X[:1500]])
    sq2, idx2 = nearest_neighbors(X2, Q, 5)
    _, ref2 = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X2, np.r_[y, y[:1500]]).kneighbors(Q)
    np.testing.assert_array_equal(np.sort(idx2, axis=1), np.sort(ref2, axis=1))
    tied = np.asarray(sq2[:, 1:] == sq2[:, :-1])
    assert np.all(np.asarray(idx2[:, 1:] > idx2[:, :-1])[tied])


def test_float64_prefiltered_search_verifies_or_defers(x64):
    """The float32 pre-search + float64 check: verified queries get the exact float64 neighbours;
    near-ties closer than float32 can tell apart are not verified."""
    from jaxml.kernels.knn import _search, _search_float64_prefiltered

    X, _, Q = _data(n=700, q=40, d=6)
    # Queries 0..9 get 12 near-copies each, 1e-6 apart: squared distances 1e-12 apart, below float32
    # resolution (the check must refuse them) but not float64's.
    near = np.concatenate([Q[i] + 1e-6 * np.arange(1, 13)[:, None] * np.eye(6)[0] for i in range(10)])
    X = np.concatenate([X, near])
    dist, idx, verified = _search_float64_prefiltered(jnp.asarray(X), jnp.asarray(Q), 3)
    verified = np.asarray(verified)
    assert not verified[:10].any() and verified[10:].all()
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(X).kneighbors(Q[10:])
    np.testing.assert_array_equal(np.asarray(idx)[10:], ref_idx)
    np.testing.assert_allclose(np.sqrt(np.asarray(dist)[10:]), ref_dist, rtol=1e-12)
    # the float64 search, which the facade falls back to, separates the near-copies
    _, idx64 = _search(jnp.asarray(X), jnp.asarray(Q[:10]), 3)
    np.testing.assert_array_equal(np.asarray(idx64), 700 + 12 * np.arange(10)[:, None] + np.arange(3)[None, :])
