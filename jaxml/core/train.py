"""The one training loop of jaxml: every family trains through ``fit``.

A train step is ``train_step(state, batch, key) -> (state, metrics)``. The default step, built by
``make_train_step(loss_fn, tx)``, is

    g_t = ∇_θ L(θ_t; B_t),   (u_t, s_{t+1}) = tx.update(g_t, s_t, θ_t),   θ_{t+1} = θ_t + u_t

where ``tx`` is any ``optax.GradientTransformation`` (the course's rules live in ``jaxml.optim``).
A user step replaces it where one loss and one optimizer cannot say what a step does (a GAN's two
alternating updates, BYOL's EMA target). ``fit`` runs the steps in chunks; each chunk is ONE
jitted ``lax.scan``, so there is no host round-trip per step. Between chunks (only) it updates the
progress bar, runs the optional evaluation and writes the optional checkpoint.

What a step sees, all pure functions of the run key and the step t:

- the minibatch B_t: by default ``randint(fold_in(key, t), (B,), 0, N)`` — the course's SGD, each
  row drawn uniformly with replacement, an unbiased estimate of the full gradient; or epochs
  without replacement (``sampler="epochs"``: epoch e visits ``permutation(epoch_key(key, e), N)``
  in consecutive slices of B); or a user sampler ``sampler(key_t, t, data) -> batch``;
- the step's key ``step_key(key, t)`` for the randomness inside the step (dropout, augmentation,
  diffusion noise, GAN latents), independent of the minibatch's key;
- the traced hyper-parameters ``state.hparams`` (λ, μ, a learning rate): one compiled program
  serves every value, and ``fit(..., sweep=True)`` runs a whole sweep as one vmapped program;
- the model state ``state.model_state`` (batch-norm statistics, an EMA copy of the weights,
  counters), which the loss may update.

Because all of it depends on (key, t) and the state alone, a run resumed from a checkpoint is
bit-identical to an uninterrupted one, and a data-parallel run (``data_parallel=True``: the same
program, the global batch split over all devices of all processes) draws exactly what the
one-device run draws.
"""

from __future__ import annotations

import collections
import functools
import math
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxml.core import parallel, xla_cpu
from jaxml.core.checkpoint import restore_latest, save_checkpoint
from jaxml.core.types import Array, Batch, Metrics, Params, PRNGKey

# fold_in data are uint32 and steps are int32: the constants below are never a step, so the
# three streams drawn from one run key never meet.
_STEP_STREAM = 2**32 - 1
_EPOCH_STREAM = 2**32 - 2


class TrainState(NamedTuple):
    """Everything a training run carries from step to step (and writes to its checkpoints).

    Attributes:
      params: the model's parameter pytree θ.
      opt_state: the optimizer's state pytree (moments, counters); a custom step may keep several.
      step: int32 scalar, the number of updates applied so far.
      model_state: pytree the model carries that is not trained by gradient (flax
        ``batch_stats``, an EMA copy of the weights, counters); ``{}`` when there is none.
      hparams: dict of traced hyper-parameters (λ, μ, learning rate, ...); ``{}`` when none.
    """

    params: Params
    opt_state: Any
    step: Array
    model_state: Any = {}
    hparams: Any = {}


def set_injected_hyperparams(opt_state, hparams: dict):
    """``opt_state`` with the hyper-parameters of every ``optax.inject_hyperparams`` state in it
    that ``hparams`` names replaced by ``hparams``' values (cast to the injected dtype).

    This is how a traced learning rate reaches the optimizer: build the optimizer once as
    ``optax.inject_hyperparams(optax.sgd)(learning_rate=1.0)`` and give ``fit`` the value in
    ``hparams={"learning_rate": γ}``.
    """
    if not hparams:
        return opt_state
    injected = getattr(opt_state, "hyperparams", None)
    if isinstance(injected, dict) and hasattr(opt_state, "_replace"):
        new = {k: jnp.asarray(hparams[k], jnp.result_type(v)) if k in hparams else v for k, v in injected.items()}
        opt_state = opt_state._replace(hyperparams=new)
        if hasattr(opt_state, "inner_state"):
            opt_state = opt_state._replace(inner_state=set_injected_hyperparams(opt_state.inner_state, hparams))
        return opt_state
    if isinstance(opt_state, tuple):
        items = [set_injected_hyperparams(s, hparams) for s in opt_state]
        return type(opt_state)(*items) if hasattr(opt_state, "_fields") else tuple(items)
    if isinstance(opt_state, dict):
        return {k: set_injected_hyperparams(v, hparams) for k, v in opt_state.items()}
    return opt_state


