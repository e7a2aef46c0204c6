"""jaxml.sklearn.KMeans / GaussianMixture: scikit-learn's estimator checks and agreement."""

import warnings

import numpy as np
import pytest
import sklearn.cluster
import sklearn.mixture
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import GaussianMixture, KMeans
from jaxml.unsupervised import gmm as gmm_module
from jaxml.unsupervised import kmeans as kmeans_module


@parametrize_with_checks([KMeans(), GaussianMixture()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def data(seed=0, n=240):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    labels = rng.integers(0, 3, n)
    return centers[labels] + rng.normal(size=(n, 3)) * np.array([1.0, 0.5, 1.5])


def test_kmeans_matches_sklearn_from_same_init():
    X = data(1)
    init = X[:4]
    ours = KMeans(4, init=init, n_init=1, tol=1e-4).fit(X)
    ref = sklearn.cluster.KMeans(4, init=init, n_init=1, tol=1e-4, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)
    assert ours.n_iter_ == ref.n_iter_
    Xt = data(2, n=50)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.transform(Xt), ref.transform(Xt), rtol=1e-10)
    assert ours.score(Xt) == pytest.approx(ref.score(Xt), rel=1e-10)


def test_kmeans_random_state_and_quality():
    X = data(3)
    a = KMeans(3, n_init=4, random_state=0).fit(X)
    b = KMeans(3, n_init=4, random_state=0).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    ref = sklearn.cluster.KMeans(3, n_init=10, random_state=0).fit(X)
    assert a.inertia_ <= ref.inertia_ * (1 + 1e-6)
    assert KMeans(3, init="random", random_state=1).fit(X).inertia_ <= ref.inertia_ * 1.01


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_matches_sklearn_from_same_init(covariance_type):
    X = data(4)
    rng = np.random.default_rng(0)
    weights = np.array([0.2, 0.3, 0.5])
    means = X[rng.choice(len(X), 3, replace=False)]
    precisions = {"full": np.stack([np.eye(3)] * 3), "tied": np.eye(3), "diag": np.ones((3, 3)),
                  "spherical": np.ones(3)}[covariance_type]
    kw = dict(covariance_type=covariance_type, weights_init=weights, means_init=means, precisions_init=precisions,
              tol=1e-6, max_iter=200)
    ours = GaussianMixture(3, **kw).fit(X)
    ref = sklearn.mixture.GaussianMixture(3, **kw).fit(X)
    assert ours.n_iter_ == ref.n_iter_ and ours.converged_ == ref.converged_
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-6)
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-8)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, atol=1e-9, err_msg=name)
    Xt = data(5, n=40)
    np.testing.assert_allclose(ours.score_samples(Xt), ref.score_samples(Xt), rtol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    assert ours.score(Xt) == pytest.approx(ref.score(Xt), rel=1e-8)
    assert ours.bic(Xt) == pytest.approx(ref.bic(Xt), rel=1e-8)
    assert ours.aic(Xt) == pytest.approx(ref.aic(Xt), rel=1e-8)


def test_gaussian_mixture_default_init_quality_and_options():
    X = data(6)
    ours = GaussianMixture(3, n_init=2, random_state=0).fit(X)
    ref = sklearn.mixture.GaussianMixture(3, n_init=2, random_state=0).fit(X)
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-3)
    np.testing.assert_array_equal(ours.fit_predict(X), ours.predict(X))
    # max_iter = 0: the initialization only
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init_only = GaussianMixture(3, max_iter=0, random_state=0).fit(X)
    assert init_only.n_iter_ == 0 and init_only.lower_bound_ == -np.inf
    # warm start continues from the fitted parameters: one more fit moves little
    warm = GaussianMixture(3, warm_start=True, random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm.fit(X)
        first = warm.lower_bound_
        warm.fit(X)
    assert warm.lower_bound_ >= first - 1e-9
    x, z = ours.sample(500)
    assert x.shape == (500, 3) and set(np.unique(z)) <= {0, 1, 2}


def test_bad_parameters():
    X = data(7, n=10)
    with pytest.raises(ValueError, match="n_clusters"):
        KMeans(11).fit(X)
    bad_values = [(KMeans, "n_clusters", 0), (KMeans, "n_init", 0), (KMeans, "init", "farthest"),
                  (KMeans, "algorithm", "full"), (KMeans, "tol", -1.0), (GaussianMixture, "tol", -1.0),
                  (GaussianMixture, "init_params", "kmeans++"), (GaussianMixture, "n_init", 0),
                  (GaussianMixture, "covariance_type", "banded"), (GaussianMixture, "max_iter", -1)]
    for est, name, value in bad_values:
        with pytest.raises(InvalidParameterError, match=name):
            est(**{name: value}).fit(X)
    with pytest.raises(ValueError, match="init"):
        KMeans(2, init=np.zeros((3, 3))).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(11).fit(X)
    with pytest.raises(ValueError, match="reg_covar"):
        GaussianMixture(2, reg_covar=-1.0).fit(X)
    with pytest.raises(ValueError, match="weights_init"):
        GaussianMixture(2, weights_init=[0.5, 0.6]).fit(X)
    with pytest.raises(ValueError, match="precisions_init"):
        GaussianMixture(2, precisions_init=-np.stack([np.eye(3)] * 2)).fit(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(bad)
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(bad)


@pytest.mark.parametrize("ours, ref", [(KMeans, sklearn.cluster.KMeans),
                                       (GaussianMixture, sklearn.mixture.GaussianMixture)])
def test_get_params_match_sklearn(ours, ref):
    assert ours().get_params() == ref().get_params()


def test_kmeans_sample_weight_matches_sklearn():
    X = data(8)
    w = np.random.default_rng(8).uniform(0.0, 3.0, len(X))
    init = X[[0, 1, 2, 3]]
    # tol = 0: only a stable assignment stops either library (with weights, jaxml's relative tol
    # uses the weighted variance, scikit-learn the unweighted one)
    ours = KMeans(4, init=init, n_init=1, tol=0.0).fit(X, sample_weight=w)
    ref = sklearn.cluster.KMeans(4, init=init, n_init=1, tol=0.0).fit(X, sample_weight=w)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-12, atol=1e-12)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)
    Xt, wt = data(9, n=50), np.arange(50.0)
    assert ours.score(Xt, sample_weight=wt) == pytest.approx(ref.score(Xt, sample_weight=wt), rel=1e-10)
    # unit weights are no weights
    plain = KMeans(4, init=init, n_init=1, tol=0.0).fit(X)
    ones = KMeans(4, init=init, n_init=1, tol=0.0).fit(X, sample_weight=np.ones(len(X)))
    np.testing.assert_allclose(ones.cluster_centers_, plain.cluster_centers_, rtol=1e-12)
    # weighted k-means++ seeding never takes a zero-weight point
    w0 = np.where(np.arange(len(X)) % 2 == 0, 0.0, 1.0)
    seeded = KMeans(6, max_iter=1, random_state=0).fit(X, sample_weight=w0)
    assert seeded.inertia_ == pytest.approx(float(np.sum(w0 * np.min(seeded.transform(X) ** 2, axis=1))), rel=1e-10)


