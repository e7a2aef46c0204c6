"""L1 and elastic-net penalized logistic regression by proximal Newton (binary and softmax).

The objective, with sample weights normalized to v = s/Σs, an L2 strength λ₂ ≥ 0 and an L1
strength α ≥ 0 on the penalized coordinates (a 0/1 mask m: the weights, not the intercepts):

    F(θ) = f(θ) + α Σ_j m_j |θ_j|,    f(θ) = Σ_n v_n ℓ(x_n, y_n; θ) + (λ₂/2) Σ_j m_j θ_j²,

ℓ the logistic (binary, θ = [w; b]) or softmax (θ = [vec W; b]) negative log-likelihood.
scikit-learn's ``LogisticRegression(C, l1_ratio=ρ, solver="saga")`` minimizes
C Σ s_n ℓ_n + ρ‖w‖₁ + ½(1 − ρ)‖w‖², which is F times C Σs with α = ρ/(CΣs) and
λ₂ = (1 − ρ)/(CΣs).

Proximal Newton (as in glmnet / newGLMNET): at θ_k, with g = ∇f(θ_k) and H = ∇²f(θ_k),
the step d minimizes the local model

    q(d) = gᵀd + ½ dᵀHd + α‖m ⊙ (θ_k + d)‖₁

by cyclic coordinate descent (coordinate j: θ_j + d_j ← S(θ_j + d_j − (g + Hd)_j / H_jj, α m_j / H_jj),
S the soft threshold S(u, t) = sign(u) max(|u| − t, 0)), then θ_{k+1} = θ_k + t d with t the first
of 1, ½, ¼, … that satisfies F(θ_k + t d) ≤ F(θ_k) + 10⁻⁴ t Δ, Δ = gᵀd + α(‖m(θ_k + d)‖₁ − ‖mθ_k‖₁) < 0.
It stops when the minimum-norm subgradient of F,

    G_j = g_j + α m_j sign(θ_j)   (θ_j ≠ 0),     G_j = sign(g_j) max(|g_j| − α m_j, 0)   (θ_j = 0),

has ‖G‖_∞ ≤ ``tol`` (G = 0 exactly at the minimizer), or after ``max_iter`` Newton steps. Near the
solution the convergence is quadratic, so tight tolerances cost a few extra steps. Each step
costs one Hessian (Θ(N P²) for P parameters: hand-derived for two classes, autodiff for K) and
coordinate sweeps of Θ(P²) each; suited to P = (D + 1)·K up to a few hundred.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxml.core.types import Array
from jaxml.linear.logistic import LogisticFit, _binary_value_grad_hess, _softmax_value

# Coordinate-descent sweeps per Newton step: stop when no coordinate moved by more than this
# fraction of the largest |θ| (+1), or after the cap (the outer line search and stopping test
# keep the result right either way; an inexact step only costs an extra Newton step).
_SWEEP_RTOL = 1e-12
_MAX_SWEEPS = 200


def _soft_threshold(u: Array, t: Array) -> Array:
    """S(u, t) = sign(u) · max(|u| − t, 0), the proximal map of t|·|. Θ(size of u)."""
    return jnp.sign(u) * jnp.maximum(jnp.abs(u) - t, 0.0)


def min_norm_subgradient(theta: Array, grad: Array, alpha, mask: Array) -> Array:
    """The minimum-norm element G of ∂F(θ) for F = f + α‖m ⊙ θ‖₁ (see the module docstring)."""
    a = alpha * mask
    at_zero = jnp.sign(grad) * jnp.maximum(jnp.abs(grad) - a, 0.0)
    return jnp.where(theta != 0, grad + a * jnp.sign(theta), at_zero)


def _newton_direction(theta, grad, hess, alpha, mask):
    """d ≈ argmin_d gᵀd + ½dᵀHd + α‖m(θ + d)‖₁ by cyclic coordinate descent (Θ(P²) per sweep)."""
    p = theta.shape[0]
    diag = jnp.maximum(jnp.diag(hess), jnp.finfo(hess.dtype).tiny)
    thresholds = alpha * mask / diag
    scale = 1.0 + jnp.max(jnp.abs(theta))

    def coordinate(j, carry):
        d, hd, moved = carry
        u = theta[j] + d[j]
        z = _soft_threshold(u - (grad[j] + hd[j]) / diag[j], thresholds[j])
        delta = z - u
        return d.at[j].add(delta), hd + delta * hess[:, j], jnp.maximum(moved, jnp.abs(delta))

    def sweep(carry):
        d, hd, _, k = carry
        d, hd, moved = jax.lax.fori_loop(0, p, coordinate, (d, hd, jnp.zeros((), theta.dtype)))
        return d, hd, moved, k + 1

    def more(carry):
        _, _, moved, k = carry
        return (k < _MAX_SWEEPS) & (moved > _SWEEP_RTOL * scale)

    zero = jnp.zeros_like(theta)
    init = (zero, zero, jnp.asarray(jnp.inf, theta.dtype), jnp.zeros((), jnp.int32))
    d, _, _, _ = jax.lax.while_loop(more, sweep, init)
    return d


def prox_newton_minimize(value_grad_hess, value_fn, theta0: Array, alpha, mask: Array, *, tol, max_iter):
    """Proximal Newton on F(θ) = f(θ) + α‖m ⊙ θ‖₁ (module docstring), one ``lax.while_loop``.

    Args:
      value_grad_hess: θ ↦ (f(θ), ∇f(θ), ∇²f(θ)) for flat θ (P,).
      value_fn: θ ↦ f(θ) (the line search).
      theta0: starting point (P,). alpha: α ≥ 0 (traced). mask: (P,) 0/1, the L1-penalized entries.
      tol, max_iter: stop when ‖G‖_∞ ≤ tol (G the minimum-norm subgradient) or after max_iter steps.

    Returns:
      (θ, F(θ), ‖G(θ)‖_∞, steps).
    """
    eps = jnp.finfo(theta0.dtype).eps

    def penalty(theta):
        return alpha * jnp.sum(mask * jnp.abs(theta))

    def state(theta):
        f, g, h = value_grad_hess(theta)
        gnorm = jnp.max(jnp.abs(min_norm_subgradient(theta, g, alpha, mask)))
        return f + penalty(theta), g, h, gnorm

    def cond(carry):
        _, _, _, _, gnorm, it = carry
        return (it < max_iter) & ((it == 0) | (gnorm > tol))  # at least one step, as scikit-learn reports

    def body(carry):
        theta, value, grad, hess, _, it = carry
        d = _newton_direction(theta, grad, hess, alpha, mask)
        decrease = grad @ d + penalty(theta + d) - penalty(theta)
        slack = 16 * eps * jnp.abs(value)

        def objective(t):
            new = theta + t * d
            return value_fn(new) + penalty(new)

        def ls_cond(s):
            t, new_value = s
            bad = (new_value > value + 1e-4 * t * decrease + slack) | jnp.isnan(new_value)
            return bad & (t > 1e-10)

        def ls_body(s):
            t = s[0] * 0.5
            return t, objective(t)

        one = jnp.ones((), theta.dtype)
        t, _ = jax.lax.while_loop(ls_cond, ls_body, (one, objective(one)))
        theta = theta + t * d
        value, grad, hess, gnorm = state(theta)
        return theta, value, grad, hess, gnorm, it + 1

    value, grad, hess, gnorm = state(theta0)
    theta, value, _, _, gnorm, it = jax.lax.while_loop(
        cond, body, (theta0, value, grad, hess, gnorm, jnp.zeros((), jnp.int32))
    )
    return theta, value, gnorm, it


def binary_prox_newton(X, y, v, l2, l1, tol, max_iter, w0, b0, *, fit_intercept: bool) -> LogisticFit:
    """Binary F(w, b) = Σ v_n[softplus(z_n) − y_n z_n] + (λ₂/2)‖w‖² + α‖w‖₁, z = Xw + b (b free),
    by ``prox_newton_minimize`` on the hand Hessian; un-jitted (call it inside jit or vmap).

    Args: X (N, D); y (N,) in {0, 1} of X's dtype; v (N,) weights summing to one; l2 = λ₂ and
    l1 = α; w0 (D,), b0 () the start."""
    d = X.shape[1]
    theta0 = jnp.concatenate([w0, b0[None]]) if fit_intercept else w0
    mask = jnp.ones_like(theta0).at[d:].set(0.0)

    def vgh(theta):
        return _binary_value_grad_hess(theta, X, y, v, l2, fit_intercept)

    def value_fn(theta):
        w = theta[:d]
        z = X @ w + (theta[d] if fit_intercept else 0.0)
        return v @ (jax.nn.softplus(z) - y * z) + 0.5 * l2 * (w @ w)

    theta, value, gnorm, it = prox_newton_minimize(vgh, value_fn, theta0, l1, mask, tol=tol, max_iter=max_iter)
    b = theta[d] if fit_intercept else jnp.zeros((), X.dtype)
    return LogisticFit(theta[:d], b, value, gnorm, it)


def softmax_prox_newton(X, Y, v, l2, l1, tol, max_iter, W0, b0, *, fit_intercept: bool) -> LogisticFit:
    """Softmax F(W, b) = Σ v_n[logsumexp(z_n) − y_nᵀz_n] + (λ₂/2)‖W‖²_F + α‖W‖₁, Z = XW + 1bᵀ,
    by ``prox_newton_minimize`` on the autodiff Hessian over θ = [vec W; b] (Θ(N(DK)²) per
    step); un-jitted. Y (N, K) one-hot; W0 (D, K), b0 (K,). Intercepts returned centred."""
    dim, k = W0.shape
    size = dim * k
    theta0 = jnp.concatenate([W0.reshape(-1), b0]) if fit_intercept else W0.reshape(-1)
    mask = jnp.ones_like(theta0).at[size:].set(0.0)

    def unflatten(theta):
        W = theta[:size].reshape(dim, k)
        return (W, theta[size:]) if fit_intercept else W

    def value_fn(theta):
        return _softmax_value(unflatten(theta), X, Y, v, l2, fit_intercept)

    # The intercepts' Hessian is singular along "add a constant to every class"; a relative
    # jitter keeps each coordinate's curvature positive without moving the minimizer.
    jitter = 1e3 * jnp.finfo(X.dtype).eps

    def vgh(theta):
        value, grad = jax.value_and_grad(value_fn)(theta)
        hess = jax.hessian(value_fn)(theta)
        shift = jitter * (1.0 + jnp.max(jnp.abs(jnp.diag(hess))))
        return value, grad, hess + shift * jnp.eye(theta.shape[0], dtype=X.dtype)

    theta, value, gnorm, it = prox_newton_minimize(vgh, value_fn, theta0, l1, mask, tol=tol, max_iter=max_iter)
    W = theta[:size].reshape(dim, k)
    b = theta[size:] if fit_intercept else jnp.zeros((k,), X.dtype)
    return LogisticFit(W, b - jnp.mean(b), value, gnorm, it)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _fit_l1(X, y, v, l2, l1, tol, max_iter, *, fit_intercept):
    d = X.shape[1]
    zero = jnp.zeros((), X.dtype)
    return binary_prox_newton(
        X, y.astype(X.dtype), v, l2, l1, tol, max_iter, jnp.zeros((d,), X.dtype), zero,
        fit_intercept=fit_intercept,
    )


def fit_logistic_l1(X: Array, y: Array, l1, l2=0.0, *, sample_weight: Array | None = None,
                    fit_intercept: bool = False, tol: float = 1e-8, max_iter: int = 100) -> LogisticFit:
    """Binary logistic regression with the elastic-net penalty α‖w‖₁ + (λ₂/2)‖w‖², by proximal Newton:

        min_{w, b} Σ_n v_n [log(1 + e^{x_nᵀw + b}) − y_n (x_nᵀw + b)] + α‖w‖₁ + (λ₂/2)‖w‖²,

    v = s/Σs (1/N without weights). Stops when the minimum-norm subgradient's largest entry is
    ≤ ``tol`` or after ``max_iter`` Newton steps (one jitted while-loop). scikit-learn:
    ``LogisticRegression(C, l1_ratio=ρ, solver="saga")`` with α = ρ/(C Σs), λ₂ = (1 − ρ)/(C Σs).

    Args:
      X: (N, D). y: (N,) in {0, 1}. l1: α ≥ 0. l2: λ₂ ≥ 0. sample_weight: optional (N,) ≥ 0.
      fit_intercept: an unpenalized intercept b. tol, max_iter: stopping rule.

    Returns:
      ``LogisticFit(w, b, objective F, grad_norm ‖G‖_∞, num_iter)``.
    """
    from jaxml.linear.logistic import _prepare_binary

    X, y, v, l1 = _prepare_binary(X, y, l1, sample_weight)
    return _fit_l1(X, y, v, jnp.asarray(l2, X.dtype), l1, jnp.asarray(tol, X.dtype),
                   jnp.asarray(max_iter, jnp.int32), fit_intercept=fit_intercept)


__all__ = [
    "binary_prox_newton",
    "fit_logistic_l1",
    "min_norm_subgradient",
    "prox_newton_minimize",
    "softmax_prox_newton",
]
