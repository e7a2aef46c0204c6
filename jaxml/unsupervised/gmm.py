"""Gaussian mixture models: hard and soft EM in log space (SYLLABUS 6).

Model: p(x | θ) = Σ_k π_k N(x | μ_k, Σ_k), θ = (π, μ, Σ), π on the simplex. With a latent
z ∈ {1..K}, p(x, z = k) = π_k N(x | μ_k, Σ_k).

EM maximizes the log-likelihood ℓ(θ) = Σ_n log p(x_n | θ) through its lower bound, for any
distribution q_n over z:

  ELBO(q, θ) = Σ_n Σ_k q_nk [log π_k + log N(x_n | μ_k, Σ_k) − log q_nk]
             = ℓ(θ) − Σ_n KL(q_n ‖ p(z | x_n, θ))

  E-step (soft):  q_nk = r_nk = p(z = k | x_n, θ) = exp(log π_k + log N_nk − logsumexp_j(...))
                  (then KL = 0: the ELBO touches ℓ)
  E-step (hard):  q_nk = 1[k = argmax_j r_nj]  (the ELBO becomes Σ_n log p(x_n, z_n*))
  M-step:         N_k = Σ_n q_nk,  π_k = N_k / N,  μ_k = (1/N_k) Σ_n q_nk x_n,
                  Σ_k = (1/N_k) Σ_n q_nk (x_n − μ_k)(x_n − μ_k)ᵀ + reg_covar · I

so soft EM never decreases ℓ, hard EM never decreases Σ_n max_k log p(x_n, k). Covariance types
(scikit-learn's): "full" Σ_k (K, D, D); "tied" one Σ (D, D) = Σ_k N_k Σ_k / N; "diag" Σ_k =
diag(σ²_k) (K, D); "spherical" Σ_k = σ²_k I (K,). Every density is evaluated in log space from
the Cholesky factor of the precision, U_k with U_k U_kᵀ = Σ_k⁻¹ (scikit-learn's
``precisions_cholesky_``):  log N(x | μ, Σ) = −½ D log 2π + Σ_d log U_dd − ½ ‖U_kᵀ(x − μ_k)‖².

Robustness: N_k gets 10·eps added (as scikit-learn) so an empty component gives no 0/0; hard EM
keeps the previous mean and covariance of a component that receives no point; a covariance whose
Cholesky factorization fails (duplicate points, one-point components, D larger than the points
of a component with ``reg_covar`` = 0) is retried with a growing jitter on its diagonal, so no
NaN comes out.

Cost per EM step: Θ(NKD²) for "full"/"tied" (one (N, D) × (D, KD) product in the E-step and the
K weighted scatter matrices in the M-step), Θ(NKD) for "diag"/"spherical", plus Θ(KD³) for the
factorizations.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_choice, check_int, check_scalar, is_concrete
from jaxml.core.types import Array, PRNGKey
from jaxml.unsupervised.kmeans import _check_data, _plusplus_impl
from jaxml.unsupervised.kmeans import _fit_impl as _kmeans_fit_impl

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")


class GMMParams(NamedTuple):
    """Parameters θ of a Gaussian mixture with K components in D dimensions.

    Attributes:
      weights: (K,) mixing proportions π_k ≥ 0, Σ_k π_k = 1.
      means: (K, D) component means μ_k.
      covariances: Σ_k by type: "full" (K, D, D), "tied" (D, D), "diag" (K, D) variances,
        "spherical" (K,) variances.
    """

    weights: Array
    means: Array
    covariances: Array


class GMMState(NamedTuple):
    """EM state.

    Attributes:
      params: current θ.
      objective: () the monitored objective of the last E-step (soft: mean log-likelihood;
        hard: mean Σ_n log p(x_n, z_n*)), −inf before the first step.
      iteration: () int32 EM steps taken.
      converged: () bool, the objective changed by less than tol at the last step.
    """

    params: GMMParams
    objective: Array
    iteration: Array
    converged: Array


class GMMInfo(NamedTuple):
    """What one EM step measured at the parameters it started from (before its M-step).

    Attributes:
      log_likelihood: (1/N) Σ_n log p(x_n | θ) (soft EM: non-decreasing over steps).
      elbo: (1/N) ELBO(q, θ) for the q of this E-step (soft: equals log_likelihood; hard:
        (1/N) Σ_n max_k log p(x_n, k | θ), non-decreasing under hard EM).
    """

    log_likelihood: Array
    elbo: Array


class GMMResult(NamedTuple):
    """A fitted mixture.

    Attributes:
      params: θ after the last M-step.
      precisions_cholesky: U of the final θ (scikit-learn's ``precisions_cholesky_``).
      lower_bound: () the mean log-likelihood of the last E-step (scikit-learn's
        ``lower_bound_``; hard EM: the hard objective).
      n_iter: () int32 EM steps run.
      converged: () bool, stopped by ``tol`` rather than ``max_iter``.
      log_likelihood_history: (max_iter,) ``GMMInfo.log_likelihood`` per step, NaN after n_iter.
      elbo_history: (max_iter,) ``GMMInfo.elbo`` per step, NaN after n_iter.
    """

    params: GMMParams
    precisions_cholesky: Array
    lower_bound: Array
    n_iter: Array
    converged: Array
    log_likelihood_history: Array
    elbo_history: Array


# ----------------------------------------------------------------------------------------------
# validation (outside jit)


def _check_type(covariance_type):
    return check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)


def _check_components(n_components, n_samples):
    k = check_int(n_components, "n_components", minimum=1)
    if k > n_samples:
        raise ValueError(f"n_components={k} must be <= the number of points n_samples={n_samples}")
    return k


def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple[int, ...]:
    """The shape of ``GMMParams.covariances`` for a covariance type."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[_check_type(covariance_type)]


def _check_params(params, X, covariance_type, name="params"):
    if not isinstance(params, GMMParams):
        raise ValueError(f"{name} must be a GMMParams(weights, means, covariances), got {type(params).__name__}")
    check_array(params.means, f"{name}.means", ndim=2)
    k, d = np.shape(params.means)
    if d != np.shape(X)[1]:
        raise ValueError(f"{name}.means must have the {np.shape(X)[1]} features of X, got shape {(k, d)}")
    _check_components(k, np.shape(X)[0])
    check_array(params.weights, f"{name}.weights", ndim=1)
    if np.shape(params.weights) != (k,):
        raise ValueError(f"{name}.weights must have shape ({k},), got {np.shape(params.weights)}")
    want = covariance_shape(covariance_type, k, d)
    check_array(params.covariances, f"{name}.covariances", ndim=len(want))
    if np.shape(params.covariances) != want:
        raise ValueError(
            f"{name}.covariances must have shape {want} for covariance_type={covariance_type!r}, "
            f"got {np.shape(params.covariances)}"
        )
    if is_concrete(params.weights):
        w = np.asarray(params.weights, float)
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0, atol=1e-5):
            raise ValueError(f"{name}.weights must be non-negative and sum to 1, got sum {w.sum():.6g}")
    if is_concrete(params.covariances):
        raw = np.asarray(params.covariances)
        slack = 100 * np.finfo(raw.dtype if raw.dtype.kind == "f" else np.float64).eps
        c = raw.astype(float)
        if covariance_type in ("full", "tied"):
            mats = c.reshape(-1, d, d)
            if not np.allclose(mats, np.swapaxes(mats, -1, -2), atol=slack * max(1.0, np.abs(mats).max())):
                raise ValueError(f"{name}.covariances must be symmetric")
            eig = np.linalg.eigvalsh(mats)
            if np.any(eig[:, 0] < -slack * max(1.0, np.abs(eig).max())):
                raise ValueError(f"{name}.covariances must be positive semi-definite")
        elif np.any(c < 0):
            raise ValueError(f"{name}.covariances must be non-negative")
    dtype = jnp.asarray(X).dtype
    return GMMParams(*(jnp.asarray(a, dtype) for a in params))


