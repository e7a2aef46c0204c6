"""Gaussian mixtures by EM: density contours, and hard vs soft EM (SYLLABUS §6).

Command:
    .venv/bin/python experiments/11_gmm_em.py [--quick] [--seed 0] [--out runs/gmm_em]

Reproduces the course's EM pictures: (1) a full-covariance GMM fitted by EM from a k-means
initialization to 2-D data with three sheared, unequal clusters: log-density contours and 2σ
ellipses; the weights come out at 0.50 / 0.30 / 0.20 (the true cluster sizes) and the labels
agree with the true components (adjusted Rand index ≈ 0.97 with seed 0, full and --quick); (2) from the same
initialization, soft EM's log-likelihood never decreases and ends above hard EM's, whose own
objective (the complete-data log-likelihood at z*) lies below it. Writes
runs/gmm_em/gmm_contours.png and em_hard_vs_soft.png.
"""

from jaxml.studies import run_experiment
from jaxml.studies.unsupervised import em_hard_vs_soft, gmm_contours

if __name__ == "__main__":
    run_experiment(em_hard_vs_soft, gmm_contours, out="runs/gmm_em", description=__doc__)
