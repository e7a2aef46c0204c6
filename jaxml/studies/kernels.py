"""Chapter 3 studies of the SVM and of kernels: the soft margin and its support vectors, and
linear vs polynomial vs RBF kernels on a non-linear problem (SYLLABUS 3).

Both studies solve the course's SVM by dual coordinate ascent (``jaxml.kernels.svm``), stopped
by the duality gap. The course's SVM has no intercept; where one is needed it comes from a
constant feature (x̃ = [x, 1], i.e. the kernel xᵀx' + 1), a *regularized* bias.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.kernels import (
    INSIDE_MARGIN,
    ON_MARGIN,
    OUTSIDE_MARGIN,
    as_kernel,
    kernel_ridge_fit,
    kernel_ridge_predict,
    kernel_svm_decision,
    kernel_svm_fit,
    polynomial_kernel,
    rbf_kernel,
    support_vector_categories,
    svm_dual_fit,
    svm_margins,
)
from jaxml.studies import StudyContext, StudyResult, savefig, study

CHAPTER = "3. Classification"


def two_blobs(key: jax.Array, n: int, *, distance: float = 3.2):
    """Two overlapping 2-D Gaussian classes (unit variance, centres ±distance/2 on a diagonal),
    labels in {−1, 1}, as float64 numpy arrays."""
    k_y, k_x = jax.random.split(key)
    y = np.where(np.asarray(jax.random.bernoulli(k_y, 0.5, (n,))), 1.0, -1.0)
    centre = distance / 2 / np.sqrt(2) * np.array([1.0, 1.0])
    X = np.asarray(jax.random.normal(k_x, (n, 2)), np.float64) + y[:, None] * centre[None, :] + np.array([1.0, 0.5])
    return X, y


@study("svm_margin", CHAPTER, "Soft-margin SVM: boundary, margins and support vectors by α")
def svm_margin(ctx: StudyContext) -> StudyResult:
    """Linear soft-margin SVM on 2-D overlapping blobs, by dual coordinate ascent: the decision
    boundary wᵀx + b = 0, the margins wᵀx + b = ±1, and each point's category from its dual
    variable (α = 0 outside the margin, 0 < α < 1 on it, α = 1 inside or misclassified), with
    the duality gap per epoch."""
    import matplotlib.pyplot as plt

    n = 60 if ctx.quick else 200
    lam = 0.02
    with jax.enable_x64(True):
        X, y = two_blobs(ctx.key("blobs"), n)
        X_aug = np.hstack([X, np.ones((n, 1))])  # x̃ = [x, 1]: the last weight is the bias b
        result = svm_dual_fit(ctx.key("dual"), X_aug, y, lam, tol=1e-10, max_epochs=5000)
        w_full = np.asarray(result.w)
        alpha = np.asarray(result.alpha)
        category = np.asarray(support_vector_categories(result.alpha, atol=1e-6))
        eta = np.asarray(svm_margins(result.w, jnp.asarray(X_aug), jnp.asarray(y)))
        epochs = int(result.num_epochs)
        gap = np.asarray(result.gap[:epochs])
        primal = float(result.primal[epochs - 1])
    w, b = w_full[:2], w_full[2]
    accuracy = float(np.mean(np.sign(X_aug @ w_full) == y))
    # KKT check of the categories against the margins η_n = y_n f(x_n)
    kkt_ok = bool(
        np.all(eta[category == OUTSIDE_MARGIN] >= 1 - 1e-4)
        and np.all(np.abs(eta[category == ON_MARGIN] - 1) <= 1e-4)
        and np.all(eta[category == INSIDE_MARGIN] <= 1 + 1e-4)
    )

    fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
    lo, hi = X.min(axis=0) - 0.7, X.max(axis=0) + 0.7
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    f = w[0] * gx + w[1] * gy + b
    ax.contourf(gx, gy, f, levels=[-1e9, 0, 1e9], colors=["#f4c7c3", "#c6dbef"], alpha=0.5)
    ax.contour(gx, gy, f, levels=[-1, 0, 1], colors=["#444"], linestyles=["--", "-", "--"], linewidths=[1, 2, 1])
    styles = {
        OUTSIDE_MARGIN: dict(marker="o", s=22, label="α = 0 (outside the margin)"),
        ON_MARGIN: dict(marker="s", s=60, label="0 < α < 1 (on the margin)"),
        INSIDE_MARGIN: dict(marker="X", s=70, label="α = 1 (inside / misclassified)"),
    }
    for cat, style in styles.items():
        for label, colour in ((1.0, "#1f77b4"), (-1.0, "#d62728")):
            sel = (category == cat) & (y == label)
            ax.scatter(X[sel, 0], X[sel, 1], c=colour, edgecolors="k", linewidths=0.5,
                       **{**style, "label": style["label"] if label == 1.0 else None})
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title(f"soft-margin SVM, λ = {lam}: boundary (—) and margins (- -)")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.legend(loc="lower right", fontsize=8)
    ax_gap.semilogy(np.arange(1, epochs + 1), np.maximum(gap, 1e-16), marker=".")
    ax_gap.axhline(1e-10, color="gray", linestyle=":", label="tolerance")
    ax_gap.set_xlabel("epoch (one random-order sweep over α)")
    ax_gap.set_ylabel("duality gap P(w(α)) − D(α)")
    ax_gap.set_title("dual coordinate ascent: stopping rule")
    ax_gap.legend()
    path = savefig(fig, ctx.out_dir / "svm_margin.png")

    counts = {name: int(np.sum(category == c)) for name, c in
              (("outside", OUTSIDE_MARGIN), ("on", ON_MARGIN), ("inside", INSIDE_MARGIN))}
    return StudyResult(
        metrics={
            "N": str(n),
            "α = 0 / 0<α<1 / α = 1": f"{counts['outside']} / {counts['on']} / {counts['inside']}",
            "margin width 2/‖w‖": f"{2 / np.linalg.norm(w):.3f}",
            "training accuracy": f"{accuracy:.3f}",
            "epochs to gap ≤ 1e-10": str(epochs),
            "primal objective": f"{primal:.6f}",
            "KKT categories consistent": str(kkt_ok),
            "Σ α (support vectors weight)": f"{alpha.sum():.2f}",
        },
        figures=[path],
        summary=(
            f"Only the {counts['on'] + counts['inside']} points with α > 0 (on or inside the margin) "
            "determine w = (1/(λN))XᵀYα; the duality gap falls geometrically to the tolerance in "
            f"{epochs} epochs."
        ),
    )


def moons(key: jax.Array, n: int, noise: float):
    """scikit-learn's two moons (labels in {−1, 1}), standardized with the training statistics."""
    from sklearn.datasets import make_moons

    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    X, y = make_moons(n, noise=noise, random_state=seed)
    return X, np.where(y == 1, 1.0, -1.0)


