"""Every hand-derived gradient registered in the package vs autodiff and finite differences."""

import jax
import jax.numpy as jnp
import jax.test_util
import pytest

from jaxml.core.gradcheck import (
    REGISTRY,
    GradientCheck,
    compare_gradients,
    finite_difference_grad,
    load_all_families,
)

load_all_families()
REGISTERED = sorted(REGISTRY)


def test_the_registry_is_populated():
    # Chapter 1 alone registers the least-squares, ridge and MAE gradients.
    assert len(REGISTERED) >= 3, REGISTERED


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_gradient(name, x64):
    row = compare_gradients(REGISTRY[name], jax.random.key(1))
    assert row.err64 <= REGISTRY[name].rtol64, row
    assert row.err32 <= REGISTRY[name].rtol32, row
    assert row.fd64 <= REGISTRY[name].fd_rtol, row


@pytest.mark.parametrize("name", REGISTERED)
def test_registered_gradient_passes_check_grads(name, x64):
    check = REGISTRY[name]
    args = check.make_args(jax.random.key(2), jnp.float64)
    f = lambda p: check.loss(*args[: check.argnum], p, *args[check.argnum + 1 :])
    jax.test_util.check_grads(f, (args[check.argnum],), order=1, modes=["rev"], eps=1e-6)


def _quadratic(w, A):
    return 0.5 * w @ A @ w


def _make(key, dtype):
    k1, k2 = jax.random.split(key)
    M = jax.random.normal(k1, (4, 4), dtype)
    return jax.random.normal(k2, (4,), dtype), M @ M.T + jnp.eye(4, dtype=dtype)


def test_a_wrong_gradient_is_caught(x64):
    good = GradientCheck("q.good", _quadratic, lambda w, A: A @ w, _make)
    wrong = GradientCheck("q.wrong", _quadratic, lambda w, A: A.T @ w * 1.001, _make)
    assert compare_gradients(good, jax.random.key(0)).ok
    bad = compare_gradients(wrong, jax.random.key(0))
    assert not bad.ok and bad.err64 > 1e-4 and bad.fd64 > 1e-4


def test_finite_differences_match_a_known_gradient(x64):
    w, A = _make(jax.random.key(3), jnp.float64)
    fd = finite_difference_grad(_quadratic, (w, A))
    assert jnp.max(jnp.abs(fd - A @ w)) < 1e-8


def test_gradcheck_command_fails_on_a_wrong_gradient(capsys, monkeypatch):
    from jaxml.cli import main

    monkeypatch.setitem(REGISTRY, "q.wrong", GradientCheck("q.wrong", _quadratic, lambda w, A: 2 * A @ w, _make))
    assert main(["gradcheck", "--only", "q.wrong"]) == 1
    assert "| q.wrong |" in capsys.readouterr().out
