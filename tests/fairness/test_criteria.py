"""Fairness criteria: fairlearn / brute-force references, relaxations, penalties, impossibility."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from jax.test_util import check_grads

from jaxml.core.train import fit
from jaxml.fairness import (
    calibration_tradeoff,
    encode_groups,
    fair_logistic_features,
    fair_logistic_loss,
    fair_penalty_weights,
    independence,
    make_fair_batch,
    make_planted_bias,
    separation,
    soft_independence_gap,
    soft_separation_gap,
    sufficiency,
)
from jaxml.fairness import criteria as C

LABELS = np.array(["b", "a", "c"])


def _random_predictions(seed, n=600, bias=(0.3, 0.5, 0.7)):
    """Labels 'a'/'b'/'c' with group-dependent acceptance, so the gaps are far from 0."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 3, n)
    y_true = rng.integers(0, 2, n)
    y_pred = (rng.uniform(size=n) < np.asarray(bias)[codes] + 0.2 * y_true).astype(np.int32)
    return LABELS[codes], y_true, y_pred


def _brute_sufficiency(y, s, codes, num_groups, n_bins):
    """Loops over groups and bins: the definition, written independently."""
    rate = np.zeros((num_groups, n_bins))
    mean = np.zeros((num_groups, n_bins))
    count = np.zeros((num_groups, n_bins), np.int64)
    for a in range(num_groups):
        for b in range(n_bins):
            idx = [
                i for i in range(len(s))
                if codes[i] == a and min(int(np.floor(s[i] * n_bins)), n_bins - 1) == b
            ]
            count[a, b] = len(idx)
            if idx:
                rate[a, b] = np.mean(y[idx])
                mean[a, b] = np.mean(s[idx])
    num, den = 0.0, 0.0
    gaps = np.zeros(n_bins)
    for b in range(n_bins):
        present = [a for a in range(num_groups) if count[a, b] > 0]
        if len(present) >= 2:
            vals = [rate[a, b] for a in present]
            gaps[b] = max(vals) - min(vals)
            num += count[:, b].sum() * gaps[b]
            den += count[:, b].sum()
    ece = [
        sum(count[a, b] * abs(rate[a, b] - mean[a, b]) for b in range(n_bins)) / count[a].sum()
        for a in range(num_groups)
    ]
    return rate, mean, count, gaps, (num / den if den else 0.0), np.asarray(ece)


# ------------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_independence_equals_fairlearn(seed):
    group, y_true, y_pred = _random_predictions(seed)
    res = independence(y_pred, group)
    ref_diff = demographic_parity_difference(y_true, y_pred, sensitive_features=group)
    ref_ratio = demographic_parity_ratio(y_true, y_pred, sensitive_features=group)
    assert ref_diff > 0.2  # the planted bias makes the check meaningful
    np.testing.assert_allclose(float(res.difference), ref_diff, rtol=1e-6)
    np.testing.assert_allclose(float(res.ratio), ref_ratio, rtol=1e-6)
    # per-group rates in sorted-label order ('a', 'b', 'c')
    for k, label in enumerate(["a", "b", "c"]):
        np.testing.assert_allclose(res.acceptance_rate[k], y_pred[group == label].mean(), rtol=1e-6)
        assert int(res.group_size[k]) == int(np.sum(group == label))


@pytest.mark.parametrize("seed", [0, 1])
def test_separation_equals_fairlearn(seed):
    group, y_true, y_pred = _random_predictions(seed)
    res = separation(y_true, y_pred, group)
    ref = equalized_odds_difference(y_true, y_pred, sensitive_features=group)
    np.testing.assert_allclose(float(res.difference), ref, rtol=1e-6)
    np.testing.assert_allclose(
        float(res.ratio), equalized_odds_ratio(y_true, y_pred, sensitive_features=group), rtol=1e-6
    )
    for k, label in enumerate(["a", "b", "c"]):
        m = group == label
        np.testing.assert_allclose(res.tpr[k], y_pred[m & (y_true == 1)].mean(), rtol=1e-6)
        np.testing.assert_allclose(res.fpr[k], y_pred[m & (y_true == 0)].mean(), rtol=1e-6)
    np.testing.assert_allclose(
        float(res.difference), max(float(res.tpr_difference), float(res.fpr_difference))
    )


def test_codes_path_equals_labels_path():
    group, y_true, y_pred = _random_predictions(3)
    codes, labels = encode_groups(group)
    assert labels.tolist() == ["a", "b", "c"]
    a = separation(y_true, y_pred, group)
    b = separation(y_true, y_pred, codes, num_groups=3)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("n_bins", [1, 7, 10])
