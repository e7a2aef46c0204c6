"""jaxml.nn.layers: batch norm and layer norm against brute-force numpy and jax.vjp, their registered
hand backward passes, dropout, weight decay both ways, and the batch-norm MLP trained through fit
(on sklearn digits, and data-parallel over 8 emulated devices in a subprocess)."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_digits

from jaxml.core.gradcheck import REGISTRY, compare_gradients
from jaxml.core.train import fit
from jaxml.nn.layers import (
    batch_norm,
    batch_norm_backward,
    bn_mlp_apply,
    bn_mlp_init,
    dropout,
    init_running_stats,
    l2_penalty,
    layer_norm,
    layer_norm_backward,
    make_bn_mlp_loss,
    weight_decay_demo,
)

WORKER = Path(__file__).with_name("_bn_parallel_worker.py")


def _random(seed, shape):
    return np.random.default_rng(seed).normal(size=shape)


def _numpy_batch_norm(x, gamma, beta, running, eps, momentum, axis):
    """Channel by channel, straight from the definition."""
    x = np.moveaxis(x, axis, -1)
    y = np.empty_like(x)
    new_mean, new_var = np.empty_like(gamma), np.empty_like(gamma)
    for c in range(x.shape[-1]):
        values = x[..., c].ravel()
        mu, var = values.mean(), ((values - values.mean()) ** 2).mean()
        y[..., c] = gamma[c] * (x[..., c] - mu) / np.sqrt(var + eps) + beta[c]
        new_mean[c] = (1 - momentum) * running["mean"][c] + momentum * mu
        new_var[c] = (1 - momentum) * running["var"][c] + momentum * np.var(values, ddof=1)
    return np.moveaxis(y, -1, axis), {"mean": new_mean, "var": new_var}


@pytest.mark.parametrize("shape, axis", [((16, 5), -1), ((3, 4, 5, 6), -1), ((3, 6, 4, 5), 1)])
def test_batch_norm_training_matches_brute_force(x64, shape, axis):
    x = 3.0 * _random(0, shape) + 2.0
    C = shape[axis]
    gamma, beta = 1.0 + _random(1, C), _random(2, C)
    running = {"mean": _random(3, C), "var": 1.0 + np.abs(_random(4, C))}
    y, new = batch_norm(jnp.asarray(x), jnp.asarray(gamma), jnp.asarray(beta), running=running, train=True,
                        momentum=0.2, eps=1e-3, axis=axis)
    y_ref, new_ref = _numpy_batch_norm(x, gamma, beta, running, 1e-3, 0.2, axis)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(new["mean"], new_ref["mean"], rtol=1e-12)
    np.testing.assert_allclose(new["var"], new_ref["var"], rtol=1e-12)  # unbiased: PyTorch's running var
    # each output channel is standardized (up to ε) before γ, β
    z = np.moveaxis((np.asarray(y) - beta.reshape([-1 if i == axis % len(shape) else 1 for i in range(len(shape))]))
                    / gamma.reshape([-1 if i == axis % len(shape) else 1 for i in range(len(shape))]), axis, -1)
    np.testing.assert_allclose(z.reshape(-1, C).mean(0), 0.0, atol=1e-12)


def test_batch_norm_evaluation_uses_the_running_averages(x64):
    x, gamma, beta = _random(0, (7, 3)), 1.0 + _random(1, 3), _random(2, 3)
    running = {"mean": _random(3, 3), "var": 0.5 + np.abs(_random(4, 3))}
    y, same = batch_norm(x, gamma, beta, running=running, train=False, eps=1e-5)
    np.testing.assert_allclose(y, gamma * (x - running["mean"]) / np.sqrt(running["var"] + 1e-5) + beta, rtol=1e-12)
    assert same is running
    # in evaluation a row's output is the same alone as in any batch
    alone, _ = batch_norm(x[:1], gamma, beta, running=running, train=False)
    np.testing.assert_allclose(alone, y[:1], rtol=1e-12)


def test_batch_norm_over_a_named_axis_equals_the_global_batch(x64):
    """A batch split in 4 parts mapped over axis_name gives the statistics of the whole batch."""
    x, gamma, beta = _random(0, (4, 6, 3)) + 1.0, 1.0 + _random(1, 3), _random(2, 3)
    running = init_running_stats(3, jnp.float64)
    mapped = jax.vmap(lambda part: batch_norm(part, gamma, beta, running=running, train=True, axis_name="devices"),
                      axis_name="devices")
    y_parts, stats_parts = mapped(jnp.asarray(x))
    y_global, stats = batch_norm(jnp.asarray(x.reshape(24, 3)), gamma, beta, running=running, train=True)
    np.testing.assert_allclose(y_parts.reshape(24, 3), y_global, rtol=1e-12, atol=1e-12)
    for k in ("mean", "var"):
        np.testing.assert_allclose(stats_parts[k], np.broadcast_to(stats[k], (4, 3)), rtol=1e-12)
    # and differs from normalizing each part on its own
    y_local, _ = jax.vmap(lambda part: batch_norm(part, gamma, beta, train=True))(jnp.asarray(x))
    assert np.max(np.abs(y_local.reshape(24, 3) - y_global)) > 1e-2


def test_layer_norm_matches_brute_force(x64):
    x, gamma, beta = 2.0 * _random(0, (2, 5, 7)) + 1.0, 1.0 + _random(1, 7), _random(2, 7)
    y = layer_norm(jnp.asarray(x), gamma, beta, 1e-4)
    mu = x.mean(-1, keepdims=True)
    ref = gamma * (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-4) + beta
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, axis", [((9, 4), -1), ((2, 3, 3, 4), -1), ((2, 4, 3, 3), 1)])
def test_batch_norm_backward_equals_the_vjp(x64, shape, axis):
    x, d_y = jnp.asarray(_random(0, shape) + 1.0), jnp.asarray(_random(1, shape))
    C = shape[axis]
    gamma, beta = jnp.asarray(1.0 + _random(2, C)), jnp.asarray(_random(3, C))
    _, vjp = jax.vjp(lambda x, g, b: batch_norm(x, g, b, train=True, eps=1e-3, axis=axis)[0], x, gamma, beta)
    for hand, auto in zip(batch_norm_backward(x, gamma, d_y, 1e-3, axis=axis), vjp(d_y), strict=True):
        np.testing.assert_allclose(hand, auto, rtol=1e-10, atol=1e-12)


def test_layer_norm_backward_equals_the_vjp(x64):
    x, d_y = jnp.asarray(_random(0, (3, 4, 6))), jnp.asarray(_random(1, (3, 4, 6)))
    gamma, beta = jnp.asarray(1.0 + _random(2, 6)), jnp.asarray(_random(3, 6))
    _, vjp = jax.vjp(lambda x, g, b: layer_norm(x, g, b, 1e-3), x, gamma, beta)
    for hand, auto in zip(layer_norm_backward(x, gamma, d_y, 1e-3), vjp(d_y), strict=True):
        np.testing.assert_allclose(hand, auto, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["nn.batch_norm", "nn.batch_norm_nhwc", "nn.layer_norm"])
def test_registered_gradient_checks(x64, name):
    check = REGISTRY[name]
    row = compare_gradients(check, jax.random.key(1))
    assert row.ok and row.err64 <= 1e-10 and row.check_grads, row


def test_dropout_keeps_the_mean_and_drops_at_the_rate():
    x = jnp.full((200, 500), 3.0)
    y = dropout(jax.random.key(0), x, 0.3, train=True)
    kept = np.asarray(y != 0)
    assert abs(kept.mean() - 0.7) < 0.01  # 10⁵ Bernoulli(0.7): std 0.0015
    np.testing.assert_allclose(np.asarray(y)[kept], 3.0 / 0.7, rtol=1e-6)  # inverted: 1/(1 − p)
    assert abs(float(jnp.mean(y)) - 3.0) < 0.05
    assert dropout(jax.random.key(0), x, 0.3, train=False) is x
    assert dropout(jax.random.key(0), x, 0.0, train=True) is x
    # traced rate (a sweep): same draw
    np.testing.assert_array_equal(jax.jit(lambda r: dropout(jax.random.key(0), x, r, train=True))(0.3), y)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_rates_outside_zero_one(rate):
    with pytest.raises(ValueError, match="rate"):
        dropout(jax.random.key(0), jnp.ones(3), rate, train=True)


def test_l2_penalty_value_and_gradient(x64):
    params = {"W": jnp.asarray(_random(0, (3, 2))), "b": jnp.asarray(_random(1, 2))}
    value = l2_penalty(params, 0.3)
    np.testing.assert_allclose(value, 0.15 * (np.sum(params["W"] ** 2) + np.sum(params["b"] ** 2)), rtol=1e-12)
    grads = jax.grad(l2_penalty)(params, 0.3)
    for k in params:
        np.testing.assert_allclose(grads[k], 0.3 * params[k], rtol=1e-12)


def test_weight_decay_coincides_for_sgd_and_not_for_adam(x64):
    sgd = weight_decay_demo(optimizer="sgd", learning_rate=0.01, weight_decay=0.1, num_steps=100)
    # θ ← θ − η(∇L + λθ) both ways: the same trajectory (bit for bit on XLA:CPU)
    np.testing.assert_allclose(sgd["decoupled_theta"], sgd["l2_theta"], rtol=1e-13, atol=1e-15)
    assert sgd["l2_theta"].shape == (101, 2) and sgd["l2_loss"].shape == (100,)
    adam = weight_decay_demo(optimizer="adam", learning_rate=0.05, weight_decay=0.1, num_steps=400)
    # Adam on L + λ/2‖θ‖² settles at the ridge minimizer; AdamW's fixed point m̂/√v̂ = −λθ is elsewhere
    key = jax.random.key(0)
    kx, kn = jax.random.split(key)
    X = np.asarray(jax.random.normal(kx, (64, 2))) * np.array([[1.0, 10.0]])
    y = X @ np.array([2.0, -0.5]) + 0.1 * np.asarray(jax.random.normal(kn, (64,)))
    ridge = np.linalg.solve(X.T @ X / 64 + 0.1 * np.eye(2), X.T @ y / 64)
    np.testing.assert_allclose(adam["l2_theta"][-1], ridge, atol=2e-3)
    assert np.max(np.abs(adam["decoupled_theta"][-1] - ridge)) > 0.05
    assert np.max(np.abs(adam["decoupled_theta"] - adam["l2_theta"])) > 0.05


# ---- the normalized MLP


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(y))
    train, test = perm[:1400], perm[1400:]
    return jnp.asarray(X[train]), jnp.asarray(y[train]), jnp.asarray(X[test]), jnp.asarray(y[test])


@pytest.fixture(scope="module")
def trained(digits):
    X, y, _, _ = digits
    params, state = bn_mlp_init(jax.random.key(0), [64, 64, 64, 10], norm="batch")
    loss = make_bn_mlp_loss(norm="batch", dropout_rate=0.1)
    result = fit(loss, optax.adam(3e-3), params, (X, y), key=jax.random.key(1), num_steps=300, batch_size=64,
                 model_state=state, with_key=True, progress=False)
    return state, result


def _accuracy(params, state, X, y, norm):
    logits, _ = bn_mlp_apply(params, state, X, train=False, norm=norm)
    return float(jnp.mean(jnp.argmax(logits, axis=1) == y))


def test_bn_mlp_trains_on_digits_through_fit(digits, trained):
    _, _, X_test, y_test = digits
    initial_state, result = trained
    assert _accuracy(result.state.params, result.state.model_state, X_test, y_test, "batch") > 0.96
    assert result.history["loss"][-20:].mean() < 0.2 * result.history["loss"][0]
    # the running statistics were updated from (0, 1) by the steps
    for before, after in zip(initial_state, result.state.model_state, strict=True):
        assert np.max(np.abs(after["mean"] - before["mean"])) > 0.1
        assert np.max(np.abs(after["var"] - before["var"])) > 0.1


@pytest.mark.parametrize("norm", ["layer", None])
def test_mlp_without_batch_norm_trains_on_digits(digits, norm):
    X, y, X_test, y_test = digits
    params, state = bn_mlp_init(jax.random.key(0), [64, 32, 10], norm=norm)
    assert state == []
    result = fit(make_bn_mlp_loss(norm=norm), optax.adam(3e-3), params, (X, y), key=jax.random.key(1),
                 num_steps=200, batch_size=64, model_state=state, progress=False)
    assert _accuracy(result.state.params, result.state.model_state, X_test, y_test, norm) > 0.93


def test_evaluation_of_an_example_does_not_depend_on_its_batch(digits, trained):
    X, _, _, _ = digits
    _, result = trained
    params, state = result.state.params, result.state.model_state
    first = X[:1]
    other_batch = jnp.concatenate([first, X[100:131]])
    batch = jnp.concatenate([first, X[1:32]])
    evaluate = jax.jit(lambda x: bn_mlp_apply(params, state, x, train=False)[0])
    np.testing.assert_allclose(evaluate(batch)[0], evaluate(first)[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(evaluate(other_batch)[0], evaluate(first)[0], rtol=1e-5, atol=1e-5)
    train_out = jax.jit(lambda x: bn_mlp_apply(params, state, x, train=True)[0])
    assert np.max(np.abs(train_out(batch)[0] - train_out(other_batch)[0])) > 1e-2
    # dropout is on in training only, and needs a key
    with pytest.raises(ValueError, match="key"):
        bn_mlp_apply(params, state, batch, train=True, dropout_rate=0.5)
    a = bn_mlp_apply(params, state, batch, train=True, dropout_rate=0.5, key=jax.random.key(0))[0]
    b = bn_mlp_apply(params, state, batch, train=True, dropout_rate=0.5, key=jax.random.key(1))[0]
    assert np.max(np.abs(a - b)) > 1e-2


def test_data_parallel_equals_one_device_and_rejects_an_indivisible_batch(tmp_path):
    out = tmp_path / "bn_parallel.npz"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, str(WORKER), "8", str(out)], env=env, check=True, timeout=300)
    r = np.load(out)
    assert int(r["device_count"]) == 8 and bool(r["all_reduce"])
    np.testing.assert_allclose(r["par_params"], r["single_params"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r["par_stats"], r["single_stats"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(r["par_loss"], r["single_loss"], rtol=1e-5)
    assert np.max(np.abs(r["single_stats"] - r["init_stats"])) > 0.05  # the statistics moved
    assert r["single_loss"][-5:].mean() < 0.8 * r["single_loss"][0]  # and the network trained
    assert "60" in str(r["error"]) and "divisible" in str(r["error"])


# ---- bad input


def test_bad_input_names_the_argument():
    x, g = jnp.ones((4, 3)), jnp.ones(3)
    with pytest.raises(ValueError, match="gamma"):
        batch_norm(x, jnp.ones(4), g, train=True)
    with pytest.raises(ValueError, match="beta"):
        batch_norm(x, g, jnp.ones((3, 1)), train=True)
    with pytest.raises(ValueError, match="gamma"):
        batch_norm(jnp.ones((2, 3, 3, 5)), g, g, train=True)  # NHWC: the channels are the last axis
    with pytest.raises(ValueError, match="eps"):
        batch_norm(x, g, g, train=True, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        layer_norm(x, g, g, -1e-5)
    with pytest.raises(ValueError, match="gamma"):
        layer_norm(x, jnp.ones(2), g)
    with pytest.raises(ValueError, match="beta"):
        layer_norm(x, g, jnp.ones(4))
    with pytest.raises(ValueError, match="gamma"):
        batch_norm_backward(x, jnp.ones(2), x)
    with pytest.raises(ValueError, match="d_y"):
        layer_norm_backward(x, g, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="running"):
        batch_norm(x, g, g, train=False)
    with pytest.raises(ValueError, match="momentum"):
        batch_norm(x, g, g, running=init_running_stats(3), train=True, momentum=1.5)
    with pytest.raises(ValueError, match="more than one value"):
        batch_norm(jnp.ones((1, 3)), g, g, train=True)
    with pytest.raises(ValueError, match="norm"):
        bn_mlp_init(jax.random.key(0), [2, 3], norm="group")
    with pytest.raises(ValueError, match="sizes"):
        bn_mlp_init(jax.random.key(0), [2])
    params, state = bn_mlp_init(jax.random.key(0), [2, 3, 1])
    with pytest.raises(ValueError, match="features"):
        bn_mlp_apply(params, state, jnp.ones((4, 5)), train=False)
    with pytest.raises(ValueError, match="norm=None"):
        bn_mlp_apply(params, state, jnp.ones((4, 2)), train=False, norm=None)
