"""jaxml.sklearn.KNeighborsClassifier: estimator checks and agreement with scikit-learn."""

import numpy as np
import pytest
import sklearn.neighbors as sk_nb
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxml.sklearn import KNeighborsClassifier


@parametrize_with_checks([KNeighborsClassifier()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_knn_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 6)), rng.choice(np.array(["a", "b", "c"]), 300)
    Xq = rng.normal(size=(77, 6))
    for k in (1, 4, 9):
        ours = KNeighborsClassifier(n_neighbors=k, chunk_size=16).fit(X, y)
        ref = sk_nb.KNeighborsClassifier(n_neighbors=k, algorithm="brute").fit(X, y)
        np.testing.assert_array_equal(ours.predict(Xq), ref.predict(Xq))
        np.testing.assert_allclose(ours.predict_proba(Xq), ref.predict_proba(Xq), atol=1e-15)
        d_ours, i_ours = ours.kneighbors(Xq)
        d_ref, i_ref = ref.kneighbors(Xq)
        np.testing.assert_array_equal(i_ours, i_ref)
        np.testing.assert_allclose(d_ours, d_ref, rtol=1e-10)


def test_bad_parameters():
    X, y = _iris()
    with pytest.raises(ValueError, match="n_neighbors"):
        KNeighborsClassifier(n_neighbors=0).fit(X, y)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        KNeighborsClassifier(n_neighbors=200).fit(X, y).predict(X)