def test_integer_weights_equal_repeated_rows():
    X = data(10, n=30)
    counts = np.random.default_rng(10).integers(0, 4, len(X))
    perm = np.random.default_rng(11).permutation(len(X))
    repeated = KMeans(5, random_state=3).fit(np.repeat(X, counts, axis=0))
    weighted = KMeans(5, random_state=3).fit(X[perm], sample_weight=counts[perm])
    np.testing.assert_allclose(weighted.transform(X), repeated.transform(X), rtol=1e-10, atol=1e-12)


def test_kmeans_float32_kept_and_close_to_sklearn():
    X = data(11).astype(np.float32)
    init = X[:3].copy()
    ours = KMeans(3, init=init, n_init=1).fit(X)
    ref = sklearn.cluster.KMeans(3, init=init, n_init=1).fit(X)
    assert ours.cluster_centers_.dtype == np.float32 and ours.labels_.dtype == np.int32
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-5)
    assert ours.transform(X).dtype == np.float32 and ours.predict(X).dtype == np.int32
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-5, atol=1e-5)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=1e-5)
    # float64 data on a float32 model is computed in float64
    assert ours.transform(X.astype(np.float64)).dtype == np.float64


def test_gaussian_mixture_float32_kept_and_close_to_sklearn():
    X = data(12).astype(np.float32)
    kw = dict(weights_init=np.full(3, 1 / 3), means_init=X[:3].astype(np.float64), tol=1e-5, max_iter=50)
    ours = GaussianMixture(3, **kw).fit(X)
    ref = sklearn.mixture.GaussianMixture(3, **kw).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(ours, name).dtype == np.float32, name
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=2e-3, atol=2e-4, err_msg=name)
    assert ours.predict_proba(X).dtype == np.float32 and ours.score_samples(X).dtype == np.float32
    # float32 EM over 50 steps: the two libraries round differently, ~1e-4 relative apart
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-3, atol=1e-3)
    assert ours.score_samples(X.astype(np.float64)).dtype == np.float64


def test_second_fit_of_the_same_shape_does_not_recompile():
    X, w = data(13), np.ones(240)
    KMeans(3, random_state=0).fit(X, sample_weight=w)
    KMeans(3, init=X[:3], n_init=1).fit(X)
    GaussianMixture(2, random_state=0).fit(X)
    sizes = compiled()
    KMeans(3, random_state=1, tol=1e-3).fit(X + 1.0, sample_weight=w * 2)
    KMeans(3, init=X[3:6], n_init=1, tol=1e-2).fit(X)
    GaussianMixture(2, random_state=1, tol=1e-2).fit(X)
    assert compiled() == sizes


def compiled():
    jitted = (kmeans_module._first_seed, kmeans_module._restarts_batched, kmeans_module._center,
              kmeans_module._fit_centered, kmeans_module._canonical_projection_jit, gmm_module._restarts)
    return [f._cache_size() for f in jitted]
