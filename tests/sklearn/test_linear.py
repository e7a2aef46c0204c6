"""jaxml.sklearn LinearRegression / Ridge / Lasso: scikit-learn's API checks and agreement."""

import chex
import jax
import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import Lasso, LinearRegression, Ridge, _linear


@parametrize_with_checks([LinearRegression(), Ridge(), Lasso()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(seed=0, n=70, d=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d) + rng.standard_normal(d)
    w = rng.standard_normal(d)
    w[: d // 2] = 0.0
    return X, X @ w + 2.0 + 0.3 * rng.standard_normal(n)


PAIRS = [
    (LinearRegression, sk.LinearRegression, {}),
    (Ridge, sk.Ridge, {"alpha": 3.0}),
    (Lasso, sk.Lasso, {"alpha": 0.05, "tol": 1e-12, "max_iter": 100_000}),
]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("ours", "theirs", "params"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_agrees_with_sklearn(ours, theirs, params, fit_intercept):
    X, y = _data()
    a = ours(fit_intercept=fit_intercept, **params).fit(X, y)
    b = theirs(fit_intercept=fit_intercept, **params).fit(X, y)
    assert isinstance(a.coef_, np.ndarray) and a.coef_.dtype == np.float64
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.predict(X[:7]), b.predict(X[:7]), rtol=1e-6)
    np.testing.assert_allclose(a.score(X, y), b.score(X, y), rtol=1e-9)
    if ours is Lasso:
        assert a.n_iter_ >= 1 and a.dual_gap_ >= -1e-15
        if fit_intercept:  # the centered problem recovers the zeros of the true weights
            assert np.any(a.coef_ == 0.0)


def test_second_fit_on_the_same_shape_does_not_recompile(monkeypatch):
    # Another alpha, tol or max_iter on data of the same shape reuses the compiled fit.
    for name in ("_fit_least_squares", "_fit_ridge", "_fit_lasso"):
        body = chex.assert_max_traces(getattr(_linear, name).__wrapped__, n=1)
        monkeypatch.setattr(_linear, name, jax.jit(body, static_argnames="fit_intercept"))
    X, y = _data(n=33, d=4)
    X2, y2 = _data(seed=5, n=33, d=4)
    for est in (LinearRegression(), Ridge(alpha=0.5), Lasso(alpha=0.1)):
        est.fit(X, y)
    for est in (LinearRegression(), Ridge(alpha=7.0), Lasso(alpha=0.02, tol=1e-6, max_iter=50)):
        est.fit(X2, y2)
        ref = {LinearRegression: sk.LinearRegression(), Ridge: sk.Ridge(alpha=7.0)}.get(type(est))
        if ref is not None:
            np.testing.assert_allclose(est.coef_, ref.fit(X2, y2).coef_, rtol=1e-8)


def test_lasso_warns_when_not_converged():
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        est = Lasso(alpha=1e-4, max_iter=1, tol=1e-12).fit(X, y)
    assert est.n_iter_ == 1


@pytest.mark.parametrize("est", [Ridge(alpha=-1.0), Lasso(alpha=-1.0), Lasso(tol=-1.0)])
def test_negative_parameters_raise(est):
    X, y = _data()
    with pytest.raises(ValueError, match="alpha|tol"):
        est.fit(X, y)
