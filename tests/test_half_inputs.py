"""Half precision inputs: the DLPack reader of _core (bfloat16 and what NumPy cannot import),
the dtype rules of the Python layer (float16 and bfloat16 as themselves, one common dtype for
two data arrays, float32 weights), results in the caller's kind, and FileArray /
evaluate_chunked over half files.
"""

from __future__ import annotations

import ctypes
import gc

import numpy as np
import pytest

import fastloss
from fastloss import _checks, _core, _half
from fastloss._half import astype, bfloat16_dtype, is_bfloat16, is_half


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="torch is optional; its tensors are tested with it")


@pytest.fixture
def ml_dtypes():
    return pytest.importorskip(
        "ml_dtypes", reason="ml_dtypes is optional; NumPy's own bfloat16 arrays need it"
    )


@pytest.fixture
def jnp():
    return pytest.importorskip("jax.numpy", reason="JAX is optional; its arrays are tested with it")


F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
MARKER = np.dtype(np.uint16, metadata={"fastloss": "bfloat16"})


def bf16_bits(values) -> np.ndarray:
    """float32 values (exact in bfloat16) as bfloat16 bits."""
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint16)


def as_f32(a: np.ndarray) -> np.ndarray:
    return astype(np.asarray(a), F32)


# ---------------------------------------------------------------------------------------
# A DLPack producer written against the ABI with ctypes: byte offsets, missing strides,
# versioned capsules, read-only flags, other devices and dtypes, and when the deleter runs.


