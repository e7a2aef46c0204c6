"""Chapter 4: neural networks.

- ``mlp``: the MLP x⁽ˡ⁾ = φ(W⁽ˡ⁾ᵀx⁽ˡ⁻¹⁾ + b⁽ˡ⁾) with its hand-written backward pass
  δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾δ⁽ˡ⁺¹⁾) ⊙ φ'(z⁽ˡ⁾), also wired in as a ``jax.custom_vjp``;
- ``layers``: batch norm and layer norm (with hand backward passes), dropout, weight decay both
  ways, and a normalized MLP trained through ``fit`` with its running statistics as model state;
- ``conv``: 2-D convolution (stride, padding, many filters) with a hand backward pass, max and
  average pooling, in the fastest exact formulation on each backend;
- ``augment``: flips, shifts, rotations and noise as pure per-example functions of a key;
- ``models``: flax.linen MLP, CNN and ResNet, trained by ``train_classifier`` through ``fit``.

Importing the package registers the hand gradients with ``jaxml.core.gradcheck``.
"""

from jaxml.nn import augment, conv, layers, mlp, models
from jaxml.nn.augment import augment_batch, augmentation_grid
from jaxml.nn.conv import avg_pool2d, conv2d, conv2d_backward, conv_output_size, max_pool2d
from jaxml.nn.layers import (
    batch_norm,
    batch_norm_backward,
    bn_mlp_apply,
    bn_mlp_init,
    dropout,
    layer_norm,
    layer_norm_backward,
    make_bn_mlp_loss,
)
from jaxml.nn.mlp import (
    cross_entropy_grad,
    cross_entropy_loss,
    mlp_apply,
    mlp_backward,
    mlp_forward,
    mlp_init,
    mlp_loss,
    mlp_loss_hand_vjp,
    mse_grad,
    mse_loss,
)
from jaxml.nn.models import CNN, MLP, ResNet, accuracy, confusion_matrix, predict, train_classifier

__all__ = [
    "CNN",
    "MLP",
    "ResNet",
    "accuracy",
    "augment",
    "augment_batch",
    "augmentation_grid",
    "avg_pool2d",
    "batch_norm",
    "batch_norm_backward",
    "bn_mlp_apply",
    "bn_mlp_init",
    "confusion_matrix",
    "conv",
    "conv2d",
    "conv2d_backward",
    "conv_output_size",
    "cross_entropy_grad",
    "cross_entropy_loss",
    "dropout",
    "layer_norm",
    "layer_norm_backward",
    "layers",
    "make_bn_mlp_loss",
    "max_pool2d",
    "mlp",
    "mlp_apply",
    "mlp_backward",
    "mlp_forward",
    "mlp_init",
    "mlp_loss",
    "mlp_loss_hand_vjp",
    "models",
    "mse_grad",
    "mse_loss",
    "predict",
    "train_classifier",
]