def _as_hparams(hparams) -> dict:
    """Arrays of fixed (not weak) dtype: a Python float and a float32 array give one program."""
    if hparams is None:
        return {}
    return {k: jnp.asarray(v, dtype=jnp.asarray(v).dtype) for k, v in dict(hparams).items()}


def cached_loss(build: Callable[..., Callable], *args) -> Callable:
    """``build(*args)``, the same function object for the same (hashable) arguments.

    ``fit`` keys its compiled program on the loss function, so a loss built afresh on every call
    of a convenience trainer (``train_classifier``, ``adversarial_train``) would recompile the
    whole step each time; built through here it compiles once. Unhashable arguments build anew.
    """
    try:
        return _cached_build(build, *args)
    except TypeError:
        return build(*args)


@functools.lru_cache(maxsize=128)
def _cached_build(build, *args):
    return build(*args)


_INITS: collections.OrderedDict = collections.OrderedDict()
_MAX_INITS = 64


def _optimizer_init(tx: optax.GradientTransformation, params: Params):
    """``tx.init(params)`` as one compiled call per optimizer: run eagerly it dispatches a small
    op for every leaf and moment (~1 ms for Adam on a small net, as long as 30 of its steps).
    An init that needs concrete parameter values (not traceable) runs eagerly."""
    try:
        init = _INITS.get(tx)
    except TypeError:  # an unhashable transformation
        return tx.init(params)
    if init is None:
        init = _INITS[tx] = jax.jit(tx.init)
        if len(_INITS) > _MAX_INITS:
            _INITS.popitem(last=False)
    try:
        return init(params)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            jax.errors.TracerIntegerConversionError, jax.errors.TracerArrayConversionError):
        return tx.init(params)


def create_train_state(
    params: Params,
    tx: optax.GradientTransformation | None,
    *,
    model_state: Any = None,
    hparams: dict | None = None,
) -> TrainState:
    """``TrainState(params, tx.init(params), 0, model_state, hparams)``.

    Hyper-parameters named in ``hparams`` that an ``optax.inject_hyperparams`` optimizer also
    names are written into its state (``set_injected_hyperparams``). ``tx=None`` leaves an empty
    optimizer state, for a custom step that keeps its own.
    """
    hparams = _as_hparams(hparams)
    opt_state = () if tx is None else set_injected_hyperparams(_optimizer_init(tx, params), hparams)
    return TrainState(
        params=params,
        opt_state=opt_state,
        step=jnp.zeros((), jnp.int32),
        model_state={} if model_state is None else model_state,
        hparams=hparams,
    )