class _Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _Tensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _Device),
        ("ndim", ctypes.c_int32),
        ("dtype", _DType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _Managed(ctypes.Structure):
    _fields_ = [("dl_tensor", _Tensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _DELETER)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _ManagedVersioned(ctypes.Structure):
    _fields_ = [
        ("version", _Version),
        ("manager_ctx", ctypes.c_void_p),
        ("deleter", _DELETER),
        ("flags", ctypes.c_uint64),
        ("dl_tensor", _Tensor),
    ]


_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_NAMES = {False: b"dltensor", True: b"dltensor_versioned"}
_LIVE: dict[int, Producer] = {}  # by managed-tensor address, until its deleter runs


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _capsule_destructor(capsule):
    # The producer's side of the protocol: an unconsumed capsule frees its tensor.
    for name in _NAMES.values():
        if _capsule_is_valid(capsule, name):
            _LIVE[_capsule_pointer(capsule, name)].delete()


class Producer:
    """One tensor over ``buf`` with the given DLPack fields; counts its deleter's calls."""

    def __init__(
        self,
        buf,
        shape,
        *,
        strides=None,
        byte_offset=0,
        code=4,
        bits=16,
        lanes=1,
        device=(1, 0),
        versioned=False,
        flags=0,
    ):
        self.buf, self.deleted, self.versioned = buf, 0, versioned
        self.shape = (ctypes.c_int64 * len(shape))(*shape)
        self.strides = None if strides is None else (ctypes.c_int64 * len(strides))(*strides)
        t = _Tensor(
            buf.ctypes.data if buf.size else None,
            _Device(*device),
            len(shape),
            _DType(code, bits, lanes),
            self.shape,
            self.strides,
            byte_offset,
        )
        self.deleter = _DELETER(lambda _: self.delete())
        if versioned:
            self.managed = _ManagedVersioned(_Version(1, 0), None, self.deleter, flags, t)
        else:
            self.managed = _Managed(t, None, self.deleter)

    def delete(self):
        self.deleted += 1
        _LIVE.pop(ctypes.addressof(self.managed), None)

    def __dlpack__(self, *, stream=None, max_version=None):
        versioned = self.versioned and max_version is not None and max_version[0] >= 1
        assert versioned == self.versioned, "the reader asks for a versioned capsule"
        ptr = ctypes.addressof(self.managed)
        _LIVE[ptr] = self
        return _capsule_new(
            ptr, _NAMES[versioned], ctypes.cast(_capsule_destructor, ctypes.c_void_p)
        )

    def __dlpack_device__(self):
        return (self.managed.dl_tensor.device.device_type, 0)


def test_reader_byte_offset_and_contiguous_default():
    values = np.arange(24, dtype=np.float32)
    buf = bf16_bits(values)
    p = Producer(buf, (3, 4), byte_offset=8 * 2)  # strides NULL: C-contiguous
    a = _core._from_dlpack(p, MARKER)
    assert a.dtype == MARKER and is_bfloat16(a.dtype) and a.shape == (3, 4)
    np.testing.assert_array_equal(as_f32(a), values[8:20].reshape(3, 4))
    assert np.shares_memory(a, buf) and a.flags.writeable
    assert p.deleted == 0
    del a
    gc.collect()
    assert p.deleted == 1  # once, by the array; the renamed capsule leaves it alone


def test_reader_strides_in_elements():
    buf = bf16_bits(np.arange(12, dtype=np.float32))
    p = Producer(buf, (4, 2), strides=(1, 6), byte_offset=2)  # a transposed view, from 1
    a = _core._from_dlpack(p, MARKER)
    assert a.strides == (2, 12)
    want = np.arange(12, dtype=np.float32)[1:].reshape(-1)
    np.testing.assert_array_equal(
        as_f32(a), [[want[i + 6 * j] for j in range(2)] for i in range(4)]
    )


def test_reader_versioned_read_only():
    buf = bf16_bits([1.0, 2.0, 3.0])
    p = Producer(buf, (3,), versioned=True, flags=1)
    a = _core._from_dlpack(p, MARKER)
    assert not a.flags.writeable
    np.testing.assert_array_equal(as_f32(a), [1, 2, 3])
    del a
    gc.collect()
    assert p.deleted == 1
    b = _core._from_dlpack(Producer(buf, (3,), versioned=True), MARKER)
    assert b.flags.writeable


def test_reader_numpy_versioned_capsule():
    # NumPy exports DLPack 1.x capsules when asked, with the read-only flag of its array.
    n = np.arange(6.0).reshape(2, 3)
    a = _core._from_dlpack(n, MARKER)
    assert a.flags.writeable and np.shares_memory(a, n)
    n.flags.writeable = False
    b = _core._from_dlpack(n[:, 1:], MARKER)
    assert not b.flags.writeable
    np.testing.assert_array_equal(b, n[:, 1:])


@pytest.mark.parametrize(
    ("code", "bits", "dtype"),
    [(2, 16, F16), (2, 32, F32), (2, 64, F64), (0, 8, np.int8), (0, 32, np.int32)]
    + [(0, 64, np.int64), (1, 8, np.uint8), (1, 16, np.uint16), (6, 8, np.bool_)]
    + [(5, 64, np.complex64), (5, 128, np.complex128)],
)
def test_reader_other_dtypes(code, bits, dtype):
    buf = np.zeros(6, np.uint8)
    n = 6 // (bits // 8) or 1
    a = _core._from_dlpack(Producer(buf, (n,), code=code, bits=bits), MARKER)
    assert a.dtype == np.dtype(dtype) and a.shape == (n,)


@pytest.mark.parametrize(
    ("code", "bits", "lanes", "named"),
    [(2, 8, 1, r"code 2 \(float\), bits 8,"), (4, 32, 1, r"code 4 \(bfloat\), bits 32,")]
    + [(2, 32, 4, r"code 2 \(float\), bits 32, lanes 4 is not supported"), (7, 8, 1, "code 7 ")]
    + [(3, 64, 1, r"code 3 \(opaque handle\)")],
)
def test_reader_unsupported_dtype_names_it(code, bits, lanes, named):
    p = Producer(np.zeros(8, np.uint8), (1,), code=code, bits=bits, lanes=lanes)
    with pytest.raises(TypeError, match=rf"_from_dlpack: DLPack dtype {named}"):
        _core._from_dlpack(p, MARKER)
    gc.collect()
    assert p.deleted == 1  # the capsule was not taken: its own destructor freed the tensor


@pytest.mark.parametrize(
    ("device", "name"), [(2, "cuda"), (10, "rocm"), (99, "DLPack device type 99")]
)
def test_reader_other_device_names_it(device, name):
    p = Producer(np.zeros(2, np.uint16), (2,), device=(device, 0))
    with pytest.raises(ValueError, match=f"the tensor is on the {name} device"):
        _core._from_dlpack(p, MARKER)
    gc.collect()
    assert p.deleted == 1


def test_reader_cuda_host_and_empty():
    buf = bf16_bits([5.0])
    a = _core._from_dlpack(Producer(buf, (1,), device=(3, 0)), MARKER)  # CUDA host-pinned
    np.testing.assert_array_equal(as_f32(a), [5.0])
    p = Producer(np.zeros(0, np.uint16), (0, 3))
    e = _core._from_dlpack(p, MARKER)
    assert e.shape == (0, 3) and e.dtype == MARKER
    gc.collect()
    assert p.deleted == 1
    with pytest.raises(ValueError, match="2-byte dtype"):
        _core._from_dlpack(Producer(buf, (1,)), np.float32)


# ---------------------------------------------------------------------------------------
# the reader on torch and JAX tensors


def test_torch_bfloat16_read_in_place(torch):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(6, 10, generator=g).bfloat16()
    a = _core._from_dlpack(t, bfloat16_dtype())
    assert a.dtype == bfloat16_dtype() and a.shape == (6, 10)
    np.testing.assert_array_equal(as_f32(a), t.float().numpy())
    t[1, 2] = 3.5  # written through torch, read in NumPy: the same memory
    assert as_f32(a)[1, 2] == 3.5
    a_marker = _core._from_dlpack(t, MARKER)
    assert a_marker.dtype.metadata == MARKER.metadata
    np.testing.assert_array_equal(as_f32(a_marker), t.float().numpy())


@pytest.mark.parametrize(
    "view",
    [
        lambda t: t.t(),
        lambda t: t[:, ::3],
        lambda t: t[2:, 3:],  # sliced: a data pointer (or byte_offset) past the start
        lambda t: t[1:4, 1::2].t(),
        lambda t: t[3, 4],  # 0-d
        lambda t: t[:0],
        lambda t: t.flip(0),  # torch flips by copying: still one tensor
    ],
)
def test_torch_bfloat16_views(torch, view):
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10).bfloat16()
    t = view(base)
    a = _core._from_dlpack(t, bfloat16_dtype())
    assert a.shape == tuple(t.shape)
    if t.numel():  # NumPy keeps no strides of its own for an empty array
        assert a.strides == tuple(s * 2 for s in t.stride())
    np.testing.assert_array_equal(as_f32(a), t.float().numpy())
    if t.numel() and t.data_ptr() != 0 and t.untyped_storage().data_ptr() == base.data_ptr():
        t.fill_(7.0)
        assert (as_f32(a) == 7.0).all()


def test_torch_tensor_outlives_its_name(torch):
    a = _core._from_dlpack(torch.arange(8, dtype=torch.float32).bfloat16() * 2, bfloat16_dtype())
    gc.collect()
    np.testing.assert_array_equal(as_f32(a), np.arange(8) * 2)  # the capsule keeps it alive


@pytest.mark.parametrize(
    "dtype", ["float16", "float32", "float64", "int32", "int64", "uint8", "bool", "complex64"]
)
def test_torch_other_dtypes(torch, dtype):
    t = torch.ones(3, dtype=getattr(torch, dtype))
    a = _core._from_dlpack(t, bfloat16_dtype())
    assert a.dtype == np.dtype(dtype) and np.shares_memory(a, t.numpy())


def test_as_array_reads_torch_bfloat16(torch):
    t = torch.linspace(-2, 2, 12).reshape(3, 4).bfloat16().requires_grad_(True)
    a = _checks.as_array("f", "x", t)
    assert is_bfloat16(a.dtype) and a.dtype == bfloat16_dtype()
    np.testing.assert_array_equal(as_f32(a), t.detach().float().numpy())
    with torch.no_grad():
        t[0, 0] = 1.5
    assert as_f32(a)[0, 0] == 1.5  # read in place, detached


def test_jax_bfloat16_read(jnp):
    x = jnp.arange(12, dtype=jnp.bfloat16).reshape(3, 4) / 4
    a = _checks.as_array("f", "x", x)
    assert a.dtype == np.dtype(jnp.bfloat16)
    np.testing.assert_array_equal(as_f32(a), np.asarray(x, np.float32))
    a2 = _core._from_dlpack(x[1:, ::2], bfloat16_dtype())
    np.testing.assert_array_equal(as_f32(a2), np.asarray(x[1:, ::2], np.float32))
    back = _checks.in_caller_kind(a, x)
    assert isinstance(back, type(x)) and back.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(back, np.float32), np.asarray(x, np.float32))
    r = _checks.in_caller_kind(np.float32(2.5), x)
    assert r.shape == () and r.dtype == jnp.float32


