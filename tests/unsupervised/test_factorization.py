"""Matrix factorization: loss and hand gradient, ALS against brute-force ridge solves and a
numpy ALS, recovery of a synthetic low-rank matrix, SGD through fit, K selection, the CSV loader,
empty rows and bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from jax.test_util import check_grads

from jaxml.bench.factorization import numpy_als
from jaxml.core.gradcheck import REGISTRY, compare_gradients
from jaxml.unsupervised import factorization as mf


def _small_problem(key, num_rows=30, num_cols=20, rank=2, observed=0.3, dtype=jnp.float32):
    syn = mf.make_low_rank_ratings(key, num_rows, num_cols, rank, noise=0.1, observed=observed, dtype=dtype)
    return syn.ratings, (num_rows, num_cols)


def _dense_loss(factors, ratings, lam, shape):
    """The objective from a dense matrix and a 0/1 mask: an independent formula."""
    X = np.zeros(shape)
    mask = np.zeros(shape)
    X[np.asarray(ratings.rows), np.asarray(ratings.cols)] = np.asarray(ratings.values)
    mask[np.asarray(ratings.rows), np.asarray(ratings.cols)] = 1.0
    W, Z = (np.asarray(a, np.float64) for a in factors)
    m = mask.sum()
    return 0.5 / m * np.sum(mask * (X - W @ Z.T) ** 2) + 0.5 * lam * (np.sum(W**2) + np.sum(Z**2))


def test_loss_matches_dense_formula(key, x64):
    ratings, shape = _small_problem(key, dtype=jnp.float64)
    factors = mf.mf_init(jax.random.fold_in(key, 1), *shape, 3, scale=1.0, dtype=jnp.float64)
    got = float(mf.mf_loss(factors, ratings, 0.05))
    np.testing.assert_allclose(got, _dense_loss(factors, ratings, 0.05, shape), rtol=1e-12)


def test_hand_gradient_equals_autodiff(key, x64):
    ratings, shape = _small_problem(key, dtype=jnp.float64)
    factors = mf.mf_init(jax.random.fold_in(key, 1), *shape, 3, scale=1.0, dtype=jnp.float64)
    hand = mf.mf_loss_grad(factors, ratings, 0.1)
    auto = jax.grad(mf.mf_loss)(factors, ratings, 0.1)
    for h, a in zip(hand, auto, strict=True):
        np.testing.assert_allclose(h, a, rtol=1e-10, atol=1e-14)
    check_grads(lambda f: mf.mf_loss(f, ratings, 0.1), (factors,), order=2, modes=("rev",))


def test_registered_gradcheck(key, x64):
    row = compare_gradients(REGISTRY["unsupervised.mf_loss"], key)
    assert row.ok, row


@pytest.mark.parametrize(("rank", "lam"), [(3, 0.01), (6, 0.01), (6, 0.0)])
def test_ridge_solves_match_brute_force(key, x64, rank, lam):
    """Each w_d solves (Z_Ωdᵀ Z_Ωd + λ'I) w = Z_Ωdᵀ x_Ωd, with λ' = |Ω| λ. At rank 6 most rows
    have fewer observed entries than K and take the L×L dual system; columns take the K×K one.
    At λ = 0 a row with fewer entries than K gets the minimum-norm interpolant."""
    ratings, shape = _small_problem(key, num_rows=60, num_cols=40, observed=0.15, dtype=jnp.float64)
    data = mf.make_als_data(ratings, shape, min_length=2)
    row_lengths = sorted({b.index.shape[1] for b in data.row_buckets})
    if rank == 6:
        assert sum(length < rank for length in row_lengths) >= 2, row_lengths  # several dual buckets
        assert max(b.index.shape[1] for b in data.col_buckets) >= rank  # and primal ones
    factors = mf.mf_als_init(jax.random.fold_in(key, 1), data, rank)
    new, _ = mf.mf_als_step(factors, data, lam)
    m = ratings.values.shape[0]
    rows, cols, vals = (np.asarray(a) for a in ratings)
    Z = np.asarray(factors.Z)
    for d in range(shape[0]):
        sel = rows == d
        if not sel.any():
            np.testing.assert_array_equal(new.W[d], 0.0)
            continue
        Zd = Z[cols[sel]]
        if lam == 0.0 and sel.sum() < rank:
            want = np.linalg.pinv(Zd) @ vals[sel]
        else:
            want = np.linalg.solve(Zd.T @ Zd + lam * m * np.eye(rank), Zd.T @ vals[sel])
        np.testing.assert_allclose(new.W[d], want, rtol=1e-9 if lam > 0 else 1e-6, atol=1e-12 if lam > 0 else 1e-9)
    if lam > 0:
        # and the Z half-sweep is exact: the gradient of f in Z vanishes
        grad = mf.mf_loss_grad(new, ratings, lam)
        assert float(jnp.max(jnp.abs(grad.Z))) < 1e-12


def test_many_bucket_solves_do_not_deadlock():
    """Regression: one batched LAPACK call per bucket, free to run concurrently, deadlocked
    jaxlib's CPU thread pool. Run in a subprocess so that a hang fails the test, not the suite."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp
        from jaxml.unsupervised import factorization as mf
        key = jax.random.key(0)
        syn = mf.make_low_rank_ratings(key, 3000, 400, 4, noise=0.1, observed=0.03)
        data = mf.make_als_data(syn.ratings, (3000, 400), min_length=2, growth=1.05)
        init = mf.mf_als_init(key, data, 24)
        sweep = jax.jit(jax.vmap(lambda lam: mf.mf_als(init, data, lam, num_sweeps=2).factors.W))
        for _ in range(3):
            jax.block_until_ready(sweep(jnp.logspace(-6, -3, 3)))
        print("ok", len(data.row_buckets))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]
    assert int(out.stdout.split()[1]) >= 8  # many buckets, hence many chained LAPACK calls


