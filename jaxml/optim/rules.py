"""The course's update rules as ``optax.GradientTransformation``s (SYLLABUS 1, "Optimizers").

Each rule maps the gradient g_t = ∇L(w_t; B_t) of step t to an update u_t, and
``optax.apply_updates`` (inside ``jaxml.core.train.fit``) applies w_{t+1} = w_t + u_t:

======================  ==========================================================
rule                    update
======================  ==========================================================
``gd`` / ``sgd``        u_t = −γ_t g_t
``momentum``            m_t = β m_{t−1} + (1−β) g_t,  u_t = −γ_t m_t
``adam``                u_t = −γ_t m̂_t / (√v̂_t + ε) per coordinate
``sign_sgd``            u_t = −γ_t sign(g_t)
======================  ==========================================================

The step size γ_t is ``learning_rate`` itself (a float) or ``learning_rate(t)`` (an optax
schedule, a callable of the step count t = 0, 1, ...). Decreasing schedules: optax's own
(``optax.exponential_decay``, ``optax.polynomial_schedule``, ``optax.cosine_decay_schedule``,
``optax.piecewise_constant_schedule``) and the course's two that optax lacks,
``inverse_time_decay`` (γ0/(1+t/τ)) and ``inverse_sqrt_decay`` (γ0/√(1+t/τ)).

Every rule costs Θ(D) time per step for D parameters (Adam keeps 2D numbers of state, momentum
D, the others none but the step counter). States are NamedTuples holding the step counter
``count`` (int32 scalar) and the rule's moment trees, of the parameters' shapes and dtypes.

Hyper-parameters are checked when concrete (a negative learning rate, β outside [0, 1) raise a
``ValueError`` naming them); under ``optax.inject_hyperparams`` they arrive as tracers and a
whole sweep over γ or β runs in one ``jax.vmap``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.checks import check_scalar, is_concrete
from jaxml.core.types import Array

ScalarOrSchedule = optax.ScalarOrSchedule  # a float, or a callable t -> γ_t


# --------------------------------------------------------------------------- helpers


def _check_learning_rate(learning_rate: ScalarOrSchedule) -> None:
    if callable(learning_rate):
        return  # a schedule: its values are checked by whoever builds it
    check_scalar(learning_rate, "learning_rate", minimum=0.0)


def _check_decay(value, name: str) -> None:
    """β ∈ [0, 1): β = 1 would freeze the moment at its initial value 0."""
    if not is_concrete(value):
        return
    check_scalar(value, name, minimum=0.0)
    if np.any(np.asarray(value, dtype=float) >= 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")


def _step_size(learning_rate: ScalarOrSchedule, count: Array) -> Array:
    """γ_t: the float itself, or the schedule evaluated at the step count t."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


def _scale(step_size, tree):
    """−γ · tree, with γ cast to each leaf's dtype so float32 parameters stay float32."""
    return jax.tree.map(lambda x: -jnp.asarray(step_size, x.dtype) * x, tree)


def _ema(new, old, decay):
    """β · old + (1 − β) · new, leaf by leaf, in the dtype of ``old``."""

    def leaf(n, o):
        b = jnp.asarray(decay, o.dtype)
        return (b * o + (1 - b) * n).astype(o.dtype)

    return jax.tree.map(leaf, new, old)


# --------------------------------------------------------------------------- GD / SGD


class GDState(NamedTuple):
    """State of ``gd`` / ``sgd``: only the step counter t (for a schedule γ_t).

    Attributes:
      count: int32 scalar, the number of updates applied so far.
    """

    count: Array


