"""Polynomial degree: under- and over-fitting on y = sin(2πx) + ε (SYLLABUS §1).

Command:
    .venv/bin/python experiments/01_polynomial_degree.py [--quick] [--seed 0] [--out runs/polynomial_degree]

Reproduces the course's curve-fitting picture: from N = 10 noisy samples, least squares on
φ(x) = [1, x, …, x^d] for d = 0..12; training MSE falls to ~0 at d ≥ 9 while the test MSE is
U-shaped (best around d = 3, far above the noise variance 0.09 for d ≥ 9). Writes
runs/polynomial_degree/polynomial_degree.png and prints the headline numbers.
"""

from jaxml.studies import run_experiment
from jaxml.studies.regression import polynomial_degree

if __name__ == "__main__":
    run_experiment(polynomial_degree, out="runs/polynomial_degree", description=__doc__)
