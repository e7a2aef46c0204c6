"""Data-parallel training equals single-device training on the same global batches."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxml.core.parallel import replicate, shard_global_batches, unreplicate

WORKER = Path(__file__).with_name("_parallel_worker.py")
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def _assert_equal_training(result):
    for name in ("W1", "b1", "w2"):
        np.testing.assert_allclose(result[f"par_{name}"], result[f"single_{name}"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["par_loss"], result["single_loss"], rtol=1e-5)
    # the run must actually have trained: equal but unchanged parameters would prove nothing
    assert result["single_loss"][-1] < 0.5 * result["single_loss"][0]


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
    for name in ("W1", "b1", "w2"):  # both hosts hold the same parameters
        np.testing.assert_array_equal(host0[f"par_{name}"], host1[f"par_{name}"])


def test_sharding_gives_each_device_its_contiguous_slice():
    batches = np.arange(2 * 8 * 3).reshape(2, 8, 3)
    shards = shard_global_batches(batches, process_index=1, process_count=2, local_devices=2)
    assert shards.shape == (2, 2, 2, 3)  # [local devices, steps, per-device batch, features]
    np.testing.assert_array_equal(shards[0, 0], batches[0, 4:6])
    np.testing.assert_array_equal(shards[1, 1], batches[1, 6:8])
    with pytest.raises(ValueError, match="divisible"):
        shard_global_batches(np.zeros((1, 6, 2)), process_index=0, process_count=1, local_devices=4)
    tree = {"a": np.ones(3)}
    np.testing.assert_array_equal(unreplicate(replicate(tree, 4))["a"], tree["a"])
