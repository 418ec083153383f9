"""Maximum error in ulp of the SIMD exp, log and log1p (src/cpp/math), on every backend.

The error of a result y against a reference r computed in a wider type is |y - r| / ulp(r),
ulp(r) = 2^(exponent(r) - p + 1) floored at the smallest subnormal (p = 24 or 53;
docs/numerics.md). A reference that rounds to a special value (NaN, +-inf, an exact zero) must
be matched exactly, sign of zero included.

References:
- float32: NumPy's float64 functions on the exact float64 inputs. Their own error (< 1 ulp of
  float64) is 2^-29 ulp of float32, negligible.
- float64: NumPy's long double functions (80-bit extended on x86-64 Linux: expl, logl,
  log1pl, < 1 ulp of long double = 2^-11 ulp of float64). Elsewhere long double may be
  float64 itself, and the float64 checks skip.

The default run samples every 409th float32 bit pattern (10.5 M inputs, all exponents and
signs) plus the edges, and 2^20 float64 inputs; ``-m slow`` runs all 2^32 float32 inputs and
10^8 float64 inputs. MAX_ULP holds the bounds that the headers document.
"""

from __future__ import annotations

import contextlib
import decimal

import numpy as np
import pytest

from fastloss import _core

BACKENDS = _core.supported_backends()
FUNCTIONS = ("exp", "log", "log1p")

# The documented maximum errors (src/cpp/math/exp.hpp and log.hpp). float32: the exhaustive
# maximum over all 2^32 inputs, rounded up; float64: the maximum over 10^8 samples, rounded
# up with a margin (sampling cannot prove a maximum).
MAX_ULP = {
    ("exp", np.float32): 0.92,
    ("log", np.float32): 0.85,
    ("log1p", np.float32): 0.85,
    ("exp", np.float64): 0.95,
    ("log", np.float64): 0.95,
    ("log1p", np.float64): 0.95,
}

LONG_DOUBLE_OK = np.finfo(np.longdouble).nmant >= 63

# exp's cut-offs (exp.hpp): x >= OVERFLOW gives +inf, x <= UNDERFLOW gives +0.
OVERFLOW = {
    np.float32: np.float32(88.72283935546875),
    np.float64: np.float64.fromhex("0x1.62e42fefa39f0p+9"),
}
UNDERFLOW = {
    np.float32: np.float32(-103.97208404541015625),
    np.float64: np.float64.fromhex("-0x1.74910d52d3052p+9"),
}


@contextlib.contextmanager
def using(backend):
    previous = _core.simd_backend()
    _core._set_backend(backend)
    try:
        yield
    finally:
        _core._set_backend(previous)


def simd(fn, x, n_threads=2):
    out = np.empty_like(x)
    _core._math(fn, x, out, n_threads)
    return out


def reference(fn, x):
    """fn(x) in float64 for float32 x, in long double for float64 x."""
    with np.errstate(all="ignore"):  # signaling NaN inputs, log of negatives, overflow
        wide = x.astype(np.float64 if x.dtype == np.float32 else np.longdouble)
        return getattr(np, fn)(wide)


def ulp_errors(got, ref):
    """|got - ref| / ulp(ref); 0 or inf where ref rounds to a special value (exact match)."""
    dtype = got.dtype.type
    fi = np.finfo(dtype)
    with np.errstate(all="ignore"):
        ref_r = ref.astype(dtype)
        _, e = np.frexp(ref)
        ulp = np.ldexp(np.ones_like(ref), np.maximum(e - (fi.nmant + 1), fi.minexp - fi.nmant))
        err = np.abs(got.astype(ref.dtype) - ref) / ulp
    err = np.where(np.isnan(err), np.inf, err)
    special = ~np.isfinite(ref_r) | (ref_r == 0)
    same = (np.isnan(got) & np.isnan(ref_r)) | (
        (got == ref_r) & (np.signbit(got) == np.signbit(ref_r))
    )
    return np.where(special, np.where(same, 0.0, np.inf), err)


