"""
fastloss compiled core: SIMD kernels chosen at import (see fastloss.simd_backend())
"""
from __future__ import annotations
import collections.abc
import numpy
import typing
__all__: list[str] = ['bce', 'bce_with_logits', 'compiled_backends', 'compiler', 'cross_entropy', 'cross_entropy_rows', 'entropy', 'evaluate', 'kl_div', 'merge_regression_stats', 'nll_loss', 'nll_loss_rows', 'openmp', 'regression', 'regression_stats', 'simd_backend', 'softmax', 'softmax_new', 'supported_backends']
def _borrowed_entries(isa: str) -> tuple:
    """
    (lender ISA, entries) that the named ISA's table takes from a lower ISA's.
    """
def _get_num_threads() -> int:
    """
    The thread count of a kernel call from this thread.
    """
def _kernel_entries() -> list[str]:
    """
    The names of the kernel table's entries (kernels/list.hpp).
    """
def _mark_forked() -> None:
    """
    Run serially from now on (called in a forked child).
    """
def _math(fn_name: str, x: numpy.ndarray, out: numpy.ndarray, n_threads: typing.SupportsInt | typing.SupportsIndex) -> None:
    """
    The SIMD exp/log/log1p (and exp_reduced's p, n) elementwise: out = f(x).
    """
def _noop() -> None:
    """
    An empty call: the baseline of the per-call overhead.
    """
def _probe_copy(src: numpy.ndarray, dst: numpy.ndarray, n_threads: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def _probe_exp(n: typing.SupportsInt | typing.SupportsIndex, n_threads: typing.SupportsInt | typing.SupportsIndex) -> float:
    ...
def _probe_read(arrays: list, n_threads: typing.SupportsInt | typing.SupportsIndex) -> float:
    ...
def _set_backend(arg0: str) -> None:
    """
    Switch the instruction set (tests visit every path with it).
    """
def _set_default_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def _set_num_threads(n: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def _swap_thread_override(n: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Set this thread's override (0: none); returns the previous one.
    """
def bce(input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, weight_period: typing.SupportsInt | typing.SupportsIndex, out: typing.Any) -> tuple[float, int]:
    """
    (sum, first index outside [0, 1] or -1)
    """
def bce_with_logits(input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, weight_period: typing.SupportsInt | typing.SupportsIndex, pos_weight: typing.Any, pos_weight_period: typing.SupportsInt | typing.SupportsIndex, out: typing.Any) -> float:
    ...
def compiled_backends() -> list[str]:
    """
    Instruction sets built into this module, best first.
    """
def cross_entropy(logits: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, out: typing.Any, n_outer: typing.SupportsInt | typing.SupportsIndex, n_classes: typing.SupportsInt | typing.SupportsIndex, n_inner: typing.SupportsInt | typing.SupportsIndex, ignore_index: typing.SupportsInt | typing.SupportsIndex, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, target_kind: typing.SupportsInt | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex = -1) -> typing.Any:
    """
    (loss sum, weight sum, first bad row or -1); with reduction 1 (mean) or 2 (sum) the finished scalar, or the first bad row as an int
    """
def cross_entropy_rows(logits: typing.Any, target: typing.Any, weight: typing.Any, ignore_index: typing.Any, reduction: typing.Any, label_smoothing: typing.Any, axis: typing.Any) -> typing.Any:
    """
    cross_entropy's arguments as given: the result or the first bad row as an int for (N, C) logits, (N,) index targets, no weight and plain options; None when anything needs converting or checking
    """
def entropy(p: numpy.ndarray, out: numpy.ndarray, n_outer: typing.SupportsInt | typing.SupportsIndex, n_classes: typing.SupportsInt | typing.SupportsIndex, n_inner: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def evaluate(logits: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, sample_weight: typing.Any, topk: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], out_loss: typing.Any, out_rank: typing.Any, out_entropy: typing.Any, out_lse: typing.Any, n_outer: typing.SupportsInt | typing.SupportsIndex, n_classes: typing.SupportsInt | typing.SupportsIndex, n_inner: typing.SupportsInt | typing.SupportsIndex, ignore_index: typing.SupportsInt | typing.SupportsIndex, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, target_kind: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    (Σ s·loss, Σ s·w[t], Σ s, Σ s·entropy, Σ s·lse, (Σ s·hit_k), count, first bad row or -1)
    """
def kl_div(input: numpy.ndarray, target: numpy.ndarray, out: typing.Any, log_target: bool) -> float:
    ...
def merge_regression_stats(arg0: tuple, arg1: tuple) -> tuple:
    """
    The statistics of the union of two disjoint sets of rows.
    """
def nll_loss(log_probs: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, out: typing.Any, n_outer: typing.SupportsInt | typing.SupportsIndex, n_classes: typing.SupportsInt | typing.SupportsIndex, n_inner: typing.SupportsInt | typing.SupportsIndex, ignore_index: typing.SupportsInt | typing.SupportsIndex, target_kind: typing.SupportsInt | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex = -1) -> typing.Any:
    """
    as cross_entropy
    """
def nll_loss_rows(log_probs: typing.Any, target: typing.Any, weight: typing.Any, ignore_index: typing.Any, reduction: typing.Any, axis: typing.Any) -> typing.Any:
    """
    as cross_entropy_rows
    """
def regression(input: typing.Any, target: typing.Any, out: typing.Any, kind: typing.SupportsInt | typing.SupportsIndex, param: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex) -> typing.Any:
    """
    reduction 0: the float64 sum; 1 mean, 2 sum: the finished scalar. None: inputs need converting.
    """
def regression_stats(input: numpy.ndarray, target: numpy.ndarray, weight: typing.Any, delta: typing.SupportsFloat | typing.SupportsIndex) -> tuple:
    ...
def simd_backend() -> str:
    """
    The instruction set the kernels run on.
    """
def softmax(x: numpy.ndarray, out: numpy.ndarray, n_outer: typing.SupportsInt | typing.SupportsIndex, n_classes: typing.SupportsInt | typing.SupportsIndex, n_inner: typing.SupportsInt | typing.SupportsIndex, kind: typing.SupportsInt | typing.SupportsIndex) -> None:
    ...
def softmax_new(x: typing.Any, out: typing.Any, axis: typing.SupportsInt | typing.SupportsIndex, kind: typing.SupportsInt | typing.SupportsIndex) -> typing.Any:
    """
    softmax (0) or log_softmax (1) into out (None: a new array); None when the arrays need work
    """
def supported_backends() -> list[str]:
    """
    Compiled instruction sets this CPU runs, best first.
    """
__version__: str
compiler: str
openmp: bool
