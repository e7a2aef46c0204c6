"""Benchmarks of the adversarial chapter: ``jaxml.adversarial`` attacks and adversarial training
against the same computations in PyTorch (CPU), or against our own one-query-at-a-time loop.

The model of the white-box rows is the digits CNN (``jaxml.nn.models.CNN``, conv3x3(32)–pool–
conv3x3(64)–pool–128–10 on scikit-learn's 8×8×1 digits, pixels in [0, 1]) trained for
``CNN_TRAIN_STEPS`` Adam steps by ``train_classifier`` (cached: trained once per process). Its
torch twin is ``jaxml.bench.nn.torch_cnn`` with the same weights (NCHW inputs, flattened in NHWC
order) in two variants: torch's own ``MaxPool2d``, and ``amax`` over 2×2 blocks, which splits the
gradient of a tied window evenly as ``jnp.max`` does (``MaxPool2d`` sends it to one input; on the
digits' zero background the pooled units are relu(bias), tied in every window, so only the amax
twin follows jaxml's input gradient there). PyTorch is timed for both variants at 1 and 2
intra-op threads, every call alternating with jaxml's in rounds (``time_interleaved``), and its
best is the reference time (variant and threads in the notes); the reference quality is the amax
twin's, with the MaxPool2d one's in the notes.

Rows (size 1.0):
- ``adv_pgd20``: untargeted PGD-20, L∞, ε = 0.1, step α = 2.5 ε / 20, no random start, on the
  first 1 000 digits: ``pgd(predict, params, X, y, ...)`` then ``np.asarray`` vs the same
  iteration written in torch on the whole batch at once,
  xᵗ⁺¹ = clip(x + clip(xᵗ + α sign(∇ₓ Σₙ ℓₙ) − x, −ε, ε), 0, 1), ℓ the softmax cross-entropy
  (the sum over the batch: each example's gradient is its own). Both start from x⁰ = x, so
  they are deterministic; the quality is the success rate (fraction of the N examples
  misclassified after the attack) of each side's points; the amax twin's points equal jaxml's
  except where a gradient coordinate at float32 rounding level flipped sign (~4% of the
  examples, a few pixels each; in float64 they are equal, tested). Examples/s in the
  notes. Goal 1.5×.
- ``adv_score_queries``: the score-based (black-box) attack, NES estimator (``num_queries`` = 50
  antithetic queries per step, σ = 10⁻³), 10 steps, ε = 0.2, on 100 digits against a small
  digits MLP 64–32–10: the library's batched call ``score_based_attack`` (all the queries of a
  step of all the examples in one vmapped program) vs the same attack issuing one query at a time
  (a Python loop calling a jitted score function on one input per query, as a user without
  batching would; it draws the same Gaussian directions from the same keys, so both attacks are
  the same computation). The reference is our own JAX code, not another library. Both spend the
  same queries; times are per call, queries/s in the notes; the quality is the success rate of
  each. Goal 20×.
- ``adv_train_epoch``: one epoch's worth of adversarial training (⌊N/B⌋ = 11 steps, B = 128,
  PGD-7 L∞ ε = 0.1 inside each step, Adam 10⁻³) of the digits CNN from its trained weights on the
  1 437 training digits: ``adversarial_train`` (``fit`` on ``make_adversarial_loss``) vs the
  same loop in torch with the same weights, the same
  minibatch indices (those ``fit`` draws) and the same PGD random starts (δ⁰ drawn with
  ``fit``'s step keys, handed to torch), so the losses agree to float32 rounding.
  Quality: the mean adversarial training loss over the epoch; the clean and PGD-20 test
  accuracies after the epoch (each side attacking its own model) are in the notes. torch's Adam
  is its default implementation: the seven PGD steps of each step dominate, and ``fused=True``
  took the same time (an epoch in 0.498 s with the default, 0.500 s fused, median of six each).
  Reported.
On CPU ``pgd`` (and the PGD inside ``make_adversarial_loss``) splits a batch into one chunk per
core (at least 64 examples each, ``jaxml.core.parallel.slice_bounds``): independent branches that
XLA:CPU runs concurrently, 1.4× faster on PGD-20 here and ~1.8× on the training epoch, same points.
PyTorch is optional: without it the entries are skipped.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.adversarial.attacks import _random_ball, pgd, project, softmax_cross_entropy
from jaxml.adversarial.blackbox import score_based_attack
from jaxml.adversarial.training import _PGD_STREAM, adversarial_train, as_predict
from jaxml.bench.harness import BenchResult, import_torch, register, time_against_torch, time_jax, time_reference
from jaxml.bench.nn import ADAM, LEARNING_RATE, _indices, _load_avg, torch_adam, torch_cnn
from jaxml.core.train import step_key
from jaxml.nn.models import CNN, MLP, load_digits_images, train_classifier

CNN_TRAIN_STEPS, MLP_TRAIN_STEPS = 300, 500
PGD_N, PGD_STEPS, PGD_EPS = 1000, 20, 0.1
SCORE_N, SCORE_STEPS, SCORE_QUERIES, SCORE_EPS, SCORE_SIGMA = 100, 10, 50, 0.2, 1e-3
TRAIN_BATCH, TRAIN_ATTACK_STEPS, TRAIN_EPS, EVAL_PGD_STEPS = 128, 7, 0.1, 20


# ---- models (trained once per process)


@functools.lru_cache(maxsize=1)
def digits_data():
    """(X_train, y_train, X_test, y_test) of ``load_digits_images`` and (X_all, y_all), the
    train and test images concatenated (1 797)."""
    X_tr, y_tr, X_te, y_te = load_digits_images()
    return (X_tr, y_tr, X_te, y_te), (np.concatenate([X_tr, X_te]), np.concatenate([y_tr, y_te]))


@functools.lru_cache(maxsize=1)
def digits_cnn():
    """(model, params): the digits CNN after ``CNN_TRAIN_STEPS`` Adam(3·10⁻³) steps, B = 64."""
    (X_tr, y_tr, _, _), _ = digits_data()
    model = CNN(channels=(32, 64), dense=128, num_classes=10, in_channels=1)
    # float32 whoever calls first: the cached network must not depend on the caller's x64 mode
    with jax.enable_x64(False):
        run = train_classifier(model, X_tr, y_tr, key=jax.random.key(0), num_steps=CNN_TRAIN_STEPS, batch_size=64,
                               optimizer=optax.adam(3e-3), progress=False)
        return model, jax.block_until_ready(run.params)


@functools.lru_cache(maxsize=1)
def digits_mlp():
    """(score_fn, params): a 64–32–10 MLP trained ``MLP_TRAIN_STEPS`` Adam(3·10⁻³) steps, B = 64, on
    the digits, and its black box ``score_fn(x) -> logits (10,)`` for one 8×8×1 image (one query per
    call)."""
    (X_tr, y_tr, _, _), _ = digits_data()
    model = MLP((32, 10))
    with jax.enable_x64(False):  # as in digits_cnn
        run = train_classifier(model, X_tr, y_tr, key=jax.random.key(0), num_steps=MLP_TRAIN_STEPS, batch_size=64,
                               optimizer=optax.adam(3e-3), progress=False)
        params = jax.block_until_ready(run.params)

    def score_fn(x):
        return model.apply({"params": params}, x[None])[0]

    return score_fn, params


def _predicted(predict, params, X):
    return np.asarray(jnp.argmax(jax.vmap(lambda v: predict(params, v))(jnp.asarray(X)), -1))


# ---- the PyTorch twin of PGD


def torch_pgd(torch, net, X, y, *, eps, steps, step_size, start=None):
    """L∞ PGD in torch on the whole batch: xᵗ⁺¹ = clip(x + clip(xᵗ + α sign(g) − x, −ε, ε), 0, 1),
    g = ∇ₓ Σₙ CE(net(xₙ), yₙ), x⁰ = ``start`` (default x). The projection is written as
    ``jaxml.adversarial.attacks.project`` writes it, so both round alike."""
    x_adv = X.clone() if start is None else start.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(net(x_adv), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            delta = (x_adv + step_size * g.sign() - X).clamp(-eps, eps)
            x_adv = (X + delta).clamp(0.0, 1.0)
    return x_adv.detach()


def _to_nchw(torch, X):
    return torch.from_numpy(np.ascontiguousarray(np.transpose(X, (0, 3, 1, 2))))


def torch_cnn_twin(torch, params, *, pool: str = "amax"):
    """``torch_cnn`` with the same weights; ``pool="amax"`` replaces each ``MaxPool2d`` by the max
    over 2×2 blocks (``amax``), whose gradient is split evenly among tied maxima as ``jnp.max``'s
    is (``MaxPool2d`` sends it all to one). On the digits' zero background the pooled units are
    relu(bias), tied in every window, so only the ``amax`` twin follows jaxml's gradient there;
    ``pool="maxpool"`` keeps torch's own layer (faster or slower, timed as well)."""
    net = torch_cnn(torch, params)
    if pool == "maxpool":
        return net

    class BlockMaxPool(torch.nn.Module):
        def forward(self, x):
            b, c, h, w = x.shape
            return x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(b, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))

    return torch.nn.Sequential(*[BlockMaxPool() if isinstance(m, torch.nn.MaxPool2d) else m for m in net])


