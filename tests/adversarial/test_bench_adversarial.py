"""The chapter-5 benchmark rows run at a tiny size and fill their fields; the torch PGD twin and the
one-query-at-a-time attack compute what jaxml's attacks compute (so a wrong twin fails)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.adversarial import pgd, score_based_attack
from jaxml.adversarial.training import as_predict
from jaxml.bench import adversarial as bench
from jaxml.bench.harness import BenchResult, BenchSkip, import_torch

TINY = 0.02


def _check_row(row):
    assert isinstance(row, BenchResult)
    assert row.jaxml_s > 0 and row.reference_s > 0 and row.compile_s >= 0
    assert np.isfinite(row.jaxml_quality) and np.isfinite(row.reference_quality)
    assert row.notes


@pytest.fixture(scope="module", autouse=True)
def _briefly_trained_models():
    """The rows' models trained for fewer steps (the tests check the rows, not the models)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench, "CNN_TRAIN_STEPS", 60)
        patch.setattr(bench, "MLP_TRAIN_STEPS", 100)
        bench.digits_cnn.cache_clear()
        bench.digits_mlp.cache_clear()
        yield
    bench.digits_cnn.cache_clear()
    bench.digits_mlp.cache_clear()


@pytest.fixture(scope="module")
def torch():
    """PyTorch, or None where it is not installed (it is a benchmark reference, not a dependency:
    the test environment has no torch). Without it the torch tests check that the rows skip with
    the install command; a skipped test would hide a suite that did not run."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _no_torch_skips(row_fn):
    with pytest.raises(BenchSkip, match=r"pip install torch==2\.13\.0"):
        row_fn()


@pytest.fixture
def quick_timing(monkeypatch, quick_bench_timing):
    """One timed call per side instead of filling a second: the rows' timings are not tested."""
    from jaxml.bench import harness

    fast_jax = lambda fn, *args: harness.time_jax(fn, *args, repeats=1, min_seconds=0.0)  # noqa: E731
    fast_ref = lambda fn, *args: harness.time_reference(fn, *args, repeats=1, min_seconds=0.0)  # noqa: E731
    monkeypatch.setattr(bench, "time_jax", fast_jax)
    monkeypatch.setattr(bench, "time_reference", fast_ref)


@pytest.mark.parametrize("name", ["adv_pgd20", "adv_train_epoch"])
def test_torch_rows_run_at_a_tiny_size(torch, quick_timing, name):
    if torch is None:
        return _no_torch_skips(lambda: getattr(bench, name)(TINY))
    row = getattr(bench, name)(TINY)
    _check_row(row)
    if name == "adv_pgd20":
        assert 0.0 <= row.jaxml_quality <= 1.0 and 0.0 <= row.reference_quality <= 1.0
        # the twin follows jaxml: equal success rates up to a float32 sign flip or two (20 examples)
        assert abs(row.jaxml_quality - row.reference_quality) <= 0.1
        assert "examples/s" in row.notes and "set_num_threads" in row.notes
    else:
        # same weights, minibatches and random starts: the epoch's losses agree
        assert row.jaxml_quality == pytest.approx(row.reference_quality, rel=1e-2)
        first = re.search(r"first-step loss ([\d.]+) \(jaxml\) vs ([\d.]+)", row.notes)
        assert float(first.group(1)) == pytest.approx(float(first.group(2)), rel=1e-3)


def test_score_row_runs_at_a_tiny_size(quick_timing):
    row = bench.adv_score_queries(TINY)
    _check_row(row)
    assert 0.0 <= row.jaxml_quality <= 1.0 and 0.0 <= row.reference_quality <= 1.0
    # the same attack (tested below); two examples, a float32 sign flip may change one outcome
    assert abs(row.jaxml_quality - row.reference_quality) <= 0.5
    assert "queries/s" in row.notes


def test_torch_pgd_twin_finds_jaxml_points_in_float64(torch, x64):
    """PGD-5 without a random start, float64 on both sides: the same points (no float32 sign ties)."""
    if torch is None:
        return _no_torch_skips(import_torch)
    model, params = bench.digits_cnn()
    _, (X_all, y_all) = bench.digits_data()
    X, y = X_all[:12].astype(np.float64), y_all[:12]
    params64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
    x_adv = np.asarray(pgd(as_predict(model), params64, X, y, 0.1, key=jax.random.key(0), steps=5,
                           step_size=0.03, random_start=False))
    net = bench._frozen_twin(torch, params).double()
    x_twin = bench.torch_pgd(torch, net, bench._to_nchw(torch, X), torch.from_numpy(y.astype(np.int64)),
                             eps=0.1, steps=5, step_size=0.03)
    np.testing.assert_allclose(x_twin.permute(0, 2, 3, 1).numpy(), x_adv, atol=1e-12)
    assert np.abs(x_adv - X).max() > 0.09  # the attack moved the points


