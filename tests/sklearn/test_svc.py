"""jaxml.sklearn.SVC: estimator checks and agreement with libsvm."""

import numpy as np
import pytest
import sklearn.svm as sk_svm
from sklearn.datasets import load_iris, make_moons
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import SVC


@parametrize_with_checks([SVC()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_svc_agrees_with_libsvm_on_moons():
    X, y = make_moons(200, noise=0.15, random_state=0)
    labels = np.array(["left", "right"])[y]
    ours = SVC(C=10.0, gamma=1.0, random_state=0).fit(X, labels)
    ref = sk_svm.SVC(C=10.0, gamma=1.0).fit(X, labels)
    assert list(ours.classes_) == ["left", "right"]
    # Different intercept handling (regularized bias vs libsvm's free b): predictions agree on
    # almost every point and accuracy is the same to within two points.
    assert np.mean(ours.predict(X) == ref.predict(X)) >= 0.98
    assert abs(ours.score(X, labels) - ref.score(X, labels)) <= 0.01
    Xt, _ = make_moons(300, noise=0.15, random_state=1)
    assert np.mean(ours.predict(Xt) == ref.predict(Xt)) >= 0.97
    # decision_function sign picks classes_[1]; dual_coef_ / intercept_ reproduce it.
    f = ours.decision_function(X)
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[(f > 0).astype(int)])
    d2 = ((X[:, None, :] - ours.support_vectors_[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(np.exp(-d2) @ ours.dual_coef_[0] + ours.intercept_[0], f, atol=1e-9)
    assert np.all((ours.alpha_ >= 0) & (ours.alpha_ <= 1))


def test_svc_without_intercept_is_the_course_svm():
    """intercept_scaling=0: the course's kernel SVM, whose dual objective at libsvm's solution
    (a point of the same box, further constrained) can be no better than ours."""
    X, y = make_moons(120, noise=0.2, random_state=3)
    n, C = len(y), 2.0
    ours = SVC(C=C, kernel="rbf", gamma=0.7, intercept_scaling=0.0, tol=1e-10, random_state=0).fit(X, y)
    ref = sk_svm.SVC(C=C, kernel="rbf", gamma=0.7, tol=1e-8).fit(X, y)
    lam = 1 / (C * n)
    ys = np.where(y == 1, 1.0, -1.0)
    K = np.exp(-0.7 * ((X[:, None] - X[None]) ** 2).sum(-1))

    def dual(alpha):
        ya = ys * alpha
        return alpha.sum() / n - ya @ K @ ya / (2 * lam * n**2)

    alpha_ref = np.zeros(n)
    alpha_ref[ref.support_] = np.abs(ref.dual_coef_[0]) / C
    assert dual(ours.alpha_[0]) >= dual(alpha_ref) - 1e-9
    assert ours.intercept_[0] == 0.0


def test_svc_multiclass_and_kernels():
    X, y = _iris()
    for kernel in ("linear", "poly", "rbf"):
        ours = SVC(kernel=kernel, random_state=0).fit(X, y)
        ref = sk_svm.SVC(kernel=kernel).fit(X, y)
        assert ours.decision_function(X).shape == (150, 3)
        assert ours.score(X, y) >= ref.score(X, y) - 0.08


def test_bad_parameters():
    X, y = _iris()
    with pytest.raises(ValueError, match="C must"):
        SVC(C=0).fit(X, y)
    with pytest.raises(ValueError, match="kernel must"):
        SVC(kernel="sigmoid").fit(X, y)
    with pytest.raises(ValueError, match="one class|greater than one"):
        SVC().fit(X, np.zeros(150))

