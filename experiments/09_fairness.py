"""Fairness criteria on a planted-bias dataset (SYLLABUS §3, "Fairness").

Command:
    .venv/bin/python experiments/09_fairness.py            # full (~1 min on 2 CPU cores)
    .venv/bin/python experiments/09_fairness.py --quick    # a few seconds

Reproduces (seed 0, full mode, held-out data, threshold 0.5): with base rates 0.3 vs 0.6 the
unpenalized logistic model (an intercept per group) is calibrated by group — E[R|A] equals the
base rates 0.308 / 0.601, sufficiency gap 0.022 — and therefore violates independence (gap 0.319)
and separation (gap 0.114); its soft separation gap (0.120) stays above the bound that
calibration implies (0.116). With the soft independence penalty at μ = 8 the independence gap
falls to 0.034 while the sufficiency gap rises to 0.302 and accuracy drops 0.878 → 0.823; with
the soft separation penalty at μ = 8 the separation gap falls to 0.011 (sufficiency 0.128,
accuracy 0.865). Writes runs/fairness/fairness_criteria_sweep.png and
fairness_criteria_calibration.png.
"""

from jaxml.studies import run_experiment
from jaxml.studies.fairness import fairness_criteria

if __name__ == "__main__":
    run_experiment(fairness_criteria, out="runs/fairness", description=__doc__)
