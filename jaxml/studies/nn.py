"""Chapter 4 studies: representation power, initialization, normalization, regularization, and
the MLP and CNN on scikit-learn's bundled digits (with data augmentation)."""

from __future__ import annotations

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.core.train import fit
from jaxml.nn.augment import augmentation_grid
from jaxml.nn.layers import bn_mlp_apply, bn_mlp_init, l2_penalty, make_bn_mlp_loss, weight_decay_demo
from jaxml.nn.mlp import cross_entropy_grad, mlp_apply, mlp_forward, mlp_init, mlp_loss, mlp_loss_hand_vjp
from jaxml.nn.models import accuracy, load_digits_images, train_digits
from jaxml.studies import StudyContext, StudyResult, savefig, study

CHAPTER = "4. Neural networks"


# ---------------------------------------------------------------------------------------------
# backpropagation by hand


@study("nn_backprop", CHAPTER, "Backpropagation by hand: one training run on autodiff and on the hand backward pass")
def nn_backprop(ctx: StudyContext) -> StudyResult:
    """A 6-32-32-4 tanh MLP trained for 100 Adam steps (batch 32) through ``fit`` twice from the same
    weights on the same minibatches: once on ``jax.grad`` of the loss, once on the hand backward pass
    δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾δ⁽ˡ⁺¹⁾) ⊙ φ'(z⁽ˡ⁾) wired in as a ``jax.custom_vjp`` (``mlp_loss_hand_vjp``); and the
    hand gradient against ``jax.grad`` in float64 for each activation."""
    import matplotlib.pyplot as plt

    with jax.enable_x64(True):
        kx, ky, kp = jax.random.split(ctx.key("backprop"), 3)
        X64 = jax.random.normal(kx, (64, 6), jnp.float64)
        y64 = jax.random.randint(ky, (64,), 0, 4)
        grad_errors = {}
        for activation in ("relu", "sigmoid", "tanh"):
            params = mlp_init(kp, (6, 16, 16, 4), dtype=jnp.float64)
            hand = jax.flatten_util.ravel_pytree(cross_entropy_grad(params, X64, y64, activation=activation))[0]
            auto = jax.flatten_util.ravel_pytree(jax.grad(mlp_loss("cross_entropy", activation))(params, (X64, y64)))[0]
            grad_errors[activation] = float(jnp.max(jnp.abs(hand - auto)) / jnp.max(jnp.abs(auto)))

    X = jax.random.normal(kx, (512, 6))
    y = jax.random.randint(ky, (512,), 0, 4)
    params = mlp_init(kp, (6, 32, 32, 4))
    curves = {}
    for name, loss in (("jax.grad", mlp_loss("cross_entropy", "tanh")),
                       ("hand backward (custom_vjp)", mlp_loss_hand_vjp("cross_entropy", "tanh"))):
        curves[name] = np.asarray(fit(loss, optax.adam(1e-2), params, (X, y), key=ctx.key("backprop_fit"),
                                      num_steps=100, batch_size=32).history["loss"])
    auto_curve, hand_curve = curves.values()
    gap = float(np.max(np.abs(auto_curve - hand_curve) / np.abs(auto_curve)))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for (name, c), style in zip(curves.items(), ("-", "--"), strict=True):
        ax.plot(c, style, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("minibatch cross-entropy")
    ax.set_title(f"same run, two gradients: max relative gap {gap:.1e}")
    ax.legend()
    path = savefig(fig, ctx.out_dir / "nn_backprop.png")
    return StudyResult(
        metrics={
            **{f"hand vs jax.grad, {a} (float64, max rel.)": f"{e:.1e}" for a, e in grad_errors.items()},
            "loss curves autodiff vs hand, 100 steps (float32, max rel.)": f"{gap:.1e}",
        },
        figures=[path],
        summary="The course's backward pass is the gradient autodiff computes: equal to rounding in float64, "
                "and a training run on either gradient follows the same loss curve to float32 rounding.",
    )


# ---------------------------------------------------------------------------------------------
# representation power


def _target(x):
    """The 1-D function the bump constructions approximate on [0, 1]."""
    return np.sin(2 * np.pi * x) + 0.5 * np.sin(6 * np.pi * x)


def relu_interpolant_params(knots, values):
    """A one-hidden-layer ReLU net equal to the piecewise-linear interpolant of (knots, values):

        f̂(x) = v₀ + Σ_i c_i ReLU(x − t_i),  c_i = s_i − s_{i−1} (s_i the slope on [t_i, t_{i+1}], s_{−1} = 0)

    with one hidden unit per knot but the last (W⁽¹⁾ = 1, b⁽¹⁾ = −t_i, W⁽²⁾ = c, b⁽²⁾ = v₀): hat
    functions ("bumps") are sums of three such ramps. Returns ``mlp_apply`` parameters."""
    knots = np.asarray(knots, float)
    values = np.asarray(values, float)
    slopes = np.diff(values) / np.diff(knots)
    c = np.diff(np.concatenate([[0.0], slopes]))
    return [{"W": jnp.ones((1, c.size)), "b": jnp.asarray(-knots[:-1])},
            {"W": jnp.asarray(c)[:, None], "b": jnp.asarray([values[0]])}]


def sigmoid_steps_params(knots, values, steepness):
    """A one-hidden-layer sigmoid net summing steps at the midpoints m_i of the knots:

        f̂(x) = v₀ + Σ_i (v_i − v_{i−1}) σ(k(x − m_i))

    (a bump is the difference of two steps; k → ∞ makes each a jump). Returns ``mlp_apply``
    parameters."""
    knots = np.asarray(knots, float)
    values = np.asarray(values, float)
    mids = 0.5 * (knots[1:] + knots[:-1])
    return [{"W": jnp.full((1, mids.size), float(steepness)), "b": jnp.asarray(-steepness * mids)},
            {"W": jnp.asarray(np.diff(values))[:, None], "b": jnp.asarray([values[0]])}]


@study("nn_bumps", CHAPTER, "Representation power: one hidden layer of ReLU ramps or sigmoid steps")
def nn_bumps(ctx: StudyContext) -> StudyResult:
    """Constructive universal approximation of f(x) = sin 2πx + ½ sin 6πx on [0, 1] by a
    one-hidden-layer net of width n: ReLU ramps reproduce the piecewise-linear interpolant (error
    O(1/n²)), sigmoid steps a staircase (error O(1/n)). The nets are ``mlp_apply`` parameter
    pytrees set by hand, not trained."""
    import matplotlib.pyplot as plt

    widths = [4, 8, 16, 32, 64, 128]
    grid = np.linspace(0.0, 1.0, 2001)
    f = _target(grid)
    errors = {"ReLU ramps": [], "sigmoid steps": []}
    with jax.enable_x64(True):
        x = jnp.asarray(grid)[:, None]
        shown = {}
        for n in widths:
            knots = np.linspace(0.0, 1.0, n + 1)
            relu = relu_interpolant_params(knots, _target(knots))
            sig = sigmoid_steps_params(knots, _target(knots), steepness=20.0 * n)
            for name, params, act in (("ReLU ramps", relu, "relu"), ("sigmoid steps", sig, "sigmoid")):
                approx = np.asarray(mlp_apply(params, x, activation=act))[:, 0]
                errors[name].append(float(np.max(np.abs(approx - f))))
                if n == 8:
                    shown[name] = approx

    slopes = {name: float(np.polyfit(np.log(widths), np.log(err), 1)[0]) for name, err in errors.items()}
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    ax0.plot(grid, f, "k", lw=2, label="f(x)")
    for name, approx in shown.items():
        ax0.plot(grid, approx, lw=1.2, label=f"{name}, n = 8")
    ax0.set_title("one hidden layer of width 8")
    ax0.set_xlabel("x")
    ax0.legend(fontsize=8)
    for name, err in errors.items():
        ax1.loglog(widths, err, "o-", label=f"{name} (slope {slopes[name]:.2f})")
    ax1.set_xlabel("hidden width n")
    ax1.set_ylabel("max |f̂ − f| on [0, 1]")
    ax1.set_title("approximation error against width")
    ax1.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "nn_bumps.png")
    return StudyResult(
        metrics={
            "ReLU max error n=8 / n=128": f"{errors['ReLU ramps'][1]:.3g} / {errors['ReLU ramps'][-1]:.3g}",
            "sigmoid max error n=8 / n=128": f"{errors['sigmoid steps'][1]:.3g} / {errors['sigmoid steps'][-1]:.3g}",
            "log-log slope ReLU / sigmoid (theory −2 / −1)":
                f"{slopes['ReLU ramps']:.2f} / {slopes['sigmoid steps']:.2f}",
        },
        figures=[path],
        summary="Any continuous function on an interval is a sum of ramps or steps: the ReLU construction "
                "is the piecewise-linear interpolant, its error falls as 1/n²; sigmoid steps make a "
                "staircase whose error falls as 1/n. The construction proves the width suffices; it says "
                "nothing about whether gradient descent finds those weights.",
    )


