"""Check a result against the float64 reference before timing it (docs/numerics.md tolerances).

A result is an array (a loss, a softmax), or a mapping of named values (evaluate's
metrics dict, a peer's dict of the same metrics): every name the result shares with the
reference is compared, and the worst one is reported. The reference may hold names the
result lacks (a peer computing fewer metrics than fastloss); a result name the reference
lacks is a mismatch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workloads import Workload

CHUNK = 1 << 20


@dataclass
class Check:
    status: str  # "ok", "mismatch", "unchecked" (no reference) or "error" (the call raised)
    worst: float = 0.0  # largest |result - reference| / allowed error; <= 1 passes
    message: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "worst": self.worst, "message": self.message}


# A result held in a half-precision type cannot be nearer the reference than its rounding:
# its machine epsilon (two half-ulps) relative. A float32 result of half inputs (fastloss's
# reductions, the astype route) is computed in float32 and held to float32's bound.
HALF_EPS = {"bfloat16": 2.0**-7, "float16": 2.0**-10}


def tolerance(w: Workload, result_dtype: np.dtype | None = None) -> tuple[float, float]:
    """(relative, absolute) bound (docs/numerics.md) for this workload's dtype and reduction,
    and the dtype the result is held in."""
    held = np.dtype(result_dtype).name if result_dtype is not None else "float32"
    if held in HALF_EPS:
        rtol, atol = HALF_EPS[held], 1e-6
    else:
        rtol, atol = (1e-12, 1e-13) if w.dtype == "float64" else (1e-5, 1e-6)
    reduction = w.kwargs.get("reduction")
    if reduction == "sum":
        atol *= w.n_elements  # a sum may carry 1e-6 per term summed
    elif reduction == "batchmean":
        atol *= w.n_elements / w.shape[0]  # a sum over each row, averaged over rows
    return rtol, atol


Reference = np.ndarray | dict[str, np.ndarray]


def as_reference(result: object) -> Reference:
    """A reference result in float64: one array, or a dict of them for a mapping result."""
    if isinstance(result, Mapping):
        return {str(k): np.asarray(v, dtype=np.float64) for k, v in result.items()}
    return np.asarray(result, dtype=np.float64)


def compare(w: Workload, result: object, reference: Reference | None) -> Check:
    if reference is None:
        return Check("unchecked", message="no fastloss.reference for this function")
    if isinstance(reference, Mapping) or isinstance(result, Mapping):
        return _compare_fields(w, result, reference)
    return _compare_array(w, result, reference)


def _compare_fields(w: Workload, result: object, reference: Reference) -> Check:
    if not (isinstance(result, Mapping) and isinstance(reference, Mapping)):
        kinds = [type(v).__name__ for v in (result, reference)]
        return Check("mismatch", float("inf"), "result {} vs reference {}".format(*kinds))
    extra = sorted(set(result) - set(reference))
    if extra:
        return Check("mismatch", float("inf"), f"not in the reference: {', '.join(extra)}")
    worst = Check("ok")
    for name in result:
        c = _compare_array(w, result[name], reference[name])
        if c.worst > worst.worst or c.status != "ok":
            worst = Check(c.status, c.worst, f"{name}: {c.message}" if c.message else "")
        if c.status != "ok":
            break
    return worst


def _compare_array(w: Workload, result: object, reference: np.ndarray) -> Check:
    got = np.asarray(result)
    if got.shape != reference.shape:
        return Check("mismatch", float("inf"), f"shape {got.shape} != reference {reference.shape}")
    rtol, atol = tolerance(w, got.dtype)
    flat_got, flat_ref = got.reshape(-1), reference.reshape(-1)
    worst, where = 0.0, 0
    # In blocks: a 32M-element softmax checked at once would need several 256 MB temporaries.
    for lo in range(0, flat_ref.size, CHUNK):
        g = flat_got[lo : lo + CHUNK].astype(np.float64)
        r = flat_ref[lo : lo + CHUNK]
        with np.errstate(invalid="ignore"):
            err = np.abs(g - r) / (rtol * np.abs(r) + atol)
        err[np.isnan(g) & np.isnan(r)] = 0.0  # NaN where the reference has NaN is a match
        err[np.isnan(err)] = np.inf  # NaN on one side only, or inf against a finite value
        if err.size and err.max() > worst:
            worst, where = float(err.max()), lo + int(err.argmax())
    if worst <= 1.0:
        return Check("ok", worst)
    at = tuple(int(i) for i in np.unravel_index(where, got.shape)) if got.ndim else ()
    place = f" at {list(at)}" if at else ""
    return Check(
        "mismatch",
        worst,
        f"{worst:.3g}x the tolerance{place}: {float(got[at])!r} vs reference"
        f" {float(reference[at])!r}",
    )