def _check_fit_args(reg_covar, tol, max_iter):
    check_scalar(reg_covar, "reg_covar", minimum=0.0)
    check_scalar(tol, "tol", minimum=0.0)
    return check_int(max_iter, "max_iter", minimum=1)


# ----------------------------------------------------------------------------------------------
# covariances, precisions and log densities


def _safe_cholesky(cov):
    """Lower Cholesky factor of (..., D, D) matrices; failed ones get a growing diagonal jitter.

    ``jnp.linalg.cholesky`` returns NaN instead of raising. A ``while_loop`` (on the values only)
    finds, per matrix, the first jitter of 0, 10·eps·s, 10³·eps·s, ... (s = trace/D) that
    factorizes; the factor is then recomputed once with that jitter, so it stays differentiable
    in ``cov``. A matrix that still fails falls back to the square root of its diagonal.
    """
    d = cov.shape[-1]
    eye = jnp.broadcast_to(jnp.eye(d, dtype=cov.dtype), cov.shape)
    eps = jnp.finfo(cov.dtype).eps
    values = jax.lax.stop_gradient(cov)
    scale = _variance_scale(jnp.trace(values, axis1=-2, axis2=-1) / d)

    def failed(chol):
        return jnp.any(~jnp.isfinite(chol), axis=(-2, -1))

    def factor(jitter):
        return jnp.linalg.cholesky(values + jitter[..., None, None] * eye)

    def still_failing(carry):
        attempt, _, chol = carry
        return (attempt < 5) & jnp.any(failed(chol))

    def retry(carry):
        attempt, jitter, chol = carry
        bigger = eps * 10.0 ** (2 * attempt + 1).astype(cov.dtype) * scale
        jitter = jnp.where(failed(chol), bigger, jitter)
        return attempt + 1, jitter, factor(jitter)

    zero = jnp.zeros(cov.shape[:-2], cov.dtype)
    # One factorization in the loop body (not one per jitter) keeps the compiled program small.
    _, jitter, chol = jax.lax.while_loop(still_failing, retry, (jnp.zeros((), jnp.int32), zero, factor(zero)))
    chol = jnp.linalg.cholesky(cov + jitter[..., None, None] * eye)
    floor = 10.0 * eps * scale[..., None]
    diag_only = jnp.sqrt(jnp.maximum(jnp.diagonal(cov, axis1=-2, axis2=-1), floor))
    return jnp.where(failed(chol)[..., None, None], diag_only[..., None] * eye, chol)


