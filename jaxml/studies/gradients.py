"""Gradient checks: the finite-difference error against the step h (the V-shaped curve).

For a smooth loss L, the central difference D_h = (L(θ + h eᵢ) − L(θ − h eᵢ)) / 2h differs from
∂ᵢL(θ) by a truncation term h²·∂ᵢ³L/6 and a rounding term ≈ ε|L|/h (ε the machine epsilon), so

  |D_h − ∂ᵢL| ≲ h² M / 6 + ε |L| / h,  minimized at h* = (3 ε |L| / M)^{1/3} ≈ ε^{1/3}

(M a bound on the third derivative; the rule of thumb takes 3|L|/M ≈ 1). On a log-log plot the
error falls with slope −1 (rounding) down to h* and rises with slope +2 (truncation) after it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.gradcheck import REGISTRY, finite_difference_grad
from jaxml.families import import_families
from jaxml.studies import StudyContext, StudyResult, savefig, study

CHAPTER = "Gradient checks"
# Smooth registered losses that are not quadratic along any coordinate (central differences are
# exact for a quadratic, e.g. least squares or matrix factorization in one entry: no V).
GRADIENTS = ("linear.logistic_loss", "linear.softmax_loss", "linear.logistic_hessian")
DTYPES = (("float32", jnp.float32), ("float64", jnp.float64))


def _as_float64(tree):
    """Floating leaves to float64 (the same points, exactly); integer leaves (labels) unchanged."""
    return jax.tree.map(lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def fd_error_curve(name: str, key: jax.Array, dtype, steps) -> np.ndarray:
    """e(h) = max_i |D_h,i − Gᵢ| / max_i |Gᵢ| for each h in ``steps``, where D_h is the central
    difference of the registered loss ``name`` computed in ``dtype`` at a point drawn in
    ``dtype``, and G its hand gradient at the same point in float64 (needs ``jax_enable_x64``)."""
    check = REGISTRY[name]
    args = check.make_args(key, dtype)
    exact = jax.flatten_util.ravel_pytree(check.grad(*_as_float64(args)))[0]
    fd = finite_difference_grad(check.loss, args, check.argnum, step=np.asarray(steps))
    fd = jax.vmap(lambda t: jax.flatten_util.ravel_pytree(t)[0])(fd).astype(jnp.float64)
    return np.asarray(jnp.max(jnp.abs(fd - exact[None, :]), axis=1) / jnp.max(jnp.abs(exact)))


def _slope(steps, errors, lo, hi) -> float:
    """Least-squares slope of log e against log h over lo ≤ h ≤ hi."""
    sel = (steps >= lo) & (steps <= hi) & (errors > 0)
    return float(np.polyfit(np.log10(steps[sel]), np.log10(errors[sel]), 1)[0])


@study("gradient_check_step", CHAPTER, "Finite-difference error against the step h, float32 and float64")
def gradient_check_step(ctx: StudyContext) -> StudyResult:
    """|D_h − ∂L|/‖∂L‖_∞ against h (log-log) for three registered hand gradients (logistic loss,
    softmax loss, logistic Hessian-vector product), in float32 and float64: the V of rounding (slope −1) and
    truncation (slope +2) errors, the measured optimal h and the ε^{1/3} rule of thumb."""
    import matplotlib.pyplot as plt

    import_families()
    missing = [n for n in GRADIENTS if n not in REGISTRY]
    if missing:
        raise ValueError(f"gradient_check_step needs the registered gradients {missing}")
    steps = np.logspace(-12, 0, 25 if ctx.quick else 73)
    curves = {}
    with jax.enable_x64(True):
        for dtype_name, dtype in DTYPES:
            for i, name in enumerate(GRADIENTS):
                curves[dtype_name, name] = fd_error_curve(name, jax.random.fold_in(ctx.key("points"), i), dtype, steps)

    metrics, best, h_opt = {}, {}, {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (dtype_name, dtype) in zip(axes, DTYPES, strict=True):
        eps = float(jnp.finfo(dtype).eps)
        rule = eps ** (1 / 3)
        best[dtype_name] = []
        for name in GRADIENTS:
            err = curves[dtype_name, name]
            j = int(np.argmin(err))
            best[dtype_name].append(steps[j])
            (line,) = ax.loglog(steps, err, ".-", label=name)
            ax.loglog(steps[j], err[j], "o", ms=9, mfc="none", color=line.get_color())
        h_best = h_opt[dtype_name] = float(np.exp(np.mean(np.log(best[dtype_name]))))
        ax.axvline(rule, color="gray", ls=":", label=f"ε^(1/3) = {rule:.1e}")
        ax.axvline(h_best, color="k", ls="--", lw=0.8, label=f"measured optimum ≈ {h_best:.1e}")
        ax.set_title(f"{dtype_name} (ε = {eps:.1e})")
        ax.set_xlabel("step h")
        ax.legend(fontsize=7)
        metrics[f"measured optimal h, {dtype_name} (geometric mean of 3)"] = f"{h_best:.1e}"
        metrics[f"ε^(1/3) rule of thumb, {dtype_name}"] = f"{rule:.1e}"
        metrics[f"smallest error, {dtype_name} (worst of 3)"] = (
            f"{max(float(np.min(curves[dtype_name, n])) for n in GRADIENTS):.1e}"
        )
    axes[0].set_ylabel("max |D_h − ∂L| / max |∂L|")
    path = savefig(fig, ctx.out_dir / "gradient_check_step.png")

    # The two branches of the float64 V, one and a half decades away from the optimum.
    err64 = np.exp(np.mean([np.log(curves["float64", n]) for n in GRADIENTS], axis=0))
    h64 = h_opt["float64"]
    left = _slope(steps, err64, h64 * 1e-4, h64 * 10**-1.5)
    right = _slope(steps, err64, h64 * 10**1.5, 1e-1)
    metrics["float64 log-log slope left / right of the optimum (theory −1 / +2)"] = f"{left:.2f} / {right:.2f}"
    return StudyResult(
        metrics=metrics,
        figures=[path],
        summary=(
            f"Central differences are most accurate at h ≈ {h_opt['float32']:.1e} in float32 and "
            f"≈ {h_opt['float64']:.1e} in float64, near "
            "ε^(1/3); below it rounding error grows like ε/h, above it truncation error like h²."
        ),
    )


__all__ = ["fd_error_curve", "gradient_check_step"]
