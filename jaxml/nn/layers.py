"""Normalization, dropout and weight decay (SYLLABUS 4), and the batch-norm MLP trained through ``fit``.

Batch norm, feature (channel) axis c, statistics over every other axis — the batch for (B, D)
inputs, (B, H, W) for NHWC images — with n the number of values per channel:

    μ_c = (1/n) Σ x,   σ²_c = (1/n) Σ (x − μ_c)²,   x̂ = (x − μ_c)/√(σ²_c + ε),   y = γ_c x̂ + β_c

in training (batch statistics), and y = γ (x − r_μ)/√(r_σ² + ε) + β in evaluation with the running
averages, updated at each training call as (PyTorch's convention, momentum m = 0.1 by default)

    r_μ ← (1 − m) r_μ + m μ,   r_σ² ← (1 − m) r_σ² + m · n/(n − 1) · σ²

i.e. the running variance tracks the UNBIASED batch variance, as ``torch.nn.BatchNorm`` does
(flax's ``BatchNorm`` uses the biased one and calls 1 − m its momentum). Backward (the VJP of a
cotangent d_y, means over the same axes as the statistics, σ = √(σ² + ε)):

    dβ = Σ d_y,   dγ = Σ d_y x̂,   dx = (γ/σ)(d_y − mean(d_y) − x̂ · mean(d_y x̂)).

Layer norm normalizes each example over its last (feature) axis instead, with the same formulas and
per-feature γ, β; since γ now varies along the normalized axis, its backward is
dx = (1/σ)(g − mean(g) − x̂ · mean(g x̂)) with g = γ d_y. Both are smooth everywhere because
σ² + ε ≥ ε > 0, so both hand backward passes are registered with ``jaxml.core.gradcheck``.

Data parallelism: under ``fit(..., data_parallel=True)`` the loss sees the GLOBAL batch (sharded
jit), so ``jnp.mean`` over it is already the cross-device statistic — XLA inserts the all-reduce.
Code mapped by hand over a named axis (``pmap``, ``shard_map``, ``vmap(axis_name=...)``) passes
``axis_name`` and the statistics are ``lax.pmean``-ed over it.

Dropout is inverted dropout: y = x ⊙ m / (1 − p), m_i ~ Bernoulli(1 − p), so E[y] = x and
evaluation is the identity. Weight decay comes two ways: decoupled (AdamW:
θ ← θ − η(m̂/(√v̂ + ε) + λθ)) and as the L2 term (λ/2)‖θ‖² added to the loss before Adam; for plain
SGD the two are the same update θ ← θ − η(∇L + λθ), for Adam they are not (the L2 gradient is
divided by √v̂ with the rest).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.checks import check_array, check_choice, check_int, check_scalar, is_concrete
from jaxml.core.gradcheck import register_gradient
from jaxml.core.train import fit
from jaxml.core.types import Array, Params, PRNGKey

NORMS = ("batch", "layer", None)
_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}

# ----------------------------------------------------------------------------------------------
# validation (shape checks work under jit; value checks only on concrete values)


def _feature_axis(x, axis: int, name: str = "x") -> int:
    ndim = np.ndim(x)
    if ndim < 1:
        raise ValueError(f"{name} must have at least one axis, got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {name} of shape {np.shape(x)}")
    return axis % ndim


def _check_affine(x, gamma, beta, eps, axis: int) -> int:
    check_array(x, "x", finite=False)
    axis = _feature_axis(x, axis)
    features = np.shape(x)[axis]
    for name, value in (("gamma", gamma), ("beta", beta)):
        if value is not None and np.shape(value) != (features,):
            raise ValueError(
                f"{name} must have shape ({features},) to match axis {axis} of x (shape {np.shape(x)}), "
                f"got {np.shape(value)}"
            )
    check_scalar(eps, "eps", minimum=0.0, strict_min=True)
    return axis


def _reduce_axes(ndim: int, axis: int) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i != axis)


def _along(v, ndim: int, axis: int):
    """A per-feature vector (C,) shaped to broadcast along ``axis`` of an ndim-array."""
    shape = [1] * ndim
    shape[axis] = -1
    return jnp.reshape(v, shape)


# ----------------------------------------------------------------------------------------------
# batch norm


def batch_statistics(x: Array, *, axis: int = -1, axis_name: str | None = None) -> tuple[Array, Array]:
    """(μ, σ²) per feature of ``axis``, over every other axis (and over ``axis_name``'s devices):

    μ = (1/n) Σ x,  σ² = (1/n) Σ (x − μ)²  (the biased variance, two passes for accuracy).
    """
    axis = _feature_axis(x, axis)
    axes = _reduce_axes(x.ndim, axis)
    mean = jnp.mean(x, axis=axes)
    if axis_name is not None:
        mean = jax.lax.pmean(mean, axis_name)
    var = jnp.mean(jnp.square(x - _along(mean, x.ndim, axis)), axis=axes)
    if axis_name is not None:
        var = jax.lax.pmean(var, axis_name)
    return mean, var


def init_running_stats(num_features: int, dtype=jnp.float32) -> dict[str, Array]:
    """Running averages before any update: r_μ = 0, r_σ² = 1 (evaluation then applies γx/√(1+ε) + β)."""
    num_features = check_int(num_features, "num_features", minimum=1)
    return {"mean": jnp.zeros((num_features,), dtype), "var": jnp.ones((num_features,), dtype)}


def batch_norm(
    x: Array,
    gamma: Array,
    beta: Array,
    *,
    running: dict[str, Array] | None = None,
    train: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
    axis: int = -1,
    axis_name: str | None = None,
) -> tuple[Array, dict[str, Array] | None]:
    """Batch normalization, y = γ (x − μ)/√(σ² + ε) + β per feature of ``axis``.

    Args:
      x: (B, D) features, or (B, H, W, C) images (NHWC), or any array whose ``axis`` is the feature axis.
      gamma, beta: (C,) scale and shift, C = x.shape[axis].
      running: ``{"mean": (C,), "var": (C,)}`` running averages (``init_running_stats``); required
        when ``train=False``.
      train: True — μ, σ² are the batch statistics over every axis but ``axis`` (the global batch
        under ``fit(data_parallel=True)``; pmean-ed over ``axis_name`` when given) and the running
        averages are updated as r ← (1 − m) r + m · stat with the unbiased variance
        n/(n − 1) σ² (PyTorch's convention, m = ``momentum``). False — μ, σ² are the running
        averages, returned unchanged.
      momentum: m ∈ [0, 1], the weight of the new batch statistic.
      eps: ε > 0.
      axis: the feature (channel) axis; -1 for both (B, D) and NHWC.
      axis_name: a mapped axis (pmap / shard_map / vmap) over which the batch is split.

    Returns:
      ``(y, new_running)``; ``new_running`` is None when ``running`` is None. The running update
      carries no gradient (``stop_gradient``).
    """
    axis = _check_affine(x, gamma, beta, eps, axis)
    check_scalar(momentum, "momentum", minimum=0.0, maximum=1.0)
    if running is not None:
        for k in ("mean", "var"):
            if k not in running or np.shape(running[k]) != np.shape(gamma):
                raise ValueError(f"running must be a dict with 'mean' and 'var' of shape {np.shape(gamma)}, "
                                 f"got {jax.tree.map(np.shape, running)}")
    if train:
        n = math.prod(x.shape[i] for i in _reduce_axes(x.ndim, axis))
        if axis_name is not None:
            n = n * jax.lax.psum(1, axis_name)
        elif n < 2:
            raise ValueError(f"batch_norm in training needs more than one value per feature, got x of shape {x.shape}")
        mean, var = batch_statistics(x, axis=axis, axis_name=axis_name)
        new_running = None
        if running is not None:
            m = jnp.asarray(momentum, running["mean"].dtype)
            stat_mean, stat_var = jax.lax.stop_gradient((mean, var * (n / (n - 1))))
            new_running = {"mean": (1 - m) * running["mean"] + m * stat_mean.astype(running["mean"].dtype),
                           "var": (1 - m) * running["var"] + m * stat_var.astype(running["var"].dtype)}
    else:
        if running is None:
            raise ValueError("batch_norm with train=False needs running= statistics (init_running_stats)")
        mean, var = running["mean"], running["var"]
        new_running = running
    scale = gamma * jax.lax.rsqrt(var + eps)
    y = (x - _along(mean, x.ndim, axis)) * _along(scale, x.ndim, axis) + _along(beta, x.ndim, axis)
    return y, new_running


def batch_norm_backward(x: Array, gamma: Array, d_y: Array, eps: float = 1e-5, *,
                        axis: int = -1) -> tuple[Array, Array, Array]:
    """Hand VJP of training-mode ``batch_norm`` (batch statistics) for a cotangent ``d_y``.

    With x̂ = (x − μ)/σ, σ = √(σ²_B + ε), means and sums over every axis but ``axis``:

        dβ = Σ d_y,   dγ = Σ d_y ⊙ x̂,   dx = (γ/σ)(d_y − mean(d_y) − x̂ ⊙ mean(d_y ⊙ x̂)).

    (μ and σ depend on every x: the two subtracted means are their contributions.)

    Returns:
      ``(dx, dgamma, dbeta)`` with the shapes of x, γ and γ.
    """
    axis = _check_affine(x, gamma, None, eps, axis)
    if np.shape(d_y) != np.shape(x):
        raise ValueError(f"d_y must have the shape of x {np.shape(x)}, got {np.shape(d_y)}")
    axes = _reduce_axes(x.ndim, axis)
    mean, var = batch_statistics(x, axis=axis)
    inv_sigma = _along(jax.lax.rsqrt(var + eps), x.ndim, axis)
    x_hat = (x - _along(mean, x.ndim, axis)) * inv_sigma
    d_beta = jnp.sum(d_y, axis=axes)
    d_gamma = jnp.sum(d_y * x_hat, axis=axes)
    n = math.prod(x.shape[i] for i in axes)
    mean_dy = _along(d_beta / n, x.ndim, axis)
    mean_dy_xhat = _along(d_gamma / n, x.ndim, axis)
    dx = _along(gamma, x.ndim, axis) * inv_sigma * (d_y - mean_dy - x_hat * mean_dy_xhat)
    return dx, d_gamma, d_beta


# ----------------------------------------------------------------------------------------------
# layer norm


def layer_norm(x: Array, gamma: Array, beta: Array, eps: float = 1e-5) -> Array:
    """Layer normalization over the last (feature) axis of each example:

        μ = mean_f x,  σ² = mean_f (x − μ)²,  y = γ ⊙ (x − μ)/√(σ² + ε) + β,

    γ, β of shape (D,), x of shape (..., D). The same in training and evaluation (no running state,
    no dependence on the rest of the batch).
    """
    _check_affine(x, gamma, beta, eps, -1)
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * _along(gamma, x.ndim, -1) + _along(beta, x.ndim, -1)


def layer_norm_backward(x: Array, gamma: Array, d_y: Array, eps: float = 1e-5) -> tuple[Array, Array, Array]:
    """Hand VJP of ``layer_norm``: with x̂ = (x − μ)/σ, σ = √(σ² + ε), g = γ ⊙ d_y, means over the
    feature axis and sums over every other axis:

        dβ = Σ d_y,   dγ = Σ d_y ⊙ x̂,   dx = (1/σ)(g − mean_f(g) − x̂ ⊙ mean_f(g ⊙ x̂)).

    Returns:
      ``(dx, dgamma, dbeta)``.
    """
    _check_affine(x, gamma, None, eps, -1)
    if np.shape(d_y) != np.shape(x):
        raise ValueError(f"d_y must have the shape of x {np.shape(x)}, got {np.shape(d_y)}")
    mean = jnp.mean(x, axis=-1, keepdims=True)
    inv_sigma = jax.lax.rsqrt(jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) * inv_sigma
    batch_axes = tuple(range(x.ndim - 1))
    g = _along(gamma, x.ndim, -1) * d_y
    dx = inv_sigma * (g - jnp.mean(g, axis=-1, keepdims=True) - x_hat * jnp.mean(g * x_hat, axis=-1, keepdims=True))
    return dx, jnp.sum(d_y * x_hat, axis=batch_axes), jnp.sum(d_y, axis=batch_axes)


# ----------------------------------------------------------------------------------------------
# dropout


def _check_rate(rate) -> None:
    if is_concrete(rate):
        r = np.asarray(rate, dtype=float)
        if not np.all((r >= 0) & (r < 1)):
            raise ValueError(f"rate must be in [0, 1), got {rate!r}")


def dropout(key: PRNGKey, x: Array, rate: float, *, train: bool) -> Array:
    """Inverted dropout: y = x ⊙ m / (1 − p), m_i ~ Bernoulli(1 − p) independently, p = ``rate``.

    E[y] = x, so evaluation (``train=False``) is the identity and needs no rescaling; ``rate=0`` is
    the identity too. ``rate`` may be traced (a swept hyper-parameter).
    """
    _check_rate(rate)
    if not train or (is_concrete(rate) and float(rate) == 0.0):
        return x
    keep_prob = 1.0 - jnp.asarray(rate, x.dtype)
    keep = jax.random.bernoulli(key, keep_prob, x.shape)
    return jnp.where(keep, x / keep_prob, jnp.zeros_like(x))


# ----------------------------------------------------------------------------------------------
# weight decay


def l2_penalty(params: Params, lam) -> Array:
    """(λ/2)‖θ‖² = (λ/2) Σ_leaves Σ θ², over every leaf of ``params``; its gradient is λθ."""
    check_scalar(lam, "lam", minimum=0.0)
    leaves = jax.tree.leaves(params)
    return 0.5 * lam * sum(jnp.sum(p * p) for p in leaves)


def decoupled_weight_decay(optimizer: str, learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    """The optimizer with decoupled decay: "adam" — ``optax.adamw``, θ ← θ − η(m̂/(√v̂ + ε) + λθ);
    "sgd" — θ ← θ − η(g + λθ) (``add_decayed_weights`` then SGD)."""
    check_choice(optimizer, "optimizer", ("sgd", "adam"))
    if optimizer == "adam":
        return optax.adamw(learning_rate, weight_decay=weight_decay)
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate))


def weight_decay_trajectories(
    loss_fn: Callable,
    params: Params,
    data,
    *,
    key: PRNGKey,
    optimizer: str = "adam",
    learning_rate: float = 0.05,
    weight_decay: float = 0.1,
    num_steps: int = 200,
    batch_size: int | None = None,
) -> dict[str, np.ndarray]:
    """Train ``loss_fn(params, batch)`` through ``fit`` with weight decay both ways, same minibatches:

    - ``"decoupled"``: ``decoupled_weight_decay(optimizer, η, λ)`` on L;
    - ``"l2"``: the plain optimizer (``optax.sgd`` / ``optax.adam``) on L + (λ/2)‖θ‖².

    Returns:
      dict of numpy arrays: ``decoupled_theta`` and ``l2_theta`` (num_steps + 1, P), the flattened
      parameters θ_0..θ_T; ``decoupled_loss`` and ``l2_loss`` (num_steps,), the data loss L(θ_t; B_t)
      (without the penalty) before each update.
    """
    check_choice(optimizer, "optimizer", ("sgd", "adam"))
    check_scalar(weight_decay, "weight_decay", minimum=0.0)
    check_scalar(learning_rate, "learning_rate", minimum=0.0, strict_min=True)
    def traced(penalty: float):
        def loss(p, batch):
            data_loss = loss_fn(p, batch)
            flat = jax.flatten_util.ravel_pytree(p)[0]
            return data_loss + l2_penalty(p, penalty), {"data_loss": data_loss, "theta": flat}

        return loss

    plain = optax.adam(learning_rate) if optimizer == "adam" else optax.sgd(learning_rate)
    runs = {"decoupled": (traced(0.0), decoupled_weight_decay(optimizer, learning_rate, weight_decay)),
            "l2": (traced(weight_decay), plain)}
    out = {}
    for name, (loss, tx) in runs.items():
        result = fit(loss, tx, params, data, key=key, num_steps=num_steps, batch_size=batch_size,
                     has_aux=True, progress=False)
        final = jax.flatten_util.ravel_pytree(result.state.params)[0]
        out[f"{name}_theta"] = np.concatenate([result.history["theta"], np.asarray(final)[None]], axis=0)
        out[f"{name}_loss"] = result.history["data_loss"]
    return out


def weight_decay_demo(*, optimizer: str = "adam", learning_rate: float = 0.05, weight_decay: float = 0.1,
                      num_steps: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """``weight_decay_trajectories`` on a small least-squares problem, L(w) = (1/2N)‖Xw − y‖², whose
    two features have scales 1 and 10 (N = 64, full batch).

    Gradients of very different sizes are what separate the two decays under Adam: the L2 term's
    gradient λθ is divided by √v̂ with the data gradient, so the coordinate with the large gradient is
    hardly decayed, while AdamW decays every coordinate by the same ηλθ.
    """
    key = jax.random.key(seed)
    kx, kn = jax.random.split(key)
    X = jax.random.normal(kx, (64, 2)) * jnp.array([[1.0, 10.0]])
    w_true = jnp.array([2.0, -0.5])
    y = X @ w_true + 0.1 * jax.random.normal(kn, (64,))

    def least_squares(w, batch):
        Xb, yb = batch
        return 0.5 * jnp.mean(jnp.square(Xb @ w - yb))

    return weight_decay_trajectories(least_squares, jnp.zeros(2, X.dtype), (X, y), key=key, optimizer=optimizer,
                                     learning_rate=learning_rate, weight_decay=weight_decay, num_steps=num_steps)


# ----------------------------------------------------------------------------------------------
# the normalized MLP


def bn_mlp_init(key: PRNGKey, sizes, *, norm: str | None = "batch", dtype=jnp.float32):
    """Parameters and model state of an MLP whose hidden layers are linear → norm → ReLU → dropout.

    Layer l maps sizes[l] → sizes[l+1] with W ~ N(0, 2/sizes[l]) (He). A normalized hidden layer has
    no bias: the norm's β is its shift (a bias before batch norm is cancelled by the mean, its
    gradient is float noise). Hidden layers get {"W", "gamma" = 1, "beta" = 0} with ``norm`` and
    {"W", "b" = 0} without; the output layer {"W", "b"}.

    Returns:
      ``(params, model_state)``: params a list of dicts; model_state a list of running statistics
      ``{"mean", "var"}`` per hidden layer for ``norm="batch"``, ``[]`` otherwise.
    """
    check_choice(norm, "norm", NORMS)
    sizes = [check_int(s, "sizes", minimum=1) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output size, got {sizes}")
    keys = jax.random.split(key, len(sizes) - 1)
    params, state = [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layer = {"W": jax.random.normal(keys[i], (n_in, n_out), dtype) * jnp.sqrt(jnp.asarray(2.0 / n_in, dtype))}
        hidden = i < len(sizes) - 2
        if hidden and norm is not None:
            layer["gamma"] = jnp.ones((n_out,), dtype)
            layer["beta"] = jnp.zeros((n_out,), dtype)
            if norm == "batch":
                state.append(init_running_stats(n_out, dtype))
        else:
            layer["b"] = jnp.zeros((n_out,), dtype)
        params.append(layer)
    return params, state


def bn_mlp_apply(
    params,
    model_state,
    x: Array,
    *,
    key: PRNGKey | None = None,
    train: bool,
    dropout_rate: float = 0.0,
    norm: str | None = "batch",
    activation: str = "relu",
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Forward pass of ``bn_mlp_init``'s network on x of shape (B, D):

        h⁽⁰⁾ = x,  h⁽ˡ⁾ = dropout(φ(norm(h⁽ˡ⁻¹⁾W⁽ˡ⁾))),  out = h⁽ᴸ⁻¹⁾W⁽ᴸ⁾ + b⁽ᴸ⁾  (logits)

    with ``norm`` batch norm (batch statistics and updated running averages when ``train``, the
    running averages otherwise), layer norm, or None (then h⁽ˡ⁻¹⁾W⁽ˡ⁾ + b⁽ˡ⁾). Dropout (rate p,
    key ``fold_in(key, l)`` at layer l) only when ``train``.

    Returns:
      ``(out, new_model_state)``: out (B, sizes[-1]); new_model_state like ``model_state``.
    """
    check_choice(norm, "norm", NORMS)
    check_choice(activation, "activation", tuple(_ACTIVATIONS))
    check_array(x, "x", ndim=2, finite=False)
    _check_rate(dropout_rate)
    if np.shape(x)[1] != np.shape(params[0]["W"])[0]:
        raise ValueError(f"x has {np.shape(x)[1]} features but the first layer expects {np.shape(params[0]['W'])[0]}")
    num_hidden = len(params) - 1
    if norm is not None and any("gamma" not in p for p in params[:-1]):
        raise ValueError(f"norm={norm!r} needs params from bn_mlp_init(..., norm={norm!r}) "
                         "(hidden layers with gamma, beta)")
    if norm is None and any("b" not in p for p in params[:-1]):
        raise ValueError("norm=None needs params from bn_mlp_init(..., norm=None) (hidden layers with a bias b)")
    if norm == "batch" and len(model_state) != num_hidden:
        raise ValueError(f"model_state must hold {num_hidden} running statistics for norm='batch', "
                         f"got {len(model_state)}")
    uses_dropout = train and not (is_concrete(dropout_rate) and float(dropout_rate) == 0.0)
    if uses_dropout and key is None:
        raise ValueError("bn_mlp_apply with dropout_rate > 0 in training needs key= (fit(..., with_key=True))")
    phi = _ACTIVATIONS[activation]
    h, new_state = x, []
    for i, layer in enumerate(params[:-1]):
        z = h @ layer["W"]
        if norm == "batch":
            z, stats = batch_norm(z, layer["gamma"], layer["beta"], running=model_state[i], train=train,
                                  momentum=momentum, eps=eps)
            new_state.append(stats)
        elif norm == "layer":
            z = layer_norm(z, layer["gamma"], layer["beta"], eps)
        else:
            z = z + layer["b"][None, :]
        h = phi(z)
        if uses_dropout:
            h = dropout(jax.random.fold_in(key, i), h, dropout_rate, train=True)
    out = h @ params[-1]["W"] + params[-1]["b"][None, :]
    return out, (new_state if norm == "batch" else model_state)


def make_bn_mlp_loss(*, norm: str | None = "batch", dropout_rate: float = 0.0, activation: str = "relu",
                     momentum: float = 0.1, eps: float = 1e-5):
    """A ``fit`` loss for ``bn_mlp_apply`` on (X, labels): mean softmax cross-entropy

        L = (1/B) Σ_n [logsumexp(out_n) − out_{n, y_n}]

    in training mode. Called as ``loss(params, (X, y), model_state=..., key=...)`` and returning
    ``(L, new_model_state)``: use ``fit(loss, tx, params, (X, y), model_state=state,
    with_key=dropout_rate > 0, ...)``.
    """
    check_choice(norm, "norm", NORMS)
    _check_rate(dropout_rate)

    def loss(params, batch, *, model_state, key=None):
        X, y = batch
        logits, new_state = bn_mlp_apply(params, model_state, X, key=key, train=True, dropout_rate=dropout_rate,
                                         norm=norm, activation=activation, momentum=momentum, eps=eps)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y)), new_state

    return loss


