"""Child process of test_checkpoint: trains with checkpoints and writes the final parameters.

Usage: python _resumable_worker.py CKPT_DIR OUT_FILE [SLEEP_PER_CHUNK]
A run killed at any moment and started again resumes from the newest readable checkpoint.
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.data import make_linear_regression
from jaxml.core.train import fit


def loss(params, batch, *, key, model_state):
    """A dropout mask from the step's key, and a model state (the mean hidden activation)."""
    X, y = batch
    h = jnp.tanh(X @ params["W"]) * jax.random.bernoulli(key, 0.75, (X.shape[0], 8)) / 0.75
    new_state = {"h_mean": 0.9 * model_state["h_mean"] + 0.1 * jnp.mean(h, axis=0)}
    return 0.5 * jnp.mean((y - h @ params["v"]) ** 2), new_state


def main():
    ckpt_dir, out_file = sys.argv[1], sys.argv[2]
    pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    X, y, _ = make_linear_regression(jax.random.key(0), 256, 6)
    params = {"W": 0.3 * jax.random.normal(jax.random.key(1), (6, 8)), "v": jnp.zeros(8)}

    def slow_eval(p, s):
        time.sleep(pause)  # widens the window in which the parent's SIGKILL lands mid-run
        return {}

    result = fit(loss, optax.adam(0.01), params, (X, y), key=jax.random.key(2), num_steps=400,
                 batch_size=32, chunk_size=10, with_key=True, model_state={"h_mean": jnp.zeros(8)},
                 eval_fn=slow_eval if pause else None,
                 checkpoint_dir=ckpt_dir if ckpt_dir != "-" else None, progress=False)
    leaves = {k: np.asarray(v) for k, v in {**result.state.params, **result.state.model_state}.items()}
    np.savez(out_file, loss=result.history["loss"], **leaves)


if __name__ == "__main__":
    main()
