"""Gaussian mixtures: scikit-learn agreement, monotone EM, the ELBO identity, the M-step optimum,
degenerate data without NaN, bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from jaxml.unsupervised import (
    COVARIANCE_TYPES,
    GMMParams,
    covariances_from_precisions,
    gmm_e_step,
    gmm_elbo,
    gmm_fit,
    gmm_init,
    gmm_init_state,
    gmm_kl_to_posterior,
    gmm_m_step,
    gmm_predict,
    gmm_predict_proba,
    gmm_restarts,
    gmm_sample,
    gmm_score_samples,
    gmm_step,
    kmeans_fit,
    kmeans_plusplus,
    precision_cholesky,
    precisions_from_cholesky,
)


def mixture_data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X[: n // 3] += 4.0
    X[n // 3 : 2 * n // 3] *= np.array([1.0, 3.0, 0.5])
    return X


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_matches_sklearn_from_same_init(x64, key, covariance_type):
    X = mixture_data()
    p0 = gmm_init(key, X, 3, covariance_type=covariance_type, method="random_from_data")
    precisions = np.asarray(precisions_from_cholesky(precision_cholesky(p0.covariances, covariance_type),
                                                     covariance_type))
    ref = GaussianMixture(3, covariance_type=covariance_type, weights_init=np.asarray(p0.weights),
                          means_init=np.asarray(p0.means), precisions_init=precisions, tol=1e-8,
                          max_iter=300).fit(X)
    ours = gmm_fit(X, p0, covariance_type=covariance_type, tol=1e-8, max_iter=300)
    assert int(ours.n_iter) == ref.n_iter_ and bool(ours.converged) == ref.converged_
    np.testing.assert_allclose(float(ours.lower_bound), ref.lower_bound_, rtol=1e-6)
    hist = np.asarray(ours.log_likelihood_history)[: int(ours.n_iter)]
    np.testing.assert_allclose(hist, ref.lower_bounds_, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(ours.params.weights), ref.weights_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.asarray(ours.params.means), ref.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(ours.params.covariances), ref.covariances_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(ours.precisions_cholesky), ref.precisions_cholesky_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(gmm_score_samples(ours.params, X, covariance_type)),
                               ref.score_samples(X), rtol=1e-8)
    np.testing.assert_allclose(np.asarray(gmm_predict_proba(ours.params, X, covariance_type)),
                               ref.predict_proba(X), atol=1e-7)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_soft_em_never_decreases_log_likelihood(x64, key, covariance_type):
    X = mixture_data(1)
    p0 = gmm_init(key, X, 4, covariance_type=covariance_type, method="random_from_data")
    res = gmm_fit(X, p0, covariance_type=covariance_type, tol=0.0, max_iter=60)
    hist = np.asarray(res.log_likelihood_history)
    assert int(res.n_iter) == 60 and np.all(np.isfinite(hist))
    assert np.all(np.diff(hist) >= -1e-10 * np.abs(hist[:-1]))
    assert hist[-1] > hist[0] + 0.1
    np.testing.assert_allclose(np.asarray(res.elbo_history), hist, rtol=1e-14)


def test_hard_em_monotone_objective_and_one_hot_step(x64, key):
    X = mixture_data(2)
    p0 = gmm_init(key, X, 3, method="random")
    res = gmm_fit(X, p0, hard=True, tol=0.0, max_iter=30)
    elbo = np.asarray(res.elbo_history)
    assert np.all(np.diff(elbo) >= -1e-10 * np.abs(elbo[:-1]))
    # the hard objective is below the log-likelihood (it drops the entropy-free mass)
    assert np.all(elbo <= np.asarray(res.log_likelihood_history) + 1e-12)
    # one hard step = M-step on the one-hot argmax responsibilities
    state, info = gmm_step(gmm_init_state(p0), jnp.asarray(X), 1e-6, 0.0, hard=True)
    log_resp, ll = gmm_e_step(p0, X)
    one_hot = jax.nn.one_hot(jnp.argmax(log_resp, axis=1), 3, dtype=X.dtype)
    manual = gmm_m_step(X, one_hot, 1e-6)
    np.testing.assert_allclose(np.asarray(state.params.means), np.asarray(manual.means), rtol=1e-12)
    np.testing.assert_allclose(float(info.log_likelihood), float(ll), rtol=1e-12)
    np.testing.assert_allclose(float(info.elbo), float(gmm_elbo(p0, X, one_hot)), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_elbo_is_log_likelihood_minus_kl(x64, key, covariance_type):
    X = mixture_data(3, n=120)
    params = gmm_init(key, X, 3, covariance_type=covariance_type, method="random")
    log_resp, ll = gmm_e_step(params, X, covariance_type)
    # right after the E-step the bound is tight
    np.testing.assert_allclose(float(gmm_elbo(params, X, jnp.exp(log_resp), covariance_type)), float(ll),
                               rtol=1e-12)
    # for any q: ELBO = ℓ − KL(q ‖ p(z|x)), and KL > 0
    q = jax.nn.softmax(jax.random.normal(jax.random.key(5), (X.shape[0], 3)), axis=1)
    elbo = float(gmm_elbo(params, X, q, covariance_type))
    kl = float(gmm_kl_to_posterior(params, X, q, covariance_type))
    assert kl > 1e-3
    np.testing.assert_allclose(elbo, float(ll) - kl, rtol=1e-12)
    # the log-likelihood equals a brute-force mixture density
    from scipy.stats import multivariate_normal

    p = np.asarray(params.weights)
    covs = np.asarray(params.covariances)
    full = {"full": covs, "tied": np.broadcast_to(covs, (3, 3, 3)),
            "diag": np.stack([np.diag(c) for c in covs]) if covs.ndim == 2 else None,
            "spherical": covs[:, None, None] * np.eye(3)[None] if covs.ndim == 1 else None}[covariance_type]
    dens = sum(p[k] * multivariate_normal(np.asarray(params.means)[k], full[k]).pdf(X) for k in range(3))
    np.testing.assert_allclose(float(ll), np.mean(np.log(dens)), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_m_step_zeroes_the_elbo_gradient(x64, key, covariance_type):
    """The closed-form M-step is a stationary point of the ELBO in (logits of π, μ, Σ)."""
    X = mixture_data(4, n=90)
    q = jax.nn.softmax(jax.random.normal(key, (X.shape[0], 3)), axis=1)
    params = gmm_m_step(X, q, 0.0, covariance_type)  # reg_covar = 0: the exact maximizer

    def elbo(logits, means, covariances):
        w = jax.nn.softmax(logits)
        return gmm_elbo(GMMParams(w, means, covariances), X, q, covariance_type)

    grads = jax.grad(elbo, argnums=(0, 1, 2))(jnp.log(params.weights), params.means, params.covariances)
    for g in grads:
        assert float(jnp.max(jnp.abs(g))) < 1e-9
    # and it is a maximum: moving the means lowers the ELBO
    assert float(elbo(jnp.log(params.weights), params.means + 0.05, params.covariances)) < float(
        elbo(jnp.log(params.weights), params.means, params.covariances))


def test_log_space_e_step_far_points(x64):
    X = np.array([[0.0, 0.0], [1e3, -1e3], [5e2, 2e3]])
    params = GMMParams(jnp.array([0.5, 0.5]), jnp.array([[0.0, 0.0], [1.0, 1.0]]),
                       jnp.broadcast_to(jnp.eye(2) * 1e-2, (2, 2, 2)))
    log_resp, ll = gmm_e_step(params, X)
    resp = np.exp(np.asarray(log_resp))
    assert np.all(np.isfinite(np.asarray(log_resp))) and np.isfinite(float(ll))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(("dtype", "hard"), [(np.float32, False), (np.float32, True), (np.float64, False)])
def test_degenerate_data_gives_no_nan(covariance_type, dtype, hard):
    with jax.enable_x64(dtype == np.float64):
        rng = np.random.default_rng(0)
        # 2 distinct points repeated, K = 3; and 6 points in D = 10 (D > points per component)
        duplicates = np.repeat(rng.normal(size=(2, 10)), 3, axis=0).astype(dtype)
        wide = (rng.normal(size=(6, 10)) * 10.0).astype(dtype)
        for X, reg in [(duplicates, 1e-6), (duplicates, 0.0), (wide, 0.0), (wide, 1e-6)]:
            # one-hot initial responsibilities: covariances start singular when reg_covar = 0
            p0 = gmm_init(jax.random.key(0), X, 3, covariance_type=covariance_type, method="random_from_data",
                          reg_covar=reg)
            res = gmm_fit(X, p0, covariance_type=covariance_type, hard=hard, reg_covar=reg, max_iter=20)
            n = int(res.n_iter)
            for leaf in (*res.params, res.precisions_cholesky, res.lower_bound, res.log_likelihood_history[:n]):
                assert not np.any(np.isnan(np.asarray(leaf)))
            assert np.isfinite(float(res.lower_bound))


def test_one_point_components_no_nan(x64):
    X = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    p0 = GMMParams(jnp.full(3, 1 / 3), jnp.asarray(X), jnp.broadcast_to(jnp.eye(2), (3, 2, 2)))
    res = gmm_fit(X, p0, reg_covar=1e-6, max_iter=10)
    np.testing.assert_allclose(np.asarray(res.params.means), X, atol=1e-6)
    assert np.all(np.isfinite(np.asarray(res.params.covariances)))
    assert np.all(np.isfinite(np.asarray(res.precisions_cholesky)))


def test_kmeans_init_uses_cluster_means(x64, key):
    X = mixture_data(5)
    params = gmm_init(key, X, 3, method="kmeans")
    centers = kmeans_plusplus(key, X, 3, num_local_trials=2 + int(np.log(3)))[0]
    km = kmeans_fit(X, centers, tol=1e-4 * np.mean(np.var(X, axis=0)))
    labels = np.asarray(km.labels)
    means = np.stack([X[labels == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(np.asarray(params.means), means, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(params.weights), np.bincount(labels) / len(X), rtol=1e-10)


def test_restarts_keep_best_and_equal_loop(x64, key):
    X = mixture_data(6)
    best, bounds = gmm_restarts(key, X, 3, n_init=3, method="random", tol=1e-6)
    loop = []
    for k in jax.random.split(key, 3):
        p0 = gmm_init(k, X, 3, method="random")
        loop.append(float(gmm_fit(X, p0, tol=1e-6).lower_bound))
    np.testing.assert_allclose(np.asarray(bounds), loop, rtol=1e-10)
    assert float(best.lower_bound) == pytest.approx(max(loop), rel=1e-12)


def test_vmap_over_reg_covar_equals_loop(x64, key):
    X = mixture_data(7, n=150)
    p0 = gmm_init(key, X, 2, method="random")
    regs = jnp.asarray([1e-6, 1e-1, 1.0])
    batched = jax.vmap(lambda r: gmm_fit(X, p0, reg_covar=r, tol=1e-6).lower_bound)(regs)
    loop = [float(gmm_fit(X, p0, reg_covar=float(r), tol=1e-6).lower_bound) for r in regs]
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-10)
    assert loop[0] > loop[2]


def test_jit_equals_eager_and_no_recompilation(x64, key):
    X = mixture_data(8, n=60)
    p0 = gmm_init(key, X, 2, method="random")
    jitted = gmm_fit(X, p0, max_iter=5, tol=0.0)
    with jax.disable_jit():
        eager = gmm_fit(X, p0, max_iter=5, tol=0.0)
    np.testing.assert_allclose(np.asarray(eager.params.covariances), np.asarray(jitted.params.covariances),
                               rtol=1e-10)
    # reg_covar and tol are traced: one trace serves every value, and the answers are those of
    # the public eager-dispatched calls
    fit = jax.jit(chex.assert_max_traces(
        lambda X, reg, tol: gmm_fit(X, p0, max_iter=50, tol=tol, reg_covar=reg), n=1))
    runs = {(1e-6, 0.0): fit(X, 1e-6, 0.0), (0.5, 1e-2): fit(X, 0.5, 1e-2)}
    assert int(runs[0.5, 1e-2].n_iter) < int(runs[1e-6, 0.0].n_iter)
    for (reg, tol), run in runs.items():
        direct = gmm_fit(X, p0, max_iter=50, tol=tol, reg_covar=reg)
        np.testing.assert_allclose(np.asarray(run.params.covariances), np.asarray(direct.params.covariances),
                                   rtol=1e-9)
        assert int(run.n_iter) == int(direct.n_iter)


def test_precision_helpers_and_sampling(x64, key):
    X = mixture_data(9)
    params = gmm_fit(X, gmm_init(key, X, 3), tol=1e-6).params
    u = np.asarray(precision_cholesky(params.covariances, "full"))
    eye = np.einsum("kij,kjl,klm->kim", np.swapaxes(u, 1, 2), np.asarray(params.covariances), u)
    np.testing.assert_allclose(eye, np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-10)
    precisions = precisions_from_cholesky(u, "full")
    np.testing.assert_allclose(np.asarray(covariances_from_precisions(precisions, "full")),
                               np.asarray(params.covariances), rtol=1e-10)
    x, z = gmm_sample(key, params, 20000)
    np.testing.assert_allclose(np.bincount(np.asarray(z), minlength=3) / 20000, np.asarray(params.weights),
                               atol=0.015)
    np.testing.assert_allclose(np.asarray(x).mean(0), np.asarray(params.weights) @ np.asarray(params.means),
                               atol=0.06)
    labels = np.asarray(gmm_predict(params, X))
    assert labels.dtype == np.int32 and set(labels.tolist()) <= {0, 1, 2}


def test_float32(key):
    X = mixture_data(10).astype(np.float32)
    p0 = gmm_init(key, X, 3)
    res = gmm_fit(X, p0, tol=1e-4)
    assert res.params.means.dtype == jnp.float32
    weights = np.asarray(p0.weights, np.float64)
    precisions = np.linalg.inv(np.asarray(p0.covariances, np.float64))
    ref = GaussianMixture(3, weights_init=weights / weights.sum(), means_init=np.asarray(p0.means, np.float64),
                          precisions_init=precisions, tol=1e-4).fit(X.astype(np.float64))
    assert int(res.n_iter) == ref.n_iter_
    np.testing.assert_allclose(float(res.lower_bound), ref.lower_bound_, rtol=1e-3)


def test_bad_input(key):
    X = mixture_data(11, n=12)
    p0 = gmm_init(key, X, 2)
    with pytest.raises(ValueError, match="n_components"):
        gmm_init(key, X, 13)
    with pytest.raises(ValueError, match="n_components"):
        gmm_init(key, X, 0)
    with pytest.raises(ValueError, match="covariance_type"):
        gmm_fit(X, p0, covariance_type="banded")
    with pytest.raises(ValueError, match="covariance_type"):
        gmm_init(key, X, 2, covariance_type="banded")
    with pytest.raises(ValueError, match="reg_covar"):
        gmm_fit(X, p0, reg_covar=-1e-3)
    with pytest.raises(ValueError, match="tol"):
        gmm_fit(X, p0, tol=-1.0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains"):
        gmm_fit(bad, p0)
    with pytest.raises(ValueError, match="init_params.covariances"):
        gmm_fit(X, p0, covariance_type="diag")
    with pytest.raises(ValueError, match="init_params.weights"):
        gmm_fit(X, p0._replace(weights=jnp.array([0.9, 0.3])))
    with pytest.raises(ValueError, match="positive semi-definite"):
        gmm_fit(X, p0._replace(covariances=-p0.covariances))
    with pytest.raises(ValueError, match="method"):
        gmm_init(key, X, 2, method="spectral")
