"""The multilayer perceptron with a hand-written backward pass.

Notation (L layers, layer l maps n_{l−1} features to n_l; x⁽⁰⁾ = x is the input):

    z⁽ˡ⁾ = W⁽ˡ⁾ᵀ x⁽ˡ⁻¹⁾ + b⁽ˡ⁾,   x⁽ˡ⁾ = φ(z⁽ˡ⁾) for l < L,   ŷ = z⁽ᴸ⁾ (a linear last layer),

with W⁽ˡ⁾ of shape (n_{l−1}, n_l), so that a batch of rows X (B, D) goes through ``X @ W + b``.
Parameters are a list of dicts ``{"W": (n_in, n_out), "b": (n_out,)}``, one per layer.

The backward pass (backpropagation) carries δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾ from the output down:

    δ⁽ᴸ⁾ = ∂L/∂ŷ                                   (given by the loss, see below)
    δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ δ⁽ˡ⁺¹⁾) ⊙ φ'(z⁽ˡ⁾)               (chain rule through z⁽ˡ⁺¹⁾ and x⁽ˡ⁾ = φ(z⁽ˡ⁾))
    ∂L/∂W⁽ˡ⁾ = x⁽ˡ⁻¹⁾ δ⁽ˡ⁾ᵀ,   ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾     (summed over the rows of a batch)

For a batch the δ's are rows too: Δ⁽ˡ⁾ = (Δ⁽ˡ⁺¹⁾ W⁽ˡ⁺¹⁾ᵀ) ⊙ φ'(Z⁽ˡ⁾), ∂L/∂W⁽ˡ⁾ = X⁽ˡ⁻¹⁾ᵀ Δ⁽ˡ⁾ and
∂L/∂b⁽ˡ⁾ = Σ_b Δ⁽ˡ⁾_b. The losses, averaged over the batch of B samples with K outputs:

    MSE:            L = (1/(B·K)) Σ_{b,k} (ŷ_bk − y_bk)²,         δ⁽ᴸ⁾ = 2(ŷ − y)/(B·K)
    softmax CE:     L = (1/B) Σ_b [log Σ_k exp z_bk − z_{b,y_b}],  δ⁽ᴸ⁾ = (softmax(z) − onehot(y))/B

(a single sample x of shape (D,) is a batch with B = 1). Both passes cost O(Σ_l n_{l−1} n_l)
multiply-adds per sample, O(K²L) for L layers of width K: the backward pass is about twice the
forward (one product for δ, one for ∂L/∂W per layer).

Every hand gradient is registered with ``jaxml.core.gradcheck`` (float64, equal to ``jax.grad``
to 1e-10 relative, and to central differences), and ``mlp_loss_hand_vjp`` wires the hand
backward into ``jax.grad`` as a ``jax.custom_vjp`` so that ``fit`` can train on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_choice
from jaxml.core.gradcheck import register_gradient
from jaxml.core.types import Array, PRNGKey


def _relu(z):
    # jax.nn.relu's derivative at 0 is 0, as φ' below; jnp.maximum(z, 0) would split the tie (1/2).
    return jax.nn.relu(z)


def _relu_prime(z):
    return (z > 0).astype(z.dtype)


def _sigmoid(z):
    return jax.nn.sigmoid(z)


def _sigmoid_prime(z):
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


def _tanh(z):
    return jnp.tanh(z)


def _tanh_prime(z):
    return 1 - jnp.tanh(z) ** 2


ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "relu": (_relu, _relu_prime),        # φ(z) = max(z, 0),          φ'(z) = 1[z > 0]
    "sigmoid": (_sigmoid, _sigmoid_prime),  # φ(z) = 1/(1 + e⁻ᶻ),    φ'(z) = σ(z)(1 − σ(z))
    "tanh": (_tanh, _tanh_prime),        # φ(z) = tanh z,             φ'(z) = 1 − tanh² z
}
INITS = ("he", "xavier", "normal")
LOSSES = ("mse", "cross_entropy")


class MLPCache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes:
      inputs: [x⁽⁰⁾, …, x⁽ᴸ⁻¹⁾], the input of every layer (x⁽⁰⁾ = x).
      pre_activations: [z⁽¹⁾, …, z⁽ᴸ⁾], every layer's pre-activation (z⁽ᴸ⁾ = ŷ).
    """

    inputs: list
    pre_activations: list


# ----------------------------------------------------------------------------------------------
# validation (shapes are static, so these run inside jit too)


def _check_activation(activation: str) -> str:
    return check_choice(activation, "activation", tuple(ACTIVATIONS))


