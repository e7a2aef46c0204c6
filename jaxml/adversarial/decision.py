"""Black-box, decision-based attack: only the predicted label of a query is seen (Brendel et al., 2018).

For one example x ∈ ℝᴰ with label y and a black box c(x') ∈ {0, …, K−1} (one query per call),
the boundary attack keeps a point x̃ with c(x̃) ≠ y and shrinks d = ‖x̃ − x‖₂:

  start:          x̃⁰ adversarial (given, or the first of random uniform points in C = [lo, hi]ᴰ
                  classified differently from y);
  binary search:  x(λ) = (1 − λ) x + λ x̃⁰; keep [λ_lo, λ_hi] with c(x(λ_hi)) ≠ y, halve it
                  ``binary_steps`` times, x̃ = x(λ_hi)  (one query a halving);
  random walk:    u = x − x̃, d = ‖u‖, η ~ N(0, I) with its component along u removed and
                  rescaled to ‖η‖ = s_sph d; x' = x + d (x̃ + η − x)/‖x̃ + η − x‖ (back onto the
                  sphere of radius d around x), x'' = Π_C(x' + s_src (x − x'))  (a step towards x);
                  accept x̃ ← x'' iff c(x'') ≠ y and ‖x'' − x‖ < d  (one query a step).

Accepted points are adversarial by construction and d never grows. Each query is counted and
none is made once ``query_budget`` is spent (the counts are exact, per example). The step sizes
adapt: after an accepted step both grow by ``1.1``, after a rejected one they shrink by ``0.97``
(clipped to [1e-4, 1]), which keeps the acceptance rate moderate as the boundary gets flatter.
Everything runs in ``lax.fori_loop`` with per-example keys and is vmapped over a batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.adversarial.attacks import _check_batch, _check_clip, _l2_norm
from jaxml.core.checks import check_int, check_scalar, is_concrete
from jaxml.core.types import Array, PRNGKey

_GROW, _SHRINK, _MIN_STEP, _MAX_STEP = 1.1, 0.97, 1e-4, 1.0


def _one_example(label_fn, x, y, key, x_start, has_start, init_tries, binary_steps, steps, budget,
                 spherical_step, source_step, lo, hi):
    dtype = x.dtype
    k_init, k_walk = jax.random.split(key)

    def is_adversarial(v):
        return jnp.asarray(label_fn(v)) != y

    # --- an adversarial start -------------------------------------------------------------
    if has_start:
        found = is_adversarial(x_start) & (budget > 0)
        queries = jnp.minimum(budget, 1)
        start = x_start
    else:
        def search(i, carry):
            found, queries, start = carry
            candidate = jax.random.uniform(jax.random.fold_in(k_init, i), x.shape, dtype, lo, hi)
            ask = (~found) & (queries < budget)
            hit = ask & is_adversarial(candidate)
            return found | hit, queries + ask, jnp.where(hit, candidate, start)

        found, queries, start = jax.lax.fori_loop(
            0, init_tries, search, (jnp.asarray(False), jnp.asarray(0, jnp.int32), x))
    start_norm = jnp.where(found, _l2_norm(start - x), jnp.inf)

    # --- binary search towards x ------------------------------------------------------------
    def halve(_, carry):
        lam_lo, lam_hi, queries = carry
        mid = 0.5 * (lam_lo + lam_hi)
        ask = found & (queries < budget)
        adv = ask & is_adversarial((1 - mid) * x + mid * start)
        return jnp.where(adv, lam_lo, jnp.where(ask, mid, lam_lo)), jnp.where(adv, mid, lam_hi), queries + ask

    _, lam, queries = jax.lax.fori_loop(0, binary_steps, halve,
                                        (jnp.asarray(0, dtype), jnp.asarray(1, dtype), queries))
    x_adv = (1 - lam) * x + lam * start
    boundary_norm = jnp.where(found, _l2_norm(x_adv - x), jnp.inf)

    # --- random walk along the boundary -----------------------------------------------------
    def walk(t, carry):
        x_adv, queries, s_sph, s_src = carry
        u = x - x_adv
        d = _l2_norm(u)
        u_hat = u / jnp.where(d > 0, d, 1)
        eta = jax.random.normal(jax.random.fold_in(k_walk, t), x.shape, dtype)
        eta = eta - jnp.sum(eta * u_hat) * u_hat
        eta = eta * (s_sph * d / jnp.maximum(_l2_norm(eta), jnp.finfo(dtype).tiny))
        on_sphere = x_adv + eta - x
        on_sphere = x + on_sphere * (d / jnp.maximum(_l2_norm(on_sphere), jnp.finfo(dtype).tiny))
        candidate = jnp.clip(on_sphere + s_src * (x - on_sphere), lo, hi)
        ask = found & (queries < budget) & (d > 0)
        accept = ask & (_l2_norm(candidate - x) < d) & is_adversarial(candidate)
        x_adv = jnp.where(accept, candidate, x_adv)
        factor = jnp.where(accept, _GROW, jnp.where(ask, _SHRINK, 1.0)).astype(dtype)
        s_sph = jnp.clip(s_sph * factor, _MIN_STEP, _MAX_STEP)
        s_src = jnp.clip(s_src * factor, _MIN_STEP, _MAX_STEP)
        norm = jnp.where(found, _l2_norm(x_adv - x), jnp.inf)
        return (x_adv, queries + ask, s_sph, s_src), norm

    def scan_body(carry, t):
        return walk(t, carry)

    (x_adv, queries, _, _), norms = jax.lax.scan(
        scan_body, (x_adv, queries, spherical_step, source_step), jnp.arange(steps))
    x_adv = jnp.where(found, x_adv, x)
    history = jnp.concatenate([jnp.stack([start_norm, boundary_norm]), norms])
    return x_adv, queries, history


@functools.partial(jax.jit, static_argnames=("label_fn", "has_start", "init_tries", "binary_steps", "steps",
                                             "clip", "batched"))
def _boundary_attack(label_fn, x, labels, key, x_start, budget, spherical_step, source_step, has_start,
                     init_tries, binary_steps, steps, clip, batched):
    lo, hi = clip

    def one(v, y, k, s):
        return _one_example(label_fn, v, y, k, s, has_start, init_tries, binary_steps, steps, budget,
                            spherical_step, source_step, lo, hi)

    if batched:
        return jax.vmap(one)(x, labels, jax.random.split(key, x.shape[0]), x_start)
    return one(x, labels, key, x_start)


def boundary_attack(label_fn: Callable, x: Array, label: Array, *, key: PRNGKey, x_start: Array | None = None,
                    steps: int = 500, query_budget: int = 1000, spherical_step: float = 0.2,
                    source_step: float = 0.01, clip=(0.0, 1.0), init_tries: int = 50,
                    binary_steps: int = 10) -> tuple[Array, Array, Array]:
    """Label-only L2 boundary attack (see the module docstring for the iteration).

    Args:
      label_fn: the black box ``label_fn(x) -> integer label`` for one example (one query a call).
      x: one example (D...) with a scalar label, or a batch (N, D...) with labels (N,), inside ``clip``.
      label: the true label(s) y; the attack keeps c(x̃) ≠ y.
      key: randomness of the start search and of the walk (one key per example is split from it).
      x_start: adversarial starting point(s) shaped like x (checked with one query); ``None`` draws
        up to ``init_tries`` points uniformly from ``clip`` and keeps the first adversarial one.
      steps: random-walk steps (each one query).
      query_budget: no more label queries than this per example (start + search + walk).
      spherical_step, source_step: initial relative sizes s_sph, s_src of the orthogonal and the
        towards-x steps (both in (0, 1]); they adapt (×1.1 on success, ×0.97 on failure).
      clip: the data range (lo, hi); every query lies in it.
      binary_steps: halvings of the segment between x and the start.

    Returns:
      (x_adv, queries_used, norm_history): x_adv shaped like x (x itself where no adversarial
      start was found); queries (int32, per example) ≤ ``query_budget``; norm_history of shape
      (steps + 2,) per example: ‖x̃⁰ − x‖₂, the norm after the binary search, then after each
      walk step (non-increasing; ``inf`` where no start was found).
    Raises:
      ValueError: bad shapes, labels that are not integers, x (or x_start) outside ``clip``,
        negative counts, step sizes outside (0, 1].
    """
    clip = _check_clip(clip)
    if clip is None:
        raise ValueError("clip must be a finite data range (lo, hi): the start search and every query live in it")
    batched = _check_batch(x, label, "label")
    steps = check_int(steps, "steps", minimum=0)
    query_budget = check_int(query_budget, "query_budget", minimum=0)
    init_tries = check_int(init_tries, "init_tries", minimum=1)
    binary_steps = check_int(binary_steps, "binary_steps", minimum=0)
    check_scalar(spherical_step, "spherical_step", minimum=0.0, maximum=1.0, strict_min=True)
    check_scalar(source_step, "source_step", minimum=0.0, maximum=1.0, strict_min=True)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    for name, arr in (("x", x), ("x_start", x_start)):
        if arr is not None and is_concrete(arr):
            a = np.asarray(arr)
            if a.min() < clip[0] or a.max() > clip[1]:
                raise ValueError(f"{name} must lie in the data range clip={clip}, got values in "
                                 f"[{a.min():.4g}, {a.max():.4g}]")
    has_start = x_start is not None
    if has_start:
        x_start = jnp.asarray(x_start, x.dtype)
        if x_start.shape != x.shape:
            raise ValueError(f"x_start must have the shape of x {x.shape}, got {x_start.shape}")
    else:
        x_start = jnp.zeros_like(x)
    return _boundary_attack(label_fn, x, jnp.asarray(label), key, x_start, jnp.asarray(query_budget, jnp.int32),
                            jnp.asarray(spherical_step, x.dtype), jnp.asarray(source_step, x.dtype), has_start,
                            init_tries, binary_steps, steps, clip, batched)


__all__ = ["boundary_attack"]
