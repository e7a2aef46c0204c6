import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from jaxml.nn.models import (
    CNN,
    MLP,
    ResidualBlock,
    ResNet,
    accuracy,
    apply_model,
    confusion_matrix,
    conv2d_hand_vjp,
    init_model,
    kernel_l2_penalty,
    load_digits_images,
    make_classifier_loss,
    predict,
    train_classifier,
    train_digits,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits_images(test_size=0.2, seed=0)


def _images(key, shape):
    return jax.random.uniform(key, shape, jnp.float32)


def test_mlp_is_the_dense_formula_and_pure():
    model = MLP((7, 5, 3), activation="tanh")
    x = _images(jax.random.key(1), (4, 2, 3, 1))  # flattened to (4, 6)
    params, state = init_model(model, jax.random.key(0), x)
    assert state == {}
    out = apply_model(model, params, state, x)
    h = np.asarray(x).reshape(4, -1)
    for i in range(3):
        layer = params[f"dense_{i}"]
        h = h @ np.asarray(layer["kernel"]) + np.asarray(layer["bias"])
        if i < 2:
            h = np.tanh(h)
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out, apply_model(model, params, state, x))  # pure: same in, same out


@pytest.mark.parametrize("layout", ["batch_major", "feature_major"])
def test_both_mlp_layouts_are_the_dense_formula_with_the_same_parameters(layout):
    """Feature-major storage changes neither the parameters (same tree, same initial values) nor
    the function or its gradient: float64 against the batch-major net and the formula."""
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(1), (9, 3), jnp.float64)
        model = MLP((16, 8, 2), activation="tanh", layout=layout)
        params, _ = init_model(model, jax.random.key(0), x)
        reference = MLP((16, 8, 2), activation="tanh", layout="batch_major")
        ref_params, _ = init_model(reference, jax.random.key(0), x)
        assert jax.tree.all(jax.tree.map(lambda a, b: a.dtype == b.dtype and bool(jnp.all(a == b)),
                                         params, ref_params))
        h = np.asarray(x)
        for i in range(3):
            layer = params[f"dense_{i}"]
            h = h @ np.asarray(layer["kernel"], np.float64) + np.asarray(layer["bias"], np.float64)
            h = np.tanh(h) if i < 2 else h
        out = apply_model(model, params, {}, x)
        assert out.shape == (9, 2) and out.dtype == jnp.float64
        np.testing.assert_allclose(out, h, rtol=1e-12, atol=1e-13)
        grad = jax.grad(lambda p, m: jnp.sum(jnp.sin(m.apply({"params": p}, x))))
        for a, b in zip(jax.tree.leaves(grad(params, model)), jax.tree.leaves(grad(params, reference)), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_mlp_auto_layout_is_feature_major_only_for_narrow_nets_on_cpu():
    def uses_feature_major(model, width):
        jaxpr = str(jax.make_jaxpr(lambda x: init_model(model, jax.random.key(0), x)[0])(jnp.zeros((4, width))))
        return "transpose" in jaxpr
    narrow, wide = MLP((16, 16, 1), activation="tanh"), MLP((64, 10))
    assert uses_feature_major(narrow, 2) == (jax.default_backend() == "cpu")
    assert not uses_feature_major(wide, 2) and not uses_feature_major(narrow, 64)
    with pytest.raises(ValueError, match="layout"):
        init_model(MLP((3,), layout="columns"), jax.random.key(0), jnp.zeros((1, 2)))


def test_a_sliced_minibatch_gives_the_same_loss_gradient_and_augmentation():
    """CE = Σ_k (|S_k|/B)·CE(S_k) over 3 uneven slices equals the one-piece loss and gradient in
    float64; the augmentation keys are drawn for the whole batch, so augmented runs agree too."""
    with jax.enable_x64(True):
        model = CNN(channels=(4, 6), dense=8, num_classes=3)
        x = jax.random.uniform(jax.random.key(1), (10, 8, 8, 1), jnp.float64)
        y = jax.random.randint(jax.random.key(2), (10,), 0, 3)
        params, state = init_model(model, jax.random.key(0), x)
        params = jax.tree.map(lambda a: a.astype(jnp.float64), params)

        def noise(key, image):
            return image + 0.1 * jax.random.normal(key, image.shape, image.dtype)

        for augment in (None, noise):
            results = []
            for slices in (1, 3):
                loss = make_classifier_loss(model, augment, 0.01, slices=slices)
                (value, (_, metrics)), grad = jax.value_and_grad(loss, has_aux=True)(
                    params, (x, y), key=jax.random.key(3), model_state=state)
                results.append((value, metrics["accuracy"], grad))
            (v1, a1, g1), (v3, a3, g3) = results
            np.testing.assert_allclose(v3, v1, rtol=1e-13)
            assert a1 == a3
            for a, b in zip(jax.tree.leaves(g3), jax.tree.leaves(g1), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_auto_slices_only_a_cnn_without_batch_statistics_on_cpu():
    from jaxml.nn.models import classifier_slices

    cnn, mlp = CNN(channels=(4,), dense=8), MLP((8, 3))
    # one slice per core, at most 4, each of at least 32 examples
    assert classifier_slices(cnn, 128, {}, backend="cpu", cores=2) == 2
    assert classifier_slices(cnn, 128, {}, backend="cpu", cores=8) == 4
    assert classifier_slices(cnn, 64, {}, backend="cpu", cores=8) == 2
    assert classifier_slices(cnn, 16, {}, backend="cpu", cores=8) == 1
    assert classifier_slices(cnn, 128, {}, backend="cpu", cores=1) == 1
    assert classifier_slices(cnn, 128, {}, backend="gpu") == 1
    assert classifier_slices(mlp, 128, {}, backend="cpu") == 1
    assert classifier_slices(cnn, 128, {"batch_stats": {"mean": jnp.zeros(3)}}, backend="cpu") == 1
    resnet = ResNet(widths=(4,), blocks_per_stage=1, num_classes=3)
    x = jnp.zeros((4, 8, 8, 3))
    params, state = init_model(resnet, jax.random.key(0), x)
    loss = make_classifier_loss(resnet, slices=2)
    with pytest.raises(ValueError, match="batch statistics"):
        loss(params, (x, jnp.zeros(4, jnp.int32)), key=jax.random.key(1), model_state=state)
    with pytest.raises(ValueError, match="slices"):
        make_classifier_loss(cnn, slices=0)


def _reference_cnn(params, x):
    """The CNN by lax.conv_general_dilated and reduce_window: independent of jaxml.nn.conv."""
    for i in range(2):
        p = params[f"conv_{i}"]
        x = lax.conv_general_dilated(x, p["kernel"], (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["bias"][None, None, None]
        x = jax.nn.relu(x)
        x = lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    x = x.reshape((x.shape[0], -1))
    x = jax.nn.relu(x @ params["dense_0"]["kernel"] + params["dense_0"]["bias"][None])
    return x @ params["dense_1"]["kernel"] + params["dense_1"]["bias"][None]


def test_cnn_shapes_and_equals_the_lax_reference():
    model = CNN(channels=(4, 6), dense=8, num_classes=3)
    x = _images(jax.random.key(2), (2, 8, 8, 1))
    params, _ = init_model(model, jax.random.key(0), x)
    assert params["conv_0"]["kernel"].shape == (3, 3, 1, 4)
    assert params["conv_1"]["kernel"].shape == (3, 3, 4, 6)
    assert params["dense_0"]["kernel"].shape == (2 * 2 * 6, 8)
    out = apply_model(model, params, {}, x)
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out, _reference_cnn(params, x), rtol=1e-4, atol=1e-5)
    # the convolutions' hand backward (custom_vjp) gives autodiff's gradient of the lax reference
    grads = jax.grad(lambda p: jnp.sum(jnp.sin(apply_model(model, p, {}, x))))(params)
    ref = jax.grad(lambda p: jnp.sum(jnp.sin(_reference_cnn(p, x))))(params)
    for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


def test_strided_conv_hand_vjp_matches_lax_gradient():
    x = jax.random.normal(jax.random.key(5), (2, 7, 7, 3))
    w = jax.random.normal(jax.random.key(6), (3, 3, 3, 4))
    pads = ((1, 1), (1, 1))

    def ref(x, w):
        return lax.conv_general_dilated(x, w, (2, 2), pads, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    out = conv2d_hand_vjp(x, w, 2, pads)
    np.testing.assert_allclose(out, ref(x, w), rtol=1e-5, atol=1e-5)
    loss = lambda f: lambda x, w: jnp.sum(jnp.cos(f(x, w)))  # noqa: E731
    got = jax.grad(loss(lambda x, w: conv2d_hand_vjp(x, w, 2, pads)), argnums=(0, 1))(x, w)
    want = jax.grad(loss(ref), argnums=(0, 1))(x, w)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def small_resnet():
    model = ResNet(widths=(4, 8), blocks_per_stage=1, num_classes=3, in_channels=3)
    x = _images(jax.random.key(3), (6, 8, 8, 3))
    params, state = init_model(model, jax.random.key(0), x)
    return model, params, state, x


def test_resnet_batch_norm_train_versus_eval(small_resnet):
    model, params, state, x = small_resnet
    assert set(state) == {"batch_stats"}
    logits, new_state = apply_model(model, params, state, x, train=True)
    assert logits.shape == (6, 3)
    # training: the running mean moves to m·r + (1 − m)·batch mean (r starts at 0, m = 0.9)
    stem = lax.conv_general_dilated(x, params["stem"]["kernel"], (1, 1), "SAME",
                                    dimension_numbers=("NHWC", "HWIO", "NHWC"))
    expected = 0.1 * np.asarray(jnp.mean(stem, axis=(0, 1, 2)))
    np.testing.assert_allclose(new_state["batch_stats"]["block_0_0"]["bn_0"]["mean"], expected, rtol=1e-5, atol=1e-6)
    # training uses batch statistics: a row's output depends on the other rows of the batch
    first_two = apply_model(model, params, state, x[:2], train=True)[0]
    assert not np.allclose(first_two, logits[:2], atol=1e-4)
    # evaluation uses the running averages: a row's output does not depend on the batch
    eval_all = apply_model(model, params, new_state, x)
    np.testing.assert_allclose(apply_model(model, params, new_state, x[:2]), eval_all[:2], rtol=1e-5, atol=1e-6)
    assert not np.allclose(eval_all, logits, atol=1e-4)


def test_residual_block_is_the_identity_at_zero_conv_weights():
    block = ResidualBlock(5)
    x = jax.random.normal(jax.random.key(4), (3, 6, 6, 5))
    variables = block.init(jax.random.key(0), x, train=False)
    zero = jax.tree_util.tree_map_with_path(
        lambda path, v: jnp.zeros_like(v) if path[-1].key == "kernel" else v, variables["params"])
    for train in (False, True):
        out = block.apply({**variables, "params": zero}, x, train=train, mutable=["batch_stats"])[0]
        np.testing.assert_allclose(out, x, atol=1e-6)
    out = block.apply(variables, x, train=False)
    assert not np.allclose(out, x, atol=1e-3)  # and not the identity with nonzero weights


def test_bad_input_raises_naming_the_argument(small_resnet):
    model, params, state, _ = small_resnet
    with pytest.raises(ValueError, match="x must be a 4-D"):
        apply_model(model, params, state, jnp.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="x must have 3 channel"):
        apply_model(model, params, state, jnp.zeros((2, 8, 8, 1)))
    cnn = CNN(channels=(2,), dense=4, num_classes=2)
    cnn_params, _ = init_model(cnn, jax.random.key(0), jnp.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="x must have 2 channel"):
        apply_model(cnn, cnn_params, {}, jnp.zeros((1, 4, 4, 3)))
    mlp = MLP((3,))
    mlp_params, _ = init_model(mlp, jax.random.key(0), jnp.zeros((1, 4)))
    with pytest.raises(ValueError, match="x must be a batch"):
        apply_model(mlp, mlp_params, {}, jnp.zeros(4))
    with pytest.raises(ValueError, match="activation"):
        init_model(MLP((3,), activation="swishy"), jax.random.key(0), jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix([0, 1], [0, 5], 3)
    with pytest.raises(ValueError, match="inconsistent"):
        train_classifier(MLP((2,)), np.zeros((4, 3)), np.zeros(5, int), key=jax.random.key(0), num_steps=1)
    with pytest.raises(ValueError, match="augment"):
        train_classifier(MLP((2,)), np.zeros((4, 3)), np.zeros(4, int), key=jax.random.key(0), num_steps=1,
                         augment="shift")


def test_confusion_matrix_and_accuracy_match_sklearn():
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import confusion_matrix as sk_confusion

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 4, 50), rng.integers(0, 4, 50)
    np.testing.assert_array_equal(confusion_matrix(y, p, 4), sk_confusion(y, p, labels=range(4)))
    assert accuracy(y, p) == pytest.approx(accuracy_score(y, p))


def test_loss_is_cross_entropy_plus_l2():
    model = MLP((3,))
    x, y = jnp.ones((2, 4)), jnp.array([0, 2])
    params, state = init_model(model, jax.random.key(0), x)
    loss = make_classifier_loss(model, weight_decay=0.5)
    value, (_, metrics) = loss(params, (x, y), key=jax.random.key(1), model_state=state)
    z = np.asarray(apply_model(model, params, state, x))
    ce = np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[[0, 1], [0, 2]])
    w = np.asarray(params["dense_0"]["kernel"])
    np.testing.assert_allclose(metrics["cross_entropy"], ce, rtol=1e-5)
    np.testing.assert_allclose(value, ce + 0.25 * np.sum(w**2), rtol=1e-5)
    np.testing.assert_allclose(kernel_l2_penalty(params), 0.5 * np.sum(w**2), rtol=1e-6)
    np.testing.assert_allclose(kernel_l2_penalty(params, 0.5), 0.25 * np.sum(w**2), rtol=1e-6)


def test_mlp_learns_digits_through_fit(digits):
    X_tr, y_tr, X_te, y_te = digits
    assert X_tr.shape[1:] == (8, 8, 1) and X_tr.dtype == np.float32
    assert 0.0 <= X_tr.min() and X_tr.max() <= 1.0
    # stratified: every class keeps its share in the test set (±1 example)
    share = np.bincount(y_te, minlength=10) / len(y_te) - np.bincount(y_tr, minlength=10) / len(y_tr)
    assert np.max(np.abs(share)) < 2 / len(y_te)
    model = MLP((64, 10))
    result = train_classifier(model, X_tr, y_tr, key=jax.random.key(0), num_steps=300, batch_size=64,
                              optimizer=optax.adam(3e-3), eval_data=(X_te, y_te), chunk_size=150)
    assert [s for s, _ in result.eval_accuracy] == [150, 300]
    acc = accuracy(y_te, predict(model, result.params, result.model_state, X_te, batch_size=100))
    assert acc == pytest.approx(result.eval_accuracy[-1][1])
    assert acc >= 0.90
    assert result.history["loss"][-20:].mean() < result.history["loss"][:20].mean() / 3


def test_resnet_trains_through_fit_with_batch_stats_and_augmentation(small_resnet):
    model, params, state, x = small_resnet
    y = jnp.array([0, 1, 2, 0, 1, 2])
    seen = []

    def flip_some(key, image):  # a per-example augmentation: horizontal flip with probability 1/2
        seen.append(image.shape)
        return jnp.where(jax.random.bernoulli(key), image[:, ::-1], image)

    result = train_classifier(model, x, y, key=jax.random.key(1), num_steps=3, batch_size=6,
                              augment=flip_some, init_variables=(params, state))
    assert seen and seen[0] == (8, 8, 3)  # traced per example, under vmap
    before = state["batch_stats"]["final_bn"]["mean"]
    after = result.model_state["batch_stats"]["final_bn"]["mean"]
    assert not np.allclose(before, after)
    assert result.history["loss"].shape == (3,)


def test_train_digits_reports_accuracy_confusion_and_mistakes():
    run = train_digits("cnn", num_steps=40, eval_every=20, seed=0)
    y_te = run.data[3]
    assert run.confusion.shape == (10, 10) and run.confusion.sum() == len(y_te)
    assert np.trace(run.confusion) / len(y_te) == pytest.approx(run.test_accuracy)
    assert len(run.misclassified) == len(y_te) - np.trace(run.confusion)
    assert np.all(run.y_pred[run.misclassified] != y_te[run.misclassified])
    assert [s for s, _ in run.result.eval_accuracy] == [20, 40]
    assert run.test_accuracy > 0.5  # 40 steps: far from the goal, far above chance (0.1)
    with pytest.raises(ValueError, match="kind"):
        train_digits("rnn")


def test_flat_digits_are_the_images_row_major():
    images = load_digits_images(test_size=0.25, seed=3)
    flat = load_digits_images(test_size=0.25, seed=3, flat=True)
    assert flat[0].shape == (images[0].shape[0], 64) and flat[2].shape == (images[2].shape[0], 64)
    np.testing.assert_array_equal(flat[0], images[0].reshape(-1, 64))
    np.testing.assert_array_equal(flat[3], images[3])


def test_a_second_train_classifier_call_reuses_the_compiled_step():
    """make_classifier_loss returns one function per argument set (jaxml.core.train.cached_loss),
    and fit keys its compiled program on the loss: the second identical run traces nothing."""
    from jaxml.core.train import _RUNNERS

    model = MLP((8, 3))
    X = jax.random.uniform(jax.random.key(1), (32, 5))
    y = jax.random.randint(jax.random.key(2), (32,), 0, 3)
    assert make_classifier_loss(model) is make_classifier_loss(model)
    assert make_classifier_loss(model) is not make_classifier_loss(model, weight_decay=0.1)
    first = train_classifier(model, X, y, key=jax.random.key(3), num_steps=4, batch_size=8, progress=False)
    compiled = len(_RUNNERS)
    second = train_classifier(model, X, y, key=jax.random.key(3), num_steps=4, batch_size=8, progress=False)
    assert len(_RUNNERS) == compiled
    np.testing.assert_array_equal(first.history["loss"], second.history["loss"])
