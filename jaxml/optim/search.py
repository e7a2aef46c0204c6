"""Brute-force grid search and subgradient descent (SYLLABUS 1, "Optimizers").

``grid_search`` evaluates a loss at every point of the Cartesian product of 1-D grids in one
vmapped call and keeps the smallest value: no gradient, no convexity needed, but a cost that
grows as Π_k |grid_k|, exponentially in the number of parameters.

``subgradient_descent`` minimizes a convex but non-smooth loss (MAE, hinge, L1 penalty) with
w ← w − γ_t g_t, g_t any subgradient at w_t. It is not a descent method (a step along −g can
increase the loss), so it keeps the best iterate seen. The worked objectives of the course
(least absolute deviations and the lasso as ``value_and_subgradient(w, X, y, ...) -> (loss, g)``)
live with their models in ``jaxml.linear``: ``jaxml.optim`` depends on no model family.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxml.core.checks import check_array, check_int, check_scalar
from jaxml.core.types import Array

# --------------------------------------------------------------------------- grid search


class GridSearchResult(NamedTuple):
    """What ``grid_search`` returns.

    Attributes:
      params: (K,) the grid point of smallest loss, w* = argmin over the grid.
      value: scalar, the loss there.
      table: (n_1, ..., n_K) the loss at every grid point, ``table[i1, ..., iK] =
        L(grids[0][i1], ..., grids[K-1][iK])``.
    """

    params: Array
    value: Array
    table: Array


@functools.partial(jax.jit, static_argnames=("loss_fn", "batch_size"))
def _grid_table(loss_fn, grids, args, batch_size):
    mesh = jnp.meshgrid(*grids, indexing="ij")
    points = jnp.stack([m.ravel() for m in mesh], axis=1)  # (P, K)
    evaluate = lambda w: loss_fn(w, *args)
    if batch_size is None:
        values = jax.vmap(evaluate)(points)
    else:
        values = jax.lax.map(evaluate, points, batch_size=batch_size)
    # A NaN loss (outside the loss's domain) must never win the argmin.
    best = jnp.argmin(jnp.where(jnp.isnan(values), jnp.inf, values))
    return GridSearchResult(points[best], values[best], values.reshape(mesh[0].shape))


def grid_search(
    loss_fn: Callable[..., Array],
    grids: Sequence,
    *args,
    batch_size: int | None = None,
) -> GridSearchResult:
    r"""Minimize ``loss_fn`` by brute force over the Cartesian product of 1-D grids.

    .. math::

      \hat w = \operatorname{argmin}_{w \in G_1 \times \cdots \times G_K} L(w)

    All Π_k n_k points are evaluated in one vmapped, jitted call: cost Π_k n_k evaluations of
    L (for least squares on N samples, Θ(N D Π_k n_k)), exponential in K. NaN values are
    ignored by the argmin.

    Args:
      loss_fn: ``loss_fn(w, *args) -> scalar`` with w of shape (K,). Pass a function defined
        once (it keys the compile cache) and the data through ``args``.
      grids: K one-dimensional arrays, the values tried for each coordinate of w.
      *args: extra arguments of ``loss_fn`` (data), traced.
      batch_size: evaluate the points in chunks of this many (``lax.map``) to bound memory;
        ``None`` evaluates them all at once.

    Returns:
      ``GridSearchResult(params, value, table)``.

    Raises:
      ValueError: if ``grids`` is empty or one of them is not a non-empty finite 1-D array.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxml.optim import grid_search
      >>> def parabola(w):
      ...     return (w[0] - 1.0) ** 2 + (w[1] + 2.0) ** 2
      >>> res = grid_search(parabola, [jnp.linspace(-3, 3, 7), jnp.linspace(-3, 3, 7)])
      >>> res.params
      Array([ 1., -2.], dtype=float32)
    """
    if len(grids) == 0:
        raise ValueError("grids must hold at least one 1-D grid, got none")
    checked = []
    for k, grid in enumerate(grids):
        check_array(grid, f"grids[{k}]", ndim=1)
        checked.append(jnp.asarray(grid))
    dtype = jnp.result_type(*checked)
    checked = tuple(g.astype(dtype) for g in checked)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1)
    return _grid_table(loss_fn, checked, tuple(args), batch_size)


# --------------------------------------------------------------------------- subgradients


def l1_subgradient(w: Array) -> Array:
    r"""A subgradient of ‖w‖₁: sign(w), with 0 chosen at w_i = 0.

    .. math::

      \partial |w_i| = \{\mathrm{sign}(w_i)\} \ (w_i \neq 0), \quad [-1, 1] \ (w_i = 0)

    0 ∈ [−1, 1] is the element of least norm, the one that lets a zero coordinate stay zero.
    Θ(D).
    """
    return jnp.sign(w)


class SubgradientResult(NamedTuple):
    """What ``subgradient_descent`` returns.

    Attributes:
      params: (D,) the best iterate, argmin over t of L(w_t) (t = 0..T).
      value: scalar, L at the best iterate.
      last_params: (D,) the last iterate w_T.
      losses: (T,) L(w_t) for t = 0..T−1 (not monotone).
      best_losses: (T,) min_{s ≤ t} L(w_s), the running best.
    """

    params: Array
    value: Array
    last_params: Array
    losses: Array
    best_losses: Array


def _unit_schedule(count):
    del count
    return 1.0


@functools.partial(jax.jit, static_argnames=("loss_subgrad", "schedule", "num_steps"))
def _subgradient_run(loss_subgrad, schedule, num_steps, w0, scale, args):
    def body(carry, t):
        w, best_w, best_value = carry
        value, g = loss_subgrad(w, *args)
        better = value < best_value
        best_w = jnp.where(better, w, best_w)
        best_value = jnp.where(better, value, best_value)
        step = jnp.asarray(scale * schedule(t), w.dtype)
        return (w - step * g, best_w, best_value), (value, best_value)

    init = (w0, w0, jnp.asarray(jnp.inf, w0.dtype))
    (w, best_w, best_value), (losses, best_losses) = jax.lax.scan(
        body, init, jnp.arange(num_steps, dtype=jnp.int32)
    )
    last_value, _ = loss_subgrad(w, *args)
    better = last_value < best_value
    best_w = jnp.where(better, w, best_w)
    best_value = jnp.where(better, last_value, best_value)
    return SubgradientResult(best_w, best_value, w, losses, best_losses)


def subgradient_descent(
    loss_subgrad: Callable[..., tuple[Array, Array]],
    w0: Array,
    *args,
    learning_rate_schedule,
    num_steps: int,
) -> SubgradientResult:
    r"""The subgradient method, keeping the best iterate.

    .. math::

      w_{t+1} = w_t - \gamma_t g_t, \quad g_t \in \partial L(w_t), \qquad
      \hat w_T = \operatorname{argmin}_{0 \le t \le T} L(w_t)

    For a convex L with subgradients bounded by G and γ_t = γ₀/√(1+t)
    (``jaxml.optim.inverse_sqrt_decay``), L(ŵ_T) − L* = O(log T/√T); with a constant γ it only
    reaches a neighbourhood of size O(γG²). One jitted ``lax.scan``; cost T evaluations of
    ``loss_subgrad`` (Θ(TND) for the linear losses of ``jaxml.linear``).

    Args:
      loss_subgrad: ``loss_subgrad(w, *args) -> (L(w), g)``, g a subgradient (e.g.
        ``jaxml.linear.mae_value_and_subgradient``). Pass a function defined once (it keys the
        compile cache).
      w0: (D,) starting point.
      *args: data passed to ``loss_subgrad`` (traced).
      learning_rate_schedule: a schedule ``t -> γ_t`` (defined once, e.g.
        ``inverse_sqrt_decay(0.1)``), or a float γ ≥ 0 for a constant step.
      num_steps: T ≥ 1, the number of steps.

    Returns:
      ``SubgradientResult(params, value, last_params, losses, best_losses)``.

    Raises:
      ValueError: if ``w0`` holds NaN/inf, ``num_steps`` < 1 or a float step is negative.
    """
    check_array(w0, "w0")
    num_steps = check_int(num_steps, "num_steps", minimum=1)
    if callable(learning_rate_schedule):
        schedule, scale = learning_rate_schedule, 1.0
    else:
        check_scalar(learning_rate_schedule, "learning_rate_schedule", minimum=0.0)
        schedule, scale = _unit_schedule, learning_rate_schedule
    w0 = jnp.asarray(w0)
    return _subgradient_run(loss_subgrad, schedule, num_steps, w0, scale, tuple(args))


__all__ = [
    "GridSearchResult",
    "SubgradientResult",
    "grid_search",
    "l1_subgradient",
    "subgradient_descent",
]