# ---------------------------------------------------------------------------------------------
# initialization


@study("nn_initialization", CHAPTER, "Initialization: activation and gradient variance through 50 layers")
def nn_initialization(ctx: StudyContext) -> StudyResult:
    """A 50-layer ReLU MLP of width n at initialization: the variance of every layer's output
    x⁽ˡ⁾ (forward) and the mean square of the backpropagated error δ⁽ˡ⁾ = ∂L/∂z⁽ˡ⁾, read off as
    ∂L/∂b⁽ˡ⁾ = Σ_batch δ⁽ˡ⁾ (MSE against random targets), under He (Var W = 2/n),
    Xavier (Var W = 2/(n_in + n_out) = 1/n), and N(0, σ²) with σ = 0.01 and σ = 1."""
    import matplotlib.pyplot as plt

    depth, width, batch = 50, 256, 256
    inits = {"He": ("he", 1.0), "Xavier": ("xavier", 1.0), "N(0, 0.01²)": ("normal", 0.01),
             "N(0, 1)": ("normal", 1.0)}
    act_var, grad_var = {}, {}
    with jax.enable_x64(True):  # N(0, 1) grows by n/2 a layer: 10¹⁵⁰ after 50 layers, beyond float32
        x = jax.random.normal(ctx.key("init_x"), (batch, width), jnp.float64)
        y = jax.random.normal(ctx.key("init_y"), (batch, width), jnp.float64)
        for name, (init, scale) in inits.items():
            params = mlp_init(ctx.key("init_params"), [width] * (depth + 1), init=init, scale=scale,
                              dtype=jnp.float64)
            _, cache = mlp_forward(params, x, activation="relu")
            grads = jax.grad(mlp_loss("mse", "relu"))(params, (x, y))
            act_var[name] = np.array([float(jnp.var(h)) for h in cache.inputs[1:]])
            grad_var[name] = np.array([float(jnp.mean(jnp.square(g["b"]))) for g in grads])

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    layers = np.arange(1, depth + 1)
    for name in inits:
        ax0.semilogy(layers[: len(act_var[name])], act_var[name], label=name)
        ax1.semilogy(layers, grad_var[name], label=name)
    ax0.set_title("Var x⁽ˡ⁾ (forward)")
    ax1.set_title("mean (∂L/∂b⁽ˡ⁾)², the error δ⁽ˡ⁾ (backward)")
    for ax in (ax0, ax1):
        ax.set_xlabel("layer l")
        ax.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "nn_initialization.png")

    def ratio(v):
        return v[-1] / v[0]

    return StudyResult(
        metrics={
            **{f"{name}: Var x last / first hidden layer": f"{ratio(act_var[name]):.3g}" for name in inits},
            **{f"{name}: (∂L/∂b)² first / last layer": f"{grad_var[name][0] / grad_var[name][-1]:.3g}"
               for name in inits},
        },
        figures=[path],
        summary="He's variance 2/fan_in keeps a ReLU net's signal at one scale in both directions; Xavier "
                "halves it at every ReLU layer (vanishing), σ = 0.01 shrinks it by n·σ²/2 per layer and σ = 1 "
                "multiplies it by n/2 (exploding): after 50 layers the scales differ by dozens of decades.",
    )


