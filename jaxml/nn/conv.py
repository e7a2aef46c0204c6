"""2-D convolution and pooling (NHWC images, HWIO kernels) with a hand-written backward pass.

A convolution layer with F_h×F_w kernels, stride s and zero padding p maps an input of spatial
size n to

  out = ⌊(n − f + p_lo + p_hi) / s⌋ + 1      (= ⌊(n − f + 2p)/s⌋ + 1 for symmetric padding),

  y[b, p, q, k] = b_k + Σ_{i, j, c} x_pad[b, p·s + i, q·s + j, c] · w[i, j, c, k].

Every output position shares the same weights, so the gradient of a weight sums over all the
positions that used it (``conv2d_backward``). Pooling takes the max or the mean of each window.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxml.core.checks import check_array, check_int
from jaxml.core.gradcheck import register_gradient

_DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")


# ----------------------------------------------------------------------------------------------
# shapes and argument normalisation (outside jit: shapes are static)


def conv_output_size(n: int, f: int, p=0, s: int = 1) -> int:
    """Output length ⌊(n − f + 2p)/s⌋ + 1 of a convolution or pooling along one axis.

    ``p`` is a symmetric padding (an int) or a pair ``(p_lo, p_hi)``, giving
    ⌊(n − f + p_lo + p_hi)/s⌋ + 1.
    """
    p_lo, p_hi = (p, p) if np.ndim(p) == 0 else p
    return (n - f + p_lo + p_hi) // s + 1


def _output_hw(x_shape, w_shape, pads, strides) -> tuple[int, int]:
    """(H_out, W_out) of x (B, H, W, C) convolved with w (F_h, F_w, C, K)."""
    return tuple(conv_output_size(n, f, p, s)
                 for n, f, p, s in zip(x_shape[1:3], w_shape[:2], pads, strides, strict=True))


def _pair(value, name: str) -> tuple[int, int]:
    """An int or a pair of positive ints -> a pair."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(check_int(v, name, minimum=1) for v in pair)


