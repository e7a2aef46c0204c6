import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.core.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    restore_latest,
    save_checkpoint,
)
from jaxml.core.train import create_train_state

WORKER = Path(__file__).with_name("_resumable_worker.py")


def _state(d=3):
    return create_train_state({"w": jnp.arange(d, dtype=jnp.float32), "b": jnp.float32(0.5)}, optax.adam(0.1))


def test_roundtrip_is_exact_and_keeps_the_newest(tmp_path):
    state = _state()
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, {"state": state._replace(step=jnp.int32(step))}, step, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    restored, step = restore_latest(tmp_path, {"state": state})
    assert step == 4 and int(restored["state"].step) == 4
    np.testing.assert_array_equal(restored["state"].params["w"], state.params["w"])
    np.testing.assert_array_equal(restored["state"].opt_state[0].mu["w"], state.opt_state[0].mu["w"])


def test_empty_folder_restores_nothing(tmp_path):
    assert restore_latest(tmp_path / "none", {"state": _state()}) == (None, None)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_newest_checkpoint_falls_back_to_previous(tmp_path, damage):
    state = _state()
    save_checkpoint(tmp_path, {"state": state}, 1)
    newest = save_checkpoint(tmp_path, {"state": state._replace(step=jnp.int32(2))}, 2)
    blob = bytearray(newest.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    else:
        blob[-5] ^= 0xFF
    newest.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(newest, {"state": state})
    with pytest.warns(UserWarning, match="corrupted"):
        restored, step = restore_latest(tmp_path, {"state": state})
    assert step == 1


def test_restoring_into_another_shape_raises(tmp_path):
    save_checkpoint(tmp_path, {"state": _state(3)}, 1)
    with pytest.raises(CheckpointError, match=r"shape \(3,\).*expects \(4,\)"):
        restore_latest(tmp_path, {"state": _state(4)})
    other = create_train_state({"w": jnp.zeros(3)}, optax.adam(0.1))
    with pytest.raises(CheckpointError, match="structure"):
        restore_latest(tmp_path, {"state": other})


def _run_worker(ckpt_dir, out, pause, timeout=None):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen([sys.executable, str(WORKER), str(ckpt_dir), str(out), str(pause)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _latest_step(ckpt):
    found = list_checkpoints(ckpt)
    return found[-1][0] if found else 0


def test_run_killed_at_random_moments_resumes_to_the_same_parameters(tmp_path):
    """SIGKILL a checkpointing run (dropout keys, model state) four times, each time after it was
    seen to make progress; the finished run equals an uninterrupted one bit for bit."""
    reference = tmp_path / "reference.npz"
    proc = _run_worker("-", reference, 0.0)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()

    ckpt, out = tmp_path / "ckpt", tmp_path / "resumed.npz"
    rng = random.Random(0)
    killed_at = []
    for _attempt in range(4):
        start = _latest_step(ckpt)
        proc = _run_worker(ckpt, out, 0.08)
        deadline = time.monotonic() + 300
        # progress observed: a checkpoint newer than the one this attempt resumed from
        while _latest_step(ckpt) <= start and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.08))  # somewhere inside the next chunk
        assert proc.poll() is None, "the run finished before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at.append(_latest_step(ckpt))
    proc = _run_worker(ckpt, out, 0.08)
    assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    assert 0 < killed_at[0] and killed_at[-1] < 400, killed_at
    assert all(a < b for a, b in zip(killed_at, killed_at[1:], strict=False)), killed_at
    a, b = np.load(reference), np.load(out)
    for name in ("W", "v", "h_mean", "loss"):
        np.testing.assert_array_equal(a[name], b[name])
