"""Benchmarks of logistic regression: L-BFGS, Newton, and 5-fold CV over a grid of C.

Each entry solves the same problem in jaxml and in scikit-learn on the same float64 data, in one
process, and reports the course objective (1/N)Σ[log(1+e^{xᵀw}) − y xᵀw] + (λ/2)‖w‖² of both
answers (λ = 1/(C N), ``fit_intercept=False``: DESIGN.md's mapping) or their CV accuracy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference
from jaxml.linear import fit_logistic_lbfgs, fit_logistic_newton, logistic_loss
from jaxml.selection import grid_search_cv, kfold_indices, kfold_masks
from jaxml.sklearn._base import float64


def _logistic_data(n: int, d: int, seed: int = 0):
    """x ~ N(0, I), y ~ Bernoulli(σ(xᵀw*)) with ‖w*‖ = 3: overlapping classes, a finite optimum."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    w_true *= 3.0 / np.linalg.norm(w_true)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-X @ w_true))).astype(np.int64)
    return X, y


def _objective(w, X, y, lam) -> float:
    with float64():
        return float(logistic_loss(jnp.asarray(w, jnp.float64), X, y, lam))


def _solver_entry(size: float, *, jaxml_solver, sklearn_solver: str, tol: float, goal: float):
    from sklearn.linear_model import LogisticRegression

    n, d = max(int(100_000 * size), 200), 100
    X_np, y_np = _logistic_data(n, d)
    lam = 1e-3
    ref = LogisticRegression(
        C=1.0 / (n * lam), fit_intercept=False, solver=sklearn_solver, tol=tol, max_iter=1000
    )
    ref_s, ref = time_reference(lambda: ref.fit(X_np, y_np))
    with float64():
        X, y = jnp.asarray(X_np), jnp.asarray(y_np)

        def run(X, y):
            return jaxml_solver(X, y, lam, tol=tol, max_iter=1000)

        compile_s, jax_s, fit = time_jax(run, X, y)
        ours = _objective(fit.w, X_np, y_np, lam)
        iters = int(fit.num_iter)
    theirs = _objective(ref.coef_[0], X_np, y_np, lam)
    return BenchResult(
        task=f"binary logistic N={n} D={d} λ={lam:g} float64, ‖∇L‖∞ ≤ {tol:g}",
        reference=f"sklearn LogisticRegression(solver={sklearn_solver!r})",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="objective L(w)",
        jaxml_quality=ours,
        reference_quality=theirs,
        goal=goal,
        notes=f"iterations: jaxml {iters}, sklearn {int(ref.n_iter_[0])}; "
        f"objective difference {ours - theirs:+.2e}",
    )


@register("logistic_lbfgs", "classification")
def logistic_lbfgs(size: float) -> BenchResult:
    """optax L-BFGS in one jitted while-loop vs scikit-learn's L-BFGS-B (scipy), N=100k, D=100."""
    return _solver_entry(
        size, jaxml_solver=fit_logistic_lbfgs, sklearn_solver="lbfgs", tol=1e-6, goal=2.0
    )


@register("logistic_newton", "classification")
def logistic_newton(size: float) -> BenchResult:
    """Damped Newton (hand Hessian, Cholesky) vs scikit-learn's newton-cholesky, N=100k, D=100."""
    return _solver_entry(
        size, jaxml_solver=fit_logistic_newton, sklearn_solver="newton-cholesky", tol=1e-8,
        goal=1.0,
    )


# ---- 5-fold CV × 20 values of C


def _cv_fit(X, y, train_weight, C, init):
    # scikit-learn's C on a training fold of Σs samples is the course's λ = 1/(C Σs)
    lam = 1.0 / (C * jnp.sum(train_weight))
    fit = fit_logistic_newton(X, y, lam, sample_weight=train_weight, tol=1e-6, max_iter=100, w_init=init)
    return fit.w


def _misclassified(w, X, y):
    return ((X @ w > 0).astype(y.dtype) != y).astype(X.dtype)


@register("logistic_cv", "classification")
def logistic_cv(size: float) -> BenchResult:
    """5-fold CV × 20 values of C as ONE compiled call (damped Newton vmapped over the folds,
    warm-started along C in a ``lax.scan``) vs ``GridSearchCV`` (100 scikit-learn L-BFGS fits,
    both ‖∇L‖∞ ≤ 1e-6); scikit-learn's ``LogisticRegressionCV`` path is timed in the notes."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GridSearchCV

    n, d, k = max(int(20_000 * size), 100), 50, 5
    X_np, y_np = _logistic_data(n, d, seed=1)
    Cs = np.logspace(-4, 2, 20)
    key = jax.random.key(0)
    folds = kfold_indices(key, n, k)
    search = GridSearchCV(
        LogisticRegression(fit_intercept=False, tol=1e-6, max_iter=1000),
        {"C": Cs}, cv=folds, scoring="accuracy",
    )
    ref_s, search = time_reference(lambda: search.fit(X_np, y_np), repeats=1)
    # scikit-learn's own regularization path (warm starts along Cs), reported alongside
    path = LogisticRegressionCV(
        Cs=Cs, cv=folds, fit_intercept=False, tol=1e-6, max_iter=1000, scoring="accuracy"
    )
    path_s, path = time_reference(lambda: path.fit(X_np, y_np), repeats=1)
    with float64():
        X, y = jnp.asarray(X_np), jnp.asarray(y_np)
        masks = kfold_masks(key, n, k, jnp.float64)
        C_grid = jnp.asarray(Cs)

        def run(X, y):
            # Folds vmapped, C from small to large along a lax.scan, each fold's Newton warm-started
            # from its solution at the previous C: one compiled call for the whole grid.
            return grid_search_cv(_cv_fit, _misclassified, X, y, C_grid, test_masks=masks, warm_start=True)

        compile_s, jax_s, grid = time_jax(run, X, y, repeats=3)
        accuracy = 1.0 - np.asarray(grid.mean)
    ref_accuracy = np.asarray(search.cv_results_["mean_test_score"])
    best = int(np.argmax(accuracy))
    return BenchResult(
        task=f"5-fold CV × 20 C, binary logistic N={n} D={d} float64",
        reference="sklearn GridSearchCV(LogisticRegression(solver='lbfgs'))",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="best mean CV accuracy",
        jaxml_quality=float(accuracy[best]),
        reference_quality=float(search.best_score_),
        goal=10.0,
        notes="jaxml: Newton, folds vmapped, C along a lax.scan with warm starts; same folds; "
        f"sklearn LogisticRegressionCV (also warm-started along C) {path_s:.3g} s "
        f"({path_s / jax_s:.1f}× slower than jaxml); "
        f"best C jaxml {Cs[best]:.3g} vs sklearn {search.best_params_['C']:.3g}; "
        f"max |accuracy difference| over the grid {np.max(np.abs(accuracy - ref_accuracy)):.1e}",
    )


__all__ = ["logistic_cv", "logistic_lbfgs", "logistic_newton"]
