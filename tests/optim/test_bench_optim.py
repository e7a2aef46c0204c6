"""The optimizer rows of the benchmark run at a tiny size: ``fit`` and the PyTorch loop see the same
minibatches, so their final weights agree (a wrong twin, or a misread momentum, fails)."""

import re

import numpy as np
import pytest

from jaxml.bench import optim as bench
from jaxml.bench.harness import BenchResult, BenchSkip


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizer_rows_agree_with_the_torch_loop(quick_bench_timing, name):
    row_fn = getattr(bench, f"optimizers_vs_torch_{name}")
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(BenchSkip, match=r"pip install torch==2\.13\.0"):
            row_fn(0.01)
        return
    row = row_fn(0.01)
    assert isinstance(row, BenchResult) and row.jaxml_s > 0 and row.reference_s > 0
    assert np.isfinite(row.jaxml_quality) and row.jaxml_quality == pytest.approx(row.reference_quality, rel=1e-3)
    diff = float(re.search(r"max \|w_jaxml − w_torch\| = ([\d.e+-]+)", row.notes).group(1))
    assert diff < 1e-3
    assert "speed-up per round" in row.notes and "set_num_threads(1)" in row.notes
