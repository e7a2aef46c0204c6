"""jaxml.sklearn.KMeans / GaussianMixture: scikit-learn's estimator checks and agreement."""

import warnings

import numpy as np
import pytest
import sklearn.cluster
import sklearn.mixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import GaussianMixture, KMeans


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
    with pytest.raises(ValueError, match="n_clusters"):
        KMeans(0).fit(X)
    with pytest.raises(ValueError, match="init"):
        KMeans(2, init=np.zeros((3, 3))).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(11).fit(X)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(2, covariance_type="banded").fit(X)
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