def max_error(fn, x):
    """(max ulp error, the input where it occurs) of the active backend over x."""
    err = ulp_errors(simd(fn, x), reference(fn, x))
    i = int(np.argmax(err))
    return float(err[i]), x[i]


def neighbours(values, dtype, k=3):
    """Each value and its k float neighbours on either side."""
    out = []
    with np.errstate(over="ignore"):  # the neighbour above the largest float is inf
        for v in values:
            out += _around(dtype(v), dtype, k)
    return out


def _around(v, dtype, k):
    out = [v]
    lo = hi = v
    for _ in range(k):
        lo, hi = np.nextafter(lo, dtype(-np.inf)), np.nextafter(hi, dtype(np.inf))
        out += [lo, hi]
    return out


def edges(fn, dtype):
    """Zeros, infinities, NaN, subnormals, the extremes, exp's cut-offs and n-boundaries,
    +-1, and tiny arguments, each with its neighbours."""
    fi = np.finfo(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan]
    ends = [
        fi.max,
        -fi.max,
        fi.tiny,
        -fi.tiny,
        fi.smallest_subnormal,
        -fi.smallest_subnormal,
        fi.tiny - fi.smallest_subnormal,
        1.0,
        -1.0,
        2.0,
        0.5,
        -0.5,
    ]
    tiny = [s * 2.0**-k for k in range(1, -fi.minexp + fi.nmant + 1, 3) for s in (1, -1)]
    steps = [(k + 0.5) * np.log(2.0) for k in range(-150, 150, 7)]  # where round(x log2e) changes
    values = special + neighbours(ends, dtype) + tiny + neighbours(steps, dtype, 1)
    if fn == "exp":
        values += neighbours([OVERFLOW[dtype], UNDERFLOW[dtype]], dtype, 5)
        values += neighbours([np.log(fi.tiny), np.log(fi.smallest_subnormal)], dtype)
    if fn == "log1p":
        values += neighbours([-1.0, -0.5, 1.0, fi.eps, -fi.eps / 2], dtype, 5)
    if fn == "log":
        values += neighbours([np.sqrt(0.5), np.sqrt(2.0)], dtype, 5)
    return np.array(values, dtype=dtype)


def strided_f32(stride=409, start=0):
    """Every stride-th float32 bit pattern: all signs, exponents and mantissa patterns."""
    return np.arange(start, 2**32, stride, dtype=np.uint64).astype(np.uint32).view(np.float32)


