"""fastloss and its peers behind one interface: prepare a zero-argument call per workload.

Conversion of the inputs (torch.from_numpy, jax.device_put) and JAX's compilation happen
in ``prepare`` and the first call, outside the timed rounds. A peer that is not installed,
or has no equivalent of a workload, gives None: the table shows "-". A call returns an
array, or a mapping of named values (``evaluate``: a dict of metrics); ``to_numpy`` and
``new_bytes`` take either.

Half-precision workloads (bfloat16, float16) give every peer the same half-precision data:
torch tensors over the same memory (bfloat16 through its bits: torch.from_numpy does not
know ml_dtypes' type), JAX arrays of the same dtype. NumPy and SciPy have no half-precision
form (``absent`` says why, and the report prints it). The ``astype`` peer is fastloss on a
float32 copy made inside the timed call: what converting first costs.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

import ops_numpy
from inputs import numpy_dtype
from workloads import Workload

Call = Callable[[], Any]


class Peer:
    name = ""
    numpy_only = False  # allocates only through NumPy (tracemalloc sees it)
    warm_calls = 0  # calls before the first measured one (JAX compiles in its first call)

    def load(self) -> bool:
        """Import the library; False when it is not installed."""
        return True

    def absent(self, w: Workload) -> str | None:
        """Why this peer has no form of ``w`` worth a note (the table shows '-'), or None."""
        return None

    def version(self) -> str | None:
        return None

    def set_threads(self, n: int) -> None:
        pass

    def context(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        raise NotImplementedError

    def to_numpy(self, result: Any) -> np.ndarray | dict[str, np.ndarray]:
        """The result as NumPy: an array, or a dict of arrays for a mapping result."""
        if isinstance(result, Mapping):
            return {str(k): self.array(v) for k, v in result.items()}
        return self.array(result)

    def array(self, value: Any) -> np.ndarray:
        return np.asarray(value)

    def new_bytes(self, result: Any, out: np.ndarray | None) -> int:
        """Bytes of a freshly allocated result (0 when it was written into ``out``)."""
        if isinstance(result, Mapping):
            return sum(self.new_bytes(v, out) for v in result.values())
        arr = self.array(result)
        if out is not None and np.may_share_memory(arr, out):
            return 0
        return int(arr.nbytes) if arr.ndim else 0


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


class Fastloss(Peer):
    name = "fastloss"
    numpy_only = False  # kernels may allocate O(threads) partials in C++

    def __init__(self, module: Any) -> None:
        self.fl = module

    def version(self) -> str | None:
        """The version, and for a development build the source tree's and where it is.

        A plain-cmake build (tools/devbuild.sh) has no version from the packaging and says
        "0.0.0"; on PYTHONPATH it also shadows an installed fastloss. Its Python files
        link into the checkout, whose pyproject.toml has the version it builds.
        """
        v = getattr(self.fl, "__version__", None) or _dist_version("fastloss")
        if v not in (None, "0.0.0"):
            return v
        init = Path(getattr(self.fl, "__file__", "") or ".")
        for root in init.resolve().parents:
            project = root / "pyproject.toml"
            if project.is_file():
                # A regex, not tomllib: the bench runs on Python 3.10 too.
                with contextlib.suppress(OSError):
                    found = re.search(r'^version\s*=\s*"([^"]+)"', project.read_text(), re.M)
                    v = found.group(1) if found else v
                break
        return f"{v} (development build at {init.parent.parent})"

    def set_threads(self, n: int) -> None:
        setter = getattr(self.fl, "set_num_threads", None)
        if setter is not None:
            setter(n)  # else OMP_NUM_THREADS, set by run.py, applies

    def missing(self, w: Workload) -> str | None:
        return None if callable(getattr(self.fl, w.op, None)) else f"fastloss.{w.op} missing"

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        fn = getattr(self.fl, w.op, None)
        if fn is None:
            return None
        kw = dict(w.kwargs)
        if w.writes and out is not None:
            kw["out"] = out
        return functools.partial(fn, *(arrays[a] for a in w.args), **kw)

    def reference(self, w: Workload, arrays: dict[str, np.ndarray]) -> Call | None:
        try:
            module = importlib.import_module(self.fl.__name__ + ".reference")
        except ImportError:
            return None
        ref = getattr(module, w.reference_op, None)
        if ref is None:
            return None
        return functools.partial(ref, *(arrays[a] for a in w.args), **w.kwargs)


# NumPy and SciPy on half-precision data: a reason printed under the table's notes.
NO_NUMPY_HALF = (
    "NumPy has no bfloat16 (ml_dtypes' type and NumPy's own float16 compute element by"
    " element in software, converting each value): no NumPy or SciPy peer in half precision"
)


class NumPy(Peer):
    name = "numpy"
    numpy_only = True

    def version(self) -> str | None:
        return np.__version__

    def absent(self, w: Workload) -> str | None:
        return NO_NUMPY_HALF if w.half else None

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        fn = getattr(ops_numpy, w.op, None)
        if fn is None:
            return None
        kw = dict(w.kwargs)
        if w.writes and out is not None:
            kw["out"] = out  # a careful NumPy user can write into a buffer too
        return functools.partial(fn, *(arrays[a] for a in w.args), **kw)


class Torch(Peer):
    """torch.nn.functional on zero-copy tensors, under inference_mode."""

    name = "torch"

    def load(self) -> bool:
        try:
            self.torch = importlib.import_module("torch")
            self.F = importlib.import_module("torch.nn.functional")
        except ImportError:
            return False
        return True

    def version(self) -> str | None:
        return str(self.torch.__version__)

    def set_threads(self, n: int) -> None:
        self.torch.set_num_threads(n)

    def context(self) -> contextlib.AbstractContextManager[object]:
        # Entered once for the whole run, so a tiny call does not pay for it each time.
        return self.torch.inference_mode()

    def tensor(self, a: np.ndarray) -> Any:
        """A tensor over the array's memory; bfloat16 through its bits (torch.from_numpy
        does not know ml_dtypes' type)."""
        if a.dtype.name == "bfloat16":
            return self.torch.from_numpy(a.view(np.uint16)).view(self.torch.bfloat16)
        return self.torch.from_numpy(a)

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        t = [self.tensor(arrays[a]) for a in w.args]
        kw = dict(w.kwargs)
        axis = int(kw.pop("axis", -1))
        F = self.F
        op = w.op
        if op in ("cross_entropy", "nll_loss"):
            # torch's class axis is 1 (and -1 is 1 for 2-D input).
            if axis % t[0].dim() != 1:
                return None
            fn = F.cross_entropy if op == "cross_entropy" else F.nll_loss
            return functools.partial(fn, *t, **kw)
        if op == "evaluate":
            if axis % t[0].dim() != t[0].dim() - 1 or t[0].dim() != 2:
                return None
            return functools.partial(self._metrics, *t, **kw)
        if op in ("softmax", "log_softmax"):
            tfn = getattr(self.torch, op)
            if out is not None:
                return functools.partial(tfn, t[0], axis, out=self.tensor(out))
            return functools.partial(tfn, t[0], axis)
        if op == "logsumexp":
            return functools.partial(self.torch.logsumexp, t[0], axis)
        simple = {
            "binary_cross_entropy": F.binary_cross_entropy,
            "binary_cross_entropy_with_logits": F.binary_cross_entropy_with_logits,
            "mse_loss": F.mse_loss,
            "l1_loss": F.l1_loss,
            "huber_loss": F.huber_loss,
            "smooth_l1_loss": F.smooth_l1_loss,
            "kl_div": F.kl_div,
        }
        fn = simple.get(op)
        return None if fn is None else functools.partial(fn, *t, **kw)

    def _metrics(self, x: Any, t: Any, *, topk: tuple[int, ...]) -> dict[str, Any]:
        """evaluate's metrics with torch's own ops, as a torch user computes them."""
        F = self.F
        out = {"cross_entropy": F.cross_entropy(x, t)}
        top = x.topk(max(topk), dim=-1).indices  # sorted: column 0 is the argmax
        hit = top == t[:, None]
        out["accuracy"] = hit[:, 0].float().mean()
        for k in topk:
            out[f"top{k}_accuracy"] = hit[:, :k].any(dim=1).float().mean()
        logp = F.log_softmax(x, dim=-1)
        out["entropy"] = -(logp.exp() * logp).sum(dim=-1).mean()
        return out

    def array(self, value: Any) -> np.ndarray:
        if value.dtype == self.torch.bfloat16:  # .numpy() refuses it: its bits, viewed
            return value.view(self.torch.int16).numpy().view(numpy_dtype("bfloat16"))
        return value.numpy()


