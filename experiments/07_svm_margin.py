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

from jaxml.studies import run_experiment
from jaxml.studies.kernels import svm_margin

if __name__ == "__main__":
    run_experiment(svm_margin, out="runs/svm_margin", description=__doc__)
