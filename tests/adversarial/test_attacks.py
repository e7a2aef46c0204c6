"""White-box attacks: ε-ball and data-range guarantees, closed-form points on logistic regression,
PGD vs FGSM, success vs ε, targeted attacks, early stop, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from jaxml.adversarial import (
    fgsm,
    input_gradient,
    logistic_input_gradient,
    logistic_predict,
    pgd,
    softmax_cross_entropy,
)
from jaxml.core.gradcheck import REGISTRY, compare_gradients

N = 120


def linear_predict(params, x):
    """Logits z = Wᵀx + b of a multinomial logistic regression for one example."""
    return x @ params["W"] + params["b"]


@pytest.fixture(scope="module")
def digits():
    """A softmax regression fitted on the 10-class digits, pixels scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    clf = LogisticRegression(C=1.0, max_iter=500).fit(X, y)
    params = {"W": jnp.asarray(clf.coef_.T, jnp.float32), "b": jnp.asarray(clf.intercept_, jnp.float32)}
    return params, jnp.asarray(X[:N]), jnp.asarray(y[:N], jnp.int32)


@pytest.fixture(scope="module")
def binary():
    """Binary logistic regression (3 vs 8) in float64 numpy: w, b, X, y."""
    X, y = load_digits(n_class=10, return_X_y=True)
    keep = (y == 3) | (y == 8)
    X, y = X[keep] / 16.0, (y[keep] == 8).astype(np.int32)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
    return clf.coef_[0], float(clf.intercept_[0]), X[:40], y[:40]


def batch_loss(params, x, y):
    return jax.vmap(lambda v, t: softmax_cross_entropy(linear_predict(params, v), t))(x, y)


def predictions(params, x):
    return jnp.argmax(jax.vmap(lambda v: linear_predict(params, v))(x), axis=-1)


def _norm(delta, norm):
    flat = np.asarray(delta, np.float64).reshape(delta.shape[0], -1)
    return np.max(np.abs(flat), axis=1) if norm == "linf" else np.linalg.norm(flat, axis=1)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_perturbations_stay_in_the_ball_and_the_data_range(digits, norm):
    params, X, y = digits
    eps = 0.1 if norm == "linf" else 1.5
    for x_adv in (fgsm(linear_predict, params, X, y, eps, norm=norm),
                  pgd(linear_predict, params, X, y, eps, key=jax.random.key(1), norm=norm, steps=10)):
        assert x_adv.shape == X.shape and x_adv.dtype == X.dtype
        assert np.all(_norm(x_adv - X, norm) <= eps * (1 + 1e-6))
        assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
        # The attack did move: without clipping this would be ε exactly; with it, still most of ε.
        assert np.median(_norm(x_adv - X, norm)) > 0.5 * eps


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_float64_ball_is_tight(digits, norm, x64):
    params, X, y = digits
    params = jax.tree.map(lambda a: a.astype(jnp.float64), params)
    X = X.astype(jnp.float64)
    eps = 0.1 if norm == "linf" else 1.5
    x_adv = pgd(linear_predict, params, X, y, eps, key=jax.random.key(2), norm=norm, steps=5, clip=None)
    assert x_adv.dtype == jnp.float64
    assert np.all(_norm(x_adv - X, norm) <= eps * (1 + 1e-14))


def test_l2_step_has_norm_eps_exactly_without_clipping(digits):
    params, X, y = digits
    eps = 0.7
    x_adv = fgsm(linear_predict, params, X, y, eps, norm="l2", clip=None)
    np.testing.assert_allclose(_norm(x_adv - X, "l2"), eps, rtol=1e-6)
    x_inf = fgsm(linear_predict, params, X, y, 0.05, norm="linf", clip=None)
    np.testing.assert_allclose(_norm(x_inf - X, "linf"), 0.05, rtol=1e-6)


def test_logistic_regression_closed_form_points(binary, x64):
    w, b, X, y = binary
    params = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
    X = jnp.asarray(X)
    y = jnp.asarray(y)
    closed = jax.vmap(lambda v, t: logistic_input_gradient(params["w"], params["b"], v, t))(X, y.astype(jnp.float64))
    np.testing.assert_allclose(input_gradient(logistic_predict, params, X, y), closed, rtol=1e-12, atol=1e-15)
    eps = 0.2
    np.testing.assert_allclose(fgsm(logistic_predict, params, X, y, eps, clip=None), X + eps * jnp.sign(closed),
                               rtol=0, atol=1e-14)
    unit = closed / jnp.linalg.norm(closed, axis=1, keepdims=True)
    np.testing.assert_allclose(fgsm(logistic_predict, params, X, y, eps, norm="l2", clip=None), X + eps * unit,
                               rtol=0, atol=1e-14)
    # One example (no batch axis) gives the same point as its row in the batch.
    np.testing.assert_allclose(fgsm(logistic_predict, params, X[3], y[3], eps, norm="l2", clip=None),
                               X[3] + eps * unit[3], rtol=0, atol=1e-14)


def test_logistic_input_gradient_passes_gradcheck(key, x64):
    row = compare_gradients(REGISTRY["adversarial.logistic_input_gradient"], key)
    assert row.ok, row


