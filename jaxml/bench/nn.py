"""Benchmarks of the neural-network chapter: ``jaxml.nn.models`` trained through ``fit`` against
the same nets in PyTorch (CPU).

Both sides start from the same weights (the flax parameters are copied into the torch modules:
a dense kernel W (n_in, n_out) is ``Linear.weight = Wᵀ``, a conv kernel HWIO is OIHW after a
transpose, and the torch CNN flattens in NHWC order), see the same minibatches (the indices
``fit`` draws: randint(fold_in(key, t), (B,), 0, N)) and use Adam with the same constants, so
their losses agree to float32 rounding; the quality reported is the loss after the run on each
side. PyTorch is timed at 1 and at 2 intra-op threads (``torch.set_num_threads``), and the
training rows with both of its CPU Adam implementations (the default per-tensor loop and
``fused=True``, ``TORCH_OPTIMIZER_IMPLEMENTATIONS``); its best setting is reported, with the
thread count and implementation, in the notes. The calls of both sides alternate in rounds
(``time_interleaved``), so that both medians see the same state of a machine whose speed shifts
over seconds; the notes give the speed-up of each round as well.

Rows (size 1.0):
- ``nn_mlp_step``: MLP 784–512–512–10 (ReLU), batch 256, Adam, per train step; also the GFLOP/s
  of the step (6·B·Σ n_in·n_out FLOPs: forward, and the two matmuls of the backward) and of one
  jitted 2048² float32 matmul (2n³ FLOPs) in the same run. Goal 2× PyTorch, ≥ 75% of the matmul.
- ``nn_tiny_mlp``: 2–16–16–1 tanh regression on 1 000 points, full batch, 1 000 Adam steps (one
  ``lax.scan`` in ``fit``; the ``MLP`` runs feature-major on CPU at these widths). Goal 10×.
- ``nn_cnn_step``: conv3x3(32)–pool–conv3x3(64)–pool–128–10 on 28×28×1, batch 128, Adam, per
  train step (``make_classifier_loss``'s default on CPU: the minibatch in one slice per core, at
  most 4, here 2 slices of 64). Goal 1×.
- ``nn_resnet``: the small pre-activation ResNet's forward + backward (batch-norm in training
  mode) on 32×32×3, batch 64. Reported.
The per-step rows time ``fit`` with ``grad_norm=False``: the torch loop computes no gradient norm,
and on XLA:CPU ‖g‖₂ is an extra pass over every gradient per step (~8% of the MLP step); the tiny
MLP keeps the default step, which XLA:CPU runs faster with the norm than without it.
PyTorch is optional: without it the entries are skipped.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.bench.harness import (
    BenchResult,
    import_torch,
    register,
    time_against_torch,
    time_jax,
    torch_optimizer_runs,
)
from jaxml.core.train import batch_indices, fit
from jaxml.nn.models import (
    CNN,
    MLP,
    ResNet,
    apply_model,
    cross_entropy,
    init_model,
    make_classifier_loss,
)

LEARNING_RATE = 1e-3
# Built once: the optimizer object keys fit's compile cache.
ADAM = optax.adam(LEARNING_RATE)

MLP_SIZES, MLP_BATCH, MLP_STEPS, MLP_N = (784, 512, 512, 10), 256, 100, 4096
TINY_SIZES, TINY_N, TINY_STEPS = (2, 16, 16, 1), 1000, 1000
CNN_BATCH, CNN_STEPS, CNN_N = 128, 20, 1024
RESNET_BATCH, RESNET_WIDTHS = 64, (16, 32, 64)
MATMUL_N = 2048


def _load_avg() -> str:
    try:
        return "load average {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    except OSError:
        return "load average n/a"


# ---- copying flax parameters into torch modules


def _linear(torch, layer):
    W = np.asarray(layer["kernel"])
    lin = torch.nn.Linear(W.shape[0], W.shape[1])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W.T.copy()))
        lin.bias.copy_(torch.from_numpy(np.asarray(layer["bias"]).copy()))
    return lin


def _conv(torch, layer, *, stride=1, padding=1):
    W = np.asarray(layer["kernel"])  # (F, F, C_in, C_out) -> (C_out, C_in, F, F)
    conv = torch.nn.Conv2d(W.shape[2], W.shape[3], W.shape[0], stride=stride, padding=padding,
                           bias="bias" in layer)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.transpose(W, (3, 2, 0, 1)).copy()))
        if "bias" in layer:
            conv.bias.copy_(torch.from_numpy(np.asarray(layer["bias"]).copy()))
    return conv


def _batch_norm(torch, layer):
    bn = torch.nn.BatchNorm2d(np.shape(layer["scale"])[0], eps=1e-5, momentum=0.1)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(np.asarray(layer["scale"]).copy()))
        bn.bias.copy_(torch.from_numpy(np.asarray(layer["bias"]).copy()))
    return bn


def torch_mlp(torch, params, activation="relu"):
    """The ``MLP``'s torch twin with the same weights."""
    act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[activation]
    layers = []
    for i in range(len(params)):
        layers.append(_linear(torch, params[f"dense_{i}"]))
        if i < len(params) - 1:
            layers.append(act())
    return torch.nn.Sequential(*layers)


