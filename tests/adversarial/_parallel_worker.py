"""Child process of test_training (devices are fixed at JAX start-up, hence a subprocess).

Usage: python _parallel_worker.py N OUT   (N emulated CPU devices)

Adversarially trains a 64-32-10 MLP on digits through ``fit`` (PGD inside the step, its random
start from the step key) once with ``data_parallel=True`` over the N devices and once on one
device; writes both histories and parameters, and whether the compiled step holds an
all-reduce, to OUT (.npz).
"""

import os
import sys

os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={int(sys.argv[1])}"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxml.adversarial.training import adversarial_train  # noqa: E402
from jaxml.core.train import _RUNNERS  # noqa: E402
from jaxml.nn.mlp import mlp_apply, mlp_init  # noqa: E402
from jaxml.nn.models import load_digits_images  # noqa: E402


def predict(params, x):
    return mlp_apply(params, x)


def main():
    out = sys.argv[2]
    X_tr, y_tr, _, _ = load_digits_images(flat=True)
    X, y = jnp.asarray(X_tr[:512]), jnp.asarray(y_tr[:512])
    init = mlp_init(jax.random.key(0), (64, 32, 10))

    def run(data_parallel):
        return adversarial_train(predict, init, X, y, key=jax.random.key(1), eps=0.1, num_steps=20,
                                 attack_steps=3, batch_size=64, data_parallel=data_parallel, progress=False)

    par = run(True)
    hlo = next(reversed(_RUNNERS.values())).lower(par.state, (X, y), jax.random.key(1), length=1).compile().as_text()
    with jax.default_device(jax.local_devices()[0]):
        single = run(False)

    def flat(tree):
        return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in jax.tree.leaves(tree)])

    np.savez(out, device_count=jax.device_count(), all_reduce="all-reduce" in hlo,
             par_params=flat(par.state.params), single_params=flat(single.state.params), init_params=flat(init),
             **{f"par_{k}": np.asarray(v) for k, v in par.history.items()},
             **{f"single_{k}": np.asarray(v) for k, v in single.history.items()})


if __name__ == "__main__":
    main()