def _frozen_twin(torch, params, pool="amax"):
    net = torch_cnn_twin(torch, params, pool=pool)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


POOLS = ("amax", "maxpool")


def _against_torch_pools(torch, run_jaxml, run_torch):
    """``run_jaxml()`` timed in alternation with ``run_torch(pool)`` for each pool layer and thread
    count (``time_against_torch``); the fastest wins."""
    return time_against_torch(torch, run_jaxml, {pool: functools.partial(run_torch, pool) for pool in POOLS})


def _torch_predicted(torch, net, Xt):
    with torch.no_grad():
        return net(Xt).argmax(1).numpy()


@register("adv_pgd20", "adversarial")
def adv_pgd20(size: float) -> BenchResult:
    """PGD-20 L∞ (ε = 0.1, no random start) on 1 000 digits with the CNN: ``pgd`` vs torch."""
    torch = import_torch()
    n = max(8, int(round(PGD_N * size)))
    _, (X_all, y_all) = digits_data()
    X, y = X_all[:n], y_all[:n]
    model, params = digits_cnn()
    predict = as_predict(model)
    step_size = 2.5 * PGD_EPS / PGD_STEPS

    def run_jaxml():
        return np.asarray(pgd(predict, params, X, y, PGD_EPS, key=jax.random.key(0), steps=PGD_STEPS,
                              step_size=step_size, random_start=False))

    nets = {pool: _frozen_twin(torch, params, pool) for pool in POOLS}
    Xt, yt = _to_nchw(torch, X), torch.from_numpy(y.astype(np.int64))
    timed = _against_torch_pools(
        torch, run_jaxml,
        lambda pool: torch_pgd(torch, nets[pool], Xt, yt, eps=PGD_EPS, steps=PGD_STEPS, step_size=step_size))
    jaxml_s, torch_s, x_adv_j, outs = timed.jaxml_s, timed.torch_s, timed.jaxml_out, timed.torch_outs
    x_adv_t = outs["amax"]
    success_j = float(np.mean(_predicted(predict, params, x_adv_j) != y))
    success_t = float(np.mean(_torch_predicted(torch, nets["amax"], x_adv_t) != y))
    success_maxpool = float(np.mean(_torch_predicted(torch, nets["maxpool"], outs["maxpool"]) != y))
    clean = float(np.mean(_predicted(predict, params, X) == y))
    same = np.all(np.abs(x_adv_t.permute(0, 2, 3, 1).numpy() - x_adv_j).reshape(n, -1) <= 1e-6, axis=1)
    return BenchResult(
        task=f"PGD-{PGD_STEPS} Linf eps={PGD_EPS} (no random start), digits CNN 8x8x1 c(32,64)-128-10, N={n}",
        reference=f"torch {torch.__version__} CPU PGD on the batch (autograd.grad)",
        jaxml_s=jaxml_s, reference_s=torch_s, compile_s=timed.compile_s,
        quality_name="success rate (misclassified after the attack)",
        jaxml_quality=success_j, reference_quality=success_t, goal=1.5,
        notes=(f"{n / jaxml_s:.0f} examples/s (jaxml) vs {n / torch_s:.0f} (torch); PyTorch best with "
               f"pool={timed.label!r} at torch.set_num_threads({timed.threads}); {timed.speedup_range()}; "
               f"same weights, clean accuracy {clean:.3f}; "
               f"reference quality from the amax-pool twin: {int(same.sum())}/{n} of its adversarial points equal "
               f"jaxml's to 1e-6 (the others differ where a float32-level gradient coordinate flipped sign); "
               f"success rate with torch's MaxPool2d (another subgradient at tied maxima) {success_maxpool:.3f}; "
               f"{_load_avg()}"),
    )