def test_als_matches_numpy_reference_and_is_monotone(key, x64):
    ratings, shape = _small_problem(key, num_rows=40, num_cols=25, dtype=jnp.float64)
    data = mf.make_als_data(ratings, shape)
    init = mf.mf_als_init(jax.random.fold_in(key, 1), data, 4)
    lam = 1e-3
    result = mf.mf_als(init, data, lam, num_sweeps=6)
    csr = sp.csr_matrix((np.asarray(ratings.values), (np.asarray(ratings.rows), np.asarray(ratings.cols))), shape=shape)
    W, Z = numpy_als(csr, csr.T.tocsr(), np.asarray(init.Z), lam * ratings.values.shape[0], 6)
    np.testing.assert_allclose(result.factors.W, W, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(result.factors.Z, Z, rtol=1e-8, atol=1e-10)
    objective = np.asarray(result.history["objective"])
    assert np.all(np.diff(objective) <= 1e-12)
    np.testing.assert_allclose(objective[-1], _dense_loss(result.factors, ratings, lam, shape), rtol=1e-10)


def test_als_recovers_low_rank_matrix_to_noise_level(key):
    noise = 0.3
    syn = mf.make_low_rank_ratings(key, 1000, 800, 2, noise=noise, observed=0.05)
    train, valid = mf.split_ratings(jax.random.fold_in(key, 1), syn.ratings, 0.2)
    data = mf.make_als_data(train, (1000, 800))
    init = mf.mf_als_init(jax.random.fold_in(key, 2), data, 2)
    lam = 0.3 / train.values.shape[0]
    result = mf.mf_als(init, data, lam, num_sweeps=20, valid=valid)
    valid_rmse = float(result.history["valid_rmse"][-1])
    assert valid_rmse < 1.2 * noise, valid_rmse
    assert float(result.history["train_rmse"][-1]) < noise
    assert result.history["valid_rmse"].shape == (20,)
    # the initial guess is far off: the history shows the decrease
    assert float(result.history["valid_rmse"][0]) > valid_rmse


def test_rows_and_columns_without_entries_stay_zero(key):
    ratings, shape = _small_problem(key)
    keep = (np.asarray(ratings.rows) != 3) & (np.asarray(ratings.cols) != 5)
    ratings = mf.Ratings(*(a[keep] for a in ratings))
    data = mf.make_als_data(ratings, shape)
    assert int(data.row_counts[3]) == 0 and int(data.col_counts[5]) == 0
    result = mf.mf_als(mf.mf_als_init(key, data, 3), data, 1e-3, num_sweeps=3)
    assert np.all(np.isfinite(result.factors.W)) and np.all(np.isfinite(result.factors.Z))
    np.testing.assert_array_equal(result.factors.W[3], 0.0)
    np.testing.assert_array_equal(result.factors.Z[5], 0.0)
    assert float(jnp.linalg.norm(result.factors.W[4])) > 0
    # lam = 0: empty rows still give 0, and the observed rows stay finite
    result0 = mf.mf_als(mf.mf_als_init(key, data, 2), data, 0.0, num_sweeps=2)
    assert np.all(np.isfinite(result0.factors.W))
    np.testing.assert_array_equal(result0.factors.W[3], 0.0)


def test_als_jit_equals_eager_and_no_retrace(key):
    ratings, shape = _small_problem(key)
    data = mf.make_als_data(ratings, shape)
    init = mf.mf_als_init(key, data, 3)
    jitted = mf.mf_als(init, data, 1e-3, num_sweeps=3)
    with jax.disable_jit():
        eager = mf.mf_als(init, data, 1e-3, num_sweeps=3)
    np.testing.assert_allclose(jitted.factors.W, eager.factors.W, rtol=2e-4, atol=2e-5)

    traces = []
    step = jax.jit(lambda f, d, lam: (traces.append(1), mf.mf_als_step(f, d, lam))[1])
    step(init, data, 1e-3)
    step(init, data, 2e-3)
    assert len(traces) == 1


def test_als_second_lambda_does_not_retrace(key, monkeypatch):
    """The public mf_als reuses its compiled scan for a new λ: the sweep is traced once."""
    from jaxml.unsupervised.factorization import als as als_module

    ratings, shape = _small_problem(key, num_rows=33, num_cols=17)  # shapes no other test compiles
    data = mf.make_als_data(ratings, shape)
    init = mf.mf_als_init(key, data, 3)
    monkeypatch.setattr(als_module, "mf_als_step", chex.assert_max_traces(als_module.mf_als_step, n=1))
    first = mf.mf_als(init, data, 1e-3, num_sweeps=2)
    second = mf.mf_als(init, data, 5e-1, num_sweeps=2)
    # different answers, each the exact sweeps of its own λ
    assert float(jnp.max(jnp.abs(first.factors.W - second.factors.W))) > 1e-3
    with jax.disable_jit():  # the second λ's answer is its own (test_als_jit_equals_eager: the first's)
        eager = mf.mf_als(init, data, 5e-1, num_sweeps=2)
    np.testing.assert_allclose(second.factors.W, eager.factors.W, rtol=2e-4, atol=2e-5)


def test_als_vmap_over_lambda_equals_loop(key):
    ratings, shape = _small_problem(key)
    data = mf.make_als_data(ratings, shape)
    init = mf.mf_als_init(key, data, 3)
    lams = jnp.asarray([1e-4, 1e-3, 1e-2])
    swept = jax.vmap(lambda lam: mf.mf_als(init, data, lam, num_sweeps=4).history["objective"])(lams)
    for i, lam in enumerate(lams):
        single = mf.mf_als(init, data, lam, num_sweeps=4).history["objective"]
        np.testing.assert_allclose(swept[i], single, rtol=1e-5)


def test_sgd_through_fit_decreases_rmse(key):
    noise = 0.3
    syn = mf.make_low_rank_ratings(key, 200, 150, 2, noise=noise, observed=0.2)
    train, valid = mf.split_ratings(jax.random.fold_in(key, 1), syn.ratings, 0.2)
    init = mf.mf_init(jax.random.fold_in(key, 2), 200, 150, 2, scale=0.5)
    lam = 0.1 / train.values.shape[0]
    result = mf.mf_sgd(
        init, train, key=jax.random.fold_in(key, 3), lam=lam, learning_rate=0.05 * 128,
        batch_size=128, num_epochs=30, valid=valid,
    )
    hist = result.history
    assert hist["train_rmse"].shape == (30,) and hist["valid_rmse"].shape == (30,)
    assert hist["objective"][-1] < 0.5 * hist["objective"][0]
    # SGD reaches the ALS solution's neighbourhood
    data = mf.make_als_data(train, (200, 150))
    als_valid = float(mf.mf_als(init, data, lam, num_sweeps=30, valid=valid).history["valid_rmse"][-1])
    assert hist["valid_rmse"][-1] < 1.3 * als_valid, (hist["valid_rmse"][-1], als_valid)


def test_sgd_second_lambda_and_learning_rate_do_not_retrace(key, monkeypatch):
    """λ and η are traced hparams of fit: another (λ, η) reuses the compiled loop (the loss is
    traced once for the training chunk and once for the per-epoch evaluation), and each run
    equals plain SGD written out with the same minibatches."""
    from jaxml.core.train import batch_indices
    from jaxml.unsupervised.factorization import sgd as sgd_module

    ratings, shape = _small_problem(key, num_rows=23, num_cols=13, dtype=jnp.float32)
    init = mf.mf_init(jax.random.fold_in(key, 1), *shape, 2, scale=0.5)
    monkeypatch.setattr(sgd_module, "mf_loss", chex.assert_max_traces(sgd_module.mf_loss, n=2))
    m = int(ratings.values.shape[0])
    for lam, lr in ((1e-3, 2.0), (1e-1, 0.5)):
        result = mf.mf_sgd(init, ratings, key=key, lam=lam, learning_rate=lr, batch_size=8, num_epochs=2)
        factors = init
        for t in range(2 * -(-m // 8)):
            idx = batch_indices(key, t, m, 8)
            batch = mf.Ratings(*(a[idx] for a in ratings))
            grad = mf.mf_loss_grad(factors, batch, lam)
            factors = mf.Factors(factors.W - lr * grad.W, factors.Z - lr * grad.Z)
        np.testing.assert_allclose(result.factors.W, factors.W, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(result.history["objective"][-1], mf.mf_loss(factors, ratings, lam), rtol=1e-4)


def test_select_rank_finds_true_rank(key):
    syn = mf.make_low_rank_ratings(key, 300, 250, 3, noise=0.3, observed=0.15)
    train, valid = mf.split_ratings(jax.random.fold_in(key, 1), syn.ratings, 0.2)
    sel = mf.mf_select_rank(
        key, train, valid, (300, 250), [1, 2, 3, 6, 10], lam=1.0 / train.values.shape[0], num_sweeps=15
    )
    assert sel.best_rank == 3, sel
    assert sel.valid_rmse[2] < sel.valid_rmse[0]
    # training error keeps falling with K while validation error turns up
    assert sel.train_rmse[-1] < sel.train_rmse[2] and sel.valid_rmse[-1] > sel.valid_rmse[2]


def test_load_ratings_csv(tmp_path):
    with_header = tmp_path / "r.csv"
    with_header.write_text("user,item,rating\n10,a,4\n2,b,3.5\n10,b,1\n7,c,5\n")
    table = mf.load_ratings_csv(with_header)
    np.testing.assert_array_equal(table.row_ids, [2, 7, 10])  # numeric order, not "10" < "2"
    np.testing.assert_array_equal(table.col_ids, ["a", "b", "c"])
    assert table.shape == (3, 3)
    np.testing.assert_array_equal(table.ratings.rows, [2, 0, 2, 1])
    np.testing.assert_array_equal(table.ratings.cols, [0, 1, 1, 2])
    np.testing.assert_allclose(table.ratings.values, [4, 3.5, 1, 5])
    no_header = tmp_path / "n.csv"
    no_header.write_text("u1,i1,2\nu2,i1,3\n")
    table = mf.load_ratings_csv(no_header)
    assert table.shape == (2, 1)
    np.testing.assert_allclose(table.ratings.values, [2, 3])


def test_load_ratings_csv_bad_input(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("u1,i1,2\nu2,i1,nan\n")
    with pytest.raises(ValueError, match="line 2.*NaN"):
        mf.load_ratings_csv(bad)
    bad.write_text("u1,i1,2\nu2,i1,good\n")
    with pytest.raises(ValueError, match="line 2.*not a number"):
        mf.load_ratings_csv(bad)
    bad.write_text("u1,i1\n")
    with pytest.raises(ValueError, match="line 1"):
        mf.load_ratings_csv(bad)
    bad.write_text("user,item,rating\n")
    with pytest.raises(ValueError, match="no rating"):
        mf.load_ratings_csv(bad)


def test_bad_input_raises(key):
    ratings, shape = _small_problem(key)
    with pytest.raises(ValueError, match="rank"):
        mf.mf_init(key, *shape, 0)
    with pytest.raises(ValueError, match="rank"):
        mf.make_low_rank_ratings(key, 10, 10, 0)
    data = mf.make_als_data(ratings, shape)
    init = mf.mf_als_init(key, data, 2)
    with pytest.raises(ValueError, match="lam"):
        mf.mf_als(init, data, -1.0, num_sweeps=2)
    with pytest.raises(ValueError, match="lam"):
        mf.mf_sgd(init, ratings, key=key, lam=-0.1, learning_rate=1.0, batch_size=8, num_epochs=1)
    nan_ratings = ratings._replace(values=ratings.values.at[0].set(jnp.nan))
    with pytest.raises(ValueError, match="ratings.values.*NaN"):
        mf.make_als_data(nan_ratings, shape)
    with pytest.raises(ValueError, match="train.values.*NaN"):
        mf.mf_sgd(init, nan_ratings, key=key, lam=0.1, learning_rate=1.0, batch_size=8, num_epochs=1)
    out_of_range = ratings._replace(rows=ratings.rows.at[0].set(shape[0]))
    with pytest.raises(ValueError, match=r"ratings.rows must lie in \[0, 30\)"):
        mf.make_als_data(out_of_range, shape)
    negative = ratings._replace(cols=ratings.cols.at[0].set(-1))
    with pytest.raises(ValueError, match="ratings.cols"):
        mf.make_als_data(negative, shape)
    with pytest.raises(ValueError, match="valid.cols"):
        mf.mf_als(init, data, 0.1, num_sweeps=1, valid=negative)
    mismatched = ratings._replace(values=ratings.values[:-1])
    with pytest.raises(ValueError, match="same length"):
        mf.make_als_data(mismatched, shape)
    with pytest.raises(ValueError, match="ranks"):
        mf.mf_select_rank(key, ratings, ratings, shape, [2, 0], lam=0.1)
