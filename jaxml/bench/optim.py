"""Benchmarks of the course's optimizers: ``jaxml.core.train.fit`` against a PyTorch CPU loop.

Task (size 1.0): least squares J(w) = (1/2B)‖y_B − X_B w‖² on N = 20 000 samples, D = 100
features, minibatches of B = 128, 2 000 steps, for SGD, momentum and Adam. Both sides see the
same data and the same minibatch indices (those ``fit`` draws: randint(fold_in(key, t), (B,),
0, N)), so their final parameters agree to float32 rounding; the quality reported is the final
full-data loss J(w_T) of each. PyTorch runs the usual loop: index, forward, ``backward``,
``torch.optim`` step (its ``SGD(momentum=β)`` with lr γ(1−β) is the course's EMA momentum),
with one intra-op thread, its fastest setting for operations this small, and the faster of its
default and ``fused=True`` optimizer implementations (``torch_optimizer_runs``); the two sides'
calls alternate in rounds (``time_against_torch``).
jaxml runs the 2 000 steps as one compiled ``lax.scan``. Goal: 2× PyTorch's steps/s.
PyTorch is optional: without it the entries are skipped.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.bench.harness import BenchResult, import_torch, register, time_against_torch, torch_optimizer_runs
from jaxml.core.train import batch_indices, fit
from jaxml.optim import adam, momentum, sgd

DIM, BATCH, STEPS, BASE_N = 100, 128, 2000, 20_000
LEARNING_RATES = {"sgd": 0.05, "momentum": 0.05, "adam": 0.01}
BETA = 0.9


def least_squares(w, batch):
    """J_B(w) = (1/2B) ‖y_B − X_B w‖² on the minibatch ``batch = (X_B, y_B)``."""
    X, y = batch
    return 0.5 * jnp.mean((y - X @ w) ** 2)


# Built once: the optimizer objects key fit's compile cache.
OPTIMIZERS = {
    "sgd": sgd(LEARNING_RATES["sgd"]),
    "momentum": momentum(LEARNING_RATES["momentum"], BETA),
    "adam": adam(LEARNING_RATES["adam"]),
}


@functools.lru_cache(maxsize=4)
def _problem(n: int):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, DIM)).astype(np.float32)
    w_true = rng.normal(size=DIM).astype(np.float32)
    y = (X @ w_true + 0.1 * rng.normal(size=n)).astype(np.float32)
    key = jax.random.key(0)
    steps = jnp.arange(STEPS)
    indices = np.asarray(jax.vmap(lambda t: batch_indices(key, t, n, BATCH))(steps))
    return X, y, key, indices


def _full_loss(X, y, w) -> float:
    w = np.asarray(w, np.float64)
    return float(0.5 * np.mean((y.astype(np.float64) - X.astype(np.float64) @ w) ** 2))


def _torch_run(torch, name, Xt, yt, idx, options):
    w = torch.zeros(DIM, requires_grad=True)
    lr = LEARNING_RATES[name]
    if name == "sgd":
        opt = torch.optim.SGD([w], lr=lr, **options)
    elif name == "momentum":
        opt = torch.optim.SGD([w], lr=lr * (1 - BETA), momentum=BETA, **options)
    else:
        opt = torch.optim.Adam([w], lr=lr, betas=(0.9, 0.999), eps=1e-8, **options)
    for t in range(idx.shape[0]):
        rows = idx[t]
        loss = 0.5 * torch.mean((yt[rows] - Xt[rows] @ w) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return w.detach().numpy().copy()


def _compare(name: str, size: float) -> BenchResult:
    torch = import_torch()
    n = max(BATCH, int(BASE_N * size))
    X, y, key, indices = _problem(n)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    tx = OPTIMIZERS[name]
    w0 = jnp.zeros(DIM, jnp.float32)

    def run_jaxml():
        result = fit(
            least_squares,
            tx,
            w0,
            (Xj, yj),
            key=key,
            num_steps=STEPS,
            batch_size=BATCH,
            progress=False,
        )
        return result.state.params

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    idx = torch.from_numpy(indices.astype(np.int64))
    # One intra-op thread is PyTorch's fastest setting for 128×100 operations: with two, its
    # threads spin against each other (measured ~10× slower on the shared 2-core machine).
    timed = time_against_torch(torch, run_jaxml,
                               torch_optimizer_runs(lambda options: _torch_run(torch, name, Xt, yt, idx, options)),
                               thread_counts=(1,))
    jaxml_s, torch_s, w_jax, w_torch = timed.jaxml_s, timed.torch_s, timed.jaxml_out, timed.torch_outs[timed.label]

    diff = float(np.max(np.abs(np.asarray(w_jax) - w_torch)))
    return BenchResult(
        task=f"least squares, {name}, N={n} D={DIM}, B={BATCH}, {STEPS} steps",
        reference=f"torch {torch.__version__} CPU loop + torch.optim",
        jaxml_s=jaxml_s,
        reference_s=torch_s,
        compile_s=timed.compile_s,
        quality_name="final full-data loss J(w_T)",
        jaxml_quality=_full_loss(X, y, w_jax),
        reference_quality=_full_loss(X, y, w_torch),
        goal=2.0,
        notes=(
            f"{name}: jaxml.fit {STEPS / jaxml_s:,.0f} steps/s vs PyTorch {STEPS / torch_s:,.0f} "
            f"steps/s (torch.set_num_threads(1), optimizer {timed.label}); {timed.speedup_range()}; "
            f"same minibatch indices, max |w_jaxml − w_torch| = {diff:.2e}"
        ),
    )


@register("optimizers_vs_torch_sgd", "optim")
def optimizers_vs_torch_sgd(size: float) -> BenchResult:
    """Mini-batch SGD: ``fit`` with ``jaxml.optim.sgd`` vs ``torch.optim.SGD``."""
    return _compare("sgd", size)


@register("optimizers_vs_torch_momentum", "optim")
def optimizers_vs_torch_momentum(size: float) -> BenchResult:
    """EMA momentum: ``fit`` with ``jaxml.optim.momentum`` vs ``torch.optim.SGD(momentum=β)``."""
    return _compare("momentum", size)


@register("optimizers_vs_torch_adam", "optim")
def optimizers_vs_torch_adam(size: float) -> BenchResult:
    """Adam: ``fit`` with ``jaxml.optim.adam`` vs ``torch.optim.Adam``."""
    return _compare("adam", size)


__all__ = [
    "least_squares",
    "optimizers_vs_torch_adam",
    "optimizers_vs_torch_momentum",
    "optimizers_vs_torch_sgd",
]
