"""Chapter 6 study: matrix factorization of a ratings matrix with 95% missing entries (SGD vs ALS,
choosing K by validation RMSE)."""

from __future__ import annotations

import numpy as np

from jaxml.studies import StudyContext, StudyResult, savefig, study
from jaxml.unsupervised import (
    make_als_data,
    make_low_rank_ratings,
    mf_als,
    mf_init,
    mf_select_rank,
    mf_sgd,
    split_ratings,
)

CHAPTER = "6. Unsupervised learning"


@study("matrix_factorization", CHAPTER, "Matrix factorization: SGD vs ALS, and K by validation RMSE")
def matrix_factorization(ctx: StudyContext) -> StudyResult:
    """Train/validation RMSE per epoch of SGD and ALS, and validation RMSE against K.

    Data: ``make_low_rank_ratings`` (true rank 3, noise σ = 0.3, 5% of the entries observed),
    80% of the observed entries for training and 20% held out. Objective
    (1/|Ω|)·½Σ_Ω(x − wᵀz)² + (λ/2)(‖W‖² + ‖Z‖²) with λ = 1/|Ω| (ALS ridge constant λ' = 1).
    """
    import matplotlib.pyplot as plt

    num_rows, num_cols = (400, 300) if ctx.quick else (1000, 800)
    observed = 0.15 if ctx.quick else 0.05
    true_rank, noise = 3, 0.3
    epochs = 8 if ctx.quick else 25
    ranks = [1, 3, 8] if ctx.quick else [1, 2, 3, 4, 6, 8, 12, 16]
    shape = (num_rows, num_cols)

    problem = make_low_rank_ratings(ctx.key("mf-data"), num_rows, num_cols, true_rank, noise=noise, observed=observed)
    train, valid = split_ratings(ctx.key("mf-split"), problem.ratings, 0.2)
    m = int(train.values.shape[0])
    lam = 1.0 / m
    init = mf_init(ctx.key("mf-init"), num_rows, num_cols, true_rank)

    data = make_als_data(train, shape)
    als_result = mf_als(init, data, lam, num_sweeps=epochs, valid=valid)
    batch_size = 256
    sgd_result = mf_sgd(
        init,
        train,
        key=ctx.key("mf-sgd"),
        lam=lam,
        learning_rate=0.1 * batch_size,
        batch_size=batch_size,
        num_epochs=epochs,
        valid=valid,
    )
    selection = mf_select_rank(ctx.key("mf-rank"), train, valid, shape, ranks, lam=lam, num_sweeps=epochs)

    als_hist = {k: np.asarray(v) for k, v in als_result.history.items()}
    sgd_hist = sgd_result.history
    epoch_axis = np.arange(1, epochs + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(epoch_axis, als_hist["train_rmse"], "C0--", label="ALS train")
    ax.plot(epoch_axis, als_hist["valid_rmse"], "C0-", label="ALS validation")
    ax.plot(epoch_axis, sgd_hist["train_rmse"], "C1--", label="SGD train")
    ax.plot(epoch_axis, sgd_hist["valid_rmse"], "C1-", label="SGD validation")
    ax.axhline(noise, color="gray", lw=0.8, ls=":", label=f"noise σ = {noise}")
    ax.set(xlabel="epoch (SGD) / sweep (ALS)", ylabel="RMSE", yscale="log",
           title=f"{num_rows}×{num_cols}, {observed:.0%} observed, K = {true_rank}")
    ax.legend(fontsize=8)
    curves = savefig(fig, ctx.out_dir / "matrix_factorization_rmse.png")

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(selection.ranks, selection.train_rmse, "o--", label="train")
    ax.plot(selection.ranks, selection.valid_rmse, "o-", label="validation")
    ax.axvline(selection.best_rank, color="C2", lw=0.8, label=f"chosen K = {selection.best_rank}")
    ax.axhline(noise, color="gray", lw=0.8, ls=":", label="noise σ")
    ax.set(xlabel="rank K", ylabel="RMSE after ALS", yscale="log",
           title=f"choosing K (true rank {true_rank})")
    ax.legend(fontsize=8)
    ranks_png = savefig(fig, ctx.out_dir / "matrix_factorization_rank.png")

    return StudyResult(
        metrics={
            "ALS validation RMSE": f"{als_hist['valid_rmse'][-1]:.3f} (σ = {noise})",
            "SGD validation RMSE": f"{sgd_hist['valid_rmse'][-1]:.3f}",
            "chosen K": f"{selection.best_rank} (true {true_rank})",
            "validation RMSE at chosen K": f"{selection.valid_rmse.min():.3f}",
        },
        figures=[curves, ranks_png],
        summary=(
            "After a short plateau from the small random start, ALS drops to within ~12% of the "
            "noise σ in about 8 sweeps; constant-step SGD follows at a similar pace per epoch but "
            "levels off higher (gradient noise); training RMSE keeps falling as K grows while "
            "validation RMSE is lowest at the true rank."
        ),
    )


__all__ = ["matrix_factorization"]
