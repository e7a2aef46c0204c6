"""``KMeans`` and ``GaussianMixture`` over ``jaxml.unsupervised``.

The facade pattern of ``_linear.py``: ``__init__`` stores scikit-learn's parameters untouched;
``fit`` validates with ``validate_data`` (float64, finite), translates the parameters, and runs
the module-level jitted functions of ``jaxml.unsupervised`` inside ``float64()``; fitted
attributes are numpy arrays.

Translations:
- ``KMeans(tol)`` is relative to the data: the absolute tolerance on Σ_k ‖μ_k^new − μ_k‖² is
  tol · mean(var(X, axis=0)), as scikit-learn. ``n_init`` restarts run as one ``vmap`` over keys.
  ``algorithm="elkan"`` is accepted and runs Lloyd (same iterates, same answer).
- ``GaussianMixture`` runs soft EM (``jaxml.unsupervised.gmm_fit``); ``precisions_init`` is
  turned into covariances by a Cholesky solve. Without explicit initial parameters, the
  ``n_init`` initializations and their EM runs are one ``vmap`` over keys.
- ``random_state`` seeds a JAX key (an int drawn from ``check_random_state(random_state)``): the
  same ``random_state`` gives the same model, but not scikit-learn's random draws.
"""

from __future__ import annotations

import numbers
import warnings

import jax.numpy as jnp
import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    DensityMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxml.core.checks import check_choice
from jaxml.sklearn._base import float64, key_from_random_state, to_numpy
from jaxml.unsupervised import gmm as _gmm
from jaxml.unsupervised import kmeans as _km