def _check_params(params) -> None:
    """Layer shapes must chain: W⁽ˡ⁾ is (n_{l−1}, n_l), b⁽ˡ⁾ is (n_l,), W⁽ˡ⁺¹⁾ starts with n_l rows."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(f"params must be a non-empty list of layers {{'W', 'b'}}, got {type(params).__name__}")
    for l, layer in enumerate(params):
        if not isinstance(layer, Mapping) or "W" not in layer or "b" not in layer:
            raise ValueError(f"params[{l}] (layer {l}) must be a mapping with 'W' and 'b'")
        w_shape, b_shape = np.shape(layer["W"]), np.shape(layer["b"])
        if len(w_shape) != 2 or b_shape != (w_shape[1],):
            raise ValueError(f"params[{l}] (layer {l}): W must be (n_in, n_out) and b (n_out,), "
                             f"got W {w_shape} and b {b_shape}")
        if l > 0:
            prev = np.shape(params[l - 1]["W"])[1]
            if w_shape[0] != prev:
                raise ValueError(f"params: layer {l} expects {w_shape[0]} inputs (W {w_shape}) but layer {l - 1} "
                                 f"outputs {prev}: the layer sizes do not chain")


def _check_input(params, x) -> None:
    shape = np.shape(x)
    width = np.shape(params[0]["W"])[0]
    if len(shape) not in (1, 2):
        raise ValueError(f"x must be 1-D (D,) or 2-D (B, D) with D = {width}, got shape {shape}")
    if shape[-1] != width:
        raise ValueError(f"x has {shape[-1]} features but the first layer expects {width} "
                         f"(params[0]['W'] is {np.shape(params[0]['W'])}); got x of shape {shape}")
    if 0 in shape:
        raise ValueError(f"x must not have an empty axis, got shape {shape}")


def _check_targets(out_shape, y, name: str, *, labels: bool):
    """MSE targets must have ŷ's shape ((B,) is accepted for K = 1); labels ŷ's shape minus K."""
    shape = np.shape(y)
    if labels:
        if shape != out_shape[:-1]:
            raise ValueError(f"{name} must hold one integer class per sample, shape {out_shape[:-1]}, got {shape}")
        if not jnp.issubdtype(jnp.asarray(y).dtype, jnp.integer):
            raise ValueError(f"{name} must be integer class indices, got dtype {jnp.asarray(y).dtype}")
        return y
    if shape == out_shape:
        return y
    if out_shape[-1] == 1 and shape == out_shape[:-1]:
        return jnp.expand_dims(y, -1)
    raise ValueError(f"{name} must have the network output's shape {out_shape}, got {shape}")


# ----------------------------------------------------------------------------------------------
# initialization and forward pass


def mlp_init(key: PRNGKey, sizes: Sequence[int], *, init: str = "he", dtype=jnp.float32,
             scale: float = 1.0) -> list[dict[str, Array]]:
    """Parameters of an MLP with layer widths ``sizes`` = (n₀ = D, n₁, …, n_L = K).

    W⁽ˡ⁾ ~ N(0, s_l²) entrywise, b⁽ˡ⁾ = 0, with

      - ``"he"``:     s_l² = 2 / n_{l−1}              (keeps E‖x⁽ˡ⁾‖² constant through ReLUs)
      - ``"xavier"``: s_l² = 2 / (n_{l−1} + n_l)      (Glorot: balances forward and backward variance)
      - ``"normal"``: s_l = ``scale``                 (width-independent; badly scaled on purpose)

    Returns:
      ``[{"W": (n_{l−1}, n_l), "b": (n_l,)} for l = 1..L]`` in ``dtype``.

    Raises:
      ValueError: naming ``sizes`` unless it is a sequence of >= 2 positive integers; naming
        ``init`` with the options for an unknown init.
    """
    check_choice(init, "init", INITS)
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise ValueError(f"sizes must be a sequence of layer widths (D, ..., K), got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least 2 widths (input and output), got {sizes}")
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"sizes must be positive integers, got sizes[{i}] = {n!r}")
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return _init_params(key, tuple(int(n) for n in sizes), init, dtype, float(scale))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _init_params(key, sizes: tuple[int, ...], init: str, dtype, scale: float):
    # One standard-normal draw for all layers: each sampler in a program costs compile time
    # (~0.25 s of CPU per threefry call), which a 10⁶-parameter gradient check pays per dtype.
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    standard = _split_flat(jax.random.normal(key, (sum(a * b for a, b in shapes),), dtype), shapes)
    params = []
    for z, n_in, n_out in zip(standard, sizes[:-1], sizes[1:], strict=True):
        std = {"he": np.sqrt(2.0 / n_in), "xavier": np.sqrt(2.0 / (n_in + n_out)), "normal": scale}[init]
        params.append({"W": std * z, "b": jnp.zeros((n_out,), dtype)})
    return params


def _split_flat(flat, shapes):
    """Consecutive slices of ``flat`` reshaped to ``shapes``."""
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[start : start + size].reshape(shape))
        start += size
    return out


def _affine(x, W, b):
    """z = Wᵀx + b for a sample (D,), Z = X W + 1bᵀ for rows (B, D)."""
    return x @ W + (b if x.ndim == 1 else b[None, :])


def mlp_forward(params, x: Array, *, activation: str = "relu") -> tuple[Array, MLPCache]:
    """ŷ = z⁽ᴸ⁾ with z⁽ˡ⁾ = W⁽ˡ⁾ᵀx⁽ˡ⁻¹⁾ + b⁽ˡ⁾, x⁽ˡ⁾ = φ(z⁽ˡ⁾), x⁽⁰⁾ = x; and the cache of every x⁽ˡ⁻¹⁾, z⁽ˡ⁾.

    Args:
      params: from ``mlp_init``.
      x: one sample (D,) or a batch (B, D).
      activation: ``"relu"``, ``"sigmoid"`` or ``"tanh"`` (hidden layers; the last is linear).

    Returns:
      (ŷ of shape (K,) or (B, K), ``MLPCache``).

    Raises:
      ValueError: naming ``activation``, ``params`` (with the layer index) or ``x`` (rank, or
        width against the first layer).
    """
    phi = ACTIVATIONS[_check_activation(activation)][0]
    _check_params(params)
    _check_input(params, x)
    inputs, pre_activations = [], []
    h = x
    for l, layer in enumerate(params):
        inputs.append(h)
        z = _affine(h, layer["W"], layer["b"])
        pre_activations.append(z)
        h = z if l == len(params) - 1 else phi(z)
    return h, MLPCache(inputs, pre_activations)


def mlp_apply(params, x: Array, *, activation: str = "relu") -> Array:
    """The network's output ŷ = z⁽ᴸ⁾ (see ``mlp_forward``) for x of shape (D,) or (B, D)."""
    return mlp_forward(params, x, activation=activation)[0]