def gd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Gradient descent: step against the gradient.

    .. math::

      w_{t+1} = w_t - \gamma_t \nabla L(w_t)

    With ``fit(..., batch_size=None)`` the gradient is that of the whole training loss, so this
    is (full-batch) gradient descent: Θ(ND) per step for a linear model on N samples.

    Args:
      learning_rate: γ ≥ 0, a float or a schedule ``t -> γ_t``.

    Returns:
      An ``optax.GradientTransformation``; its state is a ``GDState``.

    Raises:
      ValueError: if ``learning_rate`` is a negative or non-finite number.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxml.optim import gd
      >>> tx = gd(0.1)
      >>> w = jnp.array([1.0, -2.0])
      >>> updates, state = tx.update(2 * w, tx.init(w))  # ∇ of ‖w‖²
      >>> w + updates
      Array([ 0.8, -1.6], dtype=float32)
    """
    _check_learning_rate(learning_rate)

    def init_fn(params):
        del params
        return GDState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        updates = _scale(_step_size(learning_rate, state.count), updates)
        return updates, GDState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def sgd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Stochastic gradient descent: the rule of ``gd`` on a minibatch gradient.

    .. math::

      w_{t+1} = w_t - \gamma_t \nabla L_{B_t}(w_t), \qquad
      \nabla L_{B_t} = \frac{1}{|B_t|} \sum_{n \in B_t} \nabla \ell_n

    The update is the same as ``gd``; what makes it stochastic is ``fit(..., batch_size=B)``,
    which draws the B indices of step t uniformly, so that E[∇L_{B_t}] = ∇L (an unbiased
    estimate at Θ(BD) per step instead of Θ(ND); B = 1 is the course's one-sample SGD). The
    noise does not vanish at the optimum: a constant γ leaves the iterates wandering in a
    ball of radius O(γ); a decreasing γ_t (``inverse_time_decay``) makes them converge.

    Args:
      learning_rate: γ ≥ 0, a float or a schedule ``t -> γ_t``.

    Returns:
      An ``optax.GradientTransformation``; its state is a ``GDState``.
    """
    return gd(learning_rate)


# --------------------------------------------------------------------------- momentum


class MomentumState(NamedTuple):
    """State of ``momentum``.

    Attributes:
      count: int32 scalar, the number of updates applied so far.
      momentum: the running average m_t of the gradients, shaped like the parameters.
    """

    count: Array
    momentum: optax.Updates


def momentum(learning_rate: ScalarOrSchedule, beta: float = 0.9) -> optax.GradientTransformation:
    r"""SGD with momentum, in the course's exponential-moving-average form.

    .. math::

      m_t = \beta\, m_{t-1} + (1 - \beta)\, g_t, \qquad m_{-1} = 0, \qquad
      w_{t+1} = w_t - \gamma_t\, m_t

    m_t averages the last ~1/(1−β) gradients, damping the zig-zag of gradient descent across
    a narrow valley. It is optax's heavy-ball rule with a rescaled step: optax keeps
    t_k = g_k + β t_{k−1} = m_k / (1 − β), so ``momentum(γ, β)`` equals
    ``optax.sgd(γ (1 − β), momentum=β)`` step for step. Θ(D) time and memory per step.

    Args:
      learning_rate: γ ≥ 0, a float or a schedule ``t -> γ_t``.
      beta: β ∈ [0, 1), the weight of the past (β = 0 is plain SGD).

    Returns:
      An ``optax.GradientTransformation``; its state is a ``MomentumState``.

    Raises:
      ValueError: if ``learning_rate`` < 0 or ``beta`` ∉ [0, 1).
    """
    _check_learning_rate(learning_rate)
    _check_decay(beta, "beta")

    def init_fn(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), momentum=optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        m = _ema(updates, state.momentum, beta)
        updates = _scale(_step_size(learning_rate, state.count), m)
        return updates, MomentumState(count=optax.safe_increment(state.count), momentum=m)

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- Adam


class AdamState(NamedTuple):
    """State of ``adam``.

    Attributes:
      count: int32 scalar t, the number of updates applied so far.
      mu: first moment m_t (running mean of g), shaped like the parameters.
      nu: second moment v_t (running mean of g², per coordinate), shaped like the parameters.
    """

    count: Array
    mu: optax.Updates
    nu: optax.Updates


