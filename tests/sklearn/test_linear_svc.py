"""jaxml.sklearn.LinearSVC: estimator checks and agreement with liblinear."""

import numpy as np
import pytest
import sklearn.svm as sk_svm
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import LinearSVC


@parametrize_with_checks([LinearSVC()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_linear_svc_agrees_with_liblinear(fit_intercept):
    X, y = _iris()
    kwargs = dict(C=0.5, fit_intercept=fit_intercept)
    ours = LinearSVC(tol=1e-11, max_iter=200_000, random_state=0, **kwargs).fit(X, y)
    # liblinear shuffles with numpy's global RNG when random_state is None and, at this tol, stops at
    # max_iter; some orders end 7e-3 above the optimum. Seed it so the reference is reproducible.
    ref = sk_svm.LinearSVC(loss="hinge", dual=True, tol=1e-12, max_iter=1_000_000, random_state=0, **kwargs)
    ref.fit(X, y)
    # The same objective (liblinear also regularizes its intercept feature): the same solution.
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.decision_function(X).shape == (150, 3)


def test_bad_parameters():
    X, y = _iris()
    with pytest.raises(ValueError, match="max_iter"):
        LinearSVC(max_iter=0).fit(X, y)

