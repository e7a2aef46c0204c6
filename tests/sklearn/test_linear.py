"""jaxml.sklearn LinearRegression / Ridge / Lasso: scikit-learn's API checks and agreement."""

import chex
import jax
import numpy as np
import pytest
import scipy.optimize
import sklearn.linear_model as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError
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
    y = X @ w + 2.0 + 0.3 * rng.standard_normal(n)
    Y = np.stack([y, X[:, 0] - y, 0.5 * X[:, 1] + rng.standard_normal(n)], axis=1)
    weights = rng.uniform(0.0, 2.0, n)
    weights[:5] = 0.0
    return X, y, Y, weights


LASSO = {"alpha": 0.05, "tol": 1e-12, "max_iter": 100_000}
PAIRS = [
    (LinearRegression, sk.LinearRegression, {}),
    (LinearRegression, sk.LinearRegression, {"positive": True}),
    (Ridge, sk.Ridge, {"alpha": 3.0}),
    (Lasso, sk.Lasso, LASSO),
    (Lasso, sk.Lasso, {**LASSO, "positive": True}),
]


def _assert_same_fit(a, b, X, rtol=1e-7, atol=1e-10):
    assert isinstance(a.coef_, np.ndarray) and a.coef_.dtype == np.float64
    assert a.coef_.shape == b.coef_.shape and np.shape(a.intercept_) == np.shape(b.intercept_)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.predict(X[:7]), b.predict(X[:7]), rtol=rtol, atol=atol)


@pytest.mark.parametrize("multi_target", [False, True], ids=["y1d", "y2d"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("ours", "theirs", "params"), PAIRS,
                         ids=["ols", "nnls", "ridge", "lasso", "lasso_positive"])
def test_agrees_with_sklearn(ours, theirs, params, fit_intercept, weighted, multi_target):
    X, y, Y, weights = _data()
    target = Y if multi_target else y
    sw = weights if weighted else None
    a = ours(fit_intercept=fit_intercept, **params).fit(X, target, sample_weight=sw)
    b = theirs(fit_intercept=fit_intercept, **params).fit(X, target, sample_weight=sw)
    _assert_same_fit(a, b, X)
    np.testing.assert_allclose(a.score(X, target), b.score(X, target), rtol=1e-9)
    if params.get("positive"):
        assert np.all(a.coef_ >= 0) and np.any(a.coef_ == 0)  # the constraint is active
    if ours is Lasso:
        n_iter = a.n_iter_ if multi_target else [a.n_iter_]
        scale = np.mean(target**2, axis=0)  # the gap criterion is tol·(weighted, centered) Σy²/Σs
        assert all(k >= 1 for k in n_iter) and np.all(np.asarray(a.dual_gap_) <= 1e-11 * scale)
    if ours is LinearRegression and not params:
        assert a.rank_ == b.rank_
        np.testing.assert_allclose(a.singular_, b.singular_, rtol=1e-9)


def test_ridge_per_target_alpha_and_weights():
    X, _, Y, weights = _data()
    alphas = np.array([0.1, 5.0, 100.0])
    a = Ridge(alpha=alphas).fit(X, Y, sample_weight=weights)
    _assert_same_fit(a, sk.Ridge(alpha=alphas).fit(X, Y, sample_weight=weights), X)
    # each target alone with its own alpha
    for t in range(3):
        one = Ridge(alpha=alphas[t]).fit(X, Y[:, t], sample_weight=weights)
        np.testing.assert_allclose(a.coef_[t], one.coef_, rtol=1e-9)
    with pytest.raises(ValueError, match="Number of targets and number of penalties"):
        Ridge(alpha=[1.0, 2.0]).fit(X, Y)


@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"])
def test_ridge_every_solver_gives_the_exact_answer(solver):
    X, y, _, weights = _data()
    a = Ridge(alpha=3.0, solver=solver).fit(X, y, sample_weight=weights)
    b = sk.Ridge(alpha=3.0, solver="cholesky").fit(X, y, sample_weight=weights)
    _assert_same_fit(a, b, X, rtol=1e-10, atol=1e-12)
    assert a.solver_ == ("cholesky" if solver == "auto" else solver)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_positive_is_nonnegative_ridge(fit_intercept):
    # min ‖√s(y − Xw − b)‖² + alpha‖w‖², w ≥ 0 = NNLS on [√s Xc; √alpha I], [√s yc; 0]
    X, y, _, weights = _data()
    alpha = 3.0
    a = Ridge(alpha=alpha, positive=True, fit_intercept=fit_intercept).fit(X, y, sample_weight=weights)
    if fit_intercept:
        xm, ym = weights @ X / weights.sum(), weights @ y / weights.sum()
    else:
        xm, ym = np.zeros(X.shape[1]), 0.0
    root = np.sqrt(weights)
    A = np.vstack([(X - xm) * root[:, None], np.sqrt(alpha) * np.eye(X.shape[1])])
    w = scipy.optimize.nnls(A, np.concatenate([(y - ym) * root, np.zeros(X.shape[1])]))[0]
    assert np.any(w == 0) and np.any(w > 0)
    np.testing.assert_allclose(a.coef_, w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.intercept_, ym - xm @ w if fit_intercept else 0.0, rtol=1e-9, atol=1e-12)
    assert a.solver_ == "lbfgs" and np.all(a.n_iter_ >= 1)
    # scikit-learn's own answer (L-BFGS-B) is close, to its tolerance
    b = sk.Ridge(alpha=alpha, positive=True, fit_intercept=fit_intercept, tol=1e-12).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)


