"""evaluate / Evaluator / evaluate_chunked: the hard rows (ties, NaN, masked classes) against
reference.classification_metrics, exact ranks, streaming = one call. Random rows over shapes,
layouts and threads: tests/test_equivalence.py."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastloss
from fastloss import reference

TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-13)}
MEANS = ("cross_entropy", "perplexity", "accuracy", "entropy", "logsumexp")


def logits_for(n, c, dtype, seed=0, special=True):
    """Random rows plus the hard ones: confident rows, rows offset by ±50, ties with the
    target (with the max and with others), masked classes, NaN, +inf, all -inf."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 2.0, (n, c))
    t = rng.integers(0, c, n)
    if special and n >= 12 and c >= 2:
        x[0] += 50.0
        x[1] -= 50.0
        x[2, t[2]] += 30.0  # confident
        x[3] = np.round(x[3])  # many ties
        x[4, :] = x[4, t[4]]  # everything tied with the target
        x[5, (t[5] + 1) % c] = x[5].max() + 1
        x[5, t[5]] = x[5].max()  # tied with the max, other index first or after
        x[6, (t[6] + 1) % c] = -np.inf  # a masked class
        x[7, t[7]] = -np.inf  # target on a masked class: CE +inf
        x[8, c // 2] = np.nan
        x[9, 0] = np.inf
        x[10] = -np.inf
        x[11] = np.round(x[11] * 2) / 2
    return x.astype(dtype), t


def assert_metrics(got, want, dtype, topk=(1, 5)):
    rtol, atol = TOL[dtype]
    assert got["count"] == want["count"]
    np.testing.assert_allclose(got["weight_sum"], want["weight_sum"], rtol=1e-12)
    # class weights are read in the logits' dtype, as cross_entropy reads them
    np.testing.assert_allclose(got["loss_weight_sum"], want["loss_weight_sum"], rtol=rtol)
    for key in (*MEANS, *(f"top{k}_accuracy" for k in topk)):
        np.testing.assert_allclose(
            got[key], want[key], rtol=rtol, atol=atol, equal_nan=True, err_msg=key
        )


def ref_rows(x, t, ignore_index=-100, **kw):
    """Per-row reference: loss, rank, entropy, lse."""
    x64 = np.asarray(x, np.float64)
    loss = reference.cross_entropy(x64, t, reduction="none", ignore_index=ignore_index, **kw)
    p = reference.softmax(x64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)
    ent = np.where(np.isnan(p).any(axis=-1), np.nan, ent)
    lse = reference.logsumexp(x64)
    counted = t != ignore_index
    ts = np.where(counted, t, 0)
    xt = x64[np.arange(len(t)), ts][:, None]
    cls = np.arange(x.shape[1])
    rank = np.sum((x64 > xt) | ((x64 == xt) & (cls < ts[:, None])), axis=1)
    rank = np.where(np.isnan(x64).any(axis=1), x.shape[1], rank)
    return loss, np.where(counted, rank, -1), ent, lse


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    ("n", "c"),
    [(0, 10), (1, 1), (1, 2), (40, 1), (40, 2), (301, 10), (77, 17), (60, 1000), (13, 32001)],
)
def test_hard_rows_match_reference(dtype, n, c, backend):
    x, t = logits_for(n, c, dtype)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, c)
    s = rng.uniform(0.0, 2.0, n)
    t_ign = t.copy()
    t_ign[::3] = -100
    cases = [
        dict(),
        dict(weight=w, sample_weight=s),
        dict(label_smoothing=0.1),
        dict(weight=w, label_smoothing=0.2, sample_weight=s, topk=(1, 2, 3, 20)),
    ]
    for kw in cases:
        for tt in (t, t_ign):
            kw = dict(kw)
            topk = kw.get("topk", (1, 5))
            got = fastloss.evaluate(x, tt, **kw)
            assert_metrics(got, reference.classification_metrics(x, tt, **kw), dtype, topk)
    # reduction="none": per row, ranks exact
    rows = fastloss.evaluate(x, t_ign, reduction="none")
    loss, rank, ent, lse = ref_rows(x, t_ign)
    rtol, atol = TOL[dtype]
    np.testing.assert_array_equal(rows["rank"], rank)
    assert rows["rank"].dtype == np.int64
    for key, want in (("cross_entropy", loss), ("entropy", ent), ("logsumexp", lse)):
        assert rows[key].dtype == dtype and rows[key].shape == (n,)
        np.testing.assert_allclose(
            rows[key], want, rtol=rtol, atol=atol, equal_nan=True, err_msg=key
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("c", [3, 60])
def test_axis1(dtype, c, backend):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, (4, c, 21)).astype(dtype)
    x[1, :, 3] = np.round(x[1, :, 3])
    x[2, 0, 5] = np.nan
    t = rng.integers(0, c, (4, 21))
    t[0, ::4] = -100
    s = rng.uniform(0, 1, (4, 21))
    for kw in (
        dict(),
        dict(weight=rng.uniform(0.5, 2, c), label_smoothing=0.1, sample_weight=s, topk=(2, 7)),
    ):
        got = fastloss.evaluate(x, t, axis=1, **kw)
        assert_metrics(
            got, reference.classification_metrics(x, t, axis=1, **kw), dtype, kw.get("topk", (1, 5))
        )
    rows = fastloss.evaluate(x, t, axis=1, reduction="none")
    loss, rank, ent, lse = ref_rows(np.moveaxis(x, 1, -1).reshape(-1, c), t.reshape(-1))
    np.testing.assert_array_equal(rows["rank"].reshape(-1), rank)
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(
        rows["entropy"].reshape(-1), ent, rtol=rtol, atol=atol, equal_nan=True
    )
    np.testing.assert_allclose(
        rows["cross_entropy"].reshape(-1), loss, rtol=rtol, atol=atol, equal_nan=True
    )
    np.testing.assert_allclose(
        rows["logsumexp"].reshape(-1), lse, rtol=rtol, atol=atol, equal_nan=True
    )


