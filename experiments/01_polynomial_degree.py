"""Polynomial degree: under- and over-fitting on y = sin(2πx) + ε (SYLLABUS §1).

Command:
    .venv/bin/python experiments/01_polynomial_degree.py [--quick] [--seed 0] [--out runs/polynomial_degree]

Reproduces the course's curve-fitting picture: from N = 10 noisy samples, least squares on
φ(x) = [1, x, …, x^d] for d = 0..12; training MSE falls to ~0 at d ≥ 9 while the test MSE is
U-shaped (best around d = 3, far above the noise variance 0.09 for d ≥ 9). Writes
runs/polynomial_degree/polynomial_degree.png and prints the headline numbers.
"""

from __future__ import annotations

import argparse

from jaxml.studies import StudyContext
from jaxml.studies.regression import polynomial_degree


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer degrees and training sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/polynomial_degree")
    args = parser.parse_args(argv)
    result = polynomial_degree(StudyContext(out_dir=args.out, quick=args.quick, seed=args.seed))
    for name, value in result.metrics.items():
        print(f"{name}: {value}")
    print(result.summary)
    print("figures:", ", ".join(str(p) for p in result.figures))


if __name__ == "__main__":
    main()
