"""Chapter 6 studies: k-means (elbow, failure modes) and Gaussian mixtures (contours, hard vs soft EM)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.studies import StudyContext, StudyResult, savefig, study
from jaxml.unsupervised import (
    elbow_point,
    gmm_fit,
    gmm_init,
    gmm_restarts,
    gmm_score_samples,
    kmeans_elbow,
    kmeans_restarts,
)

CHAPTER = "6. Unsupervised learning"


def _blobs(key, n, centers, stds, fractions=None):
    """n points from isotropic Gaussians around ``centers`` with per-cluster std and sizes."""
    centers = np.asarray(centers, float)
    k = len(centers)
    fractions = np.full(k, 1.0 / k) if fractions is None else np.asarray(fractions, float)
    counts = np.floor(fractions * n).astype(int)
    counts[0] += n - counts.sum()
    key_noise, key_perm = jax.random.split(key)
    noise = np.asarray(jax.random.normal(key_noise, (n, centers.shape[1]), jnp.float64))
    labels = np.repeat(np.arange(k), counts)
    X = centers[labels] + noise * np.asarray(stds, float)[labels][:, None]
    perm = np.asarray(jax.random.permutation(key_perm, n))
    return X[perm], labels[perm]


def plot_elbow(ks, inertias, *, ax=None, mark=True):
    """The elbow plot: the final WCSS J(K) = Σ_n ‖x_n − μ_{z_n}‖² against K, with the elbow
    K* = ``elbow_point(ks, inertias)`` marked (three Ks or more). Returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ks = np.asarray(ks)
    inertias = np.asarray(inertias)
    ax.plot(ks, inertias, "o-", color="C0")
    if mark and ks.size >= 3:
        k_star = elbow_point(ks, inertias)
        ax.plot([k_star], [inertias[list(ks).index(k_star)]], "s", ms=12, mfc="none", color="C3",
                label=f"elbow K = {k_star}")
        ax.legend()
    ax.set_xlabel("number of clusters K")
    ax.set_ylabel("WCSS  Σₙ ‖xₙ − μ_{zₙ}‖²")
    ax.set_title("Elbow method")
    return ax


def _adjusted_rand(a, b):
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


@study("kmeans_elbow", CHAPTER, "k-means: the elbow of WCSS against K")
def kmeans_elbow_study(ctx: StudyContext) -> StudyResult:
    """Best-of-restarts WCSS for K = 1..10 on five well-separated blobs, in one vmapped program."""
    import matplotlib.pyplot as plt

    n = 500 if ctx.quick else 2000
    true_k = 5
    with jax.enable_x64(True):
        centers = np.array([[0, 0], [6, 0], [0, 6], [6, 6], [3, 10]], float)
        X, _ = _blobs(ctx.key("elbow_data"), n, centers, np.full(true_k, 0.9))
        ks = list(range(1, 9 if ctx.quick else 11))
        res = kmeans_elbow(ctx.key("elbow"), X, ks, n_init=2 if ctx.quick else 5, num_local_trials=3)
        inertias = np.asarray(res.inertias)
        best, _ = kmeans_restarts(ctx.key("elbow_best"), X, true_k, n_init=4)
    k_star = elbow_point(ks, inertias)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    plot_elbow(ks, inertias, ax=ax0)
    ax1.scatter(X[:, 0], X[:, 1], c=np.asarray(best.labels), s=6, cmap="tab10")
    ax1.scatter(*np.asarray(best.centers).T, marker="x", s=120, c="k", label="centers")
    ax1.set_title(f"k-means, K = {true_k}")
    ax1.legend()
    path = savefig(fig, ctx.out_dir / "kmeans_elbow.png")
    return StudyResult(
        metrics={
            "elbow K (true 5)": str(k_star),
            "WCSS at K=4/5/6": " / ".join(f"{inertias[ks.index(k)]:.0f}" for k in (4, 5, 6)),
            "WCSS drop 4→5 vs 5→6": f"{inertias[ks.index(4)] / inertias[ks.index(5)]:.2f}× vs "
                                    f"{inertias[ks.index(5)] / inertias[ks.index(6)]:.2f}×",
        },
        figures=[path],
        summary=f"WCSS falls steeply until K = {k_star} and barely after it: the elbow recovers the "
                "five blobs.",
    )


