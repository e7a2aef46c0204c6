"""Workarounds for XLA:CPU behaviour, kept in one place so that the algorithms read like the math.

``after(value, *previous)``: XLA:CPU runs independent operations concurrently, and jaxlib's LAPACK
kernels (eigh, cholesky, svd, triangular solves, batched) fan their batch out into the same
thread pool and wait for it. Two such kernels in flight at once deadlock that pool on a 2-core
machine (seen with jax/jaxlib 0.10.2, also under ``vmap`` where both branches of a ``lax.cond``
run). Making the input of the second call depend on the output of the first orders them. An
``optimization_barrier`` does not: it does not order XLA:CPU's executor, only a true data
dependency does. The dependency costs one scalar multiply-add.

Remove when jaxlib's CPU LAPACK kernels no longer share (and block) the executor's pool: run
``tests/unsupervised`` and ``tests/linear`` (which call the batched factorizations under
``vmap``) without it on a 2-core machine.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def after(value, *previous):
    """``value``, made to depend on every array in ``previous`` (None entries are skipped).

    Numerically ``value + 0·Σ_p p[first element]``: the same value, but XLA cannot start
    computing on it before every ``previous`` array exists, so a LAPACK call that reads it runs
    after the LAPACK calls that produced ``previous``.
    """
    deps = [p for p in previous if p is not None]
    if not deps:
        return value
    value = jnp.asarray(value)
    zero = jnp.zeros((), value.dtype)
    for p in deps:
        leaf = jax.tree.leaves(p)[0]
        zero = zero * jnp.ravel(leaf)[0].astype(value.dtype)
    return value + zero


__all__ = ["after"]