def make_train_step(
    loss_fn: Callable[..., Any],
    tx: optax.GradientTransformation,
    *,
    has_aux: bool = False,
    with_key: bool = False,
    with_hparams: bool = False,
    with_model_state: bool = False,
    axis_name: str | None = None,
    grad_norm: bool = True,
) -> Callable[[TrainState, Batch, PRNGKey], tuple[TrainState, Metrics]]:
    """Build the default ``train_step(state, batch, key) -> (state, metrics)`` for ``loss_fn``.

    The loss is called as ``loss_fn(params, batch, **extras)``, the extras being
    ``key=`` (the step's key) with ``with_key``, ``hparams=`` (``state.hparams``) with
    ``with_hparams`` and ``model_state=`` with ``with_model_state``. It returns

    - ``loss``, or ``(loss, metrics)`` with ``has_aux``;
    - with ``with_model_state``: ``(loss, new_model_state)``, or ``(loss, (new_model_state,
      metrics))`` with ``has_aux``.

    ``axis_name`` is for a step you map yourself with ``pmap``/``shard_map`` over a named axis:
    the loss, gradients and metrics are then averaged across it with ``lax.pmean`` (``fit``'s own
    ``data_parallel=True`` needs none of this: XLA inserts the reductions).

    ``grad_norm=False`` leaves ‖g_t‖₂ out of the metrics: it is one more pass over every gradient
    each step (on XLA:CPU a separate reduction that re-reads all of g_t, ~10% of an MLP step).

    Returns:
      A pure function; its metrics hold ``loss`` (before the update), ``grad_norm`` = ‖g_t‖₂
      (global norm; unless ``grad_norm=False``) and the loss's own metrics.
    """

    def objective(params, batch, state, key):
        extras = {}
        if with_key:
            extras["key"] = key
        if with_hparams:
            extras["hparams"] = state.hparams
        if with_model_state:
            extras["model_state"] = state.model_state
        out = loss_fn(params, batch, **extras)
        if with_model_state:
            loss, rest = out
            model_state, aux = rest if has_aux else (rest, {})
        else:
            loss, aux = out if has_aux else (out, {})
            model_state = state.model_state
        return loss, (model_state, aux)

    def train_step(state: TrainState, batch: Batch, key: PRNGKey | None = None) -> tuple[TrainState, Metrics]:
        if with_key and key is None:
            raise ValueError("this train step's loss takes the step's key: pass train_step(state, batch, key)")
        (loss, (model_state, aux)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, batch, state, key
        )
        if axis_name is not None:
            loss, grads, aux = jax.lax.pmean((loss, grads, aux), axis_name)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **aux} if grad_norm else {"loss": loss, **aux}
        new_state = state._replace(params=params, opt_state=opt_state, step=state.step + 1, model_state=model_state)
        return new_state, metrics

    return train_step


def run_steps(train_step, state: TrainState, batches: Batch, key: PRNGKey | None = None):
    """Apply ``train_step`` over the leading axis of pre-made ``batches`` ([steps, B, ...]).

    One ``lax.scan``; step t gets ``step_key(key, t)`` (``None`` without a key). Returns the final
    state and the stacked per-step metrics.
    """

    def body(state, batch):
        return train_step(state, batch, None if key is None else step_key(key, state.step))

    return jax.lax.scan(body, state, batches)


# ---- keys and minibatches


def step_key(key: PRNGKey, step) -> PRNGKey:
    """The key of step t for randomness inside the step: ``fold_in(fold_in(key, 2³²−1), t)``.

    Independent of the minibatch's key ``fold_in(key, t)``; a pure function of (run key, t).
    """
    return jax.random.fold_in(jax.random.fold_in(key, _STEP_STREAM), step)


def epoch_key(key: PRNGKey, epoch) -> PRNGKey:
    """The key of epoch e's permutation: ``fold_in(fold_in(key, 2³²−2), e)``."""
    return jax.random.fold_in(jax.random.fold_in(key, _EPOCH_STREAM), epoch)


def example_keys(key: PRNGKey, batch_size: int, offset=0) -> PRNGKey:
    """One key per example of a global batch: ``fold_in(key, offset + i)`` for i < B.

    Randomness that belongs to an example (its dropout mask, its augmentation) drawn from these
    keys depends on (run key, step, position in the global batch) alone, so a data-parallel run
    draws for each example exactly what the one-device run draws.
    """
    return jax.vmap(jax.random.fold_in, (None, 0))(key, offset + jnp.arange(batch_size))