def _variance_scale(variances):
    """A positive scale per matrix: its mean variance, else the mean over all of them, else 1.

    A component collapsed on one point (variance 0 with reg_covar = 0) borrows the scale of the
    others, so its jitter or floor is relative to the data and its precision stays finite.
    """
    overall = jnp.mean(variances)
    fallback = jnp.where(overall > 0, overall, 1.0)
    return jnp.where(variances > 0, variances, fallback)


def _precision_cholesky(covariances, covariance_type):
    if covariance_type in ("full", "tied"):
        chol = _safe_cholesky(covariances)
        eye = jnp.broadcast_to(jnp.eye(chol.shape[-1], dtype=chol.dtype), chol.shape)
        # Σ = L Lᵀ  ⇒  Σ⁻¹ = L⁻ᵀ L⁻¹ = U Uᵀ with U = L⁻ᵀ (upper triangular).
        inv_chol = jax.scipy.linalg.solve_triangular(chol, eye, lower=True)
        return jnp.swapaxes(inv_chol, -1, -2)
    # Variance floor 10·eps relative to the data's scale: a zero variance gives a large but
    # finite precision instead of inf (and then inf − inf = NaN in the log density).
    floor = 10.0 * jnp.finfo(covariances.dtype).eps * _variance_scale(jax.lax.stop_gradient(covariances))
    return 1.0 / jnp.sqrt(jnp.maximum(covariances, floor))


def precision_cholesky(covariances: Array, covariance_type: str) -> Array:
    """U with U Uᵀ = Σ⁻¹ (upper triangular for full/tied; 1/σ for diag/spherical). Θ(KD³)."""
    return _precision_cholesky(jnp.asarray(covariances), _check_type(covariance_type))


def precisions_from_cholesky(prec_chol: Array, covariance_type: str) -> Array:
    """Σ⁻¹ = U Uᵀ (full/tied) or U² (diag/spherical)."""
    _check_type(covariance_type)
    prec_chol = jnp.asarray(prec_chol)
    if covariance_type in ("full", "tied"):
        return prec_chol @ jnp.swapaxes(prec_chol, -1, -2)
    return prec_chol**2


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _cholesky_and_precisions(covariances, covariance_type):
    """(U, Σ⁻¹ = U Uᵀ or U²) in one compiled call (the facade's fitted attributes)."""
    prec_chol = _precision_cholesky(covariances, covariance_type)
    if covariance_type in ("full", "tied"):
        return prec_chol, prec_chol @ jnp.swapaxes(prec_chol, -1, -2)
    return prec_chol, prec_chol**2


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def _covariances_from_precisions(precisions, covariance_type):
    return covariances_from_precisions(precisions, covariance_type)


