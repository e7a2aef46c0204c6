"""Parameter handling shared by the kernel estimators (``SVC``, ``KernelRidge``) and the SVMs.

scikit-learn's kernel parametrization — γ (``"scale"``, ``"auto"`` or > 0), degree, coef0 — mapped
onto jaxml's kernel functions as traced ``Partial`` leaves, so that a new γ does not recompile.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from jaxml.core.checks import check_choice
from jaxml.kernels import (
    cosine_kernel,
    laplacian_kernel,
    linear_kernel,
    polynomial_kernel,
    rbf_kernel,
    sigmoid_kernel,
)

_KERNELS = ("linear", "poly", "polynomial", "rbf")


def _make_kernel(kernel: str, gamma: float, degree, coef0: float) -> Partial:
    """A jaxml kernel with scikit-learn's parametrization (γ, degree, coef0 are traced leaves):
    "linear" xᵀx', "poly"/"polynomial" (γxᵀx' + coef0)^degree, "rbf" exp(−γ‖x − x'‖²),
    "sigmoid" tanh(γxᵀx' + coef0), "laplacian" exp(−γ‖x − x'‖₁), "cosine" xᵀx'/(‖x‖‖x'‖)."""
    if kernel == "linear":
        return Partial(linear_kernel)
    if kernel == "cosine":
        return Partial(cosine_kernel)
    if kernel in ("poly", "polynomial"):
        return Partial(polynomial_kernel, degree=jnp.asarray(degree), gamma=jnp.asarray(gamma),
                       coef0=jnp.asarray(coef0))
    if kernel == "sigmoid":
        return Partial(sigmoid_kernel, gamma=jnp.asarray(gamma), coef0=jnp.asarray(coef0))
    if kernel == "laplacian":
        return Partial(laplacian_kernel, gamma=jnp.asarray(gamma))
    return Partial(rbf_kernel, gamma=jnp.asarray(gamma))


def _check_kernel_params(est, X, *, gamma_default):
    check_choice(est.kernel, "kernel", _KERNELS)
    gamma = est.gamma
    if gamma is None:
        gamma = gamma_default
    if gamma == "scale":
        var = float(X.var())
        gamma = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    elif gamma == "auto":
        gamma = 1.0 / X.shape[1]
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma must be 'scale', 'auto' or a number > 0, got {est.gamma!r}")
    degree = est.degree
    if isinstance(degree, bool) or int(degree) != degree or degree < 0:
        raise ValueError(f"degree must be an integer >= 0, got {est.degree!r}")
    coef0 = float(est.coef0)
    if not np.isfinite(coef0):
        raise ValueError(f"coef0 must be finite, got {est.coef0!r}")
    return gamma, int(degree), coef0


def _positive(value, name):
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def _non_negative(value, name):
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _max_epochs(max_iter):
    if isinstance(max_iter, bool) or int(max_iter) != max_iter or (max_iter < 1 and max_iter != -1):
        raise ValueError(f"max_iter must be an integer >= 1 (or -1: no limit), got {max_iter!r}")
    return 10_000 if max_iter == -1 else int(max_iter)


def _one_vs_rest(encoded, num_classes):
    """(P, N) labels in {−1, 1}: one problem for two classes (+1 = classes_[1]), else one per class."""
    if num_classes == 2:
        return np.where(encoded == 1, 1.0, -1.0)[None, :]
    return np.where(encoded[None, :] == np.arange(num_classes)[:, None], 1.0, -1.0)