# ---------------------------------------------------------------------------------------------
# normalization and regularization on digits


@study("nn_batch_norm", CHAPTER, "Batch and layer normalization: a deep tanh MLP on digits")
def nn_batch_norm(ctx: StudyContext) -> StudyResult:
    """A 20-hidden-layer tanh MLP (width 64) on the digits, trained by SGD with momentum from the
    same initial weights without normalization, with batch norm (batch statistics in training,
    running averages at test time, carried as ``fit``'s model state) and with layer norm.

    η = 0.03. At 0.02 the plain net trains too. At 0.05 layer norm's run is unstable: from four
    initial weights, 1 500 steps collapsed to chance in one to four of them, depending on float
    rounding. At 0.03 both normalized nets reached 0.96–0.98 from each of seven initial weights,
    while the plain net stayed at chance from five of them (0.51 and 0.95 from the other two).
    The 1 500 steps take seconds, so the quick size runs them all: at 300 steps the plain net is
    only slower, not stuck."""
    import matplotlib.pyplot as plt

    X_tr, y_tr, X_te, y_te = load_digits_images(test_size=0.3, flat=True)
    steps, learning_rate = 1500, 0.03
    sizes = [64] + [64] * 20 + [10]
    curves, test_acc = {}, {}
    for norm in (None, "batch", "layer"):
        params, state = bn_mlp_init(ctx.key("bn_init"), sizes, norm=norm)
        loss = make_bn_mlp_loss(norm=norm, activation="tanh")
        res = fit(loss, optax.sgd(learning_rate, momentum=0.9), params, (jnp.asarray(X_tr), jnp.asarray(y_tr)),
                  key=ctx.key("bn_fit"), num_steps=steps, batch_size=64, sampler="epochs",
                  model_state=state)
        label = {None: "none", "batch": "batch norm", "layer": "layer norm"}[norm]
        curves[label] = np.asarray(res.history["loss"])
        logits, _ = bn_mlp_apply(res.state.params, res.state.model_state, jnp.asarray(X_te), train=False,
                                 norm=norm, activation="tanh")
        test_acc[label] = accuracy(y_te, jnp.argmax(logits, -1))

    fig, ax = plt.subplots(figsize=(6, 4))
    window = 20
    for label, c in curves.items():
        smooth = np.convolve(c, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(smooth.size) + window, smooth, label=f"{label} (test acc. {test_acc[label]:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training cross-entropy (moving average)")
    ax.set_title(f"20 tanh layers, SGD + momentum (η = {learning_rate}, μ = 0.9)")
    ax.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "nn_batch_norm.png")
    tail = {label: float(np.mean(c[-window:])) for label, c in curves.items()}
    return StudyResult(
        metrics={
            "final training loss none / batch norm / layer norm":
                " / ".join(f"{tail[k]:.3f}" for k in ("none", "batch norm", "layer norm")),
            "test accuracy none / batch norm / layer norm":
                " / ".join(f"{test_acc[k]:.3f}" for k in ("none", "batch norm", "layer norm")),
        },
        figures=[path],
        summary="At this step size the unnormalized 20-layer tanh net does not learn from most initial weights "
                "(its loss stays near log 10 ≈ 2.3, chance); re-centring and re-scaling every layer's "
                "pre-activations lets the same optimizer train it. At test time batch norm uses its running "
                "averages.",
    )


