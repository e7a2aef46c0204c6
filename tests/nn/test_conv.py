"""Convolution and pooling against lax.conv_general_dilated, lax.reduce_window, flax and jax.grad."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxml.core.gradcheck import REGISTRY, compare_gradients
from jaxml.nn.conv import (
    FORMULATIONS,
    avg_pool2d,
    conv2d,
    conv2d_backward,
    conv_formulation,
    conv_output_size,
    max_pool2d,
    normalize_padding,
)

DN = ("NHWC", "HWIO", "NHWC")
# One compiled program per case instead of one per eager op.
_jit_backward = jax.jit(conv2d_backward, static_argnames=("stride", "padding"))

# (H, W, F_h, F_w, stride, padding): odd/even sizes, strides 1-3, every padding form.
CASES = [
    (7, 7, 3, 3, 1, "valid"),
    (7, 6, 3, 3, 1, "same"),
    (8, 8, 3, 3, 2, "same"),
    (9, 7, 5, 3, 2, 1),
    (6, 9, 2, 4, (2, 3), ((1, 0), (2, 1))),
    (5, 5, 5, 5, 3, 2),
    (6, 6, 1, 1, 2, "valid"),
    (6, 6, 3, 3, 1, 3),  # padding beyond F - 1: the flipped-kernel input gradient crops
]


def _lax_pads(padding, h, w, fh, fw, stride):
    strides = (stride, stride) if np.ndim(stride) == 0 else stride
    return strides, normalize_padding(padding, (h, w), (fh, fw), strides)


def _reference(x, w, strides, pads):
    return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=DN,
                                    precision=lax.Precision.HIGHEST)


def _draw(case, dtype, batch=2, c_in=3, c_out=4, seed=0):
    h, w, fh, fw, _, _ = case
    kx, kw, kb = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(kx, (batch, h, w, c_in), dtype), jax.random.normal(kw, (fh, fw, c_in, c_out), dtype),
            jax.random.normal(kb, (c_out,), dtype))


@pytest.mark.parametrize("n", [5, 8, 28])
@pytest.mark.parametrize("f", [1, 2, 3, 5])
@pytest.mark.parametrize("p", [0, 1, 2])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_output_shape_matches_the_formula(n, f, p, s):
    if f > n + 2 * p:
        pytest.skip("kernel larger than the padded input")
    x = jax.ShapeDtypeStruct((1, n, n + 1, 2), jnp.float32)
    w = jax.ShapeDtypeStruct((f, f, 2, 3), jnp.float32)
    shape = jax.eval_shape(lambda x, w: conv2d(x, w, stride=s, padding=p), x, w).shape
    expected = (1, conv_output_size(n, f, p, s), conv_output_size(n + 1, f, p, s), 3)
    assert shape == expected
    ref = jax.eval_shape(lambda x, w: lax.conv_general_dilated(x, w, (s, s), [(p, p)] * 2, dimension_numbers=DN), x, w)
    assert ref.shape == expected
    assert conv_output_size(n, f, p, s) == (n - f + 2 * p) // s + 1
    assert conv_output_size(n, f, (p, p + 1), s) == (n - f + 2 * p + 1) // s + 1


@pytest.mark.parametrize("n", [5, 6, 7, 28])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_same_padding_gives_ceil_n_over_s(n, s):
    x = jax.ShapeDtypeStruct((1, n, n, 1), jnp.float32)
    w = jax.ShapeDtypeStruct((3, 3, 1, 1), jnp.float32)
    assert jax.eval_shape(lambda x, w: conv2d(x, w, stride=s, padding="same"), x, w).shape[1] == -(-n // s)


@pytest.mark.parametrize("case", CASES)
def test_forward_equals_lax_conv_float64(case, x64):
    x, w, b = _draw(case, jnp.float64)
    strides, pads = _lax_pads(case[5], *case[:4], case[4])
    @jax.jit
    def ours_and_ref(x, w, b):
        # A single (H, W, C) image gives the batch's first row.
        return (conv2d(x, w, b, stride=case[4], padding=case[5]), conv2d(x[0], w, b, stride=case[4], padding=case[5]),
                _reference(x, w, strides, pads) + b[None, None, None])

    y, y0, y_ref = ours_and_ref(x, w, b)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y0, y_ref[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("c_in", [1, 3])
def test_hand_backward_equals_jax_grad_of_lax_conv_float64(case, c_in, x64):
    x, w, b = _draw(case, jnp.float64, c_in=c_in)
    strides, pads = _lax_pads(case[5], *case[:4], case[4])
    y, vjp = jax.vjp(lambda x, w, b: _reference(x, w, strides, pads) + b[None, None, None], x, w, b)
    d_out = jax.random.normal(jax.random.key(5), y.shape, jnp.float64)
    dx_ref, dw_ref, db_ref = vjp(d_out)
    dx, dw, db = _jit_backward(x, w, d_out, stride=case[4], padding=case[5])
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(db, db_ref, rtol=1e-11, atol=1e-11)
    dx1, _, _ = _jit_backward(x[0], w, d_out[0], stride=case[4], padding=case[5])
    np.testing.assert_allclose(dx1, dx_ref[0], rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("formulation", ["taps", None])
def test_autodiff_through_each_formulation_equals_lax_conv(case, formulation, x64):
    # "taps" on any backend, and conv2d's own choice (taps on CPU for C_in = 1, lax otherwise).
    x, w, b = _draw(case, jnp.float64, c_in=1 if formulation is None else 2)
    strides, pads = _lax_pads(case[5], *case[:4], case[4])

    def ours(x, w, b):
        return conv2d(x, w, b, stride=case[4], padding=case[5], formulation=formulation)

    def ref(x, w, b):
        return _reference(x, w, strides, pads) + b[None, None, None]

    y = ref(x, w, b)
    r = jax.random.normal(jax.random.key(3), y.shape, jnp.float64)

    @jax.jit
    def value_and_grads(x, w, b):
        value = ours(x, w, b)
        return value, jax.grad(lambda x, w, b: jnp.sum(ours(x, w, b) * r), (0, 1, 2))(x, w, b)

    value, g_ours = value_and_grads(x, w, b)
    np.testing.assert_allclose(value, y, rtol=1e-12, atol=1e-12)
    g_ref = jax.jit(jax.grad(lambda x, w, b: jnp.sum(ref(x, w, b) * r), (0, 1, 2)))(x, w, b)
    for a, e in zip(g_ours, g_ref, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-11)


def test_float32_conv_and_gradients_match_lax_to_rounding():
    x = jax.random.normal(jax.random.key(0), (2, 14, 14, 1))
    w1 = jax.random.normal(jax.random.key(1), (3, 3, 1, 8))
    w2 = jax.random.normal(jax.random.key(2), (3, 3, 8, 16))

    def net(conv, x, w1, w2):
        return jnp.sum(jnp.tanh(conv(jnp.tanh(conv(x, w1)), w2)))

    ours = lambda x, w: conv2d(x, w, padding="same")  # noqa: E731
    ref = lambda x, w: _reference(x, w, (1, 1), ((1, 1), (1, 1)))  # noqa: E731
    np.testing.assert_allclose(ours(x, w1), ref(x, w1), rtol=1e-5, atol=1e-5)
    g_ours = jax.jit(jax.grad(lambda *a: net(ours, *a), (0, 1, 2)))(x, w1, w2)
    g_ref = jax.jit(jax.grad(lambda *a: net(ref, *a), (0, 1, 2)))(x, w1, w2)
    for a, e in zip(g_ours, g_ref, strict=True):
        np.testing.assert_allclose(a, e, rtol=2e-4, atol=2e-4 * float(jnp.max(jnp.abs(e))))


def test_the_weight_gradient_sums_over_shared_positions():
    # One channel, 1x1 kernel, valid: dL/dw = Σ_{b,p,q} x[b,p,q]·d_out[b,p,q], by brute force.
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 1)
    d_out = np.ones((2, 3, 3, 1), np.float32)
    _, dw, db = conv2d_backward(jnp.asarray(x), jnp.ones((1, 1, 1, 1)), jnp.asarray(d_out))
    assert float(dw[0, 0, 0, 0]) == pytest.approx(x.sum())
    assert float(db[0]) == pytest.approx(18.0)


def test_registered_conv_gradchecks_pass(x64):
    names = [n for n in REGISTRY if n.startswith("nn.conv2d")]
    assert {"nn.conv2d_dx_s2_pad1", "nn.conv2d_dw_s2_pad1", "nn.conv2d_db"} <= set(names)
    for name in ("nn.conv2d_dw_s21_asym",):
        row = compare_gradients(REGISTRY[name], jax.random.key(1))
        assert row.ok and row.err64 <= 1e-10, row


# ----------------------------------------------------------------------------------------------
# pooling

POOL_CASES = [(8, 8, 2, None), (7, 9, 2, None), (9, 9, 3, 2), (8, 6, (2, 3), (1, 2)), (6, 6, 3, 3)]


def _reduce_window(x, k, s, kind):
    k = (k, k) if np.ndim(k) == 0 else k
    s = k if s is None else ((s, s) if np.ndim(s) == 0 else s)
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, *k, 1), (1, *s, 1), "VALID")
    return lax.reduce_window(x, 0.0, lax.add, (1, *k, 1), (1, *s, 1), "VALID") / (k[0] * k[1])


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_and_its_gradient_equal_reduce_window(case, kind, x64):
    h, w, k, s = case
    pool = max_pool2d if kind == "max" else avg_pool2d
    # Continuous random inputs: no ties, so the max's gradient is unique.
    x = jax.random.normal(jax.random.key(0), (2, h, w, 3), jnp.float64)
    r = jax.random.normal(jax.random.key(1), _reduce_window(x, k, s, kind).shape, jnp.float64)
    np.testing.assert_allclose(pool(x, k, s), _reduce_window(x, k, s, kind), rtol=1e-12)
    g = jax.jit(jax.grad(lambda x: jnp.sum(pool(x, k, s) * r)))(x)
    g_ref = jax.jit(jax.grad(lambda x: jnp.sum(_reduce_window(x, k, s, kind) * r)))(x)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pool(x[0], k, s), pool(x, k, s)[0], rtol=1e-12)


@pytest.mark.parametrize("case", POOL_CASES)
def test_pooling_equals_flax(case):
    h, w, k, s = case
    k2 = (k, k) if np.ndim(k) == 0 else k
    s2 = k2 if s is None else ((s, s) if np.ndim(s) == 0 else s)
    x = jax.random.normal(jax.random.key(2), (2, h, w, 3))
    np.testing.assert_allclose(max_pool2d(x, k, s), nn.max_pool(x, k2, s2, "VALID"), rtol=1e-6)
    np.testing.assert_allclose(avg_pool2d(x, k, s), nn.avg_pool(x, k2, s2, "VALID"), rtol=1e-5, atol=1e-6)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(max_pool2d(x, k, s))))(x)
    g_ref = jax.grad(lambda x: jnp.sum(jnp.sin(nn.max_pool(x, k2, s2, "VALID"))))(x)
    np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# bad input


def test_bad_input_raises_value_errors_naming_the_argument():
    x = jnp.zeros((2, 5, 5, 3))
    w = jnp.zeros((3, 3, 3, 4))
    with pytest.raises(ValueError, match="x must be 3-D or 4-D"):
        conv2d(jnp.zeros((5, 5)), w)
    with pytest.raises(ValueError, match="w must be 4-D"):
        conv2d(x, jnp.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="input channels"):
        conv2d(x, jnp.zeros((3, 3, 2, 4)))
    with pytest.raises(ValueError, match="b must have shape"):
        conv2d(x, w, jnp.zeros(3))
    with pytest.raises(ValueError, match="kernel size 7.*larger than the padded input x"):
        conv2d(x, jnp.zeros((7, 3, 3, 4)))
    conv2d(x, jnp.zeros((7, 3, 3, 4)), padding=1)  # 5 + 2 = 7 fits
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, w, padding=((1, 1), (1,)))
    with pytest.raises(ValueError, match="stride"):
        conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="d_out"):
        conv2d_backward(x, w, jnp.zeros((2, 5, 5, 4)))
    with pytest.raises(ValueError, match="window"):
        max_pool2d(x, 6)
    with pytest.raises(ValueError, match="x must be 3-D or 4-D"):
        avg_pool2d(jnp.zeros((4, 4)))
    with pytest.raises(ValueError, match="stride"):
        max_pool2d(x, 2, 0)


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_forward_mode_autodiff_through_each_formulation(formulation):
    x, w, _ = _draw(CASES[1], jnp.float32)
    t = jnp.ones_like(w)
    _, tangent = jax.jvp(lambda w: conv2d(x, w, padding="same", formulation=formulation), (w,), (t,))
    np.testing.assert_allclose(tangent, conv2d(x, t, padding="same"), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="formulation"):
        conv2d(x, w, formulation="fft")


def test_the_formulation_is_chosen_per_backend_and_channel_count():
    assert conv_formulation(1, "cpu") == "taps"
    assert conv_formulation(3, "cpu") == conv_formulation(32, "cpu") == "lax"
    assert conv_formulation(1, "gpu") == conv_formulation(1, "tpu") == "lax"