@pytest.mark.parametrize(
    ("dtype", "big"), [(np.float32, 1e4), (np.float64, 1e300)], ids=["float32", "float64"]
)
@pytest.mark.parametrize("c", [10, 200])
def test_extreme_values(dtype, big, c, backend):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (6, c))
    x[0] += big
    x[1] -= big
    x[2, 3] = big
    x[3, 1] = -big
    x[4] *= big / 10
    x = x.astype(dtype)
    t = np.array([0, 1, 3, 1, 2, 5])
    assert_metrics(fastloss.evaluate(x, t), reference.classification_metrics(x, t), dtype)
    rows = fastloss.evaluate(x, t, reduction="none")
    np.testing.assert_array_equal(rows["rank"], ref_rows(x, t)[1])


def test_all_ignored_and_empty():
    x, t = logits_for(5, 4, np.float64, special=False)
    m = fastloss.evaluate(x, np.full(5, -100))
    assert m["count"] == 0 and m["weight_sum"] == 0.0
    assert all(
        np.isnan(m[k])
        for k in ("cross_entropy", "accuracy", "top5_accuracy", "entropy", "logsumexp")
    )
    m = fastloss.evaluate(np.zeros((0, 7), np.float32), np.zeros(0, np.int64))
    assert m["count"] == 0 and np.isnan(m["cross_entropy"])
    ev = fastloss.Evaluator()
    assert np.isnan(ev.result()["accuracy"]) and ev.result()["count"] == 0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 60), min_size=1, max_size=6),
    st.sampled_from([3, 64, 300]),
    st.booleans(),
)
def test_stream_merge_equals_one_call(cuts, c, weighted):
    x, t = logits_for(120, c, np.float64, seed=5, special=False)
    t[::7] = -100
    s = np.random.default_rng(6).uniform(0, 2, 120) if weighted else None
    opts = dict(
        topk=(1, 3), weight=np.linspace(0.5, 1.5, c) if weighted else None, label_smoothing=0.05
    )
    one = fastloss.Evaluator(**opts).update(x, t, sample_weight=s).result()
    bounds = [0, *sorted(cuts), 120]
    stream = fastloss.Evaluator(**opts)
    parts = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        kw = {} if s is None else {"sample_weight": s[a:b]}
        stream.update(x[a:b], t[a:b], **kw)
        parts.append(fastloss.Evaluator(**opts).update(x[a:b], t[a:b], **kw))
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    for got in (stream.result(), merged.result()):
        assert got["count"] == one["count"]
        for k, v in one.items():
            np.testing.assert_allclose(got[k], v, rtol=1e-12, atol=1e-14, equal_nan=True, err_msg=k)
    assert fastloss.evaluate(x, t, sample_weight=s, **opts) == one


def test_pickle_roundtrip():
    x, t = logits_for(50, 20, np.float32, seed=7, special=False)
    ev = fastloss.Evaluator(topk=(3,), weight=np.ones(20)).update(x[:30], t[:30])
    ev2 = pickle.loads(pickle.dumps(ev))
    ev.update(x[30:], t[30:])
    ev2.update(x[30:], t[30:])
    assert (
        ev.result()
        == ev2.result()
        == fastloss.Evaluator(topk=(3,), weight=np.ones(20)).update(x, t).result()
    )


