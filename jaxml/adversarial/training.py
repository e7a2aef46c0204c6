"""Adversarial training (Madry et al., 2018), robust accuracy, model stealing and transfer attacks.

Adversarial training solves the saddle-point problem

  min_θ  E_{(x, y)} [ max_{‖δ‖ ≤ ε, x + δ ∈ C} ℓ(f_θ(x + δ), y) ],

the inner max approximated by PGD (``jaxml.adversarial.attacks.pgd``, random start drawn from a
key folded out of the trainer's per-step key), the outer min by the optimizer of
``jaxml.core.train.fit``. By Danskin's theorem ∇_θ max_δ ℓ = ∇_θ ℓ(f_θ(x + δ*), y) at the
maximiser δ*, so the attack is held constant (``stop_gradient``) when differentiating in θ: one
jitted train step = PGD on the minibatch + one optimizer update.

Robust accuracy under PGD: (1/N) Σₙ 1[argmax f_θ(PGD(xₙ)) = yₙ] (an upper bound on the true
robust accuracy, since PGD may miss the worst case).

Model stealing: a surrogate g_φ is trained on the victim's predicted labels ŷₙ = argmax f_θ(xₙ)
of query points, min_φ (1/N) Σₙ ℓ(g_φ(xₙ), ŷₙ); agreement = (1/N) Σₙ 1[argmax g_φ(xₙ) = ŷₙ].
Transfer: x' = PGD on the surrogate; success rate = fraction of the examples the victim classifies
correctly whose x' it misclassifies. The baseline is random noise of the same norm,
x + ‖δ‖ · v/‖v‖ (v random signs for L∞, v ~ N(0, I) for L2), clipped to C.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.adversarial.attacks import _pgd, _unit_l2, pgd, softmax_cross_entropy
from jaxml.core.checks import check_array, check_choice, check_int, check_same_length, check_scalar
from jaxml.core.train import FitResult, cached_loss, fit
from jaxml.core.types import Array, PRNGKey
from jaxml.nn.models import cross_entropy

# the stream the PGD random start takes out of the trainer's step key (any constant other
# streams in the loss do not use)
_PGD_STREAM = 0x504744


_MODULE_PREDICTS: dict = {}


def as_predict(model_or_predict) -> Callable:
    """``predict(params, x) -> logits (K,)`` for one example: a flax module (without mutable
    state) is applied to x[None]; a callable is returned as is."""
    if isinstance(model_or_predict, nn.Module):
        # one function per module, so that jit caches keyed on it compile once
        if model_or_predict not in _MODULE_PREDICTS:
            model = model_or_predict
            _MODULE_PREDICTS[model] = lambda params, x: model.apply({"params": params}, x[None])[0]
        return _MODULE_PREDICTS[model_or_predict]
    if not callable(model_or_predict):
        raise ValueError(f"model_or_predict must be a flax Module or predict(params, x), got {model_or_predict!r}")
    return model_or_predict


def _check_attack(eps, steps, step_size, norm, clip):
    check_choice(norm, "norm", ("linf", "l2"))
    check_scalar(eps, "eps", minimum=0.0)
    steps = check_int(steps, "steps", minimum=0)
    if step_size is None:
        step_size = 2.5 * float(eps) / max(steps, 1)
    check_scalar(step_size, "step_size", minimum=0.0)
    if clip is not None:
        if len(clip) != 2 or not float(clip[0]) < float(clip[1]):
            raise ValueError(f"clip must be None or a pair lo < hi, got {clip!r}")
        clip = (float(clip[0]), float(clip[1]))
    return steps, float(step_size), clip


def _batch_logits(predict, params, X):
    return jax.vmap(lambda v: predict(params, v))(X)


def make_adversarial_loss(model_or_predict, *, eps, steps: int = 7, step_size=None, norm: str = "linf",
                          clip=(0.0, 1.0)) -> Callable:
    """The ``fit`` loss of adversarial training, ``loss(params, (X, y), *, key) -> (L, metrics)``:

      X' = stop_gradient(PGD_ε(f_θ, X, y; key')),  key' = fold_in(key, stream),
      L = (1/B) Σₙ [logsumexp f_θ(x'ₙ) − f_θ(x'ₙ)_{yₙ}],

    metrics = {"clean_accuracy", "adversarial_accuracy"} of the minibatch (θ before the update).
    Train with ``fit(loss, ..., with_key=True, has_aux=True)``: every step draws new random starts.
    ``step_size`` defaults to 2.5 ε / steps.
    """
    predict = as_predict(model_or_predict)
    steps, step_size, clip = _check_attack(eps, steps, step_size, norm, clip)
    return cached_loss(_adversarial_loss, predict, float(eps), steps, step_size, norm, clip)


def _adversarial_loss(predict, eps, steps, step_size, norm, clip):
    def loss(params, batch, *, key):
        X, y = batch
        frozen = jax.lax.stop_gradient(params)
        X_adv = _pgd(predict, softmax_cross_entropy, frozen, X, y, jnp.asarray(eps, X.dtype),
                     jnp.asarray(step_size, X.dtype), jax.random.fold_in(key, _PGD_STREAM), norm, steps,
                     True, False, False, clip, True)
        X_adv = jax.lax.stop_gradient(X_adv)
        logits_adv = _batch_logits(predict, params, X_adv)
        logits_clean = _batch_logits(predict, frozen, X)
        ce = cross_entropy(logits_adv, y)
        metrics = {"clean_accuracy": jnp.mean(jnp.argmax(logits_clean, -1) == y),
                   "adversarial_accuracy": jnp.mean(jnp.argmax(logits_adv, -1) == y)}
        return ce, metrics

    return loss


def make_standard_loss(model_or_predict) -> Callable:
    """The clean counterpart, ``loss(params, (X, y)) -> (L, {"accuracy"})`` with L the mean
    softmax cross-entropy (1/B) Σₙ [logsumexp f_θ(xₙ) − f_θ(xₙ)_{yₙ}]."""
    return cached_loss(_standard_loss, as_predict(model_or_predict))


def _standard_loss(predict):
    def loss(params, batch):
        X, y = batch
        logits = _batch_logits(predict, params, X)
        ce = cross_entropy(logits, y)
        return ce, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}

    return loss


def adversarial_train(model_or_predict, params, X, y, *, key: PRNGKey, eps, num_steps: int,
                      attack_steps: int = 7, step_size=None, norm: str = "linf", clip=(0.0, 1.0),
                      batch_size: int | None = 64, tx: optax.GradientTransformation | None = None,
                      learning_rate: float = 1e-2, data_parallel: bool = False, **fit_kwargs) -> FitResult:
    """min_θ (1/N) Σₙ max_{‖δ‖≤ε} ℓ(f_θ(xₙ + δ), yₙ) through ``fit(make_adversarial_loss(...),
    with_key=True, has_aux=True, data_parallel=...)``; ``tx`` defaults to Adam(``learning_rate``).

    Returns ``fit``'s ``FitResult`` (history: loss, grad_norm, clean_accuracy, adversarial_accuracy).
    """
    X, y = jnp.asarray(X), jnp.asarray(y)
    check_array(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must be a batch (N, D...) of examples, got shape {X.shape}")
    check_array(y, "y", ndim=1)
    check_same_length(X=X, y=y)
    loss = make_adversarial_loss(model_or_predict, eps=eps, steps=attack_steps, step_size=step_size,
                                 norm=norm, clip=clip)
    tx = optax.adam(learning_rate) if tx is None else tx
    return fit(loss, tx, params, (X, y), key=key, num_steps=num_steps, batch_size=batch_size,
               with_key=True, has_aux=True, data_parallel=data_parallel, **fit_kwargs)


def clean_accuracy(predict: Callable, params, X, y) -> float:
    """(1/N) Σₙ 1[argmax predict(params, xₙ) = yₙ]."""
    predict = as_predict(predict)
    return float(jnp.mean(jnp.argmax(_jit_logits(predict, params, jnp.asarray(X)), -1) == jnp.asarray(y)))


@functools.partial(jax.jit, static_argnames="predict")
def _jit_logits(predict, params, X):
    return _batch_logits(predict, params, X)


def robust_accuracy(predict: Callable, params, X, y, *, eps, steps: int = 10, key: PRNGKey, norm: str = "linf",
                    step_size=None, clip=(0.0, 1.0)) -> float:
    """(1/N) Σₙ 1[argmax f_θ(x'ₙ) = yₙ] with x'ₙ = PGD_ε(xₙ) (random start, ``steps`` steps,
    α = 2.5 ε / steps by default): the accuracy left under the attack."""
    predict = as_predict(predict)
    X_adv = pgd(predict, params, X, jnp.asarray(y), eps, key=key, norm=norm, steps=steps, step_size=step_size,
                clip=clip)
    return clean_accuracy(predict, params, X_adv, y)


class StolenModel(NamedTuple):
    """What ``steal_model`` returns.

    Attributes:
      params: the surrogate's trained parameters.
      victim_labels: ŷₙ = argmax f_θ(xₙ), the victim's answers to the queries (N,).
      agreement: (1/N) Σₙ 1[argmax g_φ(xₙ) = ŷₙ] on the query points.
      fit: ``fit``'s ``FitResult`` of the surrogate's training.
    """

    params: object
    victim_labels: Array
    agreement: float
    fit: FitResult


def steal_model(victim_predict: Callable, victim_params, X_query, *, init, surrogate=None, key: PRNGKey,
                num_steps: int = 500, batch_size: int | None = 64,
                tx: optax.GradientTransformation | None = None, learning_rate: float = 1e-2) -> StolenModel:
    """Train a surrogate g_φ on the victim's labels: ŷₙ = argmax f_θ(xₙ) (one label query per
    point of ``X_query``), then min_φ (1/N) Σₙ ℓ(g_φ(xₙ), ŷₙ) through ``fit`` from ``init``.

    ``surrogate`` is the surrogate's flax module or ``predict(params, x)`` (default: the victim's
    ``predict``, i.e. the same architecture with the attacker's own weights ``init``).
    """
    X_query = jnp.asarray(X_query)
    victim_predict = as_predict(victim_predict)
    surrogate = victim_predict if surrogate is None else as_predict(surrogate)
    victim_labels = jnp.argmax(_jit_logits(victim_predict, victim_params, X_query), -1).astype(jnp.int32)
    tx = optax.adam(learning_rate) if tx is None else tx
    result = fit(make_standard_loss(surrogate), tx, init, (X_query, victim_labels), key=key, num_steps=num_steps,
                 batch_size=batch_size, has_aux=True)
    params = result.state.params
    agreement = clean_accuracy(surrogate, params, X_query, victim_labels)
    return StolenModel(params, victim_labels, agreement, result)


class TransferResult(NamedTuple):
    """What ``transfer_success`` returns (rates over the examples the victim gets right on clean input).

    Attributes:
      success_rate: fraction the victim misclassifies on the surrogate's PGD examples.
      noise_success_rate: the same for random noise of the same norm per example.
      surrogate_success_rate: fraction the surrogate itself misclassifies (white-box on it).
      x_adv: the surrogate-crafted examples (N, D...).
    """

    success_rate: float
    noise_success_rate: float
    surrogate_success_rate: float
    x_adv: Array


def transfer_success(surrogate_predict: Callable, surrogate_params, victim_predict: Callable, victim_params, X, y,
                     *, eps, key: PRNGKey, steps: int = 10, norm: str = "linf", step_size=None,
                     clip=(0.0, 1.0)) -> TransferResult:
    """x'ₙ = PGD_ε on the surrogate; success = mean over {n: victim(xₙ) = yₙ} of 1[victim(x'ₙ) ≠ yₙ].

    The baseline perturbs each xₙ by noise of the norm of its own δₙ = x'ₙ − xₙ:
    ‖δₙ‖∞ · (random signs) for L∞, ‖δₙ‖₂ · v/‖v‖₂ (v ~ N(0, I)) for L2, then clips to ``clip``.
    """
    surrogate_predict, victim_predict = as_predict(surrogate_predict), as_predict(victim_predict)
    X, y = jnp.asarray(X), jnp.asarray(y)
    k_attack, k_noise = jax.random.split(key)
    X_adv = pgd(surrogate_predict, surrogate_params, X, y, eps, key=k_attack, norm=norm, steps=steps,
                step_size=step_size, clip=clip)
    delta = (X_adv - X).reshape(X.shape[0], -1)
    if norm == "linf":
        size = jnp.max(jnp.abs(delta), axis=1)
        v = jax.random.rademacher(k_noise, delta.shape, X.dtype)
    else:
        size = jnp.linalg.norm(delta, axis=1)
        v = jax.vmap(_unit_l2)(jax.random.normal(k_noise, delta.shape, X.dtype))
    X_noise = X + (size[:, None] * v).reshape(X.shape)
    if clip is not None:
        X_noise = jnp.clip(X_noise, clip[0], clip[1])

    def predicted(predict, params, inputs):
        return np.asarray(jnp.argmax(_jit_logits(predict, params, inputs), -1))

    y_np = np.asarray(y)
    correct = predicted(victim_predict, victim_params, X) == y_np
    if not correct.any():
        raise ValueError("the victim misclassifies every example of X: no transfer rate to measure")
    rate = lambda pred: float(np.mean(pred[correct] != y_np[correct]))  # noqa: E731
    surrogate_correct = predicted(surrogate_predict, surrogate_params, X) == y_np
    surrogate_rate = float(np.mean(predicted(surrogate_predict, surrogate_params, X_adv)[surrogate_correct]
                                   != y_np[surrogate_correct])) if surrogate_correct.any() else float("nan")
    return TransferResult(rate(predicted(victim_predict, victim_params, X_adv)),
                          rate(predicted(victim_predict, victim_params, X_noise)), surrogate_rate, X_adv)


__all__ = [
    "StolenModel",
    "TransferResult",
    "clean_accuracy",
    "adversarial_train",
    "as_predict",
    "make_adversarial_loss",
    "make_standard_loss",
    "robust_accuracy",
    "steal_model",
    "transfer_success",
]
