"""Independence, separation and sufficiency with a sensitive attribute (SYLLABUS 3).

Notation (the course's): A is the sensitive attribute with groups a ∈ {0, …, G−1}, Y ∈ {0, 1}
the label, R ∈ [0, 1] a score and R̂ = 1[R ≥ t] the classifier's decision.

- independence  R̂ ⊥ A:      P(R̂=1 | A=a) equal for every a (equal acceptance rates);
- separation    R̂ ⊥ A | Y:  P(R̂=1 | Y=y, A=a) equal for every a, for y = 1 (TPR) and y = 0 (FPR);
- sufficiency   Y ⊥ A | R:  P(Y=1 | R=r, A=a) equal for every a (calibration by group).

Each criterion returns its per-group quantities and the largest gap between groups (0 means the
criterion holds). Groups are integer codes 0..G−1 with a static ``num_groups`` (the sums are
``jax.ops.segment_sum``, O(N) work), or arbitrary labels (strings, non-contiguous integers)
mapped to codes outside jit by ``encode_groups`` (sorted labels, the order of fairlearn's
``MetricFrame.by_group``).

They cannot all hold at once. When base rates p_a = P(Y=1 | A=a) differ between groups:

- sufficiency ⇒ E[R | A=a] = p_a, so the mean scores differ: no (soft) independence;
- E[R | A=a] = p_a ⇒ (1 − p_a) E[R | Y=0, A=a] = p_a (1 − E[R | Y=1, A=a]) for every a, so the
  generalized FPR and TPR cannot both be equal across groups unless prediction is perfect:
  ``calibration_tradeoff`` computes the resulting lower bound on the separation gap.

The relaxations ``soft_independence_gap`` / ``soft_separation_gap`` replace R̂ by R = σ(xᵀw);
they equal the hard criteria when R ∈ {0, 1} and serve as differentiable training penalties
(``fair_logistic_loss``, trained with ``jaxml.core.train.fit``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.core.checks import check_array, check_int, check_same_length, is_concrete
from jaxml.core.data import add_bias
from jaxml.core.types import Array, PRNGKey, float_dtype
from jaxml.linear import logistic_nll

# ---------------------------------------------------------------------------------------------
# Groups and validation (outside jit)
# ---------------------------------------------------------------------------------------------


class GroupCodes(NamedTuple):
    """Arbitrary group labels mapped to integer codes.

    Attributes:
      codes: int32 (N,), ``labels[codes[i]]`` is the label of sample i.
      labels: (G,) the distinct labels, sorted (numpy; may hold strings).
    """

    codes: np.ndarray
    labels: np.ndarray


def encode_groups(group) -> GroupCodes:
    """Map labels (any sortable values) to codes 0..G−1 in sorted-label order (host, O(N log N)).

    Raises:
      ValueError: naming ``group`` when it is not a non-empty 1-D array, or is traced.
    """
    if not is_concrete(group):
        raise ValueError("group must be concrete to be encoded; pass integer codes and num_groups")
    check_array(group, "group", ndim=1, finite=False)
    arr = np.asarray(group)
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("group contains NaN or infinite labels")
    labels, codes = np.unique(arr, return_inverse=True)
    return GroupCodes(codes.reshape(-1).astype(np.int32), labels)


def _prepare_groups(group, num_groups, n: int):
    """(codes, G, labels): validated codes for the jitted core; labels name groups in errors."""
    check_array(group, "group", ndim=1, finite=False)
    if np.shape(group)[0] != n:
        raise ValueError(
            f"inconsistent numbers of samples: group has {np.shape(group)[0]}, expected {n}"
        )
    if num_groups is None:
        if not is_concrete(group):
            raise ValueError(
                "num_groups must be given when group is traced (inside jit/vmap/grad): the number "
                "of groups is a static size"
            )
        codes, labels = encode_groups(group)
        return jnp.asarray(codes), len(labels), labels
    num_groups = check_int(num_groups, "num_groups", minimum=1)
    dtype = jnp.result_type(group) if not is_concrete(group) else np.asarray(group).dtype
    if dtype.kind not in "iub":
        raise ValueError(
            f"group must hold integer codes 0..{num_groups - 1} when num_groups is given, got "
            f"dtype {dtype}; map other labels with encode_groups or leave num_groups=None"
        )
    if is_concrete(group):
        arr = np.asarray(group).astype(np.int64)
        if arr.min() < 0 or arr.max() >= num_groups:
            raise ValueError(
                f"group codes must lie in 0..{num_groups - 1} (num_groups={num_groups}), found "
                f"values in [{arr.min()}, {arr.max()}]"
            )
    return jnp.asarray(group).astype(jnp.int32), num_groups, np.arange(num_groups)


def _check_members(codes, labels, mask=None, what="members"):
    """Every group has at least one sample (within ``mask``); concrete inputs only."""
    if not (is_concrete(codes) and (mask is None or is_concrete(mask))):
        return
    codes = np.asarray(codes)
    if mask is not None:
        codes = codes[np.asarray(mask)]
    counts = np.bincount(codes, minlength=len(labels))
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        names = ", ".join(repr(labels[i].item()) for i in empty[:5])
        raise ValueError(f"group {names} has no {what}: the criterion is undefined there")


def _check_binary(x, name: str):
    check_array(x, name, ndim=1)
    if is_concrete(x):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be binary (0/1 or bool), got dtype {arr.dtype}")
        if not np.all((arr == 0) | (arr == 1)):
            bad = np.unique(arr[(arr != 0) & (arr != 1)])[:5]
            raise ValueError(f"{name} must be binary (0/1 or bool), found {bad}")


def _check_scores(x, name: str):
    check_array(x, name, ndim=1)
    if is_concrete(x):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
        if np.any(arr < 0) or np.any(arr > 1):
            raise ValueError(
                f"{name} must be probabilities in [0, 1] (apply jax.nn.sigmoid to logits), found "
                f"values in [{arr.min()}, {arr.max()}]"
            )


def _spread(values: Array, present: Array) -> tuple[Array, Array]:
    """(max − min, min / max) of ``values`` over the entries where ``present``.

    Both are 0 / 1 (no gap) when fewer than two entries are present; the ratio is 1 when the
    largest value is 0. Written so that gradients stay finite (no ±inf reaches an arithmetic op
    on the selected branch).
    """
    hi = jnp.max(jnp.where(present, values, -jnp.inf))
    lo = jnp.min(jnp.where(present, values, jnp.inf))
    enough = jnp.sum(present) >= 2
    hi = jnp.where(enough, hi, 0)
    lo = jnp.where(enough, lo, 0)
    positive = hi > 0
    ratio = jnp.where(positive, lo / jnp.where(positive, hi, 1), 1)
    return hi - lo, ratio


def _group_sum(values: Array, codes: Array, num_groups: int) -> Array:
    return jax.ops.segment_sum(values, codes, num_segments=num_groups)


# ---------------------------------------------------------------------------------------------
# The three hard criteria
# ---------------------------------------------------------------------------------------------


class Independence(NamedTuple):
    """Independence R̂ ⊥ A, measured.

    Attributes:
      acceptance_rate: (G,) P(R̂=1 | A=a) = (1/n_a) Σ_{i: a_i=a} r̂_i.
      group_size: (G,) int32, n_a.
      difference: max_a − min_a of ``acceptance_rate`` = fairlearn's
        ``demographic_parity_difference``.
      ratio: min_a / max_a of ``acceptance_rate`` = fairlearn's ``demographic_parity_ratio``
        (1 when every rate is 0).
    """

    acceptance_rate: Array
    group_size: Array
    difference: Array
    ratio: Array


class Separation(NamedTuple):
    """Separation R̂ ⊥ A | Y (equalized odds), measured.

    Attributes:
      tpr: (G,) P(R̂=1 | Y=1, A=a), the true-positive rate of group a.
      fpr: (G,) P(R̂=1 | Y=0, A=a), the false-positive rate of group a.
      num_positives / num_negatives: (G,) int32, #{Y=1, A=a} and #{Y=0, A=a}.
      tpr_difference / fpr_difference: max_a − min_a of ``tpr`` / ``fpr``.
      difference: max(tpr_difference, fpr_difference) = fairlearn's ``equalized_odds_difference``.
      ratio: min(min_a/max_a of tpr, min_a/max_a of fpr) = fairlearn's ``equalized_odds_ratio``.
    """

    tpr: Array
    fpr: Array
    num_positives: Array
    num_negatives: Array
    tpr_difference: Array
    fpr_difference: Array
    difference: Array
    ratio: Array


class Sufficiency(NamedTuple):
    """Sufficiency Y ⊥ A | R (calibration by group), measured on ``n_bins`` score bins.

    Bin b ∈ {0, …, B−1} holds the scores with ⌊B·r⌋ = b (r = 1 goes to bin B−1), i.e. the
    intervals [b/B, (b+1)/B). With n_{a,b} the number of samples of group a in bin b:

    Attributes:
      positive_rate: (G, B) P̂(Y=1 | R ∈ bin b, A=a) = (Σ_{i∈(a,b)} y_i) / n_{a,b}; 0 where
        n_{a,b} = 0 (see ``count``).
      mean_score: (G, B) the mean score of the cell, 0 where empty (the x-axis of a calibration
        curve).
      count: (G, B) int32, n_{a,b}.
      bin_gap: (B,) max_a − min_a of ``positive_rate[:, b]`` over the groups present in bin b
        (n_{a,b} > 0); 0 when fewer than two groups are present.
      difference: the occupancy-weighted mean of ``bin_gap`` over the comparable bins C (those
        where at least two groups are present):
        Σ_{b∈C} n_b · bin_gap_b / Σ_{b∈C} n_b with n_b = Σ_a n_{a,b}; 0 if C is empty.
      calibration_error: (G,) the expected calibration error of each group,
        Σ_b (n_{a,b}/n_a) · |positive_rate_{a,b} − mean_score_{a,b}|.
    """

    positive_rate: Array
    mean_score: Array
    count: Array
    bin_gap: Array
    difference: Array
    calibration_error: Array


@functools.partial(jax.jit, static_argnames="num_groups")
def _independence(y_pred, codes, num_groups):
    dtype = float_dtype(y_pred)
    n = _group_sum(jnp.ones(codes.shape, dtype), codes, num_groups)
    accepted = _group_sum(y_pred.astype(dtype), codes, num_groups)
    rate = accepted / jnp.maximum(n, 1)
    difference, ratio = _spread(rate, n > 0)
    return Independence(rate, n.astype(jnp.int32), difference, ratio)


@functools.partial(jax.jit, static_argnames="num_groups")
def _separation(y_true, y_pred, codes, num_groups):
    dtype = float_dtype(y_pred, y_true)
    y = y_true.astype(dtype)
    r = y_pred.astype(dtype)
    # One segment_sum over stacked columns: a single pass over the N samples.
    sums = _group_sum(jnp.stack([y, 1 - y, r * y, r * (1 - y)], axis=1), codes, num_groups)
    pos, neg, true_pos, false_pos = sums[:, 0], sums[:, 1], sums[:, 2], sums[:, 3]
    tpr = true_pos / jnp.maximum(pos, 1)
    fpr = false_pos / jnp.maximum(neg, 1)
    tpr_diff, tpr_ratio = _spread(tpr, pos > 0)
    fpr_diff, fpr_ratio = _spread(fpr, neg > 0)
    return Separation(
        tpr,
        fpr,
        pos.astype(jnp.int32),
        neg.astype(jnp.int32),
        tpr_diff,
        fpr_diff,
        jnp.maximum(tpr_diff, fpr_diff),
        jnp.minimum(tpr_ratio, fpr_ratio),
    )


@functools.partial(jax.jit, static_argnames=("num_groups", "n_bins"))
def _sufficiency(y_true, y_score, codes, num_groups, n_bins):
    dtype = float_dtype(y_score, y_true)
    s = y_score.astype(dtype)
    y = y_true.astype(dtype)
    bins = jnp.clip(jnp.floor(s * n_bins).astype(jnp.int32), 0, n_bins - 1)
    cells = codes * n_bins + bins
    sums = jax.ops.segment_sum(
        jnp.stack([jnp.ones_like(s), y, s], axis=1), cells, num_segments=num_groups * n_bins
    )
    count, positives, score_sum = (sums[:, k].reshape(num_groups, n_bins) for k in range(3))
    rate = positives / jnp.maximum(count, 1)
    mean_score = score_sum / jnp.maximum(count, 1)
    present = count > 0
    bin_gap, _ = jax.vmap(_spread, in_axes=(1, 1))(rate, present)
    comparable = jnp.sum(present, axis=0) >= 2
    weight = jnp.where(comparable, jnp.sum(count, axis=0), 0)
    difference = jnp.sum(weight * bin_gap) / jnp.maximum(jnp.sum(weight), 1)
    group_size = jnp.sum(count, axis=1)
    ece = jnp.sum(count * jnp.abs(rate - mean_score), axis=1) / jnp.maximum(group_size, 1)
    return Sufficiency(rate, mean_score, count.astype(jnp.int32), bin_gap, difference, ece)


def independence(y_pred, group, *, num_groups: int | None = None) -> Independence:
    """Independence: the acceptance rate of each group and the largest gap.

    P(R̂=1 | A=a) = (1/n_a) Σ_{i: a_i=a} r̂_i,  difference = max_a P(R̂=1|A=a) − min_a P(R̂=1|A=a),
    ratio = min_a / max_a. Independence holds when difference = 0 (ratio = 1). Equal to
    fairlearn's ``demographic_parity_difference(y_true, y_pred, sensitive_features=group)`` and
    ``demographic_parity_ratio``. Cost O(N + G).

    Args:
      y_pred: (N,) binary decisions r̂ ∈ {0, 1} (bool, int or float).
      group: (N,) integer codes 0..num_groups−1, or any labels when ``num_groups`` is None
        (mapped by ``encode_groups``, groups in sorted-label order).
      num_groups: G, static; required when ``group`` is traced.

    Returns:
      ``Independence(acceptance_rate, group_size, difference, ratio)``.

    Raises:
      ValueError: mismatched lengths, non-binary ``y_pred``, bad codes, or a group with no
        members (naming it).
    """
    _check_binary(y_pred, "y_pred")
    n = check_same_length(y_pred=y_pred, group=group)
    codes, num_groups, labels = _prepare_groups(group, num_groups, n)
    _check_members(codes, labels)
    return _independence(jnp.asarray(y_pred), codes, num_groups=num_groups)


def separation(y_true, y_pred, group, *, num_groups: int | None = None) -> Separation:
    """Separation (equalized odds): per-group TPR and FPR and the largest gap.

    TPR_a = P(R̂=1 | Y=1, A=a) = Σ_{a_i=a} r̂_i y_i / Σ_{a_i=a} y_i,
    FPR_a = P(R̂=1 | Y=0, A=a) = Σ_{a_i=a} r̂_i (1−y_i) / Σ_{a_i=a} (1−y_i),
    difference = max(max_a TPR_a − min_a TPR_a, max_a FPR_a − min_a FPR_a)
    = fairlearn's ``equalized_odds_difference``; ratio = fairlearn's ``equalized_odds_ratio``.
    Separation holds when difference = 0. Cost O(N + G).

    Args:
      y_true: (N,) labels in {0, 1}.
      y_pred: (N,) binary decisions in {0, 1}.
      group: (N,) codes 0..num_groups−1, or any labels when ``num_groups`` is None.
      num_groups: G, static; required when ``group`` is traced.

    Returns:
      ``Separation(tpr, fpr, num_positives, num_negatives, tpr_difference, fpr_difference,
      difference, ratio)``.

    Raises:
      ValueError: mismatched lengths, non-binary inputs, bad codes, or a group without
        positives or without negatives (naming it).
    """
    _check_binary(y_true, "y_true")
    _check_binary(y_pred, "y_pred")
    n = check_same_length(y_true=y_true, y_pred=y_pred, group=group)
    codes, num_groups, labels = _prepare_groups(group, num_groups, n)
    if is_concrete(y_true):
        y = np.asarray(y_true) == 1
        _check_members(codes, labels, y, "positives (y_true == 1)")
        _check_members(codes, labels, ~y, "negatives (y_true == 0)")
    return _separation(jnp.asarray(y_true), jnp.asarray(y_pred), codes, num_groups=num_groups)


def sufficiency(
    y_true, y_score, group, *, n_bins: int = 10, num_groups: int | None = None
) -> Sufficiency:
    """Sufficiency (calibration by group): P(Y=1 | R ∈ bin b, A=a) per bin and group, and the gap.

    Bins are [b/B, (b+1)/B), b = 0..B−1 (a score of exactly 1 goes to the last bin). With
    n_{a,b} the count of group a in bin b and p_{a,b} = Σ_{i∈(a,b)} y_i / n_{a,b}:

      bin_gap_b  = max_a p_{a,b} − min_a p_{a,b}   over the groups a with n_{a,b} > 0,
      difference = Σ_{b∈C} n_b bin_gap_b / Σ_{b∈C} n_b,   n_b = Σ_a n_{a,b},

    C the bins where at least two groups are present (a bin one group occupies alone offers no
    comparison). Sufficiency holds (at this resolution) when difference = 0. Cost O(N + G·B).

    Args:
      y_true: (N,) labels in {0, 1}.
      y_score: (N,) scores in [0, 1] (probabilities, e.g. σ(xᵀw)).
      group: (N,) codes 0..num_groups−1, or any labels when ``num_groups`` is None.
      n_bins: B, static.
      num_groups: G, static; required when ``group`` is traced.

    Returns:
      ``Sufficiency(positive_rate, mean_score, count, bin_gap, difference, calibration_error)``.

    Raises:
      ValueError: mismatched lengths, NaN or out-of-range scores, non-binary ``y_true``, bad
        codes, ``n_bins`` < 1, or a group with no members (naming it).
    """
    n_bins = check_int(n_bins, "n_bins", minimum=1)
    _check_binary(y_true, "y_true")
    _check_scores(y_score, "y_score")
    n = check_same_length(y_true=y_true, y_score=y_score, group=group)
    codes, num_groups, labels = _prepare_groups(group, num_groups, n)
    _check_members(codes, labels)
    return _sufficiency(
        jnp.asarray(y_true), jnp.asarray(y_score), codes, num_groups=num_groups, n_bins=n_bins
    )


# ---------------------------------------------------------------------------------------------
# Differentiable relaxations (training penalties)
# ---------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("num_groups", "squared"))
def _soft_independence(scores, codes, num_groups, squared=False):
    n = _group_sum(jnp.ones_like(scores), codes, num_groups)
    mean = _group_sum(scores, codes, num_groups) / jnp.maximum(n, 1)
    gap, _ = _spread(mean, n > 0)
    return gap**2 if squared else gap


@functools.partial(jax.jit, static_argnames=("num_groups", "squared"))
def _soft_separation(scores, y_true, codes, num_groups, squared=False):
    y = y_true.astype(scores.dtype)
    columns = jnp.stack([y, 1 - y, scores * y, scores * (1 - y)], axis=1)
    sums = _group_sum(columns, codes, num_groups)
    pos, neg = sums[:, 0], sums[:, 1]
    tpr_gap, _ = _spread(sums[:, 2] / jnp.maximum(pos, 1), pos > 0)
    fpr_gap, _ = _spread(sums[:, 3] / jnp.maximum(neg, 1), neg > 0)
    gap = jnp.maximum(tpr_gap, fpr_gap)
    return gap**2 if squared else gap


def soft_independence_gap(
    scores, group, *, num_groups: int | None = None, squared: bool = False
) -> Array:
    """Differentiable independence gap: the spread of the groups' mean scores.

    m_a = (1/n_a) Σ_{i: a_i=a} r_i with r_i = σ(t_i) ∈ [0, 1] (pass probabilities, not logits),
    gap = max_a m_a − min_a m_a, or its square with ``squared=True``.

    With r ∈ {0, 1} the absolute gap equals ``independence(r, group).difference``. The absolute
    gap is an exact penalty (a large enough weight drives it to 0, with a kink there); the squared
    gap is smooth but its push fades as the gap closes. Its gradient flows only into the groups
    holding the max and the min (subgradient of max/min). Groups with no members in the batch
    (traced minibatches) are left out instead of counting as m_a = 0; concrete calls reject them.
    Cost O(N + G).

    Args:
      scores: (N,) r_i ∈ [0, 1].
      group: (N,) codes 0..num_groups−1 (or labels when ``num_groups`` is None).
      num_groups: G, static; required under jit.
      squared: return gap² instead of gap.
    """
    check_array(scores, "scores", ndim=1)
    n = check_same_length(scores=scores, group=group)
    codes, num_groups, labels = _prepare_groups(group, num_groups, n)
    _check_members(codes, labels)
    return _soft_independence(jnp.asarray(scores), codes, num_groups=num_groups, squared=squared)


def soft_separation_gap(
    scores, y_true, group, *, num_groups: int | None = None, squared: bool = False
) -> Array:
    """Differentiable separation gap: the spread of the groups' mean scores given Y.

    sTPR_a = Σ_{a_i=a} r_i y_i / Σ_{a_i=a} y_i = E[R | Y=1, A=a],
    sFPR_a = Σ_{a_i=a} r_i (1−y_i) / Σ_{a_i=a} (1−y_i) = E[R | Y=0, A=a],
    gap = max(max_a sTPR_a − min_a sTPR_a, max_a sFPR_a − min_a sFPR_a) (squared with
    ``squared=True``).

    With r ∈ {0, 1} the absolute gap equals ``separation(y_true, r, group).difference``
    (fairlearn's equalized odds difference). Groups without positives (negatives) in a traced
    batch are left out of the TPR (FPR) spread. Cost O(N + G).

    Args:
      scores: (N,) r_i ∈ [0, 1] (probabilities, not logits).
      y_true: (N,) labels in {0, 1}.
      group: (N,) codes 0..num_groups−1 (or labels when ``num_groups`` is None).
      num_groups: G, static; required under jit.
      squared: return gap² instead of gap.
    """
    check_array(scores, "scores", ndim=1)
    _check_binary(y_true, "y_true")
    n = check_same_length(scores=scores, y_true=y_true, group=group)
    codes, num_groups, labels = _prepare_groups(group, num_groups, n)
    if is_concrete(y_true):
        y = np.asarray(y_true) == 1
        _check_members(codes, labels, y, "positives (y_true == 1)")
        _check_members(codes, labels, ~y, "negatives (y_true == 0)")
    return _soft_separation(
        jnp.asarray(scores), jnp.asarray(y_true), codes, num_groups=num_groups, squared=squared
    )


# ---------------------------------------------------------------------------------------------
# The impossibility, as a number
# ---------------------------------------------------------------------------------------------


class CalibrationTradeoff(NamedTuple):
    """What calibration forces when base rates differ.

    Attributes:
      base_rate: (G,) p_a = P(Y=1 | A=a).
      mean_score: (G,) E[R | A=a]; equals ``base_rate`` for a score calibrated by group.
      soft_tpr: (G,) E[R | Y=1, A=a].
      soft_fpr: (G,) E[R | Y=0, A=a].
      separation_bound: the lower bound on ``soft_separation_gap`` valid whenever
        mean_score = base_rate (see ``calibration_tradeoff``).
      identity_residual: (G,) (1−p_a)·soft_fpr_a − p_a·(1 − soft_tpr_a), zero when
        mean_score = base_rate.
    """

    base_rate: Array
    mean_score: Array
    soft_tpr: Array
    soft_fpr: Array
    separation_bound: Array
    identity_residual: Array


@functools.partial(jax.jit, static_argnames="num_groups")
def _calibration_tradeoff(scores, y_true, codes, num_groups):
    y = y_true.astype(scores.dtype)
    sums = _group_sum(
        jnp.stack([jnp.ones_like(y), y, scores, scores * y, scores * (1 - y)], axis=1),
        codes,
        num_groups,
    )
    n, pos = sums[:, 0], sums[:, 1]
    neg = n - pos
    p = pos / n
    mean = sums[:, 2] / n
    tpr = sums[:, 3] / pos
    fpr = sums[:, 4] / neg
    odds = p / (1 - p)
    # bound over ordered pairs (a, b): (1 − p_a)(1 − sTPR_b)|o_b − o_a|
    pair = (1 - p)[:, None] * (1 - tpr)[None, :] * jnp.abs(odds[None, :] - odds[:, None])
    residual = (1 - p) * fpr - p * (1 - tpr)
    return CalibrationTradeoff(p, mean, tpr, fpr, jnp.max(pair), residual)


def calibration_tradeoff(
    scores, y_true, group, *, num_groups: int | None = None
) -> CalibrationTradeoff:
    """Why a calibrated score cannot also satisfy separation (or independence).

    With p_a = P(Y=1|A=a), y_a = E[R|Y=1,A=a], x_a = E[R|Y=0,A=a] and E[R|A=a] = p_a y_a +
    (1−p_a) x_a. Calibration by group (sufficiency) gives E[R|A=a] = p_a, hence

      (1 − p_a) x_a = p_a (1 − y_a),   i.e.  x_a = (1 − y_a) o_a,  o_a = p_a/(1−p_a).

    Independence fails at once: the mean scores m_a = p_a differ when the base rates do. For
    separation, with δ = soft_separation_gap ≥ |x_b − x_a|, |y_b − y_a|:
    x_b − x_a = (1−y_b)(o_b − o_a) + o_a (y_a − y_b), so (1−y_b)|o_b − o_a| ≤ δ(1 + o_a) and

      δ ≥ max_{a,b} (1 − p_a)(1 − y_b) |o_b − o_a|  (``separation_bound``),

    which is > 0 unless the base rates are equal or prediction is perfect (y_b = 1). The bound is
    only guaranteed when ``mean_score == base_rate`` (check ``identity_residual``). Cost O(N + G²).

    Args:
      scores: (N,) r_i ∈ [0, 1].
      y_true: (N,) labels in {0, 1}.
      group: (N,) codes 0..num_groups−1 (or labels when ``num_groups`` is None).
      num_groups: G, static; required under jit.
    """
    _check_scores(scores, "scores")
    _check_binary(y_true, "y_true")
    n = check_same_length(scores=scores, y_true=y_true, group=group)
    codes, num_groups, labels = _prepare_groups(group, num_groups, n)
    if is_concrete(y_true):
        y = np.asarray(y_true) == 1
        _check_members(codes, labels, y, "positives (y_true == 1)")
        _check_members(codes, labels, ~y, "negatives (y_true == 0)")
    scores = jnp.asarray(scores)
    scores = scores.astype(float_dtype(scores))
    return _calibration_tradeoff(scores, jnp.asarray(y_true), codes, num_groups=num_groups)


# ---------------------------------------------------------------------------------------------
# A planted-bias dataset and a fairness-penalized logistic model (trained with core.train.fit)
# ---------------------------------------------------------------------------------------------


def make_planted_bias(
    key: PRNGKey,
    n: int,
    *,
    base_rates=(0.3, 0.6),
    class_separation: float = 2.0,
    group_shift: float = 1.0,
    dtype=jnp.float32,
):
    """Binary labels whose base rate and one feature depend on a sensitive attribute.

    A ~ uniform on {0, …, G−1} (G = len(base_rates)), Y | A=a ~ Bernoulli(base_rates[a]),
    X | Y, A ~ N(class_separation·(Y − ½)·(1, ½) + group_shift·A·(0, 1), I₂):
    feature 0 carries the label, feature 1 the label and the group (shifted by group_shift·a).
    The Bayes log-odds are logit(p_a) + Δᵀx − const with Δ independent of a, so logistic
    regression on ``fair_logistic_features`` is well specified (hence calibrated by group).

    Returns:
      (X (n, 2), y (n,) int32, group (n,) int32).
    """
    n = check_int(n, "n", minimum=1)
    rates = np.asarray(base_rates, np.float64)
    if rates.ndim != 1 or rates.shape[0] < 1:
        raise ValueError(f"base_rates must be a non-empty 1-D sequence, got {base_rates!r}")
    if not np.all((rates > 0) & (rates < 1)):
        raise ValueError(f"base_rates must lie in (0, 1), got {rates}")
    base_rates = jnp.asarray(rates, dtype)
    return _planted_bias(
        key, base_rates, jnp.asarray(class_separation, dtype), jnp.asarray(group_shift, dtype), n=n
    )


@functools.partial(jax.jit, static_argnames="n")
def _planted_bias(key, base_rates, class_separation, group_shift, n):
    dtype = base_rates.dtype
    ka, ky, kx = jax.random.split(key, 3)
    group = jax.random.randint(ka, (n,), 0, base_rates.shape[0]).astype(jnp.int32)
    y = jax.random.bernoulli(ky, base_rates[group]).astype(jnp.int32)
    direction = jnp.asarray([1.0, 0.5], dtype)
    mean = class_separation * (y.astype(dtype) - 0.5)[:, None] * direction[None, :]
    mean = mean + group_shift * jnp.stack([jnp.zeros(n, dtype), group.astype(dtype)], axis=1)
    X = mean + jax.random.normal(kx, (n, 2), dtype)
    return X, y, group


@functools.partial(jax.jit, static_argnames="num_groups")
def fair_logistic_features(X, group, num_groups: int) -> Array:
    """The design [1, x, onehot(a)₁..G−1] (N, 1 + D + G − 1): an intercept per group."""
    onehot = jax.nn.one_hot(group, num_groups, dtype=X.dtype)[:, 1:]
    return add_bias(jnp.concatenate([X, onehot], axis=1))


class FairBatch(NamedTuple):
    """Data for ``fair_logistic_loss``; every leaf has the sample axis N first.

    Attributes:
      x: (N, D) design (bias column included).
      y: (N,) labels in {0, 1}.
      group: (N,) int32 group codes.
    """

    x: Array
    y: Array
    group: Array


def make_fair_batch(x, y, group) -> FairBatch:
    """Bundle a design, labels and group codes into a ``FairBatch`` (validated, y cast to x's dtype)."""
    check_array(x, "x", ndim=2)
    _check_binary(y, "y")
    check_array(group, "group", ndim=1)
    check_same_length(x=x, y=y, group=group)
    x = jnp.asarray(x)
    return FairBatch(x, jnp.asarray(y).astype(x.dtype), jnp.asarray(group).astype(jnp.int32))


def fair_penalty_weights(*, mu_independence=0.0, mu_separation=0.0, dtype=None) -> dict[str, Array]:
    """The penalty weights {"mu_independence": μ_I, "mu_separation": μ_S} (μ ≥ 0) as the
    ``hparams`` of ``jaxml.core.train.fit`` for ``fair_logistic_loss``.

    Traced there: one compiled training loop serves a whole sweep over μ (``fit(...,
    sweep=True)`` with arrays of μ trains the sweep as one vmapped program). ``dtype`` defaults
    to the default float.
    """
    dtype = float_dtype() if dtype is None else dtype
    weights = {}
    for name, mu in (("mu_independence", mu_independence), ("mu_separation", mu_separation)):
        if is_concrete(mu) and not np.all(np.isfinite(np.asarray(mu, float)) & (np.asarray(mu, float) >= 0)):
            raise ValueError(f"{name} must be a finite number >= 0, got {mu!r}")
        weights[name] = jnp.asarray(mu, dtype)
    return weights


def fair_logistic_loss(num_groups: int, squared: bool = False):
    """The loss ``loss(w, batch: FairBatch, hparams=None) -> (scalar, metrics)`` (``has_aux=True``).

    L(w) = (1/N) Σ [log(1 + e^{t_i}) − y_i t_i] + μ_I · gap_I(σ(t)) + μ_S · gap_S(σ(t), y),
    t = Xw, gap_I = ``soft_independence_gap``, gap_S = ``soft_separation_gap``; the first term is
    ``jaxml.linear.logistic_nll``. μ_I, μ_S come from ``hparams`` (``fair_penalty_weights``;
    0 without it) and are traced in ``fit``: one compiled program for every μ, and a loss built
    again for the same (num_groups, squared) compiles nothing new (``fit`` keys its cache on
    the loss's code and closure values). Cost O(ND).
    """
    num_groups = check_int(num_groups, "num_groups", minimum=1)

    def loss(w, batch: FairBatch, hparams=None):
        hparams = {} if hparams is None else hparams
        logits = batch.x @ w
        bce = logistic_nll(logits, batch.y)
        scores = jax.nn.sigmoid(logits)
        gap_i = _soft_independence(scores, batch.group, num_groups=num_groups, squared=squared)
        gap_s = _soft_separation(
            scores, batch.y, batch.group, num_groups=num_groups, squared=squared
        )
        mu_i, mu_s = hparams.get("mu_independence", 0.0), hparams.get("mu_separation", 0.0)
        total = bce + mu_i * gap_i + mu_s * gap_s
        return total, {"bce": bce, "soft_independence_gap": gap_i, "soft_separation_gap": gap_s}

    return loss


__all__ = [
    "CalibrationTradeoff",
    "FairBatch",
    "GroupCodes",
    "Independence",
    "Separation",
    "Sufficiency",
    "calibration_tradeoff",
    "encode_groups",
    "fair_logistic_features",
    "fair_logistic_loss",
    "fair_penalty_weights",
    "independence",
    "make_fair_batch",
    "make_planted_bias",
    "separation",
    "soft_independence_gap",
    "soft_separation_gap",
    "sufficiency",
]
