import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.core.data import (
    add_bias,
    load_dataset,
    make_batches,
    make_blobs,
    make_sine_regression,
    standardize,
    train_test_split_arrays,
)


@pytest.mark.parametrize(
    "name,shape,n_classes",
    [("diabetes", (442, 10), None), ("digits", (1797, 64), 10), ("iris", (150, 4), 3), ("breast_cancer", (569, 30), 2)],
)
def test_bundled_datasets(name, shape, n_classes):
    ds = load_dataset(name)
    assert ds.X.shape == shape and ds.y.shape == (shape[0],)
    assert len(ds.feature_names) == shape[1]
    if n_classes:
        assert len(np.unique(ds.y)) == n_classes


def test_unknown_dataset():
    with pytest.raises(ValueError, match="name must be one of"):
        load_dataset("mnist")


def test_standardize_uses_training_statistics():
    X = jnp.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    Z, stats = standardize(X)
    np.testing.assert_allclose(Z.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(Z[:, 0].std(), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(Z[:, 1], 0.0)  # a constant column is centred, not divided by 0
    Z2, _ = standardize(X + 1.0, stats)
    np.testing.assert_allclose(Z2[:, 0], Z[:, 0] + 1.0 / np.std([1, 3, 5]), rtol=1e-6)


def test_add_bias_and_generators(key):
    np.testing.assert_array_equal(add_bias(jnp.ones((2, 3)) * 2)[:, 0], 1.0)
    x, y = make_sine_regression(key, 2000, noise=0.0)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * np.asarray(x)), atol=1e-5)
    X, labels = make_blobs(key, 3000, [[0.0, 0.0], [10.0, 10.0]], std=0.5)
    for c, centre in enumerate([[0, 0], [10, 10]]):
        np.testing.assert_allclose(X[labels == c].mean(0), centre, atol=0.1)


def test_make_batches_match_the_training_sampler(key):
    from jaxml.core.train import sample_batch

    X = jnp.arange(40.0).reshape(20, 2)
    y = jnp.arange(20.0)
    batches = make_batches(key, (X, y), 4, 6)
    assert batches[0].shape == (6, 4, 2)
    for t in range(6):
        bx, by = sample_batch(key, t, (X, y), 4)
        np.testing.assert_array_equal(batches[0][t], bx)
        np.testing.assert_array_equal(batches[1][t], by)


def test_train_test_split_partitions(key):
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    Xtr, Xte, ytr, yte = train_test_split_arrays(key, X, y, test_ratio=0.3)
    assert len(yte) == 3 and len(ytr) == 7
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(10))
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)
    with pytest.raises(ValueError, match="test_ratio"):
        train_test_split_arrays(jax.random.key(0), X, test_ratio=1.5)
