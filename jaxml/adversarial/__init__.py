"""Chapter 5: adversarial machine learning on any classifier ``predict(params, x) -> logits``.

- ``attacks``: white-box FGSM, the L2 step and PGD (L∞, L2; targeted; random start; early stop),
  and the logistic model's closed-form input gradient (registered with gradcheck);
- ``blackbox``: score-based attacks on gradient estimates (central finite differences, NES),
  counting queries;
- ``decision``: the label-only boundary attack (binary search to the boundary, random walk along
  it), with a query budget;
- ``training``: adversarial training (PGD inside the ``fit`` step, its random start from the
  step's key), robust accuracy, model stealing and transfer attacks.
"""

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
from jaxml.adversarial.decision import boundary_attack
from jaxml.adversarial.training import (
    StolenModel,
    TransferResult,
    adversarial_train,
    as_predict,
    clean_accuracy,
    make_adversarial_loss,
    make_standard_loss,
    robust_accuracy,
    steal_model,
    transfer_success,
)

__all__ = [
    "ESTIMATORS",
    "NORMS",
    "StolenModel",
    "TransferResult",
    "adversarial_train",
    "as_predict",
    "boundary_attack",
    "clean_accuracy",
    "fgsm",
    "finite_difference_gradient",
    "input_gradient",
    "logistic_input_gradient",
    "logistic_input_loss",
    "logistic_predict",
    "make_adversarial_loss",
    "make_standard_loss",
    "nes_gradient",
    "pgd",
    "project",
    "queries_per_step",
    "robust_accuracy",
    "score_based_attack",
    "softmax_cross_entropy",
    "steal_model",
    "transfer_success",
]