def torch_cnn(torch, params):
    """The ``CNN``'s torch twin (NCHW inputs; flattened in NHWC order as the flax net is)."""
    n_convs = sum(name.startswith("conv_") for name in params)
    layers = []
    for i in range(n_convs):
        layers += [_conv(torch, params[f"conv_{i}"]), torch.nn.ReLU(), torch.nn.MaxPool2d(2)]

    class NHWCFlatten(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 3, 1).flatten(1)

    layers += [NHWCFlatten(), _linear(torch, params["dense_0"]), torch.nn.ReLU(),
               _linear(torch, params["dense_1"])]
    return torch.nn.Sequential(*layers)


def torch_resnet(torch, params, widths, blocks_per_stage):
    """The pre-activation ``ResNet``'s torch twin (NCHW inputs)."""
    relu = torch.nn.functional.relu

    class Block(torch.nn.Module):
        def __init__(self, p):
            super().__init__()
            self.bn_0, self.conv_0 = _batch_norm(torch, p["bn_0"]), _conv(torch, p["conv_0"])
            self.bn_1, self.conv_1 = _batch_norm(torch, p["bn_1"]), _conv(torch, p["conv_1"])

        def forward(self, x):
            return x + self.conv_1(relu(self.bn_1(self.conv_0(relu(self.bn_0(x))))))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = _conv(torch, params["stem"])
            stages = []
            for s in range(len(widths)):
                mods = []
                if s > 0:
                    mods += [_batch_norm(torch, params[f"transition_bn_{s}"]), torch.nn.ReLU(),
                             _conv(torch, params[f"transition_{s}"], stride=2, padding=1)]
                mods += [Block(params[f"block_{s}_{b}"]) for b in range(blocks_per_stage)]
                stages.append(torch.nn.Sequential(*mods))
            self.stages = torch.nn.Sequential(*stages)
            self.final_bn = _batch_norm(torch, params["final_bn"])
            self.head = _linear(torch, params["head"])

        def forward(self, x):
            x = relu(self.final_bn(self.stages(self.stem(x))))
            return self.head(x.mean(dim=(2, 3)))

    return Net()


def torch_adam(torch, net, options=None):
    """``torch.optim.Adam`` over ``net``'s parameters with ``ADAM``'s constants; ``options``: the
    implementation (``TORCH_OPTIMIZER_IMPLEMENTATIONS``)."""
    return torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8, **(options or {}))