def num_samples(data: Batch) -> int:
    """The common leading dimension N of the leaves of ``data``."""
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in jax.tree.leaves(data)}
    if None in sizes:
        raise ValueError("data leaves must have a leading (sample) axis, got a scalar leaf")
    if len(sizes) != 1:
        raise ValueError(f"data leaves must share their leading (sample) axis, got sizes {sizes}")
    return sizes.pop()


def batch_indices(key: PRNGKey, step, n: int, batch_size: int) -> Array:
    """Indices of the minibatch of ``step``: ``randint(fold_in(key, step), (B,), 0, N)``."""
    return jax.random.randint(jax.random.fold_in(key, step), (batch_size,), 0, n)


def take_rows(data: Batch, idx: Array) -> Batch:
    """The rows ``idx`` of every leaf of ``data``."""
    return jax.tree.map(lambda leaf: leaf[idx], data)


def sample_batch(key: PRNGKey, step, data: Batch, batch_size: int | None) -> Batch:
    """The default minibatch of ``step`` (the whole of ``data`` when ``batch_size`` is None)."""
    if batch_size is None:
        return data
    return take_rows(data, batch_indices(key, step, num_samples(data), batch_size))


def _epoch_permutation(key: PRNGKey, step, n: int, batch_size: int) -> Array:
    return jax.random.permutation(epoch_key(key, step // (n // batch_size)), n)


def _epoch_slice(perm: Array, step, batch_size: int) -> Array:
    position = step % (perm.shape[0] // batch_size)
    return jax.lax.dynamic_slice(perm, (position * batch_size,), (batch_size,))


def epoch_batch_indices(key: PRNGKey, step, n: int, batch_size: int) -> Array:
    """Indices of step t's minibatch when sampling epochs without replacement.

    With S = ⌊N/B⌋ steps per epoch, step t lies in epoch e = ⌊t/S⌋ at position p = t mod S and
    takes entries [pB, (p+1)B) of ``permutation(epoch_key(key, e), N)``; the N − SB rows left
    over are skipped in that epoch (a fresh permutation the next).
    """
    return _epoch_slice(_epoch_permutation(key, step, n, batch_size), step, batch_size)


class _Sampler(NamedTuple):
    """``init(key, step, data) -> carry`` before a chunk; ``sample(key, step, data, carry) ->
    (batch, carry)`` at each step. The carry lets the epoch sampler permute once per epoch."""

    init: Callable
    sample: Callable


def _full_batch_sampler() -> _Sampler:
    return _Sampler(lambda key, step, data: (), lambda key, step, data, carry: (data, carry))


def _replacement_sampler(batch_size: int) -> _Sampler:
    def sample(key, step, data, carry):
        return sample_batch(key, step, data, batch_size), carry

    return _Sampler(lambda key, step, data: (), sample)


def _epoch_sampler(batch_size: int) -> _Sampler:
    def init(key, step, data):
        return _epoch_permutation(key, step, num_samples(data), batch_size)

    def sample(key, step, data, perm):
        # A new epoch starts: permute again (a chunk may also start mid-epoch: see ``init``).
        new_epoch = step % (num_samples(data) // batch_size) == 0
        perm = jax.lax.cond(new_epoch, lambda: init(key, step, data), lambda: perm)
        return take_rows(data, _epoch_slice(perm, step, batch_size)), perm

    return _Sampler(init, sample)


def _user_sampler(fn: Callable) -> _Sampler:
    def sample(key, step, data, carry):
        return fn(jax.random.fold_in(key, step), step, data), carry

    return _Sampler(lambda key, step, data: (), sample)


def make_sampler(sampler, batch_size: int | None) -> _Sampler:
    """The sampler ``fit`` uses: ``None``/``"replace"`` (uniform rows with replacement, or the
    full batch when ``batch_size`` is None), ``"epochs"`` (without replacement), or a callable
    ``sampler(key_t, t, data) -> batch`` with ``key_t = fold_in(key, t)``."""
    if callable(sampler):
        return _user_sampler(sampler)
    if sampler in (None, "replace"):
        return _full_batch_sampler() if batch_size is None else _replacement_sampler(batch_size)
    if sampler == "epochs":
        if batch_size is None:
            raise ValueError('sampler="epochs" needs a batch_size')
        return _epoch_sampler(batch_size)
    raise ValueError(f'sampler must be None, "replace", "epochs" or a callable, got {sampler!r}')


# ---- the compile cache


class _Identity:
    """A cache-key component equal only to the same object (and keeping it alive)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


def static_key(obj, depth: int = 0):
    """A hashable key equal for two functions that compute the same thing.

    A Python function is keyed on its code (compared by content, so a notebook cell run again
    matches), the values in its closure and defaults (recursively) and the identity of the
    globals its code names; a ``functools.partial`` on its
    parts; a tuple (an optax ``GradientTransformation``), list or dict on its items; a hashable
    scalar on its value; anything else (arrays, objects) on its identity. So the lambda of a
    loop body, or ``optax.sgd(0.1)`` built twice, reuses one compiled program, while a function
    redefined in a notebook, or a closure over another array, compiles anew.
    """
    if depth > 12:
        return _Identity(obj)
    d = depth + 1
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
        return (type(obj), obj)
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        cells = []
        for cell in obj.__closure__ or ():
            try:
                cells.append(static_key(cell.cell_contents, d))
            except ValueError:  # an empty cell
                cells.append(None)
        names = tuple(
            (n, _Identity(obj.__globals__[n])) for n in code.co_names if n in obj.__globals__
        )
        return ("fn", code, tuple(cells), static_key(obj.__defaults__, d),
                static_key(obj.__kwdefaults__, d), names)
    if isinstance(obj, functools.partial):
        return ("partial", static_key(obj.func, d), static_key(obj.args, d), static_key(obj.keywords, d))
    if isinstance(obj, types.MethodType):
        return ("method", static_key(obj.__func__, d), _Identity(obj.__self__))
    if isinstance(obj, (tuple, list)):
        return (type(obj), tuple(static_key(x, d) for x in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((static_key(k, d), static_key(v, d)) for k, v in obj.items()))
    if isinstance(obj, (jax.Array, np.ndarray)):
        return _Identity(obj)
    try:
        hash(obj)
    except TypeError:
        return _Identity(obj)
    return (type(obj), obj) if type(obj).__hash__ is not object.__hash__ else _Identity(obj)


_RUNNERS: collections.OrderedDict = collections.OrderedDict()
_MAX_RUNNERS = 256


def _chunk_runner(train_step, sampler: _Sampler, sweep: bool, mesh, options: dict, cache_key):
    """One jitted chunk ``run(state, data, key, length) -> (state, metrics)`` per distinct step.

    Cached on ``static_key`` of what the step computes, so that a second ``fit`` with an equal
    loss and optimizer (even a new lambda of the same code) does not trace again.
    """
    if cache_key in _RUNNERS:
        _RUNNERS.move_to_end(cache_key)
        return _RUNNERS[cache_key]

    def run_one(state, data, key, length):
        def body(carry, _):
            state, sampler_carry = carry
            t = state.step
            batch, sampler_carry = sampler.sample(key, t, data, sampler_carry)
            if mesh is not None:
                batch = parallel.shard_batch(batch, mesh)
            state, metrics = train_step(state, batch, step_key(key, t))
            return (state, sampler_carry), metrics

        carry0 = (state, sampler.init(key, state.step, data))
        (state, _), metrics = jax.lax.scan(body, carry0, None, length=length)
        return state, metrics

    def run(state, data, key, length):
        if sweep:
            state, metrics = jax.vmap(lambda s: run_one(s, data, key, length))(state)
            return state, jax.tree.map(lambda m: jnp.swapaxes(m, 0, 1), metrics)  # step-major
        return run_one(state, data, key, length)

    runner = jax.jit(run, static_argnames="length", donate_argnums=0, compiler_options=options or None)
    _RUNNERS[cache_key] = runner
    if len(_RUNNERS) > _MAX_RUNNERS:
        _RUNNERS.popitem(last=False)
    return runner


class FitResult(NamedTuple):
    """What ``fit`` returns.

    Attributes:
      state: the final ``TrainState`` (with ``sweep``, every leaf has a leading run axis).
      history: dict of numpy arrays with a leading axis [num_steps] (``[num_steps, runs]`` with
        ``sweep``): ``loss``, ``grad_norm`` and the step's own metrics.
      evals: list of ``(step, dict)`` from ``eval_fn`` at the end of each chunk.
    """

    state: TrainState
    history: dict[str, np.ndarray]
    evals: list[tuple[int, dict[str, Any]]]


def _initial_state(params, tx, model_state, hparams, sweep: bool) -> TrainState:
    if isinstance(params, TrainState):
        if model_state is not None:
            raise ValueError("params is a TrainState, which carries its own model_state: pass one or the other")
        if hparams is None:
            return params
        if sweep:
            raise ValueError("to sweep from a TrainState, give it batched hparams instead of passing hparams")
        # continue the run with other hyper-parameter values (e.g. a smaller learning rate)
        hparams = _as_hparams(hparams)
        return params._replace(hparams=hparams, opt_state=set_injected_hyperparams(params.opt_state, hparams))
    if not sweep:
        return create_train_state(params, tx, model_state=model_state, hparams=hparams)
    if not hparams:
        raise ValueError("sweep=True needs hparams whose leaves carry the sweep's leading axis")
    sizes = {np.shape(v)[0] if np.ndim(v) else None for v in jax.tree.leaves(hparams)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"with sweep=True every hparams leaf needs the same leading axis, got sizes {sizes}")
    return jax.vmap(lambda h: create_train_state(params, tx, model_state=model_state, hparams=h))(dict(hparams))


def _check_data_parallel(sampler: _Sampler, data, key, sweep: bool) -> None:
    if sweep:
        raise ValueError("sweep=True and data_parallel=True together are not supported: run the sweep per device")
    batch = jax.eval_shape(lambda: sampler.sample(key, jnp.zeros((), jnp.int32), data,
                                                  sampler.init(key, jnp.zeros((), jnp.int32), data))[0])
    parallel.check_divisible(num_samples(batch), jax.device_count())


def _save(checkpoint_dir, state, history, step: int, keep: int) -> None:
    """Process 0 writes; with several processes all wait for it, so that none resumes from an
    older file than the others."""
    if jax.process_index() == 0:
        save_checkpoint(checkpoint_dir, {"state": state, "history": history}, step, keep=keep)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"jaxml checkpoint {step}")


def fit(
    loss_fn: Callable[..., Any] | None,
    tx: optax.GradientTransformation | None,
    params: Params | TrainState,
    data: Batch,
    *,
    key: PRNGKey,
    num_steps: int,
    batch_size: int | None = None,
    sampler: str | Callable | None = None,
    hparams: dict | None = None,
    model_state: Any = None,
    has_aux: bool = False,
    with_key: bool = False,
    train_step: Callable | None = None,
    sweep: bool = False,
    data_parallel: bool = False,
    chunk_size: int | None = None,
    eval_fn: Callable[..., dict[str, Any]] | None = None,
    checkpoint_dir=None,
    keep_checkpoints: int = 3,
    progress: bool | None = None,
    desc: str = "train",
    grad_norm: bool = True,
    compiler_options: dict[str, Any] | None = None,
) -> FitResult:
    """Train for ``num_steps`` steps: θ_{t+1} = θ_t + tx.update(∇L(θ_t; B_t)) by default.

    Args:
      loss_fn: ``loss_fn(params, batch, **extras)`` (see ``make_train_step`` for the extras and
        the return forms); ``None`` with a custom ``train_step``. Its code and closure values
        key the compile cache: a lambda of the same code does not recompile.
      tx: an ``optax.GradientTransformation``; wrap it in ``optax.inject_hyperparams`` to take
        a traced learning rate from ``hparams``. ``None`` with a custom step that starts from a
        ready ``TrainState``.
      params: initial parameters, or a ``TrainState`` to continue from.
      data: pytree of arrays with a shared leading sample axis N (e.g. ``(X, y)``).
      key: the run key: minibatches, step keys and epoch permutations all derive from it.
      num_steps: total number of updates (a resumed state counts its steps already done).
      batch_size: minibatch size B; ``None`` for full-batch gradient descent.
      sampler: ``None``/``"replace"`` (rows uniformly with replacement), ``"epochs"`` (without
        replacement, a permutation per epoch) or ``sampler(key_t, t, data) -> batch``.
      hparams: dict of traced hyper-parameters, stored in ``state.hparams``; the loss receives
        ``hparams=`` and ``optax.inject_hyperparams`` optimizers take the values they name.
      model_state: the initial model state (the loss receives ``model_state=`` and returns the
        new one; see ``make_train_step``).
      has_aux: the loss also returns a dict of metrics.
      with_key: the loss also takes ``key=``, the step's key ``step_key(key, t)``.
      train_step: a custom ``train_step(state, batch, key) -> (state, metrics)`` replacing the
        default one (it must increment ``state.step``).
      sweep: ``hparams`` leaves carry a leading axis of R runs, trained together by ``jax.vmap``
        on the same minibatches: one compiled program for the whole sweep.
      data_parallel: run the same program over all devices of all processes (after
        ``jax.distributed.initialize``), each global minibatch split evenly across them
        (``jaxml.core.parallel``); every process passes the same ``data`` and ``key``.
      chunk_size: steps per compiled chunk; defaults to all steps, or to about a tenth of them
        when evaluation, checkpoints or a progress bar ask for stops between chunks.
      eval_fn: run on the host after each chunk: ``eval_fn(params)``, or
        ``eval_fn(params, model_state)`` when the run has a model state.
      checkpoint_dir: when set, the state and history are saved after each chunk (by process 0),
        and a run finding checkpoints there resumes from the newest readable one.
      progress: show a tqdm bar over steps (``None``: only on a terminal).
      grad_norm: record ‖g_t‖₂ in the history (default step only); ``False`` saves a pass over
        the gradients per step where nobody reads it.
      compiler_options: XLA options for compiling the training loop (``jax.jit``'s
        ``compiler_options``, e.g. ``{"xla_cpu_prefer_vector_width": 256}``); ``None`` uses
        ``jaxml.core.xla_cpu.compiler_options()`` (512-bit loops on CPU), ``{}`` XLA's defaults.

    Returns:
      ``FitResult(state, history, evals)``.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    num_samples(data)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if sampler == "epochs" and batch_size is not None and batch_size > num_samples(data):
        raise ValueError(f"batch_size {batch_size} exceeds the {num_samples(data)} samples of one epoch")
    if train_step is None and loss_fn is None:
        raise ValueError("fit needs a loss_fn, or a custom train_step")
    if train_step is None and tx is None:
        raise ValueError("fit needs an optimizer tx for its default train step")
    if compiler_options is None:
        compiler_options = xla_cpu.compiler_options()
    elif not isinstance(compiler_options, dict):
        raise ValueError("compiler_options must be a dict of XLA options or None, "
                         f"got {type(compiler_options).__name__}")
    batch_sampler = make_sampler(sampler, batch_size)
    state = _initial_state(params, tx, model_state, hparams, sweep)
    has_model_state = bool(jax.tree.leaves(state.model_state)) or model_state is not None
    if train_step is None:
        with_hparams = hparams is not None or bool(state.hparams)
        step_spec = ("default", static_key(loss_fn), static_key(tx), has_aux, with_key, with_hparams,
                     has_model_state, bool(grad_norm))
        train_step = make_train_step(loss_fn, tx, has_aux=has_aux, with_key=with_key,
                                     with_hparams=with_hparams, with_model_state=has_model_state,
                                     grad_norm=bool(grad_norm))
    else:
        step_spec = ("custom", static_key(train_step))
    mesh = parallel.data_mesh() if data_parallel else None
    if data_parallel:
        _check_data_parallel(batch_sampler, data, key, sweep)
    run_chunk = _chunk_runner(train_step, batch_sampler, sweep, mesh, compiler_options,
                              (step_spec, static_key(sampler), batch_size, sweep, mesh,
                               static_key(compiler_options)))

    # fit donates its state to the compiled chunks: copy so the caller's arrays stay valid.
    state = jax.tree.map(jnp.array, state)
    if chunk_size is None:
        wants_stops = eval_fn is not None or checkpoint_dir is not None or progress
        chunk_size = max(1, math.ceil(num_steps / 10)) if wants_stops else max(num_steps, 1)

    history: dict[str, np.ndarray] | None = None
    evals: list[tuple[int, dict[str, Any]]] = []
    if checkpoint_dir is not None:
        # the first chunk's own length: this trace is the one its call reuses
        metrics_shape = run_chunk.eval_shape(state, data, key, min(chunk_size, num_steps) or 1)[1]

        def template(saved_step):
            history = {k: np.zeros((saved_step, *v.shape[1:]), v.dtype) for k, v in metrics_shape.items()}
            return {"state": state, "history": history}

        restored, saved_step = restore_latest(checkpoint_dir, template)
        if restored is not None:
            state = jax.tree.map(jnp.asarray, restored["state"])
            state = state._replace(step=jnp.asarray(state.step, jnp.int32))
            history = {k: np.zeros((max(num_steps, saved_step), *v.shape[1:]), v.dtype)
                       for k, v in restored["history"].items()}
            for k, v in restored["history"].items():
                history[k][:saved_step] = v
    if mesh is not None:
        state, data, key = parallel.replicate_global((state, data, key), mesh)

    step = int(np.max(jax.device_get(state.step)))
    bar = tqdm(total=num_steps, initial=step, desc=desc, disable=None if progress is None else not progress)
    while step < num_steps:
        length = min((step // chunk_size + 1) * chunk_size, num_steps) - step
        state, metrics = run_chunk(state, data, key, length)
        metrics = jax.device_get(metrics)
        if history is None:
            history = {k: np.zeros((num_steps, *np.shape(v)[1:]), np.asarray(v).dtype) for k, v in metrics.items()}
        for k, v in metrics.items():
            history[k][step : step + length] = v
        step += length
        bar.update(length)
        if "loss" in metrics:
            bar.set_postfix(loss=f"{float(np.mean(metrics['loss'][-1])):.4g}")
        if eval_fn is not None:
            out = eval_fn(state.params, state.model_state) if has_model_state else eval_fn(state.params)
            evals.append((step, {k: np.asarray(v).item() if np.size(v) == 1 else np.asarray(v)
                                 for k, v in out.items()}))
        if checkpoint_dir is not None:
            _save(checkpoint_dir, state, {k: v[:step] for k, v in history.items()}, step, keep_checkpoints)
    bar.close()
    if history is None:
        history = {"loss": np.zeros((0,)), **({"grad_norm": np.zeros((0,))} if grad_norm else {})}
    return FitResult(state=state, history=history, evals=evals)


__all__ = [
    "FitResult",
    "TrainState",
    "batch_indices",
    "cached_loss",
    "create_train_state",
    "epoch_batch_indices",
    "epoch_key",
    "example_keys",
    "fit",
    "make_sampler",
    "make_train_step",
    "num_samples",
    "run_steps",
    "sample_batch",
    "set_injected_hyperparams",
    "static_key",
    "step_key",
    "take_rows",
]
