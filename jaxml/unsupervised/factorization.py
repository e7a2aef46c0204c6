"""Matrix factorization over the observed entries only: SGD and ALS (SYLLABUS 6).

A ratings matrix X ∈ ℝ^{D×N} (rows d = users, columns n = items) is observed on a set Ω of
entries only, stored in COO form ``Ratings(rows, cols, values)`` (one observed entry per
position). The model is X ≈ W Zᵀ with row factors W ∈ ℝ^{D×K} and column factors
Z ∈ ℝ^{N×K}, x̂_dn = w_dᵀ z_n, and the objective (this module's exact normalisation) is

    f(W, Z) = (1/|Ω|) · ½ Σ_{(d,n)∈Ω} (x_dn − w_dᵀ z_n)²  +  (λ/2) (‖W‖²_F + ‖Z‖²_F).

The course writes ½ Σ_Ω (…)² + (λ_c/2)(‖W‖² + ‖Z‖²); both have the same minimiser when
λ_c = |Ω| λ, and that λ_c = λ' is the ridge constant of the ALS solves below.

* SGD (``sgd``): minibatches of B observed entries drawn uniformly from Ω by
  ``jaxml.core.train.fit``; the minibatch loss (1/B)·½ Σ_{batch}(…)² + (λ/2)(‖W‖² + ‖Z‖²) is an
  unbiased estimate of f, so its gradient is an unbiased estimate of ∇f.
* ALS (``als``): f is a ridge regression in each w_d when Z is fixed (and in each z_n when W is
  fixed), so each half-sweep is a batch of K×K ridge solves

      (Z_{Ω_d}ᵀ Z_{Ω_d} + λ' I) w_d = Z_{Ω_d}ᵀ x_{Ω_d},     λ' = |Ω| λ,

  where Z_{Ω_d} stacks the z_n of the entries observed in row d. A row with no observed entry
  has the ridge solution w_d = 0 (kept exactly, no NaN). A row with L < K entries solves the
  equivalent L×L dual system w_d = Z_{Ω_d}ᵀ(Z_{Ω_d}Z_{Ω_d}ᵀ + λ'I)⁻¹x_{Ω_d}. One sweep costs
  O(|Ω| K² + (D + N) K³) at most.

Rows of the systems are grouped into "buckets" of rows with similar numbers of observed entries
(``make_als_data``, on the host, once): each bucket is a padded ``[B, L]`` block of the
other side's indices, so a half-sweep is a few batched Gram products and batched Cholesky solves,
with no dense D×N mask.
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.checks import check_array, check_int, check_scalar, is_concrete
from jaxml.core.gradcheck import register_gradient
from jaxml.core.train import fit
from jaxml.core.types import Array, PRNGKey

_HIGHEST = jax.lax.Precision.HIGHEST


# --------------------------------------------------------------------------------------------
# Data: observed entries as COO
# --------------------------------------------------------------------------------------------


class Ratings(NamedTuple):
    """Observed entries Ω of a D×N matrix, in COO form (a pytree with a shared leading axis M).

    Attributes:
      rows: int32 [M], the row d of each observed entry, 0 ≤ d < D.
      cols: int32 [M], the column n of each observed entry, 0 ≤ n < N.
      values: float [M], the observed x_dn.
    """

    rows: Array
    cols: Array
    values: Array


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


class RatingsTable(NamedTuple):
    """A ratings file re-indexed to 0..D−1 (rows) and 0..N−1 (columns).

    Attributes:
      ratings: the observed entries with the new indices.
      row_ids: numpy [D], the original id of each row (``row_ids[d]``).
      col_ids: numpy [N], the original id of each column.
    """

    ratings: Ratings
    row_ids: np.ndarray
    col_ids: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(D, N)."""
        return (len(self.row_ids), len(self.col_ids))


