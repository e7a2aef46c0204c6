"""The MLP's forward pass against a NumPy reference, its hand backward pass against jax.grad
(float64, 1e-10 relative) per sample and batched, the initializations' variances, training through
``fit`` on the hand VJP against autodiff, the gradient checks (and that they catch a wrong
backward pass), and the errors on bad input."""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.core.gradcheck import DIRECTIONAL_THRESHOLD, REGISTRY, GradientCheck, compare_gradients
from jaxml.core.train import fit
from jaxml.nn.mlp import (
    ACTIVATIONS,
    GRADCHECK_NETS,
    LARGE_GRADCHECK_NET,
    cross_entropy_grad,
    cross_entropy_loss,
    gradcheck_name,
    mlp_apply,
    mlp_backward,
    mlp_forward,
    mlp_init,
    mlp_loss,
    mlp_loss_hand_vjp,
    mse_grad,
    mse_loss,
)

SIZES = (4, 7, 5, 3)
LOSS_AND_GRAD = {"mse": (mse_loss, mse_grad), "cross_entropy": (cross_entropy_loss, cross_entropy_grad)}
NUMPY_ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}


def _max_rel(a, b) -> float:
    """max |a − b| / max |b| over the flattened pytrees."""
    fa = np.concatenate([np.ravel(x) for x in jax.tree.leaves(a)])
    fb = np.concatenate([np.ravel(x) for x in jax.tree.leaves(b)])
    return float(np.max(np.abs(fa - fb)) / np.max(np.abs(fb)))


def _problem(loss_name, dtype, num_samples=5, sizes=SIZES, seed=0):
    """He weights with nonzero biases, Gaussian inputs, Gaussian targets or labels."""
    k_init, k_b, k_x, k_y = jax.random.split(jax.random.key(seed), 4)
    params = mlp_init(k_init, sizes, dtype=dtype)
    params = [{"W": p["W"], "b": 0.1 * jax.random.normal(jax.random.fold_in(k_b, i), p["b"].shape, dtype)}
              for i, p in enumerate(params)]
    X = jax.random.normal(k_x, (num_samples, sizes[0]), dtype)
    if loss_name == "mse":
        target = jax.random.normal(k_y, (num_samples, sizes[-1]), dtype)
    else:
        target = jax.random.randint(k_y, (num_samples,), 0, sizes[-1])
    return params, X, target


@functools.partial(jax.jit, static_argnums=(0, 1))
def _all_gradients(loss_name, activation, params, X, target):
    """Hand and autodiff gradients, per sample (vmapped over rows: x of shape (D,)) and batched."""
    loss, grad = LOSS_AND_GRAD[loss_name]
    loss = functools.partial(loss, activation=activation)
    grad = functools.partial(grad, activation=activation)
    per_sample_hand = jax.vmap(grad, in_axes=(None, 0, 0))(params, X, target)
    per_sample_auto = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0))(params, X, target)
    return per_sample_hand, per_sample_auto, grad(params, X, target), jax.grad(loss)(params, X, target)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss_name", ["mse", "cross_entropy"])
def test_hand_gradients_equal_autodiff_per_sample_and_batched(loss_name, activation, x64):
    params, X, target = _problem(loss_name, jnp.float64)
    per_hand, per_auto, batch_hand, batch_auto = _all_gradients(loss_name, activation, params, X, target)
    assert _max_rel(per_hand, per_auto) <= 1e-10
    assert _max_rel(batch_hand, batch_auto) <= 1e-10
    # Both losses are means over the batch: the batched gradient is the mean per-sample gradient.
    mean_per_sample = jax.tree.map(lambda g: jnp.mean(g, axis=0), per_hand)
    assert _max_rel(mean_per_sample, batch_hand) <= 1e-12
    assert jax.tree.structure(batch_hand) == jax.tree.structure(params)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_equals_numpy_reference_per_sample_and_batched(activation, x64):
    params, X, _ = _problem("mse", jnp.float64)
    h = np.asarray(X)
    for l, layer in enumerate(params):
        h = h @ np.asarray(layer["W"]) + np.asarray(layer["b"])[None, :]
        if l < len(params) - 1:
            h = NUMPY_ACTIVATIONS[activation](h)
    batched = mlp_apply(params, X, activation=activation)
    np.testing.assert_allclose(batched, h, rtol=1e-12, atol=1e-12)
    rows = np.stack([mlp_apply(params, x, activation=activation) for x in X])
    np.testing.assert_allclose(rows, h, rtol=1e-12, atol=1e-12)
    out, cache = mlp_forward(params, X, activation=activation)
    assert len(cache.inputs) == len(cache.pre_activations) == len(params)
    np.testing.assert_array_equal(cache.inputs[0], X)
    np.testing.assert_array_equal(cache.pre_activations[-1], out)
    phi = ACTIVATIONS[activation][0]
    for l in range(1, len(params)):
        np.testing.assert_allclose(cache.inputs[l], phi(cache.pre_activations[l - 1]), rtol=1e-15)


