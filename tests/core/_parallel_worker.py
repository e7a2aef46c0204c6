"""Child process of test_parallel (devices are fixed at JAX start-up, hence a subprocess).

Usage:
  python _parallel_worker.py devices N OUT             one process, N emulated CPU devices
  python _parallel_worker.py hosts PORT PID NPROC OUT  one of NPROC processes (2 devices each)
Trains a small MLP data-parallel and, in process 0, single-device on the same global batches;
writes both results to OUT (.npz).
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

from jaxml.core.data import make_batches, make_linear_regression  # noqa: E402
from jaxml.core.parallel import fit_data_parallel  # noqa: E402
from jaxml.core.train import create_train_state, make_train_step, run_steps  # noqa: E402


def mlp_loss(params, batch):
    X, y = batch
    h = jax.nn.relu(X @ params["W1"] + params["b1"])
    return 0.5 * jnp.mean((y - h @ params["w2"]) ** 2)


def main():
    out = sys.argv[-1]
    X, y, _ = make_linear_regression(jax.random.key(0), 512, 5)
    k1, k2 = jax.random.split(jax.random.key(1))
    params = {"W1": jax.random.normal(k1, (5, 16)) / jnp.sqrt(5.0), "b1": jnp.zeros(16),
              "w2": jax.random.normal(k2, (16,)) / 4.0}
    tx = optax.adam(1e-2)
    batches = make_batches(jax.random.key(2), (X, y), 64, 50)
    par_state, par_metrics = fit_data_parallel(mlp_loss, tx, params, batches)
    result = {"device_count": jax.device_count(), "process_count": jax.process_count(),
              "par_loss": np.asarray(par_metrics["loss"]),
              **{f"par_{k}": np.asarray(v) for k, v in par_state.params.items()}}
    if jax.process_index() == 0:
        with jax.default_device(jax.local_devices()[0]):
            step = jax.jit(lambda s, b: run_steps(make_train_step(mlp_loss, tx), s, b))
            single_state, single_metrics = step(create_train_state(params, tx), batches)
        result.update({"single_loss": np.asarray(single_metrics["loss"]),
                       **{f"single_{k}": np.asarray(v) for k, v in single_state.params.items()}})
    np.savez(out, **result)
    if mode == "hosts":
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
