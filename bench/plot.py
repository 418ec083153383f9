"""A PNG of the results: time / limit per workload, and the speed-up over each peer."""

from __future__ import annotations

from typing import Any

import report

# One colour per peer, far apart (the tab10 palette), in the order of the table's columns.
PEER_COLORS = {
    "numpy": "#1f77b4",
    "torch": "#ff7f0e",
    "torch.compile": "#d62728",
    "jax": "#2ca02c",
    "scipy": "#9467bd",
    "flcalls": "#7f7f7f",
    "astype": "#8c564b",
}
PEER_LABELS = {
    "torch": "torch (eager)",
    "torch.compile": "torch.compile",
    "jax": "JAX, faster of jax.nn and optax",
    "flcalls": "fastloss's separate calls (evaluate)",
    "astype": "fastloss on x.astype(float32) (half precision)",
}
THREAD_COLORS = ("#17becf", "#bcbd22", "#8c564b", "#e377c2")


def save(path: str, records: list[dict[str, Any]], peers: list[str], title: str) -> str | None:
    """Write the chart; returns why not when matplotlib is missing or nothing was measured."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    done = [r for r in records if not r.get("skipped")]
    if not done:
        return "no results to plot"
    names = list(dict.fromkeys(r["workload"] for r in done))
    threads = sorted({r["threads"] for r in done})
    at = {(r["workload"], r["threads"]): r for r in done}
    # The speed-ups at one thread (the README's table), or the fewest threads measured.
    low = min(threads)

    fig, (ax_lim, ax_peer) = plt.subplots(
        1,
        2,
        figsize=(15, 0.32 * len(names) + 1.8),
        sharey=True,
        gridspec_kw={"width_ratios": [1, 1.4]},
    )
    ys = list(range(len(names)))[::-1]

    h = 0.8 / len(threads)
    for i, t in enumerate(threads):
        vals = [_xlimit(at.get((n, t))) for n in names]
        pos = [y + 0.4 - h * (i + 0.5) for y in ys]
        bars = ax_lim.barh(
            pos,
            [v or 0 for v in vals],
            height=h,
            label=f"{t} thread{'s' if t > 1 else ''}",
            color=THREAD_COLORS[i % len(THREAD_COLORS)],
        )
        ax_lim.bar_label(bars, [f"{v:.2f}" if v else "" for v in vals], fontsize=6, padding=2)
    for n, y in zip(names, ys, strict=True):
        over = [(t, (at.get((n, t)) or {}).get("limit", {}).get("overhead_s")) for t in threads]
        text = ", ".join(
            f"t={t}: +{_num(max(o, 0.0) * 1e6) or 0} us" for t, o in over if o is not None
        )
        if text:  # small inputs: the time above an empty call instead of a bar
            ax_lim.text(0.02, y, f"above an empty call: {text}", va="center", fontsize=7)
    ax_lim.axvline(1.0, color="black", lw=1)
    # Each workload's own target (1.25 for C >= 32000, 1.3 for >= 64 MB, 2.0 for 1Mx10).
    marked = False
    for n, y in zip(names, ys, strict=True):
        bound = next((report.target(at[(n, t)]) for t in threads if (n, t) in at), None)
        if bound is not None:
            ax_lim.vlines(
                bound,
                y - 0.45,
                y + 0.45,
                color="black",
                lw=1.2,
                ls="--",
                label=None if marked else "target of that workload",
            )
            marked = True
    ax_lim.set_xlabel("time / physical limit (1 = at the limit), per thread count")
    ax_lim.legend(loc="best", fontsize=8)
    ax_lim.set_yticks(ys, names, fontsize=8)

    ratios = {n: report.speedups(at[(n, low)]) for n in names if (n, low) in at}
    asked = {*peers, *(["jax"] if "optax" in peers else [])}
    present = [p for p in PEER_COLORS if p in asked and any(p in r for r in ratios.values())]
    h = 0.8 / max(len(present), 1)
    for i, p in enumerate(present):
        vals = [ratios.get(n, {}).get(p) for n in names]
        pos = [y + 0.4 - h * (i + 0.5) for y in ys]
        bars = ax_peer.barh(
            pos, [v or 0 for v in vals], height=h, label=PEER_LABELS.get(p, p), color=PEER_COLORS[p]
        )
        ax_peer.bar_label(bars, [_num(v) for v in vals], fontsize=6, padding=2)
    ax_peer.set_xscale("log")
    ax_peer.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax_peer.axvline(1.0, color="black", lw=1)
    ax_peer.set_xlabel(
        f"peer time / fastloss time at {low} thread{'s' if low > 1 else ''} (log; above 1:"
        " fastloss faster)"
    )
    ax_peer.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # off the bars
    for ax in (ax_lim, ax_peer):
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.6, len(names) - 0.4)
    fig.suptitle(
        f"{title}\nleft: threads {', '.join(map(str, threads))}; right: {low} thread"
        f"{'s' if low > 1 else ''}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def _xlimit(rec: dict[str, Any] | None) -> float | None:
    if rec is None:
        return None
    return rec.get("limit", {}).get("x")


def _num(v: float | None) -> str:
    if not v:
        return ""
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"
