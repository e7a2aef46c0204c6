"""Benchmark entries for linear regression: ridge fit, ridge cross-validation over a λ grid,
lasso path — jaxml against scikit-learn on the same float64 data in the same process."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference
from jaxml.linear import lasso_path, ridge, ridge_path_gram


def _regression_data(seed: int, n: int, d: int, *, sparse: int | None = None, noise: float = 1.0):
    """X ~ N(0, I) (N, D), y = X w* + ε with w* ~ N(0, I) (only ``sparse`` non-zeros if given)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    if sparse is not None:
        w[sparse:] = 0.0
    y = X @ w + noise * rng.standard_normal(n)
    return X, y


def _ridge_objective_np(w, X, y, lam):
    e = y - X @ w
    return 0.5 * np.mean(e**2) + lam * np.sum(w**2)


@register("ridge_fit", "linear")
def ridge_fit(size: float) -> BenchResult:
    """Ridge N=100000·size, D=200 (float64) vs sklearn Ridge (Cholesky)."""
    from sklearn.linear_model import Ridge

    n, d = max(int(100_000 * size), 400), 200
    X, y = _regression_data(0, n, d)
    alpha = 10.0
    lam = alpha / (2 * n)
    ref_s, ref = time_reference(lambda: Ridge(alpha=alpha, fit_intercept=False).fit(X, y))
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        compile_s, jax_s, w = time_jax(ridge, Xj, yj, lam)
        w = np.asarray(w)
    return BenchResult(
        task=f"ridge N={n} D={d} float64",
        reference="sklearn Ridge(fit_intercept=False)",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="objective (1/2N)‖y−Xw‖²+λ‖w‖²",
        jaxml_quality=_ridge_objective_np(w, X, y, lam),
        reference_quality=_ridge_objective_np(ref.coef_, X, y, lam),
        goal=1.0,
        notes="jaxml.linear.ridge (validation included in the time); alpha = 2Nλ.",
    )


@functools.partial(jax.jit, static_argnames=("n_folds",))
def _ridge_cv_mse(X, y, alphas, n_folds: int):
    """Mean validation MSE over contiguous K folds (KFold without shuffle) for each alpha, with
    scikit-learn's alpha = 2 N_train λ. Each fold's training Gram matrix is the total Gram matrix
    minus the held-out fold's, factored once (``ridge_path_gram``): every alpha costs Θ(D²)."""
    n, d = X.shape
    m = n // n_folds
    Xf, yf = X.reshape(n_folds, m, d), y.reshape(n_folds, m)
    hi = jax.lax.Precision.HIGHEST
    fold_gram = jnp.einsum("kmi,kmj->kij", Xf, Xf, precision=hi)
    fold_xty = jnp.einsum("kmi,km->ki", Xf, yf, precision=hi)
    gram, xty = jnp.sum(fold_gram, axis=0), jnp.sum(fold_xty, axis=0)
    n_train = n - m

    def fold_mse(G_k, b_k, X_val, y_val):
        W = ridge_path_gram(gram - G_k, xty - b_k, n_train, alphas / (2 * n_train))
        pred = jnp.matmul(X_val, W.T, precision=hi)
        return jnp.mean((y_val[:, None] - pred) ** 2, axis=0)

    return jnp.mean(jax.vmap(fold_mse)(fold_gram, fold_xty, Xf, yf), axis=0)


@register("ridge_cv", "linear")
def ridge_cv(size: float) -> BenchResult:
    """5-fold CV over 100 alphas, N=20000·size, D=200, vs GridSearchCV(Ridge)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, KFold

    n_folds = 5
    n, d = max(int(20_000 * size) // n_folds * n_folds, 50 * n_folds), 200
    X, y = _regression_data(1, n, d, noise=10.0)
    alphas = np.logspace(-2, 5, 100)

    def reference():
        search = GridSearchCV(
            Ridge(fit_intercept=False),
            {"alpha": alphas},
            cv=KFold(n_folds),
            scoring="neg_mean_squared_error",
        )
        return search.fit(X, y)

    ref_s, search = time_reference(reference, repeats=1)
    ref_alpha = search.best_params_["alpha"]
    with jax.enable_x64(True):
        compile_s, jax_s, mses = time_jax(
            _ridge_cv_mse, jnp.asarray(X), jnp.asarray(y), jnp.asarray(alphas), n_folds
        )
        mses = np.asarray(mses)
    best = int(np.argmin(mses))
    same = bool(np.isclose(alphas[best], ref_alpha))
    return BenchResult(
        task=f"ridge {n_folds}-fold CV × {alphas.size} alphas, N={n} D={d} float64",
        reference="GridSearchCV(Ridge(fit_intercept=False), cv=KFold(5))",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="CV MSE at the chosen alpha",
        jaxml_quality=float(mses[best]),
        reference_quality=float(-search.best_score_),
        goal=50.0,
        notes=(
            f"best alpha jaxml {alphas[best]:.4g} vs sklearn {ref_alpha:.4g} "
            f"({'same' if same else 'DIFFERENT'}); one eigendecomposition per fold "
            "(total Gram minus the held-out fold's Gram) serves all 100 alphas."
        ),
    )


def _lasso_objectives(W, X, y, lams):
    E = y[None, :] - W @ X.T
    return 0.5 * np.mean(E**2, axis=1) + lams * np.sum(np.abs(W), axis=1)


@register("lasso_path", "linear")
def lasso_path_entry(size: float) -> BenchResult:
    """Lasso path over 50 λ (λ_max down to 10⁻³ λ_max), N=10000·size, D=200, tol 1e-4, vs
    sklearn.linear_model.lasso_path (coordinate descent on the precomputed Gram matrix)."""
    from sklearn.linear_model import lasso_path as sk_lasso_path

    n, d = max(int(10_000 * size), 400), 200
    X, y = _regression_data(2, n, d, sparse=20, noise=2.0)
    lam_max = np.max(np.abs(X.T @ y)) / n
    lams = np.geomspace(lam_max, 1e-3 * lam_max, 50)
    tol = 1e-4
    ref_s, (alphas, coefs, _) = time_reference(
        lambda: sk_lasso_path(X, y, alphas=lams, tol=tol, max_iter=10_000)
    )
    ref_w = coefs.T  # (L, D), alphas in the order given (decreasing)
    with jax.enable_x64(True):
        run = functools.partial(lasso_path, method="cd", max_iter=10_000, tol=tol)
        compile_s, jax_s, result = time_jax(run, jnp.asarray(X), jnp.asarray(y), jnp.asarray(lams))
        W = np.asarray(result.w)
    obj_j, obj_r = _lasso_objectives(W, X, y, lams), _lasso_objectives(ref_w, X, y, alphas)
    best = np.minimum(obj_j, obj_r)
    return BenchResult(
        task=f"lasso path 50 λ, N={n} D={d} float64, tol={tol:g}",
        reference="sklearn.linear_model.lasso_path",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="max rel. objective excess over the better answer",
        jaxml_quality=float(np.max((obj_j - best) / best)),
        reference_quality=float(np.max((obj_r - best) / best)),
        goal=1.0,
        notes="jaxml lasso_path(method='cd') with warm starts in one lax.scan; same duality-gap "
        "stopping rule (gap ≤ tol‖y‖²/N).",
    )


__all__: list[str] = []
