"""Score-based black-box attacks: finite-difference and NES gradient estimates against jax.grad,
query counting and budgets, the attacks built on them against white-box PGD."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.adversarial import (
    finite_difference_gradient,
    nes_gradient,
    pgd,
    queries_per_step,
    score_based_attack,
    softmax_cross_entropy,
)
from jaxml.nn.mlp import mlp_apply, mlp_init

D, K = 12, 4


@pytest.fixture(scope="module")
def tanh_mlp():
    """A smooth (tanh) MLP 12 → 16 → 4, its inputs in [0, 1] and labels."""
    params = mlp_init(jax.random.key(0), (D, 16, K), init="xavier")
    X = jax.random.uniform(jax.random.key(1), (16, D))
    y = jnp.argmax(jax.vmap(lambda v: mlp_apply(params, v, activation="tanh"))(X), axis=-1)
    return params, X, y


def predict(params, x):
    return mlp_apply(params, x, activation="tanh")


def test_finite_differences_equal_jax_grad(tanh_mlp, x64):
    params, X, y = tanh_mlp
    params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
    for i in range(3):
        x = X[i].astype(jnp.float64)
        score = lambda v: softmax_cross_entropy(predict(params, v), y[i])  # noqa: E731
        estimate = finite_difference_gradient(score, x, h=1e-5)
        exact = jax.grad(score)(x)
        err = float(jnp.max(jnp.abs(estimate - exact)) / jnp.max(jnp.abs(exact)))
        assert err < 1e-4, err
        # A wrong step scale (h vs 2h in the denominator) would be off by 2x.
        assert err < 1e-8


def test_finite_differences_on_an_image_shaped_input(x64):
    a = jax.random.normal(jax.random.key(3), (3, 4), jnp.float64)
    score = lambda v: jnp.sum(jnp.sin(a * v))  # noqa: E731
    x = jax.random.normal(jax.random.key(4), (3, 4), jnp.float64)
    estimate = finite_difference_gradient(score, x, h=1e-5)
    np.testing.assert_allclose(estimate, a * jnp.cos(a * x), rtol=1e-8, atol=1e-10)


def test_nes_correlates_with_the_true_gradient(tanh_mlp):
    params, X, y = tanh_mlp
    score = lambda v: softmax_cross_entropy(predict(params, v), y[0])  # noqa: E731
    exact = jax.grad(score)(X[0])

    def cosine(num_queries, seed):
        g = nes_gradient(score, X[0], key=jax.random.key(seed), num_queries=num_queries, sigma=1e-2)
        return float(jnp.dot(g, exact) / (jnp.linalg.norm(g) * jnp.linalg.norm(exact)))

    many = [cosine(600, s) for s in range(3)]
    few = [cosine(4, s) for s in range(3)]
    assert min(many) > 0.9, many
    # Fewer queries, a noisier estimate (variance ∝ D/n).
    assert np.mean(few) < min(many), (few, many)


def test_nes_and_fd_arguments_are_checked(tanh_mlp):
    params, X, y = tanh_mlp
    score = lambda v: jnp.sum(v ** 2)  # noqa: E731
    with pytest.raises(ValueError, match="num_queries"):
        nes_gradient(score, X[0], key=jax.random.key(0), num_queries=5)
    with pytest.raises(ValueError, match="sigma"):
        nes_gradient(score, X[0], key=jax.random.key(0), num_queries=4, sigma=0.0)
    with pytest.raises(ValueError, match="h"):
        finite_difference_gradient(score, X[0], h=-1e-3)


def _loss(params, x, y):
    return jax.vmap(lambda v, t: softmax_cross_entropy(predict(params, v), t))(x, y)


def test_fd_attack_matches_white_box_pgd(tanh_mlp, x64):
    params, X, y = tanh_mlp
    params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
    X = X.astype(jnp.float64) * 0.8 + 0.1  # away from the clip so that signs decide every coordinate
    score_fn = lambda v: predict(params, v)  # noqa: E731
    eps, steps = 0.05, 4
    x_bb, queries = score_based_attack(score_fn, X, y, eps, estimator="fd", steps=steps, step_size=eps / 2,
                                       h=1e-6)
    x_wb = pgd(predict, params, X, y, eps, key=jax.random.key(0), steps=steps, step_size=eps / 2,
               random_start=False)
    assert queries == steps * 2 * D
    np.testing.assert_allclose(x_bb, x_wb, atol=1e-12)
    assert np.all(np.asarray(_loss(params, x_bb, y) > _loss(params, X, y)))


def test_nes_attack_raises_the_loss_and_respects_the_budget(tanh_mlp):
    params, X, y = tanh_mlp
    score_fn = lambda v: predict(params, v)  # noqa: E731
    eps = 0.1
    x_adv, queries = score_based_attack(score_fn, X, y, eps, estimator="nes", steps=50, num_queries=100,
                                        sigma=1e-2, key=jax.random.key(1), query_budget=1050)
    assert queries == 1000 and queries <= 1050  # 10 steps of 100 queries fit in the budget
    assert np.all(_np_linf(x_adv - X) <= eps * (1 + 1e-6))
    assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    gain = np.asarray(_loss(params, x_adv, y) - _loss(params, X, y))
    assert np.mean(gain > 0) >= 0.9 and gain.mean() > 0
    # A budget below one estimate buys no step: the input comes back unchanged.
    x_none, spent = score_based_attack(score_fn, X, y, eps, estimator="nes", steps=5, num_queries=100,
                                       key=jax.random.key(1), query_budget=99)
    assert spent == 0
    np.testing.assert_array_equal(x_none, X)
    assert queries_per_step("fd", D, 100) == 2 * D and queries_per_step("nes", D, 100) == 100


def _np_linf(delta):
    return np.max(np.abs(np.asarray(delta)), axis=-1)


def test_score_based_attack_bad_input(tanh_mlp):
    params, X, y = tanh_mlp
    score_fn = lambda v: predict(params, v)  # noqa: E731
    with pytest.raises(ValueError, match="eps"):
        score_based_attack(score_fn, X, y, -0.1)
    with pytest.raises(ValueError, match="estimator"):
        score_based_attack(score_fn, X, y, 0.1, estimator="spsa")
    with pytest.raises(ValueError, match="norm"):
        score_based_attack(score_fn, X, y, 0.1, norm="l1")
    with pytest.raises(ValueError, match="x must lie in the data range"):
        score_based_attack(score_fn, X + 1.0, y, 0.1)
    with pytest.raises(ValueError, match="labels"):
        score_based_attack(score_fn, X, y.at[0].set(K), 0.1)
    with pytest.raises(ValueError, match="query_budget"):
        score_based_attack(score_fn, X, y, 0.1, query_budget=-1)
    with pytest.raises(ValueError, match="key"):
        score_based_attack(score_fn, X, y, 0.1, estimator="nes")


def test_queries_are_counted_by_a_counting_black_box():
    """Every row the model actually sees is one query: a numpy black box behind pure_callback counts them."""
    w = np.linspace(-1.0, 1.0, D * K, dtype=np.float32).reshape(D, K)
    seen = []

    def numpy_model(x):  # called with a batch (..., D) of inputs
        x = np.asarray(x)
        seen.append(int(np.prod(x.shape[:-1])))
        return (x @ w).astype(np.float32)

    def score_fn(v):
        return jax.pure_callback(numpy_model, jax.ShapeDtypeStruct((K,), jnp.float32), v,
                                 vmap_method="expand_dims")

    x = jnp.full((D,), 0.5, jnp.float32)
    score = lambda v: softmax_cross_entropy(score_fn(v), 0)  # noqa: E731
    seen.clear()
    finite_difference_gradient(score, x, h=1e-2)
    assert sum(seen) == 2 * D
    seen.clear()
    nes_gradient(score, x, key=jax.random.key(0), num_queries=10)
    assert sum(seen) == 10
    seen.clear()
    _, queries = score_based_attack(score_fn, x, jnp.asarray(0), 0.1, estimator="nes", steps=3, num_queries=8,
                                    key=jax.random.key(0), query_budget=20)
    assert queries == 16 and sum(seen) == 16
