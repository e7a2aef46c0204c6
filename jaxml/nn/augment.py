"""Data augmentation as pure per-example functions of a key on (H, W, C) images.

Each random transform draws its parameters from ``key`` and calls a deterministic helper
(``flip_horizontal``, ``shift_image``, ``rotate_image``), so a test can fix the parameter. All of
them are jit-able; ``augment_batch`` vmaps ``augment`` over one key per example. The magnitudes
(``max_shift``, ``max_degrees``, ``noise_std``) are Python numbers fixed at trace time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.ndimage import map_coordinates

from jaxml.core.checks import check_array, check_int, check_scalar


def _check_image(image, name: str = "image"):
    check_array(image, name, ndim=3)


# ----------------------------------------------------------------------------------------------
# deterministic transforms


def flip_horizontal(image):
    """The mirror image: out[r, c, :] = image[r, W − 1 − c, :]."""
    return image[:, ::-1, :]


def shift_image(image, shift, max_shift: int):
    """Translate by shift = (d_r, d_c) with zero fill: out[r + d_r, c + d_c] = image[r, c].

    Implemented as a crop of the image zero-padded by ``max_shift`` on every side (|d| ≤
    ``max_shift``; ``shift`` may be traced, ``max_shift`` is static):
    out = pad(image)[m − d_r : m − d_r + H, m − d_c : m − d_c + W].
    """
    m = int(max_shift)
    h, w, c = image.shape
    padded = jnp.pad(image, ((m, m), (m, m), (0, 0)))
    shift = jnp.clip(jnp.asarray(shift, jnp.int32), -m, m)
    return jax.lax.dynamic_slice(padded, (m - shift[0], m - shift[1], 0), (h, w, c))


def rotate_image(image, degrees):
    """Rotate counter-clockwise by ``degrees`` about the centre ((H − 1)/2, (W − 1)/2), bilinear, zero fill.

    Output pixel (r, c), at (y, x) = (r − c_r, c − c_c) from the centre, reads the input at

      (y_s, x_s) = (cos θ · y + sin θ · x,  −sin θ · y + cos θ · x)   (+ the centre),

    interpolated bilinearly between its four neighbours (0 outside the image). θ = 90° gives
    ``jnp.rot90(image)`` on a square image.
    """
    h, w, _ = image.shape
    theta = jnp.deg2rad(jnp.asarray(degrees, jnp.result_type(image, float)))
    c_r, c_c = (h - 1) / 2.0, (w - 1) / 2.0
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=theta.dtype), jnp.arange(w, dtype=theta.dtype), indexing="ij")
    y, x = rows - c_r, cols - c_c
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    src_r = cos * y + sin * x + c_r
    src_c = -sin * y + cos * x + c_c
    channel = lambda plane: map_coordinates(plane, [src_r, src_c], order=1, mode="constant", cval=0.0)  # noqa: E731
    out = jax.vmap(channel, in_axes=2, out_axes=2)(image.astype(theta.dtype))
    return out.astype(image.dtype)


# ----------------------------------------------------------------------------------------------
# random transforms


def random_flip(key, image, p: float = 0.5):
    """Mirror the image horizontally with probability ``p`` (Bernoulli(p) drawn from ``key``)."""
    _check_image(image)
    check_scalar(p, "p", minimum=0.0, maximum=1.0)
    return jnp.where(jax.random.bernoulli(key, p), flip_horizontal(image), image)


def random_shift(key, image, max_shift: int):
    """A random crop: shift by (d_r, d_c) ~ Uniform{−m, …, m}², zero fill (``shift_image``)."""
    _check_image(image)
    m = check_int(max_shift, "max_shift", minimum=0)
    shift = jax.random.randint(key, (2,), -m, m + 1)
    return shift_image(image, shift, m)


def random_rotation(key, image, max_degrees: float):
    """Rotate by θ ~ Uniform(−max_degrees, max_degrees) degrees (``rotate_image``)."""
    _check_image(image)
    check_scalar(max_degrees, "max_degrees", minimum=0.0)
    degrees = jax.random.uniform(key, (), minval=-max_degrees, maxval=max_degrees)
    return rotate_image(image, degrees)


def gaussian_noise(key, image, std: float):
    """image + ε, ε ~ N(0, std²) independently per pixel and channel."""
    _check_image(image)
    check_scalar(std, "std", minimum=0.0)
    return image + (std * jax.random.normal(key, image.shape, jnp.result_type(image, float))).astype(image.dtype)


def augment(key, image, *, flip: bool = True, max_shift: int = 0, max_degrees: float = 0.0,
            noise_std: float = 0.0):
    """flip → shift → rotation → noise, each with its own key from ``jax.random.split(key, 4)``.

    A transform whose magnitude is 0 (or ``flip=False``) is skipped. Returns an image of the same
    shape and dtype.
    """
    _check_image(image)
    check_int(max_shift, "max_shift", minimum=0)
    check_scalar(max_degrees, "max_degrees", minimum=0.0)
    check_scalar(noise_std, "noise_std", minimum=0.0)
    k_flip, k_shift, k_rot, k_noise = jax.random.split(key, 4)
    if flip:
        image = random_flip(k_flip, image)
    if max_shift > 0:
        image = random_shift(k_shift, image, max_shift)
    if max_degrees > 0:
        image = random_rotation(k_rot, image, max_degrees)
    if noise_std > 0:
        image = gaussian_noise(k_noise, image, noise_std)
    return image


def augment_batch(key, images, **options):
    """``augment`` on each image of a (B, H, W, C) batch with its own key: vmap over
    ``jax.random.split(key, B)``. ``options`` are ``augment``'s keyword arguments."""
    check_array(images, "images", ndim=4)
    keys = jax.random.split(key, images.shape[0])
    return jax.vmap(lambda k, im: augment(k, im, **options))(keys, images)


def augmentation_grid(key, images, n_aug: int, **options):
    """(N, n_aug + 1, H, W, C): each image of ``images`` (N, H, W, C) followed by ``n_aug``
    independent augmentations of it (keys ``jax.random.split(fold_in(key, i), n_aug)`` for image i),
    for a grid plot whose first column holds the originals."""
    check_array(images, "images", ndim=4)
    n_aug = check_int(n_aug, "n_aug", minimum=0)

    def one(i, image):
        keys = jax.random.split(jax.random.fold_in(key, i), n_aug)
        augmented = jax.vmap(lambda k: augment(k, image, **options))(keys)
        return jnp.concatenate([image[None], augmented], axis=0)

    return jax.vmap(one)(jnp.arange(images.shape[0]), images)


__all__ = [
    "augment",
    "augment_batch",
    "augmentation_grid",
    "flip_horizontal",
    "gaussian_noise",
    "random_flip",
    "random_rotation",
    "random_shift",
    "rotate_image",
    "shift_image",
]
