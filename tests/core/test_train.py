import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.core.data import make_linear_regression
from jaxml.core.train import (
    TrainState,
    create_train_state,
    fit,
    make_train_step,
    sample_batch,
)


def squared_loss(w, batch):
    X, y = batch
    return 0.5 * jnp.mean((y - X @ w) ** 2)


TRACES = {"n": 0}


def counted_loss(w, batch):
    TRACES["n"] += 1  # runs only while JAX traces the function
    X, y = batch
    return 0.5 * jnp.mean((y - X @ w) ** 2)


def aux_loss(w, batch):
    X, y = batch
    e = y - X @ w
    return 0.5 * jnp.mean(e**2), {"max_abs_residual": jnp.max(jnp.abs(e))}


SGD = optax.sgd(0.05)
ADAM = optax.adam(0.05)


@pytest.fixture
def problem(key):
    return make_linear_regression(key, 200, 4, noise=0.01)


def test_full_batch_gd_reaches_least_squares_solution(x64, key):
    X, y, _ = make_linear_regression(key, 100, 3, noise=0.1, dtype=jnp.float64)
    result = fit(squared_loss, optax.sgd(0.5), jnp.zeros(3), (X, y), key=key, num_steps=500, progress=False)
    w_star, *_ = np.linalg.lstsq(np.asarray(X), np.asarray(y), rcond=None)
    np.testing.assert_allclose(result.state.params, w_star, rtol=1e-9)
    assert result.history["loss"].shape == (500,)
    assert int(result.state.step) == 500
    # loss history is the loss BEFORE each update: it must decrease monotonically for GD here.
    assert np.all(np.diff(result.history["loss"]) <= 1e-12)


def test_fit_equals_a_python_loop_of_train_steps(problem, key):
    X, y, _ = problem
    data_key = jax.random.key(7)
    result = fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=data_key, num_steps=30, batch_size=16, progress=False)
    step = jax.jit(make_train_step(squared_loss, SGD))
    state = create_train_state(jnp.zeros(4), SGD)
    losses = []
    for t in range(30):
        state, metrics = step(state, sample_batch(data_key, t, (X, y), 16))
        losses.append(float(metrics["loss"]))
    np.testing.assert_allclose(result.state.params, state.params, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.history["loss"], losses, rtol=1e-5)
    grads = jax.grad(squared_loss)(jnp.zeros(4), sample_batch(data_key, 0, (X, y), 16))
    np.testing.assert_allclose(result.history["grad_norm"][0], jnp.linalg.norm(grads), rtol=1e-5)


def test_minibatches_depend_on_key_and_step_only(problem):
    X, y, _ = problem
    k = jax.random.key(3)
    a = sample_batch(k, 5, (X, y), 8)
    b = sample_batch(k, 5, (X, y), 8)
    c = sample_batch(k, 6, (X, y), 8)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(np.asarray(a[0]), np.asarray(c[0]))


def test_same_key_gives_bit_identical_runs_and_chunking_does_not_change_them(problem):
    X, y, _ = problem
    k = jax.random.key(11)
    kwargs = dict(key=k, num_steps=60, batch_size=8, progress=False)
    one = fit(squared_loss, ADAM, jnp.zeros(4), (X, y), **kwargs)
    two = fit(squared_loss, ADAM, jnp.zeros(4), (X, y), **kwargs)
    chunked = fit(squared_loss, ADAM, jnp.zeros(4), (X, y), chunk_size=7, **kwargs)
    np.testing.assert_array_equal(one.state.params, two.state.params)
    np.testing.assert_array_equal(one.state.params, chunked.state.params)
    np.testing.assert_array_equal(one.history["loss"], chunked.history["loss"])
    other = fit(squared_loss, ADAM, jnp.zeros(4), (X, y), **{**kwargs, "key": jax.random.key(12)})
    assert not np.array_equal(np.asarray(one.state.params), np.asarray(other.state.params))


def test_train_step_traced_once_over_a_run_and_across_runs(problem):
    X, y, _ = problem
    TRACES["n"] = 0
    tx = optax.sgd(0.01)
    fit(counted_loss, tx, jnp.zeros(4), (X, y), key=jax.random.key(0), num_steps=40, chunk_size=10,
        batch_size=8, progress=False)
    assert TRACES["n"] == 1
    fit(counted_loss, tx, jnp.ones(4), (X, y), key=jax.random.key(1), num_steps=40, chunk_size=10,
        batch_size=8, progress=False)
    assert TRACES["n"] == 1


def test_has_aux_metrics_and_eval_fn_called_per_chunk(problem):
    X, y, _ = problem
    seen = []

    def eval_fn(params):
        seen.append(params)
        return {"full_loss": squared_loss(params, (X, y))}

    result = fit(aux_loss, SGD, jnp.zeros(4), (X, y), key=jax.random.key(0), num_steps=20,
                 has_aux=True, chunk_size=5, eval_fn=eval_fn, progress=False)
    assert "max_abs_residual" in result.history
    assert [s for s, _ in result.evals] == [5, 10, 15, 20]
    np.testing.assert_allclose(result.evals[-1][1]["full_loss"], squared_loss(result.state.params, (X, y)), rtol=1e-6)
    # the residual reported at step 0 is that of the initial parameters (w = 0): max |y|.
    np.testing.assert_allclose(result.history["max_abs_residual"][0], jnp.max(jnp.abs(y)), rtol=1e-6)


def test_fit_does_not_invalidate_the_callers_arrays(problem):
    X, y, _ = problem
    w0 = jnp.zeros(4)
    state = create_train_state(w0, SGD)
    fit(squared_loss, SGD, state, (X, y), key=jax.random.key(0), num_steps=3, progress=False)
    np.testing.assert_array_equal(w0, np.zeros(4))  # would raise if w0 had been donated
    assert isinstance(state, TrainState) and int(state.step) == 0


def test_fit_continues_from_a_train_state(problem):
    X, y, _ = problem
    k = jax.random.key(2)
    full = fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=k, num_steps=20, batch_size=8, progress=False)
    half = fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=k, num_steps=10, batch_size=8, progress=False)
    rest = fit(squared_loss, SGD, half.state, (X, y), key=k, num_steps=20, batch_size=8, progress=False)
    np.testing.assert_array_equal(full.state.params, rest.state.params)


def test_bad_arguments(problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="num_steps"):
        fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=jax.random.key(0), num_steps=-1)
    with pytest.raises(ValueError, match="batch_size"):
        fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=jax.random.key(0), num_steps=1, batch_size=0)
    with pytest.raises(ValueError, match="leading"):
        fit(squared_loss, SGD, jnp.zeros(4), (X, y[:10]), key=jax.random.key(0), num_steps=1)
