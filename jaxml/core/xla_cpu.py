"""Workarounds and settings for XLA:CPU, kept in one place so that the algorithms read like the math.

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

from typing import Any

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


# XLA:CPU vectorizes the loops it emits itself (element-wise fusions, the reductions it does not
# hand to YNNPACK) for 256-bit registers unless told otherwise, a default chosen for CPUs that
# lower their clock while running 512-bit instructions. Its matrix products and convolutions
# (YNNPACK) already use the widest registers the CPU has, so a training step runs such
# instructions either way. On the 2-core AMD EPYC (Zen 5) test machine, five pairs of
# `jaxml bench` runs alternating with and without 512-bit loops gave the CNN step 14.3–16.8 ms
# against 16.1–17.7 ms and the tiny MLP's 1 000 steps 25.5–27.0 ms against 29.2–31.8 ms (each
# pair faster with it); the MLP step's matrix products did not move. On a CPU without 512-bit
# registers the compiler keeps the widest it has.
CPU_COMPILER_OPTIONS: dict[str, Any] = {"xla_cpu_prefer_vector_width": 512}


def compiler_options(backend: str | None = None) -> dict[str, Any]:
    """The XLA options ``jaxml.core.train.fit`` compiles its training loop with on ``backend``
    (default ``jax.default_backend()``): on CPU, loops vectorized for 512-bit registers
    (``CPU_COMPILER_OPTIONS``); on other backends, none (XLA's defaults).

    Returns a new dict, for ``jax.jit(..., compiler_options=...)``.
    """
    return dict(CPU_COMPILER_OPTIONS) if (backend or jax.default_backend()) == "cpu" else {}


__all__ = ["CPU_COMPILER_OPTIONS", "after", "compiler_options"]
