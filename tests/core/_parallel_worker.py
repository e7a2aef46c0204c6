"""Child process of test_parallel (devices are fixed at JAX start-up, hence a subprocess).

Usage:
  python _parallel_worker.py devices N OUT             one process, N emulated CPU devices
  python _parallel_worker.py hosts PORT PID NPROC OUT  one of NPROC processes (2 devices each)

Trains a small batch-norm + dropout network through ``fit(..., data_parallel=True)`` — with the
step's key, model state, evaluation and a checkpoint resumed half-way — and, in process 0, the
same run on one device; writes both results to OUT (.npz).
"""

import os
import sys

mode = sys.argv[1]
if mode == "devices":
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={int(sys.argv[2])}"
else:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

if mode == "hosts":
    port, pid, nproc = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=nproc, process_id=pid)

from jaxml.core.data import make_linear_regression  # noqa: E402
from jaxml.core.train import example_keys, fit  # noqa: E402

KEEP = 0.8
MOMENTUM = 0.9


def forward(params, X, mean, var, mask=None):
    h = X @ params["W1"]
    h = params["gamma"] * (h - mean) / jnp.sqrt(var + 1e-5) + params["beta"]
    h = jax.nn.relu(h)
    if mask is not None:
        h = h * mask / KEEP
    return h @ params["w2"]


def loss(params, batch, *, key, model_state):
    """Batch norm over the (global) batch and a per-example dropout mask (no bias before batch
    norm: its gradient is float noise, which Adam would amplify into diverging runs)."""
    X, y = batch
    h = X @ params["W1"]
    mean, var = jnp.mean(h, axis=0), jnp.var(h, axis=0)
    masks = jax.vmap(lambda k: jax.random.bernoulli(k, KEEP, (h.shape[1],)))(example_keys(key, X.shape[0]))
    pred = forward(params, X, mean, var, masks)
    new_state = {"mean": MOMENTUM * model_state["mean"] + (1 - MOMENTUM) * mean,
                 "var": MOMENTUM * model_state["var"] + (1 - MOMENTUM) * var}
    return 0.5 * jnp.mean((y - pred) ** 2), new_state


def main():
    out = sys.argv[-1]
    X, y, _ = make_linear_regression(jax.random.key(0), 512, 5)
    k1, k2 = jax.random.split(jax.random.key(1))
    params = {"W1": jax.random.normal(k1, (5, 16)) / jnp.sqrt(5.0),
              "gamma": jnp.ones(16), "beta": jnp.zeros(16), "w2": jax.random.normal(k2, (16,)) / 4.0}
    stats = {"mean": jnp.zeros(16), "var": jnp.ones(16)}
    tx = optax.adam(1e-2)

    def evaluate(p, s):
        return {"full_loss": 0.5 * jnp.mean((y - forward(p, X, s["mean"], s["var"])) ** 2)}

    def run(data_parallel, num_steps=50, **kw):
        return fit(loss, tx, params, (X, y), key=jax.random.key(2), num_steps=num_steps, batch_size=64,
                   model_state=stats, with_key=True, data_parallel=data_parallel, chunk_size=10,
                   eval_fn=evaluate, progress=False, **kw)

    par = run(True)
    # the run was split over the devices: its compiled chunk all-reduces the gradients
    from jaxml.core.train import _RUNNERS

    hlo = next(reversed(_RUNNERS.values())).lower(par.state, (X, y), jax.random.key(2), length=1).compile().as_text()
    ckpt = os.path.join(os.path.dirname(os.path.abspath(out)), "ckpt")  # shared by the processes
    run(True, num_steps=30, checkpoint_dir=ckpt)  # stops at step 30 ...
    resumed = run(True, checkpoint_dir=ckpt)  # ... and the second call resumes from there
    result = {"device_count": jax.device_count(), "process_count": jax.process_count(),
              "all_reduce": "all-reduce" in hlo,
              "par_loss": par.history["loss"], "par_eval": [e["full_loss"] for _, e in par.evals],
              "resumed_loss": resumed.history["loss"],
              **{f"par_{k}": np.asarray(v) for k, v in par.state.params.items()},
              **{f"par_stat_{k}": np.asarray(v) for k, v in par.state.model_state.items()},
              **{f"resumed_{k}": np.asarray(v) for k, v in resumed.state.params.items()}}
    if jax.process_index() == 0:
        with jax.default_device(jax.local_devices()[0]):
            single = run(False)
        result.update({"single_loss": single.history["loss"], "single_eval": [e["full_loss"] for _, e in single.evals],
                       **{f"single_{k}": np.asarray(v) for k, v in single.state.params.items()},
                       **{f"single_stat_{k}": np.asarray(v) for k, v in single.state.model_state.items()}})
    np.savez(out, **result)
    if mode == "hosts":
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
