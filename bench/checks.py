"""Check a result against the float64 reference at SPEC §4's tolerance before timing it."""

from __future__ import annotations

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


def tolerance(w: Workload) -> tuple[float, float]:
    """(relative, absolute) bound of SPEC §4 for this workload's dtype and reduction."""
    rtol, atol = (1e-12, 1e-13) if w.dtype == "float64" else (1e-5, 1e-6)
    reduction = w.kwargs.get("reduction")
    if reduction == "sum":
        atol *= w.n_elements  # a sum may carry 1e-6 per term summed
    elif reduction == "batchmean":
        atol *= w.n_elements / w.shape[0]  # a sum over each row, averaged over rows
    return rtol, atol


def compare(w: Workload, result: object, reference: np.ndarray | None) -> Check:
    if reference is None:
        return Check("unchecked", message="no fastloss.reference for this function")
    got = np.asarray(result)
    if got.shape != reference.shape:
        return Check("mismatch", float("inf"), f"shape {got.shape} != reference {reference.shape}")
    rtol, atol = tolerance(w)
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
