"""Support vector machines: hinge loss, primal SGD, dual coordinate ascent, kernel SVM (SYLLABUS 3).

Soft-margin SVM, labels y_n ∈ {−1, 1}, margins η_n = y_n x_nᵀw, no intercept (augment x with a
constant feature for one):

  primal  P(w) = (λ/2)‖w‖² + (1/N) Σ_n [1 − y_n x_nᵀw]₊
  dual    D(α) = 1ᵀα/N − (1/(2λN²)) αᵀYKYα,   α ∈ [0, 1]^N,  Y = diag(y),  K = XXᵀ
  link    w(α) = (1/(λN)) XᵀYα    (so (1/(2λN²)) αᵀYKYα = (λ/2)‖w(α)‖²)

Weak duality gives P(w(α)) − D(α) ≥ 0 for every feasible α, with equality at the optimum: the
*duality gap* is a certificate of accuracy and the stopping rule of the coordinate ascent.
scikit-learn: ``LinearSVC(loss="hinge", C=1/(Nλ), fit_intercept=False, dual=True)`` solves the same
problem scaled by 1/λ, and its dual variables are C·α.

Coordinate ascent: D restricted to α_n is a concave parabola with curvature −K_nn/(λN²), so
its maximizer over [0, 1] is

  α_n ← clip(α_n + λN (1 − y_n x_nᵀw) / ‖x_n‖², 0, 1)      (x_n = 0: α_n ← 1)

followed by w ← w + Δα_n y_n x_n / (λN): Θ(D) per coordinate, Θ(ND) per epoch. An epoch visits
every coordinate once in a random permutation. The kernel SVM keeps g = KYα instead of w (the
same update with y_n x_nᵀw = y_n g_n/(λN) and ‖x_n‖² = K_nn), Θ(N) per coordinate, and predicts

  f(x) = Σ_n α_n y_n k(x, x_n) / (λN).

Support vectors by α (KKT conditions at the optimum): α_n = 0 ⇒ η_n ≥ 1 (outside the margin,
not a support vector); 0 < α_n < 1 ⇒ η_n = 1 (on the margin); α_n = 1 ⇒ η_n ≤ 1 (inside the
margin or misclassified).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.checks import check_array, check_int, check_labels, check_same_length, check_scalar
from jaxml.core.gradcheck import register_gradient
from jaxml.core.train import FitResult, fit
from jaxml.core.types import Array, PRNGKey, float_dtype
from jaxml.kernels.functions import as_kernel, is_mercer_kernel
from jaxml.kernels.ridge import check_gram

# --------------------------------------------------------------------------------------------
# Hinge loss and the primal objective
# --------------------------------------------------------------------------------------------


def hinge_loss(eta: Array) -> Array:
    """The hinge loss of a margin, [1 − η]₊ = max(0, 1 − η) (elementwise)."""
    return jnp.maximum(0.0, 1.0 - eta)


def hinge_subgradient(eta: Array) -> Array:
    """A subgradient of [1 − η]₊ in η: −1 for η < 1, 0 for η ≥ 1 (0 ∈ [−1, 0] at the kink)."""
    return -(eta < 1.0).astype(float_dtype(eta))


def svm_margins(w: Array, X: Array, y: Array) -> Array:
    """η_n = y_n x_nᵀw, shape (N,). Cost Θ(ND)."""
    return y * (X @ w)


def svm_primal_objective(w: Array, X: Array, y: Array, lam) -> Array:
    """P(w) = (λ/2)‖w‖² + (1/N) Σ_n [1 − y_n x_nᵀw]₊. Cost Θ(ND)."""
    return 0.5 * lam * jnp.sum(w * w) + jnp.mean(hinge_loss(svm_margins(w, X, y)))


def svm_primal_subgradient(w: Array, X: Array, y: Array, lam) -> Array:
    """A subgradient of P: λw + (1/N) Σ_n h'(η_n) y_n x_n = λw − (1/N) Xᵀ(y ⊙ 1[η < 1]).

    Equal to ∇P wherever no margin η_n equals 1 exactly (P is differentiable there). Θ(ND).
    """
    eta = svm_margins(w, X, y)
    return lam * w + X.T @ (y * hinge_subgradient(eta)) / X.shape[0]


def _off_hinge_args(key, dtype, n=12, d=4):
    """Data whose margins avoid the kink η = 1 by ≥ 0.2, so finite differences see a smooth P."""
    k_x, k_w, k_y, k_eta, k_side = jax.random.split(key, 5)
    X = jax.random.normal(k_x, (n, d), dtype)
    w = jax.random.normal(k_w, (d,), dtype)
    y = jnp.where(jax.random.bernoulli(k_y, 0.5, (n,)), 1.0, -1.0).astype(dtype)
    # Target margins in [−2, 0.8] ∪ [1.2, 3]; move each x_n along w to hit its target exactly.
    below = jax.random.uniform(k_eta, (n,), dtype, -2.0, 0.8)
    above = 1.2 + (below + 2.0) * (1.8 / 2.8)  # the same draw mapped onto [1.2, 3]
    target = jnp.where(jax.random.bernoulli(k_side, 0.5, (n,)), below, above)
    shift = (target - y * (X @ w)) / jnp.sum(w * w)
    X = X + (shift * y)[:, None] * w[None, :]
    return w, X, y, jnp.asarray(0.3, dtype)


register_gradient(
    "kernels.svm_primal_objective",
    loss=svm_primal_objective,
    grad=svm_primal_subgradient,
    make_args=_off_hinge_args,
    twice_differentiable=False,  # the hinge has a kink: check_grads to order 2 does not apply
)
register_gradient(
    "kernels.hinge_loss",
    loss=lambda eta: jnp.sum(hinge_loss(eta)),
    grad=hinge_subgradient,
    make_args=lambda key, dtype: (
        svm_margins(*_off_hinge_args(key, dtype)[:3]),
    ),
    twice_differentiable=False,
)


def check_svm_labels(y, name: str = "y") -> None:
    """y must be 1-D with values in {−1, 1}, both present."""
    check_array(y, name, ndim=1)
    check_labels(y, name, [-1, 1], min_classes=2)


def svm_predict(w: Array, X: Array) -> Array:
    """Predicted labels sign(xᵀw) ∈ {−1, 1} (a score of 0 is labelled +1)."""
    return jnp.where(X @ w >= 0, 1, -1).astype(jnp.int32)


# --------------------------------------------------------------------------------------------
# Primal stochastic subgradient descent, through jaxml.core.train.fit
# --------------------------------------------------------------------------------------------


def svm_batch_objective(w: Array, batch, lam) -> Array:
    """P on a minibatch (X_B, y_B): (λ/2)‖w‖² + (1/B) Σ_{n∈B} [1 − y_n x_nᵀw]₊ — an unbiased
    estimate of P whose (sub)gradient is an unbiased estimate of P's subgradient."""
    X, y = batch
    return svm_primal_objective(w, X, y, lam)


