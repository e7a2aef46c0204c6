"""The benchmark harness behind ``jaxml bench``.

An entry is a function ``entry(size: float) -> BenchResult`` registered with ``@register``. It
runs jaxml and the reference library on the same data in the same process, times both with
``time_jax`` / ``time_reference`` (median of several runs, JAX compile time apart, results
blocked with ``block_until_ready``), and reports the quality of both answers so that speed is
never bought with a worse answer. ``size`` scales the problem (1.0 = the documented size).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np


class BenchSkip(Exception):
    """Raised by an entry that cannot run here (e.g. PyTorch is not installed)."""


@dataclasses.dataclass
class BenchResult:
    """One comparison.

    Attributes:
      task: what was solved, with its size.
      reference: the library and call it was compared against.
      jaxml_s: steady-state seconds of jaxml (median).
      reference_s: seconds of the reference (median).
      compile_s: first-call seconds of jaxml minus its steady-state time (tracing + XLA compile).
      quality_name: the quality measure (objective, accuracy, inertia, ...).
      jaxml_quality / reference_quality: that measure for each answer.
      goal: the speed-up (reference_s / jaxml_s) the project aims for, if any.
      notes: anything a reader needs to interpret the row.
    """

    task: str
    reference: str
    jaxml_s: float
    reference_s: float
    compile_s: float
    quality_name: str
    jaxml_quality: float
    reference_quality: float
    goal: float | None = None
    notes: str = ""

    @property
    def speedup(self) -> float:
        return self.reference_s / self.jaxml_s if self.jaxml_s > 0 else float("inf")


@dataclasses.dataclass(frozen=True)
class BenchEntry:
    name: str
    family: str
    run: Callable[[float], BenchResult]


ENTRIES: dict[str, BenchEntry] = {}


def register(name: str, family: str):
    """Decorator adding ``entry(size) -> BenchResult`` to the benchmark under ``name``."""

    def wrap(fn):
        ENTRIES[name] = BenchEntry(name=name, family=family, run=fn)
        return fn

    return wrap


def load_entries() -> dict[str, BenchEntry]:
    """Import the ``bench_module`` of every row of ``jaxml.families.FAMILIES`` (imported on
    demand, so that ``import jaxml`` stays light) and return the registered entries. A listed
    module that does not import raises."""
    from jaxml.families import import_bench_modules

    import_bench_modules()
    return ENTRIES


def _block(x):
    return jax.block_until_ready(x)


# Short runs are repeated until they fill MIN_TIMED_SECONDS, so that a median of a few
# milliseconds is not one noisy draw on a shared machine; jaxml and the reference follow the
# same rule.
MIN_TIMED_SECONDS = 1.0
MAX_REPEATS = 50


# A long run is not repeated past this total: one call of a cross-validation reference can take
# a minute, and its median over fewer calls is already far above the noise.
MAX_TIMED_SECONDS = 30.0


def _median_seconds(fn: Callable, args, repeats: int, min_seconds: float) -> tuple[float, object]:
    """Median wall time of ``fn(*args)`` (blocked) over at least ``repeats`` calls (fewer, at
    least one, once they total ``MAX_TIMED_SECONDS``), more while their total is under
    ``min_seconds`` (at most ``MAX_REPEATS``), and the last result."""
    times, out = [], None
    while (len(times) < repeats and sum(times) < MAX_TIMED_SECONDS) or (
            sum(times) < min_seconds and len(times) < MAX_REPEATS):
        t0 = time.perf_counter()
        out = _block(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def time_jax(fn: Callable, *args, repeats: int = 5,
             min_seconds: float = MIN_TIMED_SECONDS) -> tuple[float, float, object]:
    """(compile seconds, median steady-state seconds, result) of a jitted ``fn(*args)``."""
    t0 = time.perf_counter()
    _block(fn(*args))
    first = time.perf_counter() - t0
    med, out = _median_seconds(fn, args, repeats, min_seconds)
    return max(first - med, 0.0), med, out


def time_reference(fn: Callable, *args, repeats: int = 3,
                   min_seconds: float = MIN_TIMED_SECONDS) -> tuple[float, object]:
    """(median seconds, result) of a reference call (numpy / scikit-learn / PyTorch)."""
    return _median_seconds(fn, args, repeats, min_seconds)


def machine_info() -> dict:
    import sklearn

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def format_markdown(results: list[tuple[str, BenchResult | str]], info: dict) -> str:
    lines = [
        "# jaxml benchmark",
        "",
        f"Machine: {info['processor']}, {info['platform']}; JAX {info['jax']} on "
        f"{info['jax_backend']}; numpy {info['numpy']}; scikit-learn {info['scikit-learn']}.",
        "Times are medians of repeated runs in one process (a short run is repeated until the repeats fill "
        f"{MIN_TIMED_SECONDS:g} s, at most {MAX_REPEATS}; a long one stops repeating after {MAX_TIMED_SECONDS:g} s); "
        "jaxml's compile time is listed apart.",
        "",
        "| entry | task | reference | jaxml (s) | reference (s) | speed-up | goal | compile (s) "
        "| quality | jaxml | reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results:
        if isinstance(r, str):
            lines.append(f"| {name} | skipped: {r} | | | | | | | | | |")
            continue
        goal = f"≥ {r.goal:g}×" if r.goal else "report"
        met = "" if not r.goal else (" ✓" if r.speedup >= r.goal else " ✗")
        lines.append(
            f"| {name} | {r.task} | {r.reference} | {r.jaxml_s:.4g} | {r.reference_s:.4g} | "
            f"{r.speedup:.2f}×{met} | {goal} | {r.compile_s:.3g} | {r.quality_name} | "
            f"{r.jaxml_quality:.6g} | {r.reference_quality:.6g} |"
        )
    notes = [f"- **{n}**: {r.notes}" for n, r in results if not isinstance(r, str) and r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def _run(run: Callable[[float], BenchResult], size: float) -> BenchResult | str:
    """``run(size)``, or the reason it skipped (a ``BenchSkip``)."""
    try:
        return run(size)
    except BenchSkip as why:
        return str(why)


def _run_entry(name: str, size: float) -> BenchResult | str:
    """The registered entry ``name`` run by ``_run`` (in a fresh process: entries import there)."""
    return _run(load_entries()[name].run, size)


def run_benchmarks(names=None, *, size: float = 1.0, out_dir="runs/bench", echo=print, isolate: bool = False):
    """Run the selected entries (all by default); write JSON and Markdown to ``out_dir``.

    ``isolate=True`` (``jaxml bench --isolate``) runs every entry in a fresh process. A row's
    times depend on the process it runs in, either way (2-core machine, quiet): in one process the
    MLP step and k-means rows ran up to 40% slower after the PGD/CNN row, while in fresh
    processes the short ``fit`` rows ran up to 2.3× slower (the optimizer loop 12 → 27 ms) and
    PyTorch's CNN step 14 → 22 ms. ``docs/performance.md`` lists both runs.
    """
    entries = load_entries()
    unknown = [n for n in (names or []) if n not in entries]
    if unknown:
        raise ValueError(f"unknown benchmark entries {unknown}; available: {sorted(entries)}")
    selected = [entries[n] for n in (names or sorted(entries))]
    results: list[tuple[str, BenchResult | str]] = []
    for entry in selected:
        echo(f"[bench] {entry.name} ...")
        if isolate:
            import concurrent.futures
            import multiprocessing

            with concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                outcome = pool.submit(_run_entry, entry.name, size).result()
        else:
            outcome = _run(entry.run, size)
        try:
            if isinstance(outcome, str):
                raise BenchSkip(outcome)
            r = outcome
            echo(
                f"[bench] {entry.name}: jaxml {r.jaxml_s:.4g}s, {r.reference} {r.reference_s:.4g}s, "
                f"speed-up {r.speedup:.2f}x; {r.quality_name} {r.jaxml_quality:.6g} vs "
                f"{r.reference_quality:.6g}"
            )
            results.append((entry.name, r))
        except BenchSkip as why:
            echo(f"[bench] {entry.name}: skipped ({why})")
            results.append((entry.name, str(why)))
    info = machine_info()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": info,
        "size": size,
        "results": [
            {"name": n, "skipped": r} if isinstance(r, str)
            else {"name": n, **dataclasses.asdict(r), "speedup": r.speedup}
            for n, r in results
        ],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    md = format_markdown(results, info)
    (out / "results.md").write_text(md)
    return results, md


__all__ = [
    "BenchEntry",
    "BenchResult",
    "BenchSkip",
    "ENTRIES",
    "load_entries",
    "register",
    "run_benchmarks",
    "time_jax",
    "time_reference",
]