def test_errors_keep_state():
    x, t = logits_for(20, 6, np.float32, seed=8, special=False)
    ev = fastloss.Evaluator().update(x, t)
    before = ev.result()
    bad_t = t.copy()
    bad_t[13] = 6
    with pytest.raises(IndexError, match=r"target\[13\] = 6 is outside \[0, 6\)"):
        ev.update(x, bad_t)
    with pytest.raises(ValueError, match="target shape"):
        ev.update(x, t[:-1])
    with pytest.raises(ValueError, match="6 classes|earlier batches had 6"):
        ev.update(x[:, :5], np.zeros(20, int))
    with pytest.raises(TypeError):
        ev.update(x.astype(np.complex64), t)
    with pytest.raises(TypeError):
        ev.update(x, t.astype(np.float32))
    with pytest.raises(ValueError, match="sample_weight"):
        ev.update(x, t, sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match="sample_weight"):
        ev.update(x, t, sample_weight=np.ones(3))
    nan_equal = lambda a, b: all(a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]) for k in a)  # noqa: E731
    assert nan_equal(ev.result(), before)
    with pytest.raises(ValueError, match="topk"):
        fastloss.Evaluator(topk=(0,))
    with pytest.raises(ValueError, match="reduction"):
        fastloss.evaluate(x, t, reduction="sum")
    with pytest.raises(ValueError, match="label_smoothing"):
        fastloss.evaluate(x, t, label_smoothing=2)
    with pytest.raises(ValueError, match="options differ"):
        ev.merge(fastloss.Evaluator(topk=(1,)))


def test_chunked_memmap(tmp_path):
    x, t = logits_for(1000, 70, np.float32, seed=9, special=False)
    path = tmp_path / "logits.f32"
    x.tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=x.shape)
    s = np.random.default_rng(0).uniform(0, 1, 1000)
    one = fastloss.Evaluator().update(mm, t, sample_weight=s).result()
    got = fastloss.evaluate_chunked(
        fastloss.Evaluator(), mm, t, sample_weight=s, rows_per_chunk=128, progress=True
    ).result()
    for k, v in one.items():
        np.testing.assert_allclose(got[k], v, rtol=1e-12, err_msg=k)
    default = fastloss.evaluate_chunked(fastloss.Evaluator(), mm, t, sample_weight=s).result()
    assert default == one  # one chunk: the same call
    # RegressionEvaluator through the same helper
    y = x[:, 0].astype(np.float64) + 1
    xr = x[:, 1].astype(np.float64)
    reg_one = fastloss.RegressionEvaluator().update(xr, y).result()
    reg = fastloss.evaluate_chunked(
        fastloss.RegressionEvaluator(), xr, y, rows_per_chunk=77
    ).result()
    for k, v in reg_one.items():
        np.testing.assert_allclose(reg[k], v, rtol=1e-10, err_msg=k)


def assert_rows(x, t, dtype, topk=(1, 5)):
    """evaluate(reduction="none") row by row and the mean, both against the reference."""
    rtol, atol = TOL[dtype]
    rows = fastloss.evaluate(x, t, reduction="none")
    loss, rank, ent, lse = ref_rows(x, t)
    np.testing.assert_array_equal(rows["rank"], rank)
    for key, want in (("cross_entropy", loss), ("entropy", ent), ("logsumexp", lse)):
        np.testing.assert_allclose(
            rows[key], want, rtol=rtol, atol=atol, equal_nan=True, err_msg=key
        )
    got = fastloss.evaluate(x, t, topk=topk)
    assert_metrics(got, reference.classification_metrics(x, t, topk=topk), dtype, topk)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("n", "c"), [(64, 100), (64, 1000), (12, 32001)])