def test_ridge_solver_rules_for_positive():
    X, y, _, _ = _data()
    Ridge(positive=True, solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="does not support positive fitting"):
        Ridge(positive=True, solver="cholesky").fit(X, y)
    with pytest.raises(ValueError, match="'lbfgs' solver can be used only when positive=True"):
        Ridge(solver="lbfgs").fit(X, y)


def test_linear_regression_rank_deficient_is_lstsq():
    # A duplicated column: the minimum-norm solution, rank and singular values of scipy's lstsq.
    X, y, Y, weights = _data()
    X = np.concatenate([X, X[:, :2]], axis=1)
    a = LinearRegression().fit(X, Y, sample_weight=weights)
    b = sk.LinearRegression().fit(X, Y, sample_weight=weights)
    _assert_same_fit(a, b, X, rtol=1e-8, atol=1e-9)
    assert a.rank_ == b.rank_ == 6
    np.testing.assert_allclose(a.singular_, b.singular_, rtol=1e-9, atol=1e-9)
    # tol is lstsq's relative singular-value cutoff: a large one drops directions
    c = LinearRegression(tol=0.5).fit(X, y)
    d = sk.LinearRegression(tol=0.5).fit(X, y)
    assert c.rank_ == d.rank_ < 6
    np.testing.assert_allclose(c.coef_, d.coef_, rtol=1e-8, atol=1e-10)


def test_lasso_random_selection_and_warm_start():
    X, y, _, weights = _data()
    ref = sk.Lasso(**LASSO).fit(X, y, sample_weight=weights)
    a = Lasso(selection="random", random_state=0, **LASSO).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(a.coef_, ref.coef_, rtol=1e-7, atol=1e-10)
    again = Lasso(selection="random", random_state=0, **LASSO).fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(again.coef_, a.coef_)  # random_state fixes the order
    # warm start: a second fit starts at the first's solution and stops at once
    est = Lasso(warm_start=True, **LASSO).fit(X, y)
    first = est.coef_.copy()
    est.fit(X, y)
    assert est.n_iter_ == 0
    np.testing.assert_array_equal(est.coef_, first)
    cold = Lasso(**LASSO).fit(X, y)
    assert cold.n_iter_ > 1


def test_lasso_scalar_weight_and_one_column_target():
    X, y, _, _ = _data()
    a = Lasso(**LASSO).fit(X, y[:, None], sample_weight=3.0)
    b = sk.Lasso(**LASSO).fit(X, y[:, None], sample_weight=3.0)
    _assert_same_fit(a, b, X)


@pytest.mark.parametrize(("ours", "theirs", "params"), [*PAIRS[:3], (Ridge, sk.Ridge, {"alpha": 3.0, "positive": True}),
                                                        *PAIRS[3:]])
