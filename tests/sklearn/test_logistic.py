"""jaxml.sklearn.LogisticRegression: scikit-learn's estimator checks and agreement with it."""

import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import LogisticRegression


@parametrize_with_checks([LogisticRegression(), LogisticRegression(solver="newton")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _binary():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:200], y[:200]


def _multiclass():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("data", [_binary, _multiclass])
def test_agrees_with_sklearn(solver, fit_intercept, data):
    X, y = data()
    kwargs = dict(C=0.5, fit_intercept=fit_intercept)
    ours = LogisticRegression(solver=solver, tol=1e-10, max_iter=1000, **kwargs).fit(X, y)
    ref = sk.LogisticRegression(tol=1e-12, max_iter=10000, **kwargs).fit(X, y)
    scale = np.max(np.abs(ref.coef_))
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(ours.predict_log_proba(X), ref.predict_log_proba(X), atol=1e-5)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.score(X, y) == pytest.approx(ref.score(X, y))
    if fit_intercept and len(ref.classes_) == 2:
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)


def test_arbitrary_labels_and_binary_shapes():
    X, y = _binary()
    labels = np.array(["malignant", "benign"])[y]
    model = LogisticRegression().fit(X, labels)
    assert list(model.classes_) == ["benign", "malignant"]
    assert model.coef_.shape == (1, X.shape[1]) and model.intercept_.shape == (1,)
    assert model.decision_function(X).shape == (X.shape[0],)
    # decision_function is the log-odds of classes_[1]
    p = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(np.log(p / (1 - p)), model.decision_function(X), atol=1e-8)
    assert set(model.predict(X)) <= {"benign", "malignant"}


def test_multiclass_shapes_and_centred_intercepts():
    X, y = _multiclass()
    model = LogisticRegression(C=2.0).fit(X, y + 10)
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,)
    assert model.intercept_.sum() == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, atol=1e-12)
    assert model.score(X, y + 10) > 0.95


def test_bad_parameters_and_labels():
    X, y = _binary()
    with pytest.raises(ValueError, match="C must"):
        LogisticRegression(C=0.0).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        LogisticRegression(solver="saga").fit(X, y)
    with pytest.raises(ValueError, match="max_iter"):
        LogisticRegression(max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="one class"):
        LogisticRegression().fit(X, np.zeros_like(y))


def test_convergence_warning():
    X, y = _binary()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        LogisticRegression(max_iter=1, tol=1e-12).fit(X, y)
