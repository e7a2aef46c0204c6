"""Shared fixtures: keys, float64 for gradient checks, strict rank promotion."""

import gc

import jax
import matplotlib
import pytest

matplotlib.use("Agg")
# Catch silent broadcasting bugs ((N,) against (N, 1)) everywhere in the suite.
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module.

    Every XLA:CPU executable holds several memory mappings; a whole suite's worth in one process
    exceeds Linux's default vm.max_map_count (65530) and the next compile segfaults.
    """
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _no_leaked_float64():
    """A test that turns float64 on globally changes every test after it (dtypes, tolerances,
    compiled programs): fail the test that leaked it. Use the ``x64`` fixture instead."""
    yield
    if jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", False)
        pytest.fail("this test left jax_enable_x64 on: use the x64 fixture or jax.enable_x64()")


@pytest.fixture
def key():
    """A fresh root key for each test."""
    return jax.random.key(0)


@pytest.fixture
def x64():
    """Run the test body with jax_enable_x64 (gradient checks at rtol 1e-10)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def quick_bench_timing(monkeypatch):
    """Benchmark rows against PyTorch with one round of one call per side: a row's fields and
    answers are what its test checks, not its timings."""
    from jaxml.bench import harness

    monkeypatch.setattr(harness, "INTERLEAVED_ROUNDS", 1)
    monkeypatch.setattr(harness, "MIN_TIMED_SECONDS", 0.0)
