"""jaxml.sklearn.KernelRidge: estimator checks and agreement with scikit-learn."""

import numpy as np
import pytest
import sklearn.kernel_ridge as sk_kr
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import KernelRidge


@parametrize_with_checks([KernelRidge()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("kernel,extra", [("linear", {}), ("rbf", {"gamma": 0.4}), ("poly", {"degree": 2}),
                                          ("rbf", {})])
def test_kernel_ridge_agrees_with_sklearn(kernel, extra):
    X, y = _iris()
    target = np.stack([X[:, 0] + y, np.sin(X[:, 1])], axis=1)
    for Y in (target[:, 0], target):
        ours = KernelRidge(alpha=0.7, kernel=kernel, **extra).fit(X, Y)
        ref = sk_kr.KernelRidge(alpha=0.7, kernel=kernel, **extra).fit(X, Y)
        np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(ours.predict(X[:20]), ref.predict(X[:20]), rtol=1e-8, atol=1e-10)


def test_bad_parameters():
    X, y = _iris()
    with pytest.raises(ValueError, match="gamma"):
        KernelRidge(kernel="rbf", gamma=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        KernelRidge(alpha=-1.0).fit(X, y)