def test_mlp_backward_takes_any_output_cotangent(x64):
    # ∂⟨c, ŷ⟩/∂θ for a fixed c is the VJP of the forward pass: mlp_backward from δ⁽ᴸ⁾ = c.
    params, X, _ = _problem("mse", jnp.float64)
    c = jax.random.normal(jax.random.key(3), (X.shape[0], SIZES[-1]), jnp.float64)
    _, cache = mlp_forward(params, X, activation="sigmoid")
    hand = mlp_backward(params, cache, c, activation="sigmoid")
    auto = jax.grad(lambda p: jnp.sum(c * mlp_apply(p, X, activation="sigmoid")))(params)
    assert _max_rel(hand, auto) <= 1e-10


@pytest.mark.parametrize(("init", "variance"), [
    ("he", lambda n_in, n_out: 2 / n_in),
    ("xavier", lambda n_in, n_out: 2 / (n_in + n_out)),
    ("normal", lambda n_in, n_out: 0.3**2),
])
def test_init_variances(init, variance):
    sizes = (800, 400, 10)
    params = mlp_init(jax.random.key(0), sizes, init=init, scale=0.3)
    assert [p["W"].shape for p in params] == [(800, 400), (400, 10)]
    assert all(p["W"].dtype == jnp.float32 and p["b"].dtype == jnp.float32 for p in params)
    W = np.asarray(params[0]["W"], np.float64)
    # 320 000 entries: the sample variance is within ~0.25% (one standard error) of the truth.
    assert np.var(W) == pytest.approx(variance(800, 400), rel=0.02)
    assert abs(np.mean(W)) <= 0.01 * np.std(W)
    for p in params:
        np.testing.assert_array_equal(p["b"], 0)
    # Different layers use independent draws.
    assert not np.allclose(params[1]["W"][:10, :10], params[0]["W"][:10, :10])


def _fit_both(loss_name, activation, dtype, num_steps=100):
    params, _, _ = _problem(loss_name, dtype, sizes=(4, 16, 16, 3))
    kx, ky = jax.random.split(jax.random.key(5))
    X = jax.random.normal(kx, (256, 4), dtype)
    if loss_name == "mse":
        y = jnp.tanh(X[:, :3] * X[:, 1:]) + 0.1 * jax.random.normal(ky, (256, 3), dtype)
    else:
        y = jnp.argmax(X[:, :3] + 0.5 * X[:, 1:], axis=1)
    histories = []
    for loss in (mlp_loss(loss_name, activation), mlp_loss_hand_vjp(loss_name, activation)):
        result = fit(loss, optax.adam(1e-2), params, (X, y), key=jax.random.key(7), num_steps=num_steps,
                     batch_size=32, progress=False)
        histories.append(result.history["loss"])
    return histories


@pytest.mark.parametrize(("loss_name", "activation"), [("mse", "tanh"), ("cross_entropy", "relu")])
def test_fit_on_the_hand_vjp_follows_the_autodiff_curve_float64(loss_name, activation, x64):
    auto, hand = _fit_both(loss_name, activation, jnp.float64)
    assert auto.shape == hand.shape == (100,)
    assert auto[-1] < 0.7 * auto[0]  # it trains
    np.testing.assert_allclose(hand, auto, rtol=1e-10)


