"""jaxml.sklearn as a drop-in for scikit-learn: the same constructor parameters with the same
defaults, and one script written for scikit-learn giving the same answers when jaxml's estimators
are imported under the same names."""

import math
import warnings

import numpy as np
import pytest
import sklearn.cluster
import sklearn.kernel_ridge
import sklearn.linear_model
import sklearn.mixture
import sklearn.neighbors
import sklearn.svm

import jaxml.sklearn

NAMESAKES = {
    "LinearRegression": sklearn.linear_model,
    "Ridge": sklearn.linear_model,
    "Lasso": sklearn.linear_model,
    "LogisticRegression": sklearn.linear_model,
    "LogisticRegressionCV": sklearn.linear_model,
    "LinearSVC": sklearn.svm,
    "SVC": sklearn.svm,
    "KernelRidge": sklearn.kernel_ridge,
    "KNeighborsClassifier": sklearn.neighbors,
    "KMeans": sklearn.cluster,
    "GaussianMixture": sklearn.mixture,
}


def test_every_estimator_has_a_namesake():
    assert set(jaxml.sklearn.__all__) <= set(NAMESAKES)
    assert len(jaxml.sklearn.__all__) >= 10


def _same_default(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", sorted(jaxml.sklearn.__all__))
def test_same_parameters_and_defaults(name):
    ours = getattr(jaxml.sklearn, name)().get_params(deep=False)
    theirs = getattr(NAMESAKES[name], name)().get_params(deep=False)
    assert sorted(ours) == sorted(theirs)
    different = {k: (ours[k], theirs[k]) for k in theirs if not _same_default(ours[k], theirs[k])}
    assert not different, f"defaults differ (jaxml, scikit-learn): {different}"


# Written for scikit-learn; the test runs it with each library's estimators bound to these names.
SCRIPT = """
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_blobs
from sklearn.preprocessing import StandardScaler

X_reg, y_reg = load_diabetes(return_X_y=True)
X_bin, y_bin = load_breast_cancer(return_X_y=True)
X_bin = StandardScaler().fit_transform(X_bin)
X_iris, y_iris = load_iris(return_X_y=True)
X_iris = StandardScaler().fit_transform(X_iris)
X_blob, _ = make_blobs(600, n_features=4, centers=8, cluster_std=0.4, center_box=(-20, 20), random_state=0)

out = {}
for model in (LinearRegression(), Ridge(), Lasso(), KernelRidge()):
    out[type(model).__name__] = model.fit(X_reg, y_reg).predict(X_reg)
for model in (LogisticRegression(), LinearSVC(), SVC(), KNeighborsClassifier()):
    for name, X, y in (("binary", X_bin, y_bin), ("iris", X_iris, y_iris)):
        out[f"{type(model).__name__} {name}"] = model.fit(X, y).predict(X)
out["LogisticRegression proba"] = LogisticRegression().fit(X_iris, y_iris).predict_proba(X_iris)
out["SVC decision"] = SVC().fit(X_bin, y_bin).decision_function(X_bin)
out["KMeans"] = KMeans(n_clusters=8, random_state=0).fit_predict(X_blob)
gm = GaussianMixture().fit(X_blob)
out["GaussianMixture means"], out["GaussianMixture score"] = gm.means_, gm.score(X_blob)
"""

NAMES = ["LinearRegression", "Ridge", "Lasso", "KernelRidge", "LogisticRegression", "LinearSVC", "SVC",
         "KNeighborsClassifier", "KMeans", "GaussianMixture"]


def _run(library) -> dict:
    namespace = {name: getattr(library.get(name), name) for name in NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # at its defaults, neither library warns on this data
        exec(SCRIPT, namespace)
    return namespace["out"]


def test_one_script_same_answers_with_either_library():
    from sklearn.metrics import adjusted_rand_score

    theirs = _run({name: NAMESAKES[name] for name in NAMES})
    ours = _run({name: jaxml.sklearn for name in NAMES})
    assert set(ours) == set(theirs)
    for key in ("LinearRegression", "Ridge", "Lasso", "KernelRidge", "LogisticRegression proba", "SVC decision",
                "GaussianMixture means", "GaussianMixture score"):
        # scikit-learn's defaults stop its iterative solvers at tol 1e-4 (Lasso, logistic, SVC), so
        # the two answers agree to that tolerance, not to rounding.
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-3, atol=1e-3, err_msg=key)
    for key in [k for k in ours if k.split()[0] in ("LogisticRegression", "LinearSVC", "SVC", "KNeighborsClassifier")
                and k.split()[-1] in ("binary", "iris")]:
        assert np.mean(ours[key] == theirs[key]) >= 0.995, key
    assert adjusted_rand_score(ours["KMeans"], theirs["KMeans"]) == 1.0
