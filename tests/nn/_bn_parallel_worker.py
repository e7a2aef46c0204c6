"""Child process of test_layers (devices are fixed at JAX start-up, hence a subprocess).

Usage: python _bn_parallel_worker.py N OUT   (N emulated CPU devices)

Trains ``jaxml.nn.layers``' batch-norm + dropout MLP through ``fit`` with ``model_state=`` (running
statistics) and ``with_key=`` (dropout), once with ``data_parallel=True`` over the N devices and once
on one device; writes both results, and the error a batch not divisible by N raises, to OUT (.npz).
"""

import os
import sys

os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={int(sys.argv[1])}"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jaxml.core.train import _RUNNERS, fit  # noqa: E402
from jaxml.nn.layers import bn_mlp_apply, bn_mlp_init, make_bn_mlp_loss  # noqa: E402


def main():
    out = sys.argv[2]
    kx, kw, kp = jax.random.split(jax.random.key(0), 3)
    X = jax.random.normal(kx, (256, 6))
    y = jnp.argmax(X @ jax.random.normal(kw, (6, 3)), axis=1)
    params, stats = bn_mlp_init(kp, [6, 16, 16, 3], norm="batch")
    loss = make_bn_mlp_loss(norm="batch", dropout_rate=0.2)
    tx = optax.adam(1e-2)

    def run(data_parallel, batch_size=64):
        return fit(loss, tx, params, (X, y), key=jax.random.key(2), num_steps=30, batch_size=batch_size,
                   model_state=stats, with_key=True, data_parallel=data_parallel, progress=False)

    par = run(True)
    hlo = next(reversed(_RUNNERS.values())).lower(par.state, (X, y), jax.random.key(2), length=1).compile().as_text()
    with jax.default_device(jax.local_devices()[0]):
        single = run(False)
    try:
        run(True, batch_size=60)
        error = ""
    except ValueError as e:
        error = str(e)

    def flat(tree):
        return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(tree)])

    def accuracy(state):
        logits, _ = bn_mlp_apply(state.params, state.model_state, X, train=False)
        return float(jnp.mean(jnp.argmax(logits, axis=1) == y))

    np.savez(out, device_count=jax.device_count(), all_reduce="all-reduce" in hlo, error=error,
             par_params=flat(par.state.params), single_params=flat(single.state.params),
             par_stats=flat(par.state.model_state), single_stats=flat(single.state.model_state),
             init_stats=flat(stats), par_loss=par.history["loss"], single_loss=single.history["loss"],
             par_accuracy=accuracy(par.state), single_accuracy=accuracy(single.state))


if __name__ == "__main__":
    main()
