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

import numpy as np

__all__ = ["FileArray"]


class FileArray:
    """A read-only, C-ordered array stored raw in a file, sliced along axis 0.

    Parameters
    ----------
    path : str or os.PathLike
        The file, as written by ``ndarray.tofile`` (no header).
    dtype : dtype-like
    shape : tuple of int
    offset : int, default 0
        Bytes to skip at the start of the file.

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

    def __init__(self, path, dtype, shape, *, offset: int = 0) -> None:
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(operator.index(d) for d in shape)
        self.offset = operator.index(offset)
        if not self.shape:
            raise ValueError("FileArray: shape must have at least one dimension")
        needed = self.offset + self.nbytes
        size = os.path.getsize(self.path)
        if size < needed:
            raise ValueError(f"FileArray: {self.path} holds {size} bytes; shape {self.shape} of "
                             f"{self.dtype} at offset {self.offset} needs {needed}")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
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
        data = np.fromfile(self.path, dtype=self.dtype, count=rows * row_items,
                           offset=self.offset + start * row_items * self.dtype.itemsize)
        data = data.reshape((rows, *self.shape[1:]))
        return data if isinstance(key, slice) else data[0]

    def __repr__(self) -> str:
        return f"FileArray({self.path!r}, {self.dtype}, {self.shape})"