def covariances_from_precisions(precisions: Array, covariance_type: str) -> Array:
    """Σ = (Σ⁻¹)⁻¹, by a Cholesky solve for full/tied (never an explicit inverse of Σ⁻¹)."""
    _check_type(covariance_type)
    precisions = jnp.asarray(precisions)
    if covariance_type in ("full", "tied"):
        chol = _safe_cholesky(precisions)
        eye = jnp.broadcast_to(jnp.eye(chol.shape[-1], dtype=chol.dtype), chol.shape)
        cov = jax.scipy.linalg.cho_solve((chol, True), eye) if chol.ndim == 2 else jax.vmap(
            lambda c, e: jax.scipy.linalg.cho_solve((c, True), e))(chol, eye)
        return 0.5 * (cov + jnp.swapaxes(cov, -1, -2))
    return 1.0 / precisions


def _log_gaussian(X, means, prec_chol, covariance_type):
    """(N, K) log N(x_n | μ_k, Σ_k) from U (see the module docstring)."""
    n, d = X.shape
    k = means.shape[0]
    if covariance_type == "full":
        log_det = jnp.sum(jnp.log(jnp.diagonal(prec_chol, axis1=1, axis2=2)), axis=1)
        # One (N, D) × (D, K·D) product gives every U_kᵀ x_n at once.
        u_all = jnp.transpose(prec_chol, (1, 0, 2)).reshape(d, k * d)
        shift = jnp.einsum("kd,kde->ke", means, prec_chol).reshape(1, k * d)
        y = (X @ u_all - shift).reshape(n, k, d)
        maha = jnp.sum(y * y, axis=2)
    elif covariance_type == "tied":
        log_det = jnp.sum(jnp.log(jnp.diagonal(prec_chol)))
        y = (X @ prec_chol)[:, None, :] - (means @ prec_chol)[None, :, :]
        maha = jnp.sum(y * y, axis=2)
        log_det = jnp.full((k,), log_det)
    else:
        # Centered (x − μ)², not the expanded x² − 2xμ + μ²: with a nearly collapsed component
        # (huge precision) the expansion's rounding would be amplified into ±inf.
        sq = (X[:, None, :] - means[None, :, :]) ** 2  # (N, K, D)
        if covariance_type == "diag":
            log_det = jnp.sum(jnp.log(prec_chol), axis=1)
            maha = jnp.einsum("nkd,kd->nk", sq, prec_chol**2)
        else:  # spherical
            log_det = d * jnp.log(prec_chol)
            maha = jnp.sum(sq, axis=2) * (prec_chol**2)[None, :]
    return -0.5 * (d * jnp.log(2.0 * jnp.pi) + maha) + log_det[None, :]


def _weighted_log_prob(params, X, covariance_type):
    prec_chol = _precision_cholesky(params.covariances, covariance_type)
    return _log_gaussian(X, params.means, prec_chol, covariance_type) + jnp.log(params.weights)[None, :]


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_log_prob(params: GMMParams, X: Array, covariance_type: str = "full") -> Array:
    """(N, K) log N(x_n | μ_k, Σ_k) (without the weights). Θ(NKD²) full, Θ(NKD) diag."""
    prec_chol = _precision_cholesky(params.covariances, covariance_type)
    return _log_gaussian(X, params.means, prec_chol, covariance_type)


def _e_step(params, X, covariance_type):
    joint = _weighted_log_prob(params, X, covariance_type)  # log π_k + log N_nk
    log_px = jax.scipy.special.logsumexp(joint, axis=1)
    return joint - log_px[:, None], log_px, joint


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_e_step(params: GMMParams, X: Array, covariance_type: str = "full") -> tuple[Array, Array]:
    """Log responsibilities and the mean log-likelihood, in log space.

    log r_nk = log π_k + log N(x_n | μ_k, Σ_k) − logsumexp_j [log π_j + log N(x_n | μ_j, Σ_j)].

    Returns:
      ``(log_resp, log_likelihood)``: (N, K) log r and () (1/N) Σ_n log p(x_n | θ).
    """
    log_resp, log_px, _ = _e_step(params, X, covariance_type)
    return log_resp, jnp.mean(log_px)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_score_samples(params: GMMParams, X: Array, covariance_type: str = "full") -> Array:
    """(N,) log p(x_n | θ) = logsumexp_k [log π_k + log N(x_n | μ_k, Σ_k)]."""
    return _e_step(params, X, covariance_type)[1]


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_predict_proba(params: GMMParams, X: Array, covariance_type: str = "full") -> Array:
    """(N, K) responsibilities r_nk = p(z = k | x_n, θ)."""
    return jnp.exp(_e_step(params, X, covariance_type)[0])


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_predict(params: GMMParams, X: Array, covariance_type: str = "full") -> Array:
    """(N,) int32 most probable component argmax_k r_nk."""
    return jnp.argmax(_e_step(params, X, covariance_type)[2], axis=1).astype(jnp.int32)


