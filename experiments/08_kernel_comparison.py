"""Linear vs polynomial vs RBF kernels, kernel SVM and kernel ridge, on two moons (SYLLABUS §3).

Command:
    .venv/bin/python experiments/08_kernel_comparison.py [--quick] [--seed 0] [--out runs/kernel_comparison]

Reproduces the kernel trick's point: on scikit-learn's two moons (300 training, 2000 test points,
noise 0.2, standardized) a linear kernel (xᵀx' + 1) cannot follow the classes (test accuracy
≈ 0.85–0.88) while the cubic (xᵀx' + 1)³ and RBF (γ = 2) kernels bend the boundary around the
moons (RBF ≈ 0.97), for the SVM (dual coordinate ascent, λ = 1e-3) and for kernel ridge on ±1
labels (λ = 1e-3) alike. Writes runs/kernel_comparison/kernel_comparison.png (decision regions,
support vectors circled) and prints the test accuracies.
"""

from jaxml.studies import run_experiment
from jaxml.studies.kernels import kernel_comparison

if __name__ == "__main__":
    run_experiment(kernel_comparison, out="runs/kernel_comparison", description=__doc__)
