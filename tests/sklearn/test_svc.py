"""jaxml.sklearn.SVC: estimator checks and agreement with libsvm (scikit-learn's SVC) on its problem."""

import warnings

import numpy as np
import pytest
import sklearn.svm as sk_svm
from sklearn.datasets import load_iris, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import SVC


@parametrize_with_checks([SVC()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _iris():
    """Scaled iris without its duplicate rows (duplicates make libsvm's α non-unique)."""
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    _, first = np.unique(X, axis=0, return_index=True)
    keep = np.sort(first)
    return X[keep], y[keep]


def _moons():
    X, y = make_moons(200, noise=0.15, random_state=0)
    return X, np.array(["left", "right"])[y]


def _fit_both(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return SVC(**params).fit(X, y), sk_svm.SVC(**params).fit(X, y)


def _assert_same_model(ours, ref, X, rtol=1e-4):
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_array_equal(ours.support_, ref.support_)
    np.testing.assert_array_equal(ours.n_support_, ref.n_support_)
    np.testing.assert_array_equal(ours.support_vectors_, ref.support_vectors_)
    scale = np.max(np.abs(ref.dual_coef_))
    np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol, atol=rtol * np.max(np.abs(ref.intercept_)))
    f, f_ref = ours.decision_function(X), ref.decision_function(X)
    np.testing.assert_allclose(f, f_ref, rtol=rtol, atol=rtol * np.max(np.abs(f_ref)))
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf"])
@pytest.mark.parametrize("data", ["iris", "iris_binary", "moons"])
def test_matches_libsvm(kernel, data):
    """libsvm's α, ρ and decision values at a tight tol (its optimum is unique on these data)."""
    X, y = _moons() if data == "moons" else _iris()
    if data == "iris_binary":
        y = np.where(y == 2, "virginica", "other")
    params = dict(kernel=kernel, tol=1e-8, C=3.0, coef0=1.0 if kernel == "poly" else 0.0)
    ours, ref = _fit_both(X, y, **params)
    _assert_same_model(ours, ref, X)
    assert ours.fit_status_ == 0 and ours.n_iter_.shape == ref.n_iter_.shape
    assert ours.shape_fit_ == ref.shape_fit_
    if kernel == "linear":
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-4 * np.max(np.abs(ref.coef_)))


def test_decision_function_shapes_and_break_ties():
    X, y = _iris()
    ours, ref = _fit_both(X, y, decision_function_shape="ovo", tol=1e-8)
    assert ours.decision_function(X).shape == (len(X), 3)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="break_ties"):
        SVC(decision_function_shape="ovo", break_ties=True).fit(X, y).predict(X)
    ours, ref = _fit_both(X, y, break_ties=True, tol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[np.argmax(ours.decision_function(X), axis=1)])


def test_sample_and_class_weights_scale_C():
    """C_n = C · class_weight_[y_n] · sample_weight_n, as libsvm (γ given: "scale" would use the
    weighted variance here, scikit-learn the unweighted one)."""
    X, y = _iris()
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    params = dict(gamma=0.3, tol=1e-8, class_weight={0: 2.0, 2: 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ours = SVC(**params).fit(X, y, sample_weight=w)
        ref = sk_svm.SVC(**params).fit(X, y, sample_weight=w)
    _assert_same_model(ours, ref, X)
    np.testing.assert_array_equal(ours.class_weight_, ref.class_weight_)


def test_zero_sample_weight_removes_the_sample():
    X, y = _iris()
    w = np.ones(len(y))
    w[::7] = 0.0
    weighted = SVC(gamma=0.3).fit(X, y, sample_weight=w)
    removed = SVC(gamma=0.3).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(weighted.decision_function(X), removed.decision_function(X), atol=1e-10)
    np.testing.assert_array_equal(weighted.support_vectors_, removed.support_vectors_)
    assert not np.any(w[weighted.support_] == 0)


def test_precomputed_and_callable_kernels():
    X, y = _moons()
    K = rbf_kernel(X, X, gamma=0.8)
    ours, ref = _fit_both(K, y, kernel="precomputed", tol=1e-8)
    _assert_same_model(ours, ref, K)
    assert ours.support_vectors_.shape == (0, 0)
    by_features = SVC(kernel="rbf", gamma=0.8, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(ours.decision_function(K), by_features.decision_function(X), atol=1e-6)
    called = SVC(kernel=lambda A, B: rbf_kernel(A, B, gamma=0.8), tol=1e-8).fit(X, y)
    np.testing.assert_allclose(called.decision_function(X), ours.decision_function(K), atol=1e-10)
    np.testing.assert_array_equal(called.support_, ours.support_)


def test_sigmoid_kernel_matches_libsvm():
    X, y = _iris()
    ours, ref = _fit_both(X, y, kernel="sigmoid", gamma=0.1, tol=1e-8)
    _assert_same_model(ours, ref, X)


def test_max_iter_stops_with_fit_status():
    X, y = _moons()
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        model = SVC(max_iter=5).fit(X, y)
    assert model.fit_status_ == 1
    np.testing.assert_array_equal(model.n_iter_, [5])


def test_parameters_as_scikit_learn():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert SVC().get_params() == sk_svm.SVC().get_params()
    X, y = _iris()
    with pytest.raises(InvalidParameterError, match="C"):
        SVC(C=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="kernel"):
        SVC(kernel="cosine").fit(X, y)
    with pytest.raises(ValueError, match="probability=True"), pytest.warns(FutureWarning):
        SVC(probability=True).fit(X, y)
    with pytest.raises(ValueError, match="greater than one"):
        SVC().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="zero or negative weights"):
        SVC().fit(X, y, sample_weight=np.zeros(len(y)))
    assert not hasattr(SVC(), "predict_proba")
    model = SVC().fit(X, y)
    assert model.probA_.shape == (0,) and model.probB_.shape == (0,)
    with pytest.raises(AttributeError, match="linear"):
        _ = model.coef_
