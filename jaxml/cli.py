"""The ``jaxml`` command: ``tour``, ``gradcheck``, ``bench``."""

from __future__ import annotations

import argparse
import sys


def _tour(args) -> int:
    from jaxml.tour import run_tour

    run_tour(args.out, quick=args.quick, only=args.only, seed=args.seed)
    return 0


def _gradcheck(args) -> int:
    import jax

    from jaxml.core.gradcheck import format_table, run_gradchecks
    from jaxml.families import import_families

    import_families()  # each family registers its hand gradients on import
    with jax.enable_x64(True):  # scoped: a caller's (or a test suite's) setting stays as it was
        rows = run_gradchecks(args.only or None)
    print(format_table(rows))
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print(f"\n{len(failed)} gradient check(s) above tolerance: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall {len(rows)} hand-derived gradients agree with autodiff and finite differences")
    return 0


def _bench(args) -> int:
    from jaxml.bench.harness import load_entries, run_benchmarks

    if args.list:
        for name, e in sorted(load_entries().items()):
            print(f"{name}  ({e.family})")
        return 0
    _, md = run_benchmarks(args.only or None, size=args.size, out_dir=args.out, isolate=args.isolate,
                            malloc=not args.default_malloc)
    print()
    print(md)
    print(f"written to {args.out}/results.md and results.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxml", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    tour = sub.add_parser("tour", help="run every chapter's studies and write runs/tour/report.md")
    tour.add_argument("--quick", action="store_true", help="small sizes (seconds per study)")
    tour.add_argument("--out", default="runs/tour", help="output folder (default: runs/tour)")
    tour.add_argument("--only", nargs="*", help="study names or chapters to run")
    tour.add_argument("--seed", type=int, default=0)
    tour.set_defaults(func=_tour)

    grad = sub.add_parser("gradcheck", help="hand gradients vs autodiff and finite differences")
    grad.add_argument("--only", nargs="*", help="names of registered gradients")
    grad.set_defaults(func=_gradcheck)

    bench = sub.add_parser("bench", help="time jaxml against scikit-learn / optax / PyTorch")
    bench.add_argument("--only", nargs="*", help="entry names (see --list)")
    bench.add_argument("--size", type=float, default=1.0, help="problem size factor (1.0 = documented)")
    bench.add_argument("--out", default="runs/bench")
    bench.add_argument("--list", action="store_true", help="list the entries and exit")
    bench.add_argument("--isolate", action="store_true", help="run every entry in a fresh process")
    bench.add_argument("--default-malloc", action="store_true",
                       help="leave glibc malloc's mmap/trim thresholds at their defaults (see tune_malloc)")
    bench.set_defaults(func=_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
