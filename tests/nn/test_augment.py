"""Data augmentation: exact geometric checks against numpy, determinism, vmap = loop, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.nn.augment import (
    augment,
    augment_batch,
    augmentation_grid,
    flip_horizontal,
    gaussian_noise,
    random_flip,
    random_rotation,
    random_shift,
    rotate_image,
    shift_image,
)

IMAGE = jax.random.uniform(jax.random.key(0), (9, 9, 2))
OPTIONS = dict(flip=True, max_shift=2, max_degrees=15.0, noise_std=0.05)
_augment = jax.jit(lambda k, im: augment(k, im, **OPTIONS))
_augment_batch = jax.jit(lambda k, ims: augment_batch(k, ims, **OPTIONS))


def test_flip_is_the_mirror_and_an_involution():
    np.testing.assert_array_equal(flip_horizontal(IMAGE), np.asarray(IMAGE)[:, ::-1, :])
    np.testing.assert_array_equal(flip_horizontal(flip_horizontal(IMAGE)), IMAGE)
    outs = [np.asarray(random_flip(jax.random.key(i), IMAGE)) for i in range(40)]
    flipped = [np.array_equal(o, np.asarray(IMAGE)[:, ::-1]) for o in outs]
    kept = [np.array_equal(o, np.asarray(IMAGE)) for o in outs]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 5 < sum(flipped) < 35  # p = 0.5


@pytest.mark.parametrize("shift", [(0, 0), (1, 2), (-2, 1), (2, -2)])
def test_shift_moves_each_pixel_by_the_shift(shift):
    out = np.asarray(jax.jit(shift_image, static_argnums=2)(IMAGE, jnp.asarray(shift), 2))
    ref = np.zeros_like(np.asarray(IMAGE))
    d_r, d_c = shift
    for r in range(9):
        for c in range(9):
            if 0 <= r + d_r < 9 and 0 <= c + d_c < 9:
                ref[r + d_r, c + d_c] = IMAGE[r, c]
    np.testing.assert_array_equal(out, ref)


def test_random_shift_is_a_shift_within_the_bound():
    for i in range(10):
        out = np.asarray(random_shift(jax.random.key(i), IMAGE, 2))
        assert any(np.array_equal(out, np.asarray(shift_image(IMAGE, (a, b), 2)))
                   for a in range(-2, 3) for b in range(-2, 3))


def test_rotation_by_zero_is_identity_and_by_90_is_rot90():
    np.testing.assert_allclose(rotate_image(IMAGE, 0.0), IMAGE, atol=1e-6)
    np.testing.assert_allclose(rotate_image(IMAGE, 90.0), jnp.rot90(IMAGE, axes=(0, 1)), atol=1e-5)
    np.testing.assert_allclose(rotate_image(IMAGE, -90.0), jnp.rot90(IMAGE, -1, axes=(0, 1)), atol=1e-5)
    np.testing.assert_allclose(rotate_image(IMAGE, 180.0), IMAGE[::-1, ::-1], atol=1e-5)


def test_small_rotation_is_bilinear_interpolation():
    # At 45°, pixel (r, c) samples a point between grid points; compare with a numpy bilinear gather.
    theta = np.deg2rad(30.0)
    img = np.asarray(IMAGE[..., 0], np.float64)
    out = np.asarray(rotate_image(IMAGE, 30.0))[..., 0]
    c0 = 4.0
    for r, c in [(4, 4), (3, 5), (2, 6), (6, 1)]:
        y, x = r - c0, c - c0
        sr, sc = np.cos(theta) * y + np.sin(theta) * x + c0, -np.sin(theta) * y + np.cos(theta) * x + c0
        r0, q0 = int(np.floor(sr)), int(np.floor(sc))
        a, b = sr - r0, sc - q0
        ref = ((1 - a) * (1 - b) * img[r0, q0] + (1 - a) * b * img[r0, q0 + 1]
               + a * (1 - b) * img[r0 + 1, q0] + a * b * img[r0 + 1, q0 + 1])
        assert out[r, c] == pytest.approx(ref, abs=1e-5)
    assert np.isclose(out[4, 4], img[4, 4], atol=1e-6)  # the centre is fixed


def test_random_rotation_stays_within_the_bound():
    out = random_rotation(jax.random.key(3), IMAGE, 0.0)
    np.testing.assert_allclose(out, IMAGE, atol=1e-6)
    out = random_rotation(jax.random.key(3), IMAGE, 10.0)
    assert out.shape == IMAGE.shape and not np.allclose(out, IMAGE)


def test_gaussian_noise_has_the_requested_std():
    big = jnp.zeros((64, 64, 3))
    noise = np.asarray(gaussian_noise(jax.random.key(1), big, 0.3))
    assert noise.std() == pytest.approx(0.3, rel=0.03)
    assert abs(noise.mean()) < 0.01


def test_same_key_same_output_and_shapes_dtypes_preserved():
    k = jax.random.key(7)
    a, b = _augment(k, IMAGE), _augment(k, IMAGE)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _augment(jax.random.key(8), IMAGE))
    assert a.shape == IMAGE.shape and a.dtype == IMAGE.dtype
    half = augment(k, IMAGE.astype(jnp.bfloat16), **OPTIONS)
    assert half.dtype == jnp.bfloat16


def test_vmapped_batch_equals_a_loop_over_examples():
    images = jax.random.uniform(jax.random.key(1), (4, 9, 9, 2))
    key = jax.random.key(11)
    batch = _augment_batch(key, images)
    keys = jax.random.split(key, 4)
    for i in range(4):
        np.testing.assert_allclose(batch[i], _augment(keys[i], images[i]), atol=1e-6)


def test_augmentation_grid_puts_the_originals_first():
    images = jax.random.uniform(jax.random.key(1), (3, 9, 9, 2))
    grid = augmentation_grid(jax.random.key(0), images, 4, **OPTIONS)
    assert grid.shape == (3, 5, 9, 9, 2)
    np.testing.assert_array_equal(grid[:, 0], images)
    assert not np.allclose(grid[:, 1], grid[:, 2])


def test_bad_input_raises_value_errors_naming_the_argument():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="image must be 3-D"):
        augment(key, jnp.zeros((9, 9)))
    with pytest.raises(ValueError, match="images must be 4-D"):
        augment_batch(key, IMAGE)
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(key, IMAGE, -1)
    with pytest.raises(ValueError, match="max_degrees"):
        random_rotation(key, IMAGE, -5.0)
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(key, IMAGE, -0.1)
    with pytest.raises(ValueError, match="noise_std"):
        augment(key, IMAGE, noise_std=-1.0)
    with pytest.raises(ValueError, match="n_aug"):
        augmentation_grid(key, IMAGE[None], -1)