def test_pgd_reaches_a_higher_loss_than_fgsm(digits):
    params, X, y = digits
    eps = 0.05
    loss_fgsm = batch_loss(params, fgsm(linear_predict, params, X, y, eps), y)
    x_pgd = pgd(linear_predict, params, X, y, eps, key=jax.random.key(3), steps=20, step_size=eps / 4)
    loss_pgd = batch_loss(params, x_pgd, y)
    assert np.mean(np.asarray(loss_pgd) >= np.asarray(loss_fgsm) - 1e-5) >= 0.95
    assert float(jnp.mean(loss_pgd)) > float(jnp.mean(loss_fgsm))


def test_success_rate_increases_with_eps(digits):
    params, X, y = digits
    rates = []
    for eps in (0.0, 0.02, 0.05, 0.1, 0.2):
        x_adv = pgd(linear_predict, params, X, y, eps, key=jax.random.key(4), steps=10)
        rates.append(float(jnp.mean(predictions(params, x_adv) != y)))
    assert all(b >= a for a, b in zip(rates[:-1], rates[1:], strict=True)), rates
    assert rates[-1] > 0.9 and rates[0] < 0.1, rates


def test_targeted_attacks_raise_the_target_probability(digits):
    params, X, y = digits
    target = (y + 1) % 10

    def target_prob(x):
        return jax.vmap(lambda v, t: jax.nn.softmax(linear_predict(params, v))[t])(x, target)

    clean = target_prob(X)
    x_fgsm = fgsm(linear_predict, params, X, target, 0.05, targeted=True)
    # A chosen target needs a larger ε than any misclassification (0.1 reaches it on ~7%).
    x_pgd = pgd(linear_predict, params, X, target, 0.3, key=jax.random.key(5), steps=20, targeted=True)
    assert np.all(np.asarray(target_prob(x_fgsm)) > np.asarray(clean))
    assert np.all(np.asarray(target_prob(x_pgd)) > np.asarray(clean))
    assert float(jnp.mean(predictions(params, x_pgd) == target)) > 0.8
    # The untargeted attack on the same labels lowers them instead.
    x_away = fgsm(linear_predict, params, X, target, 0.05)
    assert np.all(np.asarray(target_prob(x_away)) < np.asarray(clean))


def test_early_stop_freezes_finished_examples(digits):
    params, X, y = digits
    # Half the batch gets a wrong label: the model already "misclassifies" those at x.
    labels = y.at[::2].set((y[::2] + 3) % 10)
    assert np.all(np.asarray(predictions(params, X)[::2] != labels[::2]))
    eps = 0.1
    x_stop = pgd(linear_predict, params, X, labels, eps, key=jax.random.key(6), steps=10,
                 random_start=False, early_stop=True)
    x_run = pgd(linear_predict, params, X, labels, eps, key=jax.random.key(6), steps=10,
                random_start=False, early_stop=False)
    done = np.asarray(predictions(params, X) != labels)  # every even row, and any the model gets wrong
    assert done[::2].all() and not done.all()
    np.testing.assert_array_equal(x_stop[done], X[done])
    assert np.all(_norm(x_run[done] - X[done], "linf") > 0)
    # The others moved, and each ends misclassified or matches the run without early stop.
    assert np.all(_norm(x_stop[~done] - X[~done], "linf") > 0)
    ended_wrong = np.asarray(predictions(params, x_stop[~done]) != labels[~done])
    same = np.all(np.asarray(x_stop[~done] == x_run[~done]).reshape(ended_wrong.size, -1), axis=1)
    assert np.all(ended_wrong | same)


def test_targeted_early_stop_freezes_examples_already_at_their_target(digits):
    params, X, y = digits
    target = predictions(params, X).at[1::2].set((y[1::2] + 1) % 10)
    x_stop = pgd(linear_predict, params, X, target, 0.1, key=jax.random.key(7), steps=5, targeted=True,
                 random_start=False, early_stop=True)
    np.testing.assert_array_equal(x_stop[::2], X[::2])


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_bad_input_gives_clear_errors(digits, attack):
    params, X, y = digits

    def run(x=X, labels=y, eps=0.1, **kw):
        if attack == "fgsm":
            return fgsm(linear_predict, params, x, labels, eps, **kw)
        return pgd(linear_predict, params, x, labels, eps, key=jax.random.key(0), **{"steps": 2, **kw})

    with pytest.raises(ValueError, match="eps"):
        run(eps=-0.1)
    with pytest.raises(ValueError, match="norm"):
        run(norm="l3")
    with pytest.raises(ValueError, match="x must lie in the data range"):
        run(x=X + 0.5)
    with pytest.raises(ValueError, match="labels"):
        run(labels=y.at[0].set(10))
    with pytest.raises(ValueError, match="labels"):
        run(labels=y.at[0].set(-1))
    with pytest.raises(ValueError, match="labels must be integers"):
        run(labels=y.astype(jnp.float32))
    with pytest.raises(ValueError, match="clip"):
        run(clip=(1.0, 0.0))
    if attack == "pgd":
        with pytest.raises(ValueError, match="steps"):
            run(steps=-1)
        with pytest.raises(ValueError, match="step_size"):
            run(step_size=-0.1)
