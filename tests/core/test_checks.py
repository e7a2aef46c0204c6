import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.core.checks import check_array, check_choice, check_int, check_labels, check_scalar, check_xy


def test_check_array_rejects_with_the_argument_name():
    with pytest.raises(ValueError, match=r"X must be 2-D, got shape \(3,\).*x\[:, None\]"):
        check_array(np.ones(3), "X", ndim=2)
    with pytest.raises(ValueError, match="y contains 1 NaN"):
        check_array(np.array([1.0, np.nan]), "y")
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite"):
        check_array(np.array([[1.0, np.inf]]), "X")
    with pytest.raises(ValueError, match="X must have at least 1 sample"):
        check_array(np.zeros((0, 3)), "X", ndim=2)
    with pytest.raises(ValueError, match="X must be an array"):
        check_array(None, "X")
    np.testing.assert_array_equal(check_array(np.ones((2, 2)), "X", ndim=2), np.ones((2, 2)))


def test_check_xy_mismatched_lengths():
    with pytest.raises(ValueError, match="X has 3, y has 2"):
        check_xy(np.ones((3, 2)), np.ones(2))


def test_check_scalar_bounds_and_tracers():
    with pytest.raises(ValueError, match="lam must be >= 0"):
        check_scalar(-0.1, "lam", minimum=0.0)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        check_scalar(0.0, "gamma", minimum=0.0, strict_min=True)
    with pytest.raises(ValueError, match="lam must be finite"):
        check_scalar(float("nan"), "lam", minimum=0.0)
    # inside vmap the value is unknown: the check must not break the sweep
    out = jax.vmap(lambda lam: check_scalar(lam, "lam", minimum=0.0) * 2)(jnp.array([1.0, 2.0]))
    np.testing.assert_array_equal(out, [2.0, 4.0])


def test_check_int_and_labels():
    with pytest.raises(ValueError, match="degree must be >= 0"):
        check_int(-1, "degree", minimum=0)
    with pytest.raises(ValueError, match="k must be an integer"):
        check_int(2.5, "k")
    with pytest.raises(ValueError, match=r"y must take values in \[0, 1\], found \[2\]"):
        check_labels(np.array([0, 1, 2]), "y", {0, 1})
    with pytest.raises(ValueError, match="at least 2 classes"):
        check_labels(np.array([1, 1]), "y", {0, 1})
    check_labels(np.array([0, 1, 1]), "y", {0, 1})


def test_check_choice_names_the_options():
    assert check_choice("full", "covariance_type", ("full", "diag")) == "full"
    with pytest.raises(ValueError, match=r"covariance_type must be one of \('full', 'diag'\), got 'tied'"):
        check_choice("tied", "covariance_type", ("full", "diag"))