# ---- score-based attack: batched vs one query at a time


@functools.lru_cache(maxsize=1)
def _one_query_functions():
    """Jitted pieces of the one-query-at-a-time attack: the objective on one input (one query)
    and the Gaussian directions of step t drawn as ``score_based_attack`` draws them."""
    score_fn, _ = digits_mlp()
    objective = jax.jit(lambda x, label: softmax_cross_entropy(score_fn(x), label))
    pairs = SCORE_QUERIES // 2
    directions = jax.jit(lambda k, t, shape: jax.random.normal(jax.random.fold_in(k, t), (pairs, *shape)),
                         static_argnums=2)
    return objective, directions


def one_query_at_a_time_attack(X, y, key, *, eps, steps, step_size, num_queries, sigma):
    """The NES score-based L∞ attack, one example and one query at a time:
    ĝ = (1/(2σn)) Σⱼ (f(x + σuⱼ) − f(x − σuⱼ)) uⱼ, xᵗ⁺¹ = clip(x + clip(xᵗ + α sign ĝ − x, −ε, ε), 0, 1),
    each f(·) one call of the jitted objective on one input. Returns (x', queries per example)."""
    objective, directions = _one_query_functions()
    keys = jax.random.split(key, X.shape[0])
    pairs = num_queries // 2
    sigma, step_size, eps = np.float32(sigma), np.float32(step_size), np.float32(eps)
    out = np.empty_like(X)
    for i in range(X.shape[0]):
        x0, label, x_t = X[i], int(y[i]), X[i].copy()
        for t in range(steps):
            u = np.asarray(directions(keys[i], t, x0.shape))
            plus = np.array([float(objective(x_t + sigma * u[j], label)) for j in range(pairs)], np.float32)
            minus = np.array([float(objective(x_t - sigma * u[j], label)) for j in range(pairs)], np.float32)
            g = np.tensordot(plus - minus, u, axes=1) / (2 * sigma * pairs)
            x_t = np.clip(x0 + np.clip(x_t + step_size * np.sign(g) - x0, -eps, eps), 0.0, 1.0)
        out[i] = x_t
    return out, steps * num_queries


