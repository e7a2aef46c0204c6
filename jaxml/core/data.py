"""Datasets that ship with scikit-learn, synthetic generators, standardization and batching.

Nothing is downloaded: ``load_dataset`` reads the copies bundled inside scikit-learn.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.train import batch_indices, num_samples, take_rows
from jaxml.core.types import Array, PRNGKey

BUNDLED = ("diabetes", "digits", "iris", "breast_cancer")


class Dataset(NamedTuple):
    """Features X (N, D), targets y (N,), and their names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    description: str


def load_dataset(name: str) -> Dataset:
    """One of scikit-learn's bundled datasets: diabetes (regression, N=442, D=10), digits
    (10 classes, N=1797, D=64), iris (3 classes, N=150, D=4), breast_cancer (2 classes, N=569,
    D=30)."""
    from sklearn import datasets

    loaders = {
        "diabetes": datasets.load_diabetes,
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "breast_cancer": datasets.load_breast_cancer,
    }
    if name not in loaders:
        raise ValueError(f"name must be one of {BUNDLED}, got {name!r}")
    bunch = loaders[name]()
    names = getattr(bunch, "feature_names", None)
    names = tuple(str(n) for n in names) if names is not None else tuple(f"x{i}" for i in range(bunch.data.shape[1]))
    first_line = (bunch.DESCR or "").strip().splitlines()[0] if bunch.DESCR else name
    return Dataset(np.asarray(bunch.data, np.float64), np.asarray(bunch.target), names, first_line)


class Standardizer(NamedTuple):
    """Per-feature mean μ and scale σ (σ = 1 where a feature is constant)."""

    mean: Array
    scale: Array


def fit_standardizer(X) -> Standardizer:
    """μ = mean of the columns of X, σ = their standard deviation (1 for constant columns)."""
    mean = jnp.mean(X, axis=0)
    std = jnp.std(X, axis=0)
    return Standardizer(mean, jnp.where(std > 0, std, 1.0))


def standardize(X, stats: Standardizer | None = None) -> tuple[Array, Standardizer]:
    """(X − μ) / σ with statistics from ``stats`` or, if None, from X itself."""
    stats = fit_standardizer(X) if stats is None else stats
    return (X - stats.mean[None, :]) / stats.scale[None, :], stats


def add_bias(X) -> Array:
    """The augmented design x̃ = [1, x]: a column of ones in front of X (N, D) -> (N, D+1)."""
    return jnp.concatenate([jnp.ones((X.shape[0], 1), X.dtype), X], axis=1)


def make_linear_regression(key: PRNGKey, n: int, d: int, *, noise: float = 0.1, dtype=jnp.float32):
    """y = X w* + ε with X ~ N(0, I), w* ~ N(0, I), ε ~ N(0, noise²). Returns (X, y, w*)."""
    kx, kw, ke = jax.random.split(key, 3)
    X = jax.random.normal(kx, (n, d), dtype)
    w = jax.random.normal(kw, (d,), dtype)
    y = X @ w + noise * jax.random.normal(ke, (n,), dtype)
    return X, y, w


def make_sine_regression(key: PRNGKey, n: int, *, noise: float = 0.3, dtype=jnp.float32):
    """The course's curve-fitting data: x ~ U[0, 1], y = sin(2πx) + ε, ε ~ N(0, noise²)."""
    kx, ke = jax.random.split(key)
    x = jax.random.uniform(kx, (n,), dtype)
    y = jnp.sin(2 * jnp.pi * x) + noise * jax.random.normal(ke, (n,), dtype)
    return x, y


def make_blobs(key: PRNGKey, n: int, centers, *, std: float = 1.0, dtype=jnp.float32):
    """n points around the rows of ``centers`` (K, D), isotropic N(0, std²). Returns (X, labels)."""
    centers = jnp.asarray(centers, dtype)
    kl, kn = jax.random.split(key)
    labels = jax.random.randint(kl, (n,), 0, centers.shape[0])
    X = centers[labels] + std * jax.random.normal(kn, (n, centers.shape[1]), dtype)
    return X, labels


def train_test_split_arrays(key: PRNGKey, *arrays, test_ratio: float = 0.25):
    """Split arrays sharing N rows by one random permutation: (a_train, a_test, b_train, ...)."""
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f"test_ratio must be in (0, 1), got {test_ratio}")
    n = np.shape(arrays[0])[0]
    n_test = max(1, int(round(test_ratio * n)))
    if n_test >= n:
        raise ValueError(f"test_ratio={test_ratio} leaves no training sample out of {n}")
    perm = np.asarray(jax.random.permutation(key, n))
    out = []
    for a in arrays:
        a = np.asarray(a)
        out += [a[perm[n_test:]], a[perm[:n_test]]]
    return tuple(out)


def make_batches(key: PRNGKey, data, batch_size: int, num_steps: int):
    """Stack the minibatches ``fit`` draws by default into arrays of shape [num_steps, B, ...].

    Step t takes the rows ``batch_indices(key, t, N, B)`` = ``randint(fold_in(key, t), (B,), 0, N)``.
    """
    n = num_samples(data)
    idx = jax.vmap(lambda t: batch_indices(key, t, n, batch_size))(jnp.arange(num_steps))
    return take_rows(jax.tree.map(jnp.asarray, data), idx)


__all__ = [
    "BUNDLED",
    "Dataset",
    "Standardizer",
    "add_bias",
    "fit_standardizer",
    "load_dataset",
    "make_batches",
    "make_blobs",
    "make_linear_regression",
    "make_sine_regression",
    "standardize",
    "train_test_split_arrays",
]
