"""Hand-derived gradients against ``jax.grad`` and central finite differences.

For a loss L and a hand gradient G (same pytree structure as the parameters θ):

  autodiff error  = max_i |G(θ)_i − ∇L(θ)_i| / (max_i |∇L(θ)_i| + tiny)
  finite-diff err = max_i |G(θ)_i − (L(θ + h e_i) − L(θ − h e_i)) / 2h| / (max_i |G(θ)_i| + tiny)

computed in float64 (the finite differences use h = 1e-6 · max(1, |θ_i|) in float64 only:
in float32 a central difference is accurate to ~1e-3 at best). Every family registers its hand
gradients with ``register_gradient``; ``jaxml gradcheck`` runs the whole registry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class GradientCheck:
    """One registered hand gradient.

    Attributes:
      name: a unique name, ``family.function``.
      loss: ``loss(*args) -> scalar``.
      grad: ``grad(*args)`` -> the gradient of ``loss`` with respect to ``args[argnum]``.
      make_args: ``make_args(key, dtype) -> tuple`` of arguments (small sizes).
      argnum: which argument is differentiated.
      rtol32 / rtol64: tolerances against autodiff in float32 / float64.
      fd_rtol: tolerance against central differences (float64).
    """

    name: str
    loss: Callable[..., Any]
    grad: Callable[..., Any]
    make_args: Callable[[jax.Array, Any], tuple]
    argnum: int = 0
    rtol32: float = 1e-4
    rtol64: float = 1e-10
    fd_rtol: float = 1e-6


REGISTRY: dict[str, GradientCheck] = {}


def register_gradient(name: str, *, loss, grad, make_args, **tolerances) -> GradientCheck:
    """Add a hand gradient to the registry run by ``jaxml gradcheck`` and the test suite."""
    check = GradientCheck(name=name, loss=loss, grad=grad, make_args=make_args, **tolerances)
    REGISTRY[name] = check
    return check


def _max_rel(a, b) -> float:
    a_leaves = [np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(a)]
    b_leaves = [np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(b)]
    if len(a_leaves) != len(b_leaves):
        return float("inf")
    a_flat = np.concatenate(a_leaves) if a_leaves else np.zeros(0)
    b_flat = np.concatenate(b_leaves) if b_leaves else np.zeros(0)
    if a_flat.shape != b_flat.shape:
        return float("inf")
    scale = np.max(np.abs(b_flat), initial=0.0) + 1e-30
    return float(np.max(np.abs(a_flat - b_flat), initial=0.0) / scale)


def finite_difference_grad(loss, args: tuple, argnum: int = 0, rel_step: float = 1e-6):
    """Central differences (L(θ + h eᵢ) − L(θ − h eᵢ)) / 2h for every coordinate of ``args[argnum]``."""
    flat, unravel = jax.flatten_util.ravel_pytree(args[argnum])
    f = jax.jit(lambda v: loss(*args[:argnum], unravel(v), *args[argnum + 1 :]))
    flat = np.asarray(flat, np.float64)
    h = rel_step * np.maximum(1.0, np.abs(flat))
    eye = np.eye(flat.size) * h[:, None]
    plus = jax.vmap(f)(jnp.asarray(flat[None, :] + eye))
    minus = jax.vmap(f)(jnp.asarray(flat[None, :] - eye))
    return unravel(jnp.asarray((np.asarray(plus) - np.asarray(minus)) / (2 * h)))


@dataclasses.dataclass
class GradcheckRow:
    name: str
    err32: float
    err64: float
    fd64: float
    ok: bool


def compare_gradients(check: GradientCheck, key: jax.Array) -> GradcheckRow:
    """Run one check in float32 and float64 (requires ``jax_enable_x64``)."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError("gradient checks need jax.config.update('jax_enable_x64', True)")
    errs = {}
    for dtype in (jnp.float32, jnp.float64):
        args = check.make_args(key, dtype)
        hand = check.grad(*args)
        auto = jax.grad(check.loss, argnums=check.argnum)(*args)
        errs[dtype] = _max_rel(hand, auto)
        if dtype == jnp.float64:
            fd = finite_difference_grad(check.loss, args, check.argnum)
            errs["fd"] = _max_rel(fd, hand)
    ok = errs[jnp.float32] <= check.rtol32 and errs[jnp.float64] <= check.rtol64 and errs["fd"] <= check.fd_rtol
    return GradcheckRow(check.name, errs[jnp.float32], errs[jnp.float64], errs["fd"], bool(ok))


def load_all_families() -> None:
    """Import every family so that its hand gradients are registered."""
    import jaxml.fairness  # noqa: F401
    import jaxml.kernels  # noqa: F401
    import jaxml.linear  # noqa: F401
    import jaxml.optim  # noqa: F401
    import jaxml.selection  # noqa: F401
    import jaxml.unsupervised  # noqa: F401


def run_gradchecks(names=None, seed: int = 0) -> list[GradcheckRow]:
    """Every registered check (or those in ``names``), as table rows."""
    load_all_families()
    key = jax.random.key(seed)
    selected = [REGISTRY[n] for n in (names or sorted(REGISTRY))]
    return [compare_gradients(c, jax.random.fold_in(key, i)) for i, c in enumerate(selected)]


def format_table(rows: list[GradcheckRow]) -> str:
    """A Markdown table of the gradient checks."""
    lines = [
        "| gradient | rel. err. vs autodiff f32 | rel. err. vs autodiff f64 | rel. err. vs finite diff. f64 | ok |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.name} | {r.err32:.2e} | {r.err64:.2e} | {r.fd64:.2e} | {'yes' if r.ok else 'NO'} |")
    return "\n".join(lines)


__all__ = [
    "REGISTRY",
    "GradientCheck",
    "GradcheckRow",
    "compare_gradients",
    "finite_difference_grad",
    "format_table",
    "register_gradient",
    "run_gradchecks",
]
