"""FileArray: rows of a raw binary file, read on demand, for data larger than memory.

``np.memmap`` maps the whole file at once, which a process under an address-space cap
(``resource.setrlimit(RLIMIT_AS, ...)``) cannot do for a file larger than the cap. A
FileArray reads only the rows a slice asks for (``np.fromfile`` with an offset), so
``fastloss.evaluate_chunked`` holds one chunk in memory at a time, whatever the file's size.
"""

from __future__ import annotations

import math
import operator
import os
import stat
from collections.abc import Iterable
from typing import TYPE_CHECKING, SupportsIndex

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import DTypeLike

__all__ = ["FileArray"]


class FileArray:
    """A read-only, C-ordered array stored raw in a file, sliced along axis 0.

    Parameters
    ----------
    path : str or os.PathLike
        The file, as written by ``ndarray.tofile`` (no header).
    dtype : dtype-like
    shape : tuple of int
        Every dimension >= 0 (no -1: the shape is not inferred from the file's size).
    offset : int, default 0
        Bytes to skip at the start of the file.

    Raises
    ------
    ValueError
        A negative dimension or offset, a path that is not a regular file, or a file smaller
        than ``offset + prod(shape) * itemsize`` bytes (a larger one is fine, as for
        ``np.memmap``). Reading rows of a file that has shrunk since raises ValueError
        naming the file and the missing rows.
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
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dtype: DTypeLike,
        shape: int | Iterable[SupportsIndex],
        *,
        offset: SupportsIndex = 0,
    ) -> None:
        fn = "FileArray"
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
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
        try:
            self.offset = operator.index(offset)
        except TypeError:
            raise TypeError(f"{fn}: offset must be an integer; got {offset!r}") from None
        if not self.shape:
            raise ValueError(f"{fn}: shape must have at least one dimension; got {self.shape}")
        # A negative dimension (-1 as in reshape) would make the size check pass on any file.
        if any(d < 0 for d in self.shape):
            raise ValueError(f"{fn}: every dimension of shape must be >= 0; got {self.shape}")
        if self.offset < 0:
            raise ValueError(f"{fn}: offset must be >= 0; got {self.offset}")
        st = os.stat(self.path)  # FileNotFoundError names the file
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{fn}: {self.path!r} is not a regular file")
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
