"""Ridge and lasso coefficient paths on the standardized diabetes data (SYLLABUS §1).

Command:
    .venv/bin/python experiments/03_regularization_paths.py [--quick] [--seed 0] [--out runs/regularization_paths]

Reproduces the course's regularization picture: ridge (one eigendecomposition for all λ,
``jaxml.linear.ridge_path``) shrinks the 10 coefficients smoothly towards 0, while lasso
(``jaxml.linear.lasso_path``, coordinate descent with warm starts) sets them exactly to 0 one by
one — bmi enters first — and meets the least-squares solution as λ → 0. Writes
runs/regularization_paths/regularization_paths.png (two panels) and prints the headline numbers.
"""

from __future__ import annotations

import argparse

from jaxml.studies import StudyContext
from jaxml.studies.regression import regularization_paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer λ values")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/regularization_paths")
    args = parser.parse_args(argv)
    result = regularization_paths(StudyContext(out_dir=args.out, quick=args.quick, seed=args.seed))
    for name, value in result.metrics.items():
        print(f"{name}: {value}")
    print(result.summary)
    print("figures:", ", ".join(str(p) for p in result.figures))


if __name__ == "__main__":
    main()
