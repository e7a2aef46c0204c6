"""``KNeighborsClassifier`` over ``jaxml.kernels.knn``."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.kernels import knn_class_counts, nearest_neighbors
from jaxml.sklearn._base import float64, to_numpy


class KNeighborsClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn's ``KNeighborsClassifier`` with ``algorithm="brute"``, Euclidean distance and
    uniform weights, over ``jaxml.kernels.knn`` (chunked ‖a‖² − 2aᵀb + ‖b‖², ``lax.top_k``).

    Parameters:
      n_neighbors: k ≥ 1 (≤ n_samples at predict time).
      weights: "uniform" only.
      chunk_size: queries per chunk (memory chunk_size × n_samples).

    Attributes:
      classes_, n_samples_fit_, n_features_in_.
    """

    def __init__(self, n_neighbors=5, *, weights="uniform", chunk_size=64):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.chunk_size = chunk_size

    def fit(self, X, y):
        """Store the training set (kNN has no training step); returns self."""
        if self.weights != "uniform":
            raise ValueError(f"weights must be 'uniform', got {self.weights!r}")
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_neighbors must be an integer >= 1, got {k!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, self._encoded = np.unique(y, return_inverse=True)
        self._encoded = self._encoded.astype(np.int32)
        self._X = X
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """Distances (ascending) and indices of the n_neighbors nearest training points."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        self._check_k(k)
        with float64():
            sq_dist, idx = nearest_neighbors(self._X, X, k, chunk_size=self.chunk_size)
            sq_dist, idx = to_numpy(sq_dist), to_numpy(idx)
        return (np.sqrt(sq_dist), idx) if return_distance else idx

    def _check_k(self, k):
        if k > self.n_samples_fit_:
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                             f"n_samples_fit = {self.n_samples_fit_}")

    def predict_proba(self, X):
        """Share of the k neighbours in each class, (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        self._check_k(self.n_neighbors)
        with float64():
            counts = knn_class_counts(self._X, self._encoded, X, self.n_neighbors,
                                      num_classes=len(self.classes_), chunk_size=self.chunk_size)
            return to_numpy(counts).astype(np.float64) / self.n_neighbors

    def predict(self, X):
        """Majority class of the k neighbours; a tie goes to the smallest class in classes_."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


__all__ = ["KNeighborsClassifier"]