def _kernels():
    """The compared kernels: 'linear' with a constant feature (xᵀx' + 1), cubic, RBF."""
    return {
        "linear (xᵀx'+1)": as_kernel(polynomial_kernel, degree=1),
        "polynomial (xᵀx'+1)³": as_kernel(polynomial_kernel, degree=3),
        "RBF exp(−γ‖x−x'‖²), γ=2": as_kernel(rbf_kernel, gamma=2.0),
    }


@study("kernel_comparison", CHAPTER, "Linear vs polynomial vs RBF kernels: SVM and kernel ridge on two moons")
def kernel_comparison(ctx: StudyContext) -> StudyResult:
    """Kernel SVM (dual coordinate ascent) and kernel ridge classification (sign of the
    regression on ±1 labels) with linear, cubic and RBF kernels on two moons: decision regions and
    test accuracy."""
    import matplotlib.pyplot as plt

    n_train, n_test = (100, 400) if ctx.quick else (300, 2000)
    grid_size = 60 if ctx.quick else 150
    lam_svm, lam_ridge = 1e-3, 1e-3
    metrics: dict[str, str] = {}
    with jax.enable_x64(True):
        X_all, y_all = moons(ctx.key("moons"), n_train + n_test, noise=0.2)
        mean, std = X_all[:n_train].mean(axis=0), X_all[:n_train].std(axis=0)
        X_all = (X_all - mean) / std
        X, y, Xt, yt = X_all[:n_train], y_all[:n_train], X_all[n_train:], y_all[n_train:]
        lo, hi = X_all.min(axis=0) - 0.3, X_all.max(axis=0) + 0.3
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], grid_size), np.linspace(lo[1], hi[1], grid_size))
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        panels = []
        for name, kernel in _kernels().items():
            params, result = kernel_svm_fit(ctx.key("kernel_svm"), kernel, X, y, lam_svm, tol=1e-6, max_epochs=3000)
            svm_acc = float(np.mean(np.sign(np.asarray(kernel_svm_decision(kernel, params, Xt))) == yt))
            svm_grid = np.asarray(kernel_svm_decision(kernel, params, grid)).reshape(gx.shape)
            ridge = kernel_ridge_fit(kernel, X, y, lam_ridge)
            ridge_acc = float(np.mean(np.sign(np.asarray(kernel_ridge_predict(kernel, ridge, Xt))) == yt))
            ridge_grid = np.asarray(kernel_ridge_predict(kernel, ridge, grid)).reshape(gx.shape)
            n_sv = int(np.sum(np.asarray(result.alpha) > 1e-8))
            short = name.split(" ")[0]
            metrics[f"SVM {short} test accuracy"] = f"{svm_acc:.3f} ({n_sv} support vectors)"
            metrics[f"ridge {short} test accuracy"] = f"{ridge_acc:.3f}"
            panels.append((name, svm_grid, svm_acc, ridge_grid, ridge_acc, np.asarray(result.alpha)))

    fig, axes = plt.subplots(2, 3, figsize=(13, 8), sharex=True, sharey=True)
    for col, (name, svm_grid, svm_acc, ridge_grid, ridge_acc, alpha) in enumerate(panels):
        for row, (values, acc, label) in enumerate(
            ((svm_grid, svm_acc, f"SVM, λ={lam_svm:g}"), (ridge_grid, ridge_acc, f"kernel ridge, λ={lam_ridge:g}"))
        ):
            ax = axes[row, col]
            ax.contourf(gx, gy, values, levels=[-1e9, 0, 1e9], colors=["#f4c7c3", "#c6dbef"], alpha=0.6)
            ax.contour(gx, gy, values, levels=[0], colors="k", linewidths=1.5)
            ax.scatter(X[:, 0], X[:, 1], c=np.where(y > 0, "#1f77b4", "#d62728"), s=10, edgecolors="none")
            if row == 0:
                sv = alpha > 1e-8
                ax.scatter(X[sv, 0], X[sv, 1], facecolors="none", edgecolors="k", s=28, linewidths=0.6,
                           label="support vectors (α > 0)")
                ax.legend(loc="lower left", fontsize=7)
            ax.set_title(f"{label}\n{name}: test acc. {acc:.3f}", fontsize=9)
    path = savefig(fig, ctx.out_dir / "kernel_comparison.png")
    best = max(metrics, key=lambda k: float(metrics[k].split(" ")[0]))
    linear_acc = float(metrics["SVM linear test accuracy"].split(" ")[0])
    return StudyResult(
        metrics={"N train / test": f"{n_train} / {n_test}", **metrics},
        figures=[path],
        summary=(
            f"A linear boundary cannot follow the moons (SVM test accuracy {linear_acc:.3f}); the cubic "
            "and RBF kernels bend the boundary around them, with the best test accuracy for "
            f"{best.rsplit(' test', 1)[0]} ({metrics[best].split(' ')[0]})."
        ),
    )


__all__ = ["kernel_comparison", "moons", "svm_margin", "two_blobs"]
