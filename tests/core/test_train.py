import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.core import xla_cpu
from jaxml.core.data import make_linear_regression
from jaxml.core.train import (
    TrainState,
    create_train_state,
    epoch_batch_indices,
    fit,
    make_train_step,
    sample_batch,
    step_key,
)


def squared_loss(w, batch):
    X, y = batch
    return 0.5 * jnp.mean((y - X @ w) ** 2)


@chex.assert_max_traces(n=1)
def traced_once_loss(w, batch):
    return squared_loss(w, batch)


@chex.assert_max_traces(n=1)
def traced_once_through_a_lambda(w, batch):
    return squared_loss(w, batch)


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
        state, metrics = step(state, sample_batch(data_key, t, (X, y), 16), step_key(data_key, t))
        losses.append(float(metrics["loss"]))
    np.testing.assert_allclose(result.state.params, state.params, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.history["loss"], losses, rtol=1e-5)
    grads = jax.grad(squared_loss)(jnp.zeros(4), sample_batch(data_key, 0, (X, y), 16))
    np.testing.assert_allclose(result.history["grad_norm"][0], jnp.linalg.norm(grads), rtol=1e-5)


def test_grad_norm_false_drops_only_that_metric(problem):
    X, y, _ = problem
    k = jax.random.key(7)
    full = fit(aux_loss, ADAM, jnp.zeros(4), (X, y), key=k, num_steps=12, batch_size=16, has_aux=True, progress=False)
    lean = fit(aux_loss, ADAM, jnp.zeros(4), (X, y), key=k, num_steps=12, batch_size=16, has_aux=True, progress=False,
               grad_norm=False)
    assert set(full.history) == {"loss", "grad_norm", "max_abs_residual"}
    assert set(lean.history) == {"loss", "max_abs_residual"}
    np.testing.assert_array_equal(lean.state.params, full.state.params)
    np.testing.assert_array_equal(lean.history["loss"], full.history["loss"])
    # the lean step is its own compiled program, not the cached one that records the norm
    again = fit(aux_loss, ADAM, jnp.zeros(4), (X, y), key=k, num_steps=12, batch_size=16, has_aux=True, progress=False)
    assert "grad_norm" in again.history


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
    kwargs = dict(num_steps=40, chunk_size=10, batch_size=8, progress=False)
    fit(traced_once_loss, optax.sgd(0.01), jnp.zeros(4), (X, y), key=jax.random.key(0), **kwargs)
    # a new optimizer object of the same rule, a lambda of the same code: the same program
    fit(traced_once_loss, optax.sgd(0.01), jnp.ones(4), (X, y), key=jax.random.key(1), **kwargs)
    for _ in range(2):
        fit(lambda w, b: traced_once_through_a_lambda(w, b), optax.sgd(0.01), jnp.ones(4), (X, y),
            key=jax.random.key(1), **kwargs)
    with pytest.raises(AssertionError, match="traced > 1 times"):  # the guard does bite
        fit(traced_once_loss, optax.sgd(0.02), jnp.ones(4), (X, y), key=jax.random.key(1), **kwargs)


def test_a_closure_over_another_value_is_not_served_a_stale_program(problem):
    X, y, _ = problem
    results = [
        fit(lambda w, b: scale * squared_loss(w, b), SGD, jnp.zeros(4), (X, y), key=jax.random.key(0),
            num_steps=1, progress=False).history["loss"][0]
        for scale in (1.0, 2.0)
    ]
    np.testing.assert_allclose(results[1], 2 * results[0], rtol=1e-6)


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
    with pytest.raises(ValueError, match="compiler_options"):
        fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=jax.random.key(0), num_steps=1,
            compiler_options=[("xla_cpu_prefer_vector_width", 256)])