def _m_step(X, resp, reg_covar, covariance_type, second_moments=False):
    d = X.shape[1]
    eps = jnp.finfo(X.dtype).eps
    nk = jnp.sum(resp, axis=0) + 10.0 * eps
    means = (resp.T @ X) / nk[:, None]
    if covariance_type in ("full", "diag", "spherical"):
        diff = X[:, None, :] - means[None, :, :]  # (N, K, D), centered: no cancellation
        if covariance_type == "full" and second_moments and X.dtype == jnp.float64:
            # Inside the fit (X centered), float64: the second moments Σ_n r_nk x_n x_nᵀ as ONE
            # (K·D, N) × (N, D) product, then − N_k μ_k μ_kᵀ. Twice as fast as the centered
            # batched product; the cancellation costs ~eps64·‖x‖²/σ² (the fit centers X first),
            # far below the 1e-6 agreement.
            k = resp.shape[1]
            second = ((resp[:, :, None] * X[:, None, :]).reshape(X.shape[0], k * d).T @ X).reshape(k, d, d)
            centered_sum = second - (nk - 10.0 * eps)[:, None, None] * means[:, :, None] * means[:, None, :]
            cov = centered_sum / nk[:, None, None]
            cov = 0.5 * (cov + jnp.swapaxes(cov, 1, 2)) + reg_covar * jnp.eye(d, dtype=X.dtype)[None, :, :]
        elif covariance_type == "full":
            weighted = resp[:, :, None] * diff
            cov = jnp.einsum("nkd,nke->kde", weighted, diff) / nk[:, None, None]
            cov = cov + reg_covar * jnp.eye(d, dtype=X.dtype)[None, :, :]
        else:
            cov = jnp.einsum("nk,nkd->kd", resp, diff * diff) / nk[:, None] + reg_covar
            if covariance_type == "spherical":
                cov = jnp.mean(cov, axis=1)
    else:  # tied: Σ = (Σ_k Σ_n r_nk (x_n − μ_k)(x_n − μ_k)ᵀ) / Σ_k N_k
        diff = X[:, None, :] - means[None, :, :]
        scatter = jnp.einsum("nkd,nke->de", resp[:, :, None] * diff, diff)
        cov = scatter / jnp.sum(nk) + reg_covar * jnp.eye(d, dtype=X.dtype)
    return GMMParams(nk / jnp.sum(nk), means, cov)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_m_step(X: Array, resp: Array, reg_covar=1e-6, covariance_type: str = "full") -> GMMParams:
    """The closed-form maximizer of the ELBO over θ for fixed q = ``resp``.

    N_k = Σ_n q_nk (+10·eps), π_k = N_k / Σ_j N_j, μ_k = Σ_n q_nk x_n / N_k,
    Σ_k = Σ_n q_nk (x_n − μ_k)(x_n − μ_k)ᵀ / N_k + reg_covar·I (diag: its diagonal;
    spherical: the mean of that diagonal; tied: Σ_k N_k Σ_k / N). Θ(NKD²) full.
    """
    return _m_step(X, resp, reg_covar, covariance_type)


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_elbo(params: GMMParams, X: Array, resp: Array, covariance_type: str = "full") -> Array:
    """(1/N) ELBO(q, θ) = (1/N) Σ_n Σ_k q_nk [log π_k + log N(x_n | μ_k, Σ_k) − log q_nk].

    Equal to the mean log-likelihood minus (1/N) Σ_n KL(q_n ‖ p(z | x_n, θ)); 0·log 0 = 0.
    """
    joint = _weighted_log_prob(params, X, covariance_type)
    safe_q = jnp.where(resp > 0, resp, 1.0)
    return jnp.mean(jnp.sum(resp * (joint - jnp.log(safe_q)), axis=1))


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def gmm_kl_to_posterior(params: GMMParams, X: Array, resp: Array, covariance_type: str = "full") -> Array:
    """(1/N) Σ_n KL(q_n ‖ p(z | x_n, θ)) = (1/N) Σ_n Σ_k q_nk (log q_nk − log r_nk)."""
    log_post = _e_step(params, X, covariance_type)[0]
    safe_q = jnp.where(resp > 0, resp, 1.0)
    return jnp.mean(jnp.sum(resp * (jnp.log(safe_q) - log_post), axis=1))