def check_ratings(ratings: Ratings, shape: tuple[int, int], name: str = "ratings") -> Ratings:
    """Check COO ratings against the matrix shape (D, N); return them as jax arrays.

    Raises:
      ValueError: naming ``name`` when the three arrays are not 1-D of the same length, are
        empty, when indices are not integers or lie outside [0, D) × [0, N), or when a value
        is NaN or infinite.
    """
    if not isinstance(ratings, tuple) or len(ratings) != 3:
        raise ValueError(f"{name} must be Ratings(rows, cols, values), got {type(ratings).__name__}")
    rows, cols, values = ratings
    num_rows, num_cols = shape
    check_array(rows, f"{name}.rows", ndim=1, finite=False)
    check_array(cols, f"{name}.cols", ndim=1, finite=False)
    check_array(values, f"{name}.values", ndim=1)
    sizes = {np.shape(rows)[0], np.shape(cols)[0], np.shape(values)[0]}
    if len(sizes) != 1:
        raise ValueError(
            f"{name}.rows, .cols and .values must have the same length, got "
            f"{np.shape(rows)[0]}, {np.shape(cols)[0]}, {np.shape(values)[0]}"
        )
    for part, arr, bound in ((f"{name}.rows", rows, num_rows), (f"{name}.cols", cols, num_cols)):
        if np.dtype(arr.dtype).kind not in "iu":
            raise ValueError(f"{part} must hold integer indices, got dtype {arr.dtype}")
        if is_concrete(arr):
            a = np.asarray(arr)
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi >= bound:
                raise ValueError(f"{part} must lie in [0, {bound}), found indices in [{lo}, {hi}]")
    if np.dtype(values.dtype).kind not in "fiub":
        raise ValueError(f"{name}.values must be numbers, got dtype {values.dtype}")
    # integer ratings (1..5 stars) become the default float dtype
    value_dtype = values.dtype if np.dtype(values.dtype).kind == "f" else jnp.result_type(float)
    return Ratings(jnp.asarray(rows, jnp.int32), jnp.asarray(cols, jnp.int32), jnp.asarray(values, value_dtype))


