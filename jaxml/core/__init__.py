"""The machinery every family uses: training loop, data parallelism, data, checks, gradient
checks and checkpoints. ``core`` never imports a family."""

from jaxml.core.checks import check_array, check_int, check_labels, check_scalar, check_xy
from jaxml.core.gradcheck import register_gradient
from jaxml.core.train import (
    FitResult,
    TrainState,
    create_train_state,
    example_keys,
    fit,
    make_train_step,
    step_key,
)

__all__ = [
    "FitResult",
    "TrainState",
    "check_array",
    "check_int",
    "check_labels",
    "check_scalar",
    "check_xy",
    "create_train_state",
    "example_keys",
    "fit",
    "make_train_step",
    "register_gradient",
    "step_key",
]