class Jax(Peer):
    """jax.jit of the jax.nn formulation; the first call (compilation) is not timed."""

    name = "jax"
    warm_calls = 1

    def load(self) -> bool:
        try:
            self.jax = importlib.import_module("jax")
            # float64 inputs stay float64 (float32 ones stay float32).
            self.jax.config.update("jax_enable_x64", True)
            self.ops = importlib.import_module("ops_jax")
        except ImportError:
            return False
        return True

    def version(self) -> str | None:
        return str(self.jax.__version__)

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        fn = getattr(self.ops, w.op, None)
        if fn is None:
            return None
        jitted = self.jax.jit(functools.partial(fn, **w.kwargs))
        args = [self.jax.device_put(arrays[a]) for a in w.args]
        ready = self.jax.block_until_ready  # an array, or a dict of them (evaluate)

        def call() -> Any:
            return ready(jitted(*args))

        return call

    def new_bytes(self, result: Any, out: np.ndarray | None) -> int:
        if isinstance(result, Mapping):
            return sum(self.new_bytes(v, out) for v in result.values())
        return int(result.nbytes) if result.ndim else 0  # JAX never writes into a buffer


class Optax(Jax):
    """optax's loss under jax.jit, where optax has one (ops_optax.py); else no equivalent."""

    name = "optax"

    def load(self) -> bool:
        if not super().load():
            return False
        try:
            self.optax = importlib.import_module("optax")
            self.ops = importlib.import_module("ops_optax")
        except ImportError:
            return False
        return True

    def version(self) -> str | None:
        return str(self.optax.__version__)