# ---------------------------------------------------------------------------------------
# dtypes and conversions


def test_bfloat16_dtype_and_predicates(ml_dtypes):
    assert bfloat16_dtype() == np.dtype(ml_dtypes.bfloat16) and bfloat16_dtype() is bfloat16_dtype()
    for d in (np.dtype(ml_dtypes.bfloat16), MARKER):
        assert is_bfloat16(d) and is_half(d)
    assert is_half(F16) and is_half(F16.newbyteorder())
    for d in (np.dtype(np.uint16), F32, np.dtype(ml_dtypes.float8_e4m3fn), np.dtype("V2")):
        assert not is_bfloat16(d) and not is_half(d)
    assert _half.dtype_name(MARKER) == "bfloat16" and _half.dtype_name(F16) == "float16"


def _rounding_cases() -> np.ndarray:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32)
    ties = (rng.integers(0, 2**16, 200).astype(np.uint32) << 16) | np.uint32(0x8000)
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 1e-45, 1.0], np.float32
    )
    return np.concatenate([bits.view(np.float32), ties.view(np.float32), special])


def test_marker_rounds_to_nearest_even(ml_dtypes):
    f = _rounding_cases()
    got = astype(f, MARKER)
    assert got.dtype.metadata == MARKER.metadata
    with np.errstate(invalid="ignore"):  # ml_dtypes warns on NaN
        want = f.astype(ml_dtypes.bfloat16)
    nan = np.isnan(f)
    np.testing.assert_array_equal(got[~nan], want[~nan].view(np.uint16))
    assert np.isnan(as_f32(got[nan])).all()
    np.testing.assert_array_equal(as_f32(got), want.astype(np.float32))  # back, exactly
    assert astype(got, MARKER) is got


