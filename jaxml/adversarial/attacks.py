"""White-box adversarial attacks on any classifier ``predict(params, x) -> logits``.

For one example x ∈ ℝᴰ with label y and a loss ℓ(z, y) of the logits z = f_θ(x) (default: the
softmax cross-entropy ℓ(z, y) = log Σ_k exp z_k − z_y), the input gradient is g = ∇ₓ ℓ(f_θ(x), y).
An attack looks for x' = x + δ with ‖δ‖ ≤ ε that raises ℓ (untargeted, y the true label) or
lowers ℓ of a target label t (targeted, s = −1 below; s = +1 untargeted):

  FGSM (L∞):   x' = Π_C(x + s ε sign(g))                      (Goodfellow et al., 2015)
  L2 step:     x' = Π_C(x + s ε g / ‖g‖₂)                     (x' = x where g = 0)
  PGD:         x⁰ = Π(x + δ⁰),  δ⁰ ~ U(B_ε) (random start),
               xᵗ⁺¹ = Π(xᵗ + s α sign(∇ₓℓ(xᵗ)))       (L∞)
               xᵗ⁺¹ = Π(xᵗ + s α ∇ₓℓ(xᵗ)/‖∇ₓℓ(xᵗ)‖₂)  (L2)   (Madry et al., 2018)

with Π = Π_C ∘ Π_B the projection onto the ε-ball B_ε(x) (L∞: δ ↦ clip(δ, −ε, ε); L2:
δ ↦ δ · min(1, ε/‖δ‖₂)) followed by the clip onto the data range C = [lo, hi]ᴰ. Because x ∈ C,
clipping a coordinate to C moves it towards xᵢ, so Π_C never leaves the ball: ‖x' − x‖ ≤ ε
holds for every output (to float rounding).

Everything is vmapped over examples (x of shape (D...) with a scalar label is one example, x of
shape (N, D...) with labels (N,) a batch) and jitted; PGD runs its steps in ``lax.fori_loop``.
For logistic regression p = σ(wᵀx + b) the input gradient of the log-loss is known in closed
form, ∇ₓℓ = (σ(wᵀx + b) − y) w, registered with ``jaxml.core.gradcheck``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_choice, check_int, check_scalar, is_concrete
from jaxml.core.gradcheck import register_gradient
from jaxml.core.parallel import cpu_slice_count, slice_bounds
from jaxml.core.types import Array, PRNGKey

NORMS = ("linf", "l2")


def softmax_cross_entropy(logits: Array, label: Array) -> Array:
    """ℓ(z, y) = log Σ_k exp z_k − z_y for one example (logits (K,), integer label)."""
    return jax.nn.logsumexp(logits) - logits[label]


# ----------------------------------------------------------------------------------------------
# validation (outside jit)


# K of each (predict, parameter shapes, input shape) seen: tracing predict for its output shape
# (jax.eval_shape of a flax module) costs ~10 ms a call, as much as a few PGD steps on 1 000 digits.
_NUM_CLASSES: dict = {}
_NUM_CLASSES_MAX = 256


def _num_classes(predict, params, x_one) -> int:
    leaves, treedef = jax.tree.flatten(params)
    try:
        key = (predict, treedef, tuple((np.shape(leaf), jnp.result_type(leaf)) for leaf in leaves),
               tuple(x_one.shape), x_one.dtype)
        hash(key)
    except TypeError:  # an unhashable predict or leaf: trace every time
        key = None
    if key is not None and key in _NUM_CLASSES:
        return _NUM_CLASSES[key]
    out = jax.eval_shape(lambda p, v: predict(p, v), params, x_one)
    if len(out.shape) != 1:
        raise ValueError(f"predict(params, x) must return logits of shape (K,) for one example, got {out.shape}")
    if key is not None:
        if len(_NUM_CLASSES) >= _NUM_CLASSES_MAX:
            _NUM_CLASSES.clear()
        _NUM_CLASSES[key] = int(out.shape[0])
    return int(out.shape[0])


def _check_clip(clip):
    if clip is None:
        return None
    if len(clip) != 2:
        raise ValueError(f"clip must be None or a pair (lo, hi), got {clip!r}")
    lo, hi = float(clip[0]), float(clip[1])
    if not lo < hi:
        raise ValueError(f"clip must satisfy lo < hi, got {clip!r}")
    return lo, hi


def _check_batch(x, labels, name: str) -> bool:
    """Check ``x`` and its integer ``labels`` (named ``name``): a scalar label for one example, or
    one label per row of a batch. Returns whether the call is batched."""
    check_array(x, "x")
    labels_ndim = np.ndim(labels)
    if labels_ndim not in (0, 1):
        raise ValueError(f"{name} must be a scalar (one example) or 1-D (a batch), got shape {np.shape(labels)}")
    batched = labels_ndim == 1
    if batched and (np.ndim(x) < 2 or np.shape(x)[0] != np.shape(labels)[0]):
        raise ValueError(f"x must have one row per label: x has shape {np.shape(x)}, {name} {np.shape(labels)}")
    if not jnp.issubdtype(jnp.asarray(labels).dtype, jnp.integer):
        raise ValueError(f"{name} must be integers, got dtype {jnp.asarray(labels).dtype}")
    return batched


def _validate(predict, params, x, labels, eps, norm, clip):
    """Check the common arguments; return (batched?, clip as floats or None)."""
    check_choice(norm, "norm", NORMS)
    check_scalar(eps, "eps", minimum=0.0)
    if np.ndim(eps) != 0:
        raise ValueError(f"eps must be a scalar, got shape {np.shape(eps)}")
    batched = _check_batch(x, labels, "labels")
    x_one = jax.ShapeDtypeStruct(np.shape(x)[1:] if batched else np.shape(x), jnp.asarray(x).dtype)
    num_classes = _num_classes(predict, params, x_one)
    if is_concrete(labels):
        lab = np.asarray(labels)
        if np.any(lab < 0) or np.any(lab >= num_classes):
            bad = lab[(lab < 0) | (lab >= num_classes)].ravel()[:5].tolist()
            raise ValueError(f"labels must lie in [0, {num_classes}) (the model has {num_classes} classes), "
                             f"found {bad}")
    clip = _check_clip(clip)
    if clip is not None and is_concrete(x):
        arr = np.asarray(x)
        if arr.min() < clip[0] or arr.max() > clip[1]:
            raise ValueError(
                f"x must lie in the data range clip={clip}, got values in [{arr.min():.4g}, {arr.max():.4g}]"
            )
    return batched, clip


# ----------------------------------------------------------------------------------------------
# projections and steps (one example)


def _l2_norm(v):
    return jnp.sqrt(jnp.sum(v * v))


def _unit_l2(g):
    """g / ‖g‖₂, and 0 where g = 0 (no direction to move in)."""
    norm = _l2_norm(g)
    return jnp.where(norm > 0, g / jnp.where(norm > 0, norm, 1), 0)


def _direction(g, norm):
    return jnp.sign(g) if norm == "linf" else _unit_l2(g)


def project(x_adv: Array, x: Array, eps, *, norm: str, clip=None) -> Array:
    """Π(x') = Π_C(x + Π_B(x' − x)): onto the ε-ball around x, then onto the data range C.

    Π_B(δ) = clip(δ, −ε, ε) for L∞ and δ · min(1, ε/‖δ‖₂) for L2; Π_C = clip(·, lo, hi).
    """
    delta = x_adv - x
    if norm == "linf":
        delta = jnp.clip(delta, -eps, eps)
    else:
        dn = _l2_norm(delta)
        # ε/‖δ‖ can round to 1 + ulp; the min with 1 and the ratio keep ‖δ‖ ≤ ε up to one rounding.
        delta = delta * jnp.minimum(1, eps / jnp.where(dn > 0, dn, 1))
    out = x + delta
    if clip is not None:
        out = jnp.clip(out, clip[0], clip[1])
    return out


def _loss_and_grad(predict, loss, params, x, label):
    def objective(v):
        logits = predict(params, v)
        return loss(logits, label), logits

    (value, logits), g = jax.value_and_grad(objective, has_aux=True)(x)
    return value, logits, g


def _maybe_vmap(fn, batched, in_axes):
    return jax.vmap(fn, in_axes=in_axes) if batched else fn


@functools.partial(jax.jit, static_argnames=("predict", "loss", "batched"))
def _input_gradient(predict, loss, params, x, labels, batched):
    one = lambda v, y: _loss_and_grad(predict, loss, params, v, y)[2]  # noqa: E731
    return _maybe_vmap(one, batched, (0, 0))(x, labels)


def input_gradient(predict: Callable, params, x: Array, labels: Array, *, loss: Callable | None = None) -> Array:
    """g = ∇ₓ ℓ(predict(params, x), y) for one example (x (D...), scalar label) or per row of a batch.

    ``loss(logits, label) -> scalar`` defaults to the softmax cross-entropy log Σ_k e^{z_k} − z_y.
    """
    batched = np.ndim(labels) == 1
    return _input_gradient(predict, loss or softmax_cross_entropy, params, jnp.asarray(x), jnp.asarray(labels), batched)


@functools.partial(jax.jit, static_argnames=("predict", "loss", "norm", "targeted", "clip", "batched"))
def _fgsm(predict, loss, params, x, labels, eps, norm, targeted, clip, batched):
    sign = -1.0 if targeted else 1.0

    def one(v, y):
        g = _loss_and_grad(predict, loss, params, v, y)[2]
        x_adv = v + (sign * eps) * _direction(g, norm)
        return project(x_adv, v, eps, norm=norm, clip=clip)

    return _maybe_vmap(one, batched, (0, 0))(x, labels)


def fgsm(predict: Callable, params, x: Array, labels: Array, eps, *, norm: str = "linf",
         targeted: bool = False, loss: Callable | None = None, clip=(0.0, 1.0)) -> Array:
    """One-step attack: x' = Π(x + s ε d) with d = sign(g) (L∞, FGSM) or d = g/‖g‖₂ (L2).

    g = ∇ₓ ℓ(predict(params, x), y), s = +1 (untargeted: ``labels`` are the true labels, the loss
    goes up) or s = −1 (``targeted=True``: ``labels`` are the targets, their loss goes down).
    Π is the projection onto the ε-ball and then onto ``clip`` = (lo, hi) (``None``: no clip);
    where no clipping binds, ‖x' − x‖ = ε exactly (L∞: every coordinate with gᵢ ≠ 0 moves by ε).

    Args:
      predict: ``predict(params, x) -> logits (K,)`` for one example.
      x: one example (D...) with a scalar label, or a batch (N, D...) with labels (N,).
      labels: integer labels in [0, K).
      eps: the radius ε ≥ 0.
    Returns:
      x' with the shape of x.
    Raises:
      ValueError: for ε < 0, an unknown ``norm``, x outside ``clip``, labels outside [0, K).
    """
    batched, clip = _validate(predict, params, x, labels, eps, norm, clip)
    x = jnp.asarray(x)
    return _fgsm(predict, loss or softmax_cross_entropy, params, x, jnp.asarray(labels),
                 jnp.asarray(eps, x.dtype), norm, bool(targeted), clip, batched)


def _random_ball(key, shape, eps, norm, dtype):
    """δ ~ U(B_ε): uniform on [−ε, ε]ᴰ (L∞); ε u^{1/D} v/‖v‖ with v ~ N(0, I), u ~ U(0, 1) (L2)."""
    if norm == "linf":
        return jax.random.uniform(key, shape, dtype, -1.0, 1.0) * eps
    kv, ku = jax.random.split(key)
    v = jax.random.normal(kv, shape, dtype)
    radius = jax.random.uniform(ku, (), dtype) ** (1.0 / v.size)
    return eps * radius * _unit_l2(v)


# The examples of a batch are independent: split into a few chunks, each its own vmapped
# computation, they form independent branches of the step that XLA:CPU runs on separate cores,
# where one vmapped computation keeps its small convolutions and fusions on one core for much of
# the step (PGD-20 on 1 000 digits with the digits CNN, 2 cores: 0.14 s with 2 chunks vs 0.17 s
# with one, the same points bit for bit). Chunks stay at least _MIN_CHUNK examples; none on
# accelerators, which run one batch in parallel anyway.
_MIN_CHUNK = 64
_MAX_CHUNKS = 8


def _chunk_bounds(n: int) -> list[tuple[int, int]]:
    """[(start, stop)] of the chunks the batch of ``n`` examples is split into (one on accelerators)."""
    return slice_bounds(n, cpu_slice_count(n, max_slices=_MAX_CHUNKS, min_size=_MIN_CHUNK))


@functools.partial(jax.jit, static_argnames=("predict", "loss", "norm", "steps", "random_start", "targeted",
                                             "early_stop", "clip", "batched"))
def _pgd(predict, loss, params, x, labels, eps, step_size, key, norm, steps, random_start, targeted,
         early_stop, clip, batched):
    sign = -1.0 if targeted else 1.0

    def finished(logits, y):
        pred = jnp.argmax(logits)
        return pred == y if targeted else pred != y

    def start(v, k):
        return project(v + _random_ball(k, v.shape, eps, norm, v.dtype), v, eps, norm=norm, clip=clip) \
            if random_start else v

    def step(x_t, v, y):
        _, logits, g = _loss_and_grad(predict, loss, params, x_t, y)
        x_next = project(x_t + (sign * step_size) * _direction(g, norm), v, eps, norm=norm, clip=clip)
        if early_stop:
            # A finished example keeps its point: later steps could only move it back.
            x_next = jnp.where(finished(logits, y), x_t, x_next)
        return x_next

    if not batched:
        return jax.lax.fori_loop(0, steps, lambda _, x_t: step(x_t, x, labels), start(x, key))
    x0 = jax.vmap(start)(x, jax.random.split(key, x.shape[0]))
    bounds = _chunk_bounds(x.shape[0])

    def batch_step(_, x_t):
        # independent chunks of the batch: XLA:CPU runs them concurrently (see _chunk_bounds)
        parts = [jax.vmap(step)(x_t[a:b], x[a:b], labels[a:b]) for a, b in bounds]
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts)

    return jax.lax.fori_loop(0, steps, batch_step, x0)


def pgd(predict: Callable, params, x: Array, labels: Array, eps, *, key: PRNGKey, norm: str = "linf",
        steps: int = 10, step_size=None, random_start: bool = True, targeted: bool = False,
        early_stop: bool = False, clip=(0.0, 1.0), loss: Callable | None = None) -> Array:
    """Projected gradient descent/ascent on the loss inside the ε-ball (Madry et al., 2018).

      x⁰ = Π(x + δ⁰), δ⁰ ~ U(B_ε) (``random_start``; else x⁰ = x),
      xᵗ⁺¹ = Π(xᵗ + s α d(∇ₓℓ(xᵗ))),  d = sign (L∞) or g ↦ g/‖g‖₂ (L2),

    for t < ``steps`` in ``lax.fori_loop``, α = ``step_size`` (default 2.5 ε / steps), s = +1
    untargeted, −1 targeted, Π = Π_C ∘ Π_B (see ``project``). With ``early_stop`` an example
    whose current point is already misclassified (untargeted) / classified as its target
    (targeted) is frozen: xᵗ⁺¹ = xᵗ. Each example draws its own random start from ``key``.

    Returns x' with the shape of x; ‖x' − x‖ ≤ ε and x' ∈ ``clip`` for every example.
    Raises ValueError for ε < 0, an unknown norm, x outside ``clip``, labels outside [0, K),
    steps < 0 or step_size < 0.
    """
    batched, clip = _validate(predict, params, x, labels, eps, norm, clip)
    steps = check_int(steps, "steps", minimum=0)
    if step_size is None:
        step_size = 2.5 * float(eps) / max(steps, 1)
    check_scalar(step_size, "step_size", minimum=0.0)
    x = jnp.asarray(x)
    return _pgd(predict, loss or softmax_cross_entropy, params, x, jnp.asarray(labels), jnp.asarray(eps, x.dtype),
                jnp.asarray(step_size, x.dtype), key, norm, steps, bool(random_start), bool(targeted),
                bool(early_stop), clip, batched)


# ----------------------------------------------------------------------------------------------
# logistic regression: the closed-form input gradient


def logistic_predict(params, x: Array) -> Array:
    """Logits (0, wᵀx + b) of binary logistic regression for one example, params = {"w", "b"}.

    softmax((0, z))₁ = σ(z), so the softmax cross-entropy of these logits is the log-loss
    ℓ = log(1 + eᶻ) − y z and the attacks above see the model p(y = 1 | x) = σ(wᵀx + b).
    """
    z = jnp.dot(x, params["w"]) + params["b"]
    return jnp.stack([jnp.zeros_like(z), z])


def logistic_input_loss(w: Array, b: Array, x: Array, y: Array) -> Array:
    """ℓ(x) = log(1 + e^{wᵀx + b}) − y (wᵀx + b), the log-loss of one example as a function of x."""
    z = jnp.dot(w, x) + b
    return jax.nn.softplus(z) - y * z


def logistic_input_gradient(w: Array, b: Array, x: Array, y: Array) -> Array:
    """∇ₓℓ = (σ(wᵀx + b) − y) w  (dℓ/dz = σ(z) − y, dz/dx = w)."""
    return (jax.nn.sigmoid(jnp.dot(w, x) + b) - y) * w


def _logistic_input_args(key, dtype):
    kw, kb, kx = jax.random.split(key, 3)
    w = jax.random.normal(kw, (7,), dtype)
    b = jax.random.normal(kb, (), dtype)
    x = jax.random.uniform(kx, (7,), dtype)
    return w, b, x, jnp.asarray(1.0, dtype)


register_gradient(
    "adversarial.logistic_input_gradient",
    loss=logistic_input_loss,
    grad=logistic_input_gradient,
    make_args=_logistic_input_args,
    argnum=2,
)


__all__ = [
    "NORMS",
    "fgsm",
    "input_gradient",
    "logistic_input_gradient",
    "logistic_input_loss",
    "logistic_predict",
    "pgd",
    "project",
    "softmax_cross_entropy",
]
