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
accuracy 0.865). With --quick (4000 points, 300 steps): accuracy 0.872 and gaps 0.307 / 0.091 /
0.044 (independence / separation / sufficiency) unpenalized, 0.805 with independence 0.020 and
sufficiency 0.320 at μ_I = 8, 0.855 with separation 0.030 and sufficiency 0.154 at μ_S = 8; the soft
separation gap 0.118 stays above the bound 0.116. Writes runs/fairness/fairness_criteria_sweep.png
and fairness_criteria_calibration.png.
"""

from jaxml.studies import run_experiment
from jaxml.studies.fairness import fairness_criteria

if __name__ == "__main__":
    run_experiment(fairness_criteria, out="runs/fairness", description=__doc__)