def _torch_train(torch, make_net, loss_of, Xt, yt, idx, options=None):
    """A fresh twin trained by the usual loop: index, forward, backward, ``Adam.step``
    (``torch_adam(options)``).

    Returns (per-step losses, the trained net)."""
    net = make_net()
    opt = torch_adam(torch, net, options)
    losses = []
    for t in range(idx.shape[0]):
        rows = idx[t]
        loss = loss_of(net(Xt[rows]), yt[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses).numpy(), net


def _indices(run_key, steps, n, batch):
    return np.asarray(jax.vmap(lambda t: batch_indices(run_key, t, n, batch))(jnp.arange(steps)))


@functools.lru_cache(maxsize=4)
def _classification_data(shape, n, seed=0):
    """Inputs with a learnable signal: class k shifts the inputs' mean by a fixed pattern."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.int32)
    patterns = rng.normal(size=(10, *shape)).astype(np.float32)
    X = (rng.normal(size=(n, *shape)).astype(np.float32) + 0.5 * patterns[y]).astype(np.float32)
    return X, y


def _classifier_row(torch, name, model, X, y, steps, batch, make_twin, to_torch_input, goal, extra=""):
    key = jax.random.key(0)
    init_key, run_key = jax.random.split(key)  # as train_classifier splits it
    params, state = init_model(model, init_key, X)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    loss = make_classifier_loss(model)

    def run_jaxml():
        # train_classifier's call of fit, without the per-step ‖g‖₂ that the torch loop does not compute
        result = fit(loss, ADAM, params, (Xj, yj), key=run_key, num_steps=steps, batch_size=batch,
                     model_state=state, has_aux=True, with_key=True, progress=False, grad_norm=False)
        return result.state.params, result.history["loss"]

    idx = torch.from_numpy(_indices(run_key, steps, X.shape[0], batch).astype(np.int64))
    Xt, yt = to_torch_input(torch.from_numpy(X)), torch.from_numpy(y.astype(np.int64))
    timed = time_against_torch(torch, run_jaxml, torch_optimizer_runs(lambda options: _torch_train(
        torch, lambda: make_twin(torch, params), torch.nn.functional.cross_entropy, Xt, yt, idx, options)))
    params_j, losses_j = timed.jaxml_out
    losses_t, net = timed.torch_outs[timed.label]
    final_j = float(cross_entropy(apply_model(model, params_j, state, Xj), yj))
    with torch.no_grad():
        final_t = float(torch.nn.functional.cross_entropy(net(Xt), yt))
    step_j, step_t = timed.jaxml_s / steps, timed.torch_s / steps
    notes = (f"per-step seconds over {steps} steps of fit (train_classifier's loss, grad_norm=False); "
             f"PyTorch best: Adam {timed.label} at torch.set_num_threads({timed.threads}); "
             f"{timed.speedup_range()}; first-step loss {losses_j[0]:.6f} (jaxml) vs {losses_t[0]:.6f} (torch); "
             f"{_load_avg()}{extra}")
    return BenchResult(
        task=name, reference=f"torch {torch.__version__} CPU loop + torch.optim.Adam",
        jaxml_s=step_j, reference_s=step_t, compile_s=timed.compile_s,
        quality_name=f"full-data cross-entropy after {steps} steps",
        jaxml_quality=final_j, reference_quality=final_t, goal=goal, notes=notes,
    ), step_j


def _matmul_gflops(n: int) -> float:
    a = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (n, n), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    _, seconds, _ = time_jax(matmul, a, b)
    return 2.0 * n**3 / seconds / 1e9


@register("nn_mlp_step", "nn")
def nn_mlp_step(size: float) -> BenchResult:
    """MLP 784–512–512–10 Adam train step through ``fit`` vs PyTorch; GFLOP/s vs a matmul."""
    torch = import_torch()
    steps = max(2, int(round(MLP_STEPS * size)))
    X, y = _classification_data((MLP_SIZES[0],), max(MLP_BATCH, int(MLP_N * size)))
    model = MLP(MLP_SIZES[1:])
    flops = 6 * MLP_BATCH * sum(a * b for a, b in zip(MLP_SIZES[:-1], MLP_SIZES[1:], strict=True))
    n = max(64, int(MATMUL_N * min(size, 1.0)))
    matmul = _matmul_gflops(n)
    row, step_s = _classifier_row(
        torch, f"MLP 784-512-512-10 ReLU, B={MLP_BATCH}, Adam train step", model, X, y, steps, MLP_BATCH,
        torch_mlp, lambda x: x, 2.0)
    step_gflops = flops / step_s / 1e9
    torch_gflops = flops / row.reference_s / 1e9
    row.notes += (f"; step {step_gflops:.1f} GFLOP/s (jaxml) vs {torch_gflops:.1f} (torch), "
                  f"{flops / 1e9:.3f} GFLOP/step; jitted {n}² float32 matmul {matmul:.1f} GFLOP/s: "
                  f"the step reaches {100 * step_gflops / matmul:.0f}% of it (goal ≥ 75%)")
    return row


@register("nn_cnn_step", "nn")
def nn_cnn_step(size: float) -> BenchResult:
    """CNN conv3x3(32)–pool–conv3x3(64)–pool–128–10 on 28×28×1 Adam train step vs PyTorch."""
    torch = import_torch()
    steps = max(2, int(round(CNN_STEPS * size)))
    X, y = _classification_data((28, 28, 1), max(CNN_BATCH, int(CNN_N * size)))
    model = CNN(channels=(32, 64), dense=128, num_classes=10)
    row, _ = _classifier_row(
        torch, f"CNN 28x28x1 conv32-pool-conv64-pool-128-10, B={CNN_BATCH}, Adam train step", model, X, y,
        steps, CNN_BATCH, torch_cnn, lambda x: x.permute(0, 3, 1, 2).contiguous(), 1.0)
    return row


def _mse(params, batch, model):
    X, y = batch
    return jnp.mean((model.apply({"params": params}, X)[:, 0] - y) ** 2)


@register("nn_tiny_mlp", "nn")
def nn_tiny_mlp(size: float) -> BenchResult:
    """2–16–16–1 tanh MLP, 1 000 points, full batch, 1 000 Adam steps: ``fit`` vs a torch loop."""
    torch = import_torch()
    steps = max(2, int(round(TINY_STEPS * size)))
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(TINY_N, 2)).astype(np.float32)
    y = (np.sin(X[:, 0]) * np.cos(X[:, 1])).astype(np.float32)
    model = MLP(TINY_SIZES[1:], activation="tanh")
    params, _ = init_model(model, jax.random.key(0), X)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    loss = functools.partial(_mse, model=model)

    def run_jaxml():
        # the default step (with ‖g‖₂): dropping it saves nothing measurable here
        result = fit(loss, ADAM, params, (Xj, yj), key=jax.random.key(1), num_steps=steps, progress=False)
        return result.state.params, result.history["loss"]

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def torch_run(options):
        net = torch_mlp(torch, params, "tanh")
        opt = torch_adam(torch, net, options)
        first = None
        for _ in range(steps):
            loss_t = torch.mean((net(Xt)[:, 0] - yt) ** 2)
            opt.zero_grad(set_to_none=True)
            loss_t.backward()
            opt.step()
            if first is None:
                first = float(loss_t.detach())
        with torch.no_grad():
            return first, float(torch.mean((net(Xt)[:, 0] - yt) ** 2))

    timed = time_against_torch(torch, run_jaxml, torch_optimizer_runs(torch_run))
    params_j, losses_j = timed.jaxml_out
    first_t, final_t = timed.torch_outs[timed.label]
    final_j = float(_mse(params_j, (Xj, yj), model))
    return BenchResult(
        task=f"MLP 2-16-16-1 tanh, N={TINY_N} full batch, {steps} Adam steps",
        reference=f"torch {torch.__version__} CPU loop + torch.optim.Adam",
        jaxml_s=timed.jaxml_s, reference_s=timed.torch_s, compile_s=timed.compile_s,
        quality_name=f"MSE after {steps} steps", jaxml_quality=final_j, reference_quality=final_t, goal=10.0,
        notes=(f"whole run (one lax.scan in fit, default step); PyTorch best: Adam {timed.label} at "
               f"torch.set_num_threads({timed.threads}); {timed.speedup_range()}; "
               f"first-step loss {losses_j[0]:.6f} (jaxml) vs {first_t:.6f} (torch); {_load_avg()}"),
    )


@register("nn_resnet", "nn")
def nn_resnet(size: float) -> BenchResult:
    """Small pre-activation ResNet forward + backward (BN in training mode) on 32×32×3, batch 64."""
    torch = import_torch()
    batch = max(2, int(round(RESNET_BATCH * size)))
    X, y = _classification_data((32, 32, 3), batch)
    # one step outside a loop: autodiff of lax's convolution is the faster gradient here
    model = ResNet(widths=RESNET_WIDTHS, blocks_per_stage=1, num_classes=10, hand_backward=False)
    params, state = init_model(model, jax.random.key(0), X)
    loss = make_classifier_loss(model)
    grad_fn = jax.jit(jax.value_and_grad(lambda p, s, b, k: loss(p, b, key=k, model_state=s)[0]))
    Xj, yj, key = jnp.asarray(X), jnp.asarray(y), jax.random.key(0)

    Xt = torch.from_numpy(X).permute(0, 3, 1, 2).contiguous()
    yt = torch.from_numpy(y.astype(np.int64))
    net = torch_resnet(torch, params, RESNET_WIDTHS, 1)
    net.train()

    def torch_step():
        net.zero_grad(set_to_none=True)
        loss_t = torch.nn.functional.cross_entropy(net(Xt), yt)
        loss_t.backward()
        return float(loss_t.detach()), float(net.head.weight.grad.norm())

    timed = time_against_torch(torch, lambda: grad_fn(params, state, (Xj, yj), key), torch_step)
    loss_j, grads_j = timed.jaxml_out
    loss_t, head_grad_t = timed.torch_outs[""]
    head_grad_j = float(jnp.linalg.norm(grads_j["head"]["kernel"]))
    return BenchResult(
        task=f"pre-activation ResNet widths {RESNET_WIDTHS}, 32x32x3, B={batch}, forward+backward",
        reference=f"torch {torch.__version__} CPU forward + backward",
        jaxml_s=timed.jaxml_s, reference_s=timed.torch_s, compile_s=timed.compile_s,
        quality_name="cross-entropy of the batch", jaxml_quality=float(loss_j), reference_quality=loss_t,
        goal=None,
        notes=(f"one jitted value_and_grad (autodiff of conv2d: hand_backward=False); "
               f"PyTorch best at torch.set_num_threads({timed.threads}); {timed.speedup_range()}; same weights; "
               f"‖∂L/∂W_head‖ "
               f"{head_grad_j:.6f} (jaxml) vs {head_grad_t:.6f} (torch); {_load_avg()}"),
    )


__all__ = [
    "nn_cnn_step",
    "nn_mlp_step",
    "nn_resnet",
    "nn_tiny_mlp",
    "torch_adam",
    "torch_cnn",
    "torch_mlp",
    "torch_resnet",
]