def samples_f64(fn, n, seed):
    """n float64 inputs: a quarter random bit patterns (every sign and exponent, NaN and inf
    included), the rest spread over where fn's result is finite and non-trivial."""
    rng = np.random.default_rng(seed)
    q = n // 4
    bits = rng.integers(0, 2**64, q, dtype=np.uint64, endpoint=False).view(np.float64)
    m = n - q
    if fn == "exp":
        lo, hi = float(UNDERFLOW[np.float64]) - 1, float(OVERFLOW[np.float64]) + 1
        body = np.concatenate(
            [
                rng.uniform(lo, hi, m // 2),
                rng.choice([-1.0, 1.0], m - m // 2) * 2.0 ** rng.uniform(-60, 3, m - m // 2),
            ]
        )
    elif fn == "log":
        body = np.concatenate(
            [
                2.0 ** rng.uniform(-1074, 1023.99, m // 2),
                1.0 + rng.choice([-1.0, 1.0], m - m // 2) * 2.0 ** rng.uniform(-53, -1, m - m // 2),
            ]
        )
    else:
        body = np.concatenate(
            [
                rng.choice([-1.0, 1.0], m // 2) * 2.0 ** rng.uniform(-80, 0, m // 2),
                2.0 ** rng.uniform(0, 1023.99, m // 4),
                -1.0 + 2.0 ** rng.uniform(-53, -1, m - m // 2 - m // 4),
            ]
        )
    return np.concatenate([bits, body])


# Special values: exact results, sign of zero included (NaN only as NaN).
SPECIALS = {
    "exp": [(0.0, 1.0), (-0.0, 1.0), (np.inf, np.inf), (-np.inf, 0.0), (np.nan, np.nan)],
    "log": [
        (0.0, -np.inf),
        (-0.0, -np.inf),
        (np.inf, np.inf),
        (-np.inf, np.nan),
        (-1.0, np.nan),
        (np.nan, np.nan),
        (1.0, 0.0),
    ],
    "log1p": [
        (0.0, 0.0),
        (-0.0, -0.0),
        (-1.0, -np.inf),
        (np.inf, np.inf),
        (-np.inf, np.nan),
        (-1.5, np.nan),
        (np.nan, np.nan),
    ],
}


def assert_same(got, want):
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == want and np.signbit(got) == np.signbit(want), f"{got!r} != {want!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_special_values(fn, dtype, backend):
    fi = np.finfo(dtype)
    cases = list(SPECIALS[fn])
    if fn == "exp":
        cases += [
            (OVERFLOW[dtype], np.inf),
            (fi.max, np.inf),
            (UNDERFLOW[dtype], 0.0),
            (-fi.max, 0.0),
        ]
        # the neighbours inside the range are finite and non-zero
        cases_inside = [
            np.nextafter(OVERFLOW[dtype], dtype(0)),
            np.nextafter(UNDERFLOW[dtype], dtype(0)),
        ]
        got = simd(fn, np.array(cases_inside, dtype=dtype))
        assert np.all(np.isfinite(got)) and np.all(got > 0)
        assert got[1] == fi.smallest_subnormal
    if fn == "log1p":
        cases += [
            (v, v) for v in (fi.smallest_subnormal, -fi.smallest_subnormal, fi.tiny, 1e-30, -1e-30)
        ]
    if fn == "log":
        cases += [(2.0**k, k * np.log(2.0)) for k in (1, 2, 64)]
    x = np.array([c[0] for c in cases], dtype=dtype)
    want = np.array([c[1] for c in cases], dtype=dtype)
    # every lane position of a vector and of the tail: repeat each case 1..17 times
    for reps in (1, 7, 16, 17):
        got = simd(fn, np.repeat(x, reps))
        for g, w in zip(got, np.repeat(want, reps), strict=True):
            assert_same(g, w)


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_float32_sampled(fn, backend):
    x = np.concatenate([strided_f32(), edges(fn, np.float32)])
    err, where = max_error(fn, x)
    bound = MAX_ULP[(fn, np.float32)]
    assert err <= bound, (
        f"{fn} float32 on {backend}: {err:.4f} ulp at x = {where!r} ({where.view(np.uint32):#010x})"
    )


@pytest.mark.skipif(not LONG_DOUBLE_OK, reason="long double is not wider than float64 here")
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_float64_sampled(fn, backend):
    x = np.concatenate([samples_f64(fn, 2**20, seed=1), edges(fn, np.float64)])
    err, where = max_error(fn, x)
    assert err <= MAX_ULP[(fn, np.float64)], (
        f"{fn} float64 on {backend}: {err:.4f} ulp at x = {where!r}"
    )


def ln2_split():
    """ln2 = hi + lo in long double with 48-bit hi, so that n hi is exact for |n| < 2^16."""
    decimal.getcontext().prec = 60
    ln2 = decimal.Decimal(2).ln()
    hi_int = int((ln2 * 2**48).to_integral_value())
    hi = np.longdouble(hi_int) / np.longdouble(2**48)
    lo = np.longdouble(str(ln2 - decimal.Decimal(hi_int) / 2**48))
    return hi, lo


@pytest.mark.skipif(not LONG_DOUBLE_OK, reason="long double is not wider than float64 here")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_reduced(dtype, backend):
    """exp_reduced's p = e^(x - n ln2) to exp's accuracy for |x| <= 2^15 ln2, n integral,
    and exp(x) == p 2^n bit for bit inside exp's range."""
    rng = np.random.default_rng(7)
    lim = 2.0**15 * np.log(2.0)
    x = np.concatenate(
        [rng.uniform(-lim, lim, 2**19), rng.uniform(-87, 88, 2**18), rng.uniform(-1, 1, 2**17)]
    ).astype(dtype)
    p, n = simd("exp_reduced_p", x), simd("exp_reduced_n", x)
    assert np.all(n == np.round(n)) and np.all(np.abs(n) <= 2**15 + 1)
    assert np.all((p > 0.7) & (p < 1.42))
    hi, lo = ln2_split()
    nl = n.astype(np.longdouble)
    r = (x.astype(np.longdouble) - nl * hi) - nl * lo
    ref = np.exp(r).astype(np.float64) if dtype == np.float32 else np.exp(r)
    err = ulp_errors(p, ref)
    assert err.max() <= MAX_ULP[("exp", dtype)], f"{err.max():.4f} ulp at x = {x[np.argmax(err)]!r}"
    inside = np.abs(x) <= 87
    np.testing.assert_array_equal(
        np.ldexp(p[inside], n[inside].astype(np.int32)), simd("exp", x[inside])
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 100_003])
def test_lengths_and_threads(dtype, n, backend):
    """Full vectors, the load_n/store_n tail and the chunking give the same values."""
    rng = np.random.default_rng(n)
    x = rng.uniform(0.01, 3, n).astype(dtype)
    for fn in FUNCTIONS:
        one = simd(fn, x, n_threads=1)
        np.testing.assert_array_equal(simd(fn, x, n_threads=3), one)
        singles = np.array([simd(fn, x[i : i + 1])[0] for i in range(min(n, 20))], dtype=dtype)
        np.testing.assert_array_equal(one[:20], singles)


def test_backends_agree():
    """Every backend runs the same arithmetic: bitwise equal results."""
    x = np.concatenate([strided_f32(stride=4099), edges("exp", np.float32)])
    for fn in FUNCTIONS:
        results = []
        for b in BACKENDS:
            with using(b):
                results.append(simd(fn, x))
        for b, r in zip(BACKENDS[1:], results[1:], strict=True):
            np.testing.assert_array_equal(r, results[0], err_msg=f"{fn}: {b} vs {BACKENDS[0]}")


# ---------------------------------------------------------------------------------------
# Exhaustive and large runs (-m slow)


@pytest.mark.slow
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_float32_exhaustive(fn, capsys):
    """All 2^32 float32 inputs on every backend; prints the max error and where it occurs."""
    chunk = 2**24
    worst = {b: (0.0, np.float32(0)) for b in BACKENDS}
    for start in range(0, 2**32, chunk):
        x = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32).view(np.float32)
        ref = reference(fn, x)
        with np.errstate(all="ignore"):
            ref_r = ref.astype(np.float32)
        for b in BACKENDS:
            with using(b):
                got = simd(fn, x)
            # Results bitwise equal to the correctly rounded reference are within 0.5 ulp: only
            # the others (NaN payloads included) need the full error computation.
            diff = got.view(np.uint32) != ref_r.view(np.uint32)
            if diff.any():
                err = ulp_errors(got[diff], ref[diff])
                i = int(np.argmax(err))
                if err[i] > worst[b][0]:
                    worst[b] = (float(err[i]), x[diff][i])
    with capsys.disabled():
        for b, (err, where) in worst.items():
            print(
                f"\n{fn} float32 exhaustive on {b}: max {err:.4f} ulp at x = {where!r} "
                f"({where.view(np.uint32):#010x})"
            )
    for b, (err, where) in worst.items():
        assert err <= MAX_ULP[(fn, np.float32)], f"{fn} on {b}: {err:.4f} ulp at x = {where!r}"


@pytest.mark.slow
@pytest.mark.skipif(not LONG_DOUBLE_OK, reason="long double is not wider than float64 here")
@pytest.mark.parametrize("fn", FUNCTIONS)
def test_float64_large(fn, capsys):
    """10^8 float64 samples on every backend; prints the max error and where it occurs."""
    worst = {b: (0.0, 0.0) for b in BACKENDS}
    for k in range(10):
        x = samples_f64(fn, 10**7, seed=100 + k)
        ref = reference(fn, x)
        for b in BACKENDS:
            with using(b):
                err = ulp_errors(simd(fn, x), ref)
            i = int(np.argmax(err))
            if err[i] > worst[b][0]:
                worst[b] = (float(err[i]), x[i])
    with capsys.disabled():
        for b, (err, where) in worst.items():
            print(f"\n{fn} float64 10^8 samples on {b}: max {err:.4f} ulp at x = {where!r}")
    for b, (err, where) in worst.items():
        assert err <= MAX_ULP[(fn, np.float64)], f"{fn} on {b}: {err:.4f} ulp at x = {where!r}"


# ---------------------------------------------------------------------------------------
# softplus_tail: log1p(exp(-|x|)), the tail of softplus in kernels/softplus.hpp (float32: its
# own exp without scaling fix-ups and a log1p polynomial on [0, 1]; float64: exp and log1p).
# Not a math/ function: its documented bound is 2.15 ulp (float32) for |x| <= 87; beyond, the
# float32 tail is log1p(e^-87), an absolute error below 1.7e-38. float64: 1.55 ulp sampled.

SOFTPLUS_MAX_ULP = {np.float32: 2.15, np.float64: 1.7}
SOFTPLUS_CUT = np.float32(87.0)


def softplus_reference(x):
    with np.errstate(all="ignore"):
        if x.dtype == np.float32:
            return np.log1p(np.exp(-np.abs(x.astype(np.float64))))
        return np.log1p(np.exp(-np.abs(x.astype(np.longdouble))))


def softplus_check(x, dtype, where):
    got = simd("softplus_tail", x)
    ref = softplus_reference(x)
    finite = np.isfinite(x)
    if dtype == np.float32:
        inside = finite & (np.abs(x) <= SOFTPLUS_CUT)
        beyond = finite & ~inside
        assert np.all(np.abs(got[beyond].astype(np.float64) - ref[beyond]) <= 1.7e-38), where
    else:
        inside = finite
    err = ulp_errors(got[inside], ref[inside])
    i = int(np.argmax(err)) if err.size else 0
    worst = (float(err[i]), x[inside][i]) if err.size else (0.0, 0.0)
    assert worst[0] <= SOFTPLUS_MAX_ULP[dtype], (
        f"softplus_tail {where}: {worst[0]:.4f} ulp at x = {worst[1]!r}"
    )
    return worst


def test_softplus_tail_float32_sampled(backend):
    extra = np.float32([87, -87, 86.99, 87.01])
    x = np.concatenate([strided_f32(), edges("exp", np.float32), extra])
    softplus_check(x, np.float32, f"float32 on {backend}")
    # +-inf give the tail at 87 (the kernel takes the loss's inf or NaN from max(0, +-x))
    tail = simd("softplus_tail", np.float32([np.inf, -np.inf]))
    assert np.all((tail > 0) & (tail <= 1.7e-38))


@pytest.mark.skipif(not LONG_DOUBLE_OK, reason="long double is not wider than float64 here")
def test_softplus_tail_float64_sampled(backend):
    rng = np.random.default_rng(11)
    x = np.concatenate(
        [
            rng.uniform(-40, 40, 2**19),
            rng.choice([-1.0, 1.0], 2**18) * 2.0 ** rng.uniform(-60, 9.5, 2**18),
        ]
    )
    softplus_check(x, np.float64, f"float64 on {backend}")


@pytest.mark.slow
def test_softplus_tail_float32_exhaustive(capsys):
    """Every float32 |x| <= 87 (and the rest, for the absolute bound) on every backend."""
    chunk = 2**24
    for b in BACKENDS:
        worst = (0.0, 0.0)
        with using(b):
            for start in range(0, 2**31, chunk):  # non-negative patterns; the sign is dropped
                bits = np.arange(start, start + chunk, dtype=np.uint64).astype(np.uint32)
                x = bits.view(np.float32)
                w = softplus_check(x, np.float32, f"float32 on {b}")
                worst = max(worst, w, key=lambda t: t[0])
            # the sign is dropped: -x gives the bits of x
            xs = strided_f32(stride=4099)
            np.testing.assert_array_equal(simd("softplus_tail", -xs), simd("softplus_tail", xs))
        with capsys.disabled():
            print(f"\nsoftplus_tail float32 exhaustive on {b}: {worst[0]:.4f} ulp at {worst[1]!r}")
