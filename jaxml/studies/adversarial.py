"""Chapter 5 studies: accuracy against ε for a standard and an adversarially trained digits MLP,
what the attacks' perturbations look like, black-box attacks against their query budget, and a
transfer attack from a stolen surrogate.

Every study attacks the same two classifiers: a 64-H-10 ReLU MLP on scikit-learn's 8×8 digits
(pixels in [0, 1], flattened), trained once by Adam on the clean cross-entropy and once by
adversarial training (PGD L∞ at ε_train inside ``fit``), from the same initial weights on the
same minibatches. ``digits_models`` trains them once per (quick, seed) and shares them.
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.adversarial import (
    adversarial_train,
    boundary_attack,
    clean_accuracy,
    fgsm,
    make_standard_loss,
    pgd,
    score_based_attack,
    steal_model,
    transfer_success,
)
from jaxml.core.train import fit
from jaxml.nn.mlp import mlp_apply, mlp_init
from jaxml.nn.models import load_digits_images
from jaxml.studies import StudyContext, StudyResult, savefig, study

CHAPTER = "5. Adversarial machine learning"

EPS_TRAIN = 0.1  # the L∞ radius of adversarial training (a tenth of the pixel range)
LINF_GRID = (0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3)
# An L∞ ball of radius ε in 64 dimensions reaches ‖δ‖₂ = 8ε at its corners: this grid covers the
# same range of L2 sizes as LINF_GRID up to ε∞ ≈ 0.25.
L2_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
PGD_STEPS = 10


def predict(params, x):
    """Logits of one flattened digit (64,) under the MLP ``params`` (``jaxml.nn.mlp`` layout)."""
    return mlp_apply(params, x)


def predicted_label(params, x):
    """argmax of the logits: the label-only black box of the decision-based attack."""
    return jnp.argmax(predict(params, x))


@jax.jit
def _labels(params, X):
    return jnp.argmax(jax.vmap(lambda v: predict(params, v))(X), -1)


class DigitsModels(NamedTuple):
    """The two classifiers every chapter-5 study attacks, and their data.

    Attributes:
      data: (X_train (N, 64), y_train, X_test, y_test), pixels in [0, 1].
      init: the shared initial weights.
      standard: weights trained on the clean loss.
      robust: weights trained adversarially (PGD L∞ at ``eps_train``, ``attack_steps`` steps).
      eps_train, attack_steps, num_steps, width: the recipe.
      seconds: wall-clock training time (compile included) of the standard and the robust model.
    """

    data: tuple
    init: list
    standard: list
    robust: list
    eps_train: float
    attack_steps: int
    num_steps: int
    width: int
    seconds: tuple[float, float]


def _recipe(quick: bool) -> dict:
    return dict(width=64, num_steps=300, attack_steps=5) if quick else dict(width=128, num_steps=1500, attack_steps=7)


def _train_pair(X, y, *, init, key, eps_train, num_steps, attack_steps):
    """Standard and adversarial training from ``init`` with the same key (same minibatches) and
    the same optimizer, Adam with γ_t = 10⁻²·½(1 + cos(πt/T)), batch 64."""
    tx = optax.adam(optax.cosine_decay_schedule(1e-2, num_steps))
    start = time.perf_counter()
    standard = fit(make_standard_loss(predict), tx, init, (X, y), key=key, num_steps=num_steps, batch_size=64,
                   has_aux=True, progress=False).state.params
    jax.block_until_ready(standard)
    middle = time.perf_counter()
    robust = train_robust(X, y, init=init, key=key, eps_train=eps_train, num_steps=num_steps,
                          attack_steps=attack_steps)
    jax.block_until_ready(robust)
    return standard, robust, (middle - start, time.perf_counter() - middle)


def train_robust(X, y, *, init, key, eps_train, num_steps, attack_steps):
    """min_θ (1/N) Σₙ max_{‖δ‖∞ ≤ ε_train} ℓ(f_θ(xₙ + δ), yₙ) through ``adversarial_train`` (PGD
    with ``attack_steps`` steps and a random start in every ``fit`` step), the optimizer of
    ``_train_pair``."""
    tx = optax.adam(optax.cosine_decay_schedule(1e-2, num_steps))
    return adversarial_train(predict, init, X, y, key=key, eps=eps_train, num_steps=num_steps,
                             attack_steps=attack_steps, batch_size=64, tx=tx, progress=False).state.params


def _train_key(seed: int):
    """The key of every digits training run: the same minibatches for every model compared."""
    return jax.random.fold_in(jax.random.key(seed), 2)


@functools.lru_cache(maxsize=4)
def digits_models(quick: bool, seed: int = 0) -> DigitsModels:
    """Train (once per ``(quick, seed)``) the standard and the adversarially trained digits MLP."""
    recipe = _recipe(quick)
    data = tuple(jnp.asarray(a) for a in load_digits_images(flat=True))
    X_tr, y_tr = data[0], data[1]
    init = mlp_init(jax.random.fold_in(jax.random.key(seed), 1), (64, recipe["width"], 10))
    standard, robust, seconds = _train_pair(X_tr, y_tr, init=init, key=_train_key(seed),
                                            eps_train=EPS_TRAIN, num_steps=recipe["num_steps"],
                                            attack_steps=recipe["attack_steps"])
    return DigitsModels(data, init, standard, robust, EPS_TRAIN, recipe["attack_steps"], recipe["num_steps"],
                        recipe["width"], seconds)


def _accuracy_under(attack: str, params, X, y, eps: float, key) -> float:
    """Accuracy of the MLP on X after ``attack`` at radius ε (ε = 0: the clean accuracy)."""
    if eps == 0.0:
        return clean_accuracy(predict, params, X, y)
    if attack == "FGSM L∞":
        X_adv = fgsm(predict, params, X, y, eps)
    elif attack == "PGD L∞":
        X_adv = pgd(predict, params, X, y, eps, key=key, steps=PGD_STEPS)
    else:
        X_adv = pgd(predict, params, X, y, eps, key=key, steps=PGD_STEPS, norm="l2")
    return clean_accuracy(predict, params, X_adv, y)


def _non_increasing(values) -> bool:
    return bool(np.all(np.diff(np.asarray(values)) <= 0))


# ---------------------------------------------------------------------------------------------
# accuracy against ε


@study("adv_accuracy_vs_eps", CHAPTER, "Accuracy against ε: standard and adversarially trained MLP, per attack")
def adv_accuracy_vs_eps(ctx: StudyContext) -> StudyResult:
    """Test accuracy of the standard and the adversarially trained digits MLP under FGSM (L∞,
    x' = Π(x + ε sign ∇ₓℓ)), PGD L∞ and PGD L2 (10 steps, α = 2.5ε/10, random start) for a grid of
    ε per norm; and the trade-off itself: clean and PGD-robust accuracy (at ε = 0.1) of models
    adversarially trained at ε_train ∈ {0, 0.05, 0.1, 0.2}."""
    import matplotlib.pyplot as plt

    models = digits_models(ctx.quick, ctx.seed)
    _, _, X_te, y_te = models.data
    grids = {"FGSM L∞": LINF_GRID, "PGD L∞": LINF_GRID, "PGD L2": L2_GRID}
    curves = {}
    for attack, grid in grids.items():
        for name, params in (("standard", models.standard), ("adversarial", models.robust)):
            curves[attack, name] = [_accuracy_under(attack, params, X_te, y_te, eps, ctx.key(f"eps_{attack}"))
                                    for eps in grid]

    # the trade-off, measured: one more adversarial training per radius
    X_tr, y_tr = models.data[0], models.data[1]
    train_radii = (0.0, 0.05, 0.1, 0.2)
    trade = {}
    for eps_train in train_radii:
        if eps_train == 0.0:
            params = models.standard
        elif eps_train == models.eps_train:
            params = models.robust
        else:
            params = train_robust(X_tr, y_tr, init=models.init, key=_train_key(ctx.seed),
                                  eps_train=eps_train, num_steps=models.num_steps, attack_steps=models.attack_steps)
        trade[eps_train] = (clean_accuracy(predict, params, X_te, y_te),
                            _accuracy_under("PGD L∞", params, X_te, y_te, EPS_TRAIN, ctx.key("trade")))

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    for ax, (attack, grid) in zip(axes, grids.items(), strict=False):
        for name, style in (("standard", "o-"), ("adversarial", "s-")):
            ax.plot(grid, curves[attack, name], style, label=f"{name} training")
        if attack != "PGD L2":
            ax.axvline(models.eps_train, color="gray", ls=":", lw=1)
        ax.set_xlabel("ε (L2)" if attack == "PGD L2" else "ε (L∞)")
        ax.set_ylabel("test accuracy under attack")
        ax.set_title(attack)
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    ax = axes[3]
    radii = list(trade)
    ax.plot(radii, [trade[r][0] for r in radii], "o-", color="C2", label="clean accuracy")
    ax.plot(radii, [trade[r][1] for r in radii], "s-", color="C3", label=f"PGD L∞ accuracy at ε = {EPS_TRAIN}")
    ax.set_xlabel("ε_train of adversarial training")
    ax.set_title("robustness against accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "adv_accuracy_vs_eps.png")

    at_train = LINF_GRID.index(models.eps_train)
    pgd_std, pgd_adv = curves["PGD L∞", "standard"], curves["PGD L∞", "adversarial"]
    fgsm_std, fgsm_adv = curves["FGSM L∞", "standard"], curves["FGSM L∞", "adversarial"]
    l2_std, l2_adv = curves["PGD L2", "standard"], curves["PGD L2", "adversarial"]
    pgd_below_fgsm = all(p <= f for p, f in zip(pgd_std + pgd_adv, fgsm_std + fgsm_adv, strict=True))
    l2_at = L2_GRID.index(0.5)
    best_small = max(trade[r][0] for r in train_radii if 0.0 < r < 0.2)
    return StudyResult(
        metrics={
            "clean accuracy standard / adversarial": f"{pgd_std[0]:.3f} / {pgd_adv[0]:.3f}",
            f"PGD L∞ accuracy at ε_train = {models.eps_train} standard / adversarial":
                f"{pgd_std[at_train]:.3f} / {pgd_adv[at_train]:.3f}",
            f"FGSM accuracy at ε_train = {models.eps_train} standard / adversarial":
                f"{fgsm_std[at_train]:.3f} / {fgsm_adv[at_train]:.3f}",
            "PGD L2 accuracy at ε = 0.5 standard / adversarial": f"{l2_std[l2_at]:.3f} / {l2_adv[l2_at]:.3f}",
            "PGD L∞ accuracy non-increasing in ε standard / adversarial":
                f"{_non_increasing(pgd_std)} / {_non_increasing(pgd_adv)}",
            "PGD L2 accuracy non-increasing in ε standard / adversarial":
                f"{_non_increasing(l2_std)} / {_non_increasing(l2_adv)}",
            "FGSM accuracy non-increasing in ε standard / adversarial":
                f"{_non_increasing(fgsm_std)} / {_non_increasing(fgsm_adv)}",
            "PGD accuracy ≤ FGSM accuracy at every ε": str(pgd_below_fgsm),
            "ε_train 0 / 0.05 / 0.1 / 0.2: clean accuracy": " / ".join(f"{trade[r][0]:.3f}" for r in radii),
            f"ε_train 0 / 0.05 / 0.1 / 0.2: PGD L∞ accuracy at ε = {EPS_TRAIN}":
                " / ".join(f"{trade[r][1]:.3f}" for r in radii),
            "training seconds standard / adversarial (compile included)":
                f"{models.seconds[0]:.1f} / {models.seconds[1]:.1f}",
        },
        figures=[path],
        summary=f"Ten PGD steps take the standard MLP from {pgd_std[0]:.0%} to {pgd_std[at_train]:.0%} accuracy at "
                f"ε = {models.eps_train} (a tenth of the pixel range); the adversarially trained one keeps "
                f"{pgd_adv[at_train]:.0%} there, and {l2_adv[l2_at]:.0%} against {l2_std[l2_at]:.0%} under PGD L2 at "
                f"ε = 0.5, a norm it was not trained against. Its clean accuracy is {pgd_adv[0]:.1%} against "
                f"{pgd_std[0]:.1%}. Across ε_train = 0 → 0.2 the PGD accuracy at ε = {EPS_TRAIN} goes from "
                f"{trade[0.0][1]:.0%} to {trade[0.2][1]:.0%} and the clean accuracy from {trade[0.0][0]:.1%} to "
                f"{trade[0.2][0]:.1%}"
                + (f" (a small radius even helps, {best_small:.1%}, as a regularizer on 1437 digits)"
                   if best_small > trade[0.0][0] else "")
                + ": a large radius buys robustness with clean accuracy. "
                + ("PGD's accuracy is at or below FGSM's at every ε: the iterated attack finds what the one step "
                   "finds." if pgd_below_fgsm else "At some ε FGSM beats 10-step PGD (PGD's step size is too small "
                   "there)."),
    )


# ---------------------------------------------------------------------------------------------
# what the perturbations look like


def _show(ax, image, title, *, signed=False):
    image = np.asarray(image).reshape(8, 8)
    if signed:
        ax.imshow(image, cmap="seismic", vmin=-1, vmax=1)
    else:
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


@study("adv_examples", CHAPTER, "Original, perturbation and adversarial digit for four attacks")
def adv_examples(ctx: StudyContext) -> StudyResult:
    """Six test digits the standard MLP classifies correctly, attacked by FGSM (L∞, ε = 0.15),
    PGD L∞ (ε = 0.15, 10 steps), PGD L2 (ε = 1.5, 10 steps) and the label-only boundary attack
    (L2, no radius: it shrinks ‖δ‖₂ within its query budget); each shown as original /
    perturbation δ (scaled to ±max|δ| for display) / adversarial image, with predicted labels."""
    import matplotlib.pyplot as plt

    models = digits_models(ctx.quick, ctx.seed)
    params = models.standard
    _, _, X_te, y_te = models.data
    correct = np.flatnonzero(np.asarray(_labels(params, X_te)) == np.asarray(y_te))
    shown = correct[:6]
    X, y = X_te[shown], y_te[shown]
    eps_linf, eps_l2 = 0.15, 1.5
    budget = 1000 if ctx.quick else 3000
    x_boundary, queries, _ = boundary_attack(lambda v: predicted_label(params, v), X, y, key=ctx.key("examples_ba"),
                                             steps=budget, query_budget=budget)
    attacks = {
        f"FGSM L∞ ε={eps_linf}": (fgsm(predict, params, X, y, eps_linf), "linf", eps_linf),
        f"PGD L∞ ε={eps_linf}": (pgd(predict, params, X, y, eps_linf, key=ctx.key("examples_pgd"), steps=PGD_STEPS),
                                 "linf", eps_linf),
        f"PGD L2 ε={eps_l2}": (pgd(predict, params, X, y, eps_l2, key=ctx.key("examples_pgd2"), steps=PGD_STEPS,
                                   norm="l2"), "l2", eps_l2),
        f"boundary (≤ {budget} label queries)": (x_boundary, "l2", None),
    }
    fig, axes = plt.subplots(3 * len(attacks), len(shown), figsize=(1.2 * len(shown), 1.35 * 3 * len(attacks)))
    metrics = {}
    y_np = np.asarray(y)
    for block, (name, (X_adv, norm, eps)) in enumerate(attacks.items()):
        delta = np.asarray(X_adv - X)
        pred = np.asarray(_labels(params, X_adv))
        sizes = np.abs(delta).max(axis=1) if norm == "linf" else np.linalg.norm(delta, axis=1)
        for j in range(len(shown)):
            scale = max(np.abs(delta[j]).max(), 1e-12)
            _show(axes[3 * block, j], X[j], f"label {y_np[j]}")
            _show(axes[3 * block + 1, j], delta[j] / scale, f"δ / {scale:.2f}", signed=True)
            _show(axes[3 * block + 2, j], X_adv[j], f"→ {pred[j]}" + (" ✗" if pred[j] != y_np[j] else ""))
        axes[3 * block, 0].set_ylabel(name.replace(" (", "\n("), fontsize=7)
        axes[3 * block + 1, 0].set_ylabel("perturbation", fontsize=7)
        axes[3 * block + 2, 0].set_ylabel("adversarial", fontsize=7)
        flipped = int(np.sum(pred != y_np))
        which = "‖δ‖∞" if norm == "linf" else "‖δ‖₂"
        short = name.split(" ε=")[0].split(" (")[0]
        if eps is None:
            metrics[f"{short}: max {which} (no radius) / flipped"] = f"{sizes.max():.3f} / {flipped} of {len(shown)}"
            metrics[f"{short}: median {which} / median queries"] = \
                f"{np.median(sizes):.3f} / {int(np.median(np.asarray(queries)))}"
        else:
            metrics[f"{short}: max {which} / ε"] = f"{sizes.max():.4f} / {eps}"
            metrics[f"{short}: flipped"] = f"{flipped} of {len(shown)}"
    path = savefig(fig, ctx.out_dir / "adv_examples.png")
    return StudyResult(
        metrics=metrics,
        figures=[path],
        summary="Each perturbation stays inside its ball (‖δ‖ ≤ ε to rounding): FGSM and PGD L∞ move nearly every "
                "pixel by ±ε (except where the clip to [0, 1] binds), PGD L2 moves some pixels much more than "
                "others, and the boundary attack, seeing only labels, ends on an L2 perturbation of median "
                f"{np.median(np.linalg.norm(np.asarray(x_boundary - X), axis=1)):.2f} after starting from a random "
                "image. The adversarial digits still read as their labels to a person.",
    )


# ---------------------------------------------------------------------------------------------
# black-box attacks against their query budget


def _success(params, X_adv, y) -> float:
    return float(np.mean(np.asarray(_labels(params, X_adv)) != np.asarray(y)))


@study("adv_blackbox_queries", CHAPTER, "Black-box attacks: success against queries, boundary norm against queries")
def adv_blackbox_queries(ctx: StudyContext) -> StudyResult:
    """Score-based L∞ attack (ε = 0.15) on the standard MLP's logits, the gradient estimated by
    central differences (2·64 = 128 queries a step) or by NES (64 queries a step, σ = 10⁻³), for a
    sweep of query budgets (steps = ⌊budget / queries per step⌋, α = 2.5ε/steps), on the margin
    loss max_{k≠y} z_k − z_y; the white-box PGD success at the same ε for reference. And the
    label-only boundary attack: the median over examples of ‖x̃ − x‖₂ against the label queries
    spent."""
    import matplotlib.pyplot as plt

    models = digits_models(ctx.quick, ctx.seed)
    params = models.standard
    _, _, X_te, y_te = models.data
    correct = np.flatnonzero(np.asarray(_labels(params, X_te)) == np.asarray(y_te))
    n = 40 if ctx.quick else 120
    X, y = X_te[correct[:n]], y_te[correct[:n]]
    eps = 0.15
    budgets = (64, 128, 256, 512, 1024, 2048, 4096)
    nes_queries = 64

    def score(v):
        return predict(params, v)

    def margin_loss(logits, label):
        # max_{k≠y} z_k − z_y, the score attacks' objective: unlike the cross-entropy of a
        # confident prediction (≈ e^{−margin}, below float32's resolution of logsumexp(z) − z_y),
        # it does not saturate, so finite differences of it still carry the gradient's sign
        return jnp.max(jnp.where(jnp.arange(logits.shape[0]) == label, -jnp.inf, logits)) - logits[label]

    success = {"fd": [], "nes": []}
    spent = {"fd": [], "nes": []}
    for estimator in success:
        for budget in budgets:
            X_adv, q = score_based_attack(score, X, y, eps, estimator=estimator, steps=10_000, query_budget=budget,
                                          key=ctx.key(f"bb_{estimator}"), num_queries=nes_queries,
                                          loss=margin_loss)
            success[estimator].append(_success(params, X_adv, y))
            spent[estimator].append(q)
    white_box = _success(params, pgd(predict, params, X, y, eps, key=ctx.key("bb_pgd"), steps=PGD_STEPS), y)

    walk = 1500 if ctx.quick else 5000
    binary_steps = 10
    _, queries, history = boundary_attack(lambda v: predicted_label(params, v), X, y, key=ctx.key("bb_boundary"),
                                          steps=walk, query_budget=walk + 200, binary_steps=binary_steps)
    history, queries = np.asarray(history), np.asarray(queries)
    found = np.isfinite(history[:, 0])
    # queries spent before the walk (the random start search) differ per example; put every
    # example's history on its own query axis, then take medians on a common grid
    start_queries = queries - binary_steps - walk
    grid = np.arange(int(start_queries[found].max()), walk + binary_steps + int(start_queries.max()) + 1)
    on_grid = []
    for h, q0 in zip(history[found], start_queries[found], strict=True):
        axis = np.concatenate([[q0], q0 + binary_steps + np.arange(walk + 1)])
        on_grid.append(np.interp(grid, axis, h, left=np.nan))
    median = np.nanmedian(np.array(on_grid), axis=0)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    labels = {"fd": "central differences (128 / step)", "nes": f"NES ({nes_queries} / step)"}
    for estimator, style in (("fd", "o-"), ("nes", "s-")):
        ax0.semilogx(budgets, success[estimator], style, label=labels[estimator])
    ax0.axhline(white_box, color="gray", ls="--", label=f"white-box PGD, {PGD_STEPS} steps")
    ax0.set_xlabel("query budget per example")
    ax0.set_ylabel(f"success rate (L∞, ε = {eps})")
    ax0.set_title("score-based attack")
    ax0.set_ylim(-0.02, 1.02)
    ax0.legend(fontsize=8)
    ax1.loglog(grid, median)
    ax1.set_xlabel("label queries per example")
    ax1.set_ylabel("median ‖x̃ − x‖₂")
    ax1.set_title(f"boundary attack ({int(found.sum())} of {len(found)} started)")
    path = savefig(fig, ctx.out_dir / "adv_blackbox_queries.png")
    after_binary = np.median(history[found, 1])
    return StudyResult(
        metrics={
            "white-box PGD success at ε = 0.15": f"{white_box:.3f}",
            **{f"{labels[e]}: success at {budgets[-1]} queries": f"{success[e][-1]:.3f}" for e in success},
            **{f"{labels[e]}: success at {budgets[0]} / {budgets[1]} / {budgets[3]} queries":
               f"{success[e][0]:.3f} / {success[e][1]:.3f} / {success[e][3]:.3f}" for e in success},
            "queries spent ≤ budget": str(all(q <= b for e in spent for q, b in zip(spent[e], budgets, strict=True))),
            "boundary: median ‖δ‖₂ random start / after binary search / end":
                f"{np.median(history[found, 0]):.3f} / {after_binary:.3f} / {np.median(history[found, -1]):.3f}",
            "boundary: examples started / median queries": f"{int(found.sum())} of {len(found)} / "
                                                           f"{int(np.median(queries))}",
        },
        figures=[path],
        summary=f"With scores only, the attacker pays for each gradient estimate. Central differences cost "
                f"2D = 128 queries a step: nothing below that, then {success['fd'][1]:.0%} success after one step "
                f"(white-box PGD: {white_box:.0%}). NES buys a noisy estimate with any even number of queries: "
                f"{success['nes'][0]:.0%} after {budgets[0]} queries, {success['nes'][-1]:.0%} after {budgets[-1]}; in "
                "64 dimensions exact differences are cheap, NES pays off when D is large. With labels only, the "
                "boundary attack starts from a random image (median ‖δ‖₂ "
                f"{np.median(history[found, 0]):.2f}), binary-searches to the boundary ({after_binary:.2f}) and walks "
                f"along it towards x, to {np.median(history[found, -1]):.2f} after {walk} steps.",
    )


# ---------------------------------------------------------------------------------------------
# model stealing and transfer


@study("adv_transfer", CHAPTER, "Transfer attack from a stolen surrogate, against noise of the same norm")
def adv_transfer(ctx: StudyContext) -> StudyResult:
    """The attacker holds unlabeled digits (the first two thirds of the test split), asks the
    standard MLP (the victim) for their labels, and trains a surrogate of another architecture
    (64-32-10 MLP, its own initial weights) on those answers (``steal_model``). PGD L∞ on the
    surrogate, replayed against the victim on the held-out third, for a grid of ε; the baseline is
    random-sign noise of the same ‖δ‖∞. Also replayed against the adversarially trained model."""
    import matplotlib.pyplot as plt

    models = digits_models(ctx.quick, ctx.seed)
    _, _, X_te, y_te = models.data
    n_query = 2 * len(X_te) // 3
    X_query, X_eval, y_eval = X_te[:n_query], X_te[n_query:], y_te[n_query:]
    surrogate_init = mlp_init(ctx.key("surrogate_init"), (64, 32, 10))
    stolen = steal_model(predict, models.standard, X_query, init=surrogate_init, key=ctx.key("steal"),
                         num_steps=400 if ctx.quick else 1500, batch_size=64, learning_rate=1e-2)
    victim_labels_eval = _labels(models.standard, X_eval)
    held_out_agreement = clean_accuracy(predict, stolen.params, X_eval, victim_labels_eval)
    surrogate_accuracy = clean_accuracy(predict, stolen.params, X_eval, y_eval)

    eps_grid = (0.05, 0.1, 0.15, 0.2)
    rows = {}
    for eps in eps_grid:
        to_standard = transfer_success(predict, stolen.params, predict, models.standard, X_eval, y_eval, eps=eps,
                                       key=ctx.key("transfer"), steps=PGD_STEPS)
        to_robust = transfer_success(predict, stolen.params, predict, models.robust, X_eval, y_eval, eps=eps,
                                     key=ctx.key("transfer"), steps=PGD_STEPS)
        rows[eps] = (to_standard.success_rate, to_standard.noise_success_rate, to_standard.surrogate_success_rate,
                     to_robust.success_rate)

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (label, style) in enumerate((("surrogate-crafted PGD → victim", "o-"),
                                        ("noise of the same ‖δ‖∞ → victim", "x--"),
                                        ("PGD on the surrogate itself (white-box)", "^:"),
                                        ("surrogate-crafted PGD → adversarially trained", "s-"))):
        ax.plot(eps_grid, [rows[e][i] for e in eps_grid], style, label=label)
    ax.set_xlabel("ε (L∞)")
    ax.set_ylabel("success rate (victim correct on clean input)")
    ax.set_title(f"stolen with {n_query} label queries, agreement {held_out_agreement:.2f} (held out)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "adv_transfer.png")
    return StudyResult(
        metrics={
            "label queries / surrogate agreement on queries / held out":
                f"{n_query} / {stolen.agreement:.3f} / {held_out_agreement:.3f}",
            "surrogate test accuracy (held out)": f"{surrogate_accuracy:.3f}",
            **{f"ε = {e}: transfer / noise success on victim": f"{rows[e][0]:.3f} / {rows[e][1]:.3f}"
               for e in eps_grid},
            **{f"ε = {e}: transfer success on the adversarially trained model": f"{rows[e][3]:.3f}"
               for e in (0.1, 0.2)},
        },
        figures=[path],
        summary=f"Adversarial examples transfer: at ε = 0.1 perturbations computed on a surrogate that never saw "
                f"the victim's weights, only {n_query} of its labels, fool the victim on {rows[0.1][0]:.0%} of the "
                f"digits (the surrogate itself on {rows[0.1][2]:.0%}), random noise of the same ‖δ‖∞ on "
                f"{rows[0.1][1]:.0%}. The adversarially trained model is fooled on {rows[0.1][3]:.0%} by the same "
                "transferred examples: the direction of δ matters, not its size.",
    )


__all__ = [
    "DigitsModels",
    "adv_accuracy_vs_eps",
    "adv_blackbox_queries",
    "adv_examples",
    "adv_transfer",
    "digits_models",
    "predict",
    "predicted_label",
    "train_robust",
]