def test_marker_conversions_without_ml_dtypes():
    f = np.array([1.0, 1.00390625, 1.01171875, -2.5, np.inf], np.float32)  # ties go to even
    m = astype(f, MARKER)
    np.testing.assert_array_equal(as_f32(m), [1.0, 1.0, 1.015625, -2.5, np.inf])
    np.testing.assert_array_equal(astype(m, F64), [1.0, 1.0, 1.015625, -2.5, np.inf])
    n = _checks.native_array(m[::-2], F32)
    assert n.dtype == F32 and n.flags.c_contiguous
    np.testing.assert_array_equal(n, [np.inf, 1.015625, 1.0])
    np.testing.assert_array_equal(as_f32(_checks.native_array(f, MARKER)), as_f32(m))
    assert _checks.native_array(m, MARKER) is m


def test_float_dtype(ml_dtypes):
    bf = np.dtype(ml_dtypes.bfloat16)
    cases = [(F16, F16), (bf, bf), (MARKER, MARKER)]
    cases += [(F32, F32), (F64, F64), (np.dtype(np.int8), F64), (np.dtype(np.uint16), F64)]
    cases += [(np.dtype(np.bool_), F64), (F16.newbyteorder(), F16)]
    for dtype, want in cases:
        got = _checks.float_dtype("f", "x", np.zeros(2, dtype))
        assert got == want and is_bfloat16(got) == is_bfloat16(want), dtype
        assert got.isnative
    got = _checks.float_dtype("f", "x", np.zeros(2, MARKER))
    assert got.metadata == MARKER.metadata  # the marker kept
    for bad in (np.complex64, np.longdouble, "V2", "U3", object):
        if np.dtype(bad) == F64:
            continue  # long double is double here
        with pytest.raises(TypeError, match=r"f: \S+ x is not supported; use float16, bfloat16"):
            _checks.float_dtype("f", "x", np.zeros(2, bad))


def test_common_float_dtype(ml_dtypes):
    bf = np.dtype(ml_dtypes.bfloat16)
    rule = _checks.common_float_dtype
    for d in (F16, bf, MARKER, F32, F64):
        assert rule(d, d) is d
    assert rule(F16, bf) == F32 and rule(bf, F16) == F32 and rule(MARKER, F16) == F32
    for h in (F16, bf, MARKER):
        assert rule(h, F32) == F32 and rule(F32, h) == F32
        assert rule(h, F64) == F64 and rule(F64, h) == F64
    assert rule(F32, F64) == F64
    assert _checks.weight_dtype(F16) == F32 and _checks.weight_dtype(MARKER) == F32
    assert _checks.weight_dtype(F32) == F32 and _checks.weight_dtype(F64) == F64