@register("adv_score_queries", "adversarial")
def adv_score_queries(size: float) -> BenchResult:
    """Score-based NES attack on 100 digits vs a digits MLP: batched ``score_based_attack`` vs
    one query at a time (our own jitted score function in a Python loop)."""
    n = max(2, int(round(SCORE_N * size)))
    _, (X_all, y_all) = digits_data()
    X, y = X_all[:n], y_all[:n]
    score_fn, params = digits_mlp()
    key = jax.random.key(0)
    step_size = 2.5 * SCORE_EPS / SCORE_STEPS
    kwargs = dict(steps=SCORE_STEPS, step_size=step_size, num_queries=SCORE_QUERIES, sigma=SCORE_SIGMA)

    def run_batched():
        x_adv, queries = score_based_attack(score_fn, X, y, SCORE_EPS, estimator="nes", key=key, **kwargs)
        return np.asarray(x_adv), queries

    compile_s, batched_s, (x_adv_b, queries_b) = time_jax(run_batched)
    loop_s, (x_adv_l, queries_l) = time_reference(
        lambda: one_query_at_a_time_attack(X, y, key, eps=SCORE_EPS, **kwargs))
    predict = lambda _, v: score_fn(v)  # noqa: E731
    success_b = float(np.mean(_predicted(predict, None, x_adv_b) != y))
    success_l = float(np.mean(_predicted(predict, None, x_adv_l) != y))
    clean = float(np.mean(_predicted(predict, None, X) == y))
    total = n * queries_b
    same = np.all(np.abs(x_adv_b - x_adv_l).reshape(n, -1) <= 1e-6, axis=1)
    return BenchResult(
        task=(f"score-based NES attack Linf eps={SCORE_EPS}, {SCORE_STEPS} steps x {SCORE_QUERIES} queries, "
              f"digits MLP 64-32-10, N={n} ({total} queries)"),
        reference="the same attack, one query per jitted call in a Python loop (our own JAX code)",
        jaxml_s=batched_s, reference_s=loop_s, compile_s=compile_s,
        quality_name="success rate (misclassified after the attack)",
        jaxml_quality=success_b, reference_quality=success_l, goal=20.0,
        notes=(f"{total / batched_s:.3g} queries/s (batched) vs {total / loop_s:.3g} (one at a time); "
               f"queries per example {queries_b} vs {queries_l}; same directions from the same keys: "
               f"{int(same.sum())}/{n} adversarial points identical to 1e-6; clean accuracy {clean:.3f}; "
               f"{_load_avg()}"),
    )


