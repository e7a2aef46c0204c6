"""The chapter-4 benchmark rows run at a tiny size against their PyTorch twins: same weights and
minibatches, so the first-step losses agree (a wrong twin or a wrong copy of the weights fails)."""

import re

import numpy as np
import pytest

from jaxml.bench import nn as bench
from jaxml.bench.harness import BenchResult, BenchSkip

TINY = 0.02


@pytest.fixture(scope="module")
def torch():
    """PyTorch, or None where it is not installed (a benchmark reference, not a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch



@pytest.mark.parametrize("name", ["nn_mlp_step", "nn_cnn_step", "nn_tiny_mlp", "nn_resnet"])
def test_nn_rows_run_at_a_tiny_size_against_their_twins(torch, quick_bench_timing, name):
    row_fn = getattr(bench, name)
    if torch is None:
        with pytest.raises(BenchSkip, match=r"pip install torch==2\.13\.0"):
            row_fn(TINY)
        return
    row = row_fn(TINY)
    assert isinstance(row, BenchResult) and row.jaxml_s > 0 and row.reference_s > 0 and row.compile_s >= 0
    assert np.isfinite(row.jaxml_quality) and np.isfinite(row.reference_quality)
    assert re.search(r"set_num_threads\([12]\); speed-up per round [\d.]+–[\d.]+× over 1 rounds", row.notes)
    if name == "nn_resnet":
        # one forward + backward from the same weights: the batch's loss and the head's gradient agree
        assert row.jaxml_quality == pytest.approx(row.reference_quality, rel=1e-4)
        grads = re.search(r"‖∂L/∂W_head‖ ([\d.]+) \(jaxml\) vs ([\d.]+)", row.notes)
        assert float(grads.group(1)) == pytest.approx(float(grads.group(2)), rel=1e-3)
    else:
        # the training rows time both of PyTorch's CPU Adam implementations and name the faster
        assert re.search(r"PyTorch best: Adam (default|fused=True) at torch", row.notes)
        first = re.search(r"first-step loss ([\d.]+) \(jaxml\) vs ([\d.]+)", row.notes)
        assert float(first.group(1)) == pytest.approx(float(first.group(2)), rel=1e-4)
        assert row.jaxml_quality == pytest.approx(row.reference_quality, rel=1e-2)
