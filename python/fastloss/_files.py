"""FileArray: rows of a raw binary file or a .npy file, read on demand, for data larger than memory.

``np.memmap`` maps the whole file at once, which a process under an address-space cap
(``resource.setrlimit(RLIMIT_AS, ...)``) cannot do for a file larger than the cap. A
FileArray reads only the rows a slice asks for (``np.fromfile`` with an offset), so
``fastloss.evaluate_chunked`` holds one chunk in memory at a time, whatever the file's size.
"""

from __future__ import annotations

import ast
import math
import operator
import os
import stat
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, SupportsIndex

import numpy as np

from ._half import bfloat16_dtype, is_bfloat16

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

__all__ = ["FileArray"]


class FileArray:
    """A read-only, C-ordered array stored in a file, sliced along axis 0.

    Parameters
    ----------
    path : str or os.PathLike
        The file: raw, as written by ``ndarray.tofile``, or a ``.npy`` file as ``np.save``
        writes it (recognized by its header at the start of the file, with ``offset`` 0).
    dtype : dtype-like, optional
        The element type. Required for a raw file; for a ``.npy`` file, the header's, and
        a given one must equal it. ``"bfloat16"`` is ``ml_dtypes.bfloat16`` (fastloss's
        bfloat16 marker dtype without ml_dtypes); a ``.npy`` file that ``np.save`` wrote
        from an ``ml_dtypes.bfloat16`` array reads as that too.
    shape : tuple of int, optional
        Every dimension >= 0 (no -1: the shape is not inferred from the file's size).
        Required for a raw file; for a ``.npy`` file, the header's, and a given one must
        equal it.
    offset : int, default 0
        Bytes to skip at the start of the file (for a ``.npy`` file: its header's length).

    Raises
    ------
    ValueError
        A negative dimension or offset, a path that is not a regular file, a file smaller
        than ``offset + prod(shape) * itemsize`` bytes (a larger one is fine, as for
        ``np.memmap``), a raw file without ``dtype`` and ``shape``, a ``.npy`` file whose
        header disagrees with a given ``dtype`` or ``shape``, or one in Fortran order.
        Reading rows of a file that has shrunk since raises ValueError naming the file and
        the missing rows.
    FileNotFoundError
        No file at ``path``.

    Examples
    --------
    >>> import numpy as np, tempfile, os, fastloss
    >>> path = os.path.join(tempfile.mkdtemp(), "x.f32")
    >>> np.arange(6, dtype=np.float32).tofile(path)
    >>> rows = fastloss.FileArray(path, np.float32, (3, 2))
    >>> rows[1:3]
    array([[2., 3.],
           [4., 5.]], dtype=float32)
    >>> np.save(os.path.join(os.path.dirname(path), "x.npy"), np.arange(6.0).reshape(3, 2))
    >>> fastloss.FileArray(os.path.join(os.path.dirname(path), "x.npy"))[2]
    array([4., 5.])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dtype: DTypeLike | None = None,
        shape: int | Iterable[SupportsIndex] | None = None,
        *,
        offset: SupportsIndex = 0,
    ) -> None:
        fn = "FileArray"
        self.path = os.fspath(path)
        try:
            self.offset = operator.index(offset)
        except TypeError:
            raise TypeError(f"{fn}: offset must be an integer; got {offset!r}") from None
        st = os.stat(self.path)  # FileNotFoundError names the file
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{fn}: {self.path!r} is not a regular file")
        header = _npy_header(fn, self.path) if self.offset == 0 else None
        if header is not None:
            npy_shape, npy_dtype, self.offset = header
            dtype = npy_dtype if dtype is None else dtype
            shape = npy_shape if shape is None else shape
        elif dtype is None or shape is None:
            raise ValueError(
                f"{fn}: {self.path!r} has no .npy header; a raw file needs dtype and shape "
                f"(got dtype={dtype!r}, shape={shape!r})"
            )
        # np.dtype knows "bfloat16" only once ml_dtypes is imported, and never without it.
        named = isinstance(dtype, str) and dtype == "bfloat16"
        self.dtype = bfloat16_dtype() if named else np.dtype(dtype)
        if self.dtype.hasobject:
            raise TypeError(f"{fn}: dtype {self.dtype} holds Python objects; a file holds bytes")
        if self.dtype.itemsize == 0:
            raise ValueError(f"{fn}: dtype {self.dtype} has no size; give one, e.g. 'S8'")
        if isinstance(shape, int | np.integer):
            shape = (shape,)
        try:
            self.shape = tuple(operator.index(d) for d in shape)
        except TypeError:
            raise TypeError(f"{fn}: shape must be a tuple of integers; got {shape!r}") from None
        if header is not None and self.dtype != npy_dtype:
            raise ValueError(
                f"{fn}: {self.path!r} holds {npy_dtype} by its .npy header; got dtype {self.dtype}"
            )
        if header is not None and self.shape != npy_shape:
            raise ValueError(
                f"{fn}: {self.path!r} has shape {npy_shape} by its .npy header; "
                f"got shape {self.shape}"
            )
        if not self.shape:
            raise ValueError(f"{fn}: shape must have at least one dimension; got {self.shape}")
        # A negative dimension (-1 as in reshape) would make the size check pass on any file.
        if any(d < 0 for d in self.shape):
            raise ValueError(f"{fn}: every dimension of shape must be >= 0; got {self.shape}")
        if self.offset < 0:
            raise ValueError(f"{fn}: offset must be >= 0; got {self.offset}")
        # A larger file is fine (np.memmap allows it too): the array is its first bytes.
        needed = self.offset + self.nbytes
        if st.st_size < needed:
            raise ValueError(
                f"{fn}: {self.path!r} holds {st.st_size} bytes; shape {self.shape} of "
                f"{self.dtype} ({self.dtype.itemsize} bytes each) at offset {self.offset} "
                f"needs {needed}"
            )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: SupportsIndex | slice) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("FileArray: only contiguous row slices (step 1) are supported")
            rows = max(0, stop - start)
        else:
            start = operator.index(key)
            if start < 0:
                start += self.shape[0]
            if not 0 <= start < self.shape[0]:
                raise IndexError(f"FileArray: row {key} is outside [0, {self.shape[0]})")
            rows = 1
        row_items = math.prod(self.shape[1:])
        data = np.fromfile(
            self.path,
            dtype=self.dtype,
            count=rows * row_items,
            offset=self.offset + start * row_items * self.dtype.itemsize,
        )
        if data.size != rows * row_items:
            self._raise_shrunk(start, rows, data.size // row_items)
        data = data.reshape((rows, *self.shape[1:]))
        return data if isinstance(key, slice) else data[0]

    def _raise_shrunk(self, start: int, rows: int, got: int) -> None:
        """The file lost bytes since the constructor checked its size."""
        try:
            size = f"{os.path.getsize(self.path)} bytes"
        except OSError:
            size = "no bytes it can read"
        raise ValueError(
            f"FileArray: {self.path!r} now holds {size}, less than the {self.offset + self.nbytes} "
            f"that shape {self.shape} of {self.dtype} at offset {self.offset} needs: rows "
            f"[{start + got}, {start + rows}) of the rows [{start}, {start + rows}) asked for are "
            "missing (the file shrank after the FileArray was made)"
        )

    def __repr__(self) -> str:
        return f"FileArray({self.path!r}, {self.dtype}, {self.shape})"


def _npy_header(fn: str, path: str) -> tuple[tuple[int, ...], np.dtype, int] | None:
    """(shape, dtype, data offset) of a C-ordered .npy file; None when the file does not
    start with the .npy magic (a raw file). ValueError for a bad header or Fortran order."""
    magic = np.lib.format.MAGIC_PREFIX
    try:
        with open(path, "rb") as f:
            if f.read(len(magic)) != magic:
                return None
            f.seek(0)
            try:
                version = np.lib.format.read_magic(f)
                # np.load's own header parsers; version 3.0 differs from 2.0 only in allowing
                # UTF-8 field names.
                if version == (1, 0):
                    shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
            except Exception as e:  # noqa: BLE001 -- whatever np.load's parser raises on a bad header
                raise ValueError(
                    f"{fn}: {path!r} starts as a .npy file but its header is not valid: {e}"
                ) from None
            if fortran_order:
                raise ValueError(
                    f"{fn}: {path!r} is a .npy file in Fortran order; its rows are not "
                    "contiguous (save it C-ordered, or pass np.load(path, mmap_mode='r') to "
                    "evaluate_chunked)"
                )
            offset = f.tell()
            if dtype.kind == "V" and dtype.itemsize == 2 and dtype.names is None:
                dtype = _npy_void2(f, version, dtype)
            return tuple(shape), dtype, offset
    except OSError:
        return None  # unreadable: the size check or the reads report it


# The descr np.save writes for an ml_dtypes.bfloat16 array: the only 2-byte ml_dtypes type,
# with a byte order where a plain 2-byte void has none ('|V2').
_BFLOAT16_DESCR = ("<" if sys.byteorder == "little" else ">") + "V2"


def _npy_void2(f, version: tuple[int, int], dtype: np.dtype) -> np.dtype:
    """A .npy file's 2-byte void dtype: bfloat16 when the header's descr is the one np.save
    writes for bfloat16 (np.lib.format's parsers drop the byte order that tells), else as
    it is."""
    f.seek(len(np.lib.format.MAGIC_PREFIX) + 2)
    size = int.from_bytes(f.read(2 if version == (1, 0) else 4), "little")
    try:
        descr = ast.literal_eval(f.read(size).decode("latin1"))["descr"]
    except (ValueError, SyntaxError, KeyError, TypeError):
        return dtype
    return bfloat16_dtype() if descr == _BFLOAT16_DESCR else dtype


def bfloat16_memmap(a: object) -> object:
    """``a`` viewed as bfloat16 if it is a memmap of a .npy file of bfloat16 that np.load
    read as 2-byte voids (it knows no bfloat16), else ``a``; a view, nothing read."""
    if not (
        isinstance(a, np.memmap)
        and a.dtype.kind == "V"
        and a.dtype.itemsize == 2
        and a.dtype.names is None
        and isinstance(a.filename, str | os.PathLike)  # None for a map of a file object
    ):
        return a
    header = _npy_header("evaluate_chunked", os.fspath(a.filename))
    if header is None or not is_bfloat16(header[1]):
        return a
    return a.view(header[1])
