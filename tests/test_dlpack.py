"""Arrays from other libraries: read in place through DLPack (torch tensors, tensors that
require grad, non-contiguous ones), a device other than the host named in the error, and
results in the caller's kind (torch in, torch out; JAX in, JAX out)."""

from __future__ import annotations

import numpy as np
import pytest

import fastloss
from fastloss import _checks


class DLPackOnly:
    """An array known only by its DLPack methods, as a foreign library's would be."""

    def __init__(self, a: np.ndarray, device: tuple[int, int] = (1, 0)) -> None:
        self._a, self._device = a, device

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._device


def test_dlpack_object_is_read_in_place():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    got = _checks.as_array("f", "x", DLPackOnly(a))
    assert np.shares_memory(got, a)
    t = np.array([1, 0, 3])
    expected = fastloss.cross_entropy(a, t)
    got = fastloss.cross_entropy(DLPackOnly(a), DLPackOnly(t))
    assert type(got) is np.float32 and got == expected  # a library fastloss does not know: NumPy


def test_other_device_is_named():
    a = DLPackOnly(np.zeros(4, np.float32), device=(2, 0))
    with pytest.raises(ValueError, match="mse_loss: input is on the cuda device"):
        fastloss.mse_loss(a, np.zeros(4, np.float32))


try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="torch is optional; its tensors are tested with it"
)


@needs_torch
def test_torch_tensor_read_in_place():
    x = torch.randn(5, 7)
    assert np.shares_memory(_checks.as_array("f", "x", x), x.numpy())


def _pairs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(33, 10, generator=g)
    y = torch.rand(33, 10, generator=g)
    t = torch.randint(0, 10, (33,), generator=g)
    return x, y, t


CALLS = {
    "cross_entropy": lambda x, y, t: fastloss.cross_entropy(x, t, weight=y[0]),
    "nll_loss": lambda x, y, t: fastloss.nll_loss(x, t),
    "softmax": lambda x, y, t: fastloss.softmax(x),
    "log_softmax": lambda x, y, t: fastloss.log_softmax(x[:, ::2]),
    "logsumexp": lambda x, y, t: fastloss.logsumexp(x.T, axis=0),
    "mse_loss": lambda x, y, t: fastloss.mse_loss(x, y),
    "huber_loss": lambda x, y, t: fastloss.huber_loss(x, y, reduction="none"),
    "binary_cross_entropy": lambda x, y, t: fastloss.binary_cross_entropy(y, y.round()),
    "bce_with_logits": lambda x, y, t: fastloss.binary_cross_entropy_with_logits(x, y),
    "kl_div": lambda x, y, t: fastloss.kl_div(x, y),
    "entropy": lambda x, y, t: fastloss.entropy(y),
    "evaluate": lambda x, y, t: fastloss.evaluate(x, t, sample_weight=y[:, 0])["cross_entropy"],
}


@needs_torch
@pytest.mark.parametrize("name", sorted(CALLS))
def test_torch_tensors_requiring_grad_give_the_numpy_result(name):
    x, y, t = _pairs()
    call = CALLS[name]
    expected = call(x.numpy(), y.numpy(), t.numpy())
    got = call(x.requires_grad_(True), y.requires_grad_(True), t)
    if name != "evaluate":  # a dict of Python numbers
        assert isinstance(got, torch.Tensor) and not got.requires_grad
        assert got.dtype == torch.float32 and tuple(got.shape) == np.shape(expected)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


@needs_torch
def test_out_is_returned_as_given_for_torch_inputs():
    x, _, _ = _pairs()
    out = np.empty((33, 10), np.float32)
    assert fastloss.softmax(x, out=out) is out


def test_jax_arrays_give_jax_results():
    jnp = pytest.importorskip("jax.numpy", reason="JAX is optional; its arrays are tested with it")
    x = np.random.default_rng(0).standard_normal((6, 4), dtype=np.float32)
    t = np.array([0, 1, 2, 3, 0, 1])
    got = fastloss.cross_entropy(jnp.asarray(x), jnp.asarray(t))
    assert type(got).__module__.startswith(("jax", "jaxlib")) and got.shape == ()
    assert float(got) == float(fastloss.cross_entropy(x, t))
    assert fastloss.softmax(jnp.asarray(x)).shape == (6, 4)


@needs_torch
def test_evaluators_take_torch_tensors():
    x, y, t = _pairs()
    ev = fastloss.Evaluator()
    ev.update(x.requires_grad_(True), t)
    ref = fastloss.Evaluator()
    ref.update(x.detach().numpy(), t.numpy())
    assert ev.result() == ref.result()
    rv, rv_ref = fastloss.RegressionEvaluator(), fastloss.RegressionEvaluator()
    rv.update(x, y, sample_weight=y[:, 0].requires_grad_(True))
    rv_ref.update(x.detach().numpy(), y.detach().numpy(), sample_weight=y[:, 0].detach().numpy())
    assert rv.result() == rv_ref.result()


@needs_torch
def test_bfloat16_tensor_is_read():
    x, _, t = _pairs()
    got = fastloss.cross_entropy(x.bfloat16(), t)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    torch.testing.assert_close(got, torch.nn.functional.cross_entropy(x.bfloat16().float(), t))


@needs_torch
def test_unreadable_dtype_error_names_it():
    x, _, t = _pairs()
    with pytest.raises(
        TypeError,
        match=r"cross_entropy: logits of dtype torch.float8_e4m3fn cannot be read as a NumPy "
        r"array \(_from_dlpack: DLPack dtype code \d+ \(float8",
    ):
        fastloss.cross_entropy(x.to(torch.float8_e4m3fn), t)
