"""Hand-derived gradients against ``jax.grad``, central finite differences and ``check_grads``.

For a loss L and a hand gradient G (same pytree structure as the parameters θ ∈ ℝᴾ):

  autodiff error  = max_i |G(θ)_i − ∇L(θ)_i| / (max_i |∇L(θ)_i| + tiny)          (float32 and float64)

and, in float64, central differences — per coordinate while P ≤ ``DIRECTIONAL_THRESHOLD``:

  finite-diff err = max_i |G(θ)_i − (L(θ + hᵢ eᵢ) − L(θ − hᵢ eᵢ)) / 2hᵢ| / (max_i |G(θ)_i| + tiny),
  hᵢ = 1e-6 · max(1, |θᵢ|)

(the coordinates are evaluated in chunks, never through a P×P identity), and along k random
directions above it (a 10⁶-parameter network costs 2k loss evaluations instead of 2P):

  dⱼ = ⟨G(θ), vⱼ⟩,  fⱼ = (L(θ + h vⱼ) − L(θ − h vⱼ)) / 2h,  vⱼ ~ N(0, I) (coordinates of RMS 1),
  h = 1e-5 · max(1, RMS(θ)),  finite-diff err = maxⱼ |dⱼ − fⱼ| / max(RMS(d), RMS(f)).

A 1% error on a block holding a fraction ρ of ‖G‖² moves each dⱼ by about 0.01·√ρ·RMS(d), far
above the float64 truncation and rounding error of fⱼ (≈ 1e-9 relative). In float32 a central
difference is accurate to ~1e-3 at best, so only float64 is compared with finite differences.

Where the loss is twice differentiable (``twice_differentiable=True`` at registration), the hand
gradient also passes ``jax.test_util.check_grads(f, (θ,), order=2, modes=("rev",))`` in float64,
where f is the loss whose reverse-mode derivative is the hand gradient (``with_hand_vjp``): order 1
checks ⟨G(θ), t⟩ against a central difference of L along a random t, order 2 checks the derivative
of θ ↦ G(θ) the same way.

Every family registers its hand gradients with ``register_gradient`` when it is imported; this
module imports no family (``jaxml.families.import_families`` fills the registry for
``jaxml gradcheck`` and the tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.test_util
import numpy as np

# Above this many parameters the finite-difference check runs along random directions.
DIRECTIONAL_THRESHOLD = 2000


@dataclasses.dataclass(frozen=True)
class GradientCheck:
    """One registered hand gradient.

    Attributes:
      name: a unique name, ``family.function``.
      loss: ``loss(*args) -> scalar``.
      grad: ``grad(*args)`` -> the gradient of ``loss`` with respect to ``args[argnum]``.
      make_args: ``make_args(key, dtype) -> tuple`` of arguments.
      argnum: which argument is differentiated.
      rtol32 / rtol64: tolerances against autodiff in float32 / float64.
      fd_rtol: tolerance against central differences (float64).
      twice_differentiable: whether L is C² around the points ``make_args`` draws, so that
        ``check_grads`` to order 2 applies (False for hinge, |·| and ℓ₁ subgradients).
      num_directions: k, the random directions of the check when P > ``DIRECTIONAL_THRESHOLD``.
    """

    name: str
    loss: Callable[..., Any]
    grad: Callable[..., Any]
    make_args: Callable[[jax.Array, Any], tuple]
    argnum: int = 0
    rtol32: float = 1e-4
    rtol64: float = 1e-10
    fd_rtol: float = 1e-6
    twice_differentiable: bool = True
    num_directions: int = 8


REGISTRY: dict[str, GradientCheck] = {}


def register_gradient(name: str, *, loss, grad, make_args, **options) -> GradientCheck:
    """Add a hand gradient to the registry run by ``jaxml gradcheck`` and the test suite.

    ``options`` are the optional fields of ``GradientCheck``: ``argnum``, ``rtol32``, ``rtol64``,
    ``fd_rtol``, ``twice_differentiable``, ``num_directions``.
    """
    check = GradientCheck(name=name, loss=loss, grad=grad, make_args=make_args, **options)
    REGISTRY[name] = check
    return check


def _flat64(tree) -> np.ndarray:
    leaves = [np.asarray(x, np.float64).ravel() for x in jax.tree.leaves(tree)]
    return np.concatenate(leaves) if leaves else np.zeros(0)


def _max_rel(a, b) -> float:
    """max_i |a_i − b_i| / (max_i |b_i| + tiny) over the flattened trees (inf on a shape mismatch)."""
    if len(jax.tree.leaves(a)) != len(jax.tree.leaves(b)):
        return float("inf")
    a_flat, b_flat = _flat64(a), _flat64(b)
    if a_flat.shape != b_flat.shape:
        return float("inf")
    scale = np.max(np.abs(b_flat), initial=0.0) + 1e-30
    return float(np.max(np.abs(a_flat - b_flat), initial=0.0) / scale)


def _loss_of_flat(loss, args: tuple, argnum: int):
    """(θ_flat, v ↦ L(args with args[argnum] = unravel(v)), unravel)."""
    flat, unravel = jax.flatten_util.ravel_pytree(args[argnum])
    return flat, lambda v: loss(*args[:argnum], unravel(v), *args[argnum + 1 :]), unravel


def finite_difference_grad(loss, args: tuple, argnum: int = 0, rel_step: float = 1e-6, *,
                           step=None, chunk_size: int = 256):
    """Central differences (L(θ + hᵢ eᵢ) − L(θ − hᵢ eᵢ)) / 2hᵢ for every coordinate of ``args[argnum]``.

    hᵢ = ``rel_step`` · max(1, |θᵢ|); or hᵢ = ``step`` for all i when ``step`` is a number; or,
    when ``step`` is a 1-D array of S steps, one gradient per step, stacked on a leading axis of
    size S (one compiled call for a whole sweep over h). Computed in the dtype of
    ``args[argnum]``, ``chunk_size`` coordinates at a time (memory O(S · chunk_size · P), never a
    P×P identity). Cost: 2SP loss evaluations.
    """
    flat, f, unravel = _loss_of_flat(loss, args, argnum)
    if step is None:
        steps = (rel_step * jnp.maximum(1.0, jnp.abs(flat)))[None, :]
    else:
        steps = jnp.broadcast_to(jnp.reshape(jnp.asarray(step, flat.dtype), (-1, 1)), (jnp.size(step), flat.size))

    @jax.jit
    def all_partials(flat, steps):
        def partial_i(i):
            def one(h):
                e = jnp.zeros_like(flat).at[i].set(h[i])
                return (f(flat + e) - f(flat - e)) / (2 * h[i])

            return jax.vmap(one)(steps)

        return jax.lax.map(partial_i, jnp.arange(flat.size), batch_size=min(chunk_size, flat.size)).T

    grads = all_partials(flat, steps.astype(flat.dtype))  # (S, P)
    if step is not None and jnp.ndim(step) == 1:
        return jax.vmap(unravel)(grads)
    return unravel(grads[0])


def directional_error(loss, hand_grad, args: tuple, argnum: int, key: jax.Array, *,
                      num_directions: int = 8, rel_step: float = 1e-5) -> float:
    """maxⱼ |⟨G, vⱼ⟩ − (L(θ + h vⱼ) − L(θ − h vⱼ)) / 2h| / max(RMSⱼ⟨G, vⱼ⟩, RMSⱼ fⱼ).

    vⱼ ~ N(0, I_P) for j = 1..k (``num_directions``), h = ``rel_step`` · max(1, RMS(θ)); computed
    in the dtype of ``args[argnum]`` (float64 for the check). Cost: 2k loss evaluations and k
    inner products, whatever P.
    """
    flat, f, _ = _loss_of_flat(loss, args, argnum)
    g = jax.flatten_util.ravel_pytree(hand_grad)[0].astype(flat.dtype)
    V = jax.random.normal(key, (num_directions, flat.size), flat.dtype)
    h = rel_step * jnp.maximum(1.0, jnp.sqrt(jnp.mean(flat**2)))

    @jax.jit
    def both(flat, g, V, h):
        fd = jax.lax.map(lambda v: (f(flat + h * v) - f(flat - h * v)) / (2 * h), V)
        return V @ g, fd

    d, fd = (np.asarray(x, np.float64) for x in both(flat, g, V, h))
    scale = max(np.sqrt(np.mean(d**2)), np.sqrt(np.mean(fd**2))) + 1e-30
    return float(np.max(np.abs(d - fd)) / scale)


def with_hand_vjp(loss, grad, args: tuple, argnum: int = 0):
    """θ ↦ L(args with args[argnum] = θ), whose reverse-mode derivative is the hand gradient:
    the VJP of a cotangent c is c · G(θ). ``jax.test_util.check_grads`` on it (``modes=("rev",)``)
    checks G, and to order 2 the derivative of G, against finite differences."""
    before, after = args[:argnum], args[argnum + 1 :]

    @jax.custom_vjp
    def f(theta):
        return loss(*before, theta, *after)

    def fwd(theta):
        return f(theta), theta

    def bwd(theta, cotangent):
        return (jax.tree.map(lambda g: cotangent * g, grad(*before, theta, *after)),)

    f.defvjp(fwd, bwd)
    return f


def passes_check_grads(check: GradientCheck, args: tuple, order: int = 2, rel_step: float = 1e-6) -> bool:
    """Whether ``jax.test_util.check_grads(with_hand_vjp(...), order=order, modes=("rev",), eps=h)``
    passes at ``args`` (float64 tolerances 1e-5), h = ``rel_step`` · max(1, RMS(θ)).

    check_grads perturbs θ along a tangent with N(0, 1) coordinates, so its default step (1e-4)
    is a step of length 1e-4·√P: at P = 10⁶ its truncation error alone exceeds the tolerance."""
    f = jax.jit(with_hand_vjp(check.loss, check.grad, args, check.argnum))
    flat = jax.flatten_util.ravel_pytree(args[check.argnum])[0]
    eps = rel_step * max(1.0, float(jnp.sqrt(jnp.mean(flat**2))))
    try:
        jax.test_util.check_grads(f, (args[check.argnum],), order=order, modes=("rev",), eps=eps)
    except AssertionError:
        return False
    return True


@dataclasses.dataclass
class GradcheckRow:
    """One line of ``jaxml gradcheck``: errors as defined in the module docstring; ``fd_method``
    says how finite differences were taken; ``check_grads`` is None where not applicable."""

    name: str
    err32: float
    err64: float
    fd64: float
    ok: bool
    fd_method: str = "coordinates"
    check_grads: bool | None = None


def compare_gradients(check: GradientCheck, key: jax.Array) -> GradcheckRow:
    """Run one check in float32 and float64 (requires ``jax_enable_x64``)."""
    if not jax.config.jax_enable_x64:
        raise RuntimeError("gradient checks need jax.config.update('jax_enable_x64', True)")
    errs = {}
    for dtype in (jnp.float32, jnp.float64):
        args = check.make_args(key, dtype)
        hand = jax.jit(check.grad)(*args)
        errs[dtype] = _max_rel(hand, jax.jit(jax.grad(check.loss, argnums=check.argnum))(*args))
    # args, hand: float64 from here on.
    size = jax.flatten_util.ravel_pytree(args[check.argnum])[0].size
    if size <= DIRECTIONAL_THRESHOLD:
        method = "coordinates"
        fd = _max_rel(finite_difference_grad(check.loss, args, check.argnum), hand)
    else:
        method = f"{check.num_directions} directions"
        fd = directional_error(check.loss, hand, args, check.argnum, jax.random.fold_in(key, 1),
                               num_directions=check.num_directions)
    second = passes_check_grads(check, args) if check.twice_differentiable else None
    ok = (errs[jnp.float32] <= check.rtol32 and errs[jnp.float64] <= check.rtol64 and fd <= check.fd_rtol
          and second is not False)
    return GradcheckRow(check.name, errs[jnp.float32], errs[jnp.float64], fd, bool(ok), method, second)


def run_gradchecks(names=None, seed: int = 0) -> list[GradcheckRow]:
    """Every registered check (or those in ``names``), as table rows. The registry holds what the
    imported families registered: call ``jaxml.families.import_families()`` first."""
    unknown = [n for n in (names or []) if n not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown gradient checks {unknown}; registered: {sorted(REGISTRY)}")
    key = jax.random.key(seed)
    selected = [REGISTRY[n] for n in (names or sorted(REGISTRY))]
    return [compare_gradients(c, jax.random.fold_in(key, i)) for i, c in enumerate(selected)]


def format_table(rows: list[GradcheckRow]) -> str:
    """A Markdown table of the gradient checks."""
    lines = [
        "| gradient | rel. err. vs autodiff f32 | rel. err. vs autodiff f64 | rel. err. vs finite diff. f64 "
        "| finite diff. along | check_grads order 2 | ok |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        second = "n/a" if r.check_grads is None else ("pass" if r.check_grads else "FAIL")
        lines.append(f"| {r.name} | {r.err32:.2e} | {r.err64:.2e} | {r.fd64:.2e} | {r.fd_method} | {second} "
                     f"| {'yes' if r.ok else 'NO'} |")
    return "\n".join(lines)


__all__ = [
    "DIRECTIONAL_THRESHOLD",
    "REGISTRY",
    "GradientCheck",
    "GradcheckRow",
    "compare_gradients",
    "directional_error",
    "finite_difference_grad",
    "format_table",
    "passes_check_grads",
    "register_gradient",
    "run_gradchecks",
    "with_hand_vjp",
]
