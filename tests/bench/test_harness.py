import json
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import pytest

from jaxml import families
from jaxml.bench import harness
from jaxml.bench.harness import BenchResult, BenchSkip, run_benchmarks, time_jax, time_reference


def test_time_jax_reports_compile_apart_and_the_result():
    f = jax.jit(lambda x: jnp.sum(x**2))
    compile_s, run_s, out = time_jax(f, jnp.arange(4.0), repeats=3)
    assert float(out) == 14.0
    assert compile_s >= 0.0 and run_s > 0.0


def test_time_reference_takes_the_median():
    delays = iter([0.03, 0.001, 0.001])

    def slow_once():
        time.sleep(next(delays))
        return 7

    median, out = time_reference(slow_once, repeats=3, min_seconds=0.0)
    assert out == 7 and median < 0.02


def test_short_runs_repeat_until_the_minimum_time():
    calls = []

    def quick():
        calls.append(1)
        time.sleep(0.002)
        return 1

    time_reference(quick, repeats=3, min_seconds=0.05)
    assert 10 <= len(calls) <= harness.MAX_REPEATS
    calls.clear()
    time_reference(quick, repeats=3, min_seconds=10.0)
    assert len(calls) == harness.MAX_REPEATS


def test_run_benchmarks_writes_json_and_markdown(tmp_path, monkeypatch):
    entries = {}

    def fake(size):
        return BenchResult(task=f"toy size {size}", reference="numpy", jaxml_s=0.5, reference_s=1.0,
                           compile_s=0.1, quality_name="objective", jaxml_quality=1.0,
                           reference_quality=1.0, goal=2.0, notes="a note")

    def skipped(size):
        raise BenchSkip("PyTorch not installed")

    monkeypatch.setattr(harness, "ENTRIES", entries)
    monkeypatch.setattr(families, "FAMILIES", ())  # no family bench module: only the fakes
    harness.register("toy", "test")(fake)
    harness.register("needs_torch", "test")(skipped)
    results, md = run_benchmarks(size=0.5, out_dir=tmp_path, echo=lambda *_: None, malloc=False)
    data = json.loads((tmp_path / "results.json").read_text())
    by_name = {r["name"]: r for r in data["results"]}
    assert by_name["toy"]["speedup"] == 2.0 and by_name["toy"]["task"] == "toy size 0.5"
    assert by_name["needs_torch"]["skipped"] == "PyTorch not installed"
    assert "| toy | toy size 0.5 | numpy | 0.5 | 1 | 2.00× ✓ | ≥ 2× |" in md
    assert "skipped: PyTorch not installed" in md
    assert (tmp_path / "results.md").read_text() == md
    with pytest.raises(ValueError, match="unknown benchmark"):
        run_benchmarks(["nope"], out_dir=tmp_path, malloc=False)


def test_load_entries_reads_the_families_table(monkeypatch):
    import sys

    name = "jaxml.bench.fairness"
    before = sys.modules.pop(name, None)  # imported afresh below, so that it registers again
    monkeypatch.setattr(harness, "ENTRIES", {})
    row = families.Family("toy", "jaxml.linear", "1", "toy", bench_module=name)
    monkeypatch.setattr(families, "FAMILIES", (row,))
    try:
        assert {e.family for e in harness.load_entries().values()} == {"fairness"}
    finally:
        # the module imported here registered into the temporary ENTRIES: forget it, so that a
        # later load_entries imports it again into the real table
        sys.modules.pop(name, None)
        if before is not None:
            sys.modules[name] = before


def test_a_listed_bench_module_that_does_not_import_is_an_error(monkeypatch):
    row = families.Family("toy", "jaxml.linear", "1", "toy", bench_module="jaxml.bench.no_such_module")
    monkeypatch.setattr(families, "FAMILIES", (row,))
    with pytest.raises(ModuleNotFoundError, match="jaxml.bench.no_such_module"):
        harness.load_entries()


def test_long_runs_stop_repeating(monkeypatch):
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.03)
        return 1

    monkeypatch.setattr(harness, "MAX_TIMED_SECONDS", 0.05)
    time_reference(slow, repeats=5, min_seconds=0.0)
    assert len(calls) == 2  # 0.03 s, then 0.06 s ≥ 0.05 s: no third call


