"""jaxml.sklearn.LogisticRegression and LogisticRegressionCV: scikit-learn's estimator checks and
agreement with scikit-learn on the same data (float64, tight tolerances)."""

import warnings

import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import LogisticRegression, LogisticRegressionCV


@parametrize_with_checks(
    [LogisticRegression(), LogisticRegression(solver="newton"), LogisticRegression(l1_ratio=1.0, solver="saga")]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_checks([LogisticRegressionCV()])
def test_cv_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn's own deprecation warnings
        check(estimator)


@pytest.mark.parametrize(("ours", "theirs"), [(LogisticRegression, sk.LogisticRegression),
                                              (LogisticRegressionCV, sk.LogisticRegressionCV)])
def test_same_parameters_and_defaults(ours, theirs):
    assert ours().get_params() == theirs().get_params()


def _binary():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:200], y[:200]


def _multiclass():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _weights(n):
    return np.random.default_rng(0).uniform(0.2, 3.0, n)


def _assert_same_model(ours, ref, X, tol=1e-7):
    scale = max(1.0, np.max(np.abs(ref.coef_)))
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=tol * scale)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=tol * scale)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=tol)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


# scikit-learn's newton-cholesky at tol=1e-12 is the exact reference for the smooth problems (its
# lbfgs stops on a relative decrease of the objective before reaching the gradient tolerance).
@pytest.mark.parametrize("data", [_binary, _multiclass])
@pytest.mark.parametrize("case", ["plain", "no_intercept", "sample_weight", "balanced", "class_dict", "newton"])
def test_l2_agrees_with_sklearn(data, case):
    X, y = data()
    kwargs, fit_kw = {}, {}
    if case == "no_intercept":
        kwargs["fit_intercept"] = False
    elif case == "sample_weight":
        fit_kw["sample_weight"] = _weights(len(y))
    elif case == "balanced":
        kwargs["class_weight"] = "balanced"
    elif case == "class_dict":
        kwargs["class_weight"] = {0: 2.0, 1: 0.5}
    solver = "newton" if case == "newton" else "lbfgs"
    ours = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000, solver=solver, **kwargs).fit(X, y, **fit_kw)
    ref = sk.LogisticRegression(C=0.5, tol=1e-12, max_iter=1000, solver="newton-cholesky", **kwargs).fit(
        X, y, **fit_kw)
    _assert_same_model(ours, ref, X)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-6)


def test_sample_weight_equals_class_weight_and_repetition():
    X, y = _binary()
    counts = np.where(y == 1, 2, 1)
    a = LogisticRegression(tol=1e-10).fit(X, y, sample_weight=counts.astype(float))
    b = LogisticRegression(tol=1e-10, class_weight={0: 1.0, 1: 2.0}).fit(X, y)
    c = LogisticRegression(tol=1e-10).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-7)
    np.testing.assert_allclose(a.coef_, c.coef_, atol=1e-7)


@pytest.mark.parametrize("data", [_binary, _multiclass])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_and_elastic_net_agree_with_saga(data, l1_ratio):
    X, y = data()
    w = _weights(len(y))
    ours = LogisticRegression(C=0.5, l1_ratio=l1_ratio, solver="saga", tol=1e-12).fit(X, y, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sk.LogisticRegression(C=0.5, l1_ratio=l1_ratio, solver="saga", tol=1e-13, max_iter=100_000).fit(
            X, y, sample_weight=w)
    _assert_same_model(ours, ref, X, tol=5e-6)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)  # the same sparsity pattern
    assert np.sum(ours.coef_ == 0) > 0


@pytest.mark.parametrize("kwargs", [{}, {"l1_ratio": 1.0}, {"intercept_scaling": 3.0}, {"fit_intercept": False}])
def test_liblinear_penalizes_the_synthetic_intercept_feature(kwargs):
    X, y = _binary()
    ours = LogisticRegression(C=0.5, solver="liblinear", tol=1e-12, **kwargs).fit(X, y)
    ref = sk.LogisticRegression(C=0.5, solver="liblinear", tol=1e-12, max_iter=100_000, **kwargs).fit(X, y)
    _assert_same_model(ours, ref, X, tol=1e-6)


def test_no_penalty_on_overlapping_classes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = (rng.random(300) < 1 / (1 + np.exp(-X @ [1.0, -2.0, 0.5]))).astype(int)
    ours = LogisticRegression(C=np.inf, tol=1e-10).fit(X, y)
    ref = sk.LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12).fit(X, y)
    _assert_same_model(ours, ref, X)


