"""Seeded benchmark inputs, cached on disk so every worker process reads the same bytes.

Logits are spread like real model outputs: normal with std 2.5, plus 1% confident rows
whose target logit sits 20 to 40 above the rest (the hard case of docs/numerics.md). Targets
are int64, the dtype torch requires, which fastloss reads in place. Half-precision inputs
(bfloat16, float16) are the float32 ones rounded to nearest even, so they hold the same
values to the half type's precision.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from workloads import Workload

VERSION = 1  # bump when a generator changes, so stale cache files are not reused
IGNORE_FRACTION = 0.05  # padding positions in the "ignore" variants
CONFIDENT_FRACTION = 0.01
LOGIT_STD = 2.5


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastloss-bench"


Stored = np.ndarray | dict[str, np.ndarray]


class Cache:
    """Arrays stored as .npy under a key, or a mapping of named arrays (a reference result
    such as evaluate's metrics) as .npz; ``root=None`` disables the disk (memory only)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._memo: dict[str, Stored] = {}

    def get(self, key: str, make: Callable[[], Stored]) -> Stored:
        if key in self._memo:
            return self._memo[key]
        arr = self._load(key)
        if arr is None:
            made = make()
            if isinstance(made, dict):
                arr = {k: _contiguous(np.asarray(v)) for k, v in made.items()}
            else:
                arr = _contiguous(np.asarray(made))
            self._store(key, arr)
        self._memo[key] = arr
        return arr

    def forget(self) -> None:
        """Drop the in-process copies (workloads sharing inputs run next to each other)."""
        self._memo.clear()

    def _path(self, key: str, suffix: str = ".npy") -> Path | None:
        if self.root is None:
            return None
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.root / f"{digest}{suffix}"

    def _load(self, key: str) -> Stored | None:
        for suffix in (".npy", ".npz"):
            path = self._path(key, suffix)
            if path is None or not path.exists():
                continue
            try:
                if suffix == ".npy":
                    return np.load(path)
                with np.load(path) as z:
                    return {k: z[k] for k in z.files}
            except (OSError, ValueError):
                return None
        return None

    def _store(self, key: str, arr: Stored) -> None:
        mapping = isinstance(arr, dict)
        path = self._path(key, ".npz" if mapping else ".npy")
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                if mapping:
                    np.savez(f, **arr)
                else:
                    np.save(f, arr)
            os.replace(tmp, path)  # atomic: a concurrent reader sees all or nothing
        except OSError:
            self.root = None  # read-only location: keep going without the disk cache


def _contiguous(a: np.ndarray) -> np.ndarray:
    # (ascontiguousarray would turn a 0-d result 1-d)
    return a if a.flags.c_contiguous else a.copy(order="C")


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype of a workload dtype name; bfloat16 is ml_dtypes' (ImportError without)."""
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def dtype_missing(name: str) -> str | None:
    """Why inputs of this dtype cannot be made here, or None."""
    try:
        numpy_dtype(name)
    except ImportError:
        return f"{name} inputs need ml_dtypes, which is not installed (pip install ml_dtypes)"
    return None


def make_inputs(w: Workload, cache: Cache) -> dict[str, np.ndarray]:
    """The named input arrays of workload ``w``, C-contiguous, touched (so warm)."""
    if w.half:
        return _rounded(w, cache)
    dtype = np.dtype(w.dtype)
    shape = w.shape
    axis = w.axis % len(shape) if len(shape) > 1 else 0
    base = f"v{VERSION}-{'x'.join(map(str, shape))}-axis{axis}"

    def key(what: str, dt: np.dtype | str = dtype) -> str:
        return f"{base}-{what}-{np.dtype(dt).name}"

    def target() -> np.ndarray:
        return cache.get(key("target", np.int64), lambda: _targets(shape, axis, _rng(base)))

    def logits() -> np.ndarray:
        return cache.get(key("logits"), lambda: _logits(shape, axis, dtype, target(), _rng(base)))

    kind = w.inputs
    if kind == "class":
        return {"logits": logits(), "target": target()}
    if kind == "class_ignore":
        ignored = cache.get(
            key("target-ignore", np.int64), lambda: _ignore(target(), _rng(base + "ignore"))
        )
        return {"logits": logits(), "target": ignored}
    if kind == "logprobs":
        lp = cache.get(key("logprobs"), lambda: _log_softmax(logits(), axis).astype(dtype))
        return {"log_probs": lp, "target": target()}
    if kind == "logits":
        return {"x": logits()}
    if kind == "kl":
        other = f"{base}-kl"
        inp = cache.get(key("kl-input"), lambda: _log_softmax(logits(), axis).astype(dtype))

        def kl_target() -> np.ndarray:
            lp = _log_softmax(_logits(shape, axis, dtype, None, _rng(other)), axis)
            return np.exp(lp).astype(dtype)

        tgt = cache.get(key("kl-target"), kl_target)
        return {"input": inp, "target": tgt}
    if kind == "probs_binary":
        return _binary(shape, dtype, cache, key, base, probs=True)
    if kind == "logits_binary":
        return _binary(shape, dtype, cache, key, base, probs=False)
    if kind == "regression":
        x = cache.get(key("reg-x"), lambda: _rng(base + "x").standard_normal(shape, dtype=dtype))
        y = cache.get(
            key("reg-y"),
            lambda: x + 1.5 * _rng(base + "y").standard_normal(shape, dtype=dtype),
        )
        return {"input": x, "target": y}
    raise ValueError(f"unknown input kind {kind!r} in workload {w.name!r}")


def _rounded(w: Workload, cache: Cache) -> dict[str, np.ndarray]:
    """The float32 inputs of ``w`` with every float array rounded to its half dtype.

    Stored as their bits (uint16): np.load gives a bfloat16 array back as raw ``|V2``.
    """
    half = numpy_dtype(w.dtype)
    wide = make_inputs(w.with_dtype("float32"), cache)
    shape = "x".join(map(str, w.shape))
    out = {}
    for name, a in wide.items():
        if a.dtype != np.float32:
            out[name] = a  # integer targets: the same array
            continue
        key = f"v{VERSION}-{shape}-axis{w.axis}-{w.inputs}-{name}-{half.name}-bits"
        bits = cache.get(key, lambda a=a: a.astype(half).view(np.uint16))
        out[name] = bits.view(half)
    return out


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(key.encode()))


