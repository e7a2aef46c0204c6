"""Chapter 5: adversarial attacks — white-box (FGSM, L2 step, PGD) and black-box score-based
(finite differences, NES) on any classifier ``predict(params, x) -> logits``."""

from jaxml.adversarial.attacks import (
    NORMS,
    fgsm,
    input_gradient,
    logistic_input_gradient,
    logistic_input_loss,
    logistic_predict,
    pgd,
    project,
    softmax_cross_entropy,
)
from jaxml.adversarial.blackbox import (
    ESTIMATORS,
    finite_difference_gradient,
    nes_gradient,
    queries_per_step,
    score_based_attack,
)

__all__ = [
    "ESTIMATORS",
    "NORMS",
    "fgsm",
    "finite_difference_gradient",
    "input_gradient",
    "logistic_input_gradient",
    "logistic_input_loss",
    "logistic_predict",
    "nes_gradient",
    "pgd",
    "project",
    "queries_per_step",
    "score_based_attack",
    "softmax_cross_entropy",
]