@study("kmeans_failure_modes", CHAPTER, "k-means failure modes next to a Gaussian mixture")
def kmeans_failure_modes(ctx: StudyContext) -> StudyResult:
    """Anisotropic clusters, unequal sizes and spreads, and outliers: k-means vs a full-covariance
    GMM, scored by the adjusted Rand index against the true clusters."""
    import matplotlib.pyplot as plt

    n = 450 if ctx.quick else 1200
    n_init = 5  # restarts run as one vmap: cheap even in quick mode
    with jax.enable_x64(True):
        X_iso, y_aniso = _blobs(ctx.key("aniso"), n, [[0, 0], [4, 4], [-4, 5]], np.ones(3))
        stretch = np.array([[0.6, -0.64], [-0.41, 0.85]]) * 2.5
        X_aniso = X_iso @ stretch
        X_unequal, y_unequal = _blobs(ctx.key("unequal"), n, [[0, 0], [4.5, 0], [0, 5]], [2.2, 0.35, 0.35],
                                      fractions=[0.8, 0.1, 0.1])
        X_core, y_core = _blobs(ctx.key("outliers_core"), n, [[0, 0], [4, 0], [2, 4]], [0.6, 0.6, 0.6])
        n_out = n // 25
        outliers = 25.0 + 2.0 * np.asarray(jax.random.uniform(ctx.key("outliers"), (n_out, 2), jnp.float64,
                                                              minval=-1.0, maxval=1.0))
        X_out = np.vstack([X_core, outliers])
        y_out = np.concatenate([y_core, np.full(n_out, 3)])
        cases = [("anisotropic", X_aniso, y_aniso), ("unequal sizes / spreads", X_unequal, y_unequal),
                 ("outliers", X_out, y_out)]
        fits = []
        for i, (_, X, _) in enumerate(cases):
            km, _ = kmeans_restarts(jax.random.fold_in(ctx.key("fm_km"), i), X, 3, n_init=n_init)
            # Seeds from k-means++ points, not from the k-means partition: started from k-means'
            # labels, EM stays in k-means' wrong answer on the anisotropic data (ARI ≈ 0.45).
            gm, _ = gmm_restarts(jax.random.fold_in(ctx.key("fm_gmm"), i), X, 3, n_init=2 * n_init,
                                 method="k-means++", tol=1e-6, max_iter=300, reg_covar=1e-6)
            gm_labels = np.asarray(jnp.argmax(_joint(gm.params, X), axis=1))
            fits.append((np.asarray(km.labels), gm_labels))

    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    metrics = {}
    for j, ((name, X, y), (km_labels, gm_labels)) in enumerate(zip(cases, fits, strict=True)):
        # the outliers are scored on the three real clusters only
        mask = y < 3
        ari_km = _adjusted_rand(y[mask], km_labels[mask])
        ari_gm = _adjusted_rand(y[mask], gm_labels[mask])
        metrics[f"ARI {name}: k-means / GMM"] = f"{ari_km:.2f} / {ari_gm:.2f}"
        for row, (labels, title) in enumerate([(km_labels, "k-means"), (gm_labels, "GMM (full)")]):
            ax = axes[row, j]
            ax.scatter(X[:, 0], X[:, 1], c=labels, s=5, cmap="tab10")
            ax.set_title(f"{title}: {name}\nARI = {ari_km if row == 0 else ari_gm:.2f}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    path = savefig(fig, ctx.out_dir / "kmeans_failure_modes.png")
    return StudyResult(
        metrics=metrics,
        figures=[path],
        summary="k-means cuts space into Voronoi cells of equal-ish size: it splits stretched clusters, "
                "moves borders into a wide cluster's tail and spends a center on far outliers; a full-"
                "covariance GMM adapts its shapes and weights (its own weakness: a component can also "
                "go to the outliers).",
    )


def _joint(params, X):
    from jaxml.unsupervised import gmm_log_prob

    return gmm_log_prob(params, jnp.asarray(X)) + jnp.log(params.weights)[None, :]


@study("gmm_contours", CHAPTER, "Gaussian mixture: density contours and component ellipses")
def gmm_contours(ctx: StudyContext) -> StudyResult:
    """A 3-component full-covariance GMM fitted by EM (k-means init) to 2-D data with correlated,
    unequal clusters: log-density contours and the 2σ ellipse of every component."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    n = 600 if ctx.quick else 1500
    with jax.enable_x64(True):
        X0, y = _blobs(ctx.key("contour_data"), n, [[0, 0], [5, 1], [1, 5]], [1.0, 0.7, 0.5],
                       fractions=[0.5, 0.3, 0.2])
        shear = np.where(y[:, None] == 0, X0 @ np.array([[1.0, 0.0], [0.9, 0.6]]), X0)
        X = shear
        p0 = gmm_init(ctx.key("contour_init"), X, 3, method="kmeans")
        res = gmm_fit(X, p0, tol=1e-8, max_iter=500)
        params = res.params
        lo, hi = X.min(0) - 1.5, X.max(0) + 1.5
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        log_density = np.asarray(gmm_score_samples(params, grid)).reshape(gx.shape)
        labels = np.asarray(jnp.argmax(_joint(params, X), axis=1))

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.contour(gx, gy, log_density, levels=np.linspace(log_density.max() - 8, log_density.max(), 12),
               cmap="viridis", linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=labels, s=4, cmap="tab10", alpha=0.6)
    for k in range(3):
        cov = np.asarray(params.covariances[k])
        vals, vecs = np.linalg.eigh(cov)
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))
        ax.add_patch(Ellipse(np.asarray(params.means[k]), 4 * np.sqrt(vals[-1]), 4 * np.sqrt(vals[0]),
                             angle=angle, fill=False, lw=2, color="C3"))
    ax.set_title("GMM (full covariance): log-density contours, 2σ ellipses")
    path = savefig(fig, ctx.out_dir / "gmm_contours.png")
    ari = _adjusted_rand(y, labels)
    return StudyResult(
        metrics={
            "mean log-likelihood": f"{float(res.lower_bound):.4f}",
            "EM steps": str(int(res.n_iter)),
            "weights (true 0.5/0.3/0.2)": " / ".join(f"{w:.2f}" for w in sorted(np.asarray(params.weights))[::-1]),
            "ARI vs true components": f"{ari:.3f}",
        },
        figures=[path],
        summary="EM from a k-means start recovers the sheared, unequal components: the ellipses follow "
                "each cluster's covariance and the weights match the cluster sizes.",
    )


@study("em_hard_vs_soft", CHAPTER, "EM: log-likelihood per step, hard vs soft")
def em_hard_vs_soft(ctx: StudyContext) -> StudyResult:
    """From the same random-point initialization, soft EM climbs the log-likelihood monotonically;
    hard EM (one-hot responsibilities) maximizes the classification likelihood instead and
    typically stops lower."""
    import matplotlib.pyplot as plt

    n = 600 if ctx.quick else 2000
    steps = 40 if ctx.quick else 100
    with jax.enable_x64(True):
        X, _ = _blobs(ctx.key("em_data"), n, [[0, 0], [2.5, 0], [1, 2.5]], [1.0, 1.0, 0.8])
        p0 = gmm_init(ctx.key("em_init"), X, 3, method="random_from_data")
        soft = gmm_fit(X, p0, tol=0.0, max_iter=steps)
        hard = gmm_fit(X, p0, hard=True, tol=0.0, max_iter=steps)
    ll_soft = np.asarray(soft.log_likelihood_history)
    ll_hard = np.asarray(hard.log_likelihood_history)
    obj_hard = np.asarray(hard.elbo_history)
    monotone = bool(np.all(np.diff(ll_soft) >= -1e-10 * np.abs(ll_soft[:-1])))

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    it = np.arange(1, steps + 1)
    ax.plot(it, ll_soft, label="soft EM: log-likelihood")
    ax.plot(it, ll_hard, label="hard EM: log-likelihood")
    ax.plot(it, obj_hard, "--", label="hard EM: Σ log p(x, z*) (its objective)")
    ax.set_xlabel("EM step")
    ax.set_ylabel("per-point value")
    ax.set_xscale("log")
    ax.legend(fontsize=8)
    ax.set_title("Hard vs soft EM from the same start")
    path = savefig(fig, ctx.out_dir / "em_hard_vs_soft.png")
    return StudyResult(
        metrics={
            "final log-likelihood soft / hard": f"{ll_soft[-1]:.4f} / {ll_hard[-1]:.4f}",
            "soft EM monotone": str(monotone),
            "hard EM objective (final)": f"{obj_hard[-1]:.4f}",
        },
        figures=[path],
        summary="Soft EM's log-likelihood never decreases and ends above hard EM's; hard EM's own "
                "objective (the complete-data likelihood at z*) rises but sits below the log-likelihood.",
    )


__all__ = ["em_hard_vs_soft", "gmm_contours", "kmeans_elbow_study", "kmeans_failure_modes", "plot_elbow"]
