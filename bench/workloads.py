"""The benchmark workloads: which loss, on which inputs, with how many exps per element.

A workload names a fastloss function, the generator of its inputs (see inputs.py), the
order of its arguments and its keyword options. Everything here is plain data, so the
parent process can select workloads without importing fastloss or any peer.

Half precision (bfloat16, float16) is a dtype like float64: the same workloads on inputs
rounded from the float32 ones, named with a ``bf16``/``f16`` suffix, and ``--dtype
bfloat16,float16`` runs any workload in them. bfloat16 arrays are ml_dtypes.bfloat16
(what JAX uses); float16 is np.float16.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from dataclasses import dataclass, field

DTYPES = ("float32", "float64", "bfloat16", "float16")
HALF = ("bfloat16", "float16")  # computed in float32 by fastloss: exp counts as float32's
SHORT_DTYPE = {"float64": "f64", "bfloat16": "bf16", "float16": "f16"}  # in workload names
# >= 10x PyTorch eager on the same bfloat16 tensors, beside the limit targets
# (docs/performance.md, "Targets").
BF16_TORCH_BOUND = 10.0
M16 = 16 * 2**20  # elementwise workloads: 16M elements, 64 MB per float32 array


@dataclass(frozen=True)
class Workload:
    op: str  # the fastloss function, also the name of the reference and peer functions
    shape: tuple[int, ...]  # shape of the main input (logits, probabilities, ...)
    inputs: str  # generator kind in inputs.py
    args: tuple[str, ...]  # input names in positional order
    options: tuple[tuple[str, object], ...] = ()  # keyword options, as (name, value) pairs
    dtype: str = "float32"
    label: str = ""  # what sets this variant apart, shown in the name
    exps_per_element: float = 0.0  # exp/log evaluations per element of the main input
    writes: bool = False  # writes an output of the input's size (into a preallocated out=)
    small: bool = False  # per-call overhead workload: compared with an empty call
    gathers: bool = False  # reads one element per row of the main input, not all of it
    quick: bool = False  # part of --quick
    tags: tuple[str, ...] = field(default=())
    # fastloss.reference function giving the expected result (default: op itself). A result
    # may be an array or a mapping of named values (evaluate's dict): see checks.py.
    reference: str = ""
    # A fastloss function timed in the same rounds on the same inputs (positional args
    # only), and the bound the targets set on time / its time: "xbase" in the table.
    baseline: str = ""
    baseline_bound: float | None = None
    # (peer, x): fastloss must be at least x times faster than that peer (default 1).
    peer_bounds: tuple[tuple[str, float], ...] = ()

    @property
    def name(self) -> str:
        parts = [self.op, "x".join(_count(n) for n in self.shape)]
        if self.label:
            parts.append(self.label)
        if self.dtype != "float32":
            parts.append(SHORT_DTYPE.get(self.dtype, self.dtype))
        return " ".join(parts)

    @property
    def kwargs(self) -> dict[str, object]:
        return dict(self.options)

    @property
    def reference_op(self) -> str:
        return self.reference or self.op

    @property
    def axis(self) -> int:
        return int(self.kwargs.get("axis", -1))

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def n_exp(self) -> int:
        return round(self.exps_per_element * self.n_elements)

    @property
    def half(self) -> bool:
        return self.dtype in HALF

    @property
    def peer_targets(self) -> dict[str, float]:
        """Peer -> how many times faster than it fastloss must be (default 1)."""
        out = dict(self.peer_bounds)
        if self.dtype == "bfloat16":
            out["torch"] = max(out.get("torch", 1.0), BF16_TORCH_BOUND)
        return out

    def with_dtype(self, dtype: str) -> Workload:
        return dataclasses.replace(self, dtype=dtype)


def _count(n: int) -> str:
    # 16777216 reads better as 16M; counts that are not whole mebi-multiples stay exact.
    return f"{n >> 20}M" if n >= 2**20 and n % 2**20 == 0 else str(n)


def _ce(shape: tuple[int, ...], *, smooth: bool = False, axis: int = -1, **kw: object) -> Workload:
    options: dict[str, object] = {"ignore_index": -100, "reduction": "mean", "axis": axis}
    label = "axis=1" if axis == 1 else ""
    if smooth:
        # Label smoothing and ignored rows together: the options a training loop sets.
        options["label_smoothing"] = 0.1
        label = (label + " ls=0.1 ignore").strip()
    return Workload(
        op="cross_entropy",
        shape=shape,
        inputs="class_ignore" if smooth else "class",
        args=("logits", "target"),
        options=tuple(options.items()),
        label=label,
        exps_per_element=1.0,
        **kw,  # type: ignore[arg-type]
    )


def _evaluate(shape: tuple[int, ...], **kw: object) -> Workload:
    # Cross-entropy, top-1, top-5, entropy and logsumexp in one pass; on target when it
    # costs <= 1.3x cross_entropy alone and runs >= 3x faster than torch's separate calls.
    return Workload(
        op="evaluate",
        shape=shape,
        inputs="class",
        args=("logits", "target"),
        options=(("topk", (1, 5)),),
        exps_per_element=1.0,
        reference="classification_metrics",
        baseline="cross_entropy",
        baseline_bound=1.3,
        peer_bounds=(("torch", 3.0),),
        **kw,  # type: ignore[arg-type]
    )


def _softmax_family(op: str, shape: tuple[int, ...], **kw: object) -> Workload:
    return Workload(
        op=op,
        shape=shape,
        inputs="logits",
        args=("x",),
        options=(("axis", -1),),
        exps_per_element=1.0,
        writes=op in ("softmax", "log_softmax"),
        **kw,  # type: ignore[arg-type]
    )


def _elementwise(op: str, inputs: str, exps: float, n: int = M16, **kw: object) -> Workload:
    options: dict[str, object] = {"reduction": "mean"}
    if op == "huber_loss":
        options["delta"] = 1.0
    if op == "smooth_l1_loss":
        options["beta"] = 1.0
    args = ("input", "target") if inputs == "regression" else ("x", "target")
    return Workload(
        op=op,
        shape=(n,),
        inputs=inputs,
        args=args,
        options=tuple(options.items()),
        exps_per_element=exps,
        **kw,  # type: ignore[arg-type]
    )


SUITE: tuple[Workload, ...] = (
    # Cross-entropy over LLM-sized vocabularies, ImageNet-sized and tiny class counts.
    _ce((256, 128256)),
    _ce((256, 128256), smooth=True),
    _ce((1024, 32000), quick=True),
    _ce((1024, 32000), smooth=True),
    _ce((32768, 1000)),
    _ce((32768, 1000), smooth=True),
    _ce((1048576, 10), quick=True),
    _ce((1048576, 10), smooth=True),
    # The fused evaluation pass against the same metrics from separate calls.
    _evaluate((256, 128256)),
    _evaluate((32768, 1000)),
    # Segmentation: (N, C, H, W), class axis 1, handled in place.
    _ce((16, 21, 256, 256), axis=1),
    Workload(
        op="nll_loss",
        shape=(32768, 1000),
        inputs="logprobs",
        args=("log_probs", "target"),
        options=(("ignore_index", -100), ("reduction", "mean"), ("axis", -1)),
        gathers=True,  # picks log_probs[i, target[i]]: one cache line per row
    ),
    _softmax_family("log_softmax", (32768, 1000)),
    _softmax_family("softmax", (32768, 1000), quick=True),
    _softmax_family("logsumexp", (32768, 1000)),
    Workload(
        op="kl_div",
        shape=(32768, 1000),
        inputs="kl",
        args=("input", "target"),
        options=(("reduction", "batchmean"), ("log_target", False)),
        exps_per_element=1.0,  # one log of the target per element
    ),
    _elementwise("binary_cross_entropy", "probs_binary", 2.0),  # two logs
    _elementwise("binary_cross_entropy_with_logits", "logits_binary", 2.0),
    _elementwise("mse_loss", "regression", 0.0, quick=True),
    _elementwise("l1_loss", "regression", 0.0),
    _elementwise("huber_loss", "regression", 0.0),
    _elementwise("smooth_l1_loss", "regression", 0.0),
    # float64: the same kernels at half the lanes.
    _ce((1024, 32000), dtype="float64"),
    _elementwise("mse_loss", "regression", 0.0, dtype="float64"),
    # Half precision: the limit reads 2 bytes per element, the exps are float32's.
    *(
        w
        for dtype in HALF
        for w in (
            _ce((256, 128256), dtype=dtype),
            _ce((1024, 32000), dtype=dtype),
            _softmax_family("softmax", (32768, 1000), dtype=dtype),
            _elementwise("binary_cross_entropy_with_logits", "logits_binary", 2.0, dtype=dtype),
            _elementwise("mse_loss", "regression", 0.0, dtype=dtype),
        )
    ),
    # Per-call overhead, against an empty pybind11 call.
    _elementwise("mse_loss", "regression", 0.0, n=10, small=True, quick=True),
    _elementwise("mse_loss", "regression", 0.0, n=1000, small=True),
    _ce((1, 10), small=True, quick=True),
    _ce((10, 100), small=True),
    _softmax_family("softmax", (10, 100), small=True),
)


def select(
    *,
    quick: bool = False,
    only: str | None = None,
    dtypes: list[str] | None = None,
) -> list[Workload]:
    """Workloads to run, in suite order.

    ``only`` is a comma-separated list of patterns, case-insensitive: a pattern holding
    ``*?[`` is a glob over the whole name; any other pattern selects the workload of that
    exact name, or every workload of that op (``cross_entropy``, not
    ``binary_cross_entropy``). No substring match: it ran workloads nobody asked for.
    ``--only`` selects from the whole suite, even with ``quick``. ``dtypes`` runs every
    selected workload in each dtype listed (names that collide are run once).
    """
    if only:
        patterns = [p.strip().lower() for p in only.split(",") if p.strip()]
        chosen = [w for w in SUITE if any(_matches(w, p) for p in patterns)]
    else:
        chosen = [w for w in SUITE if w.quick or not quick]
    if dtypes:
        seen: set[str] = set()
        expanded: list[Workload] = []
        for w in chosen:
            for d in dtypes:
                v = w.with_dtype(d)
                if v.name not in seen:
                    seen.add(v.name)
                    expanded.append(v)
        chosen = expanded
    return chosen


def unmatched(only: str) -> list[str]:
    """The patterns of ``only`` that select no workload (likely a typo)."""
    patterns = [p.strip() for p in only.split(",") if p.strip()]
    return [p for p in patterns if not any(_matches(w, p.lower()) for w in SUITE)]


def by_name(names: list[str]) -> list[Workload]:
    """Rebuild the workloads a worker was sent by name (the name carries the dtype)."""
    index: dict[str, Workload] = {}
    for w in SUITE:
        for d in DTYPES:
            v = w.with_dtype(d)
            index.setdefault(v.name, v)
    return [index[n] for n in names]


def _matches(w: Workload, pattern: str) -> bool:
    name = w.name.lower()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in (name, w.op)
