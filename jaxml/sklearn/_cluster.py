"""``KMeans`` and ``GaussianMixture`` over ``jaxml.unsupervised``.

The facade pattern of ``_linear.py``: ``__init__`` stores scikit-learn's parameters untouched;
``fit`` checks them against scikit-learn's own ``_parameter_constraints``, validates X with
``validate_data`` (float64 or float32, finite), translates the parameters, and runs the
module-level jitted functions of ``jaxml.unsupervised`` inside ``float64()``; fitted attributes
are numpy arrays.

Precision: float32 X is computed and returned in float32 (``cluster_centers_``, ``transform``;
the mixture's parameters, ``score_samples``, ``predict_proba``), as scikit-learn keeps it;
anything else is float64. Inference on X of the other precision runs in float64.

Translations:
- ``KMeans(tol)`` is relative to the data: the absolute tolerance on Σ_k ‖μ_k^new − μ_k‖² is
  tol · mean_d var(X[:, d]), computed inside the compiled fit, as scikit-learn. ``n_init``
  restarts run as one ``vmap`` over keys. ``algorithm="elkan"`` runs Lloyd (same iterates, same
  answer). ``sample_weight`` weights the means, the inertia, the seeding and (unlike
  scikit-learn) the variance of the tolerance; k-means++ draws along an order of the rows that
  depends on their values only. Both make integer weights exactly equivalent to repeated rows
  (scikit-learn's ``check_sample_weight_equivalence``, which its own KMeans is expected to fail).
- ``GaussianMixture`` runs soft EM (``jaxml.unsupervised.gmm_fit``); ``precisions_init`` is
  turned into covariances by a Cholesky solve. Without explicit initial parameters, the
  ``n_init`` initializations and their EM runs are one ``vmap`` over keys.
- ``random_state`` seeds a JAX key (an int drawn from ``check_random_state(random_state)``): the
  same ``random_state`` gives the same model, but not scikit-learn's random draws.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import sklearn.cluster
import sklearn.mixture
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    DensityMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxml.sklearn._base import float64, key_from_random_state, to_numpy
from jaxml.unsupervised import gmm as _gmm
from jaxml.unsupervised import kmeans as _km

_FLOATS = [np.float64, np.float32]


def _common_dtype(X, fitted_dtype):
    """float32 only when both the data and the fitted model are float32 (as numpy promotes)."""
    return np.float32 if X.dtype == np.float32 and fitted_dtype == np.float32 else np.float64


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """k-means clustering with scikit-learn's ``KMeans`` interface (Lloyd's algorithm in JAX).

    Minimizes the inertia J = Σ_n w_n ‖x_n − μ_{z_n}‖² by Lloyd's steps z_n ← argmin_k
    ‖x_n − μ_k‖², μ_k ← Σ_{z_n=k} w_n x_n / Σ_{z_n=k} w_n (``jaxml.unsupervised.kmeans_fit``).

    Parameters: as ``sklearn.cluster.KMeans`` — ``n_clusters``, ``init`` ("k-means++" (greedy,
    2 + ⌊ln K⌋ trials), "random", an (n_clusters, n_features) array or a callable
    ``init(X, n_clusters, random_state)`` called on the centered X as scikit-learn does),
    ``n_init`` ("auto": 1 for k-means++ and arrays, 10 otherwise), ``max_iter``, ``tol``
    (relative to the mean feature variance), ``random_state``. Accepted without effect on the
    result: ``verbose`` (nothing is printed), ``copy_x`` (X is never modified),
    ``algorithm`` ("elkan" gives Lloyd's iterates, which are the same).

    Attributes: ``cluster_centers_`` (K, D) in X's precision, ``labels_`` (N,) int32,
    ``inertia_`` (Σ_n w_n ‖x_n − μ_{z_n}‖²), ``n_iter_``, ``n_features_in_``.
    """

    _parameter_constraints = dict(sklearn.cluster.KMeans._parameter_constraints)

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="lloyd"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm

    def _check_params(self, X):
        n_samples, n_features = X.shape
        k = int(self.n_clusters)
        if n_samples < k:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
        init = self.init
        is_array = not isinstance(init, str) and not callable(init)
        if is_array:
            init = check_array(init, dtype=X.dtype, copy=True, order="C", input_name="init")
            self._check_center_shape(init, k, n_features)
        if self.n_init == "auto":
            n_init = 10 if (isinstance(init, str) and init == "random") or callable(init) else 1
        else:
            n_init = int(self.n_init)
        if is_array and n_init != 1:
            warnings.warn(
                f"Explicit initial center position passed: performing only one init in KMeans "
                f"instead of n_init={n_init}.", RuntimeWarning, stacklevel=3)
            n_init = 1
        return k, init, n_init

    @staticmethod
    def _check_center_shape(centers, k, n_features):
        if centers.shape[0] != k:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number of clusters {k} (init).")
        if centers.shape[1] != n_features:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number of features of "
                f"the data {n_features} (init).")

    def fit(self, X, y=None, sample_weight=None):
        """Cluster X (n_samples, n_features), optionally weighted; returns self."""
        del y
        self._validate_params()
        X = validate_data(self, X, dtype=_FLOATS, order="C")
        k, init, n_init = self._check_params(X)
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=X.dtype)
        random_state = check_random_state(self.random_state)
        max_iter = int(self.max_iter)
        with float64():
            # device_put, not jnp.asarray: a float64 X that numpy did not align to 64 bytes is
            # copied either way, but jnp.asarray's path measured ~6x slower (13 ms vs 2 ms, 25 MB).
            Xj = jax.device_put(X)
            wj = None if weights is None else jnp.asarray(weights)
            tol = jnp.asarray(self.tol, X.dtype)
            if isinstance(init, np.ndarray):
                best = _km._fit(Xj, jnp.asarray(init), tol, max_iter, wj, relative_tol=True)
            elif callable(init):
                best = self._fit_callable(X, Xj, wj, tol, k, n_init, max_iter, random_state)
            else:
                best, _ = _km._restarts(key_from_random_state(random_state), Xj, tol, k, n_init, init,
                                        2 + int(np.log(k)), max_iter, wj, relative_tol=True, canonical=True)
            self.cluster_centers_ = to_numpy(best.centers)
            self.labels_ = to_numpy(best.labels).astype(np.int32, copy=False)
            self.inertia_ = float(best.inertia)
            self.n_iter_ = int(best.n_iter)
        distinct = int(np.count_nonzero(np.bincount(self.labels_, minlength=k)))  # O(N), np.unique sorts
        if distinct < k:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters ({k}). "
                "Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=2)
        return self

    def _fit_callable(self, X, Xj, wj, tol, k, n_init, max_iter, random_state):
        """Best of ``n_init`` fits from ``init(X − x̄, k, random_state)`` + x̄ (scikit-learn calls it on
        the centered data)."""
        mean = X.mean(axis=0)
        centered = X - mean
        best = None
        for _ in range(n_init):
            centers = check_array(self.init(centered, k, random_state=random_state), dtype=X.dtype, order="C")
            self._check_center_shape(centers, k, X.shape[1])
            run = _km._fit(Xj, jnp.asarray(centers + mean), tol, max_iter, wj, relative_tol=True)
            if best is None or float(run.inertia) < float(best.inertia):
                best = run
        return best

    def _inputs(self, X):
        """Validated X and the centers, both in the precision of the computation (numpy)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, order="C", reset=False)
        dtype = _common_dtype(X, self.cluster_centers_.dtype)
        return X.astype(dtype, copy=False), self.cluster_centers_.astype(dtype, copy=False)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then ``labels_`` (the nearest final center of each row of X)."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Index (int32) of the nearest center argmin_k ‖x_n − μ_k‖² of each row of X."""
        X, centers = self._inputs(X)
        with float64():
            return to_numpy(_km._predict(jnp.asarray(centers), jnp.asarray(X))).astype(np.int32, copy=False)

    def transform(self, X):
        """Euclidean distances ‖x_n − μ_k‖, shape (n_samples, n_clusters)."""
        X, centers = self._inputs(X)
        with float64():
            return to_numpy(_km._transform(jnp.asarray(centers), jnp.asarray(X)))

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then the distances of X to the centers."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """−Σ_n w_n min_k ‖x_n − μ_k‖², the opposite of X's (weighted) inertia for the fitted centers."""
        del y
        X, centers = self._inputs(X)
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=X.dtype)
        with float64():
            wj = None if weights is None else jnp.asarray(weights)
            return float(_km._score(jnp.asarray(centers), jnp.asarray(X), wj))

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by (soft) EM with scikit-learn's ``GaussianMixture`` interface.

    Maximizes the mean log-likelihood (1/N) Σ_n log Σ_k π_k N(x_n | μ_k, Σ_k) by EM
    (``jaxml.unsupervised.gmm_fit``).

    Parameters: as ``sklearn.mixture.GaussianMixture`` — ``n_components``, ``covariance_type``
    ("full", "tied", "diag", "spherical"), ``tol`` (on the mean log-likelihood), ``reg_covar``,
    ``max_iter``, ``n_init``, ``init_params`` ("kmeans", "k-means++", "random",
    "random_from_data"), ``weights_init``, ``means_init``, ``precisions_init``,
    ``random_state``, ``warm_start``. Accepted without effect on the result: ``verbose`` and
    ``verbose_interval`` (nothing is printed).

    Attributes (in X's precision): ``weights_``, ``means_``, ``covariances_``, ``precisions_``,
    ``precisions_cholesky_``; ``converged_``, ``n_iter_``, ``lower_bound_`` (mean log-likelihood
    of the last E-step), ``lower_bounds_`` (one per EM step), ``n_features_in_``.
    """

    _parameter_constraints = dict(sklearn.mixture.GaussianMixture._parameter_constraints)

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None, means_init=None,
                 precisions_init=None, random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ validation

    def _check_parameters(self, X):
        n_samples, n_features = X.shape
        k = int(self.n_components)
        if n_samples < k:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {n_samples}")
        weights = means = covariances = None
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (k,):
                raise ValueError(f"weights_init must have shape ({k},), got {weights.shape}")
            if np.any(weights < 0) or np.any(weights > 1) or not np.all(np.isfinite(weights)):
                raise ValueError("weights_init must lie in [0, 1]")
            if abs(1.0 - weights.sum()) > (1e-6 if X.dtype == np.float32 else 1e-8):
                raise ValueError(f"weights_init must sum to 1, got sum {weights.sum():.8f}")
            weights = weights.astype(X.dtype)
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=X.dtype)
            if means.shape != (k, n_features):
                raise ValueError(f"means_init must have shape {(k, n_features)}, got {means.shape}")
            if not np.all(np.isfinite(means)):
                raise ValueError("means_init contains NaN or infinite values")
        if self.precisions_init is not None:
            precisions = np.asarray(self.precisions_init, dtype=np.float64)
            want = _gmm.covariance_shape(self.covariance_type, k, n_features)
            if precisions.shape != want:
                raise ValueError(
                    f"precisions_init must have shape {want} for covariance_type="
                    f"{self.covariance_type!r}, got {precisions.shape}")
            if not np.all(np.isfinite(precisions)):
                raise ValueError("precisions_init contains NaN or infinite values")
            if self.covariance_type in ("full", "tied"):
                mats = precisions.reshape(-1, n_features, n_features)
                if not np.allclose(mats, np.swapaxes(mats, -1, -2)) or np.any(np.linalg.eigvalsh(mats)[:, 0] <= 0):
                    raise ValueError("precisions_init must be symmetric, positive-definite")
            elif np.any(precisions <= 0):
                raise ValueError("precisions_init must be positive")
            with float64():
                covariances = to_numpy(_gmm._covariances_from_precisions(precisions, self.covariance_type))
            covariances = covariances.astype(X.dtype)
        return k, weights, means, covariances

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None):
        """Estimate the parameters by EM; returns self."""
        self._fit(X)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then the most probable component of each row of X."""
        return self._fit(X).predict(X)

    def _fit(self, X):
        self._validate_params()
        X = validate_data(self, X, dtype=_FLOATS, ensure_min_samples=2)
        k, weights, means, covariances = self._check_parameters(X)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        ctype = self.covariance_type
        given = (weights, means, covariances)
        with float64():
            reg_covar, tol = jnp.asarray(self.reg_covar, X.dtype), jnp.asarray(self.tol, X.dtype)
            Xj = jnp.asarray(X)
            if not do_init:
                previous = (self.weights_, self.means_, self.covariances_)
                inits = [_gmm.GMMParams(*(jnp.asarray(a, X.dtype) for a in previous))]
            elif self.max_iter > 0 and all(g is None for g in given):
                inits = None  # every initialization and its EM run in one program
            else:
                inits = []
                for _ in range(n_init):
                    if all(g is not None for g in given):
                        base = _gmm.GMMParams(*given)
                    else:
                        base = _gmm._init(key_from_random_state(random_state), Xj, reg_covar, k, ctype,
                                          self.init_params)
                    parts = zip(base, given, strict=True)
                    inits.append(_gmm.GMMParams(*(jnp.asarray(b if g is None else g) for b, g in parts)))
            if self.max_iter == 0:
                self._set_result(inits[0], ctype)
                self.converged_, self.n_iter_ = False, 0
                self.lower_bound_, self.lower_bounds_ = -np.inf, []
                return self
            if inits is None:
                best, _ = _gmm._restarts(key_from_random_state(random_state), Xj, reg_covar, tol, k, n_init, ctype,
                                         self.init_params, False, self.max_iter)
            else:
                best = None
                for p0 in inits:
                    run = _gmm._fit(Xj, p0, reg_covar, tol, self.max_iter, ctype, False)
                    if best is None or float(run.lower_bound) > float(best.lower_bound):
                        best = run
            self._set_result(best.params, ctype, best.precisions_cholesky)
            self.converged_ = bool(best.converged)
            self.n_iter_ = int(best.n_iter)
            self.lower_bound_ = float(best.lower_bound)
            self.lower_bounds_ = [float(v) for v in to_numpy(best.log_likelihood_history)[: self.n_iter_]]
        if not self.converged_:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning, stacklevel=3)
        return self

    def _set_result(self, params, ctype, prec_chol=None):
        self.weights_ = to_numpy(params.weights)
        self.means_ = to_numpy(params.means)
        self.covariances_ = to_numpy(params.covariances)
        if prec_chol is None:
            prec_chol, _ = _gmm._cholesky_and_precisions(params.covariances, ctype)
        self.precisions_cholesky_ = to_numpy(prec_chol)
        # Σ⁻¹ = U Uᵀ (full, tied) or U² (diag, spherical): (K·)D³ flops, cheaper on the host than a dispatch.
        if ctype in ("full", "tied"):
            self.precisions_ = self.precisions_cholesky_ @ np.swapaxes(self.precisions_cholesky_, -1, -2)
        else:
            self.precisions_ = self.precisions_cholesky_**2

    # ------------------------------------------------------------------ inference

    def _infer(self, fn, X):
        """``fn(params, X, covariance_type)``, a jitted ``jaxml.unsupervised`` inference, on numpy X."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        dtype = _common_dtype(X, self.means_.dtype)
        with float64():
            params = _gmm.GMMParams(*(jnp.asarray(a.astype(dtype, copy=False))
                                      for a in (self.weights_, self.means_, self.covariances_)))
            return to_numpy(fn(params, jnp.asarray(X.astype(dtype, copy=False)), self.covariance_type))

    def score_samples(self, X):
        """log p(x_n) = logsumexp_k [log π_k + log N(x_n | μ_k, Σ_k)] for each row."""
        return self._infer(_gmm.gmm_score_samples, X)

    def score(self, X, y=None):
        """Mean log-likelihood (1/N) Σ_n log p(x_n)."""
        del y
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X):
        """Responsibilities p(z = k | x_n), shape (n_samples, n_components)."""
        return self._infer(_gmm.gmm_predict_proba, X)

    def predict(self, X):
        """Most probable component argmax_k p(z = k | x_n) of each row of X."""
        return self._infer(_gmm.gmm_predict, X).astype(np.int64)

    def sample(self, n_samples=1):
        """Draw (X (n_samples, D) float64, component labels (n_samples,)) from the fitted mixture."""
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise ValueError(f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at least one "
                             "sample.")
        with float64():
            params = _gmm.GMMParams(*(jnp.asarray(a, np.float64) for a in (self.weights_, self.means_,
                                                                          self.covariances_)))
            x, z = _gmm._sample(key_from_random_state(self.random_state), params, int(n_samples),
                                self.covariance_type)
            return to_numpy(x), to_numpy(z).astype(np.int64)

    def _n_parameters(self):
        return _gmm.gmm_num_parameters(self.means_.shape[0], self.means_.shape[1], self.covariance_type)

    def bic(self, X):
        """Bayesian information criterion −2 log L + p log N (lower is better)."""
        n = np.shape(X)[0]
        return -2.0 * self.score(X) * n + self._n_parameters() * np.log(n)

    def aic(self, X):
        """Akaike information criterion −2 log L + 2p (lower is better)."""
        return -2.0 * self.score(X) * np.shape(X)[0] + 2.0 * self._n_parameters()


__all__ = ["GaussianMixture", "KMeans"]
