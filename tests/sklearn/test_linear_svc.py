"""jaxml.sklearn.LinearSVC: estimator checks, parameters, and agreement with liblinear."""

import warnings

import numpy as np
import pytest
import sklearn.svm as sk_svm
from sklearn.datasets import load_breast_cancer, load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import LinearSVC


@parametrize_with_checks([LinearSVC()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


DATA = {"iris": _scaled(load_iris), "cancer": _scaled(load_breast_cancer)}
COMBINATIONS = {
    "squared_hinge-l2-primal": dict(dual=False),
    "squared_hinge-l2-dual": dict(dual=True),
    "hinge-l2-dual": dict(loss="hinge", dual=True),
    "squared_hinge-l1-primal": dict(penalty="l1", dual=False),
}


def _assert_same(ours, ref, rtol=1e-4):
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=rtol * max(scale, 1.0))


@pytest.mark.parametrize("combination", COMBINATIONS)
@pytest.mark.parametrize("data", DATA)
def test_agrees_with_liblinear(data, combination):
    """Tight tolerance on both sides: the same optimum (liblinear regularizes its intercept
    feature, so does jaxml), binary (cancer) and one-vs-rest (iris)."""
    X, y = DATA[data]
    kwargs = dict(C=0.5, tol=1e-10, max_iter=100_000, random_state=0, **COMBINATIONS[combination])
    ours = LinearSVC(**kwargs).fit(X, y)
    ref = sk_svm.LinearSVC(**kwargs).fit(X, y)
    _assert_same(ours, ref)
    assert ours.coef_.shape == ref.coef_.shape and ours.intercept_.shape == ref.intercept_.shape
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_weights_intercept_scaling_and_defaults(fit_intercept):
    """class_weight (one-vs-rest: on the positive class only, as liblinear), sample_weight with
    zeros (samples left out), intercept_scaling, and the default (TRON) solver."""
    X, y = DATA["iris"]
    sw = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    kwargs = dict(C=2.0, tol=1e-10, class_weight={0: 3.0, 2: 0.5}, fit_intercept=fit_intercept,
                  intercept_scaling=2.5)
    ours = LinearSVC(**kwargs).fit(X, y, sample_weight=sw)
    ref = sk_svm.LinearSVC(**kwargs).fit(X, y, sample_weight=sw)
    _assert_same(ours, ref)
    if not fit_intercept:
        assert ours.intercept_ == 0.0
    ours = LinearSVC(class_weight="balanced").fit(X[:120], y[:120])
    ref = sk_svm.LinearSVC(class_weight="balanced").fit(X[:120], y[:120])
    _assert_same(ours, ref, rtol=1e-6)
    assert ours.n_iter_ == ref.n_iter_


def test_no_convergence_warning_at_defaults_on_check_data():
    """The blobs scikit-learn's estimator checks fit: liblinear converges at its defaults, and so
    does jaxml (its stopping rules, not a duality gap)."""
    X, y = make_blobs(n_samples=30, centers=[[0, 0, 0], [1, 1, 1]], random_state=0, n_features=2, cluster_std=0.1)
    X = StandardScaler().fit_transform(X)
    X3, y3 = make_blobs(random_state=0, n_samples=30, n_features=2)
    for kwargs in (dict(), dict(loss="hinge"), dict(dual=True)):
        for Xd, yd in ((X, y), (X3, y3)):
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)
                sk_svm.LinearSVC(**kwargs, random_state=0).fit(Xd, yd)
                ours = LinearSVC(**kwargs, random_state=0).fit(Xd, yd)
            assert ours.n_iter_ < 1000


def test_float32_input_fits_in_float64():
    X, y = DATA["cancer"]
    ours32 = LinearSVC().fit(X.astype(np.float32), y)
    ref = sk_svm.LinearSVC().fit(X.astype(np.float32), y)
    assert ours32.coef_.dtype == ref.coef_.dtype == np.float64
    _assert_same(ours32, ref, rtol=1e-6)
    assert ours32.decision_function(X.astype(np.float32)).dtype == np.float64


def test_params_match_scikit_learn():
    assert LinearSVC().get_params() == sk_svm.LinearSVC().get_params()


def test_bad_parameters():
    X, y = DATA["iris"]
    with pytest.raises(InvalidParameterError, match="max_iter"):
        LinearSVC(max_iter=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="loss"):
        LinearSVC(loss="log").fit(X, y)
    # The combinations liblinear has no solver for: scikit-learn's own messages.
    for kwargs in (dict(penalty="l1", loss="hinge"), dict(penalty="l1", dual=True), dict(loss="hinge", dual=False)):
        with pytest.raises(ValueError) as ref_error:
            sk_svm.LinearSVC(**kwargs).fit(X, y)
        with pytest.raises(ValueError) as our_error:
            LinearSVC(**kwargs).fit(X, y)
        assert str(our_error.value) == str(ref_error.value)
    with pytest.raises(ValueError, match="crammer_singer"):
        LinearSVC(multi_class="crammer_singer").fit(X, y)


def test_unconverged_warns_like_liblinear():
    X, y = DATA["cancer"]
    with pytest.warns(ConvergenceWarning, match="Liblinear failed to converge"):
        est = LinearSVC(loss="hinge", max_iter=3, tol=1e-10).fit(X, y)
    assert est.n_iter_ == 3


def test_new_hyperparameters_reuse_the_compiled_solver():
    from jaxml.kernels import fit_linear_svc

    X, y = DATA["cancer"]
    LinearSVC(C=0.5, tol=1e-10, max_iter=100_000, dual=False).fit(X, y)
    size = fit_linear_svc._cache_size()
    LinearSVC(C=3.0, tol=1e-3, max_iter=50, intercept_scaling=2.0).fit(X, y, sample_weight=np.ones(len(y)))
    assert fit_linear_svc._cache_size() == size
