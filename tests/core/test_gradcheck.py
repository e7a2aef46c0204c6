"""Every hand-derived gradient registered in the package vs autodiff, finite differences and
check_grads; the checker itself on known-good and known-wrong gradients, up to 10⁶ parameters."""

import time

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

from jaxml.core.gradcheck import (
    DIRECTIONAL_THRESHOLD,
    REGISTRY,
    GradientCheck,
    compare_gradients,
    directional_error,
    finite_difference_grad,
    passes_check_grads,
    register_gradient,
    run_gradchecks,
    with_hand_vjp,
)
from jaxml.families import import_families

import_families()  # the families register their hand gradients on import
REGISTERED = sorted(REGISTRY)


def test_the_registry_is_populated():
    # Chapter 1 alone registers the least-squares, ridge and MAE gradients.
    assert len(REGISTERED) >= 3, REGISTERED


def test_core_imports_no_family():
    import subprocess
    import sys

    code = ("import sys, jaxml.core.gradcheck; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "[['jaxml', f] for f in ('linear', 'optim', 'selection', 'kernels', 'fairness', 'nn', "
            "'adversarial', 'unsupervised')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_gradient(name, x64):
    check = REGISTRY[name]
    row = compare_gradients(check, jax.random.key(1))
    assert row.err64 <= check.rtol64, row
    assert row.err32 <= check.rtol32, row
    assert row.fd64 <= check.fd_rtol, row
    assert row.check_grads is (True if check.twice_differentiable else None), row
    assert row.ok, row


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_gradient_passes_check_grads_through_the_hand_vjp(name, x64):
    check = REGISTRY[name]
    args = check.make_args(jax.random.key(2), jnp.float64)
    f = with_hand_vjp(check.loss, check.grad, args, check.argnum)
    order = 2 if check.twice_differentiable else 1
    jax.test_util.check_grads(f, (args[check.argnum],), order=order, modes=["rev"], eps=1e-6)


def _quadratic(w, A):
    """(1/2) wᵀAw, gradient Aw for symmetric A."""
    return 0.5 * w @ A @ w


def _make(key, dtype, n=4):
    k1, k2 = jax.random.split(key)
    M = jax.random.normal(k1, (n, n), dtype)
    return jax.random.normal(k2, (n,), dtype), M @ M.T / n + jnp.eye(n, dtype=dtype)


def test_a_wrong_gradient_is_caught(x64):
    good = GradientCheck("q.good", _quadratic, lambda w, A: A @ w, _make)
    wrong = GradientCheck("q.wrong", _quadratic, lambda w, A: A.T @ w * 1.001, _make)
    row = compare_gradients(good, jax.random.key(0))
    assert row.ok and row.check_grads and row.fd_method == "coordinates"
    bad = compare_gradients(wrong, jax.random.key(0))
    assert not bad.ok and bad.err64 > 1e-4 and bad.fd64 > 1e-4 and bad.check_grads is False


def test_check_grads_order_2_catches_a_gradient_that_cannot_be_differentiated_again(x64):
    # G(w) = A·stop_gradient(w) has the right value (order 1 passes) but autodiff through it gives
    # a zero Hessian while finite differences of G give A: order 2 fails, as it would for a hand
    # gradient that a Newton step or a Hessian-vector product differentiates again.
    check = GradientCheck("q.frozen", _quadratic, lambda w, A: A @ jax.lax.stop_gradient(w), _make)
    args = check.make_args(jax.random.key(0), jnp.float64)
    assert passes_check_grads(check, args, order=1)
    assert not passes_check_grads(check, args, order=2)
    row = compare_gradients(check, jax.random.key(0))
    assert row.fd64 < 1e-8 and row.check_grads is False and not row.ok


def test_finite_differences_match_a_known_gradient(x64):
    w, A = _make(jax.random.key(3), jnp.float64)
    fd = finite_difference_grad(_quadratic, (w, A))
    assert jnp.max(jnp.abs(fd - A @ w)) < 1e-8


def test_finite_differences_in_chunks_cover_every_coordinate(x64):
    # 300 coordinates in chunks of 64 (the last one partial): every coordinate computed once.
    w, A = _make(jax.random.key(4), jnp.float64, n=300)
    fd = finite_difference_grad(_quadratic, (w, A), chunk_size=64)
    np.testing.assert_allclose(fd, A @ w, rtol=0, atol=1e-7)
    # A fixed step in float32: truncation-free for a quadratic, rounding error ~ ε|L|/h.
    fd32 = finite_difference_grad(_quadratic, (w.astype(jnp.float32), A.astype(jnp.float32)), step=1e-2)
    assert fd32.dtype == jnp.float32
    assert 1e-6 < float(jnp.max(jnp.abs(fd32 - A @ w))) < 1e-2


def test_directional_check_sees_a_one_percent_error_on_a_block(x64):
    w, A = _make(jax.random.key(5), jnp.float64, n=400)
    g = A @ w
    key = jax.random.key(6)
    assert directional_error(_quadratic, g, (w, A), 0, key) < 1e-8
    wrong = g.at[:100].multiply(1.01)  # a quarter of the coordinates 1% off
    assert directional_error(_quadratic, wrong, (w, A), 0, key) > 1e-3


# ---- A 10⁶-parameter network: the checker's scaling ------------------------------------------

D_IN, HIDDEN, D_OUT, BATCH = 500, 1000, 500, 16  # 500·1000 + 1000 + 1000·500 + 500 = 1 001 500


def _mlp_loss(params, X, Y):
    """(1/2B) Σ_b ‖tanh(x_b W1 + b1) W2 + b2 − y_b‖²."""
    A = jnp.tanh(X @ params["W1"] + params["b1"][None, :])
    return 0.5 * jnp.sum((A @ params["W2"] + params["b2"][None, :] - Y) ** 2) / X.shape[0]


def _mlp_grad(params, X, Y, w1_factor=1.0):
    """Hand backprop: R = (out − Y)/B; ∂W2 = AᵀR, ∂b2 = Σ_b R; ∂Z = (R W2ᵀ) ⊙ (1 − A²);
    ∂W1 = Xᵀ∂Z, ∂b1 = Σ_b ∂Z. ``w1_factor`` ≠ 1 makes ∂W1 deliberately wrong."""
    A = jnp.tanh(X @ params["W1"] + params["b1"][None, :])
    R = (A @ params["W2"] + params["b2"][None, :] - Y) / X.shape[0]
    dZ = (R @ params["W2"].T) * (1 - A**2)
    return {"W1": w1_factor * (X.T @ dZ), "b1": jnp.sum(dZ, 0), "W2": A.T @ R, "b2": jnp.sum(R, 0)}


def _mlp_args(key, dtype):
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    params = {
        "W1": jax.random.normal(k1, (D_IN, HIDDEN), dtype) / np.sqrt(D_IN),
        "b1": 0.1 * jax.random.normal(k2, (HIDDEN,), dtype),
        "W2": jax.random.normal(k3, (HIDDEN, D_OUT), dtype) / np.sqrt(HIDDEN),
        "b2": jnp.zeros((D_OUT,), dtype),
    }
    return params, jax.random.normal(k4, (BATCH, D_IN), dtype), jax.random.normal(k5, (BATCH, D_OUT), dtype)


def test_a_million_parameter_network_is_checked_along_directions(x64, monkeypatch):
    good = register_gradient("test.mlp", loss=_mlp_loss, grad=_mlp_grad, make_args=_mlp_args)
    wrong = register_gradient("test.mlp_wrong", loss=_mlp_loss, make_args=_mlp_args,
                              grad=lambda p, X, Y: _mlp_grad(p, X, Y, w1_factor=1.01))
    try:
        size = sum(x.size for x in jax.tree.leaves(_mlp_args(jax.random.key(0), jnp.float32)[0]))
        assert size > 10**6 > DIRECTIONAL_THRESHOLD
        t0 = time.perf_counter()
        row = compare_gradients(good, jax.random.key(0))
        seconds = time.perf_counter() - t0
        assert row.fd_method == "8 directions"
        assert row.ok and row.fd64 < 1e-7 and row.check_grads, row
        assert seconds < 60, seconds  # a P×P identity would need 8 TB; this takes seconds
        bad = compare_gradients(wrong, jax.random.key(0))
        assert not bad.ok and bad.fd64 > 1e-4 and bad.check_grads is False, bad

        from jaxml.cli import main

        assert main(["gradcheck", "--only", "test.mlp_wrong"]) == 1
    finally:
        REGISTRY.pop("test.mlp", None)
        REGISTRY.pop("test.mlp_wrong", None)


def test_gradcheck_command_fails_on_a_wrong_gradient(capsys, monkeypatch):
    from jaxml.cli import main

    monkeypatch.setitem(REGISTRY, "q.wrong", GradientCheck("q.wrong", _quadratic, lambda w, A: 2 * A @ w, _make))
    assert main(["gradcheck", "--only", "q.wrong"]) == 1
    out = capsys.readouterr()
    assert "| q.wrong |" in out.out and "| NO |" in out.out and "q.wrong" in out.err


def test_gradcheck_command_passes_on_registered_gradients(capsys):
    from jaxml.cli import main

    assert main(["gradcheck", "--only", "linear.least_squares", "linear.ridge"]) == 0
    out = capsys.readouterr().out
    assert "| linear.ridge |" in out and "all 2 hand-derived gradients agree" in out


def test_unknown_gradient_name_is_a_clear_error(x64):
    with pytest.raises(ValueError, match="unknown gradient checks"):
        run_gradchecks(["no.such_gradient"])


def test_finite_differences_over_a_sweep_of_steps(x64):
    # One compiled call for several h: e(h) ≈ ε|L|/h + h²|L'''|/6 for L = Σ exp(w) (L''' = e^w).
    w = jnp.linspace(-1.0, 1.0, 5)
    steps = jnp.asarray([1e-10, 1e-5, 1e-1])
    fd = finite_difference_grad(lambda v: jnp.sum(jnp.exp(v)), (w,), step=steps)
    assert fd.shape == (3, 5)
    err = jnp.max(jnp.abs(fd - jnp.exp(w)[None, :]), axis=1)
    assert err[1] < 1e-9 < err[0] and err[1] < 1e-9 < err[2]
    np.testing.assert_allclose(err[2], jnp.max(jnp.exp(w)) * 0.1**2 / 6, rtol=0.01)
