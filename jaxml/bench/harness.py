"""The benchmark harness behind ``jaxml bench``.

An entry is a function ``entry(size: float) -> BenchResult`` registered with ``@register``. It
runs jaxml and the reference library on the same data in the same process, times both with
``time_jax`` / ``time_reference`` (median of several runs, JAX compile time apart, results
blocked with ``block_until_ready``), or, against PyTorch, with ``time_against_torch`` (both
sides' calls alternating in rounds, ``time_interleaved``), and reports the quality of both
answers so that speed is never bought with a worse answer. ``size`` scales the problem (1.0 =
the documented size). ``run_benchmarks`` first raises glibc malloc's mmap and trim thresholds
for the whole process (``tune_malloc``), so that no row's loop pays page faults for memory it
freed a moment before.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
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


def _timed_call(fn: Callable, *args) -> tuple[float, object]:
    """(wall seconds, result) of one call of ``fn(*args)``, its result blocked on."""
    t0 = time.perf_counter()
    out = _block(fn(*args))
    return time.perf_counter() - t0, out


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
        seconds, out = _timed_call(fn, *args)
        times.append(seconds)
    return statistics.median(times), out


def time_jax(fn: Callable, *args, repeats: int = 5,
             min_seconds: float = MIN_TIMED_SECONDS) -> tuple[float, float, object]:
    """(compile seconds, median steady-state seconds, result) of a jitted ``fn(*args)``."""
    first, _ = _timed_call(fn, *args)
    med, out = _median_seconds(fn, args, repeats, min_seconds)
    return max(first - med, 0.0), med, out


def time_reference(fn: Callable, *args, repeats: int = 3,
                   min_seconds: float = MIN_TIMED_SECONDS) -> tuple[float, object]:
    """(median seconds, result) of a reference call (numpy / scikit-learn / PyTorch)."""
    return _median_seconds(fn, args, repeats, min_seconds)


# Rounds of ``time_interleaved``: each side's median then draws on five stretches of the run.
INTERLEAVED_ROUNDS = 5


def time_interleaved(jax_fn: Callable[[], object], references: Mapping[object, Callable[[], object]], *,
                     rounds: int | None = None, min_seconds: float | None = None) -> dict:
    """Time a jitted call and its references in alternation, so that every median sees the same machine.

    Each function is called once untimed (jaxml's first call compiles; a reference's warms its
    allocator and thread pool). Then each of ``rounds`` rounds (default ``INTERLEAVED_ROUNDS``)
    calls, in turn, each function repeatedly until its calls in the round fill
    ``min_seconds / rounds`` (``min_seconds`` defaults to ``MIN_TIMED_SECONDS``; at least one
    call, at most ``MAX_REPEATS // rounds``); the remaining rounds are skipped once every
    function's timed total has reached ``MAX_TIMED_SECONDS``. A shared machine whose speed shifts
    over seconds (as this 2-core one does, ``docs/performance.md``) then shifts both sides'
    medians alike, where timing one side after the other can compare two different machines.

    Returns ``{"compile_s": first jaxml call − its median, "seconds": {name: median}, "outputs":
    {name: last result}, "round_seconds": {name: [median of each round]}}``; jaxml is ``"jaxml"``,
    each reference its key in ``references`` (any hashable other than ``"jaxml"``).
    """
    rounds = INTERLEAVED_ROUNDS if rounds is None else rounds
    min_seconds = MIN_TIMED_SECONDS if min_seconds is None else min_seconds
    calls = {"jaxml": jax_fn, **references}
    first, outputs = {}, {}
    for name, fn in calls.items():
        first[name], outputs[name] = _timed_call(fn)
    times = {name: [] for name in calls}
    round_seconds = {name: [] for name in calls}
    per_round_cap = max(1, MAX_REPEATS // rounds)
    for _ in range(rounds):
        if all(times[n] and sum(times[n]) >= MAX_TIMED_SECONDS for n in calls):
            break
        for name, fn in calls.items():
            this_round = []
            while not this_round or (sum(this_round) < min_seconds / rounds and len(this_round) < per_round_cap):
                seconds, outputs[name] = _timed_call(fn)
                this_round.append(seconds)
            times[name] += this_round
            round_seconds[name].append(statistics.median(this_round))
    seconds = {name: statistics.median(t) for name, t in times.items()}
    return {"compile_s": max(first["jaxml"] - seconds["jaxml"], 0.0), "seconds": seconds, "outputs": outputs,
            "round_seconds": round_seconds}


def import_torch():
    """PyTorch, the reference of the deep-learning rows, or ``BenchSkip`` with the install command
    (it is never a dependency of jaxml)."""
    try:
        import torch
    except ImportError as err:
        raise BenchSkip("PyTorch not installed: pip install torch==2.13.0") from err
    return torch


@dataclasses.dataclass
class AgainstTorch:
    """A jaxml call timed in alternation with PyTorch at each of its thread settings."""

    compile_s: float
    jaxml_s: float
    jaxml_out: object
    torch_s: float  # the fastest (label, threads) setting's median
    label: str  # its label (one reference per label, e.g. a pooling layer)
    threads: int
    torch_outs: dict  # label -> the result at that label's fastest thread count
    round_speedups: list  # per round: fastest torch setting's round median / jaxml's

    def speedup_range(self) -> str:
        lo, hi = min(self.round_speedups), max(self.round_speedups)
        return f"speed-up per round {lo:.2f}–{hi:.2f}× over {len(self.round_speedups)} rounds"


def time_against_torch(torch, run_jaxml, torch_runs, thread_counts=(1, 2)) -> AgainstTorch:
    """``run_jaxml()`` against ``torch_runs`` (a callable, or ``{label: callable}``) at each
    intra-op thread count in ``thread_counts`` (``torch.set_num_threads`` before each call), all
    calls interleaved by ``time_interleaved``; the fastest (label, threads) setting is the
    reference."""
    if callable(torch_runs):
        torch_runs = {"": torch_runs}
    before = torch.get_num_threads()

    def at_threads(threads, fn):
        def call():
            torch.set_num_threads(threads)
            return fn()
        return call

    # keyed (label, threads); jaxml's own key is the string "jaxml"
    references = {(label, t): at_threads(t, fn) for label, fn in torch_runs.items() for t in thread_counts}
    try:
        timed = time_interleaved(run_jaxml, references)
    finally:
        torch.set_num_threads(before)
    secs = {key: timed["seconds"][key] for key in references}
    label, best_threads = min(secs, key=secs.get)
    fastest_per_label = {lab: min((k for k in secs if k[0] == lab), key=secs.get) for lab in torch_runs}
    rounds = timed["round_seconds"]
    round_speedups = [min(rounds[key][r] for key in references) / rounds["jaxml"][r]
                      for r in range(len(rounds["jaxml"]))]
    return AgainstTorch(
        compile_s=timed["compile_s"], jaxml_s=timed["seconds"]["jaxml"], jaxml_out=timed["outputs"]["jaxml"],
        torch_s=secs[(label, best_threads)], label=label, threads=best_threads,
        torch_outs={lab: timed["outputs"][key] for lab, key in fastest_per_label.items()},
        round_speedups=round_speedups)


# PyTorch's CPU optimizers step each parameter tensor in turn by default (its multi-tensor
# "foreach" kernels are the default on CUDA only); ``fused=True`` runs one C++ kernel per step over
# all of them. Which is faster depends on the model (on the 784-512-512-10 MLP of ``nn_mlp_step``,
# fused Adam made PyTorch's step ~10% faster), so rows time both, as they time thread counts.
TORCH_OPTIMIZER_IMPLEMENTATIONS: dict[str, dict] = {"default": {}, "fused=True": {"fused": True}}


def torch_optimizer_runs(run: Callable[[dict], object]) -> dict:
    """``{label: call}``: ``run(options)`` for each of PyTorch's CPU implementations of an
    optimizer's step, ``options`` being the keyword arguments its ``torch.optim`` constructor
    takes for it (``TORCH_OPTIMIZER_IMPLEMENTATIONS``). Given to ``time_against_torch``, which takes
    the fastest (label, threads) setting as the reference."""
    return {label: functools.partial(run, options) for label, options in TORCH_OPTIMIZER_IMPLEMENTATIONS.items()}


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's upper bound for M_MMAP_THRESHOLD on 64-bit
_TRIM_THRESHOLD = 1 << 30
_MALLOC = {"setting": "platform default"}


def tune_malloc() -> str:
    """Keep freed blocks of up to 32 MiB in the heap (glibc ``mallopt``) and say what was set.

    glibc serves a block of 128 KiB or more by ``mmap`` and unmaps it at ``free`` (it raises that
    threshold only as it sees larger blocks freed, and trims the heap's top past twice it), so a
    loop that allocates and frees the same activations every step faults fresh zeroed pages in
    each time. PyTorch's CPU allocator is plain ``malloc``: the CNN step of this benchmark took it
    22–28 ms that way and 14–17 ms with ``M_MMAP_THRESHOLD`` = 32 MiB (glibc's maximum) and
    ``M_TRIM_THRESHOLD`` = 1 GiB, the effect PyTorch's CPU tuning guide gets by preloading
    jemalloc or tcmalloc. The setting is process-wide: every row, jaxml's side included, runs
    under it. Not glibc (macOS, Windows, musl): nothing is changed.
    """
    if _MALLOC["setting"] != "platform default":
        return _MALLOC["setting"]
    if not sys.platform.startswith("linux"):
        return _MALLOC["setting"]
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return _MALLOC["setting"]
    if mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD):
        _MALLOC["setting"] = (f"glibc malloc with mmap threshold {_MMAP_THRESHOLD_MAX >> 20} MiB and "
                              f"trim threshold {_TRIM_THRESHOLD >> 30} GiB (mallopt)")
    return _MALLOC["setting"]


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
        "malloc": _MALLOC["setting"],
    }


def format_markdown(results: list[tuple[str, BenchResult | str]], info: dict) -> str:
    lines = [
        "# jaxml benchmark",
        "",
        f"Machine: {info['processor']}, {info['platform']}; JAX {info['jax']} on "
        f"{info['jax_backend']}; numpy {info['numpy']}; scikit-learn {info['scikit-learn']}.",
        "Times are medians of repeated runs in one process (a short run is repeated until the repeats fill "
        f"{MIN_TIMED_SECONDS:g} s, at most {MAX_REPEATS}; a long one stops repeating after {MAX_TIMED_SECONDS:g} s); "
        "jaxml's compile time is listed apart. The PyTorch rows alternate the two sides' calls in rounds, so that "
        "both medians see the same machine.",
        f"Memory allocator (both sides, every row): {info.get('malloc', 'platform default')}.",
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


def _run_entry(name: str, size: float, malloc: bool = True) -> BenchResult | str:
    """The registered entry ``name`` run by ``_run`` (in a fresh process: entries import there)."""
    if malloc:
        tune_malloc()
    return _run(load_entries()[name].run, size)


def run_benchmarks(names=None, *, size: float = 1.0, out_dir="runs/bench", echo=print, isolate: bool = False,
                   malloc: bool = True):
    """Run the selected entries (all by default); write JSON and Markdown to ``out_dir``.

    ``isolate=True`` (``jaxml bench --isolate``) runs every entry in a fresh process. A row's
    times depend on the process it runs in, either way (2-core machine, quiet): in one process the
    MLP step and k-means rows ran up to 40% slower after the PGD/CNN row, while in fresh
    processes the short ``fit`` rows ran up to 2.3× slower (the optimizer loop 12 → 27 ms) and
    PyTorch's CNN step 14 → 22 ms. ``docs/performance.md`` lists both runs. PyTorch's part of the
    second effect was glibc malloc's page faults in its loop; ``malloc=True`` (the default;
    ``jaxml bench --default-malloc`` turns it off) applies ``tune_malloc`` first, in every process.
    jaxml's rows move with the machine's slow state, which later runs traced to time rather than
    to the process.
    """
    entries = load_entries()
    unknown = [n for n in (names or []) if n not in entries]
    if unknown:
        raise ValueError(f"unknown benchmark entries {unknown}; available: {sorted(entries)}")
    if malloc:
        tune_malloc()
    selected = [entries[n] for n in (names or sorted(entries))]
    results: list[tuple[str, BenchResult | str]] = []
    for entry in selected:
        echo(f"[bench] {entry.name} ...")
        if isolate:
            import concurrent.futures
            import multiprocessing

            with concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                outcome = pool.submit(_run_entry, entry.name, size, malloc).result()
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
    "AgainstTorch",
    "TORCH_OPTIMIZER_IMPLEMENTATIONS",
    "import_torch",
    "time_against_torch",
    "time_interleaved",
    "time_jax",
    "time_reference",
    "torch_optimizer_runs",
    "tune_malloc",
]