# ----------------------------------------------------------------------------------------------
# one EM step and the whole fit


def _em_step(state: GMMState, X, reg_covar, tol, covariance_type, hard):
    log_resp, log_px, joint = _e_step(state.params, X, covariance_type)
    log_likelihood = jnp.mean(log_px)
    k = joint.shape[1]
    if hard:
        labels = jnp.argmax(joint, axis=1)
        resp = jax.nn.one_hot(labels, k, dtype=X.dtype)
        elbo = jnp.mean(jnp.max(joint, axis=1))
        params = _m_step(X, resp, reg_covar, covariance_type)
        # A component that received no point keeps its mean and covariance (weight ~ 0).
        has_points = jnp.sum(resp, axis=0) > 0
        old = state.params
        means = jnp.where(has_points[:, None], params.means, old.means)
        covs = params.covariances
        if covariance_type != "tied":
            covs = jnp.where(has_points.reshape((k,) + (1,) * (covs.ndim - 1)), covs, old.covariances)
        params = GMMParams(params.weights, means, covs)
        objective = elbo
    else:
        params = _m_step(X, jnp.exp(log_resp), reg_covar, covariance_type, second_moments=True)
        elbo = log_likelihood  # KL(r ‖ posterior) = 0 right after the E-step
        objective = log_likelihood
    converged = jnp.abs(objective - state.objective) < tol
    new_state = GMMState(params, objective, state.iteration + 1, converged)
    return new_state, GMMInfo(log_likelihood=log_likelihood, elbo=elbo)


def gmm_init_state(params: GMMParams) -> GMMState:
    """The EM state before the first step: θ⁰ = ``params``, objective −inf."""
    dtype = jnp.asarray(params.means).dtype
    return GMMState(
        params=GMMParams(*(jnp.asarray(a) for a in params)),
        objective=jnp.array(-jnp.inf, dtype),
        iteration=jnp.zeros((), jnp.int32),
        converged=jnp.zeros((), bool),
    )


@functools.partial(jax.jit, static_argnames=("covariance_type", "hard"))
def gmm_step(state: GMMState, X: Array, reg_covar=1e-6, tol=1e-3, *, covariance_type: str = "full",
             hard: bool = False) -> tuple[GMMState, GMMInfo]:
    """One EM step: the E-step at θ (soft or hard responsibilities), then the M-step.

    Args:
      state: from ``gmm_init_state`` or a previous step.
      X: (N, D) points.
      reg_covar: ≥ 0 added to the diagonal of every covariance.
      tol: the step counts as converged when the objective changed by less than tol.
      covariance_type: "full", "tied", "diag" or "spherical" (static).
      hard: hard EM (q one-hot at the most probable component) instead of soft (static).

    Returns:
      ``(new_state, info)``, ``info`` measured at the θ the step started from.
    """
    return _em_step(state, X, reg_covar, tol, covariance_type, hard)


def _fit_impl(X, params, reg_covar, tol, max_iter, covariance_type, hard):
    offset = jnp.mean(X, axis=0)
    Xc = X - offset[None, :]
    state = gmm_init_state(GMMParams(params.weights, params.means - offset[None, :], params.covariances))
    nan_history = jnp.full((max_iter,), jnp.nan, X.dtype)

    def cond(carry):
        state, _, _ = carry
        return (state.iteration < max_iter) & ~state.converged

    def body(carry):
        state, ll_hist, elbo_hist = carry
        new_state, info = _em_step(state, Xc, reg_covar, tol, covariance_type, hard)
        i = state.iteration
        return new_state, ll_hist.at[i].set(info.log_likelihood), elbo_hist.at[i].set(info.elbo)

    state, ll_hist, elbo_hist = jax.lax.while_loop(cond, body, (state, nan_history, nan_history))
    final = GMMParams(state.params.weights, state.params.means + offset[None, :], state.params.covariances)
    return GMMResult(
        params=final,
        precisions_cholesky=_precision_cholesky(final.covariances, covariance_type),
        lower_bound=state.objective,
        n_iter=state.iteration,
        converged=state.converged,
        log_likelihood_history=ll_hist,
        elbo_history=elbo_hist,
    )


@functools.partial(jax.jit, static_argnames=("max_iter", "covariance_type", "hard"))
def _fit(X, params, reg_covar, tol, max_iter, covariance_type, hard):
    return _fit_impl(X, params, reg_covar, tol, max_iter, covariance_type, hard)


