"""Ridge and lasso coefficient paths on the standardized diabetes data (SYLLABUS §1).

Command:
    .venv/bin/python experiments/03_regularization_paths.py [--quick] [--seed 0] [--out runs/regularization_paths]

Reproduces the course's regularization picture: ridge (one eigendecomposition for all λ,
``jaxml.linear.ridge_path``) shrinks the 10 coefficients smoothly towards 0, while lasso
(``jaxml.linear.lasso_path``, coordinate descent with warm starts) sets them exactly to 0 one by
one — bmi enters first — and meets the least-squares solution as λ → 0. Writes
runs/regularization_paths/regularization_paths.png (two panels) and prints the headline numbers.
"""

from jaxml.studies import run_experiment
from jaxml.studies.regression import regularization_paths

if __name__ == "__main__":
    run_experiment(regularization_paths, out="runs/regularization_paths", description=__doc__)
