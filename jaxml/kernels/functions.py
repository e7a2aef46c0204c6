"""Kernel functions, Gram matrices and Mercer's condition (SYLLABUS 3).

A kernel k(x, x') = φ(x)ᵀφ(x') is evaluated on whole batches: every kernel function here takes
X ∈ R^{N×D}, Z ∈ R^{M×D} and returns the Gram block K ∈ R^{N×M}, K[n, m] = k(x_n, z_m), built
from one matrix product XZᵀ (cost Θ(NMD)); none forms the N×M×D array of differences.

A *kernel* passed to the rest of jaxml (``gram``, kernel ridge, kernel SVM) is a
``jax.tree_util.Partial`` binding a kernel function to its hyper-parameters, e.g.
``as_kernel(rbf_kernel, gamma=0.5)``. The bound hyper-parameters are pytree leaves, so a kernel is
an ordinary argument of a jitted function and γ can be traced (``jax.vmap`` over γ sweeps it);
the function itself is static. Sums with non-negative weights and products of kernels are kernels
again (``kernel_sum``, ``kernel_product``).

Mercer's condition: k is a kernel iff k(x, x') = k(x', x) and every Gram matrix is positive
semi-definite. ``mercer_check`` tests one Gram matrix (symmetry and smallest eigenvalue ≥ −tol):
it can prove that a function is *not* a kernel (e.g. the sigmoid ``tanh(γxᵀx' + c)``), never that
it is one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

from jaxml.core.checks import check_array, check_scalar, is_concrete
from jaxml.core.types import Array, float_dtype


def squared_distances(X: Array, Z: Array) -> Array:
    """Pairwise squared Euclidean distances ‖x_n − z_m‖² = ‖x_n‖² − 2x_nᵀz_m + ‖z_m‖².

    Clipped at 0 (the expansion can round slightly below). Cost Θ(NMD) (one matrix product),
    memory N×M.

    Args:
      X: (N, D).
      Z: (M, D).

    Returns:
      (N, M) array of squared distances.
    """
    x_sq = jnp.sum(X * X, axis=1)
    z_sq = jnp.sum(Z * Z, axis=1)
    d2 = x_sq[:, None] - 2.0 * (X @ Z.T) + z_sq[None, :]
    return jnp.maximum(d2, 0.0)


def linear_kernel(X: Array, Z: Array) -> Array:
    """Linear kernel k(x, x') = xᵀx' (φ(x) = x). Gram block XZᵀ, cost Θ(NMD)."""
    return X @ Z.T


def quadratic_kernel(X: Array, Z: Array) -> Array:
    """Quadratic kernel k(x, x') = (xᵀx')² (φ(x) = all products x_i x_j). Cost Θ(NMD)."""
    inner = X @ Z.T
    return inner * inner


def polynomial_kernel(X: Array, Z: Array, degree=2, gamma=1.0, coef0=1.0) -> Array:
    """Polynomial kernel k(x, x') = (γ xᵀx' + c)^d; the course's is γ = 1, c = 1: (xᵀx' + 1)^d.

    A kernel for integer d ≥ 0 and c ≥ 0 (γ > 0). ``degree`` may be a traced integer (a power
    with an integer exponent stays exact for a negative base). scikit-learn's ``polynomial_kernel``
    has the same parameters. Cost Θ(NMD).
    """
    return jnp.power(gamma * (X @ Z.T) + coef0, degree)


def rbf_kernel(X: Array, Z: Array, gamma=1.0) -> Array:
    """Gaussian (RBF) kernel k(x, x') = exp(−γ‖x − x'‖²), γ > 0 (traceable, vmappable).

    Uses ``squared_distances`` (no N×M×D array). Cost Θ(NMD).
    """
    return jnp.exp(-gamma * squared_distances(X, Z))


def sigmoid_kernel(X: Array, Z: Array, gamma=1.0, coef0=0.0) -> Array:
    """The "sigmoid kernel" tanh(γ xᵀx' + c) — NOT a Mercer kernel in general.

    Kept as the course's counter-example: its Gram matrices can have negative eigenvalues
    (``mercer_check`` flags them). Same parameters as scikit-learn's ``sigmoid_kernel``.
    """
    return jnp.tanh(gamma * (X @ Z.T) + coef0)


def manhattan_distances(X: Array, Z: Array) -> Array:
    """Pairwise ℓ₁ distances ‖x_n − z_m‖₁ = Σ_d |x_nd − z_md|. Cost Θ(NMD) elementwise, computed one
    feature at a time (memory N×M, never N×M×D)."""
    def add_feature(total, columns):
        x, z = columns
        return total + jnp.abs(x[:, None] - z[None, :]), None

    init = jnp.zeros((X.shape[0], Z.shape[0]), jnp.result_type(X, Z))
    return jax.lax.scan(add_feature, init, (X.T, Z.T))[0]


def laplacian_kernel(X: Array, Z: Array, gamma=1.0) -> Array:
    """Laplacian kernel k(x, x') = exp(−γ‖x − x'‖₁), γ > 0 (scikit-learn's ``laplacian_kernel``).

    A Mercer kernel (exp(−γ|t|) is positive definite in each coordinate; products keep it). Cost Θ(NMD).
    """
    return jnp.exp(-gamma * manhattan_distances(X, Z))


def cosine_kernel(X: Array, Z: Array) -> Array:
    """Cosine similarity k(x, x') = xᵀx' / (‖x‖‖x'‖) — the linear kernel of the unit-norm rows
    (a zero row stays zero, as scikit-learn's ``cosine_similarity``). Cost Θ(NMD)."""

    def unit(A):
        norm = jnp.sqrt(jnp.sum(A * A, axis=1, keepdims=True))
        return A / jnp.where(norm == 0, 1.0, norm)

    return unit(X) @ unit(Z).T


def _weighted_sum(X, Z, kernels, weights):
    return sum(w * k(X, Z) for k, w in zip(kernels, weights, strict=True))


def _product(X, Z, kernels):
    out = kernels[0](X, Z)
    for k in kernels[1:]:
        out = out * k(X, Z)
    return out


# Kernel functions that satisfy Mercer's condition for admissible (non-negative) parameters.
_MERCER_FUNCTIONS = (linear_kernel, quadratic_kernel, polynomial_kernel, rbf_kernel, cosine_kernel)


def as_kernel(fn: Callable | Partial, **params) -> Partial:
    """A kernel usable by jaxml: ``fn`` with its hyper-parameters bound as pytree leaves.

    ``as_kernel(rbf_kernel, gamma=0.5)(X, Z)`` is the RBF Gram block; the result can be passed
    into jitted functions, and ``gamma`` can be a traced (vmapped) array.

    Args:
      fn: a kernel function ``fn(X, Z, **params) -> (N, M)``, or an existing kernel.
      **params: hyper-parameters (γ, degree, c ...).
    """
    if isinstance(fn, Partial) and not params:
        return fn
    if not callable(fn):
        raise ValueError(f"kernel must be callable fn(X, Z) -> Gram block, got {fn!r}")
    # Values are kept as given: a Python float becomes a weakly typed array of the dtype in force
    # when the kernel is *used* (an array made here under float32 would stay float32 in x64).
    return Partial(fn, **params)


def kernel_sum(kernels: Sequence[Callable], weights=None) -> Partial:
    """k(x, x') = Σ_i a_i k_i(x, x') with a_i ≥ 0 — a kernel again (Mercer is kept).

    Args:
      kernels: the kernels k_i (functions or ``as_kernel`` results).
      weights: the a_i (default all 1); traceable. Concrete negative weights raise ValueError.
    """
    kernels = tuple(as_kernel(k) for k in kernels)
    if not kernels:
        raise ValueError("kernels must contain at least one kernel")
    weights = jnp.ones(len(kernels)) if weights is None else jnp.asarray(weights)
    if weights.shape != (len(kernels),):
        raise ValueError(f"weights must have shape ({len(kernels)},), got {weights.shape}")
    check_scalar(weights, "weights", minimum=0.0)
    return Partial(_weighted_sum, kernels=kernels, weights=weights)


def kernel_product(kernels: Sequence[Callable]) -> Partial:
    """k(x, x') = Π_i k_i(x, x') — a kernel again (Schur product theorem: Gram ∘ Gram ⪰ 0)."""
    kernels = tuple(as_kernel(k) for k in kernels)
    if not kernels:
        raise ValueError("kernels must contain at least one kernel")
    return Partial(_product, kernels=kernels)


def is_mercer_kernel(kernel) -> bool:
    """True when ``kernel`` is built from this module's Mercer kernels by non-negative sums and
    products, so that Mercer's theorem guarantees PSD Gram matrices without checking them.

    Structural (no Gram matrix is formed); False for anything else, including the sigmoid
    kernel and user functions, which then need ``mercer_check``. Traced weights count as valid.
    """
    if not isinstance(kernel, Partial):
        return kernel in _MERCER_FUNCTIONS
    fn = kernel.func
    params = kernel.keywords
    if fn is _weighted_sum:
        w = params["weights"]
        if is_concrete(w) and np.any(np.asarray(w) < 0):
            return False
        return all(is_mercer_kernel(k) for k in params["kernels"])
    if fn is _product:
        return all(is_mercer_kernel(k) for k in params["kernels"])
    if fn is polynomial_kernel:
        coef0 = params.get("coef0", 1.0)
        degree = params.get("degree", 2)
        if is_concrete(coef0) and np.any(np.asarray(coef0) < 0):
            return False
        if is_concrete(degree) and np.any(np.asarray(degree) != np.round(np.asarray(degree))):
            return False
        return True
    if fn in (rbf_kernel, laplacian_kernel):
        gamma = params.get("gamma", 1.0)
        return not (is_concrete(gamma) and np.any(np.asarray(gamma) < 0))
    return fn in _MERCER_FUNCTIONS


def gram(kernel: Callable, X: Array, Z: Array | None = None) -> Array:
    """The Gram matrix K[n, m] = k(x_n, z_m) (Z = X by default: the N×N training Gram).

    Args:
      kernel: a kernel (see ``as_kernel``) or a kernel function with default parameters.
      X: (N, D).
      Z: (M, D) or None.

    Returns:
      (N, M) array. Cost Θ(NMD) for the kernels of this module.
    """
    check_array(X, "X", ndim=2)
    if Z is None:
        Z = X
    check_array(Z, "Z", ndim=2)
    if np.shape(X)[1] != np.shape(Z)[1]:
        raise ValueError(f"X and Z must have the same number of features, got {np.shape(X)} and {np.shape(Z)}")
    return kernel(jnp.asarray(X), jnp.asarray(Z))


class MercerCheck(NamedTuple):
    """Result of ``mercer_check`` (all 0-d arrays).

    Attributes:
      is_kernel: symmetric and min_eigenvalue ≥ −tol.
      symmetric: max|K − Kᵀ| ≤ tol.
      asymmetry: max|K − Kᵀ|.
      min_eigenvalue: smallest eigenvalue of the symmetric part (K + Kᵀ)/2.
      tol: the tolerance used.
    """

    is_kernel: Array
    symmetric: Array
    asymmetry: Array
    min_eigenvalue: Array
    tol: Array


def default_psd_tol(K: Array) -> Array:
    """10 · N · ε(dtype) · max|K|: rounding-level negative eigenvalues of a PSD Gram matrix
    (eigvalsh's backward error is ~ε‖K‖₂ ≤ ε N max|K|)."""
    n = K.shape[0]
    eps = jnp.finfo(K.dtype).eps
    return 10.0 * n * eps * jnp.maximum(jnp.max(jnp.abs(K)), 1.0)


@jax.jit
def _mercer_check(K, tol):
    tol = jnp.where(tol < 0, default_psd_tol(K), tol).astype(K.dtype)
    asym = jnp.max(jnp.abs(K - K.T))
    min_eig = jnp.linalg.eigvalsh(0.5 * (K + K.T))[0]
    symmetric = asym <= tol
    return MercerCheck(symmetric & (min_eig >= -tol), symmetric, asym, min_eig, tol)


def mercer_check(K: Array, tol: float | None = None) -> MercerCheck:
    """Check Mercer's condition on one Gram matrix: K = Kᵀ and λ_min(K) ≥ −tol.

    Cost Θ(N³) (a symmetric eigen-decomposition). A Gram matrix that fails proves the function is
    not a kernel; one that passes is only evidence.

    Args:
      K: (N, N) Gram matrix.
      tol: absolute tolerance for both tests; None uses ``default_psd_tol(K)``.

    Returns:
      ``MercerCheck`` of 0-d arrays (jittable: ``tol`` may be traced).
    """
    check_array(K, "K", ndim=2)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square, got shape {K.shape}")
    K = jnp.asarray(K)
    if not jnp.issubdtype(K.dtype, jnp.floating):
        K = K.astype(float_dtype())
    if tol is not None:
        check_scalar(tol, "tol", minimum=0.0)
    return _mercer_check(K, jnp.asarray(-1.0 if tol is None else tol, K.dtype))


__all__ = [
    "MercerCheck",
    "as_kernel",
    "cosine_kernel",
    "default_psd_tol",
    "gram",
    "is_mercer_kernel",
    "kernel_product",
    "kernel_sum",
    "laplacian_kernel",
    "linear_kernel",
    "manhattan_distances",
    "mercer_check",
    "polynomial_kernel",
    "quadratic_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
    "squared_distances",
]
