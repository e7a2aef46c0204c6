"""Type aliases shared by every family.

A ``Params`` is any pytree of arrays (usually a ``NamedTuple``); a ``Batch`` is a pytree of arrays
whose leaves share a leading sample axis of length N; a ``PRNGKey`` is a ``jax.random.key`` or a
raw ``uint32[2]`` key. Shapes are stated in each function's docstring.
"""

from __future__ import annotations

from typing import Any

import jax

Array = jax.Array
Params = Any
Batch = Any
PRNGKey = jax.Array
Metrics = dict[str, Array]


def float_dtype(*arrays_or_dtypes):
    """The floating dtype that computations on these inputs use.

    ``jnp.result_type(*inputs, float)``: an input's own floating dtype (float32 stays float32,
    float64 stays float64 under ``jax_enable_x64``), and the default float for integer or
    boolean inputs.
    """
    import jax.numpy as jnp

    return jnp.result_type(*(getattr(a, "dtype", a) for a in arrays_or_dtypes), float)


__all__ = ["Array", "Batch", "Metrics", "Params", "PRNGKey", "float_dtype"]
