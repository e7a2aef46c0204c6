"""Adversarial examples: accuracy against ε, the perturbations, black-box query budgets and
transfer from a stolen model, on the 8×8 digits (SYLLABUS §5).

Command:
    .venv/bin/python experiments/15_adversarial.py [--quick] [--seed 0] [--out runs/adversarial]

Reproduces, with seed 0 at --quick size (a 64-64-10 MLP trained normally and adversarially with
PGD L∞ at ε = 0.1 inside `fit`): (1) clean accuracy 0.972 → 0.961 while PGD accuracy at ε = 0.1
rises 0.439 → 0.769, accuracy never rises with ε and PGD is never weaker than FGSM; training at
ε_train = 0 / 0.05 / 0.1 / 0.2 gives clean accuracy 0.972 / 0.967 / 0.961 / 0.925 — the
robustness–accuracy trade-off, measured; (2) FGSM, PGD L∞ and PGD L2 perturbations on the sphere of
radius ε, and the label-only boundary attack's; (3) at ε = 0.15 score-based attacks reach 0.925
success with central differences and 0.825 with NES at 4 096 queries, and none with 64 queries for
central differences (one step costs 2D = 128); the boundary attack shrinks the median ‖δ‖₂ from
4.05 to 0.70; (4) a surrogate stolen from 240 label queries agrees with the victim on 0.958 of
held-out digits and its PGD examples at ε = 0.1 / 0.2 fool the victim on 0.24 / 0.85 of them,
against 0.00 / 0.05 for noise of the same size. --full sizes change the numbers (the full
adversarial model is more accurate on clean digits than the standard one). Writes PNGs to
runs/adversarial/.
"""

from jaxml.studies import run_experiment
from jaxml.studies.adversarial import adv_accuracy_vs_eps, adv_blackbox_queries, adv_examples, adv_transfer

if __name__ == "__main__":
    run_experiment(adv_accuracy_vs_eps, adv_examples, adv_blackbox_queries, adv_transfer, out="runs/adversarial",
                   description=__doc__)
