"""Choosing the rank K of a matrix factorization by validation RMSE."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxml.core.checks import check_int, check_scalar
from jaxml.core.types import PRNGKey
from jaxml.unsupervised.factorization.als import make_als_data, mf_als
from jaxml.unsupervised.factorization.data import Ratings, check_ratings, check_shape
from jaxml.unsupervised.factorization.model import mf_init, mf_rmse
from jaxml.unsupervised.factorization.sgd import mf_sgd


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


def mf_select_rank(
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
    shape = check_shape(shape)
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
        factors = mf_init(k_init, *shape, rank, dtype=train.values.dtype)
        if method == "als":
            result = mf_als(factors, data, lam, num_sweeps=num_sweeps, valid=valid)
        else:
            if learning_rate is None:
                raise ValueError("learning_rate must be given for method='sgd'")
            result = mf_sgd(
                factors,
                train,
                key=k_sgd,
                lam=lam,
                learning_rate=learning_rate,
                batch_size=batch_size,
                num_epochs=num_epochs,
                valid=valid,
            )
        train_rmse.append(float(mf_rmse(result.factors, train)))
        valid_rmse.append(float(mf_rmse(result.factors, valid)))
    valid_arr = np.asarray(valid_rmse)
    return RankSelection(
        ranks=np.asarray(ranks),
        train_rmse=np.asarray(train_rmse),
        valid_rmse=valid_arr,
        best_rank=int(ranks[int(np.nanargmin(valid_arr))]),
    )


__all__ = ["RankSelection", "mf_select_rank"]