def _same_padding(n: int, f: int, s: int) -> tuple[int, int]:
    """'same' padding: out = ⌈n/s⌉, total pad max((out − 1)·s + f − n, 0), the extra row at the end
    (the convention of lax/TensorFlow 'SAME')."""
    out = -(-n // s)
    total = max((out - 1) * s + f - n, 0)
    return total // 2, total - total // 2


def normalize_padding(padding, input_hw, kernel_hw, strides) -> tuple[tuple[int, int], tuple[int, int]]:
    """``"valid"`` | ``"same"`` | int | ((top, bottom), (left, right)) -> explicit ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0), (0, 0)
        if mode == "same":
            return tuple(_same_padding(n, f, s) for n, f, s in zip(input_hw, kernel_hw, strides, strict=True))
        raise ValueError(f"padding must be 'valid', 'same', an int or ((top, bottom), (left, right)), got {padding!r}")
    if isinstance(padding, (int, np.integer)):
        p = check_int(padding, "padding", minimum=0)
        return (p, p), (p, p)
    try:
        pads = tuple(tuple(int(v) for v in pair) for pair in padding)
    except (TypeError, ValueError):
        pads = ()
    if len(pads) != 2 or any(len(pair) != 2 for pair in pads) or any(v < 0 for pair in pads for v in pair):
        raise ValueError(
            f"padding must be 'valid', 'same', a non-negative int or ((top, bottom), (left, right)), got {padding!r}"
        )
    return pads


def _check_conv(x, w, b, stride, padding):
    """Validate and return (strides, pads) for x of shape (B, H, W, C) and w (F_h, F_w, C, K)."""
    check_array(x, "x", ndim=4, min_samples=1)
    check_array(w, "w", ndim=4)
    if np.shape(w)[2] != np.shape(x)[3]:
        raise ValueError(
            f"w has {np.shape(w)[2]} input channels (w.shape[2]) but x has {np.shape(x)[3]} channels "
            f"(x.shape[-1]); w must have shape (F_h, F_w, C_in, C_out)"
        )
    if b is not None:
        check_array(b, "b", ndim=1)
        if np.shape(b)[0] != np.shape(w)[3]:
            raise ValueError(f"b must have shape ({np.shape(w)[3]},) to match w's C_out, got {np.shape(b)}")
    strides = _pair(stride, "stride")
    pads = normalize_padding(padding, np.shape(x)[1:3], np.shape(w)[:2], strides)
    for axis, (n, f, (lo, hi)) in enumerate(zip(np.shape(x)[1:3], np.shape(w)[:2], pads, strict=True)):
        if f > n + lo + hi:
            raise ValueError(
                f"w's kernel size {f} (axis {axis}) is larger than the padded input x "
                f"({n} + {lo} + {hi} = {n + lo + hi})"
            )
    return strides, pads


# ----------------------------------------------------------------------------------------------
# convolution


def _conv_lax(x, w, strides, pads):
    return lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=_DIMENSION_NUMBERS)


def conv2d(x, w, b=None, *, stride=1, padding="valid", formulation: str | None = None):
    """2-D convolution (cross-correlation, as in every deep-learning library) of NHWC images.

    y[b, p, q, k] = b_k + Σ_{i<F_h, j<F_w, c<C} x_pad[b, p·s_h + i, q·s_w + j, c] · w[i, j, c, k],

    with x_pad the input zero-padded by ((top, bottom), (left, right)); the output has
    ⌊(H − F_h + top + bottom)/s_h⌋ + 1 rows (``conv_output_size``) and likewise columns.

    Args:
      x: (B, H, W, C) or a single image (H, W, C).
      w: (F_h, F_w, C, K) kernels (HWIO).
      b: optional (K,) bias.
      stride: s or (s_h, s_w).
      padding: ``"valid"`` (none), ``"same"`` (output ⌈H/s⌉, the extra row at the bottom/right),
        an int p, or ((top, bottom), (left, right)).
      formulation: ``None`` (the fastest for this backend and C_in, ``conv_formulation``),
        ``"lax"`` (lax.conv_general_dilated) or ``"taps"`` (the sum over kernel taps
        Σ_{i,j} x_pad[:, i::s_h, j::s_w, :] @ w[i, j]).

    Returns:
      (B, H_out, W_out, K), or (H_out, W_out, K) for a single image.

    Raises:
      ValueError: wrong rank of x or w, channel mismatch, bad stride/padding, or a kernel larger
        than the padded input.
    """
    check_array(x, "x", ndim=(3, 4))
    single = np.ndim(x) == 3
    if single:
        x = x[None]
    strides, pads = _check_conv(x, w, b, stride, padding)
    if formulation is not None and formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS} or None, got {formulation!r}")
    if (formulation or conv_formulation(np.shape(w)[2])) == "taps":
        y = _conv_taps(x, w, strides, pads)
    else:
        y = _conv_lax(x, w, strides, pads)
    if b is not None:
        y = y + jnp.reshape(b, (1, 1, 1, -1))
    return y[0] if single else y


# The exact formulations of the convolution; ``conv_formulation`` says which ``conv2d`` uses.
FORMULATIONS = ("lax", "taps")

# With this many input channels (one: a grey-scale input layer) XLA:CPU runs the course CNN's train
# step faster with the convolution as F_h·F_w products of shifted slices (a contraction over one
# channel is a broadcast multiply that fuses with the ReLU and pooling around it): 1.13-1.34x per
# step over lax.conv in four interleaved runs. With 3 to 32 input channels taps are far slower
# (0.1x for the layer alone at C_in = 3, 4, 8; 0.64-0.75x per step at C_in = 32).
_TAPS_MAX_CHANNELS = 1


def conv_formulation(c_in: int, backend: str | None = None) -> str:
    """The formulation ``conv2d`` uses for ``c_in`` input channels on ``backend`` (default
    ``jax.default_backend()``): ``"taps"`` on CPU when c_in = 1, else ``"lax"``
    (lax.conv_general_dilated: cuDNN / TPU convolutions on accelerators). Both compute the same
    sums (equal to float rounding, tested) and are differentiated by autodiff in either mode."""
    on_cpu = (backend or jax.default_backend()) == "cpu"
    return "taps" if on_cpu and c_in <= _TAPS_MAX_CHANNELS else "lax"


def _conv_taps(x, w, strides, pads):
    """y = Σ_{i, j} x_pad[:, i::s_h, j::s_w, :] @ w[i, j]: F_h·F_w matrix products (B·H_out·W_out, C) @ (C, K)."""
    (top, bottom), (left, right) = pads
    x_pad = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    out_hw = _output_hw(x.shape, w.shape, pads, strides)
    f_h, f_w = w.shape[:2]
    terms = [jnp.einsum("bpqc,ck->bpqk", _tap_slice(x_pad, i, j, out_hw, strides), w[i, j])
             for i in range(f_h) for j in range(f_w)]
    return sum(terms[1:], terms[0])


def conv2d_backward(x, w, d_out, *, stride=1, padding="valid"):
    """Hand backward pass of ``conv2d``: (∂L/∂x, ∂L/∂w, ∂L/∂b) from d_out = ∂L/∂y.

    With x_pad the padded input and s the stride (each weight is used at every output position):

      ∂L/∂w[i, j, c, k] = Σ_{b, p, q} x_pad[b, p·s_h + i, q·s_w + j, c] · d_out[b, p, q, k],
      ∂L/∂b[k]          = Σ_{b, p, q} d_out[b, p, q, k],
      ∂L/∂x_pad[b, u, v, c] = Σ_{p, q, i, j: p·s_h + i = u, q·s_w + j = v} d_out[b, p, q, k] · w[i, j, c, k]
                        (the transposed convolution: each output's gradient spread back over its
                         window), and ∂L/∂x is ∂L/∂x_pad with the padding cropped.

    The weight gradient is a sum of F_h·F_w matrix products (one per tap, over the strided slices
    of x_pad). The input gradient is the same sum written as one full correlation with the flipped
    kernel w̃[i, j, k, c] = w[F_h−1−i, F_w−1−j, c, k]: with d̂ the output gradient dilated by the
    stride (d̂[b, p·s_h, q·s_w] = d_out[b, p, q], zeros between) and zero-padded by F − 1 on each
    side, ∂L/∂x_pad[b, u, v, c] = Σ_{i, j, k} d̂[b, u + i, v + j, k] · w̃[i, j, k, c] (substitute
    i → F_h−1−i). Only x's own positions are computed. On XLA:CPU this one convolution is
    2.2–2.7× faster than F_h·F_w products scatter-added into x_pad (3×3, 32 → 64 channels, 4×4
    to 28×28 images, inside a loop); PGD-20 on the digits CNN went 0.18 → 0.13–0.17 s. A
    one-channel input (C = 1) instead takes e = d_out @ W with W[k, (i, j)] = w[i, j, 0, k] and adds
    each tap's column of e into x_pad at the tap's offset (the flipped convolution would have a
    single output channel, which XLA:CPU runs slowly).

    Args and shapes as in ``conv2d``; d_out has the output's shape. Returns (dx, dw, db).
    """
    check_array(x, "x", ndim=(3, 4))
    single = np.ndim(x) == 3
    if single:
        x, d_out = x[None], d_out[None]
    strides, pads = _check_conv(x, w, None, stride, padding)
    out_hw = _output_hw(x.shape, w.shape, pads, strides)
    expected = (x.shape[0], *out_hw, w.shape[3])
    if tuple(np.shape(d_out)) != expected:
        raise ValueError(f"d_out must have the output's shape {expected}, got {np.shape(d_out)}")
    dx, dw, db = _conv_backward(x, w, d_out, strides, pads)
    return (dx[0] if single else dx), dw, db


def _tap_slice(x_pad, i, j, out_hw, strides):
    """x_pad[:, p·s_h + i, q·s_w + j, :] for every output position (p, q): (B, H_out, W_out, C)."""
    (s_h, s_w), (h_out, w_out) = strides, out_hw
    return lax.slice(
        x_pad,
        (0, i, j, 0),
        (x_pad.shape[0], i + (h_out - 1) * s_h + 1, j + (w_out - 1) * s_w + 1, x_pad.shape[3]),
        (1, s_h, s_w, 1),
    )


def _conv_backward(x, w, d_out, strides, pads):
    """(dx, dw, db) by the formulas of ``conv2d_backward``."""
    (top, bottom), (left, right) = pads
    x_pad = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    f_h, f_w = w.shape[:2]
    out_hw = d_out.shape[1:3]
    taps = [_tap_slice(x_pad, i, j, out_hw, strides) for i in range(f_h) for j in range(f_w)]
    # Each product contracts the B·H_out·W_out positions. Written as (K, n) @ (n, C), d_outᵀ is
    # transposed once and every tap is read as it lies; as (C, n) @ (n, K), XLA:CPU transposes all
    # F_h·F_w taps (the CNN step ~5% slower).
    n = d_out.shape[0] * out_hw[0] * out_hw[1]
    if x.shape[3] == 1:
        # one product over the taps stacked as rows, (F_h·F_w, n) @ (n, K): nine one-channel
        # products would read d_out nine times
        dw = (jnp.stack([tap.reshape(n) for tap in taps]) @ d_out.reshape(n, -1)).reshape(w.shape)
        dx = _input_gradient_one_channel(x.shape, w, d_out, strides, pads)
    else:
        dw_t = jnp.stack([jnp.einsum("bpqk,bpqc->kc", d_out, tap) for tap in taps])
        dw = jnp.transpose(dw_t, (0, 2, 1)).reshape(w.shape)
        dx = _input_gradient_flipped(x.shape, w, d_out, strides, pads)
    db = jnp.sum(d_out, axis=(0, 1, 2))
    return dx, dw, db


def _input_gradient_one_channel(x_shape, w, d_out, strides, pads):
    """∂L/∂x for a one-channel input: e = d_out @ W (W[k, t] = w[i, j, 0, k], t = (i, j)), one
    product over the K output channels, then each tap's column e[..., t] added into x_pad at its
    window offset: ∂L/∂x_pad[b, p·s_h + i, q·s_w + j] += e[b, p, q, (i, j)].

    Why: the flipped-kernel convolution has one output channel here, a shape XLA:CPU runs at a
    tenth of its usual speed (the digits CNN's first-layer input gradient took 1.5 ms of a PGD
    step's 13.4 ms of thread time, 0.65 ms this way; PGD-20 6–12% faster)."""
    f_h, f_w = w.shape[:2]
    (s_h, s_w), (h_out, w_out) = strides, d_out.shape[1:3]
    (top, bottom), (left, right) = pads
    h_pad, w_pad = x_shape[1] + top + bottom, x_shape[2] + left + right
    dtype = jnp.result_type(w, d_out)
    e = jnp.einsum("bpqk,tk->bpqt", d_out.astype(dtype), w.reshape(f_h * f_w, -1).astype(dtype))
    zero = jnp.zeros((), dtype)
    # each tap's plane dilated by the stride and placed at its offset; the padding cropped by
    # negative edges: rows top .. top + H − 1 of x_pad are x's
    planes = [lax.pad(e[..., i * f_w + j], zero,
                      ((0, 0, 0),
                       (i - top, h_pad - i - ((h_out - 1) * s_h + 1) - bottom, s_h - 1),
                       (j - left, w_pad - j - ((w_out - 1) * s_w + 1) - right, s_w - 1)))
              for i in range(f_h) for j in range(f_w)]
    return sum(planes[1:], planes[0])[..., None]


def _input_gradient_flipped(x_shape, w, d_out, strides, pads):
    """∂L/∂x as one convolution: d_out dilated by the stride, padded by F − 1 minus the input's
    own padding (so that only x's positions are computed; the rows and columns past the last
    window, which get no gradient, pad the far side), correlated with the flipped kernel."""
    f_h, f_w = w.shape[:2]
    (s_h, s_w), (h_out, w_out) = strides, d_out.shape[1:3]
    (top, bottom), (left, right) = pads
    extra_h = x_shape[1] + top + bottom - ((h_out - 1) * s_h + f_h)
    extra_w = x_shape[2] + left + right - ((w_out - 1) * s_w + f_w)
    dtype = jnp.result_type(w, d_out)
    w_flipped = jnp.transpose(w[::-1, ::-1], (0, 1, 3, 2)).astype(dtype)
    # lax pads negatively (crops) where the input's padding exceeds F − 1
    return lax.conv_general_dilated(
        d_out.astype(dtype), w_flipped, (1, 1),
        ((f_h - 1 - top, f_h - 1 - bottom + extra_h), (f_w - 1 - left, f_w - 1 - right + extra_w)),
        lhs_dilation=strides, dimension_numbers=_DIMENSION_NUMBERS)


# ----------------------------------------------------------------------------------------------
# pooling


def _check_pool(x, window, stride):
    check_array(x, "x", ndim=4, min_samples=1)
    windows = _pair(window, "window")
    strides = windows if stride is None else _pair(stride, "stride")
    for axis, (n, k) in enumerate(zip(np.shape(x)[1:3], windows, strict=True)):
        if k > n:
            raise ValueError(f"window {k} (axis {axis}) is larger than the input x ({n})")
    return windows, strides


def _pool(x, window, stride, reduce_name):
    check_array(x, "x", ndim=(3, 4))
    single = np.ndim(x) == 3
    if single:
        x = x[None]
    (k_h, k_w), (s_h, s_w) = _check_pool(x, window, stride)
    b, h, w, c = x.shape
    if (s_h, s_w) == (k_h, k_w):
        # Non-overlapping windows: a reshape and a reduction, whose backward is a broadcast (no
        # select_and_scatter, which is slow on XLA:CPU). Rows/columns past the last whole window
        # are dropped, as 'valid' reduce_window does: ⌊(H − k)/k⌋ + 1 = ⌊H/k⌋.
        h_out, w_out = h // k_h, w // k_w
        blocks = x[:, : h_out * k_h, : w_out * k_w, :].reshape(b, h_out, k_h, w_out, k_w, c)
        y = jnp.max(blocks, axis=(2, 4)) if reduce_name == "max" else jnp.mean(blocks, axis=(2, 4))
    elif reduce_name == "max":
        y = lax.reduce_window(x, -jnp.inf, lax.max, (1, k_h, k_w, 1), (1, s_h, s_w, 1), "VALID")
    else:
        y = lax.reduce_window(x, 0.0, lax.add, (1, k_h, k_w, 1), (1, s_h, s_w, 1), "VALID") / (k_h * k_w)
    return y[0] if single else y


def max_pool2d(x, window=2, stride=None):
    """Max pooling of NHWC images over k_h×k_w windows ('valid': no padding).

    y[b, p, q, c] = max_{i<k_h, j<k_w} x[b, p·s_h + i, q·s_w + j, c], output ⌊(H − k_h)/s_h⌋ + 1
    rows; ``stride`` defaults to the window (non-overlapping windows).

    x: (B, H, W, C) or (H, W, C); ``window`` and ``stride`` an int or a pair.
    """
    return _pool(x, window, stride, "max")


def avg_pool2d(x, window=2, stride=None):
    """Average pooling of NHWC images: y[b, p, q, c] = (1/(k_h k_w)) Σ_{i<k_h, j<k_w} x[b, p·s_h + i, q·s_w + j, c].

    Same shapes and arguments as ``max_pool2d``.
    """
    return _pool(x, window, stride, "mean")


# ----------------------------------------------------------------------------------------------
# gradient checks: L = ⟨conv2d(x, w, b), R⟩ for a fixed random R, so ∂L/∂y = R.

_GRADCHECK_CASES = {
    "s1_valid": (1, "valid"),
    "s1_same": (1, "same"),
    "s2_pad1": (2, 1),
    "s21_asym": ((2, 1), ((1, 0), (2, 1))),
}


def _gradcheck_args(stride, padding, c_in=2):
    def make_args(key, dtype):
        kx, kw, kb, kr = jax.random.split(key, 4)
        x = jax.random.normal(kx, (2, 6, 5, c_in), dtype)
        w = jax.random.normal(kw, (3, 3, c_in, 4), dtype)
        b = jax.random.normal(kb, (4,), dtype)
        strides = _pair(stride, "stride")
        pads = normalize_padding(padding, x.shape[1:3], w.shape[:2], strides)
        out_hw = _output_hw(x.shape, w.shape, pads, strides)
        r = jax.random.normal(kr, (2, *out_hw, 4), dtype)
        return x, w, b, r

    def loss(x, w, b, r):
        return jnp.sum(conv2d(x, w, b, stride=stride, padding=padding) * r)

    def grads(x, w, b, r):
        return conv2d_backward(x, w, r, stride=stride, padding=padding)

    return make_args, loss, grads


for _name, (_stride, _padding) in _GRADCHECK_CASES.items():
    _make_args, _loss, _grads = _gradcheck_args(_stride, _padding)
    register_gradient(f"nn.conv2d_dx_{_name}", loss=_loss, grad=lambda *a, g=_grads: g(*a)[0],
                      make_args=_make_args, argnum=0)
    register_gradient(f"nn.conv2d_dw_{_name}", loss=_loss, grad=lambda *a, g=_grads: g(*a)[1],
                      make_args=_make_args, argnum=1)
# The bias gradient Σ d_out does not depend on stride or padding: one check.
register_gradient("nn.conv2d_db", loss=_loss, grad=lambda *a, g=_grads: g(*a)[2], make_args=_make_args, argnum=2)
# A one-channel input has its own input-gradient formula (a product over the output channels and
# the taps' shifted adds).
_make_args, _loss, _grads = _gradcheck_args(2, 1, c_in=1)
register_gradient("nn.conv2d_dx_one_channel_s2_pad1", loss=_loss, grad=lambda *a, g=_grads: g(*a)[0],
                  make_args=_make_args, argnum=0)


__all__ = [
    "avg_pool2d",
    "conv2d",
    "conv2d_backward",
    "conv_formulation",
    "conv_output_size",
    "max_pool2d",
    "normalize_padding",
]