@pytest.mark.parametrize("data", [_binary, _multiclass])
def test_warm_start_continues_from_the_previous_solution(data):
    X, y = data()
    model = LogisticRegression(warm_start=True, tol=1e-10, max_iter=1000)
    first = model.fit(X, y).coef_.copy()
    assert model.fit(X, y).n_iter_[0] <= 1
    np.testing.assert_allclose(model.coef_, first, atol=1e-9)
    cold = LogisticRegression(tol=1e-10, max_iter=1000, C=0.3).fit(X, y)
    model.set_params(C=0.3).fit(X, y)  # from the C=1 solution: the same answer
    assert model.n_iter_[0] <= cold.n_iter_[0]
    np.testing.assert_allclose(model.coef_, cold.coef_, atol=1e-7)


@pytest.mark.parametrize("data", [_binary, _multiclass])
def test_float32_is_kept_as_scikit_learn_does(data):
    X, y = data()
    X32 = X.astype(np.float32)
    ours = LogisticRegression(tol=1e-6).fit(X32, y)
    ref = sk.LogisticRegression(tol=1e-6).fit(X32, y)
    assert ours.coef_.dtype == ref.coef_.dtype == np.float32
    assert ours.intercept_.dtype == ref.intercept_.dtype == np.float32
    assert ours.predict_proba(X32).dtype == ref.predict_proba(X32).dtype
    assert ours.decision_function(X32).dtype == ref.decision_function(X32).dtype
    exact = LogisticRegression(tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.coef_, exact.coef_, atol=1e-3 * np.abs(exact.coef_).max())


def test_rejects_what_scikit_learn_rejects():
    X, y = _binary()
    with pytest.raises(InvalidParameterError, match="'C' parameter"):
        LogisticRegression(C=0.0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'solver' parameter"):
        LogisticRegression(solver="cd").fit(X, y)
    for kwargs in [{"l1_ratio": 1.0}, {"l1_ratio": 0.5, "solver": "liblinear"}, {"dual": True},
                   {"C": np.inf, "solver": "liblinear"}]:
        with pytest.raises(ValueError) as theirs:
            sk.LogisticRegression(**kwargs).fit(X, y)
        with pytest.raises(ValueError, match=str(theirs.value)[:40].replace("(", r"\(")):
            LogisticRegression(**kwargs).fit(X, y)
    Xm, ym = _multiclass()
    with pytest.raises(ValueError, match="liblinear.*does not support multiclass"):
        LogisticRegression(solver="liblinear").fit(Xm, ym)
    with pytest.raises(ValueError, match="one class"):
        LogisticRegression().fit(X, np.zeros_like(y))


def test_convergence_warning_and_string_labels():
    X, y = _binary()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        LogisticRegression(max_iter=1, tol=1e-12).fit(X, y)
    model = LogisticRegression().fit(X, np.array(["malignant", "benign"])[y])
    assert list(model.classes_) == ["benign", "malignant"]
    p = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(np.log(p / (1 - p)), model.decision_function(X), atol=1e-8)


@pytest.mark.parametrize("data", [_binary, _multiclass])
@pytest.mark.parametrize("kwargs", [{}, {"refit": False}, {"scoring": "neg_log_loss", "class_weight": "balanced"},
                                    {"use_legacy_attributes": False}])
def test_cv_agrees_with_sklearn(data, kwargs):
    X, y = data()
    # C up to 10: beyond, the breast-cancer subset is nearly separable and the reference's path
    # stops short of tol=1e-10
    common = dict(Cs=np.logspace(-3, 1, 5), cv=3, tol=1e-10, l1_ratios=(0.0,), **kwargs)
    common.setdefault("scoring", "accuracy")
    common.setdefault("use_legacy_attributes", True)
    ours = LogisticRegressionCV(max_iter=1000, **common).fit(X, y)
    ref = sk.LogisticRegressionCV(max_iter=10_000, solver="newton-cholesky", **common).fit(X, y)
    np.testing.assert_allclose(ours.Cs_, ref.Cs_)
    np.testing.assert_allclose(ours.C_, ref.C_)
    if isinstance(ref.scores_, dict):
        assert ours.scores_.keys() == ref.scores_.keys()
        for k in ref.scores_:
            np.testing.assert_allclose(ours.scores_[k], ref.scores_[k], atol=1e-6)
            np.testing.assert_allclose(ours.coefs_paths_[k], ref.coefs_paths_[k], atol=1e-5)
    else:
        np.testing.assert_allclose(ours.scores_, ref.scores_, atol=1e-6)
        np.testing.assert_allclose(ours.coefs_paths_, ref.coefs_paths_, atol=1e-5)
    assert np.shape(ours.n_iter_) == np.shape(ref.n_iter_)
    _assert_same_model(ours, ref, X, tol=1e-6)