# ----------------------------------------------------------------------------------------------
# gradient checks: L(x, γ, β) = ½‖norm(x; γ, β) − T‖², whose cotangent is d_y = y − T


def _norm_args(key, dtype, shape):
    kx, kg, kb, kt = jax.random.split(key, 4)
    features = shape[-1]
    theta = {"x": 2.0 * jax.random.normal(kx, shape, dtype) + 1.0,
             "gamma": 1.0 + 0.5 * jax.random.normal(kg, (features,), dtype),
             "beta": jax.random.normal(kb, (features,), dtype)}
    return theta, jax.random.normal(kt, shape, dtype)


def _bn_loss(theta, target):
    y, _ = batch_norm(theta["x"], theta["gamma"], theta["beta"], train=True)
    return 0.5 * jnp.sum(jnp.square(y - target))


def _bn_grad(theta, target):
    y, _ = batch_norm(theta["x"], theta["gamma"], theta["beta"], train=True)
    dx, dg, db = batch_norm_backward(theta["x"], theta["gamma"], y - target)
    return {"x": dx, "gamma": dg, "beta": db}


def _ln_loss(theta, target):
    y = layer_norm(theta["x"], theta["gamma"], theta["beta"])
    return 0.5 * jnp.sum(jnp.square(y - target))


def _ln_grad(theta, target):
    y = layer_norm(theta["x"], theta["gamma"], theta["beta"])
    dx, dg, db = layer_norm_backward(theta["x"], theta["gamma"], y - target)
    return {"x": dx, "gamma": dg, "beta": db}


register_gradient("nn.batch_norm", loss=_bn_loss, grad=_bn_grad,
                  make_args=lambda key, dtype: _norm_args(key, dtype, (12, 5)))
register_gradient("nn.batch_norm_nhwc", loss=_bn_loss, grad=_bn_grad,
                  make_args=lambda key, dtype: _norm_args(key, dtype, (3, 4, 4, 3)))
register_gradient("nn.layer_norm", loss=_ln_loss, grad=_ln_grad,
                  make_args=lambda key, dtype: _norm_args(key, dtype, (6, 7)))


__all__ = [
    "NORMS",
    "batch_norm",
    "batch_norm_backward",
    "batch_statistics",
    "bn_mlp_apply",
    "bn_mlp_init",
    "decoupled_weight_decay",
    "dropout",
    "init_running_stats",
    "l2_penalty",
    "layer_norm",
    "layer_norm_backward",
    "make_bn_mlp_loss",
    "weight_decay_demo",
    "weight_decay_trajectories",
]