def gmm_fit(
    X: Array,
    init_params: GMMParams,
    *,
    covariance_type: str = "full",
    hard: bool = False,
    reg_covar=1e-6,
    tol=1e-3,
    max_iter: int = 100,
) -> GMMResult:
    """EM from ``init_params`` until the objective changes by < tol or ``max_iter`` steps.

    Soft EM from the same θ⁰ as ``sklearn.mixture.GaussianMixture(weights_init, means_init,
    precisions_init)`` gives its ``lower_bound_``, ``n_iter_`` and parameters. One jitted
    ``lax.while_loop``; the data are centered once (the means are shifted back). Cost per step
    Θ(NKD²) (full/tied) or Θ(NKD) (diag/spherical).

    Args:
      X: (N, D) points.
      init_params: θ⁰ (``GMMParams``; covariances shaped for ``covariance_type``).
      covariance_type: "full", "tied", "diag" or "spherical" (static).
      hard: hard EM instead of soft EM (static).
      reg_covar: covariance floor ≥ 0 (traced).
      tol: tolerance on the change of the objective (traced).
      max_iter: the most EM steps (static: it sizes the histories).

    Returns:
      ``GMMResult``.

    Raises:
      ValueError: bad X (NaN, not 2-D, empty), unknown covariance_type, reg_covar < 0, tol < 0,
        max_iter < 1, parameters of the wrong shape, weights off the simplex, covariances not
        positive semi-definite (singular ones are factorized with a jitter), K > N.
    """
    X = _check_data(X)
    covariance_type = _check_type(covariance_type)
    max_iter = _check_fit_args(reg_covar, tol, max_iter)
    params = _check_params(init_params, X, covariance_type, name="init_params")
    return _fit(X, params, jnp.asarray(reg_covar, X.dtype), jnp.asarray(tol, X.dtype), max_iter,
                covariance_type, bool(hard))


# ----------------------------------------------------------------------------------------------
# initialization and restarts


def _init_resp(key, X, n_components, method):
    n = X.shape[0]
    if method == "kmeans":
        centers, _ = _plusplus_impl(key, X, n_components, 2 + int(np.log(n_components)))
        var_mean = jnp.mean(jnp.var(X, axis=0))
        labels = _kmeans_fit_impl(X, centers, 1e-4 * var_mean, 300, None).labels
        return jax.nn.one_hot(labels, n_components, dtype=X.dtype)
    if method == "k-means++":
        _, idx = _plusplus_impl(key, X, n_components, 2 + int(np.log(n_components)))
        return jnp.zeros((n, n_components), X.dtype).at[idx, jnp.arange(n_components)].set(1.0)
    if method == "random_from_data":
        idx = jax.random.choice(key, n, (n_components,), replace=False)
        return jnp.zeros((n, n_components), X.dtype).at[idx, jnp.arange(n_components)].set(1.0)
    resp = jax.random.uniform(key, (n, n_components), X.dtype)
    return resp / jnp.sum(resp, axis=1, keepdims=True)


def _init_impl(key, X, n_components, covariance_type, method, reg_covar):
    resp = _init_resp(key, X, n_components, method)
    return _m_step(X, resp, reg_covar, covariance_type)


@functools.partial(jax.jit, static_argnames=("n_components", "covariance_type", "method"))
def _init(key, X, reg_covar, n_components, covariance_type, method):
    return _init_impl(key, X, n_components, covariance_type, method, reg_covar)


def _check_method(method):
    return check_choice(method, "method", INIT_METHODS)


def gmm_init(
    key: PRNGKey,
    X: Array,
    n_components: int,
    *,
    covariance_type: str = "full",
    method: str = "kmeans",
    reg_covar=1e-6,
) -> GMMParams:
    """θ⁰ from initial responsibilities q⁰ followed by one M-step (π_k = N_k / Σ_j N_j).

    q⁰ by ``method``: "kmeans" (one-hot labels of k-means from greedy k-means++ seeds),
    "k-means++" (one-hot on the K seeds only), "random_from_data" (one-hot on K random points),
    "random" (uniform random rows normalized to 1). Cost: that of the method + one M-step.

    Raises:
      ValueError: unknown method or covariance_type, K < 1 or K > N, reg_covar < 0, bad X.
    """
    X = _check_data(X)
    covariance_type = _check_type(covariance_type)
    method = _check_method(method)
    k = _check_components(n_components, X.shape[0])
    check_scalar(reg_covar, "reg_covar", minimum=0.0)
    return _init(key, X, jnp.asarray(reg_covar, X.dtype), k, covariance_type, method)