def test_sufficiency_equals_brute_force(x64, n_bins):
    rng = np.random.default_rng(0)
    n = 400
    codes = rng.integers(0, 3, n)
    scores = rng.uniform(size=n)
    # group 2 only occupies [0, 0.3) and group 1 [0.5, 1]: bins 3 and 4 (of 10) hold group 0
    # alone and must not count in the weighted gap
    scores[codes == 2] *= 0.3
    scores[codes == 1] = 0.5 + 0.5 * scores[codes == 1]
    scores[:3] = [0.0, 1.0, 0.5]  # edges: 1.0 goes to the last bin
    y = (rng.uniform(size=n) < scores ** (1 + codes)).astype(np.int64)
    res = sufficiency(y, scores, codes, n_bins=n_bins, num_groups=3)
    rate, mean, count, gaps, diff, ece = _brute_sufficiency(y, scores, codes, 3, n_bins)
    np.testing.assert_array_equal(np.asarray(res.count), count)
    np.testing.assert_allclose(res.positive_rate, rate, rtol=1e-12)
    np.testing.assert_allclose(res.mean_score, mean, rtol=1e-12)
    np.testing.assert_allclose(res.bin_gap, gaps, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(float(res.difference), diff, rtol=1e-12)
    np.testing.assert_allclose(res.calibration_error, ece, rtol=1e-12)
    if n_bins == 10:
        assert count[:, 3:5].astype(bool).sum(axis=0).tolist() == [1, 1]  # group 0 alone
        all_bins = float(np.sum(count.sum(0) * gaps) / count.sum())
        assert diff > 0.05 and abs(diff - all_bins) > 1e-3  # weighting over all bins differs


def test_float32_and_float64_dtypes(x64):
    group, y_true, y_pred = _random_predictions(0)
    scores = np.random.default_rng(0).uniform(size=len(y_true))
    r64 = sufficiency(y_true, scores, group)
    r32 = sufficiency(y_true, scores.astype(np.float32), group)
    assert r64.positive_rate.dtype == jnp.float64 and r32.positive_rate.dtype == jnp.float32
    np.testing.assert_allclose(r32.difference, r64.difference, rtol=1e-5)
    assert independence(y_pred, group).acceptance_rate.dtype == jnp.float64


# ------------------------------------------------------------------------------------------------
# jit / vmap / compile cache
# ------------------------------------------------------------------------------------------------


def test_jit_equals_eager_and_vmap_over_thresholds():
    rng = np.random.default_rng(1)
    n = 500
    codes = jnp.asarray(rng.integers(0, 2, n))
    y = jnp.asarray(rng.integers(0, 2, n))
    scores = jnp.asarray(rng.uniform(size=n), jnp.float32)

    def gaps(t):
        decisions = scores >= t
        return (
            independence(decisions, codes, num_groups=2).difference,
            separation(y, decisions, codes, num_groups=2).difference,
        )

    thresholds = jnp.linspace(0.1, 0.9, 9)
    swept = jax.vmap(gaps)(thresholds)
    looped = [gaps(float(t)) for t in thresholds]
    jitted = jax.jit(gaps)(0.3)
    np.testing.assert_allclose(swept[0], [lp[0] for lp in looped], rtol=1e-5)
    np.testing.assert_allclose(swept[1], [lp[1] for lp in looped], rtol=1e-5)
    np.testing.assert_allclose(jitted, gaps(0.3), rtol=1e-5)

    suf = jax.jit(lambda s: sufficiency(y, s, codes, num_groups=2).difference)
    np.testing.assert_allclose(suf(scores), sufficiency(y, scores, codes).difference, rtol=1e-6)


def test_no_recompilation_on_second_call(monkeypatch):
    for name in ("_separation", "_independence"):
        body = chex.assert_max_traces(getattr(C, name).__wrapped__, n=1)
        monkeypatch.setattr(C, name, jax.jit(body, static_argnames="num_groups"))
    group, y_true, y_pred = _random_predictions(0)
    codes = encode_groups(group).codes
    separation(y_true, y_pred, codes, num_groups=3)
    independence(y_pred, codes, num_groups=3)
    group2, y_true2, y_pred2 = _random_predictions(1)
    codes2 = encode_groups(group2).codes
    r = separation(y_true2, y_pred2, codes2, num_groups=3)
    independence(y_pred2, codes2, num_groups=3)
    assert float(r.difference) == pytest.approx(
        equalized_odds_difference(y_true2, y_pred2, sensitive_features=group2), rel=1e-6
    )


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


def test_bad_input_raises():
    y = np.array([0, 1, 0, 1, 1, 0])
    g = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.9, 0.2, 0.8, 0.7, 0.4])
    with pytest.raises(ValueError, match="group has 5"):
        independence(y, g[:5])
    with pytest.raises(ValueError, match="y_pred must be binary"):
        independence(np.array([0, 2, 0, 1, 1, 0]), g)
    with pytest.raises(ValueError, match="y_pred must be binary"):
        separation(y, s, g)
    with pytest.raises(ValueError, match="y_true must be binary"):
        separation(s, y, g)
    with pytest.raises(ValueError, match="y_score contains 1 NaN"):
        sufficiency(y, np.where(np.arange(6) == 2, np.nan, s), g)
    with pytest.raises(ValueError, match="y_score must be probabilities"):
        sufficiency(y, s * 2, g)
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        sufficiency(y, s, g, n_bins=0)
    with pytest.raises(ValueError, match="group 2 has no members"):
        independence(y, g, num_groups=3)
    with pytest.raises(ValueError, match="group codes must lie in 0..0"):
        independence(y, g, num_groups=1)
    with pytest.raises(ValueError, match="group must hold integer codes"):
        independence(y, g.astype(float), num_groups=2)
    with pytest.raises(ValueError, match="group 'b' has no positives"):
        separation(np.array([0, 1, 0, 0, 0, 1]), y, np.array(list("aabbba")))
    with pytest.raises(ValueError, match="group 'a' has no negatives"):
        separation(np.array([1, 1, 0, 0, 1, 1]), y, np.array(list("aabbba")))
    with pytest.raises(ValueError, match="num_groups must be given"):
        jax.jit(lambda g_: independence(y, g_).difference)(g)
    with pytest.raises(ValueError, match="scores contains"):
        soft_independence_gap(np.full(6, np.nan), g)
    with pytest.raises(ValueError, match="mu_independence must be a finite number >= 0"):
        fair_penalty_weights(mu_independence=-1.0)
    with pytest.raises(ValueError, match="mu_separation must be a finite number >= 0"):
        fair_penalty_weights(mu_separation=np.nan)


