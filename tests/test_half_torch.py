"""Half precision against torch on the same bfloat16 / float16 tensors (torch 2.x, CPU).

fastloss reads the tensors through DLPack and returns torch tensors: per-element results in
the input's dtype, as torch's; reductions as float32, where torch returns its own half
dtype (docs/semantics.md, "Inputs and dtypes"). Both compute in float32, so they agree
within the roundings each makes into the half type: one for fastloss's outputs, and for
torch one more wherever it rounds an intermediate. torch's cross_entropy takes log_softmax
rounded to the half type, then nll_loss of that, so its loss carries one rounding of each
log-probability (|lp| of a few units: up to 2^-8 |lp| per row in bfloat16): that is the
tolerance on the class losses. The float64 reference decides which of the two is closer;
fastloss's closeness to it is tests/test_equivalence.py's.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import reference

torch = pytest.importorskip("torch", reason="the comparison is against torch.nn.functional")
F = torch.nn.functional

DTYPES = {"bfloat16": (torch.bfloat16, 2.0**-8), "float16": (torch.float16, 2.0**-11)}


def _tensor(rng, shape, dtype, low=-4.0, high=4.0):
    return torch.from_numpy(rng.uniform(low, high, shape).astype(np.float32)).to(dtype)


def _f64(t) -> np.ndarray:
    return t.detach().to(torch.float64).numpy()


def _check(ours, theirs, want, dtype, unit, *, roundings):
    """ours (fastloss) and theirs (torch) against each other within `roundings` half-type
    roundings (`unit` each) of the result's scale, max |want| (torch rounds intermediates
    such as lse, so its errors are absolute, not relative to each output); and ours at least
    as close to the float64 reference as torch's, give or take one rounding."""
    assert isinstance(ours, torch.Tensor)
    reduced = ours.ndim == 0
    assert ours.dtype == (torch.float32 if reduced else dtype), ours.dtype
    a, b = _f64(ours), _f64(theirs)
    scale = max(np.max(np.abs(want), initial=0.0), 1.0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=roundings * unit * scale)
    err_ours = np.max(np.abs(a - want), initial=0.0)
    err_theirs = np.max(np.abs(b - want), initial=0.0)
    assert err_ours <= err_theirs + unit * scale, (err_ours, err_theirs)


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_class_losses(name):
    dtype, unit = DTYPES[name]
    rng = np.random.default_rng(1)
    for shape, axis in (((64, 1000), -1), ((257, 10), -1), ((4, 21, 37), 1)):
        x = _tensor(rng, shape, dtype)
        row_shape = shape[:1] + shape[2:] if axis == 1 else shape[:1]
        t = torch.from_numpy(rng.integers(0, shape[axis], row_shape))
        x64 = _f64(x)
        for reduction in ("mean", "none"):
            ours = fastloss.cross_entropy(x, t, axis=axis, reduction=reduction)
            theirs = F.cross_entropy(x, t, reduction=reduction)
            want = reference.cross_entropy(x64, t.numpy(), axis=axis, reduction=reduction)
            # torch rounds log_softmax into the half type before nll_loss: one more rounding
            # of values of a few units (|lp| <= ~12 here), relative to the loss itself.
            _check(ours, theirs, want, dtype, unit, roundings=4)
            lp = F.log_softmax(x, dim=axis)
            ours = fastloss.nll_loss(lp, t, axis=axis, reduction=reduction)
            theirs = F.nll_loss(lp, t, reduction=reduction)
            want = reference.nll_loss(_f64(lp), t.numpy(), axis=axis, reduction=reduction)
            # torch's mean of half values: its total and its weight sum are each rounded.
            _check(ours, theirs, want, dtype, unit, roundings=4)


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_softmax_family(name):
    dtype, unit = DTYPES[name]
    rng = np.random.default_rng(2)
    for shape, axis in (((64, 1000), -1), ((257, 10), -1), ((4, 21, 37), 1)):
        x = _tensor(rng, shape, dtype)
        x64 = _f64(x)
        for fn, theirs in (
            ("softmax", F.softmax(x, dim=axis)),
            ("log_softmax", F.log_softmax(x, dim=axis)),
            ("logsumexp", torch.logsumexp(x, dim=axis)),
        ):
            ours = getattr(fastloss, fn)(x, axis=axis)
            want = getattr(reference, fn)(x64, axis=axis)
            _check(ours, theirs, want, dtype, unit, roundings=2)


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_elementwise_losses(name):
    dtype, unit = DTYPES[name]
    rng = np.random.default_rng(3)
    shape = (37, 129)
    x, y = _tensor(rng, shape, dtype), _tensor(rng, shape, dtype)
    p, q = _tensor(rng, shape, dtype, 0.01, 0.99), _tensor(rng, shape, dtype, 0.0, 1.0)
    pairs = {
        "mse_loss": (x, y, {}),
        "l1_loss": (x, y, {}),
        "huber_loss": (x, y, {"delta": 0.7}),
        "smooth_l1_loss": (x, y, {"beta": 0.5}),
        "binary_cross_entropy": (p, q, {}),
        "binary_cross_entropy_with_logits": (x, q, {}),
        "kl_div": (F.log_softmax(x, dim=-1), F.softmax(y, dim=-1), {}),
    }
    for fn, (a, b, opts) in pairs.items():
        for reduction in ("sum", "none"):
            ours = getattr(fastloss, fn)(a, b, reduction=reduction, **opts)
            theirs = getattr(F, fn)(a, b, reduction=reduction, **opts)
            want = getattr(reference, fn)(_f64(a), _f64(b), reduction=reduction, **opts)
            # A sum: torch accumulates in float32 and rounds the total into the half type once.
            _check(ours, theirs, want, dtype, unit, roundings=2)
