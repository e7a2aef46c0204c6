"""k-nearest neighbours: classification by majority vote, regression by the mean (SYLLABUS 3).

For a query x, let N_k(x) be the indices of the k training points closest to x in Euclidean
distance (or, with ``metric="manhattan"``, in ℓ₁ distance Σ_d |x_d − x'_d|). Then

  classification:  ŷ(x) = argmax_c Σ_{n ∈ N_k(x)} 1[y_n = c]   (ties: the smallest label c)
  probabilities:   p(c | x) = |{n ∈ N_k(x) : y_n = c}| / k
  regression:      ŷ(x) = (1/k) Σ_{n ∈ N_k(x)} y_n

The vote's tie rule is scikit-learn's (``KNeighborsClassifier`` takes the argmax of the class
probabilities, i.e. the first — smallest — of the tied classes).

Search (Euclidean): the ranking score of training point x for query q is 2qᵀx − ‖x‖² (largest =
nearest; ‖q‖² − score = ‖q − x‖² is formed for the k winners only), computed as ONE matrix product
of the augmented rows [2q, −1] and [x, ‖x‖²]. Selection is exact and in two stages:

1. Block maxima: the training set is cut into blocks of ``SELECT_BLOCK`` consecutive points, and for
   a chunk of queries the scores are produced one tile of training points at a time (a chunk × tile
   block of scores small enough to stay in the CPU's cache), each tile reduced at once to the maximum
   score of each of its blocks. The full Q × N (or chunk × N) score matrix never exists.
2. The k blocks with the largest maxima are chosen, their k·SELECT_BLOCK points' scores recomputed
   (Θ(k·SELECT_BLOCK·D) per query, a few % of the search) and the k best of them selected.

Exactness: the k-th best block maximum t is ≤ the k-th best score (the k chosen blocks each hold a
score ≥ t), so every top-k score lies in a block whose maximum is ≥ it; ties at t are won by the
lower-index blocks (the selections below are stable and blocks are contiguous), which also hold the
lower-index equal scores. Equal distances therefore keep the lower training index first. For few
blocks (N/SELECT_BLOCK < 2k) the k best of all N scores are selected directly.

The selection of k out of m scores is ``lax.top_k`` for float32 (XLA CPU's partial sort); in
float64, where XLA CPU's top_k is a full comparison sort, k ≤ 16 rounds of ``argmax`` (first
maximum, i.e. lower index on ties — the same answer as top_k) are several times faster.
Queries go through ``lax.map`` in chunks inside one jitted call; the chunk and tile sizes are
chosen from the dtype so that a chunk × tile block of scores is about 512 KB (L2-resident).
Cost Θ(QND) for the products plus Θ(QN) for the block maxima and Θ(Q(N/SELECT_BLOCK + k·SELECT_BLOCK·D))
for the selection. ``k``, the metric and the chunk size are static; there is no training step
(kNN is "lazy": the training set is the model).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_same_length, is_concrete
from jaxml.core.types import Array, float_dtype

SELECT_BLOCK = 128  # training points per block of the two-stage exact selection (see the module doc)
TILE_BYTES = 512 * 1024  # chunk × tile scores per step of the block-maxima stage: about a core's L2
METRICS = ("euclidean", "manhattan")
_ARGMAX_MAX_K = 16  # up to this k, float64 selections use k rounds of argmax instead of a full sort


def _check_inputs(X_train, X_query, k, y_train=None):
    check_array(X_train, "X_train", ndim=2)
    check_array(X_query, "X_query", ndim=2)
    if np.shape(X_train)[1] != np.shape(X_query)[1]:
        raise ValueError(
            f"X_query must have the {np.shape(X_train)[1]} features of X_train, got shape {np.shape(X_query)}"
        )
    if y_train is not None:
        check_same_length(X_train=X_train, y_train=y_train)
    n = np.shape(X_train)[0]
    k = check_int(k, "k", minimum=1)
    if k > n:
        raise ValueError(f"k must be <= the number of training points N={n}, got k={k}")
    return k


def _check_options(chunk_size, metric):
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return chunk_size


def _select(scores, k):
    """``lax.top_k(scores, k)``: the k largest of each row, descending, equal values lower index first.

    float64 with k ≤ 16: k rounds of ``argmax`` (its first maximum is the lower index), each round
    masking its winner with −∞ — Θ(k·m) vectorized passes instead of XLA CPU's float64 top_k, a full
    comparison sort of the row. Rows hold at least k finite scores, so a masked −∞ is never picked.
    """
    if scores.dtype != jnp.float64 or k > _ARGMAX_MAX_K:
        return jax.lax.top_k(scores, k)
    cols = jnp.arange(scores.shape[-1])
    best, idx = [], []
    for _ in range(k):
        i = jnp.argmax(scores, axis=-1)
        best.append(jnp.take_along_axis(scores, i[..., None], axis=-1)[..., 0])
        idx.append(i)
        scores = jnp.where(cols[None, :] == i[:, None], -jnp.inf, scores)
    return jnp.stack(best, axis=-1), jnp.stack(idx, axis=-1).astype(jnp.int32)


def _prepare_train(X_train, metric, num_rows):
    """Training rows in the form the scores use, padded to num_rows with points of score −∞.

    Euclidean: [x, ‖x‖²] (score = [2q, −1]·[x, ‖x‖²] = 2qᵀx − ‖x‖²), padding ‖x‖² = +∞.
    Manhattan: x itself, padding +∞ coordinates (score −Σ|q − x| = −∞).
    """
    n, dim = X_train.shape
    if metric == "euclidean":
        rows = jnp.concatenate([X_train, jnp.sum(X_train * X_train, axis=1)[:, None]], axis=1)
        pad = jnp.zeros((num_rows - n, dim + 1), X_train.dtype).at[:, dim].set(jnp.inf)
    else:
        rows = X_train
        pad = jnp.full((num_rows - n, dim), jnp.inf, X_train.dtype)
    return jnp.concatenate([rows, pad]) if num_rows > n else rows


def _prepare_queries(q, metric):
    if metric == "euclidean":
        return jnp.concatenate([2.0 * q, -jnp.ones((q.shape[0], 1), q.dtype)], axis=1)
    return q


def _scores(qp, rows, metric):
    """(B, M) ranking scores of B prepared queries against M prepared rows (largest = nearest)."""
    if metric == "euclidean":
        return qp @ rows.T
    return -jnp.sum(jnp.abs(qp[:, None, :] - rows[None, :, :]), axis=2)


def _candidate_scores(qp, cand, metric):
    """(B, M) scores of each query against its own M candidate rows cand (B, M, E)."""
    if metric == "euclidean":
        return jnp.einsum("be,bme->bm", qp, cand)
    return -jnp.sum(jnp.abs(qp[:, None, :] - cand), axis=2)


def _chunk_for(dtype, num_queries, chunk_size):
    if chunk_size is None:
        # 64 float64 / 128 float32 queries: a chunk × tile score block of TILE_BYTES keeps tiles of
        # ≥ 1024 training points, long enough for an efficient product (measured on a 2-core CPU).
        chunk_size = 64 if jnp.dtype(dtype).itemsize >= 8 else 128
    return min(chunk_size, num_queries)


@functools.partial(jax.jit, static_argnames=("k", "chunk_size", "metric"))
def _search(X_train, X_query, k, chunk_size=None, metric="euclidean"):
    """(distances, indices), both (Q, k), nearest first: squared Euclidean or ℓ₁ distances."""
    num_queries, dim = X_query.shape
    num_train = X_train.shape[0]
    itemsize = jnp.dtype(X_query.dtype).itemsize
    chunk = _chunk_for(X_query.dtype, num_queries, chunk_size)
    num_chunks = -(-num_queries // chunk)
    # Pad the queries to whole chunks (the padded rows' answers are dropped): one shape per chunk.
    padded = jnp.zeros((num_chunks * chunk, dim), X_query.dtype).at[:num_queries].set(X_query)
    chunks = padded.reshape(num_chunks, chunk, dim)
    num_blocks = -(-num_train // SELECT_BLOCK)
    blocked = num_blocks >= 2 * k
    if blocked:
        per_score = itemsize * (dim if metric == "manhattan" else 1)  # bytes live per score
        tile_blocks = max(1, min(num_blocks, TILE_BYTES // (chunk * per_score * SELECT_BLOCK)))
        tile = tile_blocks * SELECT_BLOCK
        num_tiles = -(-num_train // tile)
        rows = _prepare_train(X_train, metric, num_tiles * tile)
        tiles = rows.reshape(num_tiles, tile, rows.shape[1])
        blocks = rows.reshape(num_tiles * tile_blocks, SELECT_BLOCK, rows.shape[1])
    else:
        rows = _prepare_train(X_train, metric, num_train)

    def one_chunk(q):
        qp = _prepare_queries(q, metric)
        if blocked:
            # Stage 1: each tile's scores, reduced to its blocks' maxima while in cache.
            def tile_maxima(tile_rows):
                return jnp.max(_scores(qp, tile_rows, metric).reshape(chunk, tile_blocks, SELECT_BLOCK), axis=2)

            maxima = jnp.moveaxis(jax.lax.map(tile_maxima, tiles), 0, 1).reshape(chunk, -1)
            # Stage 2: the k best blocks (in column order, so ties stay lower index first), rescored.
            chosen = jnp.sort(_select(maxima, k)[1], axis=1)
            cand = _candidate_scores(qp, blocks[chosen].reshape(chunk, k * SELECT_BLOCK, -1), metric)
            best, pos = _select(cand, k)
            idx = jnp.take_along_axis(chosen, pos // SELECT_BLOCK, axis=1) * SELECT_BLOCK + pos % SELECT_BLOCK
        else:
            best, idx = _select(_scores(qp, rows, metric), k)
        if metric == "euclidean":
            return jnp.maximum(jnp.sum(q * q, axis=1)[:, None] - best, 0.0), idx
        return -best, idx

    dist, idx = jax.lax.map(one_chunk, chunks)
    return dist.reshape(-1, k)[:num_queries], idx.reshape(-1, k)[:num_queries].astype(jnp.int32)


_PREFILTER_EXTRA = 4  # candidates beyond k kept by the float32 pass of ``_search_float64_prefiltered``


@functools.partial(jax.jit, static_argnames=("k", "extra"))
def _search_float64_prefiltered(X_train, X_query, k, extra=_PREFILTER_EXTRA):
    """Euclidean float64 k-NN by a float32 search for k' = k + extra candidates, then an exact check.

    The float32 search (about 2.5× faster than the float64 one on XLA CPU) returns k' candidates;
    their float64 distances d = Σ_d (q_d − x_d)² (the direct differences) are ranked and the k
    best kept (equal d: lower index first). Let e bound the error of a float32 ranking score
    s̃ = 2q̃ᵀx̃ − ‖x̃‖² against s = 2qᵀx − ‖x‖²: rounding q and x to float32 (relative u = 2⁻²⁴
    each) and the float32 sums of D + 1 terms give e ≤ 2(D + 3)·u·(‖q‖ + R)², R = max_n ‖x_n‖.
    Every point x left out scores s̃(x) no higher than k' candidates do (by their block maxima or
    their rescored values), so s(x) ≤ s_(k') + 2e and d(x) ≥ d_(k') − 2e, d_(k') the largest
    candidate distance. Hence when d_(k) < d_(k') − E with E = 8(D + 4)·u·(‖q‖ + R)² (2e with a
    factor 2 to spare), no point left out is as near as the k-th neighbour found: the answer is
    the float64 one. Returns (dist, idx, verified); a query with verified False (a near-tie at
    the k-th neighbour, non-finite float32 values) must be searched again in float64.
    """
    num_train, dim = X_train.shape
    kk = min(k + extra, num_train)
    _, cand = _search(X_train.astype(jnp.float32), X_query.astype(jnp.float32), kk)
    # Rank the candidates by (d, index): sort them by index, then a stable sort by d.
    cand = jnp.sort(cand, axis=1)
    diff = X_query[:, None, :] - X_train[cand]
    d64 = jnp.sum(diff * diff, axis=2)
    order = jnp.argsort(d64, axis=1, stable=True)[:, :k]
    dist, idx = jnp.take_along_axis(d64, order, axis=1), jnp.take_along_axis(cand, order, axis=1)
    if kk == num_train:  # every point is a candidate
        return dist, idx, jnp.ones((X_query.shape[0],), bool)
    radius = jnp.sqrt(jnp.max(jnp.sum(X_train * X_train, axis=1)))
    q_norm = jnp.sqrt(jnp.sum(X_query * X_query, axis=1))
    bound = 8.0 * (dim + 4) * 2.0 ** -24 * (q_norm + radius) ** 2
    verified = dist[:, k - 1] < jnp.max(d64, axis=1) - bound
    return dist, idx, verified


def nearest_neighbors(X_train: Array, X_query: Array, k: int, *, chunk_size: int | None = None,
                      metric: str = "euclidean"):
    """The k nearest training points of every query, nearest first.

    Euclidean: ranked by ‖q − x‖² = ‖q‖² − (2qᵀx − ‖x‖²); manhattan: by Σ_d |q_d − x_d|.

    Args:
      X_train: (N, D) training points.
      X_query: (Q, D) queries.
      k: number of neighbours, 1 ≤ k ≤ N (static).
      chunk_size: queries per chunk (static; None: 64 for float64, 128 for float32).
      metric: "euclidean" (default) or "manhattan" (static).

    Returns:
      ``(dist, idx)``, both (Q, k): squared Euclidean distances (ℓ₁ distances for manhattan)
      ascending and the training indices. Equal distances keep the lower index first.

    Raises:
      ValueError: k < 1, k > N, a feature-count mismatch, empty or non-finite input, unknown metric.
    """
    k = _check_inputs(X_train, X_query, k)
    chunk_size = _check_options(chunk_size, metric)
    X_train, X_query = jnp.asarray(X_train), jnp.asarray(X_query)
    dtype = float_dtype(X_train, X_query)
    return _search(X_train.astype(dtype), X_query.astype(dtype), k, chunk_size, metric)


def _num_classes(y_train, num_classes):
    if num_classes is None:
        if not is_concrete(y_train):
            raise ValueError("num_classes must be given when y_train is traced")
        num_classes = int(np.max(np.asarray(y_train))) + 1
    return check_int(num_classes, "num_classes", minimum=1)


def _check_class_labels(y_train, num_classes):
    if not jnp.issubdtype(jnp.asarray(y_train).dtype, jnp.integer):
        raise ValueError(f"y_train must hold integer class labels 0..C-1, got dtype {jnp.asarray(y_train).dtype}")
    if is_concrete(y_train):
        y = np.asarray(y_train)
        if y.min() < 0 or y.max() >= num_classes:
            raise ValueError(f"y_train must take values in 0..{num_classes - 1}, got range [{y.min()}, {y.max()}]")


@functools.partial(jax.jit, static_argnames=("k", "num_classes", "chunk_size"))
def _vote_counts(X_train, y_train, X_query, k, num_classes, chunk_size):
    _, idx = _search(X_train, X_query, k, chunk_size)
    # (Q, k, C) one-hot votes summed over the neighbours: counts[q, c] = |{n ∈ N_k(q): y_n = c}|.
    return jnp.sum(jax.nn.one_hot(y_train[idx], num_classes, dtype=jnp.int32), axis=1)


def knn_class_counts(X_train, y_train, X_query, k: int, *, num_classes: int | None = None,
                     chunk_size: int | None = None) -> Array:
    """Votes per class, counts[q, c] = |{n ∈ N_k(x_q) : y_n = c}| (int32, rows sum to k).

    Args:
      X_train: (N, D); y_train: (N,) integer labels in 0..C−1; X_query: (Q, D).
      k: neighbours (static); num_classes: C (static; default max(y_train) + 1).
    """
    k = _check_inputs(X_train, X_query, k, y_train)
    check_array(y_train, "y_train", ndim=1)
    num_classes = _num_classes(y_train, num_classes)
    _check_class_labels(y_train, num_classes)
    X_train, X_query = jnp.asarray(X_train), jnp.asarray(X_query)
    dtype = float_dtype(X_train, X_query)
    return _vote_counts(X_train.astype(dtype), jnp.asarray(y_train), X_query.astype(dtype), k,
                        num_classes, _check_options(chunk_size, "euclidean"))


def knn_predict_proba(X_train, y_train, X_query, k: int, *, num_classes: int | None = None,
                      chunk_size: int | None = None) -> Array:
    """p(c | x_q) = counts[q, c] / k: the share of the k neighbours with label c. Shape (Q, C)."""
    counts = knn_class_counts(X_train, y_train, X_query, k, num_classes=num_classes, chunk_size=chunk_size)
    dtype = float_dtype(jnp.asarray(X_query))
    return counts.astype(dtype) / k


def knn_classify(X_train, y_train, X_query, k: int, *, num_classes: int | None = None,
                 chunk_size: int | None = None) -> Array:
    """Majority vote ŷ_q = argmax_c counts[q, c]; a tie goes to the smallest tied label
    (``argmax`` returns the first maximum), as in scikit-learn. Shape (Q,), int32.

    Cost Θ(QND + QN) (see the module doc). Equal to
    ``KNeighborsClassifier(n_neighbors=k, algorithm="brute").predict`` up to ties in distance.
    """
    counts = knn_class_counts(X_train, y_train, X_query, k, num_classes=num_classes, chunk_size=chunk_size)
    return jnp.argmax(counts, axis=1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("k", "chunk_size"))
def _regress(X_train, y_train, X_query, k, chunk_size):
    _, idx = _search(X_train, X_query, k, chunk_size)
    return jnp.mean(y_train[idx], axis=1)


def knn_regress(X_train, y_train, X_query, k: int, *, chunk_size: int | None = None) -> Array:
    """ŷ_q = (1/k) Σ_{n ∈ N_k(x_q)} y_n; y_train (N,) or (N, T) → (Q,) or (Q, T).

    Equal to ``KNeighborsRegressor(n_neighbors=k, algorithm="brute").predict``. Cost as
    ``knn_classify``.
    """
    k = _check_inputs(X_train, X_query, k, y_train)
    check_array(y_train, "y_train", ndim=(1, 2))
    X_train, X_query = jnp.asarray(X_train), jnp.asarray(X_query)
    dtype = float_dtype(X_train, X_query)
    return _regress(X_train.astype(dtype), jnp.asarray(y_train).astype(dtype), X_query.astype(dtype), k,
                    _check_options(chunk_size, "euclidean"))


__all__ = [
    "knn_class_counts",
    "knn_classify",
    "knn_predict_proba",
    "knn_regress",
    "nearest_neighbors",
]