def pegasos_sgd(lr0, lam) -> optax.GradientTransformation:
    """SGD with the step γ_t = γ₀ / (1 + γ₀λt): u_t = −γ_t g_t.

    γ_t → 1/(λt), the Pegasos step for a λ-strongly convex objective, while γ₀ bounds the first
    steps. Wrapped once in ``optax.inject_hyperparams`` (module level), γ₀ and λ are traced
    state, so one compiled training loop serves every (γ₀, λ).
    """
    return optax.scale_by_schedule(lambda count: -lr0 / (1.0 + lr0 * lam * count))


# Built once: ``fit`` writes the traced γ₀ and λ of ``hparams`` into its state.
_PEGASOS = optax.inject_hyperparams(pegasos_sgd)(lr0=1.0, lam=1.0)


def _pegasos_loss(w: Array, batch, *, hparams) -> Array:
    """``svm_batch_objective`` with the traced λ = ``hparams["lam"]`` (module level: one compile)."""
    return svm_batch_objective(w, batch, hparams["lam"])


def svm_primal_sgd(
    key: PRNGKey,
    X: Array,
    y: Array,
    lam,
    *,
    num_steps: int,
    batch_size: int = 1,
    lr0=1.0,
    w0: Array | None = None,
    progress: bool | None = False,
) -> FitResult:
    """Primal stochastic subgradient descent w ← w − γ_t ĝ_t on P, with γ_t = γ₀/(1 + γ₀λt).

    ĝ_t = λw − (1/B) Σ_{n∈B_t} y_n x_n 1[η_n < 1], B_t drawn uniformly (``fit``'s minibatches);
    Θ(BD) per step. λ and γ₀ are traced hyper-parameters of ``fit`` (``pegasos_sgd``): calls with
    other values and the same shapes reuse one compiled loop.

    Args:
      key: minibatch key. X: (N, D). y: (N,) in {−1, 1}. lam: λ > 0 (traced).
      num_steps: number of steps; batch_size: B (1 = the course's SGD); lr0: γ₀ > 0 (traced);
      w0: start (0).

    Returns:
      ``fit``'s ``FitResult``; ``result.state.params`` is w.
    """
    check_xy_svm(X, y)
    check_scalar(lam, "lam", minimum=0.0, strict_min=True)
    check_scalar(lr0, "lr0", minimum=0.0, strict_min=True)
    X = jnp.asarray(X)
    dtype = float_dtype(X)
    X, y = X.astype(dtype), jnp.asarray(y).astype(dtype)
    w = jnp.zeros(X.shape[1], dtype) if w0 is None else jnp.asarray(w0, dtype)
    hparams = {"lam": jnp.asarray(lam, dtype), "lr0": jnp.asarray(lr0, dtype)}
    return fit(_pegasos_loss, _PEGASOS, w, (X, y), key=key, num_steps=num_steps, batch_size=batch_size,
               hparams=hparams, progress=progress, desc="svm sgd")


