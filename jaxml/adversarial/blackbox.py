"""Black-box, score-based attacks: the input gradient estimated from model queries alone.

The attacker sees only a score f(x) (a loss computed from the model's output scores), one query
per evaluation of the model on one input. Two estimators of g = ∇f(x), x ∈ ℝᴰ:

  central differences:  ĝᵢ = (f(x + h eᵢ) − f(x − h eᵢ)) / 2h,  i = 1..D          (2D queries)
      error O(h²) from truncation plus O(u·|f|/h) from rounding (u the unit roundoff);
  NES / random directions (antithetic Gaussian, Ilyas et al., 2018):
      ĝ = (1 / (2σn)) Σⱼ (f(x + σuⱼ) − f(x − σuⱼ)) uⱼ,  uⱼ ~ N(0, I),  j = 1..n      (2n queries)
      E ĝ = ∇f_σ(x), the gradient of f smoothed by N(0, σ²I); variance O(D/n).

``score_based_attack`` runs the L∞ (or L2) PGD iteration of ``jaxml.adversarial.attacks`` on the
estimate, xᵗ⁺¹ = Π(xᵗ + α sign(ĝ(xᵗ))), as many steps as the query budget allows, and reports
the queries it spent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.adversarial.attacks import _direction, _validate, project, softmax_cross_entropy
from jaxml.core.checks import check_array, check_choice, check_int, check_scalar
from jaxml.core.types import Array, PRNGKey

ESTIMATORS = ("fd", "nes")


def finite_difference_gradient(score: Callable, x: Array, *, h: float = 1e-4) -> Array:
    """ĝᵢ = (f(x + h eᵢ) − f(x − h eᵢ)) / 2h for every coordinate of x (any shape, D entries).

    The 2D queries x ± h eᵢ go to ``score`` as one vmapped call. Uses 2D queries.
    """
    check_scalar(h, "h", minimum=0.0, strict_min=True)
    check_array(x, "x")
    x = jnp.asarray(x)
    return _finite_difference_gradient(score, x, jnp.asarray(h, x.dtype))


@functools.partial(jax.jit, static_argnames=("score",))
def _finite_difference_gradient(score, x, h):
    flat = x.ravel()
    steps = h * jnp.eye(flat.size, dtype=x.dtype)
    queries = jnp.concatenate([flat[None] + steps, flat[None] - steps]).reshape((2 * flat.size, *x.shape))
    values = jax.vmap(score)(queries)
    return ((values[: flat.size] - values[flat.size:]) / (2 * h)).reshape(x.shape)


def nes_gradient(score: Callable, x: Array, *, key: PRNGKey, num_queries: int = 100, sigma: float = 1e-3) -> Array:
    """ĝ = (1/(2σn)) Σⱼ (f(x + σuⱼ) − f(x − σuⱼ)) uⱼ with n = ``num_queries``/2 Gaussian directions uⱼ.

    Antithetic pairs cancel the even part of f around x (f(x) itself and the curvature term),
    so ĝ is unbiased for the gradient of the Gaussian-smoothed f. Uses exactly ``num_queries``
    queries (an even number ≥ 2).
    """
    num_queries = check_int(num_queries, "num_queries", minimum=2)
    if num_queries % 2:
        raise ValueError(f"num_queries must be even (antithetic pairs), got {num_queries}")
    check_scalar(sigma, "sigma", minimum=0.0, strict_min=True)
    check_array(x, "x")
    x = jnp.asarray(x)
    return _nes_gradient(score, x, key, jnp.asarray(sigma, x.dtype), num_queries // 2)


@functools.partial(jax.jit, static_argnames=("score", "num_pairs"))
def _nes_gradient(score, x, key, sigma, num_pairs):
    u = jax.random.normal(key, (num_pairs, *x.shape), x.dtype)
    values = jax.vmap(score)(jnp.concatenate([x[None] + sigma * u, x[None] - sigma * u]))
    diffs = values[:num_pairs] - values[num_pairs:]
    return jnp.tensordot(diffs, u, axes=1) / (2 * sigma * num_pairs)


def queries_per_step(estimator: str, dim: int, num_queries: int) -> int:
    """Queries one gradient estimate costs: 2D for central differences, ``num_queries`` for NES."""
    return 2 * dim if estimator == "fd" else num_queries


@functools.partial(jax.jit, static_argnames=("score_fn", "loss", "estimator", "norm", "steps", "num_pairs",
                                             "clip", "batched"))
def _score_based_attack(score_fn, loss, x, labels, eps, step_size, key, h, sigma, estimator, norm, steps,
                        num_pairs, clip, batched):
    def one(v, y, k):
        objective = lambda z: loss(score_fn(z), y)  # noqa: E731

        def body(t, x_t):
            if estimator == "fd":
                g = _finite_difference_gradient(objective, x_t, h)
            else:
                g = _nes_gradient(objective, x_t, jax.random.fold_in(k, t), sigma, num_pairs)
            return project(x_t + step_size * _direction(g, norm), v, eps, norm=norm, clip=clip)

        return jax.lax.fori_loop(0, steps, body, v)

    if batched:
        return jax.vmap(one)(x, labels, jax.random.split(key, x.shape[0]))
    return one(x, labels, key)


def _score_predict(score_fn):
    """``predict(params, x) = score_fn(x)``, one function per (hashable) black box, so that the
    validation's cache of the output shape, keyed on it, hits on the next call."""
    try:
        return _cached_score_predict(score_fn)
    except TypeError:  # an unhashable callable
        return lambda _, v: score_fn(v)


