"""Every kernel entry, on every instruction set this machine runs, on inputs whose last byte
is the last byte before a PROT_NONE page: a read past the end is a segmentation fault.

Odd sizes, clean and with NaN, ±inf and subnormal values; each instruction set agrees with
the scalar one (docs/numerics.md's tolerances) and gives bitwise the same result at 1 and 3
threads. ``out=`` arrays end at a guard page too, or are followed by guard values. The same
guarantee for instruction sets this machine lacks: the opt-in emulated runs of
tools/kernel_check (CONTRIBUTING.md).
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import zlib

import numpy as np
import pytest

import fastloss
from conftest import BACKENDS, HALF_DTYPES, use_backend
from fastloss import _core
from harness import CASES, CLASSES, Case, bits, compare

PAGE = mmap.PAGESIZE

ELEMENTWISE = tuple(((n,), None) for n in (1, 3, 17, 1001, 131_075))  # 131_075: three chunks
# The harness's class shapes that are not empty (the guard page needs a last byte), and one more
# class axis not last with several parts.
ROWS = tuple(s for s in CLASSES if s[1] == -1 and np.prod(s[0]) > 0)
INNER = (*(s for s in CLASSES if s[1] == 1), ((1, 3, 17), 1), ((300, 7, 31), 1))

# Each kernel entry and the harness cases (tests/harness.py ids) that reach it, with their
# shapes: the binding calls the entry for these options and shapes (src/cpp/bindings.cpp).
_ENTRIES: dict[str, tuple[tuple[str, ...], tuple]] = {
    "regression": (
        (
            "mse_loss-reduction=mean",
            "l1_loss-reduction=none",
            "huber_loss-delta=0.3-reduction=none",
            "smooth_l1_loss-beta=2.5-reduction=sum",
            "smooth_l1_loss-beta=0.0-reduction=none",
        ),
        ELEMENTWISE,
    ),
    "regression_stats": (("RegressionEvaluator-delta=0.5-sample_weight=full weight",), ELEMENTWISE),
    "bce": (
        (
            "binary_cross_entropy-reduction=sum",
            "binary_cross_entropy-weight=last-axis weight-reduction=none",
        ),
        ELEMENTWISE,
    ),
    "bce_with_logits": (
        (
            "binary_cross_entropy_with_logits-reduction=mean",
            "binary_cross_entropy_with_logits-weight=full weight-pos_weight=last-axis weight"
            "-reduction=none",
        ),
        ELEMENTWISE,
    ),
    "kl_div": (("kl_div-reduction=none", "kl_div-reduction=sum-log_target=True"), ELEMENTWISE),
    "entropy": (("entropy",), ROWS + INNER),
    "softmax": (("softmax", "log_softmax", "logsumexp"), ROWS + INNER),
    "cross_entropy": (
        (
            "cross_entropy-reduction=none",
            "cross_entropy-weight=class weight-ignore_index=0-reduction=sum-label_smoothing=1.0",
            "cross_entropy-probabilities-label_smoothing=0.2-reduction=none",
        ),
        ROWS,
    ),
    "cross_entropy_inner": (
        (
            "cross_entropy-reduction=none",
            "cross_entropy-probabilities-label_smoothing=0.2-reduction=none",
        ),
        INNER,
    ),
    "nll_loss": (
        ("nll_loss-reduction=none", "nll_loss-weight=class weight-reduction=sum"),
        ROWS + INNER,
    ),
    "evaluate": (("evaluate-weight=class weight-sample_weight=row weight",), ROWS + INNER),
}
ENTRY_CASES = {
    f"{e}_{t}": cases for e, cases in _ENTRIES.items() for t in ("f32", "f64", "bf16", "f16")
}
# The dtype of each entry suffix's data (bfloat16: None without ml_dtypes).
ENTRY_DTYPES = {
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "f16": np.dtype(np.float16),
    "bf16": next((d for d in HALF_DTYPES if d.kind == "V"), None),
}
# Entries no public function calls: the math and bench probe entries. tests/test_math_ulp.py
# covers math_*; tools/kernel_check runs all of them at guard pages.
NOT_PUBLIC = {
    "math_f32",
    "math_f64",
    "probe_read_f32",
    "probe_read_f64",
    "probe_copy_f32",
    "probe_copy_f64",
    "probe_exp_f32",
}
BY_ID = {c.id: c for c in CASES}


def test_every_kernel_entry_has_a_case():
    entries = set(_core._kernel_entries())
    assert entries - NOT_PUBLIC == set(ENTRY_CASES), "a kernel entry without a guard-page case"
    assert not NOT_PUBLIC - entries
    for ids, _ in ENTRY_CASES.values():
        assert set(ids) <= set(BY_ID), set(ids) - set(BY_ID)


# ---------------------------------------------------------------------------------------
# memory that ends at a PROT_NONE page


def _mprotect():
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).mprotect
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


MPROTECT = _mprotect()
PROT_NONE = 0


def at_guard(a: np.ndarray) -> np.ndarray:
    """A C-contiguous native copy of a whose last byte is the last one before a PROT_NONE
    page. The mapping lives as long as the array."""
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    if a.size == 0:
        return a
    pages = -(-a.nbytes // PAGE) + 1
    buf = mmap.mmap(-1, pages * PAGE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    if MPROTECT(address + (pages - 1) * PAGE, PAGE, PROT_NONE) != 0:
        pytest.skip(f"mprotect failed: errno {ctypes.get_errno()}")
    offset = (pages - 1) * PAGE - a.nbytes
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=offset).reshape(a.shape)
    out[...] = a
    return out


def _finfo(dtype):
    if dtype.kind == "V":  # bfloat16: ml_dtypes has its finfo
        import ml_dtypes

        return ml_dtypes.finfo(dtype)
    return np.finfo(dtype)


def _edges(dtype, name: str) -> np.ndarray:
    info = _finfo(dtype)
    tiny = info.smallest_subnormal
    if name == "binary_cross_entropy":  # its input and target must stay in [0, 1]
        return np.array([0.0, 1.0, -0.0, tiny, 1 - info.eps, info.smallest_normal / 4], dtype)
    return np.array(
        [np.nan, np.inf, -np.inf, tiny, -tiny, 0.0, -0.0, info.smallest_normal / 4, info.max / 4],
        dtype,
    )


def _inputs(case: Case, shape, axis, dtype, edge: bool) -> tuple[tuple, dict]:
    rng = np.random.default_rng(zlib.crc32(f"{case.id}{shape}{edge}".encode()))
    args, opts = case.inputs(rng, shape, axis, dtype)
    if edge:
        values = _edges(dtype, case.name)
        for a in args if case.name != "cross_entropy" else args[:1]:  # logits, not targets
            if a.dtype.kind == "f":
                flat = a.reshape(-1)
                where = np.flatnonzero(rng.random(flat.size) < 0.03)
                flat[where] = rng.choice(values, where.size)
    return args, opts


def _outcome(case: Case, args: tuple, opts: dict):
    try:
        with np.errstate(all="ignore"):
            return case.call(case.name, args, opts)
    except (ValueError, IndexError) as e:  # the same error on every instruction set
        return (type(e), str(e))


_SCALAR: dict = {}


def _on_scalar(key, case, args, opts):
    if key not in _SCALAR:
        with use_backend("scalar"), fastloss.threads(1):
            _SCALAR[key] = _outcome(case, args, opts)
    return _SCALAR[key]


def _same(got, want, dtype, case, terms) -> None:
    if isinstance(want, tuple) or isinstance(got, tuple):
        assert got == want
    else:
        with np.errstate(all="ignore"):
            # want is the scalar ISA's result: a half output is rounded on both sides.
            compare(
                got,
                np.asarray(want, np.float64) if not isinstance(want, dict) else want,
                dtype,
                reduction=case.reduction,
                terms=terms,
                per_element=case.name == "entropy",
                roundings=2,
            )


@pytest.mark.skipif(MPROTECT is None, reason="needs Linux and libc mprotect (ctypes)")
@pytest.mark.parametrize("isa", BACKENDS)
@pytest.mark.parametrize("entry", sorted(ENTRY_CASES))
def test_kernel_entry_at_guard_page(entry, isa):
    dtype = ENTRY_DTYPES[entry.rsplit("_", 1)[1]]
    if dtype is None:
        pytest.skip("bfloat16 arrays need ml_dtypes")
    ids, shapes = ENTRY_CASES[entry]
    for case in (BY_ID[i] for i in ids):
        for shape, axis in shapes:
            for edge in (False, True):
                args, opts = _inputs(case, shape, axis, dtype, edge)
                args = tuple(at_guard(a) for a in args)
                opts = {k: at_guard(v) if isinstance(v, np.ndarray) else v for k, v in opts.items()}
                want = _on_scalar((entry, case.id, shape, edge), case, args, opts)
                with use_backend(isa):
                    with fastloss.threads(1):
                        one = _outcome(case, args, opts)
                    with fastloss.threads(3):
                        three = _outcome(case, args, opts)
                where = f"{case.id} {shape} axis={axis} {'edge' if edge else 'clean'}"
                same = one == three if isinstance(one, tuple) else bits(one) == bits(three)
                assert same, f"{where}: 1 and 3 threads differ"
                _same(one, want, dtype, case, case.terms(args, shape, axis))


@pytest.mark.skipif(MPROTECT is None, reason="needs Linux and libc mprotect (ctypes)")
@pytest.mark.parametrize("isa", BACKENDS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, *HALF_DTYPES])
def test_out_ends_at_guard_page_or_guard_values(name, dtype, isa):
    """out= written up to its last byte and not one beyond: at a PROT_NONE page, and as the
    head of a buffer whose tail holds guard values."""
    rng = np.random.default_rng(3)
    for shape, axis in ROWS + INNER:
        x = at_guard(rng.normal(0, 3, shape).astype(dtype))
        with use_backend("scalar"):
            want = getattr(fastloss, name)(x, axis=axis)
        with use_backend(isa):
            paged = at_guard(np.zeros(shape, dtype))
            assert getattr(fastloss, name)(x, axis=axis, out=paged) is paged
            guarded = np.full(x.size + 64, 12345.0, dtype)
            out = guarded[: x.size].reshape(shape)
            with fastloss.threads(3):
                assert getattr(fastloss, name)(x, axis=axis, out=out) is out
        assert np.all(guarded[x.size :] == 12345.0), f"{name} {shape}: wrote past out"
        np.testing.assert_array_equal(paged, out)
        compare(paged, want.astype(np.float64), dtype, roundings=2)
