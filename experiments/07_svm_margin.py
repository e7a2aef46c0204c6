"""Soft-margin SVM by dual coordinate ascent: boundary, margins, support vectors (SYLLABUS §3).

Command:
    .venv/bin/python experiments/07_svm_margin.py [--quick] [--seed 0] [--out runs/svm_margin]

Reproduces the course's soft-margin picture on two overlapping 2-D Gaussian classes (N = 200,
λ = 0.02, a constant feature for the bias): the boundary wᵀx + b = 0 and the margins
wᵀx + b = ±1, every point marked by its dual variable (α = 0 outside the margin, 0 < α < 1 exactly
on it, α = 1 inside or misclassified — consistent with the margins y f(x) by the KKT conditions),
and the duality gap P(w(α)) − D(α) per epoch falling to 1e-10. Writes runs/svm_margin/svm_margin.png
and prints the headline numbers (category counts, margin width, accuracy, epochs).
"""

from __future__ import annotations

import argparse

from jaxml.studies import StudyContext
from jaxml.studies.kernels import svm_margin


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/svm_margin")
    args = parser.parse_args(argv)
    result = svm_margin(StudyContext(out_dir=args.out, quick=args.quick, seed=args.seed))
    for name, value in result.metrics.items():
        print(f"{name}: {value}")
    print(result.summary)
    print("figures:", ", ".join(str(p) for p in result.figures))


if __name__ == "__main__":
    main()
