"""The label-only boundary attack: adversarial at every accepted step, non-increasing norm, exact
query budgets, and never closer than the true decision boundary of a linear model."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.adversarial.decision import boundary_attack
from jaxml.adversarial.training import make_standard_loss
from jaxml.core.train import fit
from jaxml.nn.mlp import mlp_apply, mlp_init
from jaxml.nn.models import load_digits_images


def predict(params, x):
    return mlp_apply(params, x)


@pytest.fixture(scope="module")
def digits_mlp():
    """A 64-64-10 MLP trained on flattened digits, and 8 test images it classifies correctly."""
    X_tr, y_tr, X_te, y_te = load_digits_images(flat=True)
    params = mlp_init(jax.random.key(0), (64, 64, 10))
    params = fit(make_standard_loss(predict), optax.adam(1e-2), params, (jnp.asarray(X_tr), jnp.asarray(y_tr)),
                 key=jax.random.key(1), num_steps=300, batch_size=64, has_aux=True).state.params
    pred = np.argmax(jax.vmap(lambda v: predict(params, v))(X_te), -1)
    keep = np.flatnonzero(pred == y_te)[:8]
    label_fn = lambda v: jnp.argmax(predict(params, v))  # noqa: E731
    return label_fn, jnp.asarray(X_te[keep]), jnp.asarray(y_te[keep]), X_te, y_te


def test_adversarial_throughout_norm_non_increasing_and_well_reduced(digits_mlp):
    label_fn, X, y, _, _ = digits_mlp
    key = jax.random.key(2)
    budget = 320
    x_adv, queries, hist = boundary_attack(label_fn, X, y, key=key, steps=300, query_budget=budget)
    hist = np.asarray(hist)
    assert hist.shape == (8, 302)
    assert np.all(np.asarray(queries) <= budget)
    assert np.all(np.isfinite(hist))
    labels = np.asarray(jax.vmap(label_fn)(x_adv))
    assert np.all(labels != np.asarray(y))
    np.testing.assert_allclose(np.linalg.norm(np.asarray(x_adv - X), axis=1), hist[:, -1], rtol=1e-5)
    assert np.all(np.diff(hist, axis=1) <= 1e-6)
    assert np.all(hist[:, -1] <= 0.6 * hist[:, 0])
    assert np.median(hist[:, -1] / hist[:, 1]) < 0.6  # the walk itself, beyond the binary search
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    # the same key replays the same walk: the point after t steps is the t-th accepted point
    for t in (0, 40, 150):
        x_t, _, hist_t = boundary_attack(label_fn, X, y, key=key, steps=t, query_budget=budget)
        assert np.all(np.asarray(jax.vmap(label_fn)(x_t)) != np.asarray(y))
        np.testing.assert_allclose(np.asarray(hist_t), hist[:, : t + 2], rtol=1e-6)


def test_query_budget_is_exact(digits_mlp):
    label_fn, X, y, _, _ = digits_mlp
    _, queries, hist = boundary_attack(label_fn, X[0], y[0], key=jax.random.key(3), steps=100,
                                       query_budget=37)
    assert int(queries) == 37
    hist = np.asarray(hist)
    assert np.all(hist[-60:] == hist[-1])  # nothing moves once the budget is spent
    x_adv, queries, hist = boundary_attack(label_fn, X, y, key=jax.random.key(3), steps=10, query_budget=0)
    assert np.all(np.asarray(queries) == 0)
    np.testing.assert_array_equal(np.asarray(x_adv), np.asarray(X))
    assert np.all(np.isinf(np.asarray(hist)))


def test_given_start_costs_one_query_and_keeps_its_class_change(digits_mlp):
    label_fn, X, y, X_te, y_te = digits_mlp
    other = jnp.asarray(X_te[np.flatnonzero(y_te != int(y[0]))[0]])
    x_adv, queries, hist = boundary_attack(label_fn, X[0], y[0], key=jax.random.key(4), x_start=other, steps=50,
                                           query_budget=100, binary_steps=8)
    assert int(queries) == 1 + 8 + 50
    np.testing.assert_allclose(float(hist[0]), float(jnp.linalg.norm(other - X[0])), rtol=1e-6)
    assert int(label_fn(x_adv)) != int(y[0])
    assert float(hist[-1]) < float(hist[0])


def test_never_crosses_closer_than_a_linear_boundary():
    """For c(x) = 1[wᵀx + b > 0] the distance to the boundary is |wᵀx + b|/‖w‖ (the box only adds to
    it): an attack that ends closer accepted a point that is not adversarial."""
    D = 20
    w = jax.random.normal(jax.random.key(5), (D,))
    X = jax.random.uniform(jax.random.key(6), (6, D), minval=0.3, maxval=0.7)
    b = -(X @ w) + jnp.where(jnp.arange(6) % 2 == 0, 0.4, -0.4)
    for i in range(2):
        label_fn = lambda v, c=b[i]: (v @ w + c > 0).astype(jnp.int32)  # noqa: E731
        x = X[i]
        y = jnp.asarray(int(x @ w + b[i] > 0), jnp.int32)
        x_adv, _, hist = boundary_attack(label_fn, x, y, key=jax.random.key(7 + i), steps=400, query_budget=500)
        distance = float(jnp.abs(x @ w + b[i]) / jnp.linalg.norm(w))
        assert int(label_fn(x_adv)) != int(y)
        assert float(hist[-1]) >= distance * (1 - 1e-5)
        assert float(hist[-1]) < 0.5 * float(hist[0])


def test_validation(digits_mlp):
    label_fn, X, y, _, _ = digits_mlp
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="clip"):
        boundary_attack(label_fn, X + 2.0, y, key=key)
    with pytest.raises(ValueError, match="spherical_step"):
        boundary_attack(label_fn, X, y, key=key, spherical_step=1.5)
    with pytest.raises(ValueError, match="query_budget"):
        boundary_attack(label_fn, X, y, key=key, query_budget=-1)
    with pytest.raises(ValueError, match="one row per label"):
        boundary_attack(label_fn, X, y[:3], key=key)
    with pytest.raises(ValueError, match="x_start"):
        boundary_attack(label_fn, X, y, key=key, x_start=X[:2])
