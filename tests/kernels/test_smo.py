"""SMO (libsvm's C-SVC dual with an unregularized intercept) against libsvm on the same Gram matrix."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf
from sklearn.svm import SVC

from jaxml.kernels import (
    as_kernel,
    rbf_kernel,
    smo_dual_objective,
    smo_polish,
    smo_rho,
    smo_solve_gram,
    smo_solve_kernel,
    smo_violation,
)


@pytest.fixture(scope="module")
def problem():
    X, labels = make_moons(120, noise=0.25, random_state=3)
    y = np.where(labels == 0, 1.0, -1.0)  # libsvm: the first class is +1
    return X, labels, y, sk_rbf(X, X, gamma=0.7)


def _libsvm(K, labels, C, tol):
    ref = SVC(kernel="precomputed", C=C, tol=tol).fit(K, labels)
    alpha = np.zeros(len(labels))
    alpha[ref.support_] = np.abs(ref.dual_coef_[0])
    return alpha, ref.intercept_[0], ref  # binary: scikit-learn flips libsvm's ρ to intercept_ = ρ


def test_smo_matches_libsvm(problem):
    X, labels, y, K = problem
    C = 2.0
    with jax.enable_x64(True):
        result = smo_solve_gram(jnp.asarray(K), jnp.asarray(y), jnp.full(len(y), C), 1e-9)
        alpha = np.asarray(result.alpha)
        objective = float(smo_dual_objective(result.alpha, jnp.asarray(K), jnp.asarray(y)))
    alpha_ref, rho_ref, ref = _libsvm(K, labels, C, 1e-9)
    assert bool(result.converged)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-5 * C)
    np.testing.assert_array_equal(np.flatnonzero(alpha), np.flatnonzero(alpha_ref))
    np.testing.assert_allclose(float(result.rho), rho_ref, rtol=1e-5)
    # feasibility and the objective reported by the solver
    assert np.all((alpha >= 0) & (alpha <= C))
    assert abs(y @ alpha) < 1e-12 * len(y)
    np.testing.assert_allclose(float(result.objective), objective, rtol=1e-10)
    # the iteration count follows libsvm's path (same working sets up to floating-point ties); at
    # tol 1e-9 the last iterations pick among near-tied violators, so the counts drift with the
    # CPU's rounding (252 vs libsvm's 228 on one machine, within 10% on another)
    assert abs(int(result.num_iter) - int(ref.n_iter_[0])) <= 0.15 * ref.n_iter_[0]


def test_kernel_rows_on_demand_equal_the_gram_matrix(problem):
    X, _, y, K = problem
    with jax.enable_x64(True):
        kernel = as_kernel(rbf_kernel, gamma=0.7)
        args = (jnp.asarray(y), jnp.full(len(y), 1.0), 1e-10)
        by_gram = smo_solve_gram(kernel(jnp.asarray(X), jnp.asarray(X)), *args)
        by_rows = smo_solve_kernel(kernel, jnp.asarray(X), *args)
    np.testing.assert_allclose(by_rows.alpha, by_gram.alpha, atol=1e-8)
    np.testing.assert_allclose(float(by_rows.rho), float(by_gram.rho), rtol=1e-8)


def test_stopping_rule_and_max_iter(problem):
    _, _, y, K = problem
    with jax.enable_x64(True):
        Kj, yj, Cj = jnp.asarray(K), jnp.asarray(y), jnp.full(len(y), 1.0)
        loose = smo_solve_gram(Kj, yj, Cj, 1e-1)
        tight = smo_solve_gram(Kj, yj, Cj, 1e-8)
        capped = smo_solve_gram(Kj, yj, Cj, 1e-8, 3)
        v_loose = float(smo_violation(loose.alpha, loose.gradient, yj, Cj))
        v_tight = float(smo_violation(tight.alpha, tight.gradient, yj, Cj))
    assert v_loose < 1e-1 and v_tight < 1e-8 and int(loose.num_iter) < int(tight.num_iter)
    assert int(capped.num_iter) == 3 and not bool(capped.converged)
    assert float(tight.objective) <= float(loose.objective)


def test_padding_rows_are_ignored(problem):
    X, _, y, K = problem
    n, pad = len(y), 13
    Kp = np.zeros((n + pad, n + pad))
    Kp[:n, :n] = K
    Kp[n:, n:] = np.eye(pad)
    yp = np.concatenate([y, np.ones(pad)])
    Cp = np.concatenate([np.full(n, 1.0), np.full(pad, 5.0)])  # padding C must not matter
    valid = np.arange(n + pad) < n
    with jax.enable_x64(True):
        plain = smo_solve_gram(jnp.asarray(K), jnp.asarray(y), jnp.full(n, 1.0), 1e-8)
        padded = smo_solve_gram(jnp.asarray(Kp), jnp.asarray(yp), jnp.asarray(Cp), 1e-8, valid=jnp.asarray(valid))
    np.testing.assert_allclose(padded.alpha[:n], plain.alpha, atol=1e-12)
    assert np.all(np.asarray(padded.alpha[n:]) == 0)
    np.testing.assert_allclose(float(padded.rho), float(plain.rho), rtol=1e-12)


def test_rho_without_free_variables_is_the_midpoint(problem):
    """C so small that every α sits at a bound: ρ = (ub + lb)/2, as libsvm."""
    _, labels, y, K = problem
    C = 1e-3
    with jax.enable_x64(True):
        result = smo_solve_gram(jnp.asarray(K), jnp.asarray(y), jnp.full(len(y), C), 1e-10)
        alpha = np.asarray(result.alpha)
        rho = float(smo_rho(result.alpha, result.gradient, jnp.asarray(y), jnp.full(len(y), C)))
    assert not np.any((alpha > 0) & (alpha < C))
    _, rho_ref, _ = _libsvm(K, labels, C, 1e-10)
    np.testing.assert_allclose(rho, rho_ref, rtol=1e-6)
    yg = y * np.asarray(result.gradient)
    upper = alpha >= C
    ub = np.min(yg[(upper & (y < 0)) | (~upper & (y > 0))])
    lb = np.max(yg[(upper & (y > 0)) | (~upper & (y < 0))])
    np.testing.assert_allclose(rho, 0.5 * (ub + lb), rtol=1e-12)


def test_polish_reaches_the_exact_optimum_of_the_face(problem):
    _, _, y, K = problem
    with jax.enable_x64(True):
        Kj, yj, Cj = jnp.asarray(K), jnp.asarray(y), jnp.full(len(y), 1.0)
        rough = smo_solve_gram(Kj, yj, Cj, 1e-2)
        polished = smo_polish(rough, lambda idx: Kj[:, idx], yj, Cj, size=len(y), tol=1e-2)
        exact = smo_solve_gram(Kj, yj, Cj, 1e-12)
        v_rough = float(smo_violation(rough.alpha, rough.gradient, yj, Cj))
        v_polished = float(smo_violation(polished.alpha, polished.gradient, yj, Cj))
    assert v_polished <= max(v_rough, 1e-2)
    assert float(polished.objective) <= float(rough.objective)
    # exact G: the gradient kept by the polish equals Qα − e recomputed
    Q = (y[:, None] * y[None, :]) * K
    np.testing.assert_allclose(polished.gradient, Q @ np.asarray(polished.alpha) - 1.0, atol=1e-9)
    if v_polished < 1e-9:  # the face was the optimal one: libsvm's optimum to rounding
        np.testing.assert_allclose(polished.alpha, exact.alpha, atol=1e-8)
