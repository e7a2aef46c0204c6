"""Finite-difference error against the step h: the V of rounding and truncation (gradient checks).

Command:
    .venv/bin/python experiments/13_gradient_check_step.py [--quick] [--seed 0] [--out runs/gradient_check_step]

Reproduces the picture behind every finite-difference gradient check: for three registered hand
gradients (logistic loss, softmax loss, logistic Hessian-vector product), the relative error of
central differences max|D_h − ∂L| / max|∂L| against h ∈ [1e-12, 1], computed in float32 and in
float64. With seed 0 (full and --quick alike) the error falls with slope −1 (rounding, ε/h) and
rises with slope +2 (truncation, h²) — slopes −1.0 / +2.0 fitted on the float64 curve —; the
measured optimum is h ≈ 1.7e-2 in float32 (1.5e-2 with --quick; rule of thumb ε^(1/3) = 4.9e-3)
and h ≈ 1.3e-5 in float64 (1.5e-5 with --quick; ε^(1/3) = 6.1e-6), where the error is at best
2e-5 in float32 and 4e-11 to 6e-11 in float64. Writes runs/gradient_check_step/gradient_check_step.png.
"""

from jaxml.studies import run_experiment
from jaxml.studies.gradients import gradient_check_step

if __name__ == "__main__":
    run_experiment(gradient_check_step, out="runs/gradient_check_step", description=__doc__)
