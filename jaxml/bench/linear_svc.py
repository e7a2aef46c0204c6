"""Benchmark entries for the linear SVM (``LinearSVC``) — jaxml against liblinear on the same data
in the same process."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference
from jaxml.kernels import svm_dual_fit, svm_primal_objective


@register("svm_dual", "kernels")
def svm_dual(size: float) -> BenchResult:
    """Linear SVM, N=20000·size, D=32 (float64): dual coordinate ascent vs liblinear."""
    from sklearn.svm import LinearSVC

    n, d = max(int(20_000 * size), 100), 32
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = np.where(X @ w_true + 2.0 * rng.standard_normal(n) > 0, 1.0, -1.0)
    lam = 1e-3
    tol = 1e-5

    def reference():
        return LinearSVC(loss="hinge", C=1 / (n * lam), fit_intercept=False, dual=True, tol=1e-4,
                         max_iter=1000).fit(X, y)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_s, ref = time_reference(reference)
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        key = jax.random.key(0)

        def run(Xj, yj):
            return svm_dual_fit(key, Xj, yj, lam, tol=tol, max_epochs=1000)

        compile_s, jax_s, result = time_jax(run, Xj, yj)
        ours = float(svm_primal_objective(result.w, Xj, yj, lam))
        theirs = float(svm_primal_objective(jnp.asarray(ref.coef_[0]), Xj, yj, lam))
        epochs, gap = int(result.num_epochs), float(result.gap[int(result.num_epochs) - 1])
    return BenchResult(
        task=f"linear SVM (hinge) N={n} D={d} λ={lam:g} float64",
        reference='sklearn LinearSVC(loss="hinge", C=1/(Nλ), fit_intercept=False, dual=True)',
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="primal objective (λ/2)‖w‖²+mean hinge",
        jaxml_quality=ours,
        reference_quality=theirs,
        goal=None,
        notes=f"jaxml: {epochs} epochs of random-order coordinate ascent, stopped at duality gap "
        f"{gap:.1e} ≤ {tol:g}; liblinear: default tol 1e-4, {ref.n_iter_} iterations (with shrinking).",
    )


__all__: list[str] = []
