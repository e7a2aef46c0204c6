"""Observed entries of a ratings matrix: COO storage, checks, a train/validation split, a CSV loader.

A ratings matrix X ∈ ℝ^{D×N} (rows d = users, columns n = items) is observed on a set Ω of
entries only, stored in COO form ``Ratings(rows, cols, values)`` (one observed entry per position).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_scalar, is_concrete
from jaxml.core.types import Array, PRNGKey, float_dtype


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

    Integer values (1..5 stars) become the default float dtype.

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
    return Ratings(jnp.asarray(rows, jnp.int32), jnp.asarray(cols, jnp.int32),
                   jnp.asarray(values, float_dtype(values)))


def check_shape(shape) -> tuple[int, int]:
    """``shape`` = (D, N) as two ints ≥ 1; ValueError naming ``shape`` otherwise."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be (num_rows, num_cols), got {shape!r}")
    return check_int(shape[0], "shape[0] (num_rows)", minimum=1), check_int(
        shape[1], "shape[1] (num_cols)", minimum=1
    )


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


__all__ = ["Ratings", "RatingsTable", "check_ratings", "load_ratings_csv", "split_ratings"]