def test_compiler_options_default_per_backend_and_reach_xla(problem):
    assert xla_cpu.compiler_options("cpu") == {"xla_cpu_prefer_vector_width": 512}
    assert xla_cpu.compiler_options("gpu") == {} and xla_cpu.compiler_options("tpu") == {}
    X, y, _ = problem
    run = dict(key=jax.random.key(3), num_steps=30, batch_size=32, progress=False)
    default = fit(squared_loss, ADAM, jnp.zeros(4), (X, y), **run)
    xla_defaults = fit(squared_loss, ADAM, jnp.zeros(4), (X, y), compiler_options={}, **run)
    # the same arithmetic, vectorized differently: equal to float32 rounding
    np.testing.assert_allclose(default.history["loss"], xla_defaults.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(default.state.params, xla_defaults.state.params, rtol=1e-5, atol=1e-6)
    # the options reach XLA's compiler: one it does not know is an error, not ignored
    with pytest.raises(Exception, match="xla_cpu_no_such_option"):
        fit(squared_loss, ADAM, jnp.zeros(4), (X, y), compiler_options={"xla_cpu_no_such_option": 1}, **run)


# ---- keys, model state, custom steps, hyper-parameters, samplers


def dropout_loss(w, batch, *, key):
    X, y = batch
    keep = jax.random.bernoulli(key, 0.5, X.shape)
    return 0.5 * jnp.mean((y - (X * keep / 0.5) @ w) ** 2)


def test_the_loss_receives_the_steps_key_independent_of_the_minibatch(problem):
    X, y, _ = problem
    k = jax.random.key(5)
    result = fit(dropout_loss, SGD, jnp.zeros(4), (X, y), key=k, num_steps=6, batch_size=8, with_key=True,
                 progress=False)
    state = create_train_state(jnp.zeros(4), SGD)
    step = jax.jit(make_train_step(dropout_loss, SGD, with_key=True))
    for t in range(6):
        state, _ = step(state, sample_batch(k, t, (X, y), 8), step_key(k, t))
    np.testing.assert_allclose(result.state.params, state.params, rtol=1e-6)
    # the step's key is neither the minibatch's key nor the same from step to step
    keys = [jax.random.key_data(step_key(k, t)) for t in range(3)]
    assert len({tuple(np.asarray(x)) for x in keys}) == 3
    assert not np.array_equal(np.asarray(keys[0]), np.asarray(jax.random.key_data(jax.random.fold_in(k, 0))))


def ema_loss(w, batch, *, model_state):
    """The model state keeps an exponential moving average of w and a step counter."""
    loss = squared_loss(w, batch)
    new = {"ema": 0.9 * model_state["ema"] + 0.1 * w, "count": model_state["count"] + 1}
    return loss, (new, {"ema_norm": jnp.linalg.norm(new["ema"])})


def test_model_state_is_carried_updated_and_checkpointed(problem, tmp_path):
    X, y, _ = problem
    init = {"ema": jnp.zeros(4), "count": jnp.zeros((), jnp.int32)}
    kw = dict(key=jax.random.key(0), batch_size=8, model_state=init, has_aux=True, progress=False)
    result = fit(ema_loss, SGD, jnp.zeros(4), (X, y), num_steps=30, **kw)
    assert int(result.state.model_state["count"]) == 30
    ema = np.zeros(4)
    state = create_train_state(jnp.zeros(4), SGD)
    for t in range(30):  # the EMA of the parameters BEFORE each update, as the loss saw them
        ema = 0.9 * ema + 0.1 * np.asarray(state.params)
        state, _ = jax.jit(make_train_step(squared_loss, SGD))(state, sample_batch(kw["key"], t, (X, y), 8), None)
    np.testing.assert_allclose(result.state.model_state["ema"], ema, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.history["ema_norm"][-1], np.linalg.norm(ema), rtol=1e-5)
    # evaluation sees the model state; a checkpointed run stopped at 20 and resumed ends equal
    seen = []
    fit(ema_loss, SGD, jnp.zeros(4), (X, y), num_steps=20, chunk_size=10, checkpoint_dir=tmp_path, **kw)
    resumed = fit(ema_loss, SGD, jnp.zeros(4), (X, y), num_steps=30, chunk_size=10, checkpoint_dir=tmp_path,
                  eval_fn=lambda p, s: seen.append(int(s["count"])) or {}, **kw)
    assert seen == [30]
    np.testing.assert_array_equal(resumed.state.model_state["ema"], result.state.model_state["ema"])
    np.testing.assert_array_equal(resumed.history["loss"], result.history["loss"])


def alternating_step(state, batch, key):
    """A custom step: two optimizers update two halves of the parameters in turn (a GAN's shape)."""
    del key
    tx_a, tx_b = optax.sgd(0.1), optax.adam(0.05)
    params, (opt_a, opt_b) = state.params, state.opt_state

    def loss(p):
        return squared_loss(jnp.concatenate([p["a"], p["b"]]), batch)

    ga = jax.grad(loss)(params)["a"]
    ua, opt_a = tx_a.update(ga, opt_a)
    params = {**params, "a": params["a"] + ua}
    gb = jax.grad(loss)(params)["b"]  # the second update sees the first one's result
    ub, opt_b = tx_b.update(gb, opt_b)
    params = {**params, "b": params["b"] + ub}
    return state._replace(params=params, opt_state=(opt_a, opt_b), step=state.step + 1), {"loss": loss(params)}


def test_a_custom_train_step_with_two_optimizers(problem):
    X, y, _ = problem
    params = {"a": jnp.zeros(2), "b": jnp.zeros(2)}
    start = TrainState(params, (optax.sgd(0.1).init(params["a"]), optax.adam(0.05).init(params["b"])),
                       jnp.zeros((), jnp.int32))
    k = jax.random.key(4)
    result = fit(None, None, start, (X, y), key=k, num_steps=25, batch_size=16, train_step=alternating_step,
                 chunk_size=10, progress=False)
    state = start
    for t in range(25):
        state, _ = alternating_step(state, sample_batch(k, t, (X, y), 16), None)
    chex.assert_trees_all_close(result.state.params, state.params, rtol=1e-5, atol=1e-6)
    assert int(result.state.step) == 25 and result.history["loss"].shape == (25,)
    with pytest.raises(ValueError, match="loss_fn"):
        fit(None, None, start, (X, y), key=k, num_steps=1)


@chex.assert_max_traces(n=2)  # once for the vmapped sweep, once for every single run
def ridge_loss(w, batch, *, hparams):
    return squared_loss(w, batch) + hparams["lam"] * (w @ w)


INJECTED_SGD = optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)


