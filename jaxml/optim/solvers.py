"""Second-order and quasi-Newton minimizers, each one jitted ``lax.while_loop`` (SYLLABUS 1, 3).

``newton_minimize``: damped Newton with a backtracking (Armijo) line search, for smooth
objectives of a flat parameter vector whose Hessian is cheap to form (D up to a few hundred).
``lbfgs_minimize``: L-BFGS (optax, memory 10, zoom line search under the strong Wolfe
conditions) over any parameter pytree, for objectives whose Hessian is too large to form.

Both are pure functions of the objective and the starting point, stop when the largest entry of
the gradient is ≤ ``tol`` or after ``max_iter`` iterations, and take ``tol`` and ``max_iter`` as
traced values: called inside a jitted function, one compiled program serves every tolerance,
and ``jax.vmap`` batches whole solves (e.g. over a regularization strength inside the objective).
Logistic regression (``jaxml.linear.fit_logistic_newton`` / ``fit_logistic_lbfgs``) is written
on them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import optax

from jaxml.core.types import Array, Params


class MinimizeResult(NamedTuple):
    """What ``newton_minimize`` and ``lbfgs_minimize`` return.

    Attributes:
      params: x, the last iterate (the structure of ``x0``).
      value: f(x).
      grad_norm: ‖∇f(x)‖_∞, the stopping quantity compared with ``tol``.
      num_iter: iterations performed (int32).
    """

    params: Params
    value: Array
    grad_norm: Array
    num_iter: Array


def inf_norm(tree) -> Array:
    """‖g‖_∞ = max_i |g_i| over every leaf of a pytree g. Cost Θ(size of g)."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(leaf)) for leaf in jax.tree.leaves(tree)]))


def _autodiff_value_grad_hess(value_fn):
    def value_grad_hess(x):
        value, grad = jax.value_and_grad(value_fn)(x)
        return value, grad, jax.hessian(value_fn)(x)

    return value_grad_hess


def newton_minimize(
    value_fn: Callable[[Array], Array],
    x0: Array,
    *,
    tol,
    max_iter,
    value_grad_hess: Callable[[Array], tuple[Array, Array, Array]] | None = None,
) -> MinimizeResult:
    r"""Damped Newton's method with a backtracking line search.

    .. math::

      d_k = -\nabla^2 f(x_k)^{-1} \nabla f(x_k), \qquad x_{k+1} = x_k + t_k d_k,

    with t_k the first of 1, ½, ¼, … (down to 1e-10) that satisfies the Armijo condition
    f(x_k + t d_k) ≤ f(x_k) + 10⁻⁴ t ∇f(x_k)ᵀd_k (plus a roundoff slack of 16·eps·|f(x_k)|, so
    that steps at the optimum, where f changes by less than its last bits, are accepted).
    The Hessian is factored by Cholesky; where it fails or gives no descent direction (∇²f not
    positive definite) the step falls back to d_k = −∇f(x_k), so no NaN enters the iterate.
    Near a minimizer with a positive definite Hessian t_k = 1 and convergence is quadratic.

    Stops when ‖∇f(x_k)‖_∞ ≤ ``tol`` or k = ``max_iter``; one ``lax.while_loop``. Cost per
    iteration: one ``value_grad_hess`` call, a Θ(D³) Cholesky factorization and a few
    evaluations of f.

    Args:
      value_fn: f, ``(D,) -> scalar``.
      x0: (D,) starting point.
      tol: gradient tolerance ≥ 0 (traced).
      max_iter: iteration cap (traced int).
      value_grad_hess: ``x -> (f(x), ∇f(x) (D,), ∇²f(x) (D, D))``, e.g. hand-derived; by
        default ``jax.value_and_grad`` and ``jax.hessian`` of ``value_fn``.

    Returns:
      ``MinimizeResult(params, value, grad_norm, num_iter)``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxml.optim import newton_minimize
      >>> res = newton_minimize(lambda x: jnp.sum((x - 3.0) ** 2), jnp.zeros(2), tol=1e-6, max_iter=10)
      >>> res.params.round(4), int(res.num_iter)  # one Newton step solves a quadratic
      (Array([3., 3.], dtype=float32), 1)
    """
    x0 = jnp.asarray(x0)
    if x0.ndim != 1:
        raise ValueError(f"x0 must be a flat (D,) vector for Newton's method, got shape {x0.shape}")
    if value_grad_hess is None:
        value_grad_hess = _autodiff_value_grad_hess(value_fn)
    value, grad, hess = value_grad_hess(x0)
    dtype = grad.dtype
    eps = jnp.finfo(dtype).eps

    def cond(carry):
        _, _, grad, _, it = carry
        return (it < max_iter) & (jnp.max(jnp.abs(grad)) > tol)

    def body(carry):
        x, value, grad, hess, it = carry
        factor = jax.scipy.linalg.cho_factor(hess, lower=True)
        direction = -jax.scipy.linalg.cho_solve(factor, grad)
        ok = jnp.all(jnp.isfinite(direction)) & (grad @ direction < 0)
        direction = jnp.where(ok, direction, -grad)
        slope = grad @ direction
        slack = 16 * eps * jnp.abs(value)

        def ls_cond(s):
            step, new_value = s
            insufficient = new_value > value + 1e-4 * step * slope + slack
            return (insufficient | jnp.isnan(new_value)) & (step > 1e-10)

        def ls_body(s):
            step = s[0] * 0.5
            return step, value_fn(x + step * direction)

        one = jnp.ones((), dtype)
        step, _ = jax.lax.while_loop(ls_cond, ls_body, (one, value_fn(x + direction)))
        x = x + step * direction
        value, grad, hess = value_grad_hess(x)
        return x, value, grad, hess, it + 1

    init = (x0, value, grad, hess, jnp.zeros((), jnp.int32))
    x, value, grad, _, it = jax.lax.while_loop(cond, body, init)
    return MinimizeResult(x, value, jnp.max(jnp.abs(grad)), it)


