"""What every jaxml estimator shares: float64 compute, scikit-learn validation, numpy out.

Pattern (see ``_linear.py``): the estimator's ``fit`` validates with
``sklearn.utils.validation.validate_data`` (dtype float64), then calls a jitted jaxml function
defined at module level (so it compiles once per input shape, not once per call) inside
``float64()``, and stores fitted attributes as numpy arrays.
"""

from __future__ import annotations

import jax
import numpy as np


def float64():
    """Context in which JAX computes in float64 without changing the user's global setting."""
    return jax.enable_x64(True)


def key_from_random_state(random_state) -> jax.Array:
    """A JAX key from scikit-learn's ``random_state`` (None, an int or a ``RandomState``).

    The seed is one int drawn from ``sklearn.utils.check_random_state(random_state)``: the same
    ``random_state`` gives the same key (and model), though not scikit-learn's own random draws.
    """
    from sklearn.utils import check_random_state

    return jax.random.key(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def to_numpy(x) -> np.ndarray:
    """A jax array (or pytree leaf) as a numpy array on the host."""
    return np.asarray(jax.device_get(x))


__all__ = ["float64", "key_from_random_state", "to_numpy"]