# ---- adversarial training: one epoch


def _pgd_starts(run_key, X, idx, eps):
    """δ⁰ of every step's PGD random start as ``make_adversarial_loss`` draws them inside ``fit``:
    the per-example keys split from fold_in(step_key(run_key, t), stream), δ⁰ ~ U([−ε, ε]ᴰ),
    returned as the projected start x⁰ = Π(x + δ⁰) per step, (T, B, ...)."""

    def starts(t, rows):
        x = X[rows]
        keys = jax.random.split(jax.random.fold_in(step_key(run_key, t), _PGD_STREAM), x.shape[0])
        delta = jax.vmap(lambda k, v: _random_ball(k, v.shape, eps, "linf", v.dtype))(keys, x)
        return jax.vmap(lambda v, d: project(v + d, v, eps, norm="linf", clip=(0.0, 1.0)))(x, delta)

    return np.asarray(jax.vmap(starts)(jnp.arange(idx.shape[0]), jnp.asarray(idx)))


def torch_adversarial_epoch(torch, make_net, Xt, yt, idx, starts, *, eps, attack_steps, step_size):
    """The adversarial training loop in torch: per step PGD from the given start on the minibatch,
    then the mean cross-entropy at the attack points, backward, ``Adam.step``. Returns (losses, net)."""
    net = make_net()
    opt = torch_adam(torch, net)
    losses = []
    for t in range(idx.shape[0]):
        xb, yb = Xt[idx[t]], yt[idx[t]]
        x_adv = torch_pgd(torch, net, xb, yb, eps=eps, steps=attack_steps, step_size=step_size, start=starts[t])
        loss = torch.nn.functional.cross_entropy(net(x_adv), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses).numpy(), net


