"""Data-parallel training: the train step of ``jaxml.core.train``, mapped over devices and hosts.

Each device d of the P·L devices (P processes, L local devices each) holds a copy of the
parameters and a 1/(P·L) shard of every global minibatch. It computes the gradient of its
shard's mean loss; ``lax.pmean`` averages loss and gradients over the ``"devices"`` axis, so every
copy applies the same update

    g_t = (1 / P·L) Σ_d ∇L(θ_t; B_t^(d)) = ∇L(θ_t; B_t)   (equal shard sizes),

and the copies stay identical: the run equals single-device training on the same global batches
up to float summation order. Across hosts, call ``jax.distributed.initialize`` first (on CPU
with ``jax_cpu_collectives_implementation="gloo"``); every process passes the SAME global batches
and keeps its own slice.

The mechanism is ``jax.pmap`` with ``lax.pmean``; it sits behind ``make_parallel_runner`` alone so
that it can move to ``shard_map`` without touching callers.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from jaxml.core.train import TrainState, create_train_state, make_train_step
from jaxml.core.types import Batch, Metrics, Params

AXIS = "devices"


def replicate(tree, n: int | None = None):
    """Give every leaf a leading axis of length n (default: the local device count)."""
    n = jax.local_device_count() if n is None else n
    return jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (n, *jnp.shape(x))), tree)


def unreplicate(tree):
    """The first copy of a replicated tree."""
    return jax.tree.map(lambda x: x[0], tree)


def shard_global_batches(batches: Batch, *, process_index: int | None = None,
                         process_count: int | None = None, local_devices: int | None = None) -> Batch:
    """[steps, B, ...] global batches -> [L, steps, B/(P·L), ...], this process's part.

    Process p keeps rows [p·B/P, (p+1)·B/P) of every batch and splits them among its L devices.
    """
    p = jax.process_index() if process_index is None else process_index
    P = jax.process_count() if process_count is None else process_count
    L = jax.local_device_count() if local_devices is None else local_devices

    def shard(x):
        steps, B = x.shape[:2]
        if B % (P * L):
            raise ValueError(f"global batch size {B} is not divisible by {P * L} devices")
        per_process = B // P
        mine = x[:, p * per_process : (p + 1) * per_process]
        mine = mine.reshape(steps, L, per_process // L, *x.shape[2:])
        return jnp.moveaxis(mine, 1, 0)

    return jax.tree.map(shard, batches)


@functools.lru_cache(maxsize=64)
def make_parallel_runner(loss_fn, tx: optax.GradientTransformation, has_aux: bool = False):
    """``run(replicated_state, sharded_batches) -> (replicated_state, metrics)``.

    One compiled program per device: a ``lax.scan`` over the steps, with gradients averaged by
    ``lax.pmean`` at each step.
    """
    train_step = make_train_step(loss_fn, tx, has_aux=has_aux, axis_name=AXIS)

    @functools.partial(jax.pmap, axis_name=AXIS)
    def run(state: TrainState, batches: Batch):
        return jax.lax.scan(train_step, state, batches)

    return run


def fit_data_parallel(loss_fn, tx: optax.GradientTransformation, params: Params | TrainState,
                      batches: Batch, *, has_aux: bool = False) -> tuple[TrainState, Metrics]:
    """Train over all devices of all processes on pre-made global batches [steps, B, ...].

    Returns the final (unreplicated) ``TrainState`` and the per-step metrics [steps] (averaged
    over devices). ``jaxml.core.data.make_batches`` draws the same batches as ``fit``.
    """
    state = params if isinstance(params, TrainState) else create_train_state(params, tx)
    run = make_parallel_runner(loss_fn, tx, has_aux)
    state, metrics = run(replicate(state), shard_global_batches(batches))
    return unreplicate(state), unreplicate(metrics)


__all__ = [
    "AXIS",
    "fit_data_parallel",
    "make_parallel_runner",
    "replicate",
    "shard_global_batches",
    "unreplicate",
]
