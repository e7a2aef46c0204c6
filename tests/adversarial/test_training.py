"""Adversarial training through ``fit``: the robustness–accuracy trade-off measured on digits, one
compiled program, a fresh PGD start per step, Danskin's gradient; model stealing and transfer."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.adversarial.attacks import pgd, softmax_cross_entropy
from jaxml.adversarial.training import (
    _PGD_STREAM,
    adversarial_train,
    clean_accuracy,
    make_adversarial_loss,
    make_standard_loss,
    robust_accuracy,
    steal_model,
    transfer_success,
)
from jaxml.core.train import fit, step_key
from jaxml.nn.mlp import mlp_apply, mlp_init
from jaxml.nn.models import load_digits_images

EPS = 0.1


def predict(params, x):
    return mlp_apply(params, x)


@pytest.fixture(scope="module")
def digits():
    return tuple(jnp.asarray(a) for a in load_digits_images(flat=True))


@pytest.fixture(scope="module")
def trained(digits):
    """A standard and an adversarially trained 64-64-10 MLP: same init, data, steps and optimizer."""
    X_tr, y_tr, _, _ = digits
    init = mlp_init(jax.random.key(0), (64, 64, 10))
    standard = fit(make_standard_loss(predict), optax.adam(1e-2), init, (X_tr, y_tr), key=jax.random.key(1),
                   num_steps=300, batch_size=64, has_aux=True).state.params
    robust = adversarial_train(predict, init, X_tr, y_tr, key=jax.random.key(1), eps=EPS, num_steps=300,
                               attack_steps=5, batch_size=64, learning_rate=1e-2)
    return init, standard, robust


def test_adversarial_training_trades_clean_for_robust_accuracy(digits, trained):
    _, _, X_te, y_te = digits
    _, standard, robust = trained
    key = jax.random.key(2)
    clean_std = clean_accuracy(predict, standard, X_te, y_te)
    clean_adv = clean_accuracy(predict, robust.state.params, X_te, y_te)
    rob_std = robust_accuracy(predict, standard, X_te, y_te, eps=EPS, steps=10, key=key)
    rob_adv = robust_accuracy(predict, robust.state.params, X_te, y_te, eps=EPS, steps=10, key=key)
    print(f"clean {clean_std:.3f} -> {clean_adv:.3f}, PGD robust {rob_std:.3f} -> {rob_adv:.3f}")
    assert rob_adv >= rob_std + 0.2
    assert clean_std - 0.06 <= clean_adv <= clean_std + 0.01
    assert clean_adv > 0.9
    # robust accuracy is an accuracy under attack: never above the clean one
    assert rob_std <= clean_std and rob_adv <= clean_adv
    h = robust.history
    assert set(h) >= {"loss", "clean_accuracy", "adversarial_accuracy"}
    assert np.mean(h["adversarial_accuracy"][-20:]) <= np.mean(h["clean_accuracy"][-20:])


def test_robust_accuracy_equals_accuracy_on_public_pgd(digits, trained):
    _, _, X_te, y_te = digits
    _, standard, _ = trained
    key = jax.random.key(3)
    X_adv = pgd(predict, standard, X_te[:50], y_te[:50], EPS, key=key, steps=5)
    expected = float(np.mean(np.argmax(jax.vmap(lambda v: predict(standard, v))(X_adv), -1) == np.asarray(y_te[:50])))
    assert robust_accuracy(predict, standard, X_te[:50], y_te[:50], eps=EPS, steps=5, key=key) == expected
    assert robust_accuracy(predict, standard, X_te[:50], y_te[:50], eps=0.0, steps=5, key=key) == \
        clean_accuracy(predict, standard, X_te[:50], y_te[:50])


def test_one_program_and_a_fresh_attack_key_per_step(digits, trained):
    X_tr, y_tr, _, _ = digits
    init = trained[0]
    batch = (X_tr[:32], y_tr[:32])
    loss = make_adversarial_loss(predict, eps=EPS, steps=3)
    traces = []

    def counted(params, batch, *, key):
        traces.append(1)
        return loss(params, batch, key=key)

    # lr 0 and the full batch every step: only the attack's random start can change the loss
    result = fit(counted, optax.sgd(0.0), init, batch, key=jax.random.key(4), num_steps=6, with_key=True,
                 has_aux=True)
    assert len(traces) == 1  # six steps, one traced (and compiled) step
    losses = result.history["loss"]
    assert len(np.unique(losses)) == 6
    # ... and fit's step t uses step_key(run_key, t): the same key gives the same loss
    for t in (0, 3):
        direct, _ = jax.jit(loss)(init, batch, key=step_key(jax.random.key(4), t))
        np.testing.assert_allclose(float(direct), losses[t], rtol=1e-5)


def test_gradient_is_the_clean_gradient_at_the_frozen_attack(digits, trained):
    """Danskin: ∇_θ L = ∇_θ (1/B) Σ ℓ(f_θ(x'), y) with x' = PGD(θ) held fixed."""
    X_tr, y_tr, _, _ = digits
    init = trained[0]
    X, y = X_tr[:16], y_tr[:16]
    key = jax.random.key(5)
    grad = jax.grad(lambda p: make_adversarial_loss(predict, eps=EPS, steps=3)(p, (X, y), key=key)[0])(init)
    X_adv = pgd(predict, init, X, y, EPS, key=jax.random.fold_in(key, _PGD_STREAM), steps=3)
    ref = jax.grad(lambda p: jnp.mean(jax.vmap(lambda v, t: softmax_cross_entropy(predict(p, v), t))(X_adv, y)))(init)
    for g, r in zip(jax.tree.leaves(grad), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-6)


def test_data_parallel_over_8_devices_equals_one_device(tmp_path):
    """The global batch split over 8 emulated devices draws the same PGD starts as one device (they
    come from the step key and the example's place in the global batch), so the runs agree; the
    gradient is all-reduced across the devices."""
    out = tmp_path / "adv_parallel.npz"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    subprocess.run([sys.executable, str(Path(__file__).with_name("_parallel_worker.py")), "8", str(out)],
                   env=env, check=True, timeout=300)
    r = np.load(out)
    assert int(r["device_count"]) == 8 and bool(r["all_reduce"])
    np.testing.assert_allclose(r["par_loss"], r["single_loss"], rtol=1e-5)
    np.testing.assert_array_equal(r["par_adversarial_accuracy"], r["single_adversarial_accuracy"])
    np.testing.assert_allclose(r["par_params"], r["single_params"], rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(r["single_params"] - r["init_params"])) > 0.05  # the network trained
    assert r["single_loss"][-5:].mean() < 0.9 * r["single_loss"][0]


def test_stolen_surrogate_agrees_and_its_attacks_transfer(digits, trained):
    X_tr, _, X_te, y_te = digits
    _, victim, _ = trained
    surrogate_init = mlp_init(jax.random.key(7), (64, 32, 10))  # the attacker's own, smaller net
    stolen = steal_model(predict, victim, X_tr, init=surrogate_init, key=jax.random.key(8), num_steps=300)
    victim_test = np.argmax(jax.vmap(lambda v: predict(victim, v))(X_te), -1)
    test_agreement = clean_accuracy(predict, stolen.params, X_te, victim_test)
    np.testing.assert_array_equal(np.asarray(stolen.victim_labels),
                                  np.argmax(jax.vmap(lambda v: predict(victim, v))(X_tr), -1))
    assert stolen.agreement > 0.9 and test_agreement > 0.8
    result = transfer_success(predict, stolen.params, predict, victim, X_te, y_te, eps=EPS, key=jax.random.key(9))
    print(f"agreement {test_agreement:.3f}, transfer {result.success_rate:.3f}, noise {result.noise_success_rate:.3f}")
    assert result.success_rate > result.noise_success_rate + 0.2
    assert result.surrogate_success_rate >= result.success_rate  # white-box on the surrogate is stronger
    assert float(jnp.max(jnp.abs(result.x_adv - X_te))) <= EPS + 1e-6


def test_validation(digits):
    X_tr, y_tr, _, _ = digits
    with pytest.raises(ValueError, match="norm"):
        make_adversarial_loss(predict, eps=EPS, steps=3, norm="l1")
    with pytest.raises(ValueError, match="eps"):
        make_adversarial_loss(predict, eps=-1.0, steps=3)
    with pytest.raises(ValueError, match="model_or_predict"):
        make_adversarial_loss(3, eps=EPS)


def test_flax_module_is_applied_per_example(digits):
    from jaxml.nn.models import MLP, init_model

    X_tr, y_tr, _, _ = digits
    model = MLP(features=(16, 10))
    params, _ = init_model(model, jax.random.key(10), X_tr[:2])
    loss = make_adversarial_loss(model, eps=0.0, steps=1)
    value, metrics = loss(params, (X_tr[:8], y_tr[:8]), key=jax.random.key(11))
    logits = model.apply({"params": params}, X_tr[:8])
    ref = jnp.mean(jax.vmap(softmax_cross_entropy)(logits, y_tr[:8]))
    np.testing.assert_allclose(float(value), float(ref), rtol=1e-5)  # ε = 0: the clean loss
    assert float(metrics["clean_accuracy"]) == float(metrics["adversarial_accuracy"])
    assert clean_accuracy(model, params, X_tr[:8], y_tr[:8]) == float(metrics["clean_accuracy"])


def test_images_train_and_a_second_call_reuses_the_compiled_step():
    """adversarial_train takes image batches (N, H, W, C) for a conv net, and the same arguments
    give the same loss object, so fit's compiled program is reused (no second trace)."""
    from jaxml.core.train import _RUNNERS
    from jaxml.nn.models import CNN, init_model

    X = jax.random.uniform(jax.random.key(12), (16, 8, 8, 1))
    y = jax.random.randint(jax.random.key(13), (16,), 0, 3)
    model = CNN(channels=(4,), dense=8, num_classes=3)
    params, _ = init_model(model, jax.random.key(14), X)
    kwargs = dict(key=jax.random.key(15), eps=EPS, num_steps=2, attack_steps=2, batch_size=8, progress=False)
    first = adversarial_train(model, params, X, y, **kwargs)
    compiled = len(_RUNNERS)
    second = adversarial_train(model, params, X, y, **kwargs)
    assert len(_RUNNERS) == compiled
    np.testing.assert_array_equal(first.history["loss"], second.history["loss"])
    assert make_adversarial_loss(model, eps=EPS, steps=2) is make_adversarial_loss(model, eps=EPS, steps=2)
    with pytest.raises(ValueError, match="batch"):
        adversarial_train(model, params, X[0, 0, :, 0], y[:8], **kwargs)
