"""jaxml.sklearn.KernelRidge: estimator checks and agreement with scikit-learn."""

import warnings

import numpy as np
import pytest
import sklearn.kernel_ridge as sk_kr
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import KernelRidge


@parametrize_with_checks([KernelRidge(), KernelRidge(kernel="rbf", alpha=0.5)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _iris():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, np.stack([X[:, 0] + y, np.sin(X[:, 1])], axis=1)


def test_same_parameters_as_sklearn():
    assert KernelRidge().get_params() == sk_kr.KernelRidge().get_params()


def _rbf_row(a, b):
    return np.exp(-0.3 * np.sum((a - b) ** 2))


@pytest.mark.parametrize("kw", [dict(), dict(kernel="rbf", gamma=0.4), dict(kernel="rbf"),
                                dict(kernel="poly", degree=2), dict(kernel="polynomial", degree=2.5, coef0=3.0),
                                dict(kernel="sigmoid", gamma=0.1), dict(kernel="laplacian"), dict(kernel="cosine"),
                                dict(kernel=_rbf_row, alpha=0.5), dict(kernel="rbf", alpha=[0.3, 2.0])])
def test_agrees_with_sklearn(kw):
    X, target = _iris()
    weights = np.linspace(0.5, 2.0, len(X))
    params = {"alpha": 0.7, **kw}
    for Y in (target, target[:, 0]):
        if np.ndim(params["alpha"]) and Y.ndim == 1:
            continue
        for sw in (None, weights, 2.0):
            # the sigmoid's Gram matrix is not PSD: both fall back to least squares with a warning
            with warnings.catch_warnings(record=True) as ours_warned:
                warnings.simplefilter("always")
                ours = KernelRidge(**params).fit(X, Y, sample_weight=sw)
            with warnings.catch_warnings(record=True) as ref_warned:
                warnings.simplefilter("always")
                ref = sk_kr.KernelRidge(**params).fit(X, Y, sample_weight=sw)
            assert len(ours_warned) == len(ref_warned)
            scale = np.abs(ref.dual_coef_).max()
            np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=1e-9, atol=1e-11 * scale)
            np.testing.assert_allclose(ours.predict(X[:20]), ref.predict(X[:20]), rtol=1e-9, atol=1e-11)
            assert ours.dual_coef_.shape == ref.dual_coef_.shape


def test_precomputed():
    X, target = _iris()
    K = np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    ours = KernelRidge(kernel="precomputed", alpha=0.3).fit(K, target)
    ref = sk_kr.KernelRidge(kernel="precomputed", alpha=0.3).fit(K, target)
    np.testing.assert_allclose(ours.dual_coef_, ref.dual_coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(K[:7]), ref.predict(K[:7]), rtol=1e-9)
    # the same model as the named kernel
    named = KernelRidge(kernel="rbf", gamma=0.5, alpha=0.3).fit(X, target)
    np.testing.assert_allclose(ours.dual_coef_, named.dual_coef_, rtol=1e-9)


@pytest.mark.parametrize("kernel", ["linear", "rbf", "laplacian"])
def test_float32_dtype_as_sklearn(kernel):
    X, target = _iris()
    X32, Y32 = X.astype(np.float32), target.astype(np.float32)
    ours = KernelRidge(kernel=kernel).fit(X32, Y32)
    ref = sk_kr.KernelRidge(kernel=kernel).fit(X32, Y32)
    assert ours.dual_coef_.dtype == ref.dual_coef_.dtype
    assert ours.predict(X32).dtype == ref.predict(X32).dtype
    tol = 1e-12 if ref.dual_coef_.dtype == np.float64 else 1e-3
    np.testing.assert_allclose(ours.predict(X32), ref.predict(X32), rtol=tol, atol=tol)
    # float32 X with float64 y: float64, as scikit-learn
    assert KernelRidge(kernel=kernel).fit(X32, target).dual_coef_.dtype == np.float64


def test_bad_parameters():
    X, target = _iris()
    with pytest.raises(InvalidParameterError, match="gamma"):
        KernelRidge(kernel="rbf", gamma=-1.0).fit(X, target)
    with pytest.raises(InvalidParameterError, match="alpha"):
        KernelRidge(alpha=-1.0).fit(X, target)
    with pytest.raises(InvalidParameterError, match="kernel"):
        KernelRidge(kernel="gaussian").fit(X, target)
    with pytest.raises(ValueError, match="chi2.*not supported"):
        KernelRidge(kernel="chi2").fit(np.abs(X), target)
    with pytest.raises(ValueError, match="one value per target"):
        KernelRidge(alpha=[1.0, 2.0, 3.0]).fit(X, target)
    with pytest.raises(ValueError, match="alpha must be finite and >= 0"):
        KernelRidge(alpha=[1.0, -2.0]).fit(X, target)
