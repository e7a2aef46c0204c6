"""Benchmarks of logistic regression: the ``LogisticRegression`` facade, ``LogisticRegressionCV``,
and (internal) the L-BFGS and Newton solvers.

The facade rows time what a user calls, ``LogisticRegression(...).fit(X, y)`` with numpy in
(validation, transfer and solve included), against scikit-learn's estimator of the same name
and parameters on the same data, in one process, and report the objective of both answers:
the mean log-loss plus (λ/2)‖W‖² with λ = 1/(C N) (scikit-learn's objective divided by C N).
The internal rows call the jaxml solvers on device arrays (``fit_intercept=False``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference
from jaxml.linear import fit_logistic_lbfgs, fit_logistic_newton, logistic_loss
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
        task=f"(internal) binary logistic solver N={n} D={d} λ={lam:g} float64, ‖∇L‖∞ ≤ {tol:g}",
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


# ---- the LogisticRegression facade, 100k × 100


def _multiclass_data(n: int, d: int, k: int = 3, seed: int = 1):
    """x ~ N(0, I), y ~ softmax(xᵀW*) with columns of W* of norm 3."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, k))
    W *= 3.0 / np.linalg.norm(W, axis=0)
    Z = X @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return X, (rng.random(n)[:, None] > P.cumsum(axis=1)).sum(axis=1)


def _facade_objective(model, X, y, C) -> float:
    """(1/N) Σ_n −log p(y_n | x_n) + (1/(2CN))‖coef_‖², in float64, for a fitted model."""
    scores = X.astype(np.float64) @ model.coef_.T.astype(np.float64) + model.intercept_.astype(np.float64)
    if scores.shape[1] == 1:
        scores = np.hstack([np.zeros_like(scores), scores])
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    codes = np.searchsorted(model.classes_, y)
    nll = -np.mean(log_p[np.arange(len(y)), codes])
    return float(nll + 0.5 / (C * len(y)) * np.sum(model.coef_.astype(np.float64) ** 2))


def _facade_entry(size: float, *, classes: int, dtype, tol: float | None):
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    from jaxml.sklearn import LogisticRegression

    n, d = max(int(100_000 * size), 200), 100
    X, y = _logistic_data(n, d) if classes == 2 else _multiclass_data(n, d, classes)
    X = X.astype(dtype)
    kwargs = {} if tol is None else {"C": 1.0, "tol": tol}
    ref_s, ref = time_reference(lambda: SkLogisticRegression(**kwargs).fit(X, y))
    compile_s, jax_s, ours = time_jax(lambda: LogisticRegression(**kwargs).fit(X, y))
    setting = "defaults" if tol is None else f"C=1, tol={tol:g}"
    return BenchResult(
        task=f"LogisticRegression({setting}).fit, {classes} classes, N={n} D={d} {np.dtype(dtype).name}",
        reference=f"sklearn LogisticRegression({setting}) (solver='lbfgs', scikit-learn's default)",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="objective (mean log-loss + ‖W‖²/(2CN))",
        jaxml_quality=_facade_objective(ours, X, y, 1.0),
        reference_quality=_facade_objective(ref, X, y, 1.0),
        goal=2.0,
        notes=f"iterations: jaxml {int(ours.n_iter_[0])} (L-BFGS, exact line search along the margins), "
        f"sklearn {int(ref.n_iter_[0])} (scipy L-BFGS-B)",
    )


def _register_facade(classes: int, dtype, tol):
    name = "logistic_{}_{}_{}".format(
        "binary" if classes == 2 else "softmax", np.dtype(dtype).name, "defaults" if tol is None else "tol1e-8"
    )

    @register(name, "classification")
    def entry(size: float) -> BenchResult:
        return _facade_entry(size, classes=classes, dtype=dtype, tol=tol)

    entry.__name__ = name
    entry.__doc__ = f"LogisticRegression facade vs scikit-learn: {name}."
    return entry


_FACADE_ENTRIES = [
    _register_facade(classes, dtype, tol)
    for classes in (2, 3)
    for dtype in (np.float64, np.float32)
    for tol in (None, 1e-8)
]


# ---- LogisticRegressionCV: 5 folds × 20 values of C


@register("logistic_cv", "classification")
def logistic_cv(size: float) -> BenchResult:
    """``LogisticRegressionCV(Cs=20, cv=5)`` (folds vmapped, the C path warm-started along a
    ``lax.scan``: one compiled call) vs scikit-learn's ``LogisticRegressionCV`` (the same folds,
    the same warm-started path, 5 × 20 scipy L-BFGS-B fits), both ‖∇L‖∞ ≤ 1e-6."""
    from sklearn.linear_model import LogisticRegressionCV as SkLogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    from jaxml.sklearn import LogisticRegressionCV

    n, d = max(int(20_000 * size), 100), 50
    X, y = _logistic_data(n, d, seed=1)
    kwargs = dict(Cs=np.logspace(-4, 2, 20), cv=StratifiedKFold(5), tol=1e-6, max_iter=1000,
                  scoring="accuracy", l1_ratios=(0.0,), use_legacy_attributes=False)
    ref_s, ref = time_reference(lambda: SkLogisticRegressionCV(**kwargs).fit(X, y), repeats=1)
    compile_s, jax_s, ours = time_jax(lambda: LogisticRegressionCV(**kwargs).fit(X, y), repeats=3)
    ours_scores, ref_scores = ours.scores_.mean(axis=0)[0], ref.scores_.mean(axis=0)[0]
    return BenchResult(
        task=f"LogisticRegressionCV(Cs=20, cv=5).fit, binary N={n} D={d} float64",
        reference="sklearn LogisticRegressionCV (solver='lbfgs', its default; n_jobs=None)",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="best mean CV accuracy",
        jaxml_quality=float(ours_scores.max()),
        reference_quality=float(ref_scores.max()),
        goal=3.0,
        notes=f"selected C: jaxml {ours.C_:.3g}, sklearn {ref.C_:.3g}; max |score difference| over the grid "
        f"{np.max(np.abs(ours.scores_ - ref.scores_)):.1e}",
    )


__all__ = ["logistic_cv", "logistic_lbfgs", "logistic_newton"]