def test_maxpool_twin_differs_at_tied_maxima(torch, x64):
    """torch's MaxPool2d routes a tied window's gradient to one input, jnp.max splits it: the
    input gradients differ on the digits' background, which is why the row's twin pools by amax."""
    if torch is None:
        return _no_torch_skips(import_torch)
    model, params = bench.digits_cnn()
    _, (X_all, y_all) = bench.digits_data()
    X, y = X_all[:4].astype(np.float64), y_all[:4].astype(np.int64)
    grads = {}
    for pool in bench.POOLS:
        net = bench._frozen_twin(torch, params, pool).double()
        x = bench._to_nchw(torch, X).requires_grad_(True)
        (grads[pool],) = torch.autograd.grad(torch.nn.functional.cross_entropy(net(x), torch.from_numpy(y),
                                                                               reduction="sum"), x)
    g_jax = np.asarray(jax.vmap(jax.grad(lambda v, t: bench.softmax_cross_entropy(
        as_predict(model)(jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params), v), t)))(X, y))
    np.testing.assert_allclose(grads["amax"].permute(0, 2, 3, 1).numpy(), g_jax, rtol=1e-9, atol=1e-12)
    assert not np.allclose(grads["maxpool"].permute(0, 2, 3, 1).numpy(), g_jax, rtol=1e-6, atol=1e-9)


def test_one_query_at_a_time_attack_is_the_batched_attack():
    score_fn, _ = bench.digits_mlp()
    _, (X_all, y_all) = bench.digits_data()
    X, y = X_all[:3], y_all[:3]
    kwargs = dict(steps=3, step_size=0.05, num_queries=bench.SCORE_QUERIES, sigma=bench.SCORE_SIGMA)
    key = jax.random.key(3)
    x_batched, queries = score_based_attack(score_fn, X, y, 0.2, estimator="nes", key=key, **kwargs)
    x_loop, queries_loop = bench.one_query_at_a_time_attack(X, y, key, eps=0.2, **kwargs)
    assert queries == queries_loop == 3 * bench.SCORE_QUERIES
    same = np.all(np.abs(np.asarray(x_batched) - x_loop).reshape(3, -1) <= 1e-6, axis=1)
    # float32 sums in another order may flip the sign of a near-zero estimate coordinate
    assert same.sum() >= 2
    assert np.abs(x_loop - X).max() > 0.1


def test_pgd_starts_are_fit_s_random_starts():
    """The starts handed to torch are those make_adversarial_loss draws from fit's step key."""
    from jaxml.adversarial.attacks import _pgd, softmax_cross_entropy
    from jaxml.adversarial.training import _PGD_STREAM
    from jaxml.core.train import step_key

    _, (X_all, y_all) = bench.digits_data()
    X, y = jnp.asarray(X_all[:20]), jnp.asarray(y_all[:20])
    idx = np.array([[3, 5, 7], [0, 1, 19]])
    run_key = jax.random.key(5)
    starts = bench._pgd_starts(run_key, X, idx, 0.1)
    identity = lambda params, v: jnp.stack([jnp.sum(v), -jnp.sum(v)])  # noqa: E731
    for t in range(2):
        # zero PGD steps leave the start: x⁰ = Π(x + δ⁰) of the loss's own draw
        x0 = _pgd(identity, softmax_cross_entropy, None, X[idx[t]], y[idx[t]], jnp.float32(0.1), jnp.float32(0.0),
                  jax.random.fold_in(step_key(run_key, t), _PGD_STREAM), "linf", 0, True, False, False, (0.0, 1.0),
                  True)
        np.testing.assert_allclose(starts[t], np.asarray(x0), rtol=0, atol=1e-7)  # one float32 ulp
    assert np.abs(starts - np.asarray(X)[idx]).max() > 0.05


def test_pgd_split_into_chunks_gives_the_points_of_single_chunk_calls():
    """pgd splits a large batch into independent chunks (one per core, ≥ 64 examples each, for
    speed): the points are those of calls on sub-batches too small to be split."""
    from jaxml.adversarial.attacks import _chunk_bounds

    bounds = _chunk_bounds(200)
    assert bounds[0][0] == 0 and bounds[-1][1] == 200
    assert all(a < b and b - a >= 64 for a, b in bounds) or bounds == [(0, 200)]
    assert all(b0 == a1 for (_, b0), (a1, _) in zip(bounds[:-1], bounds[1:], strict=True))
    score_fn, _ = bench.digits_mlp()
    predict = lambda params, v: score_fn(v)  # noqa: E731
    _, (X_all, y_all) = bench.digits_data()
    X, y = X_all[:200], y_all[:200]
    for random_start, early_stop in ((False, False), (True, True)):
        kwargs = dict(key=jax.random.key(2), steps=4, random_start=random_start, early_stop=early_stop)
        whole = np.asarray(pgd(predict, None, X, y, 0.1, **kwargs))
        # the random starts come from per-example keys split(key, N): pass each part its own
        keys = jax.random.split(kwargs.pop("key"), 200)
        parts = [np.asarray(jax.vmap(lambda v, t, k: pgd(predict, None, v, t, 0.1, key=k, **kwargs))(
            X[i:i + 40], y[i:i + 40], keys[i:i + 40])) for i in range(0, 200, 40)]
        np.testing.assert_allclose(whole, np.concatenate(parts), rtol=0, atol=1e-6)
        assert np.abs(whole - X).max() > 0.05