def adam(
    learning_rate: ScalarOrSchedule,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    *,
    bias_correction: bool = True,
) -> optax.GradientTransformation:
    r"""Adam: a per-coordinate step from running moments of the gradient.

    .. math::

      m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
      v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad m_0 = v_0 = 0

      \hat m_t = \frac{m_t}{1-\beta_1^{t}}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^{t}}, \qquad
      w_{t+1} = w_t - \gamma_t \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    (t counts from 1 in the corrections; all operations coordinate-wise). The step of each
    coordinate is about γ whatever the scale of its gradient. Without ``bias_correction``,
    m̂ = m and v̂ = v: the first steps are then biased (m and v start at 0), which the
    correction undoes. With it, the rule is ``optax.adam`` exactly. Θ(D) per step, 2D state.

    Args:
      learning_rate: γ ≥ 0, a float or a schedule ``t -> γ_t`` (t = 0 at the first update).
      b1: β₁ ∈ [0, 1), decay of the first moment.
      b2: β₂ ∈ [0, 1), decay of the second moment.
      eps: ε ≥ 0 added to √v̂ (guards coordinates whose gradient has been 0).
      bias_correction: divide the moments by (1 − βᵗ) (the published Adam).

    Returns:
      An ``optax.GradientTransformation``; its state is an ``AdamState``.

    Raises:
      ValueError: if ``learning_rate`` < 0, ``b1`` or ``b2`` ∉ [0, 1), or ``eps`` < 0.

    References:
      Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """
    _check_learning_rate(learning_rate)
    _check_decay(b1, "b1")
    _check_decay(b2, "b2")
    check_scalar(eps, "eps", minimum=0.0)

    def init_fn(params):
        return AdamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            nu=optax.tree.zeros_like(params),
        )

    def update_fn(updates, state, params=None):
        del params
        mu = _ema(updates, state.mu, b1)
        nu = _ema(jax.tree.map(jnp.square, updates), state.nu, b2)
        count = optax.safe_increment(state.count)

        def direction(m, v):
            if bias_correction:
                t = count.astype(m.dtype)
                m = m / (1 - jnp.asarray(b1, m.dtype) ** t)
                v = v / (1 - jnp.asarray(b2, v.dtype) ** t)
            return m / (jnp.sqrt(v) + jnp.asarray(eps, v.dtype))

        updates = _scale(_step_size(learning_rate, state.count), jax.tree.map(direction, mu, nu))
        return updates, AdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- sign-SGD


def sign_sgd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    r"""Sign-SGD: a step of fixed length γ in every coordinate, against the gradient's sign.

    .. math::

      w_{t+1} = w_t - \gamma_t\, \mathrm{sign}(g_t), \qquad \mathrm{sign}(0) = 0

    Only the sign of each coordinate is used (one bit per coordinate, which makes it cheap to
    communicate); it is Adam with β₁ = β₂ = 0 and ε = 0. With a constant γ the iterates end up
    oscillating within ~γ of the optimum in each coordinate: use a decreasing γ_t to converge.
    Θ(D) per step.

    Args:
      learning_rate: γ ≥ 0, a float or a schedule ``t -> γ_t``.

    Returns:
      An ``optax.GradientTransformation``; its state is a ``GDState`` (the step counter).

    Raises:
      ValueError: if ``learning_rate`` is a negative or non-finite number.
    """
    _check_learning_rate(learning_rate)

    def init_fn(params):
        del params
        return GDState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        updates = _scale(_step_size(learning_rate, state.count), jax.tree.map(jnp.sign, updates))
        return updates, GDState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- schedules


def inverse_time_decay(init_value: float, time_scale: float = 1.0) -> optax.Schedule:
    r"""The schedule γ_t = γ₀ / (1 + t/τ).

    .. math::

      \gamma_t = \frac{\gamma_0}{1 + t/\tau}

    Σγ_t = ∞ and Σγ_t² < ∞: the Robbins–Monro conditions under which SGD converges. τ is the
    number of steps after which the step has halved.

    Args:
      init_value: γ₀ ≥ 0.
      time_scale: τ > 0, in steps.

    Returns:
      ``schedule(count) -> γ_count``.
    """
    check_scalar(init_value, "init_value", minimum=0.0)
    check_scalar(time_scale, "time_scale", minimum=0.0, strict_min=True)

    def schedule(count):
        return init_value / (1.0 + count / time_scale)

    return schedule


def inverse_sqrt_decay(init_value: float, time_scale: float = 1.0) -> optax.Schedule:
    r"""The schedule γ_t = γ₀ / √(1 + t/τ) (τ = 1 gives the course's γ₀/√(1+t)).

    .. math::

      \gamma_t = \frac{\gamma_0}{\sqrt{1 + t/\tau}}

    The classical step of the subgradient method: after T steps the best iterate of a convex
    Lipschitz problem is within O(log T / √T) of the optimum.

    Args:
      init_value: γ₀ ≥ 0.
      time_scale: τ > 0, in steps.

    Returns:
      ``schedule(count) -> γ_count``.
    """
    check_scalar(init_value, "init_value", minimum=0.0)
    check_scalar(time_scale, "time_scale", minimum=0.0, strict_min=True)

    def schedule(count):
        return init_value / jnp.sqrt(1.0 + count / time_scale)

    return schedule


__all__ = [
    "AdamState",
    "GDState",
    "MomentumState",
    "adam",
    "gd",
    "inverse_sqrt_decay",
    "inverse_time_decay",
    "momentum",
    "sgd",
    "sign_sgd",
]
