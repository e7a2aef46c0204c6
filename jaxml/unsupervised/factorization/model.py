"""The matrix-factorization model X ≈ W Zᵀ, its objective and hand gradient, synthetic data.

The model is X ≈ W Zᵀ with row factors W ∈ ℝ^{D×K} and column factors Z ∈ ℝ^{N×K},
x̂_dn = w_dᵀ z_n, and the objective (this package's exact normalisation) is

    f(W, Z) = (1/|Ω|) · ½ Σ_{(d,n)∈Ω} (x_dn − w_dᵀ z_n)²  +  (λ/2) (‖W‖²_F + ‖Z‖²_F).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_scalar
from jaxml.core.gradcheck import register_gradient
from jaxml.core.types import Array, PRNGKey
from jaxml.unsupervised.factorization.data import Ratings, check_shape


class Factors(NamedTuple):
    """The factors of X ≈ W Zᵀ.

    Attributes:
      W: [D, K] row factors; row d is w_d.
      Z: [N, K] column factors; row n is z_n.
    """

    W: Array
    Z: Array


class SyntheticRatings(NamedTuple):
    """A synthetic problem: the observed noisy entries and the factors they were drawn from."""

    ratings: Ratings
    truth: Factors


class MFResult(NamedTuple):
    """The factors after training and the per-epoch (SGD) or per-sweep (ALS) history.

    Attributes:
      factors: the final ``Factors``.
      history: dict of arrays of shape [num_epochs]: ``train_rmse``, ``objective`` (f on the
        training entries) and, when validation entries were given, ``valid_rmse``.
    """

    factors: Factors
    history: dict


def check_factors(factors: Factors) -> Factors:
    """``factors`` must be ``Factors(W [D, K], Z [N, K])`` with finite entries and one rank K."""
    if not isinstance(factors, tuple) or len(factors) != 2:
        raise ValueError(f"factors must be Factors(W, Z), got {type(factors).__name__}")
    check_array(factors.W, "factors.W", ndim=2)
    check_array(factors.Z, "factors.Z", ndim=2)
    if factors.W.shape[1] != factors.Z.shape[1]:
        raise ValueError(
            f"factors.W and factors.Z must have the same rank K, got {factors.W.shape} and {factors.Z.shape}"
        )
    return factors


def mf_init(
    key: PRNGKey,
    num_rows: int,
    num_cols: int,
    rank: int,
    *,
    scale: float | None = None,
    dtype=jnp.float32,
) -> Factors:
    """W_dk, Z_nk ~ N(0, s²) with s = ``scale`` (default K^{-1/2}, so w_dᵀz_n has variance 1/K).

    Not zero: W = Z = 0 is a saddle point of f (both gradients vanish there).
    """
    num_rows, num_cols = check_shape((num_rows, num_cols))
    rank = check_int(rank, "rank", minimum=1)
    s = rank**-0.5 if scale is None else check_scalar(scale, "scale", minimum=0.0, strict_min=True)
    k_w, k_z = jax.random.split(key)
    return Factors(
        W=s * jax.random.normal(k_w, (num_rows, rank), dtype),
        Z=s * jax.random.normal(k_z, (num_cols, rank), dtype),
    )


def mf_predict(factors: Factors, rows: Array, cols: Array) -> Array:
    """x̂_dn = w_dᵀ z_n for each (rows[i], cols[i]); cost O(MK)."""
    return jnp.sum(factors.W[rows] * factors.Z[cols], axis=-1)


def mf_residuals(factors: Factors, ratings: Ratings) -> Array:
    """r_i = x_{d_i n_i} − w_{d_i}ᵀ z_{n_i} on the observed entries."""
    return ratings.values - mf_predict(factors, ratings.rows, ratings.cols)


@jax.jit
def mf_rmse(factors: Factors, ratings: Ratings) -> Array:
    """√((1/|Ω|) Σ_Ω (x_dn − w_dᵀ z_n)²), the root mean squared error on the given entries."""
    return jnp.sqrt(jnp.mean(jnp.square(mf_residuals(factors, ratings))))


def mf_loss(factors: Factors, ratings: Ratings, lam) -> Array:
    """f(W, Z) = (1/M) · ½ Σ_i (x_i − w_{d_i}ᵀ z_{n_i})² + (λ/2)(‖W‖²_F + ‖Z‖²_F).

    M is the number of entries passed (|Ω| for the full objective, B for a minibatch: then f is
    an unbiased estimate of the full objective). λ may be traced. Cost O(MK + (D + N)K).
    """
    r = mf_residuals(factors, ratings)
    penalty = jnp.sum(jnp.square(factors.W)) + jnp.sum(jnp.square(factors.Z))
    return 0.5 * jnp.mean(jnp.square(r)) + 0.5 * lam * penalty


def mf_loss_grad(factors: Factors, ratings: Ratings, lam) -> Factors:
    """The hand gradient of ``mf_loss``:

        ∂f/∂w_d = −(1/M) Σ_{i: d_i = d} r_i z_{n_i} + λ w_d,
        ∂f/∂z_n = −(1/M) Σ_{i: n_i = n} r_i w_{d_i} + λ z_n,      r_i = x_i − w_{d_i}ᵀ z_{n_i}.

    The sums over a row's (column's) entries are ``segment_sum``s. Cost O(MK + (D + N)K).
    """
    W, Z = factors
    m = ratings.values.shape[0]
    r = mf_residuals(factors, ratings)
    grad_w = -jax.ops.segment_sum(r[:, None] * Z[ratings.cols], ratings.rows, W.shape[0]) / m
    grad_z = -jax.ops.segment_sum(r[:, None] * W[ratings.rows], ratings.cols, Z.shape[0]) / m
    return Factors(W=grad_w + lam * W, Z=grad_z + lam * Z)


def _mf_gradcheck_args(key, dtype):
    k_f, k_r, k_c, k_v = jax.random.split(key, 4)
    num_rows, num_cols, rank, m = 5, 4, 2, 12
    factors = mf_init(k_f, num_rows, num_cols, rank, scale=1.0, dtype=dtype)
    ratings = Ratings(
        jax.random.randint(k_r, (m,), 0, num_rows),
        jax.random.randint(k_c, (m,), 0, num_cols),
        jax.random.normal(k_v, (m,), dtype),
    )
    return factors, ratings, jnp.asarray(0.3, dtype)


register_gradient(
    "unsupervised.mf_loss",
    loss=mf_loss,
    grad=mf_loss_grad,
    make_args=_mf_gradcheck_args,
)


def make_low_rank_ratings(
    key: PRNGKey,
    num_rows: int,
    num_cols: int,
    rank: int,
    *,
    noise: float = 0.1,
    observed: float = 0.05,
    dtype=jnp.float32,
) -> SyntheticRatings:
    """A synthetic low-rank ratings matrix with most entries missing.

    W*_dk, Z*_nk ~ N(0, 1/√K*) (so that x*_dn = w*_dᵀ z*_n has unit variance), each entry is
    observed independently with probability ``observed`` (default 0.05: 95% missing), and an
    observed value is x_dn = w*_dᵀ z*_n + σ ε_dn with ε ~ N(0, 1), σ = ``noise``.

    Args:
      key: the key of the factors, the mask and the noise.
      num_rows, num_cols: D and N.
      rank: the true rank K*.
      noise: σ ≥ 0.
      observed: the probability that an entry is observed, in (0, 1].

    Returns:
      ``SyntheticRatings(ratings, truth)``, the entries in row-major order. Cost O(DN + |Ω|K*).
    """
    num_rows, num_cols = check_shape((num_rows, num_cols))
    rank = check_int(rank, "rank", minimum=1)
    check_scalar(noise, "noise", minimum=0.0)
    check_scalar(observed, "observed", minimum=0.0, maximum=1.0, strict_min=True)
    k_w, k_z, k_mask, k_noise = jax.random.split(key, 4)
    scale = rank**-0.25
    W = scale * jax.random.normal(k_w, (num_rows, rank), dtype)
    Z = scale * jax.random.normal(k_z, (num_cols, rank), dtype)
    mask = np.asarray(jax.random.bernoulli(k_mask, observed, (num_rows, num_cols)))
    rows, cols = np.nonzero(mask)
    rows = jnp.asarray(rows, jnp.int32)
    cols = jnp.asarray(cols, jnp.int32)
    clean = mf_predict(Factors(W, Z), rows, cols)
    values = clean + jnp.asarray(noise, dtype) * jax.random.normal(k_noise, clean.shape, dtype)
    return SyntheticRatings(Ratings(rows, cols, values), Factors(W, Z))


__all__ = [
    "Factors",
    "MFResult",
    "SyntheticRatings",
    "make_low_rank_ratings",
    "mf_init",
    "mf_loss",
    "mf_loss_grad",
    "mf_predict",
    "mf_residuals",
    "mf_rmse",
]
