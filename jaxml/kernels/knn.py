"""k-nearest neighbours: classification by majority vote, regression by the mean (SYLLABUS 3).

For a query x, let N_k(x) be the indices of the k training points closest to x in Euclidean
distance. Then

  classification:  ŷ(x) = argmax_c Σ_{n ∈ N_k(x)} 1[y_n = c]   (ties: the smallest label c)
  probabilities:   p(c | x) = |{n ∈ N_k(x) : y_n = c}| / k
  regression:      ŷ(x) = (1/k) Σ_{n ∈ N_k(x)} y_n

The vote's tie rule is scikit-learn's (``KNeighborsClassifier`` takes the argmax of the class
probabilities, i.e. the first — smallest — of the tied classes).

Search: squared distances ‖q‖² − 2qᵀx + ‖x‖² from one matrix product per chunk of queries; the
ranking uses the score 2qᵀx − ‖x‖² (‖q‖² is added back to the k winners only). Selection is an
exact two-stage ``lax.top_k``: the maximum of each block of 256 training points, the k best blocks,
then top_k over their k·256 candidates (same indices and ties as one top_k over N, about 2× faster
on CPU where top_k is a single-threaded sort over the row; ``argsort``/``approx_min_k`` are very
slow on XLA CPU). For few blocks (N/256 < 2k) it is a plain top_k over N. The queries go through
``lax.map`` in chunks of ``chunk_size`` inside one jitted call, so memory is chunk_size × N, never
Q × N (small chunks that stay in cache measured fastest on CPU: 32).
Cost Θ(QND) for the products plus Θ(QN) for the selection (block maxima, then Θ(Q(N/256 + 256k))).
``k`` and ``chunk_size`` are static (structural); there is no training step (kNN is "lazy":
the training set is the model).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_same_length, is_concrete
from jaxml.core.types import Array, float_dtype

DEFAULT_CHUNK = 32
SELECT_BLOCK = 256  # columns per block of the two-stage exact top-k (see _top_k_blocked)


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


def _chunk_size(chunk_size, num_queries):
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    return min(chunk_size, num_queries)


def _top_k_blocked(scores, k, block):
    """Exact ``lax.top_k(scores, k)`` (same values, same indices, ties to the lower index) in two
    stages: the maximum of every block of ``block`` consecutive columns, the k blocks with the
    largest maxima, then ``top_k`` over those k·block candidates only.

    Why it is exact: the k-th best block maximum t is ≤ the k-th best score (the k chosen blocks
    each hold a score ≥ t), so every top-k score lies in a block whose maximum is ≥ it; ties at t are
    won by the lower-index blocks (``top_k`` is stable and blocks are contiguous), which also hold
    the lower-index equal scores. The chosen blocks are sorted so the candidates stay in column
    order and the final stable ``top_k`` keeps scikit-learn's lower-index-first tie rule.
    Cost per row Θ(N) for the block maxima plus top_k over N/block and k·block elements, instead of
    one top_k over N (XLA CPU's top_k is a single-threaded partial sort over the whole row).
    """
    rows, n = scores.shape
    blocks = scores.reshape(rows, n // block, block)
    _, chosen = jax.lax.top_k(jnp.max(blocks, axis=2), k)
    chosen = jnp.sort(chosen, axis=1)  # (rows, k) block ids in column order
    candidates = jnp.take_along_axis(blocks, chosen[:, :, None], axis=1).reshape(rows, k * block)
    best, pos = jax.lax.top_k(candidates, k)
    return best, jnp.take_along_axis(chosen, pos // block, axis=1) * block + pos % block


@functools.partial(jax.jit, static_argnames=("k", "chunk_size"))
def _search(X_train, X_query, k, chunk_size):
    num_queries, dim = X_query.shape
    num_train = X_train.shape[0]
    num_chunks = -(-num_queries // chunk_size)
    # Pad the queries to whole chunks (the padded rows' answers are dropped): one shape per chunk.
    padded = jnp.zeros((num_chunks * chunk_size, dim), X_query.dtype).at[:num_queries].set(X_query)
    chunks = padded.reshape(num_chunks, chunk_size, dim)
    x_sq = jnp.sum(X_train * X_train, axis=1)
    num_blocks = -(-num_train // SELECT_BLOCK)
    blocked = num_blocks >= 2 * k
    if blocked:
        # Pad the training set to whole blocks with points of score −∞ (‖x‖² = +∞): never selected,
        # as k ≤ N real points have finite scores.
        num_pad = num_blocks * SELECT_BLOCK - num_train
        X_train = jnp.concatenate([X_train, jnp.zeros((num_pad, dim), X_train.dtype)])
        x_sq = jnp.concatenate([x_sq, jnp.full((num_pad,), jnp.inf, x_sq.dtype)])
    x_t = X_train.T  # (D, N): the chunk product is a plain (B, D) × (D, N) matmul

    def one_chunk(q):
        # ‖q‖² is the same for every candidate: rank by 2qᵀx − ‖x‖² (largest = nearest) and add
        # ‖q‖² back to the k winners only. The chunk's (B, N) scores never leave this body.
        scores = 2.0 * (q @ x_t) - x_sq[None, :]
        best, idx = _top_k_blocked(scores, k, SELECT_BLOCK) if blocked else jax.lax.top_k(scores, k)
        return jnp.maximum(jnp.sum(q * q, axis=1)[:, None] - best, 0.0), idx

    sq_dist, idx = jax.lax.map(one_chunk, chunks)
    return sq_dist.reshape(-1, k)[:num_queries], idx.reshape(-1, k)[:num_queries]


def nearest_neighbors(X_train: Array, X_query: Array, k: int, *, chunk_size: int = DEFAULT_CHUNK):
    """The k nearest training points of every query, nearest first.

    Args:
      X_train: (N, D) training points.
      X_query: (Q, D) queries.
      k: number of neighbours, 1 ≤ k ≤ N (static).
      chunk_size: queries per chunk (memory chunk_size × N).

    Returns:
      ``(sq_dist, idx)``, both (Q, k): squared distances ascending and the training indices.
      Equal distances keep the lower index first.

    Raises:
      ValueError: k < 1, k > N, a feature-count mismatch, empty or non-finite input.
    """
    k = _check_inputs(X_train, X_query, k)
    X_train, X_query = jnp.asarray(X_train), jnp.asarray(X_query)
    dtype = float_dtype(X_train, X_query)
    return _search(X_train.astype(dtype), X_query.astype(dtype), k, _chunk_size(chunk_size, X_query.shape[0]))


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
                     chunk_size: int = DEFAULT_CHUNK) -> Array:
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
                        num_classes, _chunk_size(chunk_size, X_query.shape[0]))


def knn_predict_proba(X_train, y_train, X_query, k: int, *, num_classes: int | None = None,
                      chunk_size: int = DEFAULT_CHUNK) -> Array:
    """p(c | x_q) = counts[q, c] / k: the share of the k neighbours with label c. Shape (Q, C)."""
    counts = knn_class_counts(X_train, y_train, X_query, k, num_classes=num_classes, chunk_size=chunk_size)
    dtype = float_dtype(jnp.asarray(X_query))
    return counts.astype(dtype) / k


def knn_classify(X_train, y_train, X_query, k: int, *, num_classes: int | None = None,
                 chunk_size: int = DEFAULT_CHUNK) -> Array:
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


def knn_regress(X_train, y_train, X_query, k: int, *, chunk_size: int = DEFAULT_CHUNK) -> Array:
    """ŷ_q = (1/k) Σ_{n ∈ N_k(x_q)} y_n; y_train (N,) or (N, T) → (Q,) or (Q, T).

    Equal to ``KNeighborsRegressor(n_neighbors=k, algorithm="brute").predict``. Cost as
    ``knn_classify``.
    """
    k = _check_inputs(X_train, X_query, k, y_train)
    check_array(y_train, "y_train", ndim=(1, 2))
    X_train, X_query = jnp.asarray(X_train), jnp.asarray(X_query)
    dtype = float_dtype(X_train, X_query)
    return _regress(X_train.astype(dtype), jnp.asarray(y_train).astype(dtype), X_query.astype(dtype), k,
                    _chunk_size(chunk_size, X_query.shape[0]))


__all__ = [
    "knn_class_counts",
    "knn_classify",
    "knn_predict_proba",
    "knn_regress",
    "nearest_neighbors",
]
