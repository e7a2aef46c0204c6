"""Input validation, run outside ``jit`` so that bad input gives a clear ``ValueError``.

Every check names the argument it rejects and says what was expected. Inside a trace (``jit``,
``vmap``, ``grad``) values are unknown, so value checks (NaN, sign, label set) are skipped and only
shape checks run; the public functions call these checks before entering compiled code.
"""

from __future__ import annotations

from collections.abc import Iterable

import jax
import numpy as np


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def check_array(
    x,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    finite: bool = True,
    min_samples: int = 1,
):
    """Return ``x`` after checking its rank, that it is non-empty and holds no NaN or inf.

    Raises:
      ValueError: naming ``name`` when ``x`` has the wrong number of dimensions, fewer than
        ``min_samples`` rows, a zero-sized axis, or (when concrete) a NaN or infinite entry.
    """
    if x is None:
        raise ValueError(f"{name} must be an array, got None")
    shape = np.shape(x)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            hint = " (reshape a single feature with x[:, None])" if 2 in allowed and len(shape) == 1 else ""
            raise ValueError(f"{name} must be {want}, got shape {shape}{hint}")
    if len(shape) > 0 and (shape[0] < min_samples or 0 in shape):
        raise ValueError(
            f"{name} must have at least {min_samples} sample(s) and no empty axis, got shape {shape}"
        )
    if finite and is_concrete(x):
        arr = np.asarray(x)
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return x


def check_same_length(**arrays) -> int:
    """Check that every array has the same leading dimension N and return N."""
    lengths = {name: np.shape(a)[0] for name, a in arrays.items() if np.ndim(a) > 0}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"inconsistent numbers of samples: {desc}")
    return next(iter(lengths.values())) if lengths else 0


def check_xy(X, y, *, x_name: str = "X", y_name: str = "y", y_ndim=1):
    """Validate a design matrix X of shape (N, D) and targets y of shape (N,) together."""
    check_array(X, x_name, ndim=2)
    check_array(y, y_name, ndim=y_ndim)
    check_same_length(**{x_name: X, y_name: y})
    return X, y


def check_scalar(
    value,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
):
    """Check a (concrete) scalar or array of hyper-parameters against bounds.

    ``lam`` swept with vmap arrives as a tracer: it is returned unchecked.
    """
    if not is_concrete(value):
        return value
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if minimum is not None:
        bad = arr <= minimum if strict_min else arr < minimum
        if np.any(bad):
            rel = ">" if strict_min else ">="
            raise ValueError(f"{name} must be {rel} {minimum}, got {value!r}")
    if maximum is not None and np.any(arr > maximum):
        raise ValueError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check a structural integer (a degree, a number of clusters, k of kNN)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_choice(value, name: str, options):
    """Check that a structural option (a method, a kernel, a covariance type) is one of ``options``."""
    if value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def check_labels(y, name: str, allowed: Iterable, *, min_classes: int = 2):
    """Check that the labels of ``y`` lie in ``allowed`` and at least ``min_classes`` occur."""
    if not is_concrete(y):
        return y
    allowed = sorted(set(np.asarray(list(allowed)).tolist()))
    present = np.unique(np.asarray(y))
    extra = [v for v in present.tolist() if v not in allowed]
    if extra:
        raise ValueError(f"{name} must take values in {allowed}, found {extra[:5]}")
    if len(present) < min_classes:
        raise ValueError(
            f"{name} must contain at least {min_classes} classes, found only {present.tolist()}"
        )
    return y


__all__ = [
    "check_array",
    "check_choice",
    "check_int",
    "check_labels",
    "check_same_length",
    "check_scalar",
    "check_xy",
    "is_concrete",
]