class TorchCompile(Torch):
    """The same torch.nn.functional call under torch.compile (Inductor's fused C++ on the
    CPU). Compiled by the warm-up calls, outside the timed rounds; no out= buffer, which a
    compiled function would not take from its user."""

    name = "torch.compile"
    warm_calls = 2  # the compiling call, then one more on the compiled code

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        eager = super().prepare(w, arrays, None)
        if not isinstance(eager, functools.partial):
            return None
        # Dynamo caches compiled code per Python function, and the suite's workloads share a
        # few F.* functions: past 8 recompiles of one it silently runs it eager. Each
        # workload starts from an empty cache (the earlier workloads' code is not called again).
        self.torch._dynamo.reset()
        # Tensors as arguments, options bound: dynamic=False specializes on the shapes.
        fn = self.torch.compile(functools.partial(eager.func, **eager.keywords), dynamic=False)
        return functools.partial(fn, *eager.args)


class SciPy(Peer):
    """scipy.special where it computes the same quantity."""

    name = "scipy"
    numpy_only = True

    def load(self) -> bool:
        try:
            self.sp = importlib.import_module("scipy.special")
            self.version_ = importlib.import_module("scipy").__version__
        except ImportError:
            return False
        return True

    def version(self) -> str | None:
        return str(self.version_)

    def absent(self, w: Workload) -> str | None:
        return NO_NUMPY_HALF if w.half else None

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        sp = self.sp
        a = [arrays[n] for n in w.args]
        kw = w.kwargs
        op = w.op
        if op in ("logsumexp", "softmax", "log_softmax"):
            return functools.partial(getattr(sp, op), a[0], axis=kw.get("axis", -1))
        if op == "kl_div" and kw.get("reduction") == "batchmean" and not kw.get("log_target"):
            x, y = a
            return lambda: (sp.xlogy(y, y) - y * x).sum() / x.shape[0]
        if kw.get("reduction") != "mean":
            return None
        if op == "binary_cross_entropy":
            p, y = a
            return lambda: -(sp.xlogy(y, p) + sp.xlog1py(1 - y, -p)).mean()
        if op == "binary_cross_entropy_with_logits":
            x, y = a
            return lambda: -(y * sp.log_expit(x) + (1 - y) * sp.log_expit(-x)).mean()
        if op == "huber_loss":
            x, y = a
            return lambda: sp.huber(kw["delta"], x - y).mean()
        if op == "smooth_l1_loss":
            x, y = a
            beta = float(kw["beta"])  # type: ignore[arg-type]
            return lambda: (sp.huber(beta, x - y) / beta).mean()
        return None