def _check_shape(shape) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be (num_rows, num_cols), got {shape!r}")
    return check_int(shape[0], "shape[0] (num_rows)", minimum=1), check_int(
        shape[1], "shape[1] (num_cols)", minimum=1
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
    num_rows, num_cols = _check_shape((num_rows, num_cols))
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
    clean = predict(Factors(W, Z), rows, cols)
    values = clean + jnp.asarray(noise, dtype) * jax.random.normal(k_noise, clean.shape, dtype)
    return SyntheticRatings(Ratings(rows, cols, values), Factors(W, Z))


def split_ratings(key: PRNGKey, ratings: Ratings, valid_fraction: float = 0.2) -> tuple[Ratings, Ratings]:
    """Split observed entries uniformly at random into (train, validation).

    Round(``valid_fraction`` · M) entries, chosen by a permutation drawn from ``key``, go to the
    validation set. Cost O(M).
    """
    check_scalar(valid_fraction, "valid_fraction", minimum=0.0, maximum=1.0, strict_min=True)
    m = int(np.shape(ratings.values)[0])
    n_valid = int(round(valid_fraction * m))
    if n_valid < 1 or n_valid >= m:
        raise ValueError(
            f"valid_fraction={valid_fraction} leaves an empty train or validation set for {m} entries"
        )
    perm = jax.random.permutation(key, m)
    valid_idx, train_idx = jnp.sort(perm[:n_valid]), jnp.sort(perm[n_valid:])
    take = lambda idx: Ratings(*(a[idx] for a in ratings))  # noqa: E731
    return take(train_idx), take(valid_idx)


def _parse_id(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unique ids (numeric order when all are integers) and the index of each token."""
    try:
        as_int = np.asarray([int(t) for t in tokens], np.int64)
    except ValueError:
        return np.unique(np.asarray(tokens, dtype=object).astype(str), return_inverse=True)
    return np.unique(as_int, return_inverse=True)


def load_ratings_csv(path, *, delimiter: str = ",", dtype=jnp.float32) -> RatingsTable:
    """Load a ``user, item, rating`` CSV file (header optional) as re-indexed COO ratings.

    The first line is taken as a header when its rating field is not a number. User and item
    ids may be any strings; they are re-indexed to 0..D−1 and 0..N−1 in sorted order (numeric
    order when every id is an integer), and the original ids are returned. Extra columns
    (e.g. a timestamp) are ignored. Duplicate (user, item) pairs are kept as separate
    observations.

    Args:
      path: the file.
      delimiter: the field separator.
      dtype: the dtype of the ratings.

    Returns:
      ``RatingsTable(ratings, row_ids, col_ids)``; ``table.shape`` is (D, N).

    Raises:
      ValueError: naming the file and line for a line with fewer than three fields, a rating
        that is not a number or is NaN/inf, or a file with no rating.
    """
    path = Path(path)
    users, items, values = [], [], []
    with path.open(newline="") as fh:
        for line_no, fields in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) < 3:
                raise ValueError(f"ratings file {path}, line {line_no}: expected user,item,rating, got {fields}")
            user, item, rating = (f.strip() for f in fields[:3])
            try:
                value = float(rating)
            except ValueError:
                if line_no == 1:  # a header line
                    continue
                raise ValueError(f"ratings file {path}, line {line_no}: rating {rating!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"ratings file {path}, line {line_no}: rating {rating!r} is NaN or infinite")
            users.append(user)
            items.append(item)
            values.append(value)
    if not values:
        raise ValueError(f"ratings file {path} holds no rating")
    row_ids, rows = _parse_id(users)
    col_ids, cols = _parse_id(items)
    ratings = Ratings(
        jnp.asarray(rows, jnp.int32), jnp.asarray(cols, jnp.int32), jnp.asarray(np.asarray(values), dtype)
    )
    return RatingsTable(ratings, row_ids, col_ids)


# --------------------------------------------------------------------------------------------
# Model, loss and hand gradient
# --------------------------------------------------------------------------------------------


def init_factors(
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
    num_rows, num_cols = _check_shape((num_rows, num_cols))
    rank = check_int(rank, "rank", minimum=1)
    s = rank**-0.5 if scale is None else check_scalar(scale, "scale", minimum=0.0, strict_min=True)
    k_w, k_z = jax.random.split(key)
    return Factors(
        W=s * jax.random.normal(k_w, (num_rows, rank), dtype),
        Z=s * jax.random.normal(k_z, (num_cols, rank), dtype),
    )


def predict(factors: Factors, rows: Array, cols: Array) -> Array:
    """x̂_dn = w_dᵀ z_n for each (rows[i], cols[i]); cost O(MK)."""
    return jnp.sum(factors.W[rows] * factors.Z[cols], axis=-1)


def residuals(factors: Factors, ratings: Ratings) -> Array:
    """r_i = x_{d_i n_i} − w_{d_i}ᵀ z_{n_i} on the observed entries."""
    return ratings.values - predict(factors, ratings.rows, ratings.cols)


@jax.jit
def rmse(factors: Factors, ratings: Ratings) -> Array:
    """√((1/|Ω|) Σ_Ω (x_dn − w_dᵀ z_n)²), the root mean squared error on the given entries."""
    return jnp.sqrt(jnp.mean(jnp.square(residuals(factors, ratings))))


def mf_loss(factors: Factors, ratings: Ratings, lam) -> Array:
    """f(W, Z) = (1/M) · ½ Σ_i (x_i − w_{d_i}ᵀ z_{n_i})² + (λ/2)(‖W‖²_F + ‖Z‖²_F).

    M is the number of entries passed (|Ω| for the full objective, B for a minibatch: then f is
    an unbiased estimate of the full objective). Cost O(MK + (D + N)K).
    """
    r = residuals(factors, ratings)
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
    r = residuals(factors, ratings)
    grad_w = -jax.ops.segment_sum(r[:, None] * Z[ratings.cols], ratings.rows, W.shape[0]) / m
    grad_z = -jax.ops.segment_sum(r[:, None] * W[ratings.rows], ratings.cols, Z.shape[0]) / m
    return Factors(W=grad_w + lam * W, Z=grad_z + lam * Z)


def _mf_gradcheck_args(key, dtype):
    k_f, k_r, k_c, k_v = jax.random.split(key, 4)
    num_rows, num_cols, rank, m = 5, 4, 2, 12
    factors = init_factors(k_f, num_rows, num_cols, rank, scale=1.0, dtype=dtype)
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


# --------------------------------------------------------------------------------------------
# SGD through jaxml.core.train.fit
# --------------------------------------------------------------------------------------------


class MFResult(NamedTuple):
    """The factors after training and the per-epoch (SGD) or per-sweep (ALS) history.

    Attributes:
      factors: the final ``Factors``.
      history: dict of arrays of shape [num_epochs]: ``train_rmse``, ``objective`` (f on the
        training entries) and, when validation entries were given, ``valid_rmse``.
    """

    factors: Factors
    history: dict


@functools.lru_cache(maxsize=64)
def _sgd_loss(lam: float):
    """One loss function per λ value, so that ``fit``'s compile cache is hit on a second call."""

    def loss(factors, batch):
        return mf_loss(factors, batch, lam)

    return loss


@functools.lru_cache(maxsize=64)
def _sgd_optimizer(learning_rate: float) -> optax.GradientTransformation:
    return optax.sgd(learning_rate)


@jax.jit
def _evaluate(factors: Factors, train: Ratings, valid: Ratings | None, lam) -> dict:
    out = {"train_rmse": rmse(factors, train), "objective": mf_loss(factors, train, lam)}
    if valid is not None:
        out["valid_rmse"] = rmse(factors, valid)
    return out


def sgd(
    factors: Factors,
    train: Ratings,
    *,
    key: PRNGKey,
    lam: float,
    learning_rate: float,
    batch_size: int,
    num_epochs: int,
    valid: Ratings | None = None,
    tx: optax.GradientTransformation | None = None,
) -> MFResult:
    """Minimize f(W, Z) by minibatch SGD over observed entries, with ``jaxml.core.train.fit``.

    Step t draws B entries of Ω uniformly (``fit``'s sampler over the COO arrays) and applies
    θ ← θ − η ∇f_B(θ) with f_B = (1/B)·½ Σ_{batch}(x − wᵀz)² + (λ/2)(‖W‖² + ‖Z‖²). An epoch is
    ⌈|Ω|/B⌉ steps; the RMSEs are evaluated after each epoch.

    Because f averages over |Ω|, the gradient on one w_d is ~(count_d/|Ω|) of a per-entry
    gradient: the learning rate η is of order B·η₀ for a per-entry step η₀ (or pass an adaptive
    ``tx`` such as ``optax.adam``).

    Args:
      factors: the initial ``Factors`` (e.g. from ``init_factors``); fixes D, N and K.
      train: the training entries.
      key: the key of the minibatches.
      lam: λ ≥ 0.
      learning_rate: η of ``optax.sgd`` (ignored when ``tx`` is given).
      batch_size: B.
      num_epochs: the number of epochs.
      valid: held-out entries, for ``history["valid_rmse"]``.
      tx: an optimizer to use instead of plain SGD (build it once and reuse it: it keys the
        compile cache).

    Returns:
      ``MFResult(factors, history)``, history arrays of shape [num_epochs]. Cost per epoch
      O(|Ω| K + (|Ω|/B)(D + N) K) (the penalty's gradient is dense).
    """
    shape = (int(factors.W.shape[0]), int(factors.Z.shape[0]))
    _check_factors(factors)
    train = check_ratings(train, shape, "train")
    if valid is not None:
        valid = check_ratings(valid, shape, "valid")
    lam = float(check_scalar(lam, "lam", minimum=0.0))
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    num_epochs = check_int(num_epochs, "num_epochs", minimum=0)
    if tx is None:
        check_scalar(learning_rate, "learning_rate", minimum=0.0, strict_min=True)
        tx = _sgd_optimizer(float(learning_rate))
    steps_per_epoch = math.ceil(int(train.values.shape[0]) / batch_size)
    lam_arr = jnp.asarray(lam, factors.W.dtype)
    result = fit(
        _sgd_loss(lam),
        tx,
        factors,
        train,
        key=key,
        num_steps=num_epochs * steps_per_epoch,
        batch_size=batch_size,
        chunk_size=steps_per_epoch,
        eval_fn=lambda params: _evaluate(params, train, valid, lam_arr),
        progress=False,
        desc="mf-sgd",
    )
    names = ["train_rmse", "objective"] + (["valid_rmse"] if valid is not None else [])
    history = {k: np.asarray([e[k] for _, e in result.evals], np.float64) for k in names}
    return MFResult(Factors(*result.state.params), history)


def _check_factors(factors: Factors) -> Factors:
    if not isinstance(factors, tuple) or len(factors) != 2:
        raise ValueError(f"factors must be Factors(W, Z), got {type(factors).__name__}")
    check_array(factors.W, "factors.W", ndim=2)
    check_array(factors.Z, "factors.Z", ndim=2)
    if factors.W.shape[1] != factors.Z.shape[1]:
        raise ValueError(
            f"factors.W and factors.Z must have the same rank K, got {factors.W.shape} and {factors.Z.shape}"
        )
    return factors


# --------------------------------------------------------------------------------------------
# ALS
# --------------------------------------------------------------------------------------------


class Bucket(NamedTuple):
    """Rows of one side with at most L observed entries each, padded to L.

    Attributes:
      owners: int32 [B], the rows d (or columns n) solved in this bucket.
      index: int32 [B, L], the other side's index of each observed entry (0 on padding).
      values: [B, L], the observed values (0 on padding).
      mask: [B, L], 1 on observed entries, 0 on padding.
    """

    owners: Array
    index: Array
    values: Array
    mask: Array


class ALSData(NamedTuple):
    """Observed entries arranged for ALS (build with ``make_als_data``; a pytree).

    Attributes:
      ratings: the training entries (COO), for the RMSE and the objective.
      row_buckets: tuple of ``Bucket``; rows with no observed entry appear in none.
      col_buckets: tuple of ``Bucket`` for the columns.
      row_counts: int32 [D], |Ω_d| (fixes D).
      col_counts: int32 [N], |Ω_n| (fixes N).
    """

    ratings: Ratings
    row_buckets: tuple
    col_buckets: tuple
    row_counts: Array
    col_counts: Array


def _bucket_lengths(max_count: int, min_length: int, growth: float) -> list[int]:
    lengths = [min(min_length, max_count)]
    while lengths[-1] < max_count:
        lengths.append(min(max(lengths[-1] + 1, int(math.ceil(lengths[-1] * growth))), max_count))
    return lengths


def _make_buckets(owner, other, values, num_owners, min_length, growth, dtype) -> tuple[tuple, np.ndarray]:
    order = np.lexsort((other, owner))
    owner, other, values = owner[order], other[order], values[order]
    counts = np.bincount(owner, minlength=num_owners)
    starts = np.cumsum(counts) - counts
    position = np.arange(owner.size) - starts[owner]
    lengths = _bucket_lengths(int(counts.max()), min_length, growth)
    # bucket of each owner: the shortest length that holds its entries (-1: no entry)
    which = np.searchsorted(lengths, counts, side="left")
    which[counts == 0] = -1
    buckets = []
    for b, length in enumerate(lengths):
        owners = np.nonzero(which == b)[0]
        if owners.size == 0:
            continue
        slot = np.full(num_owners, -1, np.int64)
        slot[owners] = np.arange(owners.size)
        sel = slot[owner] >= 0
        index = np.zeros((owners.size, length), np.int32)
        vals = np.zeros((owners.size, length), np.float64)
        mask = np.zeros((owners.size, length), np.float64)
        index[slot[owner[sel]], position[sel]] = other[sel]
        vals[slot[owner[sel]], position[sel]] = values[sel]
        mask[slot[owner[sel]], position[sel]] = 1.0
        buckets.append(
            Bucket(
                jnp.asarray(owners, jnp.int32),
                jnp.asarray(index),
                jnp.asarray(vals, dtype),
                jnp.asarray(mask, dtype),
            )
        )
    return tuple(buckets), counts


def make_als_data(
    ratings: Ratings,
    shape: tuple[int, int],
    *,
    min_length: int = 4,
    growth: float = 1.1,
) -> ALSData:
    """Arrange the training entries for ALS (host-side, once per data set).

    Rows are grouped by their number of observed entries into buckets of padded length
    L ∈ {min_length, ⌈1.1·min_length⌉, ...} (geometric, so padding wastes at most a factor
    ``growth``); the same for columns. Cost O(|Ω| log |Ω|). Finer buckets mean less padding in
    the solves but more batched calls to compile and run: 1.1 was the fastest of 1.05–1.5 for
    10 000 × 2 000 ratings at 1% (``jaxml bench --only als``).

    Args:
      ratings: the training entries.
      shape: (D, N).
      min_length: the shortest padded length.
      growth: the ratio between consecutive padded lengths (> 1).
    """
    shape = _check_shape(shape)
    ratings = check_ratings(ratings, shape)
    min_length = check_int(min_length, "min_length", minimum=1)
    check_scalar(growth, "growth", minimum=1.0, strict_min=True)
    rows = np.asarray(ratings.rows, np.int64)
    cols = np.asarray(ratings.cols, np.int64)
    values = np.asarray(ratings.values)
    dtype = ratings.values.dtype
    row_buckets, row_counts = _make_buckets(rows, cols, values, shape[0], min_length, growth, dtype)
    col_buckets, col_counts = _make_buckets(cols, rows, values, shape[1], min_length, growth, dtype)
    return ALSData(
        ratings=ratings,
        row_buckets=row_buckets,
        col_buckets=col_buckets,
        row_counts=jnp.asarray(row_counts, jnp.int32),
        col_counts=jnp.asarray(col_counts, jnp.int32),
    )


def als_init(key: PRNGKey, data: ALSData, rank: int, *, scale: float | None = None) -> Factors:
    """Initial factors for ALS: ``init_factors`` with D, N and the dtype taken from ``data``.

    Only Z matters: the first half-sweep overwrites W.
    """
    return init_factors(
        key,
        int(data.row_counts.shape[0]),
        int(data.col_counts.shape[0]),
        rank,
        scale=scale,
        dtype=data.ratings.values.dtype,
    )


def _after(previous, value):
    """``value``, made to wait for ``previous`` (see ``ridge_solve_side`` on LAPACK calls)."""
    if previous is None:
        return value
    # A true data dependency: an optimization barrier does not order XLA:CPU's executor.
    return value + jnp.zeros((), value.dtype) * jnp.sum(previous[:1])


def _cholesky(matrix):
    # The systems are symmetric by construction: skip jnp.linalg.cholesky's (A + Aᵀ)/2 pass.
    return jax.lax.linalg.cholesky(matrix, symmetrize_input=False)


def _cho_solve(chol, rhs):
    """x with (CCᵀ) x = rhs for a batch of lower Cholesky factors C [B, n, n] and vectors [B, n].

    The vectors are solved as rows (xᵀ C Cᵀ = rhsᵀ): measured faster on XLA:CPU than the
    column form of ``cho_solve`` for these many small systems.
    """
    row = jax.lax.linalg.triangular_solve(chol, rhs[:, None, :], left_side=False, lower=True, transpose_a=True)
    return jax.lax.linalg.triangular_solve(chol, row, left_side=False, lower=True)[:, 0, :]


def _primal_solves(blocks, buckets, traces, lam_prime, eps):
    """(VᵀV + λ'I) u = Vᵀx for every owner of the given buckets: one batched Cholesky."""
    rank = blocks[0].shape[-1]
    gram = jnp.concatenate([jnp.einsum("blk,blj->bkj", v, v, precision=_HIGHEST) for v in blocks])
    pairs = zip(blocks, [bucket.values for bucket in buckets], strict=True)
    rhs = jnp.concatenate([jnp.einsum("blk,bl->bk", v, x, precision=_HIGHEST) for v, x in pairs])
    ridge = lam_prime + eps * jnp.concatenate(traces)
    chol = _cholesky(gram + ridge[:, None, None] * jnp.eye(rank, dtype=gram.dtype)[None])
    solution = _cho_solve(chol, rhs)
    sizes = np.cumsum([bucket.owners.shape[0] for bucket in buckets])[:-1]
    return jnp.split(solution, sizes)


def _dual_solves(block, bucket, trace, lam_prime, eps):
    """u = Vᵀ(VVᵀ + λ'I)⁻¹x = (VᵀV + λ'I)⁻¹Vᵀx (push-through identity): an L×L system in place
    of a K×K one, for buckets whose L observed entries are fewer than the rank K."""
    length = block.shape[1]
    gram = jnp.einsum("blk,bmk->blm", block, block, precision=_HIGHEST)
    ridge = lam_prime + eps * trace  # tr(VVᵀ) = tr(VᵀV): the same jitter as the primal form
    # padding slots get a unit diagonal and a zero right-hand side, so their α is exactly 0
    diagonal = ridge[:, None] * bucket.mask + (1.0 - bucket.mask)
    chol = _cholesky(gram + diagonal[:, :, None] * jnp.eye(length, dtype=gram.dtype)[None])
    alpha = _cho_solve(chol, bucket.values)
    return jnp.einsum("blk,bl->bk", block, alpha, precision=_HIGHEST)


def _solve_side(other: Array, buckets: tuple, num_owners: int, lam_prime) -> tuple[Array, Array]:
    """The solves of ``ridge_solve_side`` and the squared error Σ_Ω (x − v_{·}ᵀu_{·})² they leave."""
    rank = other.shape[1]
    eps = jnp.finfo(other.dtype).eps
    out = jnp.zeros((num_owners, rank), other.dtype)
    if not buckets:
        return out, jnp.zeros((), other.dtype)
    blocks = [other[bucket.index] * bucket.mask[..., None] for bucket in buckets]  # [B, L, K]
    # tr(VᵀV) = Σ_{l ∈ Ω_d} ‖v_l‖², from the K-times smaller gather of squared norms rather
    # than a pass over every Gram matrix
    norms = jnp.sum(jnp.square(other), axis=1)
    traces = [jnp.sum(norms[bucket.index] * bucket.mask, axis=1) for bucket in buckets]
    primal = [i for i, bucket in enumerate(buckets) if bucket.index.shape[1] >= rank]
    solutions = [None] * len(buckets)
    last = None
    if primal:
        parts = _primal_solves([blocks[i] for i in primal], [buckets[i] for i in primal], [traces[i] for i in primal],
                               lam_prime, eps)
        for i, part in zip(primal, parts, strict=True):
            solutions[i] = part
        last = parts[-1]
    for i, bucket in enumerate(buckets):
        if solutions[i] is None:
            solutions[i] = _dual_solves(_after(last, blocks[i]), bucket, traces[i], lam_prime, eps)
            last = solutions[i]
    # the training error, from the blocks already gathered (no second gather over Ω)
    sse = jnp.zeros((), other.dtype)
    for bucket, block, solution in zip(buckets, blocks, solutions, strict=True):
        fitted = jnp.sum(_after(last, block) * solution[:, None, :], axis=-1)
        sse = sse + jnp.sum(jnp.square((bucket.values - fitted) * bucket.mask))
    owners = jnp.concatenate([bucket.owners for bucket in buckets])
    return out.at[owners].set(jnp.concatenate(solutions)), sse


def ridge_solve_side(other: Array, buckets: tuple, num_owners: int, lam_prime) -> Array:
    """All the ridge solves of one half-sweep.

    For each owner d (a row when ``other`` = Z, a column when ``other`` = W):

        (V_{Ω_d}ᵀ V_{Ω_d} + λ' I) u_d = V_{Ω_d}ᵀ x_{Ω_d},

    V_{Ω_d} being the gathered [B, L, K] block of a bucket. Buckets with L ≥ K: one batched Gram
    product each, then ONE batched Cholesky factorisation and solve for all of them together.
    Buckets with L < K (owners with fewer observed entries than the rank) solve the equivalent
    L×L system u_d = V_{Ω_d}ᵀ(V_{Ω_d}V_{Ω_d}ᵀ + λ'I)⁻¹x_{Ω_d} instead (exact, by the push-through
    identity; measured 1.5x faster per sweep at K = 32 with ~20 entries per row). Owners in no
    bucket (no observed entry) get u_d = 0, the ridge solution of an empty problem. A jitter
    ε·tr(G) (ε the dtype's machine epsilon) keeps the Cholesky factor finite when λ' = 0 and the
    Gram matrix is singular. Cost O(Σ_d L_d min(L_d, K) K + Σ_d min(L_d, K)³).

    Why the LAPACK calls are chained: XLA:CPU runs independent operations concurrently, and
    jax's LAPACK kernels fan their batch out into the same thread pool and wait for it; several
    such kernels at once (one per bucket) deadlock on a 2-core machine (jax 0.10.2). Each L×L
    bucket therefore starts from a value that depends on the previous bucket's solutions, so
    that a single LAPACK call is in flight at a time.
    """
    return _solve_side(other, buckets, num_owners, lam_prime)[0]


def als_step(factors: Factors, data: ALSData, lam) -> tuple[Factors, dict]:
    """One ALS sweep: W ← argmin_W f(W, Z), then Z ← argmin_Z f(W, Z), with λ' = |Ω| λ.

    Each argmin is exact (``ridge_solve_side``), so f never increases from sweep to sweep.

    Returns:
      (new factors, info) with info ``train_rmse`` and ``objective`` after the sweep (the
      squared error comes from the Z half-sweep's gathered blocks). Cost O(|Ω| K² + (D + N) K³).
    """
    m = data.ratings.values.shape[0]
    lam = jnp.asarray(lam, factors.Z.dtype)
    lam_prime = lam * m
    W = ridge_solve_side(factors.Z, data.row_buckets, data.row_counts.shape[0], lam_prime)
    Z, sse = _solve_side(W, data.col_buckets, data.col_counts.shape[0], lam_prime)
    penalty = jnp.sum(jnp.square(W)) + jnp.sum(jnp.square(Z))
    info = {"train_rmse": jnp.sqrt(sse / m), "objective": 0.5 * sse / m + 0.5 * lam * penalty}
    return Factors(W, Z), info


@functools.partial(jax.jit, static_argnames="num_sweeps")
def _als_scan(factors, data, lam, valid, num_sweeps):
    def body(state, _):
        state, info = als_step(state, data, lam)
        if valid is not None:
            info["valid_rmse"] = rmse(state, valid)
        return state, info

    return jax.lax.scan(body, factors, None, length=num_sweeps)


def als(
    factors: Factors,
    data: ALSData,
    lam,
    *,
    num_sweeps: int,
    valid: Ratings | None = None,
) -> MFResult:
    """``num_sweeps`` ALS sweeps (``als_step``) in one jitted ``lax.scan``.

    λ is traced: ``jax.vmap(lambda lam: als(factors, data, lam, num_sweeps=S))(lams)`` runs a
    sweep over λ in one compiled call.

    Args:
      factors: initial factors (``als_init``); only Z is used.
      data: ``make_als_data(train, shape)``.
      lam: λ ≥ 0 (the ALS ridge constant is λ' = |Ω| λ).
      num_sweeps: the number of sweeps S.
      valid: held-out entries, for ``history["valid_rmse"]``.

    Returns:
      ``MFResult(factors, history)`` with history arrays of shape [S]. Cost O(S(|Ω| K² + (D+N) K³)).
    """
    _check_factors(factors)
    shape = (int(data.row_counts.shape[0]), int(data.col_counts.shape[0]))
    if (factors.W.shape[0], factors.Z.shape[0]) != shape:
        raise ValueError(
            f"factors have shapes {factors.W.shape}, {factors.Z.shape} but data is {shape[0]}×{shape[1]}"
        )
    check_scalar(lam, "lam", minimum=0.0)
    num_sweeps = check_int(num_sweeps, "num_sweeps", minimum=0)
    if valid is not None:
        valid = check_ratings(valid, shape, "valid")
    final, history = _als_scan(factors, data, lam, valid, num_sweeps)
    return MFResult(final, history)


# --------------------------------------------------------------------------------------------
# Choosing K
# --------------------------------------------------------------------------------------------


class RankSelection(NamedTuple):
    """Validation RMSE for each K tried.

    Attributes:
      ranks: numpy [R], the ranks K tried.
      train_rmse / valid_rmse: numpy [R], the final RMSEs of each.
      best_rank: the K of the lowest validation RMSE.
    """

    ranks: np.ndarray
    train_rmse: np.ndarray
    valid_rmse: np.ndarray
    best_rank: int


def select_rank(
    key: PRNGKey,
    train: Ratings,
    valid: Ratings,
    shape: tuple[int, int],
    ranks,
    *,
    lam: float,
    method: str = "als",
    num_sweeps: int = 20,
    learning_rate: float | None = None,
    batch_size: int = 256,
    num_epochs: int = 20,
) -> RankSelection:
    """Fit one factorization per K in ``ranks`` and choose K = argmin validation RMSE.

    K is a structural size (the factors' shapes), so each K is its own compiled run.

    Args:
      key: the key of the initial factors (the same for every K) and of SGD's minibatches.
      train, valid: the training and held-out entries.
      shape: (D, N).
      ranks: the K to try (each ≥ 1).
      lam: λ ≥ 0.
      method: ``"als"`` (``num_sweeps`` sweeps) or ``"sgd"`` (``learning_rate``,
        ``batch_size``, ``num_epochs``).
    """
    shape = _check_shape(shape)
    ranks = [check_int(k, "ranks", minimum=1) for k in ranks]
    if not ranks:
        raise ValueError("ranks must hold at least one rank")
    if method not in ("als", "sgd"):
        raise ValueError(f"method must be 'als' or 'sgd', got {method!r}")
    check_scalar(lam, "lam", minimum=0.0)
    train = check_ratings(train, shape, "train")
    valid = check_ratings(valid, shape, "valid")
    k_init, k_sgd = jax.random.split(key)
    data = make_als_data(train, shape) if method == "als" else None
    train_rmse, valid_rmse = [], []
    for rank in ranks:
        factors = init_factors(k_init, *shape, rank, dtype=train.values.dtype)
        if method == "als":
            result = als(factors, data, lam, num_sweeps=num_sweeps, valid=valid)
        else:
            if learning_rate is None:
                raise ValueError("learning_rate must be given for method='sgd'")
            result = sgd(
                factors,
                train,
                key=k_sgd,
                lam=lam,
                learning_rate=learning_rate,
                batch_size=batch_size,
                num_epochs=num_epochs,
                valid=valid,
            )
        train_rmse.append(float(rmse(result.factors, train)))
        valid_rmse.append(float(rmse(result.factors, valid)))
    valid_arr = np.asarray(valid_rmse)
    return RankSelection(
        ranks=np.asarray(ranks),
        train_rmse=np.asarray(train_rmse),
        valid_rmse=valid_arr,
        best_rank=int(ranks[int(np.nanargmin(valid_arr))]),
    )


__all__ = [
    "ALSData",
    "Bucket",
    "Factors",
    "MFResult",
    "RankSelection",
    "Ratings",
    "RatingsTable",
    "SyntheticRatings",
    "als",
    "als_init",
    "als_step",
    "check_ratings",
    "init_factors",
    "load_ratings_csv",
    "make_als_data",
    "make_low_rank_ratings",
    "mf_loss",
    "mf_loss_grad",
    "predict",
    "residuals",
    "ridge_solve_side",
    "rmse",
    "select_rank",
    "sgd",
    "split_ratings",
]