def _targets(shape: tuple[int, ...], axis: int, rng: np.random.Generator) -> np.ndarray:
    n_classes = shape[axis]
    rest = shape[:axis] + shape[axis + 1 :]
    return rng.integers(0, n_classes, size=rest, dtype=np.int64)


def _logits(
    shape: tuple[int, ...],
    axis: int,
    dtype: np.dtype,
    target: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=dtype)
    x *= LOGIT_STD
    if len(shape) == 1:
        return x
    # A few confident rows: the target (or a random class) 20-40 above the rest.
    view = np.moveaxis(x, axis, -1)  # a view: writes land in x
    rows = np.nonzero(rng.random(view.shape[:-1]) < CONFIDENT_FRACTION)
    cls = target[rows] if target is not None else rng.integers(0, view.shape[-1], len(rows[0]))
    view[rows + (cls,)] += rng.uniform(20.0, 40.0, len(rows[0])).astype(dtype)
    return x


def _ignore(target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    t = target.copy()
    t[rng.random(t.shape) < IGNORE_FRACTION] = -100
    return t


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x.astype(np.float64)
    z -= z.max(axis=axis, keepdims=True)
    z -= np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z


def _binary(
    shape: tuple[int, ...],
    dtype: np.dtype,
    cache: Cache,
    key: Callable[..., str],
    base: str,
    *,
    probs: bool,
) -> dict[str, np.ndarray]:
    def z() -> np.ndarray:
        return _rng(base + "binary-z").standard_normal(shape) * 2.0

    def p() -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-z()))

    # Labels drawn from the predicted probability: a calibrated model, both classes present.
    y = cache.get(
        key("binary-y"), lambda: (_rng(base + "binary-y").random(shape) < p()).astype(dtype)
    )
    if probs:
        # Away from 0 and 1, where torch's clamp at log = -100 would set the value.
        x = cache.get(key("binary-p"), lambda: np.clip(p(), 1e-4, 1 - 1e-4).astype(dtype))
    else:
        x = cache.get(key("binary-logits"), lambda: (1.5 * z()).astype(dtype))
    return {"x": x, "target": y}