# ------------------------------------------------------------------------------------------------
# Relaxations
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_soft_gaps_equal_hard_criteria_on_binary_scores(seed):
    group, y_true, y_pred = _random_predictions(seed)
    scores = y_pred.astype(np.float32)
    hard_i = float(independence(y_pred, group).difference)
    hard_s = float(separation(y_true, y_pred, group).difference)
    np.testing.assert_allclose(float(soft_independence_gap(scores, group)), hard_i, rtol=1e-6)
    np.testing.assert_allclose(float(soft_separation_gap(scores, y_true, group)), hard_s, rtol=1e-6)
    np.testing.assert_allclose(
        float(soft_independence_gap(scores, group, squared=True)), hard_i**2, rtol=1e-5
    )
    # and for fractional scores they are the gaps of the mean scores
    s = np.random.default_rng(seed).uniform(size=len(y_true))
    means = [s[group == lab].mean() for lab in ("a", "b", "c")]
    np.testing.assert_allclose(
        float(soft_independence_gap(s, group)), max(means) - min(means), atol=1e-6
    )


def test_soft_gap_gradients(x64):
    rng = np.random.default_rng(0)
    n = 60
    codes = jnp.asarray(rng.integers(0, 3, n))
    y = jnp.asarray(rng.integers(0, 2, n))
    logits = jnp.asarray(rng.normal(size=n))

    def penalty(t):
        r = jax.nn.sigmoid(t)
        return soft_independence_gap(r, codes, num_groups=3, squared=True) + soft_separation_gap(
            r, y, codes, num_groups=3, squared=True
        )

    check_grads(penalty, (logits,), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)
    # a gradient step on the independence gap reduces it
    gap = lambda t: soft_independence_gap(jax.nn.sigmoid(t), codes, num_groups=3)
    assert float(gap(logits - 0.5 * jax.grad(gap)(logits))) < float(gap(logits))


