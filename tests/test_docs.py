"""The examples of the README and of docs/trainer.md run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import chex
import numpy as np
import pytest

ROOT = Path(__file__).parents[1]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


TRAINER = python_blocks(ROOT / "docs" / "trainer.md")


def test_the_trainer_guide_shows_the_four_kinds_of_step():
    assert len(TRAINER) == 4
    assert "hparams=" in TRAINER[0] and "sweep=True" in TRAINER[0]
    assert "model_state=" in TRAINER[1] and "with_key=True" in TRAINER[1]
    assert "train_step=" in TRAINER[2]
    assert "data_parallel=True" in TRAINER[3]
    assert all(len(block.strip().splitlines()) <= 30 for block in TRAINER)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["plain_loss", "model_state", "custom_step"])
def test_trainer_example_runs(index):
    exec(compile(TRAINER[index], f"docs/trainer.md[{index}]", "exec"), {"__name__": "__docs__"})


def test_data_parallel_example_runs_on_four_devices():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    out = subprocess.run([sys.executable, "-c", TRAINER[3]], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "4 devices" in out.stdout


def test_readme_ten_lines_run_and_a_second_run_does_not_recompile(monkeypatch):
    from jaxml import linear

    (block,) = [b for b in python_blocks(ROOT / "README.md") if "fit(" in b]
    monkeypatch.setattr(linear, "least_squares_cost", chex.assert_max_traces(linear.least_squares_cost, n=1))
    results = []
    for _ in range(2):  # compiled anew each time, as a notebook cell run twice
        namespace = {}
        exec(compile(block, "README.md", "exec"), namespace)
        results.append(namespace)
    ns = results[1]
    cost = lambda w: float(linear.least_squares_cost.__wrapped__(w, ns["X"], ns["y"]))
    # Adam's minibatch run gets within 2% of the closed form's training cost, and equal runs agree
    assert cost(ns["result"].state.params) < 1.02 * cost(ns["w_exact"])
    np.testing.assert_array_equal(results[0]["result"].state.params, ns["result"].state.params)