def check_xy_svm(X, y) -> None:
    check_array(X, "X", ndim=2)
    check_svm_labels(y)
    check_same_length(X=X, y=y)


# --------------------------------------------------------------------------------------------
# Dual coordinate ascent (linear kernel: w kept explicitly)
# --------------------------------------------------------------------------------------------


class SVMDualState(NamedTuple):
    """State of the linear dual coordinate ascent.

    Attributes:
      alpha: (N,) dual variables α ∈ [0, 1]^N.
      w: (D,) primal weights w(α) = (1/(λN)) XᵀYα.
      epoch: int32, epochs done.
    """

    alpha: Array
    w: Array
    epoch: Array


class DualInfo(NamedTuple):
    """Per-epoch measurements: P(w(α)), D(α) and the duality gap P − D ≥ 0."""

    primal: Array
    dual: Array
    gap: Array


def svm_dual_init(X: Array) -> SVMDualState:
    """α = 0, w = 0 (a feasible dual point)."""
    n, d = X.shape
    return SVMDualState(jnp.zeros(n, X.dtype), jnp.zeros(d, X.dtype), jnp.zeros((), jnp.int32))


def random_order(key: PRNGKey, n: int) -> Array:
    """A random permutation of 0..n−1 from single-array sorts of packed keys (n static).

    Each round sorts uint32 keys (random high bits | index in the low ⌈log₂ n⌉ bits) and reads the
    indices back from the low bits; rounds compose until ≥ ⌈log₂ n⌉ random bits per item were
    used. One single-array sort measured ~5× faster on XLA CPU than ``jax.random.permutation``'s
    key-value sorts (the cost that dominated an epoch of coordinate ascent). Ties in the random
    bits keep index order, so it is not exactly uniform — all a coordinate order needs.
    """
    bits = max(1, int(np.ceil(np.log2(max(n, 2)))))
    if bits > 26:
        return jax.random.permutation(key, n)
    free = 32 - bits
    rounds = -(-bits // free)
    index = jnp.arange(n, dtype=jnp.uint32)
    order = jnp.arange(n, dtype=jnp.int32)
    for round_key in jax.random.split(key, rounds):
        packed = (jax.random.bits(round_key, (n,), jnp.uint32) << bits) | index
        picked = (jnp.sort(packed) & jnp.uint32((1 << bits) - 1)).astype(jnp.int32)
        order = order[picked]
    return order


def _epoch_order(key, epoch, n, shuffle):
    if shuffle:
        return random_order(jax.random.fold_in(key, epoch), n)
    return jnp.arange(n)


def _clipped_step(alpha_n, y_margin_n, curvature_n, lam_n):
    """argmax over [0, 1] of the dual restricted to α_n (curvature ‖x_n‖² = K_nn; 0 ⇒ α_n = 1)."""
    safe = jnp.where(curvature_n > 0, curvature_n, 1.0)
    new = jnp.clip(alpha_n + lam_n * (1.0 - y_margin_n) / safe, 0.0, 1.0)
    return jnp.where(curvature_n > 0, new, 1.0)


def _linear_gap(alpha, w, X, y, lam):
    primal = svm_primal_objective(w, X, y, lam)
    dual = jnp.mean(alpha) - 0.5 * lam * jnp.sum(w * w)
    return DualInfo(primal, dual, primal - dual)


def svm_dual_epoch(state: SVMDualState, data, lam, key: PRNGKey, *, shuffle: bool = True):
    """One epoch of coordinate ascent on D (every α_n once, random order), then the gap.

    Args:
      state: ``SVMDualState``. data: (X (N, D), y (N,) in {−1, 1}). lam: λ > 0 (traced).
      key: the run's key (the epoch's order is ``permutation(fold_in(key, epoch))``).

    Returns:
      ``(state, DualInfo)``; w is recomputed exactly from α at the end of the epoch (no drift).
      Cost Θ(ND).
    """
    X, y = data
    n = X.shape[0]
    lam_n = lam * n
    sq_norms = jnp.sum(X * X, axis=1)

    order = _epoch_order(key, state.epoch, n, shuffle)

    # Scan over the permuted rows themselves (x_i, y_i, α_i, ‖x_i‖² as scan inputs, the new α_i
    # as its output): the loop carries only w, with no dynamic indexing (≈4× faster on CPU).
    def coordinate(w, row):
        x_i, y_i, alpha_i, sq_norm_i = row
        new = _clipped_step(alpha_i, y_i * (x_i @ w), sq_norm_i, lam_n)
        return w + ((new - alpha_i) * y_i / lam_n) * x_i, new

    rows = (X[order], y[order], state.alpha[order], sq_norms[order])
    _, new_alpha = jax.lax.scan(coordinate, state.w, rows)
    alpha = state.alpha.at[order].set(new_alpha)
    w = X.T @ (y * alpha) / lam_n
    return SVMDualState(alpha, w, state.epoch + 1), _linear_gap(alpha, w, X, y, lam)


class SVMDualResult(NamedTuple):
    """Result of a dual coordinate ascent run.

    Attributes:
      w: (D,) primal weights w(α) (linear SVM); for the kernel SVM, (N,) coefficients
        α_n y_n/(λN) of f(x) = Σ_n coef_n k(x, x_n).
      alpha: (N,) dual variables.
      num_epochs: int32, epochs run (≤ max_epochs).
      converged: bool, final gap ≤ tol.
      primal / dual / gap: (max_epochs,) per-epoch P, D and P − D (NaN after the last epoch).
    """

    w: Array
    alpha: Array
    num_epochs: Array
    converged: Array
    primal: Array
    dual: Array
    gap: Array


def _run_epochs(epoch_fn, state, tol, max_epochs, dtype):
    nan = jnp.full((max_epochs,), jnp.nan, dtype)

    def cond(carry):
        state, info, _ = carry
        return (state.epoch < max_epochs) & ~(info.gap <= tol)

    def body(carry):
        state, _, history = carry
        e = state.epoch
        state, info = epoch_fn(state)
        history = DualInfo(*(h.at[e].set(v) for h, v in zip(history, info, strict=True)))
        return state, info, history

    inf = jnp.asarray(jnp.inf, dtype)
    carry = (state, DualInfo(inf, -inf, inf), DualInfo(nan, nan, nan))
    return jax.lax.while_loop(cond, body, carry)


@functools.partial(jax.jit, static_argnames=("max_epochs", "shuffle"))
def _linear_dual_solve(X, y, lam, key, tol, max_epochs, shuffle):
    def epoch_fn(state):
        return svm_dual_epoch(state, (X, y), lam, key, shuffle=shuffle)

    state, info, history = _run_epochs(epoch_fn, svm_dual_init(X), tol, max_epochs, X.dtype)
    return SVMDualResult(state.w, state.alpha, state.epoch, info.gap <= tol, *history)


def _default_tol(dtype):
    return 1e-8 if jnp.dtype(dtype) == jnp.float64 else 1e-5


def _prepared(data, y, lam, tol, data_name):
    """Shape checks (trace-safe, no pass over values) and casts of the dual solvers' arguments."""
    if jnp.ndim(data) != 2 or jnp.ndim(y) != 1 or jnp.shape(y)[0] != jnp.shape(data)[0]:
        raise ValueError(f"{data_name} must be 2-D and y 1-D with {data_name}'s {jnp.shape(data)[:1]} rows, "
                         f"got shapes {jnp.shape(data)} and {jnp.shape(y)}")
    data = jnp.asarray(data)
    dtype = float_dtype(data)
    tol = _default_tol(dtype) if tol is None else tol
    return (data.astype(dtype), jnp.asarray(y).astype(dtype), jnp.asarray(lam, dtype),
            jnp.asarray(tol, dtype))


def svm_dual_solve(key: PRNGKey, X: Array, y: Array, lam, *, tol=None, max_epochs: int = 1000,
                   shuffle: bool = True) -> SVMDualResult:
    """The jitted solver of ``svm_dual_fit`` on prepared arrays: max D(α) over α ∈ [0, 1]^N,

        D(α) = 1ᵀα/N − (1/(2λN²)) αᵀYXXᵀYα,   w(α) = (1/(λN)) XᵀYα,

    by epochs of coordinate ascent (``svm_dual_epoch``) in one ``lax.while_loop`` until the gap
    P(w(α)) − D(α) ≤ tol or ``max_epochs``. Θ(ND) per epoch.

    Only shapes are checked (so it runs on tracers: ``jax.vmap`` over label vectors y, over λ or
    over keys, or inside a caller's ``jit``); the values are the caller's to check: X finite,
    y ∈ {−1, 1}, λ > 0 (``svm_dual_fit`` checks them). X, y, λ and tol are cast to X's float dtype.

    Args:
      key: the epochs' permutations. X: (N, D). y: (N,) in {−1, 1}. lam: λ > 0 (traced).
      tol: duality-gap tolerance, traced (default 1e-8 in float64, 1e-5 in float32).
      max_epochs: epoch budget (static). shuffle: random order per epoch (static; else 0..N−1).

    Returns:
      ``SVMDualResult`` (w, α, epochs, converged, per-epoch P, D and gap).
    """
    X, y, lam, tol = _prepared(X, y, lam, tol, "X")
    return _linear_dual_solve(X, y, lam, key, tol, max_epochs, shuffle)


def _check_dual_arguments(lam, tol, max_epochs) -> int:
    """Value checks shared by the checked dual solvers; returns max_epochs."""
    check_scalar(lam, "lam", minimum=0.0, strict_min=True)
    if tol is not None:
        check_scalar(tol, "tol", minimum=0.0)
    return check_int(max_epochs, "max_epochs", minimum=1)


def svm_dual_fit(
    key: PRNGKey,
    X: Array,
    y: Array,
    lam,
    *,
    tol: float | None = None,
    max_epochs: int = 1000,
    shuffle: bool = True,
) -> SVMDualResult:
    """Linear soft-margin SVM by dual coordinate ascent, stopped by the duality gap.

    Epochs of coordinate updates (see the module doc) in one jitted ``lax.while_loop`` until
    P(w(α)) − D(α) ≤ tol or ``max_epochs``. Θ(ND) per epoch.

    Args:
      key: the epochs' permutations. X: (N, D). y: (N,) in {−1, 1}.
      lam: λ > 0 (traced: ``jax.vmap`` over λ or over label vectors works on ``svm_dual_solve``).
      tol: duality-gap tolerance (default 1e-8 in float64, 1e-5 in float32).
      max_epochs: epoch budget (static). shuffle: random permutation per epoch (else 0..N−1).

    Returns:
      ``SVMDualResult`` with w = (1/(λN))XᵀYα and the per-epoch gap history.
    """
    check_xy_svm(X, y)
    max_epochs = _check_dual_arguments(lam, tol, max_epochs)
    return svm_dual_solve(key, X, y, lam, tol=tol, max_epochs=max_epochs, shuffle=shuffle)


# --------------------------------------------------------------------------------------------
# Kernel SVM in the dual (g = KYα kept instead of w)
# --------------------------------------------------------------------------------------------


class KernelSVMDualState(NamedTuple):
    """State of the kernel dual coordinate ascent.

    Attributes:
      alpha: (N,) dual variables α ∈ [0, 1]^N.
      g: (N,) g = KYα, so that y_n f(x_n) = y_n g_n / (λN).
      epoch: int32, epochs done.
    """

    alpha: Array
    g: Array
    epoch: Array


def kernel_svm_dual_init(K: Array) -> KernelSVMDualState:
    """α = 0, g = 0."""
    n = K.shape[0]
    return KernelSVMDualState(jnp.zeros(n, K.dtype), jnp.zeros(n, K.dtype), jnp.zeros((), jnp.int32))


def _kernel_gap(alpha, g, y, lam):
    lam_n = lam * y.shape[0]
    # (λ/2)‖w‖² = (1/(2λN²)) (Yα)ᵀK(Yα) = (Yα)ᵀg / (2λN²)
    half_norm = jnp.sum(y * alpha * g) / (2.0 * lam_n * y.shape[0])
    primal = half_norm + jnp.mean(hinge_loss(y * g / lam_n))
    dual = jnp.mean(alpha) - half_norm
    return DualInfo(primal, dual, primal - dual)


def kernel_svm_dual_epoch(state: KernelSVMDualState, data, lam, key: PRNGKey, *, shuffle: bool = True):
    """One epoch of coordinate ascent on D with a Gram matrix: data = (K (N, N), y (N,)).

    α_n ← clip(α_n + λN(1 − y_n g_n/(λN))/K_nn, 0, 1), g ← g + Δα_n y_n K[n, :] (K symmetric);
    Θ(N) per coordinate, Θ(N²) per epoch; g is recomputed as K(y⊙α) at the end (no drift).
    """
    K, y = data
    n = K.shape[0]
    lam_n = lam * n
    diag = jnp.diagonal(K)

    order = _epoch_order(key, state.epoch, n, shuffle)

    def coordinate(g, row):
        i, y_i, alpha_i, k_ii = row
        new = _clipped_step(alpha_i, y_i * g[i] / lam_n, k_ii, lam_n)
        return g + ((new - alpha_i) * y_i) * K[i], new

    _, new_alpha = jax.lax.scan(coordinate, state.g, (order, y[order], state.alpha[order], diag[order]))
    alpha = state.alpha.at[order].set(new_alpha)
    g = K @ (y * alpha)
    return KernelSVMDualState(alpha, g, state.epoch + 1), _kernel_gap(alpha, g, y, lam)


@functools.partial(jax.jit, static_argnames=("max_epochs", "shuffle"))
def _kernel_dual_solve(K, y, lam, key, tol, max_epochs, shuffle):
    def epoch_fn(state):
        return kernel_svm_dual_epoch(state, (K, y), lam, key, shuffle=shuffle)

    state, info, history = _run_epochs(epoch_fn, kernel_svm_dual_init(K), tol, max_epochs, K.dtype)
    coef = y * state.alpha / (lam * K.shape[0])
    return SVMDualResult(coef, state.alpha, state.epoch, info.gap <= tol, *history)


def kernel_svm_dual_solve(key: PRNGKey, K: Array, y: Array, lam, *, tol=None, max_epochs: int = 1000,
                          shuffle: bool = True) -> SVMDualResult:
    """The jitted solver of ``kernel_svm_dual_fit_gram`` on a prepared Gram matrix K (N, N):
    max D(α) = 1ᵀα/N − (1/(2λN²)) αᵀYKYα over α ∈ [0, 1]^N by coordinate ascent
    (``kernel_svm_dual_epoch``, g = KYα kept) until the duality gap ≤ tol or ``max_epochs``.
    ``result.w`` holds coef_n = α_n y_n/(λN) of f(x) = Σ_n coef_n k(x, x_n). Θ(N²) per epoch.

    Only shapes are checked (it runs on tracers: ``jax.vmap`` over label vectors, λ or keys, or
    inside a caller's ``jit`` that builds K); the values are the caller's to check: K symmetric
    PSD and finite, y ∈ {−1, 1}, λ > 0 (``kernel_svm_dual_fit_gram`` checks them).
    """
    K, y, lam, tol = _prepared(K, y, lam, tol, "K")
    return _kernel_dual_solve(K, y, lam, key, tol, max_epochs, shuffle)


def kernel_svm_dual_fit_gram(
    key: PRNGKey,
    K: Array,
    y: Array,
    lam,
    *,
    tol: float | None = None,
    max_epochs: int = 1000,
    shuffle: bool = True,
    check_psd: bool = True,
) -> SVMDualResult:
    """Kernel SVM by dual coordinate ascent on a Gram matrix K (N, N).

    Same stopping rule and history as ``svm_dual_fit``; ``result.w`` holds the coefficients
    α_n y_n/(λN) of f(x) = Σ_n coef_n k(x, x_n). Θ(N²) per epoch.

    Raises:
      ValueError: bad labels, shapes, λ ≤ 0, or (``check_psd``) a K that is not symmetric PSD.
    """
    check_array(K, "K", ndim=2)
    if np.shape(K)[0] != np.shape(K)[1]:
        raise ValueError(f"K must be square, got shape {np.shape(K)}")
    check_svm_labels(y)
    check_same_length(K=K, y=y)
    max_epochs = _check_dual_arguments(lam, tol, max_epochs)
    if check_psd:
        check_gram(K)
    return kernel_svm_dual_solve(key, K, y, lam, tol=tol, max_epochs=max_epochs, shuffle=shuffle)


class KernelSVMParams(NamedTuple):
    """A fitted kernel SVM f(x) = Σ_n coef_n k(x, x_n), coef_n = α_n y_n/(λN).

    Attributes:
      X_train: (N, D) training inputs.
      coef: (N,) α_n y_n/(λN) (zero for the points with α_n = 0).
      alpha: (N,) dual variables (support-vector categories).
    """

    X_train: Array
    coef: Array
    alpha: Array


def kernel_svm_fit(
    key: PRNGKey,
    kernel,
    X: Array,
    y: Array,
    lam,
    *,
    tol: float | None = None,
    max_epochs: int = 1000,
    shuffle: bool = True,
) -> tuple[KernelSVMParams, SVMDualResult]:
    """Kernel SVM: K[n, m] = k(x_n, x_m), dual coordinate ascent, parameters for prediction.

    Returns:
      ``(KernelSVMParams, SVMDualResult)``. Cost Θ(N²D) for K + Θ(N²) per epoch.
    """
    check_xy_svm(X, y)
    kernel = as_kernel(kernel)
    X = jnp.asarray(X)
    X = X.astype(float_dtype(X))
    K = kernel(X, X)
    result = kernel_svm_dual_fit_gram(key, K, y, lam, tol=tol, max_epochs=max_epochs, shuffle=shuffle,
                                      check_psd=not is_mercer_kernel(kernel))
    return KernelSVMParams(X, result.w, result.alpha), result


@jax.jit
def _kernel_decision(kernel, params, X):
    return kernel(X, params.X_train) @ params.coef


def kernel_svm_decision(kernel, params: KernelSVMParams, X: Array) -> Array:
    """f(x) = Σ_n α_n y_n k(x, x_n)/(λN) for each row of X (M, D). Cost Θ(MND)."""
    check_array(X, "X", ndim=2)
    if np.shape(X)[1] != np.shape(params.X_train)[1]:
        raise ValueError(f"X must have {np.shape(params.X_train)[1]} features, got shape {np.shape(X)}")
    return _kernel_decision(as_kernel(kernel), params, jnp.asarray(X).astype(params.coef.dtype))


# --------------------------------------------------------------------------------------------
# Support vectors
# --------------------------------------------------------------------------------------------

OUTSIDE_MARGIN, ON_MARGIN, INSIDE_MARGIN = 0, 1, 2


def support_vector_categories(alpha: Array, atol: float = 1e-6) -> Array:
    """Category of each point from its dual variable (int32, shape (N,)).

    0 = ``OUTSIDE_MARGIN``: α_n ≤ atol (not a support vector; η_n ≥ 1 at the optimum);
    1 = ``ON_MARGIN``: atol < α_n < 1 − atol (η_n = 1); 2 = ``INSIDE_MARGIN``: α_n ≥ 1 − atol
    (η_n ≤ 1: inside the margin or misclassified).
    """
    return jnp.where(alpha <= atol, OUTSIDE_MARGIN, jnp.where(alpha >= 1.0 - atol, INSIDE_MARGIN, ON_MARGIN)).astype(
        jnp.int32
    )


__all__ = [
    "DualInfo",
    "INSIDE_MARGIN",
    "KernelSVMDualState",
    "KernelSVMParams",
    "ON_MARGIN",
    "OUTSIDE_MARGIN",
    "SVMDualResult",
    "SVMDualState",
    "check_svm_labels",
    "hinge_loss",
    "hinge_subgradient",
    "kernel_svm_decision",
    "kernel_svm_dual_epoch",
    "kernel_svm_dual_fit_gram",
    "kernel_svm_dual_init",
    "kernel_svm_dual_solve",
    "kernel_svm_fit",
    "random_order",
    "support_vector_categories",
    "pegasos_sgd",
    "svm_batch_objective",
    "svm_dual_epoch",
    "svm_dual_fit",
    "svm_dual_init",
    "svm_dual_solve",
    "svm_margins",
    "svm_predict",
    "svm_primal_objective",
    "svm_primal_sgd",
    "svm_primal_subgradient",
]
