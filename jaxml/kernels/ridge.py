"""Kernel ridge regression: ridge in the dual (SYLLABUS 3; DESIGN's λ convention).

Ridge in the course's scaling is min_w (1/2N)‖y − Xw‖² + λ‖w‖², solved by
w* = (XᵀX + 2NλI)⁻¹Xᵀy. The push-through identity gives the dual form w* = Xᵀα with

    α = (K + 2NλI)⁻¹ y,   K = XXᵀ (any Gram matrix K[n, m] = k(x_n, x_m) for a kernel k),

and the prediction f(x) = Σ_n α_n k(x, x_n) = k(x)ᵀα (representer theorem). With the linear
kernel this is exactly primal ridge; with any kernel it is ridge on the features φ(x).
scikit-learn: ``KernelRidge(alpha=2Nλ)`` solves the same system.

Cost: Θ(N²D) to build K, Θ(N³/3) for the Cholesky factorization of K + 2NλI (positive definite
for λ > 0 and K ⪰ 0), Θ(N²) per right-hand side; prediction Θ(MND) for M new points.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from jaxml.core.checks import check_array, check_same_length, check_scalar, is_concrete
from jaxml.core.types import Array, float_dtype
from jaxml.kernels.functions import as_kernel, default_psd_tol, is_mercer_kernel


class KernelRidgeParams(NamedTuple):
    """A fitted kernel ridge model f(x) = Σ_n α_n k(x, x_n).

    Attributes:
      X_train: (N, D) training inputs x_n (the model keeps them: predictions need k(x, x_n)).
      alpha: (N,) or (N, T) dual coefficients α = (K + 2NλI)⁻¹y.
    """

    X_train: Array
    alpha: Array


@jax.jit
def _solve(K, y, lam):
    n = K.shape[0]
    system = K + (2.0 * n * lam) * jnp.eye(n, dtype=K.dtype)
    # K + 2NλI is symmetric positive definite for λ > 0: Cholesky, never an inverse.
    factor = jsl.cho_factor(system, lower=True)
    return jsl.cho_solve(factor, y)


@jax.jit
def _psd_violation(K):
    """Smallest eigenvalue of (K + Kᵀ)/2 and the rounding tolerance for K, as a pair."""
    sym = 0.5 * (K + K.T)
    return jnp.linalg.eigvalsh(sym)[0], default_psd_tol(K), jnp.max(jnp.abs(K - K.T))


def check_gram(K, name: str = "K") -> None:
    """Raise ValueError unless K is a symmetric PSD Gram matrix (concrete K only; Θ(N³)).

    Mercer's condition: a kernel's Gram matrix is symmetric with eigenvalues ≥ 0 (up to a
    rounding tolerance ``default_psd_tol``). Kernel ridge with a non-PSD "kernel" is not a
    regularized least-squares problem any more (K + 2NλI can be singular or indefinite).
    """
    if not is_concrete(K):
        return
    min_eig, tol, asym = (float(v) for v in _psd_violation(jnp.asarray(K)))
    if asym > tol:
        raise ValueError(f"{name} must be symmetric (a kernel's Gram matrix), max|K - K^T| = {asym:.3g}")
    if min_eig < -tol:
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue {min_eig:.3g} < -{tol:.3g}): "
            "not a Mercer kernel's Gram matrix"
        )


def _check_solved(alpha, lam):
    # The Cholesky factorization returns NaN (it does not raise) when K + 2NλI is not positive
    # definite: with a PSD K that only happens for λ = 0 and a singular K.
    if is_concrete(alpha) and not bool(jnp.all(jnp.isfinite(alpha))):
        raise ValueError(
            f"K + 2*N*lam*I is singular or not positive definite (lam={lam!r}); use lam > 0"
        )
    return alpha


def kernel_ridge_solve(K: Array, y: Array, lam, *, check_psd: bool = True) -> Array:
    """Dual ridge coefficients α = (K + 2NλI)⁻¹y.

    Args:
      K: (N, N) Gram matrix of a kernel (symmetric PSD).
      y: (N,) or (N, T) targets.
      lam: λ ≥ 0 (traced: ``jax.vmap`` over λ solves a whole path); λ = 0 needs K ≻ 0.
      check_psd: check Mercer's condition on a concrete K first (Θ(N³) eigenvalues).

    Returns:
      α with the shape of y. Cost Θ(N³/3 + N²T).

    Raises:
      ValueError: non-square or non-PSD K, mismatched y, NaN/inf, negative λ.
    """
    check_array(K, "K", ndim=2)
    if np.shape(K)[0] != np.shape(K)[1]:
        raise ValueError(f"K must be square, got shape {np.shape(K)}")
    check_array(y, "y", ndim=(1, 2))
    check_same_length(K=K, y=y)
    check_scalar(lam, "lam", minimum=0.0)
    if check_psd:
        check_gram(K)
    K = jnp.asarray(K)
    dtype = float_dtype(K)
    alpha = _solve(K.astype(dtype), jnp.asarray(y).astype(dtype), jnp.asarray(lam, dtype))
    return _check_solved(alpha, lam)


@jax.jit
def _fit(kernel, X, y, lam):
    return KernelRidgeParams(X, _solve(kernel(X, X), y, lam))


def kernel_ridge_fit(kernel, X: Array, y: Array, lam) -> KernelRidgeParams:
    """Fit kernel ridge: K[n, m] = k(x_n, x_m), α = (K + 2NλI)⁻¹y.

    Args:
      kernel: a kernel (``as_kernel(rbf_kernel, gamma=...)``, a sum/product, or a kernel function).
      X: (N, D) inputs; y: (N,) or (N, T) targets.
      lam: λ ≥ 0, traced (vmappable).

    Returns:
      ``KernelRidgeParams(X, α)``. Cost Θ(N²D + N³/3).

    Raises:
      ValueError: bad shapes, NaN/inf, negative λ, or a kernel whose Gram matrix on X is not PSD
        (checked only for kernels not built from Mercer kernels, see ``is_mercer_kernel``).
    """
    check_array(X, "X", ndim=2)
    check_array(y, "y", ndim=(1, 2))
    check_same_length(X=X, y=y)
    check_scalar(lam, "lam", minimum=0.0)
    kernel = as_kernel(kernel)
    X = jnp.asarray(X)
    dtype = float_dtype(X)
    X = X.astype(dtype)
    if not is_mercer_kernel(kernel):
        check_gram(kernel(X, X), "the kernel's Gram matrix on X")
    params = _fit(kernel, X, jnp.asarray(y).astype(dtype), jnp.asarray(lam, dtype))
    _check_solved(params.alpha, lam)
    return params


@jax.jit
def _predict(kernel, params, X):
    return kernel(X, params.X_train) @ params.alpha


def kernel_ridge_predict(kernel, params: KernelRidgeParams, X: Array) -> Array:
    """f(x) = k(x)ᵀα = Σ_n α_n k(x, x_n) for each row of X (M, D). Cost Θ(MND)."""
    check_array(X, "X", ndim=2)
    if np.shape(X)[1] != np.shape(params.X_train)[1]:
        raise ValueError(f"X must have {np.shape(params.X_train)[1]} features, got shape {np.shape(X)}")
    return _predict(as_kernel(kernel), params, jnp.asarray(X).astype(params.alpha.dtype))


@jax.jit
def primal_ridge_weights(X: Array, y: Array, lam) -> Array:
    """w = (XᵀX + 2NλI)⁻¹Xᵀy (primal ridge, for comparison with the linear kernel). Θ(ND² + D³)."""
    n, d = X.shape
    system = X.T @ X + (2.0 * n * lam) * jnp.eye(d, dtype=X.dtype)
    return jnp.linalg.solve(system, X.T @ y)


__all__ = [
    "KernelRidgeParams",
    "check_gram",
    "kernel_ridge_fit",
    "kernel_ridge_predict",
    "kernel_ridge_solve",
    "primal_ridge_weights",
]