# ----------------------------------------------------------------------------------------------
# backward pass


def _backward(params, cache: MLPCache, d_output, activation: str):
    """(∂L/∂θ, ∂L/∂x) from δ⁽ᴸ⁾ = ``d_output``; ∂L/∂x = W⁽¹⁾δ⁽¹⁾ (rows: Δ⁽¹⁾W⁽¹⁾ᵀ)."""
    phi_prime = ACTIVATIONS[activation][1]
    grads = [None] * len(params)
    delta = d_output
    for l in range(len(params) - 1, -1, -1):
        x_in = cache.inputs[l]
        if delta.ndim == 1:
            grads[l] = {"W": jnp.outer(x_in, delta), "b": delta}
        else:
            grads[l] = {"W": x_in.T @ delta, "b": jnp.sum(delta, axis=0)}
        back = delta @ params[l]["W"].T  # W⁽ˡ⁾δ⁽ˡ⁾ = ∂L/∂x⁽ˡ⁻¹⁾
        delta = back * phi_prime(cache.pre_activations[l - 1]) if l > 0 else back
    return grads, delta


def mlp_backward(params, cache: MLPCache, d_output: Array, *, activation: str = "relu") -> list[dict[str, Array]]:
    """∂L/∂θ from δ⁽ᴸ⁾ = ∂L/∂ŷ (``d_output``, shaped like ŷ) by backpropagation:

      δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾δ⁽ˡ⁺¹⁾) ⊙ φ'(z⁽ˡ⁾),   ∂L/∂W⁽ˡ⁾ = x⁽ˡ⁻¹⁾δ⁽ˡ⁾ᵀ,   ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾,

    each summed over the rows of a batch (so ``d_output`` already carries the 1/B of a mean).
    Cost O(Σ_l n_{l−1}n_l) per sample, O(K²L) for L layers of width K, about twice the forward.

    Returns:
      gradients with the structure of ``params``.
    """
    _check_activation(activation)
    _check_params(params)
    return _backward(params, cache, d_output, activation)[0]


def _mse_value_and_delta(out, y):
    """L = mean (ŷ − y)² over all B·K entries, δ⁽ᴸ⁾ = 2(ŷ − y)/(B·K)."""
    r = out - y
    return jnp.mean(r**2), 2 * r / r.size