def test_soft_gap_ignores_groups_absent_from_a_traced_batch():
    scores = jnp.array([0.2, 0.4, 0.9, 0.7])
    codes = jnp.array([0, 0, 2, 2])  # group 1 absent (e.g. a minibatch)
    traced = jax.jit(lambda s, c: soft_independence_gap(s, c, num_groups=3))(scores, codes)
    np.testing.assert_allclose(float(traced), 0.8 - 0.3, rtol=1e-6)
    grad = jax.grad(lambda s, c: soft_independence_gap(s, c, num_groups=3))
    g = jax.jit(grad)(scores, codes)
    np.testing.assert_allclose(g, [-0.5, -0.5, 0.5, 0.5], rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# Training with a penalty through core.train.fit
# ------------------------------------------------------------------------------------------------

_TX = optax.adam(0.05)


def _train_and_measure(data, mu_i, mu_s, key):
    f_tr, y_tr, g_tr, f_te, y_te, g_te = data
    batch = make_fair_batch(f_tr, y_tr, g_tr)
    w0 = jnp.zeros((f_tr.shape[1],))
    res = fit(fair_logistic_loss(2), _TX, w0, batch, key=key, num_steps=600, has_aux=True,
              hparams=fair_penalty_weights(mu_independence=mu_i, mu_separation=mu_s))
    decisions = jax.nn.sigmoid(f_te @ res.state.params) >= 0.5
    return (
        float(independence(decisions, g_te, num_groups=2).difference),
        float(separation(y_te, decisions, g_te, num_groups=2).difference),
        res.history,
    )


def test_penalty_through_fit_reduces_hard_gaps(key):
    k_tr, k_te, k_fit = jax.random.split(key, 3)
    X, y_tr, g_tr = make_planted_bias(k_tr, 3000)
    f_tr = fair_logistic_features(X, g_tr, 2)
    X, y_te, g_te = make_planted_bias(k_te, 3000)
    data = (f_tr, y_tr, g_tr, fair_logistic_features(X, g_te, 2), y_te, g_te)
    ind0, sep0, hist0 = _train_and_measure(data, 0.0, 0.0, k_fit)
    ind1, _, hist1 = _train_and_measure(data, 5.0, 0.0, k_fit)
    _, sep2, _ = _train_and_measure(data, 0.0, 5.0, k_fit)
    assert ind0 > 0.25 and sep0 > 0.08  # the planted bias is visible without a penalty
    assert ind1 < 0.35 * ind0
    assert sep2 < 0.5 * sep0
    # the penalty term is what changed: the soft gap ends far lower than without it
    assert hist1["soft_independence_gap"][-1] < 0.2 * hist0["soft_independence_gap"][-1]


def test_fair_logistic_loss_gradient(x64, key):
    X, y, g = make_planted_bias(key, 200, dtype=jnp.float64)
    batch = make_fair_batch(fair_logistic_features(X, g, 2), y, g)
    mu = fair_penalty_weights(mu_independence=0.7, mu_separation=0.3, dtype=jnp.float64)
    w = 0.3 * jax.random.normal(key, (4,), jnp.float64)
    loss = fair_logistic_loss(2)
    check_grads(lambda w_: loss(w_, batch, hparams=mu)[0], (w,), order=1, modes=("rev",))
    # with μ = 0 (no hparams) it is the logistic loss of the course
    t = batch.x @ w
    expected = jnp.mean(jnp.logaddexp(0.0, t) - batch.y * t)
    np.testing.assert_allclose(float(loss(w, batch)[0]), float(expected), rtol=1e-12)
    value, aux = loss(w, batch, hparams=mu)
    penalized = expected + 0.7 * aux["soft_independence_gap"] + 0.3 * aux["soft_separation_gap"]
    np.testing.assert_allclose(float(value), float(penalized), rtol=1e-12)


def test_mu_sweep_reuses_one_program_and_matches_a_numpy_adam_loop(key):
    # μ_I and μ_S are fit's traced hparams: two different values trace the loss once, and the
    # result equals a plain numpy Adam loop on the same objective.
    X, y, g = make_planted_bias(key, 300)
    batch = make_fair_batch(fair_logistic_features(X, g, 2), y, g)
    counted = chex.assert_max_traces(fair_logistic_loss(2), n=1)
    w0 = jnp.zeros((batch.x.shape[1],))
    tx = optax.adam(0.05)
    for mu_i, mu_s in ((0.0, 0.0), (2.0, 0.5)):
        mu = fair_penalty_weights(mu_independence=mu_i, mu_separation=mu_s)
        res = fit(counted, tx, w0, batch, key=key, num_steps=5, has_aux=True, hparams=mu)
        expected = _numpy_adam(lambda w, mu=mu: fair_logistic_loss(2)(w, batch, hparams=mu)[0], w0, 5)
        np.testing.assert_allclose(res.state.params, expected, rtol=2e-5, atol=1e-6)


def _numpy_adam(loss, w, steps, lr=0.05, b1=0.9, b2=0.999, eps=1e-8):
    """Adam written out (Kingma & Ba), gradients from jax.grad of the loss."""
    w = np.asarray(w, np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        grad = np.asarray(jax.grad(loss)(jnp.asarray(w, jnp.float32)), np.float64)
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


# ------------------------------------------------------------------------------------------------
# The impossibility
# ------------------------------------------------------------------------------------------------


def _exactly_calibrated(weights_per_group):
    """Scores at bin centres (k + ½)/10; in every (group, value) cell exactly score·n are positive.

    Each cell holds 20·w samples, so score·n is an integer and calibration is exact in sample.
    """
    scores, ys, groups = [], [], []
    for a, weights in enumerate(weights_per_group):
        for k, w in enumerate(weights):
            v = (k + 0.5) / 10
            n = 20 * w
            pos = round(v * n)
            scores += [v] * n
            ys += [1] * pos + [0] * (n - pos)
            groups += [a] * n
    return np.asarray(scores), np.asarray(ys), np.asarray(groups)


def test_impossibility_calibration_vs_independence_and_separation(x64):
    # group 0 mostly low scores, group 1 mostly high: base rates differ
    s, y, g = _exactly_calibrated([[5, 4, 3, 3, 2, 2, 1, 1, 1, 1], [1, 1, 1, 1, 2, 2, 3, 3, 4, 5]])
    suf = sufficiency(y, s, g, n_bins=10)
    assert float(suf.difference) == 0.0 and np.allclose(suf.calibration_error, 0.0)
    t = calibration_tradeoff(s, y, g)
    base_gap = float(jnp.max(t.base_rate) - jnp.min(t.base_rate))
    assert base_gap > 0.2
    # sufficiency ⇒ E[R|A=a] = p_a ⇒ the soft independence gap IS the base-rate gap
    np.testing.assert_allclose(t.mean_score, t.base_rate, rtol=1e-12)
    np.testing.assert_allclose(float(soft_independence_gap(s, g)), base_gap, rtol=1e-12)
    # the identity (1 − p) E[R|Y=0] = p (1 − E[R|Y=1]) holds in every group
    np.testing.assert_allclose(t.identity_residual, 0.0, atol=1e-12)
    # key inequality: the separation gap is at least the bound, and the bound is positive
    gap = float(soft_separation_gap(s, y, g))
    bound = float(t.separation_bound)
    assert bound > 0.05 and gap >= bound - 1e-12
    # thresholding the calibrated score at any cut keeps both hard gaps away from 0
    for cut in (0.3, 0.5, 0.7):
        d = s >= cut
        assert float(independence(d, g).difference) > 0.1
        assert float(separation(y, d, g).difference) > 0.05


def test_bound_needs_calibration_and_constant_score_breaks_sufficiency(x64):
    s, y, g = _exactly_calibrated([[5, 4, 3, 3, 2, 2, 1, 1, 1, 1], [1, 1, 1, 1, 2, 2, 3, 3, 4, 5]])
    const = np.full_like(s, 0.45)
    # a constant score satisfies independence and separation exactly ...
    assert float(soft_independence_gap(const, g)) == 0.0
    assert abs(float(soft_separation_gap(const, y, g))) < 1e-12
    t = calibration_tradeoff(const, y, g)
    assert float(t.separation_bound) > 0.05  # ... so the bound fails without calibration,
    assert np.max(np.abs(np.asarray(t.identity_residual))) > 0.05  # as the identity says,
    # and sufficiency fails: in the single bin, P(Y=1 | R, A) = p_a differs by the base-rate gap
    suf = sufficiency(y, const, g, n_bins=10)
    np.testing.assert_allclose(
        float(suf.difference), float(jnp.max(t.base_rate) - jnp.min(t.base_rate)), rtol=1e-12
    )


def test_bound_holds_on_random_calibrated_scores(key):
    """Scores R ~ Beta by group, Y ~ Bernoulli(R): calibrated in the population, so the
    inequality holds up to sampling noise (large N)."""
    n = 200_000
    ka, kr, ky = jax.random.split(key, 3)
    g = jax.random.bernoulli(ka, 0.5, (n,)).astype(jnp.int32)
    r = jax.random.beta(kr, jnp.where(g == 1, 4.0, 2.0), jnp.where(g == 1, 2.0, 4.0))
    y = jax.random.bernoulli(ky, r).astype(jnp.int32)
    t = calibration_tradeoff(r, y, g, num_groups=2)
    assert float(jnp.max(jnp.abs(t.identity_residual))) < 0.01
    gap = float(soft_separation_gap(r, y, g, num_groups=2))
    assert float(t.separation_bound) > 0.1
    assert gap >= float(t.separation_bound) - 0.01
