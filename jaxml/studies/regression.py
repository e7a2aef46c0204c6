"""Chapter 1 studies: polynomial degree (under- and over-fitting) and regularization paths."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.data import fit_standardizer, load_dataset, make_sine_regression, standardize
from jaxml.linear import lasso_path, least_squares, mse, polynomial_features, ridge_path
from jaxml.studies import StudyContext, StudyResult, savefig, study

CHAPTER = "1. Regression and optimization"


def _fit_polynomial(x, y, degree: int):
    """Least squares on φ(x) = [1, x, …, x^d]."""
    return least_squares(polynomial_features(x, degree), y)


@study("polynomial_degree", CHAPTER, "Polynomial degree: under- and over-fitting")
def polynomial_degree(ctx: StudyContext) -> StudyResult:
    """Fit y = sin(2πx) + ε (σ = 0.3) from N = 10 points with polynomials of degree 0..12 by
    least squares; train and test MSE (test on 1000 fresh points), averaged over independent
    training sets (vmapped): training error falls with the degree while test error is U-shaped."""
    import matplotlib.pyplot as plt

    n_train, noise = 10, 0.3
    degrees = list(range(0, 10 if ctx.quick else 13))
    repeats = 5 if ctx.quick else 50
    with jax.enable_x64(True):
        x_test, y_test = make_sine_regression(ctx.key("test"), 1000, noise=noise, dtype=jnp.float64)
        train_keys = jax.random.split(ctx.key("train"), repeats)
        sample = jax.vmap(lambda k: make_sine_regression(k, n_train, noise=noise, dtype=jnp.float64))
        xs, ys = sample(train_keys)  # (repeats, N)
        train_mse, test_mse, example_fits = [], [], {}
        grid = jnp.linspace(0.0, 1.0, 200)
        for d in degrees:

            def errors(x, y, d=d):
                w = _fit_polynomial(x, y, d)
                train = mse(w, polynomial_features(x, d), y)
                return w, train, mse(w, polynomial_features(x_test, d), y_test)

            ws, train, test = jax.vmap(errors)(xs, ys)
            train_mse.append(float(jnp.mean(train)))
            test_mse.append(float(jnp.median(test)))
            example_fits[d] = np.asarray(polynomial_features(grid, d) @ ws[0])
        x0, y0 = np.asarray(xs[0]), np.asarray(ys[0])

    train_mse, test_mse = np.asarray(train_mse), np.asarray(test_mse)
    best = degrees[int(np.argmin(test_mse))]
    fig, (ax_err, ax_fit) = plt.subplots(1, 2, figsize=(11, 4))
    ax_err.semilogy(degrees, train_mse, "o-", label="train MSE (mean)")
    ax_err.semilogy(degrees, test_mse, "s-", label="test MSE (median over training sets)")
    ax_err.axhline(noise**2, color="gray", ls=":", label=f"noise variance σ² = {noise**2:g}")
    ax_err.set_xlabel("polynomial degree d")
    ax_err.set_ylabel("MSE")
    ax_err.set_title(f"N = {n_train} training points, {repeats} training sets")
    ax_err.legend()
    ax_fit.plot(x0, y0, "ko", label="training set")
    ax_fit.plot(np.asarray(grid), np.sin(2 * np.pi * np.asarray(grid)), "k--", label="sin(2πx)")
    for d in sorted({1, 3, degrees[-1]} & set(degrees)):
        ax_fit.plot(np.asarray(grid), example_fits[d], label=f"degree {d}")
    ax_fit.set_ylim(-2, 2)
    ax_fit.set_xlabel("x")
    ax_fit.set_title("least-squares fits on one training set")
    ax_fit.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "polynomial_degree.png")
    top = degrees[-1]
    return StudyResult(
        metrics={
            "best degree (test MSE)": str(best),
            "test MSE at best degree": f"{test_mse[degrees.index(best)]:.3f}",
            "degree 0 train / test MSE": f"{train_mse[0]:.3f} / {test_mse[0]:.3f}",
            f"degree {top} train / test MSE": f"{train_mse[-1]:.2e} / {test_mse[-1]:.3g}",
        },
        figures=[path],
        summary=(
            f"Training error falls monotonically with the degree (to ~0 once d ≥ N − 1 = "
            f"{n_train - 1}) while test error is U-shaped: degree 0–1 under-fit, degree {best} "
            f"is best, high degrees over-fit the noise."
        ),
    )


@study("regularization_paths", CHAPTER, "Ridge and lasso coefficient paths (diabetes)")
def regularization_paths(ctx: StudyContext) -> StudyResult:
    """Coefficient paths w(λ) of ridge, (1/2N)‖y − Xw‖² + λ‖w‖², and lasso,
    (1/2N)‖y − Xw‖² + λ‖w‖₁, on the standardized diabetes data (N = 442, D = 10): ridge shrinks
    every coefficient smoothly towards 0, lasso sets them to exactly 0 one after another."""
    import matplotlib.pyplot as plt

    data = load_dataset("diabetes")
    n_lams = 30 if ctx.quick else 100
    with jax.enable_x64(True):
        X, _ = standardize(jnp.asarray(data.X), fit_standardizer(jnp.asarray(data.X)))
        y = jnp.asarray(data.y, jnp.float64)
        y = y - jnp.mean(y)
        n = X.shape[0]
        ridge_lams = jnp.logspace(-4, 3, n_lams)
        W_ridge = np.asarray(ridge_path(X, y, ridge_lams))
        lam_max = float(jnp.max(jnp.abs(X.T @ y)) / n)
        lasso_lams = jnp.geomspace(lam_max, 1e-4 * lam_max, n_lams)
        result = lasso_path(X, y, lasso_lams, tol=1e-10, max_iter=10_000)
        W_lasso = np.asarray(result.w)
        w_ls = np.asarray(least_squares(X, y))

    names = data.feature_names
    fig, (ax_r, ax_l) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for j, name in enumerate(names):
        (line,) = ax_r.semilogx(np.asarray(ridge_lams), W_ridge[:, j], label=name)
        ax_l.semilogx(np.asarray(lasso_lams), W_lasso[:, j], color=line.get_color())
    ax_r.set_title("ridge: (1/2N)‖y − Xw‖² + λ‖w‖²")
    ax_l.set_title("lasso: (1/2N)‖y − Xw‖² + λ‖w‖₁")
    for ax in (ax_r, ax_l):
        ax.axhline(0.0, color="gray", lw=0.8)
        ax.set_xlabel("λ")
        ax.invert_xaxis()
    ax_r.set_ylabel("coefficient (standardized features)")
    ax_r.legend(fontsize=8, ncol=2)
    path = savefig(fig, ctx.out_dir / "regularization_paths.png")

    # Order in which features become non-zero along the lasso path (λ decreasing).
    nonzero = W_lasso != 0
    first_active = np.where(nonzero.any(axis=0), np.argmax(nonzero, axis=0), n_lams)
    order = [names[j] for j in np.argsort(first_active, kind="stable")]
    mid = n_lams // 2
    near_one = int(np.argmin(np.abs(np.log(np.asarray(ridge_lams)))))
    ls_norm = np.linalg.norm(w_ls)
    return StudyResult(
        metrics={
            "lasso: first features to enter": ", ".join(order[:3]),
            f"lasso: non-zeros at λ = {float(lasso_lams[mid]):.3g}": str(int(nonzero[mid].sum())),
            "lasso at smallest λ vs least squares (‖Δw‖/‖w_LS‖)": (
                f"{np.linalg.norm(W_lasso[-1] - w_ls) / ls_norm:.2%}"
            ),
            f"ridge ‖w(λ={float(ridge_lams[near_one]):.2g})‖ / ‖w_LS‖": (
                f"{np.linalg.norm(W_ridge[near_one]) / ls_norm:.3f}"
            ),
        },
        figures=[path],
        summary=(
            f"Ridge shrinks all coefficients smoothly and none reaches 0; lasso zeroes them one by "
            f"one (first to enter: {', '.join(order[:3])}) and meets least squares as λ → 0."
        ),
    )


__all__ = ["polynomial_degree", "regularization_paths"]
