"""Atomic checkpoints of any pytree (a ``TrainState`` and its history) in msgpack.

Format: one file per step, ``ckpt_<step>.msgpack``, holding a msgpack map
``{"format": "jaxml-ckpt-1", "sha256": hex, "payload": bytes}`` where ``payload`` is
``flax.serialization.msgpack_serialize(to_state_dict(tree))``. msgpack cannot execute code
(unlike pickle), and the checksum turns a torn or corrupted file into a clear error.

Writes go to a temporary file in the same folder, are flushed and fsync'ed, then renamed over
the final name (``os.replace`` is atomic on POSIX), so a process killed at any moment leaves
either the previous checkpoints or the new one, never a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import jax
import msgpack
import numpy as np
from flax import serialization

FORMAT = "jaxml-ckpt-1"
_NAME = re.compile(r"^ckpt_(\d+)\.msgpack$")


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupted, or does not fit the target's structure."""


def _path(directory, step: int) -> Path:
    return Path(directory) / f"ckpt_{int(step):010d}.msgpack"


def list_checkpoints(directory) -> list[tuple[int, Path]]:
    """All checkpoints in ``directory`` as (step, path), oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(directory, tree, step: int, *, keep: int = 3) -> Path:
    """Write ``tree`` as the checkpoint of ``step`` atomically; keep the newest ``keep`` files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    host_tree = jax.device_get(tree)
    payload = serialization.msgpack_serialize(serialization.to_state_dict(host_tree))
    blob = msgpack.packb(
        {"format": FORMAT, "sha256": hashlib.sha256(payload).hexdigest(), "payload": payload},
        use_bin_type=True,
    )
    final = _path(directory, step)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_ckpt_")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for _, old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return final


def _check_structure(target, restored, path: str = "") -> None:
    """Raise CheckpointError where ``restored`` differs from ``target`` in keys, shape or dtype."""
    if isinstance(target, dict):
        if not isinstance(restored, dict) or set(target) != set(restored):
            have = sorted(restored) if isinstance(restored, dict) else type(restored).__name__
            raise CheckpointError(
                f"checkpoint structure differs at '{path or '/'}': expected keys "
                f"{sorted(target)}, found {have}"
            )
        for k in target:
            _check_structure(target[k], restored[k], f"{path}/{k}")
        return
    t_shape, r_shape = np.shape(target), np.shape(restored)
    if t_shape != r_shape:
        raise CheckpointError(
            f"checkpoint leaf '{path}' has shape {r_shape}, the target expects {t_shape}"
        )
    t_dtype = getattr(target, "dtype", None)
    r_dtype = getattr(restored, "dtype", None)
    if t_dtype is not None and r_dtype is not None and np.dtype(t_dtype) != np.dtype(r_dtype):
        raise CheckpointError(
            f"checkpoint leaf '{path}' has dtype {r_dtype}, the target expects {t_dtype}"
        )


def load_checkpoint(path, target):
    """Read one checkpoint file into the structure of ``target``.

    Raises:
      CheckpointError: the file is corrupted (bad msgpack, wrong checksum) or its tree does not
        match ``target`` (``flax.serialization.from_state_dict`` alone would not check shapes).
    """
    path = Path(path)
    try:
        outer = msgpack.unpackb(path.read_bytes(), raw=False)
        if not isinstance(outer, dict) or outer.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a jaxml checkpoint")
        payload = outer["payload"]
        if hashlib.sha256(payload).hexdigest() != outer["sha256"]:
            raise CheckpointError(f"{path} is corrupted: checksum mismatch")
        state_dict = serialization.msgpack_restore(payload)
    except CheckpointError:
        raise
    except Exception as err:  # msgpack raises several unrelated types on torn files
        raise CheckpointError(f"{path} is corrupted or truncated: {err}") from err
    target_dict = serialization.to_state_dict(jax.device_get(target))
    _check_structure(target_dict, state_dict)
    return serialization.from_state_dict(target, state_dict)


def restore_latest(directory, target):
    """Restore the newest readable checkpoint of ``directory`` into ``target``'s structure.

    ``target`` is a pytree, or a function ``target(step) -> pytree`` for trees whose shapes
    depend on the checkpoint's step (a history of ``step`` entries).

    A corrupted newest file is reported with a warning and the previous one is used. A
    structure mismatch is raised at once: an older file of the same run would not fit either.

    Returns:
      ``(tree, step)``, or ``(None, None)`` when the folder holds no checkpoint.
    """
    candidates = list_checkpoints(directory)
    errors = []
    for step, path in reversed(candidates):
        try:
            return load_checkpoint(path, target(step) if callable(target) else target), step
        except CheckpointError as err:
            if "corrupted" not in str(err) and "not a jaxml" not in str(err):
                raise
            warnings.warn(f"skipping unreadable checkpoint: {err}", stacklevel=2)
            errors.append(str(err))
    if errors:
        raise CheckpointError("no readable checkpoint in " + str(directory) + ": " + "; ".join(errors))
    return None, None


__all__ = [
    "CheckpointError",
    "list_checkpoints",
    "load_checkpoint",
    "restore_latest",
    "save_checkpoint",
]
