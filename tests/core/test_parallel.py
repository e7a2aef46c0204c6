"""fit(..., data_parallel=True) equals single-device training: devices of one process and hosts.

The worker trains a batch-norm + dropout network (the step's key, model state, evaluation, and a
checkpoint resumed half-way) through the same ``fit`` on all devices and on one device.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.core.data import make_batches
from jaxml.core.parallel import (
    check_divisible,
    data_mesh,
    fit_data_parallel,
    replicate,
    replicate_global,
    shard_global_batches,
    unreplicate,
)
from jaxml.core.train import create_train_state, fit, make_train_step, run_steps

WORKER = Path(__file__).with_name("_parallel_worker.py")
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
PARAMS = ("W1", "gamma", "beta", "w2")


def _assert_equal_training(result):
    assert bool(result["all_reduce"])  # the program was partitioned, not run on one device
    for name in PARAMS:
        np.testing.assert_allclose(result[f"par_{name}"], result[f"single_{name}"], rtol=1e-5, atol=1e-6)
        # a run stopped at step 30 by its checkpoints and resumed ends bit-identical
        np.testing.assert_array_equal(result[f"resumed_{name}"], result[f"par_{name}"])
    for name in ("mean", "var"):  # batch-norm statistics of the global batch
        np.testing.assert_allclose(result[f"par_stat_{name}"], result[f"single_stat_{name}"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["par_loss"], result["single_loss"], rtol=1e-5)
    np.testing.assert_array_equal(result["resumed_loss"], result["par_loss"])
    np.testing.assert_allclose(result["par_eval"], result["single_eval"], rtol=1e-5)
    # the run must actually have trained: equal but unchanged parameters would prove nothing
    assert result["single_loss"][-5:].mean() < 0.3 * result["single_loss"][0]


def test_eight_emulated_devices_equal_one_device(tmp_path):
    out = tmp_path / "devices.npz"
    subprocess.run([sys.executable, str(WORKER), "devices", "8", str(out)], env=ENV, check=True, timeout=300)
    result = np.load(out)
    assert int(result["device_count"]) == 8
    _assert_equal_training(result)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_two_devices_each_equal_one_device(tmp_path):
    port = _free_port()
    outs = [tmp_path / f"host{i}.npz" for i in range(2)]
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), "hosts", str(port), str(i), "2", str(outs[i])],
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for i in range(2)
    ]
    logs = []
    for p in procs:
        try:
            stdout, _ = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("multi-process run timed out")
        logs.append(stdout.decode()[-3000:])
        assert p.returncode == 0, "\n".join(logs)
    host0, host1 = np.load(outs[0]), np.load(outs[1])
    assert int(host0["device_count"]) == 4 and int(host0["process_count"]) == 2
    _assert_equal_training(host0)
    for name in PARAMS:  # both hosts hold the same parameters
        np.testing.assert_array_equal(host0[f"par_{name}"], host1[f"par_{name}"])


def test_one_device_mesh_and_bad_batch_sizes():
    X, y = jnp.ones((30, 2)), jnp.ones(30)
    mesh = data_mesh()
    tree = replicate_global({"a": jnp.arange(3.0), "k": jax.random.key(1)}, mesh)
    assert tree["a"].sharding.is_fully_replicated
    np.testing.assert_array_equal(jax.random.key_data(tree["k"]), jax.random.key_data(jax.random.key(1)))
    with pytest.raises(ValueError, match="not divisible by the 4 devices"):
        check_divisible(6, 4)
    with pytest.raises(ValueError, match="divisible"):
        shard_global_batches(np.zeros((1, 6, 2)), process_index=0, process_count=1, local_devices=4)
    # one device: data_parallel is the plain run
    loss = lambda w, b: jnp.mean((b[1] - b[0] @ w) ** 2)
    kw = dict(key=jax.random.key(0), num_steps=5, batch_size=6, progress=False)
    a = fit(loss, optax.sgd(0.1), jnp.zeros(2), (X, y), data_parallel=True, **kw)
    b = fit(loss, optax.sgd(0.1), jnp.zeros(2), (X, y), **kw)
    np.testing.assert_array_equal(a.state.params, b.state.params)


def test_fit_data_parallel_on_premade_batches_equals_a_scan_of_the_train_step():
    X, y = jax.random.normal(jax.random.key(0), (64, 3)), jnp.arange(64.0)
    loss = lambda w, b: jnp.mean((b[1] - b[0] @ w) ** 2)
    batches = make_batches(jax.random.key(1), (X, y), 8, 12)
    state, history = fit_data_parallel(loss, optax.sgd(0.01), jnp.zeros(3), batches)
    ref, metrics = run_steps(make_train_step(loss, optax.sgd(0.01)), create_train_state(jnp.zeros(3), optax.sgd(0.01)),
                             batches)
    np.testing.assert_allclose(state.params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(history["loss"], metrics["loss"], rtol=1e-6)


def test_per_device_layout_gives_each_device_its_contiguous_slice():
    batches = np.arange(2 * 8 * 3).reshape(2, 8, 3)
    shards = shard_global_batches(batches, process_index=1, process_count=2, local_devices=2)
    assert shards.shape == (2, 2, 2, 3)  # [local devices, steps, per-device batch, features]
    np.testing.assert_array_equal(shards[0, 0], batches[0, 4:6])
    np.testing.assert_array_equal(shards[1, 1], batches[1, 6:8])
    tree = {"a": np.ones(3)}
    np.testing.assert_array_equal(unreplicate(replicate(tree, 4))["a"], tree["a"])


def test_a_train_step_mapped_by_hand_with_pmap_averages_over_its_axis():
    X, y = jax.random.normal(jax.random.key(0), (16, 3)), jnp.arange(16.0)
    loss = lambda w, b: jnp.mean((b[1] - b[0] @ w) ** 2)
    tx = optax.sgd(0.01)
    state = create_train_state(jnp.zeros(3), tx)
    n = jax.local_device_count()
    mapped = jax.pmap(make_train_step(loss, tx, axis_name="d"), axis_name="d")
    halves = jax.tree.map(lambda a: a.reshape(n, -1, *a.shape[1:]), (X, y))
    new, metrics = mapped(replicate(state, n), halves)
    ref, ref_metrics = make_train_step(loss, tx)(state, (X, y))
    np.testing.assert_allclose(unreplicate(new).params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(unreplicate(metrics)["loss"], ref_metrics["loss"], rtol=1e-6)


def test_cpu_slice_count_is_one_per_core_capped_and_of_a_minimum_size():
    from jaxml.core.parallel import cpu_slice_count

    assert cpu_slice_count(128, max_slices=4, min_size=32, backend="cpu", cores=2) == 2
    assert cpu_slice_count(128, max_slices=4, min_size=32, backend="cpu", cores=8) == 4
    assert cpu_slice_count(100, max_slices=8, min_size=32, backend="cpu", cores=8) == 3
    assert cpu_slice_count(16, max_slices=4, min_size=32, backend="cpu", cores=8) == 1
    assert cpu_slice_count(1000, max_slices=8, min_size=64, backend="gpu", cores=8) == 1
