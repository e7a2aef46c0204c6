"""Matrix factorization by minibatch SGD over the observed entries, through ``jaxml.core.train.fit``.

Minibatches of B observed entries are drawn uniformly from Ω by ``fit``; the minibatch loss
(1/B)·½ Σ_{batch}(x − wᵀz)² + (λ/2)(‖W‖² + ‖Z‖²) is an unbiased estimate of f, so its gradient
is an unbiased estimate of ∇f. λ and the learning rate η reach the compiled loop as traced
``hparams``: one compiled program serves every (λ, η).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.checks import check_int, check_scalar
from jaxml.core.train import fit
from jaxml.core.types import PRNGKey
from jaxml.unsupervised.factorization.data import Ratings, check_ratings
from jaxml.unsupervised.factorization.model import Factors, MFResult, check_factors, mf_loss, mf_rmse

# Built once: ``fit`` writes the traced learning rate into its state (``hparams["learning_rate"]``).
_SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)


def _minibatch_loss(factors: Factors, batch: Ratings, *, hparams) -> jax.Array:
    """``mf_loss`` on a minibatch with the traced λ = ``hparams["lam"]`` (module level: one compile)."""
    return mf_loss(factors, batch, hparams["lam"])


@jax.jit
def _evaluate(factors: Factors, train: Ratings, valid: Ratings | None, lam) -> dict:
    out = {"train_rmse": mf_rmse(factors, train), "objective": mf_loss(factors, train, lam)}
    if valid is not None:
        out["valid_rmse"] = mf_rmse(factors, valid)
    return out


def mf_sgd(
    factors: Factors,
    train: Ratings,
    *,
    key: PRNGKey,
    lam,
    learning_rate,
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

    λ and η are traced hyper-parameters of ``fit``: a second call with other values (and the same
    shapes) reuses the compiled loop.

    Args:
      factors: the initial ``Factors`` (e.g. from ``mf_init``); fixes D, N and K.
      train: the training entries.
      key: the key of the minibatches.
      lam: λ ≥ 0.
      learning_rate: η > 0 of plain SGD (ignored when ``tx`` is given).
      batch_size: B.
      num_epochs: the number of epochs.
      valid: held-out entries, for ``history["valid_rmse"]``.
      tx: an optimizer to use instead of plain SGD (build it once and reuse it: it keys the
        compile cache; wrap it in ``optax.inject_hyperparams`` for a traced learning rate).

    Returns:
      ``MFResult(factors, history)``, history arrays of shape [num_epochs]. Cost per epoch
      O(|Ω| K + (|Ω|/B)(D + N) K) (the penalty's gradient is dense).
    """
    shape = (int(factors.W.shape[0]), int(factors.Z.shape[0]))
    check_factors(factors)
    train = check_ratings(train, shape, "train")
    if valid is not None:
        valid = check_ratings(valid, shape, "valid")
    check_scalar(lam, "lam", minimum=0.0)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    num_epochs = check_int(num_epochs, "num_epochs", minimum=0)
    lam = jnp.asarray(lam, factors.W.dtype)
    hparams = {"lam": lam}
    if tx is None:
        check_scalar(learning_rate, "learning_rate", minimum=0.0, strict_min=True)
        tx = _SGD
        hparams["learning_rate"] = jnp.asarray(learning_rate, factors.W.dtype)
    steps_per_epoch = math.ceil(int(train.values.shape[0]) / batch_size)
    result = fit(
        _minibatch_loss,
        tx,
        factors,
        train,
        key=key,
        num_steps=num_epochs * steps_per_epoch,
        batch_size=batch_size,
        hparams=hparams,
        chunk_size=steps_per_epoch,
        eval_fn=lambda params: _evaluate(params, train, valid, lam),
        progress=False,
        desc="mf-sgd",
    )
    names = ["train_rmse", "objective"] + (["valid_rmse"] if valid is not None else [])
    history = {k: np.asarray([e[k] for _, e in result.evals], np.float64) for k in names}
    return MFResult(Factors(*result.state.params), history)


__all__ = ["mf_sgd"]