def _cross_entropy_value_and_delta(logits, labels):
    """L = mean_b [logsumexp(z_b) − z_{b,y_b}], δ⁽ᴸ⁾ = (softmax(z) − onehot(y))/B."""
    num_samples = 1 if logits.ndim == 1 else logits.shape[0]
    log_p = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_p, jnp.expand_dims(labels, -1), axis=-1)
    one_hot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return -jnp.mean(picked), (jnp.exp(log_p) - one_hot) / num_samples


def _loss_forward(loss_name: str, params, x, target, activation: str):
    """(L, δ⁽ᴸ⁾, cache, target as used) after checking every argument."""
    out, cache = mlp_forward(params, x, activation=activation)
    if loss_name == "mse":
        target = _check_targets(out.shape, target, "y", labels=False)
        value, delta = _mse_value_and_delta(out, target)
    else:
        target = _check_targets(out.shape, target, "labels", labels=True)
        value, delta = _cross_entropy_value_and_delta(out, target)
    return value, delta, cache


def mse_loss(params, x: Array, y: Array, *, activation: str = "relu") -> Array:
    """L(θ) = (1/(B·K)) Σ_{b,k} (ŷ_bk − y_bk)², the mean squared error over every output entry.

    ``y`` has ŷ's shape ((B, K), or (K,) for one sample; (B,) is accepted when K = 1)."""
    out = mlp_apply(params, x, activation=activation)
    y = _check_targets(out.shape, y, "y", labels=False)
    return _mse_value_and_delta(out, y)[0]


def cross_entropy_loss(params, x: Array, labels: Array, *, activation: str = "relu") -> Array:
    """L(θ) = (1/B) Σ_b [log Σ_k exp ŷ_bk − ŷ_{b,y_b}], softmax cross-entropy on the logits ŷ.

    ``labels``: integer classes in [0, K), shape (B,) (a scalar for one sample)."""
    out = mlp_apply(params, x, activation=activation)
    labels = _check_targets(out.shape, labels, "labels", labels=True)
    return _cross_entropy_value_and_delta(out, labels)[0]


def mse_grad(params, x: Array, y: Array, *, activation: str = "relu") -> list[dict[str, Array]]:
    """∇_θ of ``mse_loss`` by the hand backward pass from δ⁽ᴸ⁾ = 2(ŷ − y)/(B·K)."""
    _, delta, cache = _loss_forward("mse", params, x, y, activation)
    return _backward(params, cache, delta, activation)[0]


def cross_entropy_grad(params, x: Array, labels: Array, *, activation: str = "relu") -> list[dict[str, Array]]:
    """∇_θ of ``cross_entropy_loss`` by the hand backward pass from δ⁽ᴸ⁾ = (softmax(ŷ) − onehot(y))/B."""
    _, delta, cache = _loss_forward("cross_entropy", params, x, labels, activation)
    return _backward(params, cache, delta, activation)[0]


_LOSS_FUNCTIONS = {"mse": mse_loss, "cross_entropy": cross_entropy_loss}


@functools.cache
def mlp_loss(loss_name: str, activation: str = "relu") -> Callable:
    """``loss(params, batch)`` with ``batch = (x, target)``, differentiated by JAX's autodiff.

    The same function object for the same arguments, so ``fit`` reuses its compiled program."""
    check_choice(loss_name, "loss_name", LOSSES)
    _check_activation(activation)
    loss_fn = _LOSS_FUNCTIONS[loss_name]

    def loss(params, batch):
        x, target = batch
        return loss_fn(params, x, target, activation=activation)

    return loss


@functools.cache
def mlp_loss_hand_vjp(loss_name: str, activation: str = "relu") -> Callable:
    """``loss(params, batch)`` (``batch = (x, target)``) whose ``jax.grad`` is the hand backward.

    A ``jax.custom_vjp``: the forward pass saves the cache and δ⁽ᴸ⁾; the VJP of a cotangent c is
    c·(∂L/∂θ, ∂L/∂x, ∂L/∂y) with ∂L/∂θ from ``mlp_backward``, ∂L/∂x = W⁽¹⁾δ⁽¹⁾, ∂L/∂y = −δ⁽ᴸ⁾ for
    MSE (none for integer labels). Train on it with ``fit(mlp_loss_hand_vjp("mse", "tanh"), tx,
    params, (X, y), ...)``; the values equal ``mlp_loss``'s, and so do the gradients to rounding.
    """
    check_choice(loss_name, "loss_name", LOSSES)
    _check_activation(activation)
    loss_fn = _LOSS_FUNCTIONS[loss_name]

    @jax.custom_vjp
    def loss_with_hand_backward(params, x, target):
        return loss_fn(params, x, target, activation=activation)

    def forward(params, x, target):
        value, delta, cache = _loss_forward(loss_name, params, x, target, activation)
        return value, (params, cache, delta, target)

    def backward(residuals, cotangent):
        params, cache, delta, target = residuals
        grads, d_x = _backward(params, cache, cotangent * delta, activation)
        if loss_name == "mse":
            d_target = jnp.reshape(-cotangent * delta, jnp.shape(target))
        else:  # integer labels have no tangent space
            d_target = np.zeros(jnp.shape(target), jax.dtypes.float0)
        return grads, d_x, d_target

    loss_with_hand_backward.defvjp(forward, backward)

    def loss(params, batch):
        x, target = batch
        return loss_with_hand_backward(params, x, target)

    return loss