def test_float_pair_common_dtype(ml_dtypes):
    x16 = np.linspace(-1, 1, 6, dtype=np.float16)
    xbf = x16.astype(ml_dtypes.bfloat16)
    x, y = _checks.float_pair("f", x16, xbf)
    assert x.dtype == F32 and y.dtype == F32
    x, y = _checks.float_pair("f", xbf, xbf[::-1])
    assert x.dtype == xbf.dtype and y.dtype == x.dtype and y.flags.c_contiguous
    x, y = _checks.float_pair("f", xbf, np.arange(6))  # integers are float64
    assert x.dtype == F64 and y.dtype == F64
    np.testing.assert_array_equal(x, xbf.astype(np.float64))


def test_out_option_half():
    _checks.out_option("f", np.zeros(2, F32), MARKER, (2,))
    _checks.out_option("f", np.zeros(2, MARKER), F32, (2,))
    with pytest.raises(TypeError, match="bfloat16 result into out of dtype int32"):
        _checks.out_option("f", np.zeros(2, np.int32), MARKER, (2,))
    out = np.zeros(3, MARKER)
    _checks.write_out(out, np.array([1.0, 2.0, 3.0], F32))
    np.testing.assert_array_equal(as_f32(out), [1, 2, 3])
    out32 = np.zeros(3, F32)
    _checks.write_out(out32, out)
    np.testing.assert_array_equal(out32, [1, 2, 3])


def test_finish_half_is_float32():
    from fastloss._reduce import finish

    for d in (F16, MARKER):
        assert type(finish(3.0, 2, "mean", d)) is np.float32
        assert type(finish(3.0, 0, "mean", d)) is np.float32
    assert type(finish(3.0, 2, "sum", F64)) is np.float64


# ---------------------------------------------------------------------------------------
# results in the caller's kind


def test_in_caller_kind_torch(torch, ml_dtypes):
    x = torch.zeros(3, dtype=torch.bfloat16)
    for bf in (np.dtype(ml_dtypes.bfloat16), MARKER):
        r = np.array([1.0, -2.0, 0.5], F32).astype(np.float32)
        a = astype(r, bf)
        t = _checks.in_caller_kind(a, x)
        assert t.dtype == torch.bfloat16
        np.testing.assert_array_equal(t.float().numpy(), r)
        t[0] = 4.0
        assert as_f32(a)[0] == 4.0  # the same memory
    t = _checks.in_caller_kind(np.array([1, 2], F16), x)
    assert t.dtype == torch.float16
    s = _checks.in_caller_kind(np.float32(1.5), x)
    assert s.dtype == torch.float32 and s.shape == ()
    z = _checks.in_caller_kind(astype(np.array(2.0, F32), MARKER), x)
    assert z.dtype == torch.bfloat16 and z.shape == () and float(z) == 2.0


def test_numpy_bfloat16_stays_numpy(ml_dtypes):
    a = np.array([1.0, 2.0], ml_dtypes.bfloat16)
    assert _checks.in_caller_kind(a, a, None) is a
    assert _checks.as_array("f", "x", a) is a


# ---------------------------------------------------------------------------------------
# the public functions on half inputs


def _data(dtype, shape=(8, 13), seed=0, low=-3.0, high=3.0):
    """float32 values exact in dtype, as (float32, dtype) arrays."""
    v = np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
    h = astype(astype(v, dtype), dtype)
    return as_f32(h), h