def _check_int_param(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float_param(value, name, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def _sq_distances(X, centers):
    """(N, K) ‖x_n − μ_k‖² in numpy (inference is a few BLAS calls: no compilation per shape)."""
    d2 = np.sum(X * X, axis=1)[:, None] - 2.0 * (X @ centers.T) + np.sum(centers * centers, axis=1)[None, :]
    return np.maximum(d2, 0.0)


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """k-means clustering with scikit-learn's ``KMeans`` interface (Lloyd's algorithm in JAX).

    Parameters: as ``sklearn.cluster.KMeans`` — ``n_clusters``, ``init`` ("k-means++", "random",
    an (n_clusters, n_features) array or a callable ``init(X, n_clusters, random_state)``),
    ``n_init`` ("auto": 1 for k-means++ and arrays, 10 otherwise), ``max_iter``, ``tol``
    (relative), ``verbose`` (ignored), ``random_state``, ``copy_x`` (X is never modified),
    ``algorithm`` ("lloyd"; "elkan" runs Lloyd).

    Attributes: ``cluster_centers_`` (K, D), ``labels_`` (N,), ``inertia_`` (Σ_n ‖x_n − μ_{z_n}‖²),
    ``n_iter_``, ``n_features_in_``.
    """

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
        k = _check_int_param(self.n_clusters, "n_clusters", 1)
        if n_samples < k:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={k}.")
        max_iter = _check_int_param(self.max_iter, "max_iter", 1)
        tol = _check_float_param(self.tol, "tol")
        if self.algorithm not in ("lloyd", "elkan"):
            raise ValueError(f"algorithm must be 'lloyd' or 'elkan', got {self.algorithm!r}")
        init = self.init
        if isinstance(init, str):
            if init not in ("k-means++", "random"):
                raise ValueError(f"init must be 'k-means++', 'random', an array or a callable, got {init!r}")
        elif not callable(init):
            init = np.asarray(init, dtype=np.float64)
            if init.shape != (k, n_features):
                raise ValueError(
                    f"The shape of the initial centers {init.shape} does not match the number of "
                    f"clusters {k} and features {n_features} (init)"
                )
            if not np.all(np.isfinite(init)):
                raise ValueError("init contains NaN or infinite values")
        if self.n_init == "auto":
            n_init = 10 if (isinstance(init, str) and init == "random") or callable(init) else 1
        else:
            n_init = _check_int_param(self.n_init, "n_init", 1)
        if isinstance(init, np.ndarray) and n_init != 1:
            warnings.warn(
                f"Explicit initial center position passed: performing only one init in KMeans "
                f"instead of n_init={n_init}.", RuntimeWarning, stacklevel=3)
            n_init = 1
        return k, max_iter, tol, init, n_init

    def fit(self, X, y=None):
        """Cluster X (n_samples, n_features); returns self."""
        del y
        X = validate_data(self, X, dtype=np.float64)
        k, max_iter, tol, init, n_init = self._check_params(X)
        abs_tol = float(np.mean(np.var(X, axis=0)) * tol)
        random_state = check_random_state(self.random_state)
        with float64():
            Xj = jnp.asarray(X)
            if isinstance(init, np.ndarray):
                best = _km.kmeans_fit(Xj, init, max_iter=max_iter, tol=abs_tol)
            elif callable(init):
                best = None
                for _ in range(n_init):
                    centers = np.asarray(init(X, k, random_state), dtype=np.float64)
                    run = _km.kmeans_fit(Xj, centers, max_iter=max_iter, tol=abs_tol)
                    if best is None or float(run.inertia) < float(best.inertia):
                        best = run
            else:
                best, _ = _km.kmeans_restarts(key_from_random_state(random_state), Xj, k, n_init=n_init, init=init,
                                     max_iter=max_iter, tol=abs_tol)
            self.cluster_centers_ = to_numpy(best.centers)
            self.labels_ = to_numpy(best.labels).astype(np.int32)
            self.inertia_ = float(best.inertia)
            self.n_iter_ = int(best.n_iter)
        distinct = np.unique(self.labels_).size
        if distinct < k:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters ({k}). "
                "Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=2)
        return self

    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float64, reset=False)

    def predict(self, X):
        """Index (int32) of the nearest center of each row of X."""
        X = self._validated(X)
        return np.argmin(_sq_distances(X, self.cluster_centers_), axis=1).astype(np.int32)

    def transform(self, X):
        """Euclidean distances (n_samples, n_clusters) from each row of X to every center."""
        X = self._validated(X)
        return np.sqrt(_sq_distances(X, self.cluster_centers_))

    def fit_transform(self, X, y=None):
        """Fit, then the distances of X to the centers."""
        return self.fit(X, y).transform(X)

    def score(self, X, y=None):
        """−Σ_n min_k ‖x_n − μ_k‖² (the opposite of X's inertia for the fitted centers)."""
        del y
        X = self._validated(X)
        return -float(np.sum(np.min(_sq_distances(X, self.cluster_centers_), axis=1)))

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by (soft) EM with scikit-learn's ``GaussianMixture`` interface.

    Parameters: as ``sklearn.mixture.GaussianMixture`` — ``n_components``, ``covariance_type``
    ("full", "tied", "diag", "spherical"), ``tol`` (on the mean log-likelihood), ``reg_covar``,
    ``max_iter``, ``n_init``, ``init_params`` ("kmeans", "k-means++", "random",
    "random_from_data"), ``weights_init``, ``means_init``, ``precisions_init``,
    ``random_state``, ``warm_start``, ``verbose`` and ``verbose_interval`` (ignored).

    Attributes: ``weights_``, ``means_``, ``covariances_``, ``precisions_``,
    ``precisions_cholesky_``, ``converged_``, ``n_iter_``, ``lower_bound_`` (mean log-likelihood
    of the last E-step), ``lower_bounds_`` (one per EM step), ``n_features_in_``.
    """

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
        k = _check_int_param(self.n_components, "n_components", 1)
        if n_samples < k:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {k}, n_samples = {n_samples}")
        check_choice(self.covariance_type, "covariance_type", _gmm.COVARIANCE_TYPES)
        check_choice(self.init_params, "init_params", _gmm.INIT_METHODS)
        _check_float_param(self.tol, "tol")
        _check_float_param(self.reg_covar, "reg_covar")
        _check_int_param(self.max_iter, "max_iter", 0)
        _check_int_param(self.n_init, "n_init", 1)
        weights = means = covariances = None
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (k,):
                raise ValueError(f"weights_init must have shape ({k},), got {weights.shape}")
            if np.any(weights < 0) or np.any(weights > 1) or not np.all(np.isfinite(weights)):
                raise ValueError("weights_init must lie in [0, 1]")
            if abs(1.0 - weights.sum()) > 1e-6:
                raise ValueError(f"weights_init must sum to 1, got sum {weights.sum():.8f}")
        if self.means_init is not None:
            means = np.asarray(self.means_init, dtype=np.float64)
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
                covariances = to_numpy(_gmm.covariances_from_precisions(precisions, self.covariance_type))
        return k, weights, means, covariances

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None):
        """Estimate the parameters by EM; returns self."""
        self.fit_predict(X, y)
        return self

    def fit_predict(self, X, y=None):
        """Fit, then the most probable component of each row of X."""
        del y
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        k, weights, means, covariances = self._check_parameters(X)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        ctype = self.covariance_type
        given = (weights, means, covariances)
        with float64():
            Xj = jnp.asarray(X)
            if not do_init:
                inits = [_gmm.GMMParams(self.weights_, self.means_, self.covariances_)]
            elif self.max_iter > 0 and all(g is None for g in given):
                inits = None  # every initialization and its EM run in one vmap
            else:
                inits = []
                for _ in range(n_init):
                    if all(g is not None for g in given):
                        base = _gmm.GMMParams(*given)
                    else:
                        base = _gmm.gmm_init(key_from_random_state(random_state), Xj, k, covariance_type=ctype,
                                             method=self.init_params, reg_covar=self.reg_covar)
                    parts = zip(base, given, strict=True)
                    inits.append(_gmm.GMMParams(*(to_numpy(b) if g is None else g for b, g in parts)))
            if self.max_iter == 0:
                self._set_result(inits[0], ctype)
                self.converged_, self.n_iter_ = False, 0
                self.lower_bound_, self.lower_bounds_ = -np.inf, []
            else:
                if inits is None:
                    best, _ = _gmm.gmm_restarts(key_from_random_state(random_state), Xj, k, covariance_type=ctype,
                                                n_init=n_init, method=self.init_params,
                                                reg_covar=self.reg_covar, tol=self.tol,
                                                max_iter=self.max_iter)
                else:
                    best = None
                    for p0 in inits:
                        run = _gmm.gmm_fit(Xj, p0, covariance_type=ctype, reg_covar=self.reg_covar,
                                           tol=self.tol, max_iter=self.max_iter)
                        if best is None or float(run.lower_bound) > float(best.lower_bound):
                            best = run
                self._set_result(best.params, ctype)
                self.converged_ = bool(best.converged)
                self.n_iter_ = int(best.n_iter)
                self.lower_bound_ = float(best.lower_bound)
                self.lower_bounds_ = [float(v) for v in to_numpy(best.log_likelihood_history)[: self.n_iter_]]
                if not self.converged_:
                    warnings.warn(
                        "Best performing initialization did not converge. Try different init "
                        "parameters, or increase max_iter, tol, or check for degenerate data.",
                        ConvergenceWarning, stacklevel=2)
        return self.predict(X)

    def _set_result(self, params, ctype):
        self.weights_ = to_numpy(params.weights)
        self.means_ = to_numpy(params.means)
        self.covariances_ = to_numpy(params.covariances)
        self.precisions_cholesky_ = to_numpy(_gmm.precision_cholesky(self.covariances_, ctype))
        self.precisions_ = to_numpy(_gmm.precisions_from_cholesky(self.precisions_cholesky_, ctype))

    def _params(self):
        return _gmm.GMMParams(jnp.asarray(self.weights_), jnp.asarray(self.means_), jnp.asarray(self.covariances_))

    # ------------------------------------------------------------------ inference

    def _validated(self, X):
        check_is_fitted(self)
        return validate_data(self, X, dtype=np.float64, reset=False)

    def _infer(self, fn, X):
        """``fn(params, X, covariance_type)``, a jitted ``jaxml.unsupervised`` inference, on numpy X."""
        X = self._validated(X)
        with float64():
            return to_numpy(fn(self._params(), jnp.asarray(X), self.covariance_type))

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
        """Draw (X (n_samples, D), component labels (n_samples,)) from the fitted mixture."""
        check_is_fitted(self)
        n = _check_int_param(n_samples, "n_samples", 1)
        with float64():
            x, z = _gmm.gmm_sample(key_from_random_state(self.random_state), self._params(), n, self.covariance_type)
            return to_numpy(x), to_numpy(z).astype(np.int64)

    def _n_parameters(self):
        return _gmm.gmm_num_parameters(self.means_.shape[0], self.means_.shape[1], self.covariance_type)

    def bic(self, X):
        """Bayesian information criterion −2 log L + p log N (lower is better)."""
        X = self._validated(X)
        return -2.0 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0])

    def aic(self, X):
        """Akaike information criterion −2 log L + 2p (lower is better)."""
        X = self._validated(X)
        return -2.0 * self.score(X) * X.shape[0] + 2.0 * self._n_parameters()


__all__ = ["GaussianMixture", "KMeans"]
