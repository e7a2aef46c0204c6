"""jaxml.sklearn.KNeighborsClassifier: estimator checks and agreement with scikit-learn."""

import warnings

import numpy as np
import pytest
import sklearn.neighbors as sk_nb
from sklearn.datasets import load_iris
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import KNeighborsClassifier


@parametrize_with_checks([KNeighborsClassifier(), KNeighborsClassifier(weights="distance", metric="manhattan")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(n=300, q=77, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.choice(np.array(["a", "b", "c"]), n), rng.normal(size=(q, d))


def test_same_parameters_as_sklearn():
    assert KNeighborsClassifier().get_params() == sk_nb.KNeighborsClassifier().get_params()


def _assert_same(ours, ref, Xq):
    np.testing.assert_array_equal(ours.predict(Xq), ref.predict(Xq))
    np.testing.assert_allclose(ours.predict_proba(Xq), ref.predict_proba(Xq), rtol=1e-12, atol=1e-15)
    d_ours, i_ours = ours.kneighbors(Xq)
    d_ref, i_ref = ref.kneighbors(Xq)
    np.testing.assert_array_equal(i_ours, i_ref)
    np.testing.assert_allclose(d_ours, d_ref, rtol=1e-10)
    assert d_ours.dtype == d_ref.dtype and ours.predict_proba(Xq).dtype == np.float64


# N = 3001 > 2k·128 blocks: the two-stage blocked selection (with a ragged last block and tile) is used;
# N = 300 with k = 9 (3 blocks < 2k): the direct selection.
@pytest.mark.parametrize("n", [300, 3001])
@pytest.mark.parametrize("kw", [dict(n_neighbors=1), dict(n_neighbors=4), dict(n_neighbors=9, weights="distance"),
                                dict(n_neighbors=3, p=1), dict(metric="manhattan", weights="distance"),
                                dict(metric="euclidean", weights=lambda d: np.exp(-d))])
def test_agrees_with_sklearn(n, kw):
    X, y, Xq = _data(n=n)
    ours = KNeighborsClassifier(**kw).fit(X, y)
    ref = sk_nb.KNeighborsClassifier(**kw).fit(X, y)
    _assert_same(ours, ref, Xq)
    assert ours.effective_metric_ == ref.effective_metric_
    # X=None: each training point's neighbours without itself.
    _assert_same(ours, ref, None)


def test_training_queries_with_duplicates():
    # More exact duplicates than neighbours: scikit-learn drops the first neighbour, not the point.
    X, y, _ = _data(n=40)
    X = np.concatenate([X, np.repeat(X[:1], 5, axis=0)])
    y = np.concatenate([y, np.repeat(y[:1], 5)])
    ours = KNeighborsClassifier(n_neighbors=3).fit(X, y).kneighbors(return_distance=False)
    ref = sk_nb.KNeighborsClassifier(n_neighbors=3, algorithm="brute").fit(X, y).kneighbors(return_distance=False)
    dup = np.r_[0, 40:45]
    mask = np.ones(len(X), bool)
    mask[dup] = False
    # elsewhere the same neighbours, the copies (exact ties, ordered arbitrarily by scikit-learn) counted as one
    canon = np.where(np.isin(np.arange(len(X)), dup), 0, np.arange(len(X)))
    np.testing.assert_array_equal(np.sort(canon[ours[mask]], axis=1), np.sort(canon[ref[mask]], axis=1))
    # scikit-learn orders exact ties arbitrarily: the duplicates' neighbours are other copies, never themselves
    assert np.all(np.isin(ours[dup], dup))
    assert not np.any(ours[dup] == dup[:, None])


def test_distance_weights_at_zero_distance():
    # A query equal to a training point votes with the zero-distance neighbours only.
    X = np.array([[0.0], [1.0], [1.1], [1.2]])
    y = np.array([0, 1, 1, 1])
    ours = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(X, y)
    ref = sk_nb.KNeighborsClassifier(n_neighbors=4, weights="distance").fit(X, y)
    np.testing.assert_allclose(ours.predict_proba([[0.0], [0.5]]), ref.predict_proba([[0.0], [0.5]]), rtol=1e-14)
    assert ours.predict([[0.0]])[0] == 0


def test_multi_output():
    X, y, Xq = _data()
    Y = np.stack([y, np.random.default_rng(1).integers(0, 4, len(y))], axis=1)
    ours = KNeighborsClassifier(n_neighbors=4, weights="distance").fit(X, Y)
    ref = sk_nb.KNeighborsClassifier(n_neighbors=4, weights="distance").fit(X, Y)
    np.testing.assert_array_equal(ours.predict(Xq), ref.predict(Xq))
    for a, b in zip(ours.predict_proba(Xq), ref.predict_proba(Xq), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_float32():
    X, y, Xq = _data(n=3001)
    X32, Xq32 = X.astype(np.float32), Xq.astype(np.float32)
    ours = KNeighborsClassifier().fit(X32, y)
    ref = sk_nb.KNeighborsClassifier().fit(X32, y)
    assert ours._fit_X.dtype == ref._fit_X.dtype == np.float32
    d, i = ours.kneighbors(Xq32)
    d_ref, i_ref = ref.kneighbors(Xq32)
    # float32 search, float64 distances of the winners (scikit-learn computes float32 input in float64)
    assert d.dtype == np.float64 and ours.predict_proba(Xq32).dtype == np.float64
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, rtol=1e-12)
    np.testing.assert_array_equal(ours.predict(Xq32), ref.predict(Xq32))


def test_score_and_iris():
    X, y = load_iris(return_X_y=True)
    ours = KNeighborsClassifier(n_neighbors=7).fit(X, y)
    ref = sk_nb.KNeighborsClassifier(n_neighbors=7).fit(X, y)
    assert ours.score(X, y) == ref.score(X, y)


def test_bad_parameters():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        KNeighborsClassifier(n_neighbors=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="weights"):
        KNeighborsClassifier(weights="gaussian").fit(X, y)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        KNeighborsClassifier(n_neighbors=200).fit(X, y).predict(X)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit"):
        KNeighborsClassifier(n_neighbors=150).fit(X, y).kneighbors()
    with pytest.raises(ValueError, match="metric='chebyshev'.*supported"):
        KNeighborsClassifier(metric="chebyshev").fit(X, y)
    with pytest.raises(ValueError, match="p=3"):
        KNeighborsClassifier(p=3).fit(X, y)
    with pytest.raises(ValueError, match="zero weights"):
        KNeighborsClassifier(weights=lambda d: np.zeros_like(d)).fit(X, y).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # metric_params' p overrides p (scikit-learn warns the same way when p is also given)
        with pytest.raises(SyntaxWarning):
            KNeighborsClassifier(metric_params={"p": 1}).fit(X, y)
    assert KNeighborsClassifier(p=None, metric_params={"p": 1}).fit(X, y).effective_metric_ == "manhattan"


def test_float64_near_ties_fall_back_to_float64_search():
    # Training points 1e-6 apart around some queries: the float32 pre-search cannot order them, so
    # those queries are searched again in float64; the others keep the verified float32 answer.
    X, y, Xq = _data(n=700)
    near = np.concatenate([Xq[i] + 1e-6 * np.arange(1, 10)[:, None] * np.eye(X.shape[1])[0] for i in range(5)])
    X = np.concatenate([X, near])
    y = np.concatenate([y, np.array(["a", "b", "c"])[np.arange(len(near)) % 3]])
    ours = KNeighborsClassifier(n_neighbors=3, weights="distance").fit(X, y)
    ref = sk_nb.KNeighborsClassifier(n_neighbors=3, weights="distance", algorithm="brute").fit(X, y)
    np.testing.assert_array_equal(ours.kneighbors(Xq, return_distance=False), ref.kneighbors(Xq, return_distance=False))
    np.testing.assert_array_equal(ours.predict(Xq), ref.predict(Xq))