# One L-BFGS transformation for the whole package (an optax object built anew on every call
# would be a new static value for any cache keyed on it).
_LBFGS = optax.lbfgs()


def lbfgs_minimize(value_fn: Callable[[Params], Array], x0: Params, *, tol, max_iter) -> MinimizeResult:
    r"""L-BFGS (optax: memory m = 10, zoom line search under the strong Wolfe conditions).

    .. math::

      x_{k+1} = x_k - t_k H_k \nabla f(x_k),

    where H_k ≈ ∇²f(x_k)⁻¹ is applied by the two-loop recursion over the last m pairs
    s_i = x_{i+1} − x_i, y_i = ∇f(x_{i+1}) − ∇f(x_i) (H_k's initial scale s_kᵀy_k / y_kᵀy_k),
    and t_k satisfies f(x_k + t p_k) ≤ f(x_k) + c₁ t ∇f_kᵀp_k and |∇f(x_k + t p_k)ᵀp_k| ≤
    c₂ |∇f_kᵀp_k|. Stops when ‖∇f(x_k)‖_∞ ≤ ``tol`` (after at least one iteration) or
    k = ``max_iter``; one ``lax.while_loop``. Cost per iteration: a few evaluations of f and ∇f
    plus Θ(mD).

    Args:
      value_fn: f, a scalar function of a parameter pytree.
      x0: the starting point (any pytree of float arrays).
      tol: gradient tolerance ≥ 0 (traced).
      max_iter: iteration cap (traced int).

    Returns:
      ``MinimizeResult(params, value, grad_norm, num_iter)``; ``value`` and ``grad_norm`` are
      recomputed at the returned point.
    """
    value_and_grad = optax.value_and_grad_from_state(value_fn)

    def body(carry):
        x, state = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = _LBFGS.update(grad, state, x, value=value, grad=grad, value_fn=value_fn)
        return optax.apply_updates(x, updates), state

    def cond(carry):
        _, state = carry
        count = optax.tree.get(state, "count")
        grad = optax.tree.get(state, "grad")
        return (count == 0) | ((count < max_iter) & (inf_norm(grad) > tol))

    x, state = jax.lax.while_loop(cond, body, (x0, _LBFGS.init(x0)))
    value, grad = jax.value_and_grad(value_fn)(x)
    return MinimizeResult(x, value, inf_norm(grad), optax.tree.get(state, "count"))


__all__ = ["MinimizeResult", "inf_norm", "lbfgs_minimize", "newton_minimize"]