def test_fit_on_the_hand_vjp_follows_the_autodiff_curve_float32():
    # The same gradients rounded differently (the hand pass sums in another order): over 100 Adam
    # steps the float32 curves drift apart by ~1.5e-6 relative at most (measured; 7e-7 for CE-ReLU).
    auto, hand = _fit_both("mse", "tanh", jnp.float32)
    assert auto.dtype == np.float32
    np.testing.assert_allclose(hand, auto, rtol=2e-5)


def test_hand_vjp_loss_gradients_in_params_inputs_and_targets(x64):
    params, X, y = _problem("mse", jnp.float64)
    auto = jax.grad(mlp_loss("mse", "tanh"), argnums=(0, 1))(params, (X, y))
    hand = jax.grad(mlp_loss_hand_vjp("mse", "tanh"), argnums=(0, 1))(params, (X, y))
    assert _max_rel(hand, auto) <= 1e-10
    assert _max_rel(hand[1][0], auto[1][0]) <= 1e-10  # ∂L/∂x = W⁽¹⁾δ⁽¹⁾
    assert _max_rel(hand[1][1], auto[1][1]) <= 1e-10  # ∂L/∂y = −δ⁽ᴸ⁾
    params, X, labels = _problem("cross_entropy", jnp.float64)
    value_auto, g_auto = jax.value_and_grad(mlp_loss("cross_entropy", "relu"))(params, (X, labels))
    value_hand, g_hand = jax.value_and_grad(mlp_loss_hand_vjp("cross_entropy", "relu"))(params, (X, labels))
    assert float(value_hand) == pytest.approx(float(value_auto), rel=1e-14)
    assert _max_rel(g_hand, g_auto) <= 1e-10


def test_gradchecks_are_registered_at_several_depths():
    names = {gradcheck_name(*net) for net in (*GRADCHECK_NETS, LARGE_GRADCHECK_NET)}
    assert names <= set(REGISTRY)
    assert {act for _, act, _ in GRADCHECK_NETS} == set(ACTIVATIONS)
    assert {loss for loss, _, _ in GRADCHECK_NETS} == {"mse", "cross_entropy"}
    assert len({len(sizes) for _, _, sizes in GRADCHECK_NETS}) >= 3
    for loss, act, _ in GRADCHECK_NETS:
        assert REGISTRY[gradcheck_name(loss, act, _)].twice_differentiable is (act != "relu")


def _grad_without_phi_prime(params, x, y):
    """The MSE backward pass with the φ'(z⁽ˡ⁾) factor dropped: δ⁽ˡ⁾ = W⁽ˡ⁺¹⁾δ⁽ˡ⁺¹⁾ (wrong)."""
    out, cache = mlp_forward(params, x, activation="tanh")
    delta = 2 * (out - y) / out.size
    grads = [None] * len(params)
    for l in reversed(range(len(params))):
        grads[l] = {"W": cache.inputs[l].T @ delta, "b": jnp.sum(delta, axis=0)}
        delta = delta @ params[l]["W"].T
    return grads


def test_the_check_catches_a_backward_pass_without_phi_prime(x64):
    # The registered check itself passes in tests/core/test_gradcheck.py (jaxml.nn is a family).
    good = REGISTRY[gradcheck_name("mse", "tanh", (4, 16, 16, 16, 3))]
    wrong = GradientCheck("nn.mlp_mse_tanh_without_phi_prime", good.loss, _grad_without_phi_prime, good.make_args,
                          twice_differentiable=False)
    row = compare_gradients(wrong, jax.random.key(1))
    assert not row.ok
    assert row.err64 > 1e-2 and row.fd64 > 1e-2, row