@study("nn_regularization", CHAPTER, "Dropout and weight decay against over-fitting")
def nn_regularization(ctx: StudyContext) -> StudyResult:
    """A 64-512-512-10 ReLU MLP on 200 training digits (the rest for testing), trained by Adam
    without regularization, with dropout (p = 0.5, identity at test time), with decoupled weight
    decay (AdamW) and with an L2 term (λ/2)‖θ‖² in the loss; train and test accuracy along the run.
    Beside it: the two weight decays on a two-feature least-squares problem, where they differ
    under Adam and coincide under SGD."""
    import matplotlib.pyplot as plt

    X_tr, y_tr, X_te, y_te = load_digits_images(test_size=0.3, flat=True)
    n_train = 200
    X_small, y_small = jnp.asarray(X_tr[:n_train]), jnp.asarray(y_tr[:n_train])
    steps = 400 if ctx.quick else 2000
    sizes = [64, 512, 512, 10]
    configs = {
        "none": (0.0, optax.adam(1e-3), 0.0),
        "dropout 0.5": (0.5, optax.adam(1e-3), 0.0),
        "AdamW λ=0.05": (0.0, optax.adamw(1e-3, weight_decay=0.05), 0.0),
        "L2 term λ=1e-3": (0.0, optax.adam(1e-3), 1e-3),
    }
    curves, final = {}, {}
    for name, (rate, tx, lam) in configs.items():
        params, state = bn_mlp_init(ctx.key("reg_init"), sizes, norm=None)
        base = make_bn_mlp_loss(norm=None, dropout_rate=rate)

        def loss(p, batch, *, model_state, key=None, base=base, lam=lam):
            value, new_state = base(p, batch, model_state=model_state, key=key)
            return value + l2_penalty(p, lam), new_state

        def evaluate(p, model_state=None):
            out = {}
            for split, (X, y) in {"train": (X_small, y_small), "test": (X_te, y_te)}.items():
                logits, _ = bn_mlp_apply(p, [], jnp.asarray(X), train=False, norm=None)
                out[split] = accuracy(y, jnp.argmax(logits, -1))
            return out

        res = fit(loss, tx, params, (X_small, y_small), key=ctx.key("reg_fit"), num_steps=steps, batch_size=50,
                  sampler="epochs", model_state=state, with_key=rate > 0, eval_fn=evaluate,
                  chunk_size=steps // 10)
        curves[name] = [(step, out["train"], out["test"]) for step, out in res.evals]
        final[name] = curves[name][-1][1:]

    demo_adam = weight_decay_demo(optimizer="adam", num_steps=300)
    demo_sgd = weight_decay_demo(optimizer="sgd", learning_rate=0.005, num_steps=300)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, (name, c) in enumerate(curves.items()):
        steps_at, train, test = map(np.asarray, zip(*c, strict=True))
        ax0.plot(steps_at, train, "--", color=f"C{i}")
        ax0.plot(steps_at, test, "-", color=f"C{i}", label=f"{name}: test {test[-1]:.3f}")
    ax0.set_xlabel("step")
    ax0.set_ylabel("accuracy (dashed: train, solid: test)")
    ax0.set_title(f"{n_train} training digits")
    ax0.legend(fontsize=8)
    for name, demo, style in (("Adam", demo_adam, "-"), ("SGD", demo_sgd, ":")):
        for kind, color in (("decoupled", "C0"), ("l2", "C3")):
            theta = demo[f"{kind}_theta"]
            ax1.plot(theta[:, 0], theta[:, 1], style, color=color, label=f"{name}, {kind}")
    ax1.set_xlabel("w₁ (feature scale 1)")
    ax1.set_ylabel("w₂ (feature scale 10)")
    ax1.set_title("weight decay: decoupled vs L2 term")
    ax1.legend(fontsize=8)
    path = savefig(fig, ctx.out_dir / "nn_regularization.png")
    gap_adam = float(np.max(np.abs(demo_adam["decoupled_theta"] - demo_adam["l2_theta"])))
    gap_sgd = float(np.max(np.abs(demo_sgd["decoupled_theta"] - demo_sgd["l2_theta"])))
    return StudyResult(
        metrics={
            **{f"{name}: train / test accuracy": f"{tr:.3f} / {te:.3f}" for name, (tr, te) in final.items()},
            "max |θ_decoupled − θ_L2| Adam / SGD": f"{gap_adam:.3g} / {gap_sgd:.3g}",
        },
        figures=[path],
        summary=f"On {n_train} examples every run fits the training set perfectly; the test accuracy is "
                f"{final['none'][1]:.3f} without regularization and "
                + ", ".join(f"{final[k][1]:.3f} with {k}" for k in list(final)[1:])
                + ". Under SGD an L2 term and decoupled decay are the same update; under Adam the L2 term's "
                "gradient is rescaled by 1/√v̂ with the data gradient, so the large-gradient coordinate is "
                "decayed less and the two end at different points.",
    )


# ---------------------------------------------------------------------------------------------
# MLP and CNN on the digits


def _plot_digits(ax_row, images, titles):
    for ax, image, title in zip(ax_row, images, titles, strict=False):
        ax.imshow(np.asarray(image)[..., 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])


@study("nn_digits", CHAPTER, "MLP and CNN on the 8×8 digits: accuracy, confusion matrix, mistakes")
def nn_digits(ctx: StudyContext) -> StudyResult:
    """``train_digits``: an MLP 64-256-256-10 (2000 steps) and a CNN conv3×3(32)-pool-conv3×3(64)-
    pool-128-10 (1000 steps, minibatches shifted by up to one pixel) on scikit-learn's digits (80/20
    stratified split), Adam with a cosine learning rate from 3·10⁻³, batch 64, through ``fit``.
    Test accuracy and training time, the CNN's confusion matrix and its misclassified digits."""
    import matplotlib.pyplot as plt

    runs = {kind: train_digits(kind, key=ctx.key(f"digits_{kind}"), num_steps=300 if ctx.quick else None)
            for kind in ("mlp", "cnn")}
    cnn = runs["cnn"]
    X_te, y_te = cnn.data[2], cnn.data[3]
    cm = cnn.confusion
    wrong = cnn.misclassified[:12]
    fig = plt.figure(figsize=(12, 4.5))
    ax_cm = fig.add_subplot(1, 2, 1)
    ax_cm.imshow(cm, cmap="Blues")
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                ax_cm.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                           color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax_cm.set_xlabel("predicted")
    ax_cm.set_ylabel("true")
    ax_cm.set_xticks(range(10))
    ax_cm.set_yticks(range(10))
    ax_cm.set_title(f"CNN confusion matrix (test accuracy {cnn.test_accuracy:.3f})")
    for k, idx in enumerate(wrong):
        ax = fig.add_subplot(3, 12, (k // 6) * 12 + 7 + k % 6)
        _plot_digits([ax], [X_te[idx]], [f"{y_te[idx]}→{cnn.y_pred[idx]}"])
    path = savefig(fig, ctx.out_dir / "nn_digits.png")
    return StudyResult(
        metrics={
            "MLP test accuracy": f"{runs['mlp'].test_accuracy:.4f}",
            "CNN test accuracy": f"{cnn.test_accuracy:.4f}",
            "CNN test errors": f"{len(cnn.misclassified)} of {len(y_te)}",
            "training seconds MLP / CNN (compile included)": f"{runs['mlp'].seconds:.1f} / {cnn.seconds:.1f}",
        },
        figures=[path],
        summary="Weight sharing and pooling suit the digits' local strokes: the CNN makes fewer mistakes "
                "than the MLP; the ones left (right, true→predicted) are mostly digits a person would "
                "hesitate over too.",
    )


@study("nn_augmentation", CHAPTER, "Data augmentation: flips, shifts, rotations and noise as pure functions of a key")
def nn_augmentation(ctx: StudyContext) -> StudyResult:
    """Eight digits, each followed by seven augmentations (random shift of up to one pixel,
    rotation of up to 15°, Gaussian noise σ = 0.05), drawn by one vmapped call."""
    import matplotlib.pyplot as plt

    X_tr, y_tr, _, _ = load_digits_images(test_size=0.2, seed=0)
    images = jnp.asarray(X_tr[:8])
    n_aug = 7
    grid = np.asarray(augmentation_grid(ctx.key("augment"), images, n_aug, flip=False, max_shift=1,
                                        max_degrees=15.0, noise_std=0.05))
    fig, axes = plt.subplots(grid.shape[0], n_aug + 1, figsize=(n_aug + 1, grid.shape[0]))
    for i in range(grid.shape[0]):
        _plot_digits(axes[i], np.clip(grid[i], 0, 1), ["original" if i == 0 else ""] +
                     ([f"aug {j}" for j in range(1, n_aug + 1)] if i == 0 else [""] * n_aug))
    path = savefig(fig, ctx.out_dir / "nn_augmentation.png")
    change = np.mean(np.abs(grid[:, 1:] - grid[:, :1]))
    return StudyResult(
        metrics={"grid shape (images, 1 + augmentations, H, W, C)": str(grid.shape),
                 "mean |augmented − original| per pixel": f"{change:.3f}"},
        figures=[path],
        summary="Each augmentation is a pure function of its key, so a training step draws a fresh "
                "transformation for every example from the step's key and a resumed run repeats them.",
    )


__all__ = [
    "nn_augmentation",
    "nn_backprop",
    "nn_batch_norm",
    "nn_bumps",
    "nn_digits",
    "nn_initialization",
    "nn_regularization",
    "relu_interpolant_params",
    "sigmoid_steps_params",
]
