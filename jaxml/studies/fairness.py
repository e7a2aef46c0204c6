"""Chapter 3 (classification): group fairness criteria and why they conflict.

Study ``fairness_criteria``: a logistic classifier on data with a planted group effect (different
base rates, a feature shifted by group), its independence / separation / sufficiency gaps, a sweep
over the weight μ of a fairness penalty, per-group calibration curves, and the impossibility
(calibration ⇒ no independence, and a positive lower bound on the separation gap) in numbers.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.train import fit
from jaxml.fairness import (
    calibration_tradeoff,
    fair_logistic_features,
    fair_logistic_loss,
    fair_penalty_weights,
    independence,
    make_fair_batch,
    make_planted_bias,
    separation,
    soft_separation_gap,
    sufficiency,
)
from jaxml.studies import StudyContext, StudyResult, savefig, study

BASE_RATES = (0.3, 0.6)
THRESHOLD = 0.5
LEARNING_RATE = 0.05
# Built once: with μ traced (fit's hparams) the whole μ sweep runs one compiled program.
_OPTIMIZER = optax.adam(LEARNING_RATE)


class FairnessEval(NamedTuple):
    """The three criteria of one model on held-out data, at threshold ``THRESHOLD``."""

    accuracy: float
    independence_gap: float
    separation_gap: float
    sufficiency_gap: float
    acceptance_rate: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray
    positive_rate: np.ndarray
    mean_score: np.ndarray
    count: np.ndarray


def train_fair_logistic(
    features, y, group, *, num_groups: int, mu_independence=0.0, mu_separation=0.0, key, num_steps
):
    """Minimize BCE + μ_I·gap_I + μ_S·gap_S with Adam (full batch) through ``core.train.fit``.

    μ is a traced hyper-parameter (``fit``'s ``hparams``). Scalars μ_I, μ_S train one model,
    w (D,); 1-D arrays (of one length R, or one of them a scalar) train the R models of a sweep
    together as one vmapped program (``fit(..., sweep=True)``), w (R, D).
    """
    mu_i, mu_s = jnp.broadcast_arrays(jnp.asarray(mu_independence), jnp.asarray(mu_separation))
    penalty = fair_penalty_weights(mu_independence=mu_i, mu_separation=mu_s, dtype=features.dtype)
    w0 = jnp.zeros((features.shape[1],), features.dtype)
    result = fit(
        fair_logistic_loss(num_groups), _OPTIMIZER, w0, make_fair_batch(features, y, group),
        key=key, num_steps=num_steps, hparams=penalty, sweep=mu_i.ndim == 1, has_aux=True,
        progress=False,
    )
    return result.state.params


@jax.jit
def _scores_and_decisions(w, features):
    scores = jax.nn.sigmoid(features @ w)
    return scores, scores >= THRESHOLD


def evaluate_fairness(w, features, y, group, *, num_groups: int, n_bins: int = 10) -> FairnessEval:
    """Accuracy and the three criteria of the scores σ(Xw), decisions 1[σ(Xw) ≥ THRESHOLD]."""
    scores, decisions = _scores_and_decisions(w, features)
    ind = independence(decisions, group, num_groups=num_groups)
    sep = separation(y, decisions, group, num_groups=num_groups)
    suf = sufficiency(y, scores, group, n_bins=n_bins, num_groups=num_groups)
    return FairnessEval(
        accuracy=float(np.mean(np.asarray(decisions) == (np.asarray(y) == 1))),
        independence_gap=float(ind.difference),
        separation_gap=float(sep.difference),
        sufficiency_gap=float(suf.difference),
        acceptance_rate=np.asarray(ind.acceptance_rate),
        tpr=np.asarray(sep.tpr),
        fpr=np.asarray(sep.fpr),
        positive_rate=np.asarray(suf.positive_rate),
        mean_score=np.asarray(suf.mean_score),
        count=np.asarray(suf.count),
    )


def _fmt(values) -> str:
    return " / ".join(f"{v:.3f}" for v in np.asarray(values).ravel())


@study("fairness_criteria", "3. Classification", "Fairness: independence, separation, sufficiency")
def fairness_criteria(ctx: StudyContext) -> StudyResult:
    import matplotlib.pyplot as plt

    num_groups = len(BASE_RATES)
    n = 4_000 if ctx.quick else 20_000
    num_steps = 300 if ctx.quick else 2_000
    mus = (0.0, 1.0, 8.0) if ctx.quick else (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

    # Train and test sets drawn apart from the same generator (one compile, no shuffle).
    X, y_tr, g_tr = make_planted_bias(ctx.key("train"), n, base_rates=BASE_RATES)
    f_tr = fair_logistic_features(X, g_tr, num_groups)
    X, y_te, g_te = make_planted_bias(ctx.key("test"), n, base_rates=BASE_RATES)
    f_te = fair_logistic_features(X, g_te, num_groups)
    fit_key = ctx.key("fit")

    sweeps: dict[str, list[FairnessEval]] = {"independence": [], "separation": []}
    weights = {}
    for penalty in sweeps:
        # the whole μ sweep of one penalty: one vmapped training run
        kwargs = {f"mu_{penalty}": jnp.asarray(mus)}
        ws = train_fair_logistic(
            f_tr, y_tr, g_tr, num_groups=num_groups, key=fit_key, num_steps=num_steps, **kwargs
        )
        for mu, w in zip(mus, ws, strict=True):
            weights[penalty, mu] = w
            sweeps[penalty].append(
                evaluate_fairness(w, f_te, y_te, g_te, num_groups=num_groups)
            )

    # --- the impossibility, on the unpenalized (calibrated-by-group) model -------------------
    w0 = weights["independence", 0.0]
    scores_tr, _ = _scores_and_decisions(w0, f_tr)
    tradeoff = calibration_tradeoff(scores_tr, y_tr, g_tr, num_groups=num_groups)
    soft_sep = float(soft_separation_gap(scores_tr, y_tr, g_tr, num_groups=num_groups))

    # --- figure 1: the μ sweeps ----------------------------------------------------------------
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (penalty, evals) in zip(axes, sweeps.items(), strict=True):
        ax.plot(mus, [e.accuracy for e in evals], "k-o", label="accuracy")
        ax.plot(mus, [e.independence_gap for e in evals], "-s", label="independence gap")
        ax.plot(mus, [e.separation_gap for e in evals], "-^", label="separation gap")
        ax.plot(mus, [e.sufficiency_gap for e in evals], "-v", label="sufficiency gap")
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlabel(f"penalty weight μ ({penalty} penalty)")
        ax.set_title(f"BCE + μ · soft {penalty} gap")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test value (threshold 0.5)")
    axes[0].legend(loc="center left", fontsize=8)
    sweep_png = savefig(fig, ctx.out_dir / "fairness_criteria_sweep.png")

    # --- figure 2: calibration curves by group ---------------------------------------------------
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    panels = [
        ("μ = 0", sweeps["independence"][0]),
        (f"independence penalty μ = {mus[-1]:g}", sweeps["independence"][-1]),
        (f"separation penalty μ = {mus[-1]:g}", sweeps["separation"][-1]),
    ]
    for ax, (title, ev) in zip(axes, panels, strict=True):
        ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect calibration")
        for a in range(num_groups):
            keep = ev.count[a] >= 20
            ax.plot(
                ev.mean_score[a][keep], ev.positive_rate[a][keep], "-o", ms=4,
                label=f"group {a} (base rate {BASE_RATES[a]:.2f})",
            )
        ax.set_title(f"{title}: sufficiency gap {ev.sufficiency_gap:.3f}", fontsize=10)
        ax.set_xlabel("mean score in bin")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("P(Y=1 | score bin, A)")
    axes[0].legend(fontsize=8)
    calib_png = savefig(fig, ctx.out_dir / "fairness_criteria_calibration.png")

    e0, ei, es = sweeps["independence"][0], sweeps["independence"][-1], sweeps["separation"][-1]
    big = f"{mus[-1]:g}"
    metrics = {
        "base rates P(Y=1|A)": _fmt(tradeoff.base_rate),
        "μ=0 mean score E[R|A] (calibrated ⇒ = base rates)": _fmt(tradeoff.mean_score),
        "μ=0 acceptance / TPR / FPR by group": f"{_fmt(e0.acceptance_rate)}; {_fmt(e0.tpr)}; "
        f"{_fmt(e0.fpr)}",
        "μ=0 accuracy; gaps independence / separation / sufficiency": f"{e0.accuracy:.3f}; "
        f"{e0.independence_gap:.3f} / {e0.separation_gap:.3f} / {e0.sufficiency_gap:.3f}",
        f"μ_I={big} accuracy; gaps independence / separation / sufficiency": f"{ei.accuracy:.3f}; "
        f"{ei.independence_gap:.3f} / {ei.separation_gap:.3f} / {ei.sufficiency_gap:.3f}",
        f"μ_S={big} accuracy; gaps independence / separation / sufficiency": f"{es.accuracy:.3f}; "
        f"{es.independence_gap:.3f} / {es.separation_gap:.3f} / {es.sufficiency_gap:.3f}",
        "impossibility: soft separation gap ≥ bound (μ=0, train)": f"{soft_sep:.3f} ≥ "
        f"{float(tradeoff.separation_bound):.3f}",
    }
    summary = (
        f"With base rates {BASE_RATES[0]} vs {BASE_RATES[1]}, the unpenalized logistic model is "
        f"calibrated by group (sufficiency gap {e0.sufficiency_gap:.3f}) and therefore violates "
        f"independence ({e0.independence_gap:.3f}) and separation ({e0.separation_gap:.3f}); "
        f"raising the penalty weight to {big} closes the penalized gap "
        f"(independence {ei.independence_gap:.3f}, separation {es.separation_gap:.3f}) at the cost "
        f"of calibration (sufficiency {ei.sufficiency_gap:.3f} / {es.sufficiency_gap:.3f}) and "
        f"accuracy ({e0.accuracy:.3f} → {ei.accuracy:.3f} / {es.accuracy:.3f})."
    )
    return StudyResult(metrics=metrics, figures=[sweep_png, calib_png], summary=summary)


__all__ = ["FairnessEval", "evaluate_fairness", "fairness_criteria", "train_fair_logistic"]