def test_million_parameter_net_is_checked_along_directions_in_seconds(x64):
    check = REGISTRY[gradcheck_name(*LARGE_GRADCHECK_NET)]
    params = check.make_args(jax.random.key(0), jnp.float32)[0]
    size = sum(p.size for p in jax.tree.leaves(params))
    assert 0.95e6 <= size <= 1.05e6 and size > DIRECTIONAL_THRESHOLD
    start = time.process_time()
    row = compare_gradients(check, jax.random.key(1))
    cpu_seconds = time.process_time() - start
    assert row.fd_method == "8 directions", row
    assert row.ok and row.err64 <= 1e-10 and row.check_grads is True, row
    assert cpu_seconds < 30, cpu_seconds  # ~5 s of CPU measured (compiles included)


# ----------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("sizes", [(3,), [], (3, 0, 2), (3, 2.5), (3, -1), "34", 5, (3, True)])
def test_init_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        mlp_init(jax.random.key(0), sizes)


def test_init_rejects_unknown_init_and_bad_scale():
    with pytest.raises(ValueError, match=r"init must be one of \('he', 'xavier', 'normal'\)"):
        mlp_init(jax.random.key(0), (3, 2), init="glorot")
    with pytest.raises(ValueError, match="scale"):
        mlp_init(jax.random.key(0), (3, 2), init="normal", scale=0.0)


@pytest.fixture(scope="module")
def small():
    params = mlp_init(jax.random.key(0), (3, 4, 2))
    return params, jnp.ones((5, 3)), jnp.zeros((5, 2)), jnp.zeros((5,), jnp.int32)


def test_unknown_activation(small):
    params, X, y, _ = small
    for call in (lambda: mlp_apply(params, X, activation="gelu"),
                 lambda: mse_grad(params, X, y, activation="gelu"),
                 lambda: mlp_loss_hand_vjp("mse", "gelu")):
        with pytest.raises(ValueError, match=r"activation must be one of \('relu', 'sigmoid', 'tanh'\)"):
            call()
    with pytest.raises(ValueError, match="loss_name"):
        mlp_loss("hinge")


def test_input_rank_and_width(small):
    params, X, _, _ = small
    with pytest.raises(ValueError, match=r"x must be 1-D \(D,\) or 2-D \(B, D\) with D = 3"):
        mlp_apply(params, X[None])
    with pytest.raises(ValueError, match="x must be 1-D"):
        mlp_apply(params, jnp.ones(()))
    with pytest.raises(ValueError, match=r"x has 4 features but the first layer expects 3"):
        mlp_apply(params, jnp.ones((5, 4)))
    with pytest.raises(ValueError, match=r"x has 2 features but the first layer expects 3"):
        jax.jit(mlp_apply)(params, jnp.ones((2,)))  # shapes are checked inside jit too


def test_params_must_chain(small):
    params, X, y, _ = small
    broken = [params[0], {"W": jnp.ones((5, 2)), "b": jnp.zeros(2)}]
    with pytest.raises(ValueError, match="params: layer 1 expects 5 inputs .* layer 0 outputs 4"):
        mlp_apply(broken, X)
    with pytest.raises(ValueError, match=r"params\[0\] \(layer 0\)"):
        mlp_apply([{"W": params[0]["W"], "b": jnp.zeros(3)}, params[1]], X)
    with pytest.raises(ValueError, match=r"params\[1\] \(layer 1\) must be a mapping"):
        mse_loss([params[0], params[1]["W"]], X, y)
    with pytest.raises(ValueError, match="params must be a non-empty list"):
        mlp_apply([], X)


def test_targets_and_labels(small):
    params, X, y, labels = small
    with pytest.raises(ValueError, match=r"y must have the network output's shape \(5, 2\)"):
        mse_loss(params, X, y[:, :1])
    with pytest.raises(ValueError, match="labels must hold one integer class per sample"):
        cross_entropy_loss(params, X, labels[:4])
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        cross_entropy_grad(params, X, labels.astype(jnp.float32))
    with pytest.raises(ValueError, match="y must have"):
        jax.grad(mlp_loss_hand_vjp("mse", "relu"))(params, (X, y[:3]))
    # A K = 1 network accepts targets of shape (B,).
    one = mlp_init(jax.random.key(1), (3, 4, 1))
    assert mse_loss(one, X, y[:, 0]) == pytest.approx(float(mse_loss(one, X, y[:, :1])))