@pytest.mark.parametrize("half", ["float16", "bfloat16", "marker"])
def test_losses_on_half_inputs(half, ml_dtypes):
    dtype = {"float16": F16, "bfloat16": np.dtype(ml_dtypes.bfloat16), "marker": MARKER}[half]
    x32, x = _data(dtype)
    y32, y = _data(dtype, seed=1)
    p32, p = _data(dtype, seed=2, low=0.01, high=0.99)
    t = np.arange(8) % 13
    rdt = dtype
    tol = {"rtol": 2e-5, "atol": 1e-6}
    got = fastloss.mse_loss(x, y)
    assert type(got) is np.float32
    np.testing.assert_allclose(got, fastloss.mse_loss(x32, y32), **tol)
    rows = fastloss.l1_loss(x, y, reduction="none")
    assert rows.dtype == rdt and is_bfloat16(rows.dtype) == is_bfloat16(rdt)
    np.testing.assert_allclose(as_f32(rows), np.abs(x32 - y32), rtol=2**-7)
    w = np.linspace(0.5, 2, 13)  # float64 weights: float32 for half data
    got = fastloss.cross_entropy(x, t, weight=w)
    assert type(got) is np.float32
    np.testing.assert_allclose(
        got, fastloss.cross_entropy(x32, t, weight=w.astype(np.float32)), **tol
    )
    got = fastloss.binary_cross_entropy(p, p[::-1], weight=w, reduction="sum")
    assert type(got) is np.float32
    want = fastloss.binary_cross_entropy(
        p32, p32[::-1], weight=w.astype(np.float32), reduction="sum"
    )
    np.testing.assert_allclose(got, want, **tol)
    got = fastloss.binary_cross_entropy_with_logits(x, p, pos_weight=w[:1], weight=w)
    want = fastloss.binary_cross_entropy_with_logits(x32, p32, pos_weight=w[:1], weight=w)
    np.testing.assert_allclose(got, want, **tol)
    assert type(fastloss.kl_div(np.log(p), p[::-1], reduction="batchmean")) is np.float32
    sm = fastloss.softmax(x)
    assert sm.dtype == rdt
    np.testing.assert_allclose(as_f32(sm), fastloss.softmax(x32), rtol=2**-7, atol=1e-7)
    out = np.empty(x.shape, F32)
    assert fastloss.log_softmax(x, out=out) is out
    np.testing.assert_allclose(out, fastloss.log_softmax(x32), rtol=1e-5, atol=1e-6)
    lse = fastloss.logsumexp(x, axis=(0, 1))
    assert np.asarray(lse).dtype == rdt
    np.testing.assert_allclose(
        as_f32(np.asarray(lse)), fastloss.logsumexp(x32, axis=None), rtol=2**-7
    )
    x3 = x.reshape(2, 4, 13)
    lse = fastloss.logsumexp(x3, axis=(0, 2))  # two runs: through a float64 stage
    assert lse.dtype == rdt and is_bfloat16(lse.dtype) == is_bfloat16(rdt)
    want = fastloss.logsumexp(x32.reshape(2, 4, 13), axis=(0, 2))
    np.testing.assert_allclose(as_f32(lse), want, rtol=2**-7)
    out64 = np.empty(x.shape, F64)
    fastloss.softmax(x, out=out64)
    np.testing.assert_allclose(out64, fastloss.softmax(x32), rtol=1e-5, atol=1e-7)
    ent = fastloss.entropy(p)
    assert ent.dtype == rdt
    m = fastloss.evaluate(x, t, weight=w)
    want = fastloss.evaluate(x32, t, weight=w.astype(np.float32))
    assert m.keys() == want.keys() and all(type(v) is type(want[k]) for k, v in m.items())
    np.testing.assert_allclose([m[k] for k in want], [want[k] for k in want], rtol=2e-5)
    per_row = fastloss.evaluate(x, t, reduction="none")
    assert per_row["cross_entropy"].dtype == rdt and per_row["rank"].dtype == np.int64
    ev = fastloss.RegressionEvaluator().update(x, y, sample_weight=w[:8])
    want = fastloss.RegressionEvaluator().update(x32, y32, sample_weight=w[:8].astype(np.float32))
    r, rw = ev.result(), want.result()
    np.testing.assert_allclose([r[k] for k in rw], [rw[k] for k in rw], rtol=2e-5)


def test_torch_half_in_torch_out(torch):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 5, generator=g).bfloat16()
    y = torch.randn(6, 5, generator=g).bfloat16()
    got = fastloss.mse_loss(x, y)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == ()
    want = torch.nn.functional.mse_loss(x.float(), y.float())
    torch.testing.assert_close(got, want, rtol=2e-5, atol=1e-6)
    rows = fastloss.mse_loss(x, y, reduction="none")
    assert rows.dtype == torch.bfloat16
    sm = fastloss.softmax(x.half())
    assert sm.dtype == torch.float16
    t = torch.tensor([0, 1, 2, 3, 4, 0])
    got = fastloss.cross_entropy(x.requires_grad_(True), t)
    torch.testing.assert_close(got, torch.nn.functional.cross_entropy(x.detach().float(), t))


