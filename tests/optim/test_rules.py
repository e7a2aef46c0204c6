"""The course's update rules: numpy references of their definitions, optax equivalences,
convergence on a parabola and Rosenbrock (optimizers × dtypes), fit without retracing, errors."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.core.train import batch_indices, fit
from jaxml.optim import (
    adam,
    gd,
    inverse_sqrt_decay,
    inverse_time_decay,
    momentum,
    sgd,
    sign_sgd,
)

# ----------------------------------------------------------------- numpy references


def numpy_gd(w, grads, lr):
    for t, g in enumerate(grads):
        w = w - lr(t) * g
    return w


def numpy_momentum(w, grads, lr, beta):
    m = np.zeros_like(w)
    for t, g in enumerate(grads):
        m = beta * m + (1 - beta) * g
        w = w - lr(t) * m
    return w


def numpy_adam(w, grads, lr, b1, b2, eps, bias_correction):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m, v
        if bias_correction:
            m_hat = m / (1 - b1 ** (t + 1))
            v_hat = v / (1 - b2 ** (t + 1))
        w = w - lr(t) * m_hat / (np.sqrt(v_hat) + eps)
    return w


def numpy_sign_sgd(w, grads, lr):
    for t, g in enumerate(grads):
        w = w - lr(t) * np.sign(g)
    return w


def run_rule(tx, w0, grads):
    """Apply tx to a fixed sequence of gradients (params as a two-leaf pytree)."""
    params = {"a": jnp.asarray(w0[:3]), "b": jnp.asarray(w0[3:]).reshape(2, 2)}
    state = tx.init(params)
    for g in grads:
        g_tree = {"a": jnp.asarray(g[:3]), "b": jnp.asarray(g[3:]).reshape(2, 2)}
        updates, state = tx.update(g_tree, state, params)
        params = optax.apply_updates(params, updates)
    return np.concatenate([np.asarray(params["a"]), np.asarray(params["b"]).ravel()])


CONSTANT = 0.05
DECAYING = inverse_time_decay(0.05, 5.0)
SCHEDULES = {
    "constant": (CONSTANT, lambda t: CONSTANT),
    "inverse_time": (DECAYING, lambda t: 0.05 / (1 + t / 5.0)),
}
RULES = {
    "gd": (lambda lr: gd(lr), numpy_gd),
    "sgd": (lambda lr: sgd(lr), numpy_gd),
    "momentum": (lambda lr: momentum(lr, beta=0.8), lambda w, g, lr: numpy_momentum(w, g, lr, 0.8)),
    "adam": (
        lambda lr: adam(lr, 0.8, 0.95, 1e-6),
        lambda w, g, lr: numpy_adam(w, g, lr, 0.8, 0.95, 1e-6, True),
    ),
    "adam_no_bias_correction": (
        lambda lr: adam(lr, 0.8, 0.95, 1e-6, bias_correction=False),
        lambda w, g, lr: numpy_adam(w, g, lr, 0.8, 0.95, 1e-6, False),
    ),
    "sign_sgd": (lambda lr: sign_sgd(lr), numpy_sign_sgd),
}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_equals_numpy_definition(rule, schedule, x64):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=7)
    grads = rng.normal(size=(25, 7))
    grads[3, 2] = 0.0  # sign(0) = 0 for sign-SGD
    make, reference = RULES[rule]
    lr, lr_np = SCHEDULES[schedule]
    got = run_rule(make(lr), w0, grads)
    want = reference(w0, grads, lr_np)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adam_equals_optax_adam_step_for_step(x64):
    """On a problem whose gradient depends on the iterate (so errors would compound)."""

    def loss(w):
        return jnp.sum(jnp.sin(3 * w) + 0.5 * w**2) + 0.1 * jnp.sum(w[:-1] * w[1:])

    w_ours = w_optax = jnp.linspace(-2.0, 2.0, 6)
    ours, reference = adam(0.03), optax.adam(0.03)
    s_ours, s_optax = ours.init(w_ours), reference.init(w_optax)
    for _ in range(50):
        u, s_ours = ours.update(jax.grad(loss)(w_ours), s_ours, w_ours)
        w_ours = w_ours + u
        u, s_optax = reference.update(jax.grad(loss)(w_optax), s_optax, w_optax)
        w_optax = w_optax + u
        np.testing.assert_allclose(w_ours, w_optax, rtol=1e-13, atol=1e-15)
    assert not np.allclose(w_ours, jnp.linspace(-2.0, 2.0, 6), atol=0.1)  # it moved


@pytest.mark.parametrize("use_schedule", [False, True])
def test_momentum_equals_rescaled_optax_heavy_ball(use_schedule, x64):
    """m = (1−β)·(optax trace): momentum(γ, β) == optax.sgd(γ(1−β), momentum=β)."""
    beta = 0.7
    if use_schedule:
        ours = momentum(inverse_sqrt_decay(0.1), beta)
        reference = optax.sgd(inverse_sqrt_decay(0.1 * (1 - beta)), momentum=beta)
    else:
        ours, reference = momentum(0.1, beta), optax.sgd(0.1 * (1 - beta), momentum=beta)

    def loss(w):
        return jnp.sum(jnp.cos(w) * w**2)

    w1 = w2 = jnp.array([0.5, -1.5, 2.0])
    s1, s2 = ours.init(w1), reference.init(w2)
    for _ in range(40):
        u, s1 = ours.update(jax.grad(loss)(w1), s1, w1)
        w1 = w1 + u
        u, s2 = reference.update(jax.grad(loss)(w2), s2, w2)
        w2 = w2 + u
    np.testing.assert_allclose(w1, w2, rtol=1e-12, atol=1e-14)


def test_schedules_formulas():
    t = jnp.arange(6)
    np.testing.assert_allclose(
        inverse_time_decay(2.0, 4.0)(t), 2.0 / (1 + np.arange(6) / 4.0), rtol=1e-6
    )
    np.testing.assert_allclose(
        inverse_sqrt_decay(2.0)(t), 2.0 / np.sqrt(1 + np.arange(6)), rtol=1e-6
    )
    assert np.all(np.diff(np.asarray(inverse_sqrt_decay(1.0, 3.0)(t))) < 0)


def test_float32_params_stay_float32_under_float64_schedule(x64):
    tx = adam(inverse_time_decay(0.1, 10.0))
    w = jnp.ones(3, jnp.float32)
    updates, state = tx.update(jnp.ones(3, jnp.float32), tx.init(w), w)
    assert updates.dtype == jnp.float32
    assert state.mu.dtype == jnp.float32 and state.nu.dtype == jnp.float32


# ----------------------------------------------------------------- convergence


def parabola(w, batch):
    del batch
    return jnp.sum((w - jnp.array([1.0, -1.0, 1.0], w.dtype)) ** 2)


def rosenbrock(w, batch):
    del batch
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


PROBLEMS = {
    "parabola": (parabola, [-1.0, 10.0, 1.0], [1.0, -1.0, 1.0]),
    "rosenbrock": (rosenbrock, [0.0, 0.0], [1.0, 1.0]),
}
# (optimizer, steps) per problem; sign-SGD needs a decreasing step to stop oscillating.
OPTIMIZERS = {
    ("gd", "parabola"): (gd(0.1), 200),
    ("gd", "rosenbrock"): (gd(1e-3), 20_000),
    ("sgd", "parabola"): (sgd(optax.exponential_decay(0.2, 50, 0.5)), 300),
    ("sgd", "rosenbrock"): (sgd(inverse_time_decay(1.5e-3, 1e5)), 20_000),
    ("momentum", "parabola"): (momentum(0.1), 300),
    ("momentum", "rosenbrock"): (momentum(5e-3, 0.9), 10_000),
    ("adam", "parabola"): (adam(0.05), 1000),
    ("adam", "rosenbrock"): (adam(inverse_time_decay(0.02, 1000.0)), 10_000),
    ("sign_sgd", "parabola"): (sign_sgd(inverse_time_decay(0.1, 100.0)), 5000),
    ("sign_sgd", "rosenbrock"): (sign_sgd(optax.exponential_decay(0.01, 1000, 0.7)), 30_000),
}
NO_DATA = jnp.zeros((1,))


@pytest.mark.parametrize(
    "name,problem,dtype",
    [(n, p, d) for (n, p), d in itertools.product(OPTIMIZERS, ["float32", "float64"])],
)
def test_converges_to_known_optimum(name, problem, dtype):
    loss_fn, w0, w_star = PROBLEMS[problem]
    tx, num_steps = OPTIMIZERS[(name, problem)]
    with jax.enable_x64(dtype == "float64"):
        w0 = jnp.asarray(w0, dtype)
        result = fit(
            loss_fn, tx, w0, NO_DATA, key=jax.random.key(0), num_steps=num_steps, progress=False
        )
        w = result.state.params
        assert w.dtype == jnp.dtype(dtype)
        np.testing.assert_allclose(w, w_star, atol=2e-3)
        assert float(loss_fn(w, None)) < 1e-5


# ----------------------------------------------------------------- through fit


TRACES = {"n": 0}


def counted_least_squares(w, batch):
    TRACES["n"] += 1  # runs only while tracing
    X, y = batch
    return 0.5 * jnp.mean((y - X @ w) ** 2)


@pytest.mark.parametrize(
    "tx",
    [gd(0.1), sgd(inverse_time_decay(0.1, 50.0)), momentum(0.1), adam(0.05), sign_sgd(0.05)],
    ids=["gd", "sgd", "momentum", "adam", "sign_sgd"],
)
def test_fit_does_not_retrace_second_call(tx, key):
    X = jax.random.normal(key, (64, 3))
    y = X @ jnp.array([1.0, -2.0, 0.5])
    w0 = jnp.zeros(3)
    first = fit(
        counted_least_squares, tx, w0, (X, y), key=key, num_steps=30, batch_size=8, progress=False
    )
    traces = TRACES["n"]
    assert traces >= 1
    second = fit(
        counted_least_squares, tx, w0, (X, y), key=key, num_steps=30, batch_size=8, progress=False
    )
    assert TRACES["n"] == traces
    np.testing.assert_array_equal(first.state.params, second.state.params)
    full_loss = lambda w: 0.5 * float(jnp.mean((y - X @ w) ** 2))
    assert full_loss(second.state.params) < 0.5 * full_loss(w0)


def test_sgd_through_fit_equals_numpy_minibatch_loop(key, x64):
    """fit(batch_size=B) with sgd is w ← w − γ ∇L_B(w) on the indices fit draws."""
    kx, kw, kb = jax.random.split(key, 3)
    X = jax.random.normal(kx, (50, 4), jnp.float64)
    y = X @ jax.random.normal(kw, (4,), jnp.float64)
    steps, batch, lr = 40, 5, 0.05
    result = fit(
        counted_least_squares,
        sgd(lr),
        jnp.zeros(4),
        (X, y),
        key=kb,
        num_steps=steps,
        batch_size=batch,
        progress=False,
    )
    Xn, yn, w = np.asarray(X), np.asarray(y), np.zeros(4)
    for t in range(steps):
        idx = np.asarray(batch_indices(kb, t, 50, batch))
        Xb, yb = Xn[idx], yn[idx]
        w = w - lr * (-(Xb.T @ (yb - Xb @ w)) / batch)
    np.testing.assert_allclose(result.state.params, w, rtol=1e-12)


def test_vmap_over_learning_rate_equals_loop(x64):
    """A sweep over γ runs in one vmap with optax.inject_hyperparams."""
    tx = optax.inject_hyperparams(momentum)(learning_rate=0.1, beta=0.9)
    lrs = jnp.array([0.01, 0.05, 0.2])
    w0 = jnp.array([3.0, -2.0])

    def run(state, w, n=30):
        def body(carry, _):
            w, s = carry
            u, s = tx.update(jax.grad(lambda v: jnp.sum(v**4 + v**2))(w), s, w)
            return (w + u, s), None

        return jax.lax.scan(body, (w, state), None, length=n)[0][0]

    def with_lr(lr):
        state = tx.init(w0)
        state.hyperparams["learning_rate"] = lr
        return run(state, w0)

    swept = jax.jit(jax.vmap(with_lr))(lrs)
    for i, lr in enumerate(lrs):
        single = momentum(float(lr), 0.9)
        w, s = w0, single.init(w0)
        for _ in range(30):
            u, s = single.update(jax.grad(lambda v: jnp.sum(v**4 + v**2))(w), s, w)
            w = w + u
        np.testing.assert_allclose(swept[i], w, rtol=1e-12)


# ----------------------------------------------------------------- bad hyper-parameters


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: gd(-0.1), "learning_rate"),
        (lambda: sgd(float("nan")), "learning_rate"),
        (lambda: momentum(-1.0), "learning_rate"),
        (lambda: momentum(0.1, beta=1.0), "beta"),
        (lambda: momentum(0.1, beta=-0.2), "beta"),
        (lambda: adam(-1e-3), "learning_rate"),
        (lambda: adam(1e-3, b1=1.0), "b1"),
        (lambda: adam(1e-3, b2=1.5), "b2"),
        (lambda: adam(1e-3, eps=-1.0), "eps"),
        (lambda: sign_sgd(-0.5), "learning_rate"),
        (lambda: inverse_time_decay(-1.0), "init_value"),
        (lambda: inverse_time_decay(1.0, 0.0), "time_scale"),
        (lambda: inverse_sqrt_decay(1.0, -2.0), "time_scale"),
    ],
)
def test_bad_hyperparameters_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()