@register("adv_train_epoch", "adversarial")
def adv_train_epoch(size: float) -> BenchResult:
    """One epoch of PGD-7 adversarial training of the digits CNN, B = 128, through ``fit`` vs torch."""
    torch = import_torch()
    (X_tr, y_tr, X_te, y_te), _ = digits_data()
    n_train = max(TRAIN_BATCH, int(round(X_tr.shape[0] * min(size, 1.0))))
    X, y = X_tr[:n_train], y_tr[:n_train]
    steps = max(1, n_train // TRAIN_BATCH)
    model, params = digits_cnn()
    predict = as_predict(model)
    run_key = jax.random.key(1)
    step_size = 2.5 * TRAIN_EPS / TRAIN_ATTACK_STEPS

    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def run_jaxml():
        result = adversarial_train(model, params, Xj, yj, key=run_key, eps=TRAIN_EPS, num_steps=steps,
                                   attack_steps=TRAIN_ATTACK_STEPS, step_size=step_size, batch_size=TRAIN_BATCH,
                                   tx=ADAM, progress=False)
        return result.state.params, result.history["loss"]

    idx = _indices(run_key, steps, n_train, TRAIN_BATCH)
    starts = _pgd_starts(run_key, jnp.asarray(X), idx, TRAIN_EPS)
    Xt, yt = _to_nchw(torch, X), torch.from_numpy(y.astype(np.int64))
    starts_t = torch.from_numpy(np.array(np.transpose(starts, (0, 1, 4, 2, 3))))
    idx_t = torch.from_numpy(idx.astype(np.int64))
    timed = _against_torch_pools(
        torch, run_jaxml,
        lambda pool: torch_adversarial_epoch(torch, lambda: torch_cnn_twin(torch, params, pool=pool), Xt, yt,
                                             idx_t, starts_t, eps=TRAIN_EPS, attack_steps=TRAIN_ATTACK_STEPS,
                                             step_size=step_size))
    params_j, losses_j = timed.jaxml_out
    outs = timed.torch_outs
    losses_t, net = outs["amax"]
    # after the epoch: clean and PGD-20 (no random start) test accuracy, each side attacking its own model
    eval_step = 2.5 * TRAIN_EPS / EVAL_PGD_STEPS
    x_adv_j = pgd(predict, params_j, X_te, y_te, TRAIN_EPS, key=run_key, steps=EVAL_PGD_STEPS, step_size=eval_step,
                  random_start=False)
    clean_j = float(np.mean(_predicted(predict, params_j, X_te) == y_te))
    robust_j = float(np.mean(_predicted(predict, params_j, x_adv_j) == y_te))
    for p in net.parameters():
        p.requires_grad_(False)
    Xt_te, yt_te = _to_nchw(torch, X_te), torch.from_numpy(y_te.astype(np.int64))
    x_adv_t = torch_pgd(torch, net, Xt_te, yt_te, eps=TRAIN_EPS, steps=EVAL_PGD_STEPS, step_size=eval_step)
    clean_t = float(np.mean(_torch_predicted(torch, net, Xt_te) == y_te))
    robust_t = float(np.mean(_torch_predicted(torch, net, x_adv_t) == y_te))
    return BenchResult(
        task=(f"adversarial training epoch ({steps} steps, B={TRAIN_BATCH}, PGD-{TRAIN_ATTACK_STEPS} Linf "
              f"eps={TRAIN_EPS}, Adam {LEARNING_RATE:g}), digits CNN, N={n_train}"),
        reference=f"torch {torch.__version__} CPU loop: PGD (autograd.grad) + torch.optim.Adam",
        jaxml_s=timed.jaxml_s, reference_s=timed.torch_s, compile_s=timed.compile_s,
        quality_name="mean adversarial training loss over the epoch",
        jaxml_quality=float(np.mean(losses_j)), reference_quality=float(np.mean(losses_t)), goal=None,
        notes=(f"seconds per epoch; adversarial_train (minibatches "
               f"with replacement, fit's default sampler; torch replays the same indices and PGD random starts); "
               f"PyTorch best with pool={timed.label!r} at torch.set_num_threads({timed.threads}); "
               f"{timed.speedup_range()}; quality of the amax-pool "
               f"twin; mean loss with MaxPool2d {float(np.mean(outs['maxpool'][0])):.6f}; "
               f"first-step loss {losses_j[0]:.6f} (jaxml) vs {losses_t[0]:.6f} "
               f"(torch); after the epoch, test accuracy clean {clean_j:.3f} vs {clean_t:.3f}, under PGD-"
               f"{EVAL_PGD_STEPS} eps={TRAIN_EPS} {robust_j:.3f} vs {robust_t:.3f} (jaxml vs torch); {_load_avg()}"),
    )


__all__ = [
    "adv_pgd20",
    "adv_score_queries",
    "adv_train_epoch",
    "digits_cnn",
    "digits_data",
    "digits_mlp",
    "one_query_at_a_time_attack",
    "torch_adversarial_epoch",
    "torch_cnn_twin",
    "torch_pgd",
]