def test_isolated_entries_run_in_a_fresh_process(tmp_path):
    """isolate=True (jaxml bench --isolate) runs each entry in its own spawned process: a real
    entry gives the row it gives in this process, and an entry registered in this process only
    is not there."""
    results, _ = run_benchmarks(["fairness_metrics"], size=0.001, out_dir=tmp_path, echo=lambda *_: None,
                                isolate=True, malloc=False)
    (name, row), = results
    assert name == "fairness_metrics" and isinstance(row, BenchResult) and row.jaxml_s > 0
    in_process = harness._run(harness.load_entries()["fairness_metrics"].run, 0.001)
    assert (row.task, row.jaxml_quality, row.reference_quality) == (
        in_process.task, in_process.jaxml_quality, in_process.reference_quality)

    harness.register("parent_only", "test")(lambda size: None)
    try:
        assert "parent_only" in harness.load_entries()
        with pytest.raises(KeyError, match="parent_only"):
            run_benchmarks(["parent_only"], out_dir=tmp_path, echo=lambda *_: None, isolate=True, malloc=False)
    finally:
        harness.ENTRIES.pop("parent_only")


def test_interleaved_timing_alternates_the_sides_round_by_round():
    order = []

    def side(name, delay, value):
        def call():
            order.append(name)
            time.sleep(delay)
            return value
        return call

    timed = harness.time_interleaved(side("j", 0.001, 1), {"a": side("a", 0.004, 2), "b": side("b", 0.002, 3)},
                                     rounds=3, min_seconds=0.0)
    # one untimed call each, then three rounds of one call each, in the same order every round
    assert order == ["j", "a", "b"] * 4
    assert timed["outputs"] == {"jaxml": 1, "a": 2, "b": 3}
    assert {n: len(r) for n, r in timed["round_seconds"].items()} == {"jaxml": 3, "a": 3, "b": 3}
    assert timed["seconds"]["jaxml"] < timed["seconds"]["b"] < timed["seconds"]["a"]
    assert timed["compile_s"] >= 0.0


def test_torch_optimizer_runs_time_each_implementation_and_the_fastest_is_the_reference():
    class FakeTorch:
        threads = 1

        def get_num_threads(self):
            return self.threads

        def set_num_threads(self, n):
            self.threads = n

    def run(options):
        # the fused step is the faster one here; the result says which options reached the call
        time.sleep(0.001 if options.get("fused") else 0.004)
        return dict(options)

    runs = harness.torch_optimizer_runs(run)
    assert runs.keys() == harness.TORCH_OPTIMIZER_IMPLEMENTATIONS.keys() == {"default", "fused=True"}
    timed = harness.time_against_torch(FakeTorch(), lambda: 0, runs, thread_counts=(1,))
    assert timed.label == "fused=True" and timed.threads == 1
    assert timed.torch_outs == {"default": {}, "fused=True": {"fused": True}}


def test_interleaved_timing_repeats_a_quick_side_within_each_round():
    order = []

    def side(name, delay):
        def call():
            order.append(name)
            time.sleep(delay)
        return call

    harness.time_interleaved(side("quick", 0.002), {"slow": side("slow", 0.02)}, rounds=2, min_seconds=0.04)
    timed_calls = order[2:]
    first_round = timed_calls[: timed_calls.index("slow") + 1]
    # the quick side fills its 0.02 s share of the round before the slow side's single call
    assert 6 <= first_round.count("quick") <= harness.MAX_REPEATS // 2 and first_round[-1] == "slow"
    assert timed_calls.count("slow") == 2


_MALLOC_PROBE = """
import ctypes, sys
from jaxml.bench import harness

class MallInfo2(ctypes.Structure):
    _fields_ = [(f, ctypes.c_size_t) for f in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def mapped_by_a_16_mib_block():
    before = libc.mallinfo2().hblkhd  # bytes malloc holds in mmap'd blocks
    block = libc.malloc(16 << 20)
    grew = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grew

if sys.argv[1] == "tuned":
    setting = harness.tune_malloc()
    assert harness.tune_malloc() == setting == harness.machine_info()["malloc"], setting
    print(setting)
print(mapped_by_a_16_mib_block())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_tune_malloc_keeps_large_blocks_in_the_heap():
    """In a fresh process (the setting is process-wide and must not leak into the test run): glibc's
    default maps a 16 MiB block with mmap, and after ``tune_malloc`` the heap serves it."""
    def probe(mode):
        out = subprocess.run([sys.executable, "-c", _MALLOC_PROBE, mode], capture_output=True, text=True,
                             check=True).stdout.split("\n")
        return [line for line in out if line]

    assert int(probe("default")[-1]) >= 16 << 20
    setting, grew = probe("tuned")
    assert "mmap threshold 32 MiB" in setting and int(grew) == 0
