// A DLPack reader for the dtypes NumPy cannot import (bfloat16): any object with __dlpack__
// on the host becomes an ndarray viewing its memory.
#pragma once

struct _object;  // CPython's PyObject, declared so that this header compiles without Python.h

namespace fastloss {

// obj.__dlpack__() as an ndarray over the same memory, with dtype bf16_dtype for bfloat16 and
// the matching NumPy dtype for other int/uint/float/complex/bool data. The array keeps the
// producer's tensor alive and releases it (its DLPack deleter) when it dies; it is read-only
// when the producer marks the tensor so. Returns a new reference, or null with the Python
// error set: TypeError for another dtype, ValueError for memory that is not on the host (CPU
// or CUDA host-pinned). Called with the GIL held.
_object* from_dlpack(_object* obj, _object* bf16_dtype);

}  // namespace fastloss
