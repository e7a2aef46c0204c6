"""Property-based checks: optimality conditions that must hold for any data, not just our fixtures."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxml.linear import ridge, ridge_grad, soft_threshold

SETTINGS = settings(max_examples=25, deadline=None)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 30), d=st.integers(1, 8),
       lam=st.floats(1e-4, 10.0))
def test_ridge_solution_zeroes_the_gradient(seed, n, d, lam):
    with jax.enable_x64(True):
        kx, ky = jax.random.split(jax.random.key(seed))
        X = jax.random.normal(kx, (n, d), jnp.float64)
        y = jax.random.normal(ky, (n,), jnp.float64)
        w = ridge(X, y, lam)
        g = ridge_grad(w, X, y, lam)
        scale = float(jnp.abs(X.T @ y).max()) / n + 1.0
        assert float(jnp.abs(g).max()) <= 1e-10 * scale


@SETTINGS
@given(z=st.floats(-1e3, 1e3), t=st.floats(0.0, 1e3))
def test_soft_threshold_is_the_prox_of_the_l1_norm(z, t):
    with jax.enable_x64(True):
        x = float(soft_threshold(jnp.float64(z), t))
        objective = lambda v: 0.5 * (v - z) ** 2 + t * abs(v)
        # the prox minimizes ½(x − z)² + t|x|: no nearby point does better
        for v in (x - 1e-3, x + 1e-3, 0.0, z):
            assert objective(x) <= objective(v) + 1e-9 * (1 + abs(z))
        assert np.sign(x) in (0.0, np.sign(z))
