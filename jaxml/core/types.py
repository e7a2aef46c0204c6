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

__all__ = ["Array", "Batch", "Metrics", "Params", "PRNGKey"]