def test_float32_is_kept(ours, theirs, params):
    X, y, _, weights = _data()
    if ours is Lasso:  # a tolerance float32 can meet
        params = {**params, "tol": 1e-7, "max_iter": 10_000}
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    a = ours(**params).fit(X32, y32, sample_weight=weights)
    b = theirs(**params).fit(X32, y32, sample_weight=weights)
    assert a.coef_.dtype == b.coef_.dtype == np.float32
    assert np.asarray(a.intercept_).dtype == np.asarray(b.intercept_).dtype == np.float32
    assert a.predict(X32).dtype == b.predict(X32).dtype == np.float32
    exact = ours(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(a.coef_, exact.coef_, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(("ours", "theirs"), [(LinearRegression, sk.LinearRegression), (Ridge, sk.Ridge),
                                              (Lasso, sk.Lasso)])
def test_same_parameters_as_sklearn(ours, theirs):
    assert ours().get_params() == theirs().get_params()


@pytest.mark.parametrize("est", [Ridge(alpha=-1.0), Lasso(alpha=-1.0), Lasso(tol=-1.0), Ridge(solver="qr"),
                                 Lasso(selection="shuffle"), LinearRegression(positive="yes"), Lasso(max_iter=0)])
def test_invalid_parameters_raise_sklearn_error(est):
    X, y, _, _ = _data()
    with pytest.raises(InvalidParameterError, match="alpha|tol|solver|selection|positive|max_iter"):
        est.fit(X, y)


def test_negative_sample_weight_raises():
    X, y, _, weights = _data()
    with pytest.raises(ValueError, match="[Nn]egative"):
        Ridge().fit(X, y, sample_weight=-weights)


def _aligned64(A):
    """A copy of A whose data starts on a 64-byte boundary."""
    buf = np.empty(A.size + 64 // A.itemsize, A.dtype)
    start = (-buf.ctypes.data % 64) // A.itemsize
    out = buf[start:start + A.size].reshape(A.shape)
    out[...] = A
    return out


def test_second_fit_on_the_same_shape_does_not_recompile(monkeypatch):
    # Another alpha, tol or max_iter on data of the same shape reuses the compiled fit.
    statics = {
        "_fit_least_squares": ("fit_intercept", "positive"),
        "_fit_ridge": ("fit_intercept", "positive", "shared_alpha"),
        "_fit_lasso": ("fit_intercept", "positive", "random"),
        "_fit_lasso_columns": ("fit_intercept", "positive", "random"),
    }
    for name, static in statics.items():
        body = chex.assert_max_traces(getattr(_linear, name).__wrapped__, n=1)
        monkeypatch.setattr(_linear, name, jax.jit(body, static_argnames=static))
    # X's address modulo 64 sets the split in _flat_aligned (an argument shape): align every X alike.
    X, y, _, _ = _data(n=33, d=4)
    X2, y2, _, _ = _data(seed=5, n=33, d=4)
    XC, yc, _, _ = _data(n=40, d=32)  # the Lasso column path
    yc2 = _data(seed=5, n=40, d=32)[1]
    X, X2, XC = (_aligned64(A) for A in (X, X2, XC))
    monkeypatch.setattr(_linear, "_MIN_COLUMN_FEATURES", 32)
    for est in (LinearRegression(), Ridge(alpha=0.5), Lasso(alpha=0.1)):
        est.fit(X, y)
    Lasso(alpha=0.1).fit(XC, yc)
    Lasso(alpha=0.02, tol=1e-6, max_iter=5000).fit(XC, yc2)
    for est in (LinearRegression(tol=1e-8), Ridge(alpha=7.0), Lasso(alpha=0.02, tol=1e-6, max_iter=50)):
        est.fit(X2, y2)
        ref = {LinearRegression: sk.LinearRegression(), Ridge: sk.Ridge(alpha=7.0)}.get(type(est))
        if ref is not None:
            np.testing.assert_allclose(est.coef_, ref.fit(X2, y2).coef_, rtol=1e-8)


def test_lasso_warns_when_not_converged():
    X, y, _, _ = _data()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        est = Lasso(alpha=1e-4, max_iter=1, tol=1e-12).fit(X, y)
    assert est.n_iter_ == 1


# Lasso over X's columns (chosen for one unweighted target, D ≥ 256 features, N ≥ D, X ≤ 32 MiB) against
# the Gram path, on small problems: the feature threshold is lowered to 32 so that the column path runs.


@pytest.fixture
def small_column_threshold(monkeypatch):
    monkeypatch.setattr(_linear, "_MIN_COLUMN_FEATURES", 32)


def test_lasso_column_path_rule():
    assert _linear._use_columns(5000, 400, 1, False)
    assert not _linear._use_columns(20000, 200, 1, False)  # D too small: the Gram matrix is cheaper
    assert not _linear._use_columns(20000, 400, 1, False)  # Xᵀ (64 MB) leaves the cache between sweeps
    assert _linear._use_columns(20000, 400, 1, False, itemsize=4)
    assert not _linear._use_columns(5000, 400, 2, False) and not _linear._use_columns(5000, 400, 1, True)
    assert not _linear._use_columns(300, 400, 1, False)  # wide X


def _gram_only(monkeypatch):
    monkeypatch.setattr(_linear, "_use_columns", lambda *args: False)


def _column_data(seed=1, n=120, d=40, correlated=False):
    X, y, _, _ = _data(seed=seed, n=n, d=d)
    if correlated:  # nearly collinear columns: many sweeps, past the column path's budget
        X[:, 1:] = X[:, :1] + 0.05 * X[:, 1:]
        y = X[:, :5].sum(axis=1) + 0.1 * np.random.default_rng(seed).standard_normal(n)
    return X, y


@pytest.mark.parametrize("params", [{}, {"fit_intercept": False}, {"positive": True},
                                    {"selection": "random", "random_state": 3}],
                         ids=["intercept", "no_intercept", "positive", "random"])
@pytest.mark.usefixtures("small_column_threshold")
def test_lasso_column_path_matches_gram_path(params, monkeypatch):
    X, y = _column_data()
    assert _linear._use_columns(*X.shape, 1, False)
    a = Lasso(**LASSO, **params).fit(X, y)
    ref = sk.Lasso(**LASSO, **params).fit(X, y)
    _gram_only(monkeypatch)
    b = Lasso(**LASSO, **params).fit(X, y)
    assert 0 < np.count_nonzero(a.coef_) < X.shape[1]  # the l1 penalty is active
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.coef_, ref.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, ref.intercept_, rtol=0, atol=1e-8)
    assert a.dual_gap_ <= LASSO["tol"] * np.mean((y - y.mean() * bool(a.fit_intercept)) ** 2)


@pytest.mark.usefixtures("small_column_threshold")
def test_lasso_column_path_hands_over_to_gram_path_when_slow(monkeypatch):
    X, y = _column_data(correlated=True)
    budget = _linear._column_sweep_budget(X.shape[1])
    a = Lasso(**LASSO).fit(X, y)
    assert a.n_iter_ > budget  # the column path ran out of sweeps; the Gram path finished
    _gram_only(monkeypatch)
    b = Lasso(**LASSO).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)


@pytest.mark.usefixtures("small_column_threshold")
def test_lasso_column_path_warm_start_and_non_finite():
    X, y = _column_data()
    est = Lasso(warm_start=True, **LASSO).fit(X, y)
    first = est.coef_.copy()
    assert est.n_iter_ > 1
    est.fit(X, y)
    assert est.n_iter_ == 0
    np.testing.assert_array_equal(est.coef_, first)
    bad = X.copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Lasso().fit(bad, y)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        short = Lasso(alpha=1e-4, max_iter=1, tol=1e-12).fit(X, y)
    assert short.n_iter_ == 1


def test_lasso_column_path_at_its_real_threshold(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 260)) + rng.standard_normal(260)
    y = X[:, :10] @ rng.standard_normal(10) + 0.5 * rng.standard_normal(300) + 1.0
    assert _linear._use_columns(*X.shape, 1, False)
    a = Lasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X, y)
    a32 = Lasso(alpha=0.05, tol=1e-7, max_iter=100_000).fit(X.astype(np.float32), y.astype(np.float32))
    _gram_only(monkeypatch)
    b = Lasso(alpha=0.05, tol=1e-12, max_iter=100_000).fit(X, y)
    assert 0 < np.count_nonzero(a.coef_) < X.shape[1]
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)
    assert a32.coef_.dtype == np.float32
    np.testing.assert_allclose(a32.coef_, a.coef_, rtol=0, atol=1e-3)


@pytest.mark.parametrize("offset", [0, 1, 3])
def test_large_x_read_in_place_at_any_alignment(offset):
    # A 4 MiB X is read in place: split into a short head and a 64-byte-aligned tail, at whatever
    # offset its buffer starts; the fit equals scikit-learn's.
    rng = np.random.default_rng(offset)
    n, d = 8192, 64
    buffer = np.empty(n * d + 8)
    X = buffer[offset:offset + n * d].reshape(n, d)
    X[:] = rng.normal(size=(n, d)) + 3.0
    y = X @ rng.normal(size=d) + rng.normal(size=n)
    head, tail = _linear._flat_aligned(X)
    assert head.size + tail.size == n * d and tail.ctypes.data % 64 == 0
    pairs = ((Ridge(alpha=10.0), sk.Ridge(alpha=10.0)),
             (Lasso(alpha=0.05, tol=1e-10), sk.Lasso(alpha=0.05, tol=1e-10)))
    for ours, ref in pairs:
        ours.fit(X, y)
        ref.fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