# ----------------------------------------------------------------------------------------------
# gradient registry (jaxml gradcheck and the generic test)


def _make_mlp_args(sizes, loss_name: str, num_samples: int):
    """make_args(key, dtype) -> (params, X, target): He weights, small random biases (so that the
    bias path is exercised), Gaussian inputs, Gaussian targets or labels covering every class."""

    @functools.partial(jax.jit, static_argnums=1)
    def make_args(key, dtype):
        k_init, k_rest, k_labels = jax.random.split(key, 3)
        params = mlp_init(k_init, sizes, init="he", dtype=dtype)
        num_outputs = sizes[-1]
        shapes = [(n,) for n in sizes[1:]] + [(num_samples, sizes[0]), (num_samples, num_outputs)]
        *biases, X, y_real = _split_flat(jax.random.normal(k_rest, (sum(int(np.prod(s)) for s in shapes),), dtype),
                                         shapes)
        params = [{"W": p["W"], "b": 0.1 * b} for p, b in zip(params, biases, strict=True)]
        if loss_name == "mse":
            return params, X, y_real
        labels = jax.random.randint(k_labels, (num_samples,), 0, num_outputs)
        first = min(num_outputs, num_samples)
        return params, X, labels.at[:first].set(jnp.arange(first))

    return make_args


_LOSS_AND_GRAD = {"mse": (mse_loss, mse_grad), "cross_entropy": (cross_entropy_loss, cross_entropy_grad)}
_SHORT = {"mse": "mse", "cross_entropy": "ce"}

# Each activation at two depths, each loss at all three (width 4 to 16, 1 to 3 hidden layers).
GRADCHECK_NETS = (
    ("mse", "relu", (3, 4, 2)),
    ("cross_entropy", "relu", (5, 8, 8, 3)),
    ("mse", "sigmoid", (5, 8, 8, 3)),
    ("cross_entropy", "sigmoid", (4, 16, 16, 16, 3)),
    ("mse", "tanh", (4, 16, 16, 16, 3)),
    ("cross_entropy", "tanh", (3, 4, 2)),
)
# 784·1000 + 1000 + 1000·200 + 200 + 200·10 + 10 = 987 210 parameters: checked along random
# directions (gradcheck switches above DIRECTIONAL_THRESHOLD).
LARGE_GRADCHECK_NET = ("cross_entropy", "tanh", (784, 1000, 200, 10))


def gradcheck_name(loss_name: str, activation: str, sizes) -> str:
    """The registry name of a check, e.g. ``nn.mlp_mse_relu_3-4-2``."""
    return f"nn.mlp_{_SHORT[loss_name]}_{activation}_{'-'.join(map(str, sizes))}"


def _register(loss_name: str, activation: str, sizes, num_samples: int):
    loss, grad = _LOSS_AND_GRAD[loss_name]
    register_gradient(
        gradcheck_name(loss_name, activation, sizes),
        loss=functools.partial(loss, activation=activation),
        grad=functools.partial(grad, activation=activation),
        make_args=_make_mlp_args(sizes, loss_name, num_samples),
        # ReLU is not C² at 0 (the loss is piecewise quadratic in the last layer's weights).
        twice_differentiable=activation != "relu",
    )


for _loss_name, _activation, _sizes in GRADCHECK_NETS:
    _register(_loss_name, _activation, _sizes, num_samples=6)
_register(*LARGE_GRADCHECK_NET, num_samples=4)


__all__ = [
    "ACTIVATIONS",
    "GRADCHECK_NETS",
    "INITS",
    "LARGE_GRADCHECK_NET",
    "LOSSES",
    "MLPCache",
    "cross_entropy_grad",
    "cross_entropy_loss",
    "gradcheck_name",
    "mlp_apply",
    "mlp_backward",
    "mlp_forward",
    "mlp_init",
    "mlp_loss",
    "mlp_loss_hand_vjp",
    "mse_grad",
    "mse_loss",
]
