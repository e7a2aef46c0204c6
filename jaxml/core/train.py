"""The one training loop of jaxml: every family trains through ``fit``.

A train step is ``state, batch -> state, metrics`` with

    g_t = ∇_θ L(θ_t; B_t),   (u_t, s_{t+1}) = tx.update(g_t, s_t, θ_t),   θ_{t+1} = θ_t + u_t

where ``tx`` is any ``optax.GradientTransformation`` (the course's rules live in
``jaxml.optim``). ``fit`` runs the steps in chunks; each chunk is ONE jitted ``lax.scan``, so
there is no host round-trip per step. Between chunks (only) it updates the progress bar, runs the
optional evaluation and writes the optional checkpoint.

Minibatches: step t uses the indices ``randint(fold_in(key, t), (B,), 0, N)`` — the course's SGD,
each index drawn uniformly, so the minibatch gradient is an unbiased estimate of the full
gradient. The batch depends on (key, t) alone, so a run resumed from a checkpoint sees exactly the
batches of an uninterrupted run.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxml.core.checkpoint import restore_latest, save_checkpoint
from jaxml.core.types import Array, Batch, Metrics, Params, PRNGKey


class TrainState(NamedTuple):
    """Everything a training run carries from step to step.

    Attributes:
      params: the model's parameter pytree θ.
      opt_state: the optimizer's state pytree (moments, counters).
      step: int32 scalar, the number of updates applied so far.
    """

    params: Params
    opt_state: Any
    step: Array


def create_train_state(params: Params, tx: optax.GradientTransformation) -> TrainState:
    """``TrainState(params, tx.init(params), 0)``."""
    return TrainState(params=params, opt_state=tx.init(params), step=jnp.zeros((), jnp.int32))


def make_train_step(
    loss_fn: Callable[..., Any],
    tx: optax.GradientTransformation,
    *,
    has_aux: bool = False,
    axis_name: str | None = None,
) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
    """Build ``train_step(state, batch) -> (state, metrics)`` for ``loss_fn(params, batch)``.

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar`` (or ``(scalar, dict)`` with ``has_aux``).
      tx: the optimizer.
      has_aux: ``loss_fn`` also returns a dict of scalar metrics, added to the step's metrics.
      axis_name: when set, the step runs under ``pmap``/``shard_map`` over this axis and the loss
        and gradients are averaged across it with ``lax.pmean`` (data parallelism): with equal
        shards, the mean of per-shard mean-loss gradients is the gradient of the global mean.

    Returns:
      A pure function; metrics hold ``loss`` and ``grad_norm`` = ‖g_t‖₂ (global norm).
    """

    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, Metrics]:
        value_and_grad = jax.value_and_grad(loss_fn, has_aux=has_aux)
        if has_aux:
            (loss, aux), grads = value_and_grad(state.params, batch)
        else:
            loss, grads = value_and_grad(state.params, batch)
            aux = {}
        if axis_name is not None:
            loss, grads, aux = jax.lax.pmean((loss, grads, aux), axis_name)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **aux}
        return TrainState(params, opt_state, state.step + 1), metrics

    return train_step


def num_samples(data: Batch) -> int:
    """The common leading dimension N of the leaves of ``data``."""
    sizes = {np.shape(leaf)[0] for leaf in jax.tree.leaves(data)}
    if len(sizes) != 1:
        raise ValueError(f"data leaves must share their leading (sample) axis, got sizes {sizes}")
    return sizes.pop()


def batch_indices(key: PRNGKey, step, n: int, batch_size: int) -> Array:
    """Indices of the minibatch of ``step``: ``randint(fold_in(key, step), (B,), 0, N)``."""
    return jax.random.randint(jax.random.fold_in(key, step), (batch_size,), 0, n)


def sample_batch(key: PRNGKey, step, data: Batch, batch_size: int | None) -> Batch:
    """The minibatch of ``step`` (the whole of ``data`` when ``batch_size`` is None)."""
    if batch_size is None:
        return data
    idx = batch_indices(key, step, num_samples(data), batch_size)
    return jax.tree.map(lambda leaf: leaf[idx], data)


def run_steps(train_step, state: TrainState, batches: Batch) -> tuple[TrainState, Metrics]:
    """Apply ``train_step`` over the leading axis of pre-made ``batches`` ([steps, B, ...]).

    One ``lax.scan``: returns the final state and the stacked per-step metrics.
    """
    return jax.lax.scan(train_step, state, batches)


@functools.lru_cache(maxsize=256)
def _chunk_runner(loss_fn, tx, batch_size, has_aux):
    """One compiled chunk per (loss, optimizer, batch size); jit caches per shapes and length.

    Cached so that a second ``fit`` with the same loss and optimizer does not trace again.
    """
    train_step = make_train_step(loss_fn, tx, has_aux=has_aux)

    @functools.partial(jax.jit, static_argnames="length", donate_argnums=0)
    def run_chunk(state, data, key, length):
        def body(state, _):
            batch = sample_batch(key, state.step, data, batch_size)
            return train_step(state, batch)

        return jax.lax.scan(body, state, None, length=length)

    return run_chunk


class FitResult(NamedTuple):
    """What ``fit`` returns.

    Attributes:
      state: the final ``TrainState``.
      history: dict of numpy arrays of shape [num_steps] (loss, grad_norm, aux metrics).
      evals: list of ``(step, dict)`` from ``eval_fn`` at the end of each chunk.
    """

    state: TrainState
    history: dict[str, np.ndarray]
    evals: list[tuple[int, dict[str, float]]]


def fit(
    loss_fn: Callable[..., Any],
    tx: optax.GradientTransformation,
    params: Params | TrainState,
    data: Batch,
    *,
    key: PRNGKey,
    num_steps: int,
    batch_size: int | None = None,
    has_aux: bool = False,
    chunk_size: int | None = None,
    eval_fn: Callable[[Params], dict[str, Any]] | None = None,
    checkpoint_dir=None,
    keep_checkpoints: int = 3,
    progress: bool | None = None,
    desc: str = "train",
) -> FitResult:
    """Minimize ``loss_fn(params, batch)`` with ``tx`` for ``num_steps`` steps.

    θ_{t+1} = θ_t + tx.update(∇L(θ_t; B_t)), B_t the minibatch of step t (see module doc).

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar`` (``(scalar, metrics)`` with ``has_aux``).
        Keep it a module-level function (or one built once): it keys the compile cache.
      tx: an ``optax.GradientTransformation`` built once per experiment.
      params: initial parameters, or a ``TrainState`` to continue from.
      data: pytree of arrays with a shared leading sample axis N (e.g. ``(X, y)``).
      key: the key from which every minibatch is drawn.
      num_steps: total number of updates.
      batch_size: minibatch size B; ``None`` for full-batch gradient descent.
      chunk_size: steps per compiled chunk; defaults to all steps, or to about a tenth of them
        when evaluation, checkpoints or a progress bar ask for stops between chunks.
      eval_fn: ``eval_fn(params) -> dict`` run on the host after each chunk.
      checkpoint_dir: when set, the state and history are saved after each chunk, and a run
        finding checkpoints there resumes from the newest readable one.
      progress: show a tqdm bar over steps (``None``: only on a terminal).

    Returns:
      ``FitResult(state, history, evals)``.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    num_samples(data)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    state = params if isinstance(params, TrainState) else create_train_state(params, tx)
    # fit donates its state to the compiled chunks: copy so the caller's arrays stay valid.
    state = jax.tree.map(jnp.array, state)
    if chunk_size is None:
        wants_stops = eval_fn is not None or checkpoint_dir is not None or progress
        chunk_size = max(1, math.ceil(num_steps / 10)) if wants_stops else max(num_steps, 1)
    run_chunk = _chunk_runner(loss_fn, tx, batch_size, has_aux)

    history: dict[str, np.ndarray] | None = None
    evals: list[tuple[int, dict[str, float]]] = []
    if checkpoint_dir is not None:
        metrics_shape = jax.eval_shape(lambda s: run_chunk.__wrapped__(s, data, key, 1)[1], state)
        template = {
            "state": state,
            "history": {k: np.zeros((num_steps,), v.dtype) for k, v in metrics_shape.items()},
        }
        restored, _ = restore_latest(checkpoint_dir, template)
        if restored is not None:
            state = jax.tree.map(jnp.asarray, restored["state"])
            state = state._replace(step=jnp.asarray(state.step, jnp.int32))
            history = {k: np.array(v) for k, v in restored["history"].items()}  # writable copies

    step = int(state.step)
    bar = tqdm(total=num_steps, initial=step, desc=desc, disable=None if progress is None else not progress)
    while step < num_steps:
        length = min((step // chunk_size + 1) * chunk_size, num_steps) - step
        state, metrics = run_chunk(state, data, key, length)
        metrics = jax.device_get(metrics)
        if history is None:
            history = {k: np.zeros((num_steps,), np.asarray(v).dtype) for k, v in metrics.items()}
        for k, v in metrics.items():
            history[k][step : step + length] = v
        step += length
        bar.update(length)
        bar.set_postfix(loss=f"{float(metrics['loss'][-1]):.4g}")
        if eval_fn is not None:
            evals.append((step, {k: float(v) for k, v in eval_fn(state.params).items()}))
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, {"state": state, "history": history}, step, keep=keep_checkpoints)
    bar.close()
    if history is None:
        history = {"loss": np.zeros((0,)), "grad_norm": np.zeros((0,))}
    return FitResult(state=state, history=history, evals=evals)


__all__ = [
    "FitResult",
    "TrainState",
    "batch_indices",
    "create_train_state",
    "fit",
    "make_train_step",
    "num_samples",
    "run_steps",
    "sample_batch",
]
