"""Benchmark: ALS matrix factorization against a numpy/scipy ALS (SYLLABUS 6).

The reference is the straightforward ALS a numpy user writes: the observed entries in
``scipy.sparse`` CSR (and the transpose's CSR for the columns), and for every row a Gram
product over its observed entries and a ``numpy.linalg.solve`` of the K×K ridge system.
Both start from the same initial factors, run the same number of sweeps with the same λ' and
are compared on the training RMSE they reach.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, register, time_jax, time_reference


def numpy_ridge_side(csr, other: np.ndarray, lam_prime: float) -> np.ndarray:
    """Solve (V_{Ω_d}ᵀ V_{Ω_d} + λ' I) u_d = V_{Ω_d}ᵀ x_{Ω_d} for every row d of ``csr``.

    A row with no observed entry keeps u_d = 0.
    """
    rank = other.shape[1]
    out = np.zeros((csr.shape[0], rank), other.dtype)
    ridge = lam_prime * np.eye(rank, dtype=other.dtype)
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    for d in range(csr.shape[0]):
        start, stop = indptr[d], indptr[d + 1]
        if start == stop:
            continue
        block = other[indices[start:stop]]
        out[d] = np.linalg.solve(block.T @ block + ridge, block.T @ data[start:stop])
    return out


def numpy_als(csr_rows, csr_cols, Z: np.ndarray, lam_prime: float, num_sweeps: int):
    """``num_sweeps`` ALS sweeps (W given Z, then Z given W); returns (W, Z)."""
    W = None
    for _ in range(num_sweeps):
        W = numpy_ridge_side(csr_rows, Z, lam_prime)
        Z = numpy_ridge_side(csr_cols, W, lam_prime)
    return W, Z


@register("als", "unsupervised")
def bench_als(size: float) -> BenchResult:
    """ALS, 10 000 × 2 000 ratings with 1% observed, K = 32, 5 sweeps (``size`` scales D)."""
    import scipy.sparse as sp

    from jaxml.unsupervised import Factors, make_als_data, make_low_rank_ratings, mf_als, mf_als_init, mf_rmse

    num_rows, num_cols, rank, num_sweeps = max(int(10_000 * size), 100), 2_000, 32, 5
    key = jax.random.key(0)
    problem = make_low_rank_ratings(key, num_rows, num_cols, 8, noise=0.1, observed=0.01)
    ratings = problem.ratings
    m = int(ratings.values.shape[0])
    lam_prime = 1.0
    lam = lam_prime / m
    data = make_als_data(ratings, (num_rows, num_cols))
    dual_buckets = sum(bucket.index.shape[1] < rank for bucket in data.row_buckets)
    init = mf_als_init(jax.random.fold_in(key, 1), data, rank)

    run = jax.jit(lambda f, d, lam: mf_als(f, d, lam, num_sweeps=num_sweeps).factors)
    compile_s, jax_s, factors = time_jax(run, init, data, jnp.asarray(lam, jnp.float32), repeats=3)

    rows, cols = np.asarray(ratings.rows), np.asarray(ratings.cols)
    values = np.asarray(ratings.values)
    csr_rows = sp.csr_matrix((values, (rows, cols)), shape=(num_rows, num_cols))
    csr_cols = csr_rows.T.tocsr()
    z0 = np.asarray(init.Z)
    ref_s, (w_ref, z_ref) = time_reference(numpy_als, csr_rows, csr_cols, z0, lam_prime, num_sweeps, repeats=3)

    ref_rmse = float(mf_rmse(Factors(jnp.asarray(w_ref), jnp.asarray(z_ref)), ratings))
    jax_rmse = float(mf_rmse(factors, ratings))
    return BenchResult(
        task=f"ALS {num_rows}×{num_cols}, {m} observed (1%), K={rank}, {num_sweeps} sweeps, float32",
        reference="numpy/scipy.sparse ALS (per-row numpy.linalg.solve)",
        jaxml_s=jax_s,
        reference_s=ref_s,
        compile_s=compile_s,
        quality_name="train RMSE",
        jaxml_quality=jax_rmse,
        reference_quality=ref_rmse,
        goal=5.0,
        notes="same initial Z, λ' = |Ω|λ = 1; rows bucketed by count (padded lengths ×1.1 apart); "
        f"{dual_buckets} of {len(data.row_buckets)} row buckets have fewer entries than K and solve "
        "the L×L dual system, the rest one batched K×K Cholesky",
    )


__all__ = ["bench_als", "numpy_als", "numpy_ridge_side"]