@functools.lru_cache(maxsize=64)
def _cached_score_predict(score_fn):
    return lambda _, v: score_fn(v)


def score_based_attack(score_fn: Callable, x: Array, label: Array, eps, *, estimator: str = "fd", steps: int = 10,
                       step_size=None, key: PRNGKey | None = None, clip=(0.0, 1.0), query_budget: int | None = None,
                       norm: str = "linf", num_queries: int = 100, h: float = 1e-4, sigma: float = 1e-3,
                       loss: Callable | None = None) -> tuple[Array, int]:
    """Untargeted PGD on an estimated gradient: xᵗ⁺¹ = Π(xᵗ + α d(ĝ(xᵗ))), x⁰ = x.

    ``score_fn(x) -> scores (K,)`` is the black box (one query per call on one input); the
    objective is f(x) = ℓ(score_fn(x), y), by default the softmax cross-entropy of the scores
    read as logits. ĝ is ``finite_difference_gradient`` (``estimator="fd"``, 2D queries a step)
    or ``nes_gradient`` (``"nes"``, ``num_queries`` a step); d = sign (L∞) or ĝ/‖ĝ‖₂ (L2);
    Π projects onto the ε-ball and ``clip``; α defaults to 2.5 ε / steps.

    The number of steps run is min(``steps``, ⌊``query_budget`` / queries per step⌋).

    Returns:
      (x', queries): the adversarial point(s) (shape of x) and the queries used per example.
    """
    check_choice(estimator, "estimator", ESTIMATORS)
    steps = check_int(steps, "steps", minimum=0)
    batched, clip = _validate(_score_predict(score_fn), None, x, label, eps, norm, clip)
    x = jnp.asarray(x)
    dim = int(np.prod(x.shape[1:] if batched else x.shape))
    if estimator == "nes":
        num_queries = check_int(num_queries, "num_queries", minimum=2)
        if num_queries % 2:
            raise ValueError(f"num_queries must be even (antithetic pairs), got {num_queries}")
        if key is None:
            raise ValueError("key is required for estimator='nes'")
    check_scalar(h, "h", minimum=0.0, strict_min=True)
    check_scalar(sigma, "sigma", minimum=0.0, strict_min=True)
    per_step = queries_per_step(estimator, dim, num_queries)
    if query_budget is not None:
        query_budget = check_int(query_budget, "query_budget", minimum=0)
        steps = min(steps, query_budget // per_step)
    if step_size is None:
        step_size = 2.5 * float(eps) / max(steps, 1)
    check_scalar(step_size, "step_size", minimum=0.0)
    key = jax.random.key(0) if key is None else key
    x_adv = _score_based_attack(score_fn, loss or softmax_cross_entropy, x, jnp.asarray(label),
                                jnp.asarray(eps, x.dtype), jnp.asarray(step_size, x.dtype), key,
                                jnp.asarray(h, x.dtype), jnp.asarray(sigma, x.dtype), estimator, norm, steps,
                                num_queries // 2, clip, batched)
    return x_adv, steps * per_step


__all__ = [
    "ESTIMATORS",
    "finite_difference_gradient",
    "nes_gradient",
    "queries_per_step",
    "score_based_attack",
]
