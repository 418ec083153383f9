"""FileArray: the constructor accepts exactly the shapes, offsets and file sizes that hold the
array; rows read back are the file's bytes; a file that shrinks later is reported."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastloss

DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.int8)]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shape=st.lists(st.integers(-3, 5), min_size=1, max_size=3).map(tuple),
    offset=st.integers(-4, 40),
    file_bytes=st.integers(0, 600),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_construction_and_reads(tmp_path, shape, offset, file_bytes, dtype, data):
    path = tmp_path / "a.bin"
    raw = (np.arange(file_bytes) % 251).astype(np.uint8)
    raw.tofile(path)
    needed = offset + math.prod(shape) * dtype.itemsize
    valid = min(shape) >= 0 and offset >= 0 and file_bytes >= needed
    if not valid:
        with pytest.raises(ValueError, match="FileArray: ") as info:
            fastloss.FileArray(path, dtype, shape, offset=offset)
        msg = str(info.value)
        if min(shape) < 0:
            assert f"dimension of shape must be >= 0; got {shape}" in msg
        elif offset < 0:
            assert f"offset must be >= 0; got {offset}" in msg
        else:
            assert f"holds {file_bytes} bytes" in msg and f"needs {needed}" in msg
        return
    fa = fastloss.FileArray(path, dtype, shape, offset=offset)
    assert fa.shape == shape and len(fa) == shape[0] and fa.nbytes == needed - offset
    # The array is the first bytes after the offset, as np.memmap reads them.
    whole = np.frombuffer(raw.tobytes()[offset:needed], dtype=dtype).reshape(shape)
    start = data.draw(st.integers(-shape[0] - 2, shape[0] + 2))
    stop = data.draw(st.integers(-shape[0] - 2, shape[0] + 2))
    np.testing.assert_array_equal(fa[start:stop], whole[start:stop])
    assert fa[start:stop].shape == whole[start:stop].shape
    if shape[0]:
        i = data.draw(st.integers(-shape[0], shape[0] - 1))
        np.testing.assert_array_equal(fa[i], whole[i])


def test_the_negative_dimension_of_the_report_is_refused(tmp_path):
    path = tmp_path / "x.f32"
    np.zeros(30, np.float32).tofile(path)
    with pytest.raises(ValueError, match=r"every dimension of shape must be >= 0; got \(2, -5\)"):
        fastloss.FileArray(path, np.float32, (2, -5))
    with pytest.raises(ValueError, match=r"every dimension of shape must be >= 0; got \(-1, 3\)"):
        fastloss.FileArray(path, np.float32, (-1, 3))


def test_larger_file_is_allowed_like_memmap(tmp_path):
    path = tmp_path / "x.f32"
    np.arange(12, dtype=np.float32).tofile(path)
    fa = fastloss.FileArray(path, np.float32, (2, 3), offset=8)
    np.testing.assert_array_equal(fa[:], np.memmap(path, np.float32, "r", offset=8, shape=(2, 3)))


def test_not_a_regular_file(tmp_path):
    with pytest.raises(ValueError, match="is not a regular file"):
        fastloss.FileArray(tmp_path, np.float32, (0,))
    with pytest.raises(FileNotFoundError):
        fastloss.FileArray(tmp_path / "missing", np.float32, (1,))


def test_bad_argument_types(tmp_path):
    path = tmp_path / "x.f32"
    np.zeros(4, np.float32).tofile(path)
    with pytest.raises(TypeError, match="FileArray: shape must be a tuple of integers"):
        fastloss.FileArray(path, np.float32, (2.0, 2))
    with pytest.raises(TypeError, match="FileArray: offset must be an integer"):
        fastloss.FileArray(path, np.float32, (2,), offset=1.5)
    with pytest.raises(TypeError, match="holds Python objects"):
        fastloss.FileArray(path, object, (2,))
    with pytest.raises(ValueError, match="shape must have at least one dimension"):
        fastloss.FileArray(path, np.float32, ())
    assert fastloss.FileArray(path, np.float32, 4).shape == (4,)  # an int, as np.memmap


def test_file_that_shrinks_is_reported(tmp_path):
    path = tmp_path / "x.f32"
    np.arange(30, dtype=np.float32).tofile(path)
    fa = fastloss.FileArray(path, np.float32, (10, 3))
    os.truncate(path, 4 * 3 * 4 + 4)  # 4 whole rows and one value left
    np.testing.assert_array_equal(fa[1:4], np.arange(3, 12, dtype=np.float32).reshape(3, 3))
    with pytest.raises(
        ValueError,
        match=r"x\.f32' now holds 52 bytes.*rows \[4, 7\) of the rows "
        r"\[2, 7\) asked for are missing",
    ):
        fa[2:7]
    with pytest.raises(ValueError, match=r"rows \[9, 10\)"):
        fa[9]
    os.truncate(path, 0)
    with pytest.raises(ValueError, match=r"now holds 0 bytes.*rows \[0, 10\)"):
        fa[:]


@pytest.mark.parametrize("dtype", ["<f4", ">f4", "<f8", "<i8", ">i8"])
@pytest.mark.parametrize("shape", [(0,), (5,), (7, 3), (4, 2, 3)])
def test_npy_file_reads_its_header(tmp_path, dtype, shape):
    path = tmp_path / "a.npy"
    a = (np.arange(math.prod(shape)) * 3 - 7).astype(dtype).reshape(shape)
    np.save(path, a)
    fa = fastloss.FileArray(path)
    assert (fa.dtype, fa.shape) == (a.dtype, a.shape)
    np.testing.assert_array_equal(fa[0 : len(a)], a)
    if len(a):
        np.testing.assert_array_equal(fa[len(a) - 1], a[-1])
    # The header's dtype and shape, given again, are accepted.
    assert fastloss.FileArray(path, dtype, shape).shape == shape


def test_npy_file_errors(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"holds float32 by its \.npy header; got dtype float64"):
        fastloss.FileArray(path, np.float64)
    with pytest.raises(
        ValueError, match=r"has shape \(4, 3\) by its \.npy header; got shape \(3, 4\)"
    ):
        fastloss.FileArray(path, shape=(3, 4))
    fortran = tmp_path / "f.npy"
    np.save(fortran, np.asfortranarray(np.zeros((4, 3), np.float32)))
    with pytest.raises(ValueError, match="Fortran order"):
        fastloss.FileArray(fortran)
    broken = tmp_path / "b.npy"
    broken.write_bytes(np.lib.format.MAGIC_PREFIX + b"\x01\x00\x10\x00{'descr': 'f4'    }\n")
    with pytest.raises(ValueError, match="header is not valid"):
        fastloss.FileArray(broken)
    raw = tmp_path / "a.bin"
    np.zeros(12, np.float32).tofile(raw)
    with pytest.raises(ValueError, match="has no .npy header; a raw file needs dtype and shape"):
        fastloss.FileArray(raw)


def test_npy_files_in_evaluate_chunked(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 7), dtype=np.float32)
    t = rng.integers(0, 7, 1000)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    ev = fastloss.evaluate_chunked(
        fastloss.Evaluator(),
        fastloss.FileArray(tmp_path / "x.npy"),
        fastloss.FileArray(tmp_path / "t.npy"),
        rows_per_chunk=300,
    )
    one = fastloss.Evaluator()
    one.update(x, t)
    assert ev.result() == one.result()


def test_progress_without_tqdm_prints_a_line(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    x = np.zeros((10, 3), np.float32)
    t = np.zeros(10, np.int64)
    fastloss.evaluate_chunked(fastloss.Evaluator(), x, t, rows_per_chunk=4, progress=True)
    err = capsys.readouterr().err
    assert err.endswith("evaluate_chunked: 10/10 rows\n")
    assert "evaluate_chunked: 4/10 rows" in err