# ---------------------------------------------------------------------------------------
# files


def test_npy_bfloat16_descr(tmp_path, ml_dtypes):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(2, ml_dtypes.bfloat16))
    with open(path, "rb") as f:
        assert b"'descr': '<V2'" in f.read(128)  # what np.save writes for it
    np.save(tmp_path / "v.npy", np.zeros(2, "V2"))
    with open(tmp_path / "v.npy", "rb") as f:
        assert b"'descr': '|V2'" in f.read(128)  # a plain 2-byte void: no byte order


def test_file_array_half(tmp_path, ml_dtypes):
    bf = np.dtype(ml_dtypes.bfloat16)
    v = np.arange(24, dtype=np.float32).reshape(6, 4) / 8
    np.save(tmp_path / "b.npy", v.astype(bf))
    np.save(tmp_path / "h.npy", v.astype(np.float16))
    v.astype(bf).tofile(tmp_path / "b.raw")
    rows = fastloss.FileArray(tmp_path / "b.npy")
    assert rows.dtype == bf and rows.shape == (6, 4)
    np.testing.assert_array_equal(rows[2:5].astype(np.float32), v[2:5])
    assert fastloss.FileArray(tmp_path / "b.npy", "bfloat16", (6, 4)).dtype == bf
    assert fastloss.FileArray(tmp_path / "h.npy")[1].dtype == F16
    for dtype in ("bfloat16", bf, ml_dtypes.bfloat16):
        raw = fastloss.FileArray(tmp_path / "b.raw", dtype, (6, 4))
        np.testing.assert_array_equal(raw[4].astype(np.float32), v[4])
    with pytest.raises(ValueError, match=r"holds bfloat16 by its .npy header; got dtype float16"):
        fastloss.FileArray(tmp_path / "b.npy", np.float16)
    np.save(tmp_path / "v.npy", np.zeros((2, 3), "V2"))
    assert fastloss.FileArray(tmp_path / "v.npy").dtype == np.dtype("V2")


def test_file_array_marker(tmp_path, monkeypatch):
    # Without ml_dtypes, "bfloat16" is the marker, which the kernels read as bfloat16.
    monkeypatch.setattr(fastloss._files, "bfloat16_dtype", lambda: MARKER)
    bits = bf16_bits(np.arange(6, dtype=np.float32))
    bits.tofile(tmp_path / "b.raw")
    rows = fastloss.FileArray(tmp_path / "b.raw", "bfloat16", (3, 2))
    assert rows.dtype.metadata == MARKER.metadata and rows[1:].dtype.metadata == MARKER.metadata
    np.testing.assert_array_equal(as_f32(rows[1:]), [[2, 3], [4, 5]])


class _Spy(fastloss.Evaluator):
    """Records the batches it is given."""

    def update(self, logits, target, **kw):
        self.seen = [*getattr(self, "seen", []), logits]
        return super().update(logits, target, **kw)


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_evaluate_chunked_half_memmap(tmp_path, half, ml_dtypes):
    dtype = np.dtype(ml_dtypes.bfloat16) if half == "bfloat16" else F16
    x32, x = _data(dtype, shape=(50, 7), seed=3)
    t = np.arange(50) % 7
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")  # a bfloat16 file loads as 2-byte voids
    spy = fastloss.evaluate_chunked(_Spy(), mm, t, rows_per_chunk=16)
    assert [len(b) for b in spy.seen] == [16, 16, 16, 2]
    for b in spy.seen:  # views of the map: rows read one chunk at a time, not loaded whole
        assert b.dtype == dtype and np.shares_memory(b, mm)
    want = fastloss.Evaluator().update(x32, t).result()
    got = spy.result()
    np.testing.assert_allclose([got[k] for k in want], [want[k] for k in want], rtol=2e-5)
    rows = fastloss.evaluate_chunked(
        fastloss.Evaluator(), fastloss.FileArray(tmp_path / "x.npy"), t, rows_per_chunk=20
    ).result()
    np.testing.assert_allclose([rows[k] for k in want], [want[k] for k in want], rtol=2e-5)
