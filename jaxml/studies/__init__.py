"""The studies behind ``experiments/`` and ``jaxml tour``: library code that reproduces the
course's pictures and numbers.

A study is a function ``study(ctx: StudyContext) -> StudyResult``: it computes, writes its PNG
plots into ``ctx.out_dir`` and returns a few headline numbers. Each chapter module registers
its studies with ``@study`` on import; ``jaxml.families.FAMILIES`` lists those modules in course
order. ``jaxml tour`` runs them all, an experiment script runs one.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable
from pathlib import Path

import jax


@dataclasses.dataclass
class StudyContext:
    """Where and how big a study runs.

    Attributes:
      out_dir: folder for the PNG plots (created).
      quick: shrink sizes and steps (CI, notebooks under JAXML_QUICK=1).
      seed: the root of every key the study uses.
    """

    out_dir: Path
    quick: bool = False
    seed: int = 0

    def __post_init__(self):
        self.out_dir = Path(self.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def key(self, name: str) -> jax.Array:
        """A key of its own for each named use, derived from the seed."""
        # crc32, not hash(): str hashes change between processes and runs must be reproducible.
        return jax.random.fold_in(jax.random.key(self.seed), zlib.crc32(name.encode()) % (2**31))


@dataclasses.dataclass
class StudyResult:
    """Headline numbers (name -> formatted value), the PNGs written, and a sentence of reading."""

    metrics: dict[str, str]
    figures: list[Path]
    summary: str = ""


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    chapter: str
    title: str
    run: Callable[[StudyContext], StudyResult]


STUDIES: list[Study] = []


def study(name: str, chapter: str, title: str):
    """Decorator registering a study for the tour."""

    def wrap(fn):
        STUDIES.append(Study(name=name, chapter=chapter, title=title, run=fn))
        return fn

    return wrap


def savefig(fig, path: Path) -> Path:
    """Save a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def run_experiment(*studies: Callable[[StudyContext], StudyResult], out: str, description: str = "",
                   argv=None) -> list[StudyResult]:
    """The command line of an experiment script: ``--quick``, ``--seed``, ``--out``; runs the
    studies into one folder and prints their numbers and the PNGs written."""
    import argparse

    import matplotlib

    matplotlib.use("Agg")
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=out, help=f"output folder (default: {out})")
    args = parser.parse_args(argv)
    ctx = StudyContext(out_dir=args.out, quick=args.quick, seed=args.seed)
    results = []
    for fn in studies:
        result = fn(ctx)
        for name, value in result.metrics.items():
            print(f"{name}: {value}")
        if result.summary:
            print(result.summary)
        for path in result.figures:
            print(f"wrote {path}")
        results.append(result)
    return results


def load_studies() -> list[Study]:
    """Import the ``studies_module`` of every row of ``jaxml.families.FAMILIES`` (course order)
    and return the registered studies. A listed module that does not import raises."""
    from jaxml.families import FAMILIES, import_study_modules

    import_study_modules()
    # in the table's order, whichever module a caller happened to import first
    order = [f.studies_module for f in FAMILIES if f.studies_module]
    rank = {module: i for i, module in enumerate(order)}
    return sorted(STUDIES, key=lambda s: rank.get(s.run.__module__, len(order)))


__all__ = [
    "STUDIES",
    "Study",
    "StudyContext",
    "StudyResult",
    "load_studies",
    "run_experiment",
    "savefig",
    "study",
]
