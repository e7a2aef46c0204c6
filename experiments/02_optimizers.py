"""The course's optimizers on least squares (SYLLABUS §1, "Optimizers").

Command:
    .venv/bin/python experiments/02_optimizers.py            # full (~10 s of CPU on 2 cores)
    .venv/bin/python experiments/02_optimizers.py --quick    # a few seconds

Reproduces (seed 0, full mode, float64): least squares J(w) = (1/2N)‖y − Xw‖² on standardized
diabetes with a bias column (N = 442, D = 11, κ(XᵀX/N) ≈ 470, J* = 0.241126 by lstsq). After
3000 steps through ``jaxml.core.train.fit``, J − J* is 5.3e-9 for GD (γ = 1/L), 1.2e-2 for
one-sample SGD (γ = 0.01) and 2.2e-3 for mini-batch SGD (B = 32, γ = 0.5/L) — both stalled at a
noise floor —, 2.1e-4 for sign-SGD (γ_t = 0.02/(1 + t/100)), while momentum (β = 0.9,
γ = 10/L) and Adam (γ = 0.02) reach the float64 floor (< 1e-15; Adam with transient spikes).
For one-sample SGD over 20 000 steps, a constant γ = 0.02 ends at 3.3e-2 and the decreasing
schedules at 0.9–2.4e-3 (γ0/(1+t/500) 1.8e-3, γ0/√(1+t/100) 2.4e-3, optax exponential decay
1.1e-3, optax cosine decay 8.9e-4). With --quick (200 steps; schedules over 1000 steps) J − J* is
3.6e-8 for momentum, 7.2e-4 for Adam, 8.1e-4 for GD, 2.7e-3 for sign-SGD, 7.2e-3 for mini-batch
SGD and 1.8e-2 for one-sample SGD; the constant γ ends at 2.0e-2, every decreasing schedule
below it. Writes runs/optimizers/optimizer_comparison.png.
"""

from jaxml.studies import run_experiment
from jaxml.studies.optimizers import optimizer_comparison

if __name__ == "__main__":
    run_experiment(optimizer_comparison, out="runs/optimizers", description=__doc__)