class FastlossCalls(Peer):
    """fastloss without its fused pass: the same metrics from separate calls, as a user
    without ``evaluate`` writes them (``fastloss.cross_entropy``, ``fastloss.softmax`` and
    ``fastloss.entropy``, the top-k hits from NumPy's argmax and argpartition)."""

    name = "flcalls"

    def __init__(self, module: Any) -> None:
        self.fl = module

    def load(self) -> bool:
        return all(
            callable(getattr(self.fl, f, None)) for f in ("cross_entropy", "softmax", "entropy")
        )

    def version(self) -> str | None:
        return None  # fastloss's own, already in the header

    def set_threads(self, n: int) -> None:
        setter = getattr(self.fl, "set_num_threads", None)
        if setter is not None:
            setter(n)

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        if w.op != "evaluate" or set(w.kwargs) - {"topk", "axis"}:
            return None
        x, t = (arrays[a] for a in w.args)
        if x.ndim != 2 or int(w.kwargs.get("axis", -1)) % 2 != 1:
            return None
        topk = tuple(w.kwargs.get("topk", (1, 5)))  # type: ignore[arg-type]
        fl = self.fl

        def call() -> dict[str, Any]:
            out = {"cross_entropy": fl.cross_entropy(x, t)}
            out.update(ops_numpy.topk_hits(x, t, topk))
            out["entropy"] = fl.entropy(fl.softmax(x)).mean()
            return out

        return call


class Astype(Peer):
    """fastloss on half-precision inputs converted first, the conversion timed with the call:
    ``fastloss.f(x.astype(np.float32), ...)``, what a user pays without the native half path.
    Its result is float32 (softmax: into a preallocated float32 buffer, as fastloss writes
    into one of the input's dtype). Half-precision workloads only."""

    name = "astype"

    def __init__(self, module: Any) -> None:
        self.fl = module
        self.buffer: np.ndarray | None = None

    def version(self) -> str | None:
        return None  # fastloss's own, already in the header

    def prepare(
        self, w: Workload, arrays: dict[str, np.ndarray], out: np.ndarray | None
    ) -> Call | None:
        fn = getattr(self.fl, w.op, None)
        if fn is None or not w.half:
            return None
        half = numpy_dtype(w.dtype)
        args = [arrays[a] for a in w.args]
        kw = dict(w.kwargs)
        self.buffer = None
        if w.writes and out is not None:
            self.buffer = np.empty(out.shape, dtype=np.float32)
            self.buffer.fill(0)  # touched now, as the out= buffer of the others
            kw["out"] = self.buffer

        def call() -> Any:
            return fn(*(a.astype(np.float32) if a.dtype == half else a for a in args), **kw)

        return call

    def new_bytes(self, result: Any, out: np.ndarray | None) -> int:
        return super().new_bytes(result, self.buffer)


def all_peers(fastloss: Any = None) -> list[Peer]:
    """Every peer; ``flcalls`` (fastloss's separate calls) and ``astype`` (fastloss on a
    float32 copy) need the fastloss module."""
    peers: list[Peer] = [NumPy(), Torch(), TorchCompile(), Jax(), Optax(), SciPy()]
    if fastloss is not None:
        peers += [FastlossCalls(fastloss), Astype(fastloss)]
    return peers