def test_confident_rows_far_from_the_seed(dtype, n, c, backend):
    """The tolerance on confident rows: one class 20-40 above the rest. The rows engine's shift and
    origin come from the first vector and the target; with the top class elsewhere its H
    was off by up to ~4x the per-row tolerance (float32), and a long float64 row whose big
    term came early lost one rounding per later flush."""
    rng = np.random.default_rng(10)
    x = rng.normal(0.0, 2.0, (n, c))
    x[1::2] = x[1::2, :1]  # a constant rest: the same rounding at every flush
    t = rng.integers(0, c, n)
    top = rng.integers(16, c, n)  # past the first vector of every ISA (16 lanes at most)
    t = np.where(t == top, (top + 1) % c, t)
    top[-2:] = t[-2:]  # and two rows whose top class is the target
    x[np.arange(n), top] = x.max(axis=1) + rng.uniform(20.0, 40.0, n)
    assert_rows(x.astype(dtype), t, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("c", [300, 1000, 1023])
def test_ranks_target_near_the_top_in_the_last_vectors(dtype, c, backend):
    """Exact ranks with the target in the row's last (partial) vectors and at or near the
    top, ties included: the block pass must count the target's vector once (a double count
    there was once missed)."""
    rng = np.random.default_rng(11)
    n = 96
    x = np.round(rng.normal(0.0, 2.0, (n, c)) * 4) / 4  # ties besides the ones made below
    rows = np.arange(n)
    t = c - 1 - rows % 12  # the last 12 classes: the tail and the last partial vector
    top = x.max(axis=1) + 1.0
    x[rows, t] = top
    for i in rows[rows % 4 > 0]:
        # 1-3 classes at or above the target, among the last 16 (its own vector, ties)
        near = rng.choice(np.setdiff1d(np.arange(c - 16, c), t[i]), i % 4, replace=False)
        x[i, near] = top[i] + np.array([0.0, 0.5, 0.0])[: i % 4]
        if i % 8 < 4:  # or the target tied with the j-th largest elsewhere in the row
            x[i, near] = x[i, 0]
            x[i, t[i]] = np.sort(x[i])[-1 - i % 4]
    x = x.astype(dtype)
    for topk in ((1, 5), (1, 2, 3)):
        assert_rows(x, t, dtype, topk)


@pytest.mark.parametrize("c", [1000, 4099])
def test_float32_sums_worst_case_drops(c, backend):
    """The float32 sums' bound (row_engine.hpp kWidenEvery, evaluate.hpp kEvalLaneTerms): the
    dominant term 1 first in a lane, every other term just below its half-ulp (e^-16.7 <
    2^-24), so each add onto that lane drops its term, and the accumulators are then added in
    float32 before one widening. Σ stays within 5.4e-7 relative: lse and the loss within the
    tolerance (the loss here is ~5.6e-5 or ~16.7). The dominant class sits at the start of a vector,
    of a step and of a flush block of either engine."""
    n = 12
    x = np.full((n, c), -16.7)
    pos = np.array([0, 8, 16, 32, 64, 128, 256, 384, 512, 768, 0, 256]) % c
    x[np.arange(n), pos] = 0.0
    x[-2:] += 50.0  # offset rows: the fold's shift is then not 0
    t = pos.copy()
    t[1::3] = (pos[1::3] + 1) % c  # a few rows whose target is one of the small terms
    x = x.astype(np.float32)
    rtol, atol = TOL[np.float32]
    assert_rows(x, t, np.float32)
    loss = reference.cross_entropy(x.astype(np.float64), t, reduction="none")
    np.testing.assert_allclose(
        fastloss.cross_entropy(x, t, reduction="none"), loss, rtol=rtol, atol=atol
    )
    np.testing.assert_allclose(
        fastloss.logsumexp(x, axis=-1),
        reference.logsumexp(x.astype(np.float64)),
        rtol=rtol,
        atol=atol,
    )


@pytest.mark.parametrize("c", [1000, 1003, 4099])
def test_float32_sums_worst_case_drops_in_skip_mode(c, backend):
    """As above, through the rows engine's skip mode (mean reduction; the tied target's count
    passes the largest k in the first step), which ends a row with its own last block (the
    rest after the first step of 4·L values and whole blocks of 16·L, L = 1, 4, 8 or 16) and
    its padded last vector: the dominant term where that block starts, in the padded vector,
    or where a whole block starts. One row per call: the mean is the row's value, checked at
    the per-row tolerance."""
    pos = [c - 1, c - 8, 8 * 16]
    for lanes in (1, 4, 8, 16):
        step, block = 4 * lanes, 16 * lanes
        pos.append(step + block * ((c - step) // block))  # the rest's first value
        pos.append(step + block)  # the second whole block's first value
    rtol, atol = TOL[np.float32]
    for p in sorted({q for q in pos if 0 < q < c}):
        x = np.full((1, c), -16.7)
        x[0, p] = 0.0
        for offset in (0.0, 50.0):
            xf = (x + offset).astype(np.float32)
            t = np.array([c - 2 if p != c - 2 else c - 3])  # rank >= 5 in the first step
            got = fastloss.evaluate(xf, t, topk=(1, 5))
            want = reference.classification_metrics(xf, t, topk=(1, 5))
            for key in ("cross_entropy", "entropy", "logsumexp"):
                np.testing.assert_allclose(
                    got[key], want[key], rtol=rtol, atol=atol, err_msg=f"{key} p={p}"
                )