def test_a_vmapped_sweep_over_learning_rates_equals_separate_runs(problem):
    X, y, _ = problem
    lrs = jnp.array([0.01, 0.03, 0.1, 0.3])
    kw = dict(key=jax.random.key(9), num_steps=40, batch_size=16, chunk_size=20, progress=False)
    sweep = fit(ridge_loss, INJECTED_SGD, jnp.zeros(4), (X, y), sweep=True,
                hparams={"learning_rate": lrs, "lam": jnp.full(4, 0.01)}, **kw)
    assert sweep.state.params.shape == (4, 4) and sweep.history["loss"].shape == (40, 4)
    for i, lr in enumerate(lrs):
        one = fit(ridge_loss, INJECTED_SGD, jnp.zeros(4), (X, y), hparams={"learning_rate": lr, "lam": 0.01}, **kw)
        np.testing.assert_allclose(sweep.state.params[i], one.state.params, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(sweep.history["loss"][:, i], one.history["loss"], rtol=1e-5)
        plain = fit(lambda w, b: squared_loss(w, b) + 0.01 * (w @ w), optax.sgd(float(lr)), jnp.zeros(4), (X, y), **kw)
        np.testing.assert_allclose(one.state.params, plain.state.params, rtol=1e-5, atol=1e-7)
    # a run continued from its state with another learning rate takes the new value
    half = fit(ridge_loss, INJECTED_SGD, jnp.zeros(4), (X, y), hparams={"learning_rate": 0.1, "lam": 0.01},
               **{**kw, "num_steps": 20})
    rest = fit(ridge_loss, INJECTED_SGD, half.state, (X, y), hparams={"learning_rate": 0.01, "lam": 0.01}, **kw)
    assert float(rest.state.opt_state.hyperparams["learning_rate"]) == pytest.approx(0.01)
    w = half.state.params
    for t in range(20, 40):
        batch = sample_batch(kw["key"], t, (X, y), 16)
        w = w - 0.01 * jax.grad(lambda w, b: squared_loss(w, b) + 0.01 * (w @ w))(w, batch)
    np.testing.assert_allclose(rest.state.params, w, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="leading axis"):
        fit(ridge_loss, INJECTED_SGD, jnp.zeros(4), (X, y), sweep=True,
            hparams={"learning_rate": lrs, "lam": jnp.zeros(3)}, **kw)


def test_epochs_visit_every_row_once(problem):
    X, y, _ = problem  # N = 200, B = 40: 5 steps per epoch
    idx = np.stack([np.asarray(epoch_batch_indices(jax.random.key(1), t, 200, 40)) for t in range(10)])
    assert sorted(idx[:5].ravel().tolist()) == list(range(200))
    assert sorted(idx[5:].ravel().tolist()) == list(range(200))
    assert not np.array_equal(idx[:5], idx[5:])  # a fresh permutation per epoch
    # fit's epochs, chunked mid-epoch, take exactly these rows: the gradients of GD on them
    k = jax.random.key(1)
    result = fit(squared_loss, SGD, jnp.zeros(4), (X, y), key=k, num_steps=10, batch_size=40, sampler="epochs",
                 chunk_size=3, progress=False)
    w = jnp.zeros(4)
    for t in range(10):
        w = w - 0.05 * jax.grad(squared_loss)(w, (X[idx[t]], y[idx[t]]))
    np.testing.assert_allclose(result.state.params, w, rtol=1e-5, atol=1e-7)


def token_windows(key, step, data):
    """A language model's sampler: 4 random windows of 9 tokens from one long array."""
    del step
    starts = jax.random.randint(key, (4,), 0, data.shape[0] - 9)
    return jax.vmap(lambda s: jax.lax.dynamic_slice(data, (s,), (9,)))(starts)


def bigram_loss(logits, windows):
    inputs, targets = windows[:, :-1], windows[:, 1:]
    logp = jax.nn.log_softmax(logits[inputs])
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))


def test_a_user_sampler_draws_token_windows():
    tokens = jnp.asarray(np.tile(np.arange(5), 40))  # 0 1 2 3 4 0 1 ...: the next token is determined
    result = fit(bigram_loss, optax.adam(0.3), jnp.zeros((5, 5)), tokens, key=jax.random.key(0), num_steps=100,
                 sampler=token_windows, progress=False)
    assert result.history["loss"][-1] < 0.05 < np.log(5) - 0.1 < result.history["loss"][0] + 0.1
    np.testing.assert_array_equal(np.argmax(result.state.params, axis=1), (np.arange(5) + 1) % 5)


@chex.assert_max_traces(n=1)
def checkpointed_loss(w, batch):
    return squared_loss(w, batch)


def test_a_checkpointed_run_traces_its_step_once(problem, tmp_path):
    X, y, _ = problem  # the history template reuses the first chunk's trace
    result = fit(checkpointed_loss, SGD, jnp.zeros(4), (X, y), key=jax.random.key(0), num_steps=20, chunk_size=10,
                 batch_size=8, checkpoint_dir=tmp_path, progress=False)
    assert result.history["loss"].shape == (20,)
