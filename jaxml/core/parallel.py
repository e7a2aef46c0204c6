"""Data parallelism for ``fit(..., data_parallel=True)``: one program over all devices and hosts.

The mechanism is sharded ``jit`` over a one-axis mesh ``("data",)`` of all P·L devices (P
processes, L local devices each). The train state, the data and the run key are replicated on
every device; inside the step, each global minibatch B_t is constrained to be split along its
first axis, so device d computes on rows [d·B/(P·L), (d+1)·B/(P·L)) and XLA inserts the
all-reduces that the mean loss needs:

    g_t = (1 / P·L) Σ_d ∇L_d(θ_t) = ∇L(θ_t; B_t)   (equal shards),

and every device applies the same update, so the copies stay identical. Statistics over the batch
inside the loss (batch norm's mean and variance) are likewise taken over the GLOBAL batch, i.e.
averaged across devices; random draws are the same as on one device (JAX's threefry is
partitionable, and ``jaxml.core.train.example_keys`` gives per-example keys by global position).
The run therefore equals single-device training up to float summation order.

Across hosts: call ``jax.distributed.initialize`` first (on CPU with
``jax.config.update("jax_cpu_collectives_implementation", "gloo")``); every process passes the
same data and key to ``fit``. This is what ``pmap`` + ``lax.pmean`` did, without a second code
path: the single-device program is the data-parallel one.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_slice_count(n: int, *, max_slices: int, min_size: int, backend: str | None = None,
                    cores: int | None = None) -> int:
    """How many independent slices a batch of n examples runs as: on CPU one per core, at most
    ``max_slices``, each of at least ``min_size`` examples, i.e. max(1, min(cores, max_slices,
    ⌊n / min_size⌋)); 1 on accelerators (``backend`` defaults to ``jax.default_backend()``, ``cores``
    to ``cpu_cores()``)."""
    if (backend or jax.default_backend()) != "cpu":
        return 1
    cores = cpu_cores() if cores is None else cores
    return max(1, min(cores, max_slices, n // min_size))


def slice_bounds(n: int, num_slices: int) -> list[tuple[int, int]]:
    """[(start, stop)] of ``num_slices`` contiguous slices of n examples, sizes differing by at most 1.

    Within one device: a batch computed as a few independent slices (each its own vmapped or
    batched computation, joined at the end) gives XLA:CPU independent branches, which it runs on
    separate cores, where one batched computation of small convolutions keeps to one core.
    """
    num_slices = max(1, min(int(num_slices), n)) if n else 1
    edges = [round(i * n / num_slices) for i in range(num_slices + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def data_mesh(devices=None) -> Mesh:
    """A one-axis mesh named ``"data"`` over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (AXIS,))


def check_divisible(batch_size: int, num_devices: int) -> None:
    """Raise a ``ValueError`` unless the global batch splits evenly over the devices."""
    if batch_size % num_devices:
        raise ValueError(
            f"data_parallel: the global batch size {batch_size} is not divisible by the {num_devices} devices"
        )


def _replicate_leaf(x, sharding: NamedSharding):
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(x)
        return jax.random.wrap_key_data(_replicate_leaf(jax.random.key_data(x), sharding), impl=impl)
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    host = np.asarray(x)  # every process holds the same value: each fills its own devices
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def replicate_global(tree, mesh: Mesh):
    """Every leaf of ``tree`` as a global array with a full copy on each device of ``mesh``."""
    sharding = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda x: _replicate_leaf(x, sharding), tree)


def shard_batch(batch, mesh: Mesh):
    """Inside a jitted step: split every leaf of the global batch along its first axis."""
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), batch)


# ---- per-device layouts, for code written in the pmap / shard_map style (a leading device axis)


def replicate(tree, n: int | None = None):
    """Give every leaf a leading axis of length n (default: the local device count)."""
    n = jax.local_device_count() if n is None else n
    return jax.tree.map(lambda x: jnp.broadcast_to(jnp.asarray(x), (n, *np.shape(x))), tree)


def unreplicate(tree):
    """The first copy of a tree with a leading device axis."""
    return jax.tree.map(lambda x: x[0], tree)


def shard_global_batches(batches, *, process_index: int | None = None, process_count: int | None = None,
                         local_devices: int | None = None):
    """[steps, B, ...] global batches -> [L, steps, B/(P·L), ...], this process's part.

    Process p keeps rows [p·B/P, (p+1)·B/P) of every batch and splits them among its L devices:
    the rows ``fit(..., data_parallel=True)`` gives each device.
    """
    p = jax.process_index() if process_index is None else process_index
    P = jax.process_count() if process_count is None else process_count
    L = jax.local_device_count() if local_devices is None else local_devices

    def shard(x):
        steps, B = np.shape(x)[:2]
        check_divisible(B, P * L)
        per_process = B // P
        mine = x[:, p * per_process : (p + 1) * per_process]
        mine = mine.reshape(steps, L, per_process // L, *np.shape(x)[2:])
        return jnp.moveaxis(mine, 1, 0)

    return jax.tree.map(shard, batches)


def _step_batch(key, step, batches):
    del key
    return jax.tree.map(lambda b: b[step], batches)


def fit_data_parallel(loss_fn, tx, params, batches, *, has_aux: bool = False):
    """Train over all devices on pre-made global batches [steps, B, ...]: ``fit`` with
    ``data_parallel=True`` and a sampler that takes batch t at step t.

    Returns the final ``TrainState`` and the per-step metrics [steps].
    """
    from jaxml.core.train import fit, num_samples

    result = fit(loss_fn, tx, params, batches, key=jax.random.key(0), num_steps=num_samples(batches),
                 sampler=_step_batch, has_aux=has_aux, data_parallel=True, progress=False)
    return result.state, result.history


__all__ = [
    "AXIS",
    "check_divisible",
    "cpu_cores",
    "cpu_slice_count",
    "data_mesh",
    "fit_data_parallel",
    "replicate",
    "replicate_global",
    "shard_batch",
    "shard_global_batches",
    "slice_bounds",
    "unreplicate",
]