@functools.partial(jax.jit, static_argnames=("n_components", "n_init", "covariance_type", "method",
                                             "hard", "max_iter"))
def _restarts(key, X, reg_covar, tol, n_components, n_init, covariance_type, method, hard, max_iter):
    def one(k):
        params = _init_impl(k, X, n_components, covariance_type, method, reg_covar)
        return _fit_impl(X, params, reg_covar, tol, max_iter, covariance_type, hard)

    keys = jax.random.split(key, n_init)
    if n_init == 1:  # no batch dimension: the plain (unbatched) programs are faster on CPU
        run = one(keys[0])
        return run, run.lower_bound[None]
    runs = jax.vmap(one)(keys)
    best = jnp.argmax(runs.lower_bound)
    return jax.tree.map(lambda a: a[best], runs), runs.lower_bound


def gmm_restarts(
    key: PRNGKey,
    X: Array,
    n_components: int,
    *,
    covariance_type: str = "full",
    hard: bool = False,
    n_init: int = 1,
    method: str = "kmeans",
    reg_covar=1e-6,
    tol=1e-3,
    max_iter: int = 100,
) -> tuple[GMMResult, Array]:
    """EM from ``n_init`` initializations run in parallel (``vmap`` over keys); best bound kept.

    Returns:
      ``(best, lower_bounds)``: the ``GMMResult`` with the largest final objective and the
      (n_init,) objectives of every run.
    """
    X = _check_data(X)
    covariance_type = _check_type(covariance_type)
    method = _check_method(method)
    k = _check_components(n_components, X.shape[0])
    n_init = check_int(n_init, "n_init", minimum=1)
    max_iter = _check_fit_args(reg_covar, tol, max_iter)
    return _restarts(key, X, jnp.asarray(reg_covar, X.dtype), jnp.asarray(tol, X.dtype), k, n_init,
                     covariance_type, method, bool(hard), max_iter)


@functools.partial(jax.jit, static_argnames=("n_samples", "covariance_type"))
def _sample(key, params, n_samples, covariance_type):
    k, d = params.means.shape
    key_z, key_e = jax.random.split(key)
    z = jax.random.categorical(key_z, jnp.log(params.weights), shape=(n_samples,))
    eps = jax.random.normal(key_e, (n_samples, d), params.means.dtype)
    if covariance_type == "full":
        chol = _safe_cholesky(params.covariances)[z]  # (n, D, D)
        x = params.means[z] + jnp.einsum("nde,ne->nd", chol, eps)
    elif covariance_type == "tied":
        x = params.means[z] + eps @ _safe_cholesky(params.covariances).T
    elif covariance_type == "diag":
        x = params.means[z] + eps * jnp.sqrt(params.covariances[z])
    else:
        x = params.means[z] + eps * jnp.sqrt(params.covariances[z])[:, None]
    return x, z.astype(jnp.int32)


def gmm_sample(key: PRNGKey, params: GMMParams, n_samples: int, covariance_type: str = "full"):
    """Draw z ~ Categorical(π), x | z ~ N(μ_z, Σ_z) = μ_z + L_z ε. Returns (x (n, D), z (n,))."""
    n = check_int(n_samples, "n_samples", minimum=1)
    return _sample(key, GMMParams(*(jnp.asarray(a) for a in params)), n, _check_type(covariance_type))


def gmm_num_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of the mixture: (K − 1) weights + KD means + the covariances' entries."""
    k, d = n_components, n_features
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d,
           "spherical": k}[_check_type(covariance_type)]
    return int(cov + k * d + k - 1)


__all__ = [
    "COVARIANCE_TYPES",
    "INIT_METHODS",
    "GMMInfo",
    "GMMParams",
    "GMMResult",
    "GMMState",
    "covariance_shape",
    "covariances_from_precisions",
    "gmm_restarts",
    "gmm_e_step",
    "gmm_elbo",
    "gmm_fit",
    "gmm_init",
    "gmm_init_state",
    "gmm_kl_to_posterior",
    "gmm_log_prob",
    "gmm_m_step",
    "gmm_num_parameters",
    "gmm_predict",
    "gmm_predict_proba",
    "gmm_sample",
    "gmm_score_samples",
    "gmm_step",
    "precision_cholesky",
    "precisions_from_cholesky",
]
