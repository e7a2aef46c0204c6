"""``jaxml tour``: every chapter's studies on bundled data, with plots and a Markdown report.

Writes ``<out>/report.md`` and the PNGs beside it, and prints a results table.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from tqdm.auto import tqdm  # noqa: E402

from jaxml.studies import StudyContext, load_studies  # noqa: E402


def run_tour(out_dir="runs/tour", *, quick: bool = False, only=None, seed: int = 0, echo=print):
    """Run the studies (all, or those whose name or chapter is in ``only``); write the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    studies = load_studies()
    if only:
        studies = [s for s in studies if s.name in only or s.chapter in only]
        if not studies:
            raise ValueError(f"no study matches {only}")
    ctx = StudyContext(out_dir=out, quick=quick, seed=seed)
    records = []
    bar = tqdm(studies, desc="tour", unit="study", disable=None)
    for s in bar:
        bar.set_postfix_str(s.name)
        t0 = time.perf_counter()
        result = s.run(ctx)
        records.append((s, result, time.perf_counter() - t0))

    lines = ["# jaxml tour", "", f"Mode: {'quick' if quick else 'full'}; seed {seed}.", ""]
    chapter = None
    for s, r, secs in records:
        if s.chapter != chapter:
            chapter = s.chapter
            lines += [f"## {chapter}", ""]
        lines += [f"### {s.title}", "", f"`{s.name}` — {secs:.1f} s", ""]
        if r.summary:
            lines += [r.summary, ""]
        lines += ["| quantity | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in r.metrics.items()]
        lines.append("")
        for fig in r.figures:
            lines += [f"![{s.name}]({os.path.relpath(fig, out)})", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))

    width = max((len(s.name) for s, _, _ in records), default=10)
    echo("")
    echo(f"{'study':<{width}}  {'time':>6}  results")
    for s, r, secs in records:
        first = True
        for k, v in r.metrics.items():
            echo(f"{s.name if first else '':<{width}}  {f'{secs:.1f}s' if first else '':>6}  {k}: {v}")
            first = False
    echo(f"\nreport: {report}")
    return records
