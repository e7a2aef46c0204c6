"""``KNeighborsClassifier`` over ``jaxml.kernels.knn`` (exact brute-force search, see its module doc)."""

from __future__ import annotations

import functools
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import sklearn.neighbors
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.kernels.knn import _search, _search_float64_prefiltered
from jaxml.sklearn._base import float64, to_numpy

# metric (and minkowski p) → the jaxml search metric; what the "effective" metric is, as scikit-learn.
_METRICS = {"euclidean": "euclidean", "l2": "euclidean", "manhattan": "manhattan", "cityblock": "manhattan",
            "l1": "manhattan"}
_SUPPORTED = "'minkowski' with p=1 or p=2, 'euclidean', 'l2', 'manhattan', 'cityblock', 'l1'"


@functools.partial(jax.jit, static_argnames=("k", "metric", "exact_float64"))
def _kneighbors(X_fit, X, k, metric, exact_float64):
    """Search in the input dtype; distances (Q, k) float64, indices (Q, k).

    ``exact_float64`` (float32 input): the k winners' distances are recomputed in float64 from the
    differences q − x, as scikit-learn computes float32 input's distances in float64.
    """
    dist, idx = _search(X_fit, X, k, None, metric)
    if exact_float64:
        diff = X[:, None, :].astype(jnp.float64) - X_fit[idx].astype(jnp.float64)
        dist = jnp.sum(jnp.abs(diff), axis=2) if metric == "manhattan" else jnp.sum(diff * diff, axis=2)
    else:
        dist = dist.astype(jnp.float64)
    return jnp.sqrt(dist) if metric == "euclidean" else dist, idx


def _distance_weights(dist):
    """scikit-learn's ``weights="distance"``: w = 1/d, except that a query with a neighbour at
    distance 0 gives weight 1 to its zero-distance neighbours and 0 to the others."""
    inv = 1.0 / dist
    zero = jnp.isinf(inv)
    return jnp.where(jnp.any(zero, axis=1, keepdims=True), zero.astype(dist.dtype), inv)


@functools.partial(jax.jit, static_argnames=("class_counts",))
def _class_proba(weights, idx, Y, class_counts):
    """p_o(c | x_q) = Σ_{j ≤ k} w_qj 1[Y[idx_qj, o] = c] / Σ_j w_qj for each output o: a tuple of (Q, C_o)."""
    norm = jnp.sum(weights, axis=1, keepdims=True)
    out = []
    for o, num_classes in enumerate(class_counts):
        votes = jax.nn.one_hot(Y[idx, o], num_classes, dtype=weights.dtype) * weights[:, :, None]
        out.append(jnp.sum(votes, axis=1) / norm)
    return tuple(out)


@functools.partial(jax.jit, static_argnames=("k", "metric", "exact_float64", "class_counts", "weighted"))
def _predict_proba(X_fit, Y, X, k, metric, exact_float64, class_counts, weighted):
    """Search and vote in one call: only the (Q, C_o) probabilities leave the device."""
    dist, idx = _kneighbors(X_fit, X, k, metric, exact_float64)
    return _vote(dist, idx, Y, class_counts, weighted)


@functools.partial(jax.jit, static_argnames=("class_counts", "weighted"))
def _vote(dist, idx, Y, class_counts, weighted):
    weights = _distance_weights(dist) if weighted else jnp.ones(dist.shape, jnp.float64)
    return _class_proba(weights, idx, Y, class_counts)


def _kneighbors_float64(X_fit, X, k):
    """``_kneighbors`` for float64 Euclidean search: the float32 pass with its exact check
    (``jaxml.kernels.knn._search_float64_prefiltered``), and the float64 search for the queries
    it could not verify (padded to a power of two of rows, to bound the number of compiles)."""
    dist, idx, verified = _search_float64_prefiltered(X_fit, X, k)
    redo = np.flatnonzero(~np.asarray(verified))
    if redo.size:
        padded = np.concatenate([redo, np.full(int(2 ** np.ceil(np.log2(redo.size))) - redo.size, redo[-1])])
        d2, i2 = _search(X_fit, X[jnp.asarray(padded)], k, None, "euclidean")
        dist = dist.at[redo].set(d2[: redo.size])
        idx = idx.at[redo].set(i2[: redo.size])
    return jnp.sqrt(dist), idx


class KNeighborsClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn's ``KNeighborsClassifier``: the class of a query is the (weighted) majority
    vote of its k nearest training points, ŷ(x) = argmax_c Σ_{n ∈ N_k(x)} w_n 1[y_n = c] (ties: the
    smallest class), p(c | x) = Σ_{n ∈ N_k(x)} w_n 1[y_n = c] / Σ_{n ∈ N_k(x)} w_n — by
    ``jaxml.kernels.knn``'s exact brute-force search (one matrix product per tile of training points,
    a two-stage exact top-k; the queries' chunk size is chosen automatically).

    Parameters:
      n_neighbors: k ≥ 1 (≤ n_samples_fit at query time).
      weights: "uniform" (w = 1), "distance" (w = 1/d; a query at distance 0 from training points
        votes with those only, as scikit-learn) or a callable mapping the (Q, k) distance array to
        weights of the same shape (applied on the host, with numpy).
      metric, p, metric_params: the distance. "minkowski" with p = 2 (default) or "euclidean"/"l2":
        ‖x − x'‖₂; "minkowski" with p = 1 or "manhattan"/"cityblock"/"l1": Σ_d |x_d − x'_d|
        (``metric_params={"p": ...}`` overrides p, as scikit-learn). Other metrics raise ValueError
        at fit.
      algorithm, leaf_size, n_jobs: accepted for compatibility; they do not change the result —
        the search is always the exact brute force (scikit-learn's "brute"; its trees give the same
        neighbours up to ties) and runs in one jitted call.

    Float32 input is searched in float32 (the training set is stored in float32, as scikit-learn
    does); the k neighbours' distances are then recomputed in float64 — scikit-learn's float32
    distances are computed and returned in float64 — so that ``kneighbors`` and ``predict_proba``
    return float64 as scikit-learn does. Queries whose k-th and (k+1)-th distances agree to float32
    rounding can get a different k-th neighbour than scikit-learn's float64 search.

    Equal distances: the lower training index comes first (scikit-learn's order of exact ties is
    an implementation detail of its heaps). ``X=None`` in ``kneighbors``/``predict``/
    ``predict_proba``: the training points, each without itself, as scikit-learn.

    Attributes:
      classes_ (a list per output for 2-D y), outputs_2d_, n_samples_fit_, effective_metric_,
      effective_metric_params_, n_features_in_, feature_names_in_.
    """

    _parameter_constraints: dict = dict(sklearn.neighbors.KNeighborsClassifier._parameter_constraints)

    def __init__(self, n_neighbors=5, *, weights="uniform", algorithm="auto", leaf_size=30, p=2,
                 metric="minkowski", metric_params=None, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        return tags

    def _search_metric(self):
        """The jaxml metric and scikit-learn's effective_metric_/_params_ for the parameters."""
        params = {} if self.metric_params is None else dict(self.metric_params)
        if "p" in params and self.p is not None:
            warnings.warn("Parameter p is found in metric_params. The corresponding parameter from __init__ "
                          "is ignored.", SyntaxWarning, stacklevel=3)
        metric = self.metric
        if metric == "minkowski":
            p = params.pop("p", self.p)
            if params.get("w") is None and p in (1, 2):
                params.pop("w", None)
                metric = "manhattan" if p == 1 else "euclidean"
        if not isinstance(metric, str) or metric not in _METRICS or params:
            raise ValueError(f"metric={self.metric!r} (p={self.p!r}, metric_params={self.metric_params!r}) is not "
                             f"supported by jaxml's KNeighborsClassifier; supported: {_SUPPORTED}, without other "
                             "metric_params.")
        return _METRICS[metric], metric, params

    def fit(self, X, y):
        """Store the training set (kNN has no training step) and its encoded labels; returns self."""
        self._validate_params()
        if self.n_neighbors is None:
            raise ValueError("n_neighbors=None is not supported: give an integer n_neighbors >= 1.")
        self._metric, self.effective_metric_, self.effective_metric_params_ = self._search_metric()
        if self.weights is not None and self.weights not in ("uniform", "distance") and not callable(self.weights):
            raise ValueError(f"weights must be 'uniform', 'distance' or a callable, got {self.weights!r}")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, order="C")
        if y.ndim == 1 or y.shape[1] == 1:
            if y.ndim == 2:
                warnings.warn("A column-vector y was passed when a 1d array was expected. Please change the "
                              "shape of y to (n_samples,), for example using ravel().", DataConversionWarning,
                              stacklevel=2)
            self.outputs_2d_ = False
            y = y.reshape(-1, 1)
        else:
            self.outputs_2d_ = True
        check_classification_targets(y)
        classes, encoded = [], np.empty(y.shape, np.int32)
        for o in range(y.shape[1]):
            c, encoded[:, o] = np.unique(y[:, o], return_inverse=True)
            classes.append(c)
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        self._class_counts = tuple(len(c) for c in classes)
        self._y = encoded
        self._fit_X = X
        self.n_samples_fit_ = X.shape[0]
        return self

    def _k(self, n_neighbors, query_is_train):
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(f"n_neighbors does not take {type(n_neighbors)} value, enter integer value")
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        n_neighbors = int(n_neighbors)
        limit = n_neighbors + 1 if query_is_train else n_neighbors
        if limit > self.n_samples_fit_:
            rel = "<" if query_is_train else "<="
            raise ValueError(f"Expected n_neighbors {rel} n_samples_fit, but n_neighbors = {n_neighbors}, "
                             f"n_samples_fit = {self.n_samples_fit_}")
        return n_neighbors

    def _queries(self, X):
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False, order="C")

    def _device_arrays(self, X):
        """X_fit and X on the device in one dtype: float32 only when both are float32."""
        dtype = np.result_type(self._fit_X.dtype, X.dtype)
        return jax.device_put(self._fit_X.astype(dtype, copy=False)), jax.device_put(X.astype(dtype, copy=False))

    def _device_search(self, X, k):
        """Device (dist float64, idx) of the k nearest training points of the rows of X."""
        X_fit, X = self._device_arrays(X)
        if X.dtype == jnp.float64 and self._metric == "euclidean":
            return _kneighbors_float64(X_fit, X, k)
        return _kneighbors(X_fit, X, k, self._metric, X.dtype != jnp.float64)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Distances (ascending, float64) and indices of the n_neighbors nearest training points.

        X=None: the neighbours of every training point other than itself (scikit-learn's rule: the
        point's own index is dropped; when it is not among the k+1 found, because of more than k
        exact duplicates, the first neighbour is dropped).
        """
        check_is_fitted(self)
        query_is_train = X is None
        k = self._k(n_neighbors, query_is_train)
        if not query_is_train:
            X = self._queries(X)
        with float64():
            if query_is_train:
                dist, idx = (to_numpy(a) for a in self._device_search(self._fit_X, k + 1))
                keep = idx != np.arange(idx.shape[0])[:, None]
                keep[np.all(keep, axis=1), 0] = False
                dist, idx = dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)
            else:
                dist, idx = (to_numpy(a) for a in self._device_search(X, k))
        idx = idx.astype(np.intp)
        return (dist, idx) if return_distance else idx

    def predict_proba(self, X):
        """Weighted share of the k neighbours in each class: (n_queries, n_classes) float64, or a list
        of them (one per output) for 2-D y. X=None: the training points, each without itself."""
        check_is_fitted(self)
        k = self._k(None, X is None)
        if X is not None and (self.weights in (None, "uniform", "distance")):
            X = self._queries(X)
            with float64():
                X_fit, X_dev = self._device_arrays(X)
                if X_dev.dtype == jnp.float64 and self._metric == "euclidean":
                    dist, idx = _kneighbors_float64(X_fit, X_dev, k)
                    proba = _vote(dist, idx, jnp.asarray(self._y), self._class_counts, self.weights == "distance")
                else:
                    proba = _predict_proba(X_fit, jnp.asarray(self._y), X_dev, k, self._metric,
                                           X_dev.dtype != jnp.float64, self._class_counts,
                                           self.weights == "distance")
                proba = [to_numpy(p) for p in proba]
        else:
            dist, idx = self.kneighbors(X)
            if self.weights in (None, "uniform"):
                weights = np.ones_like(dist)
            elif self.weights == "distance":
                with np.errstate(divide="ignore"):
                    weights = 1.0 / dist
                inf_mask = np.isinf(weights)
                inf_row = np.any(inf_mask, axis=1)
                weights[inf_row] = inf_mask[inf_row]
            else:
                weights = np.asarray(self.weights(dist), dtype=np.float64)
                if weights.shape != dist.shape:
                    raise ValueError(f"weights callable must return an array of shape {dist.shape}, got "
                                     f"{weights.shape}")
                if np.any(np.all(weights == 0, axis=1)):
                    raise ValueError("All neighbors of some sample is getting zero weights. Please modify "
                                     "'weights' to avoid this case if you are using a user-defined function.")
            with float64():
                proba = [to_numpy(p) for p in _class_proba(jnp.asarray(weights), jnp.asarray(idx),
                                                           jnp.asarray(self._y), self._class_counts)]
        return proba if self.outputs_2d_ else proba[0]

    def predict(self, X):
        """The class of largest (weighted) vote; a tie goes to the smallest class in classes_."""
        proba = self.predict_proba(X)
        if not self.outputs_2d_:
            return self.classes_[np.argmax(proba, axis=1)]
        return np.stack([c[np.argmax(p, axis=1)] for c, p in zip(self.classes_, proba, strict=True)], axis=1)


__all__ = ["KNeighborsClassifier"]
