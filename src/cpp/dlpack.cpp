// The DLPack reader (dlpack.hpp). The struct definitions follow the public DLPack ABI
// (dlpack.h, v0.8 for the "dltensor" capsule, v1.x for "dltensor_versioned"); only what a
// reader needs is written here, so fastloss does not depend on the header.
#include "dlpack.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <new>
#include <string>
#include <vector>

namespace py = pybind11;

namespace fastloss {
namespace {

struct DLDevice {
  std::int32_t device_type;  // a C enum: int-sized on every ABI fastloss builds for
  std::int32_t device_id;
};
struct DLDataType {
  std::uint8_t code;
  std::uint8_t bits;
  std::uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  std::int32_t ndim;
  DLDataType dtype;
  std::int64_t* shape;
  std::int64_t* strides;  // in elements; null: C-contiguous
  std::uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};
struct DLPackVersion {
  std::uint32_t major;
  std::uint32_t minor;
};
struct DLManagedTensorVersioned {
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned* self);
  std::uint64_t flags;
  DLTensor dl_tensor;
};

constexpr std::uint64_t kFlagReadOnly = 1;
constexpr std::int32_t kDLCPU = 1;
constexpr std::int32_t kDLCUDAHost = 3;  // host memory pinned by CUDA: readable in place
enum : std::uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLComplex = 5, kDLBool = 6 };

std::string device_name(std::int32_t type) {
  switch (type) {
    case 2: return "cuda";
    case 4: return "opencl";
    case 7: return "vulkan";
    case 8: return "metal";
    case 9: return "vpi";
    case 10: return "rocm";
    case 11: return "rocm_host";
    case 13: return "cuda_managed";
    case 14: return "oneapi";
    case 15: return "webgpu";
    case 16: return "hexagon";
    default: return "DLPack device type " + std::to_string(type);
  }
}

const char* code_name(std::uint8_t code) {
  switch (code) {
    case kDLInt: return "int";
    case kDLUInt: return "uint";
    case kDLFloat: return "float";
    case 3: return "opaque handle";
    case kDLBfloat: return "bfloat";
    case kDLComplex: return "complex";
    case kDLBool: return "bool";
    default: return "float8/float6/float4 or newer";
  }
}

// The name for 8, 16, 32 or 64 bits (null: none).
const char* by_bits(std::uint8_t bits, const char* b8, const char* b16, const char* b32, const char* b64) {
  switch (bits) {
    case 8: return b8;
    case 16: return b16;
    case 32: return b32;
    case 64: return b64;
    default: return nullptr;
  }
}

// The NumPy dtype of a DLPack element type, or a TypeError naming it.
py::dtype numpy_dtype(const DLDataType& t, const py::object& bf16_dtype) {
  const char* name = nullptr;
  if (t.lanes == 1) {
    switch (t.code) {
      case kDLBfloat:
        if (t.bits == 16) {
          py::dtype dt = py::dtype::from_args(bf16_dtype);
          if (dt.itemsize() != 2)
            throw py::value_error("_from_dlpack: bf16_dtype must be a 2-byte dtype; got " + std::string(py::str(dt)));
          return dt;
        }
        break;
      case kDLFloat: name = by_bits(t.bits, nullptr, "float16", "float32", "float64"); break;
      case kDLInt: name = by_bits(t.bits, "int8", "int16", "int32", "int64"); break;
      case kDLUInt: name = by_bits(t.bits, "uint8", "uint16", "uint32", "uint64"); break;
      case kDLComplex: name = t.bits == 64 ? "complex64" : t.bits == 128 ? "complex128" : nullptr; break;
      case kDLBool: name = t.bits == 8 ? "bool" : nullptr; break;
      default: break;
    }
  }
  if (name == nullptr)
    throw py::type_error("_from_dlpack: DLPack dtype code " + std::to_string(t.code) + " (" + code_name(t.code) +
                         "), bits " + std::to_string(t.bits) + ", lanes " + std::to_string(t.lanes) +
                         " is not supported");
  return py::dtype::from_args(py::str(name));
}

void release_legacy(void* p) {
  auto* m = static_cast<DLManagedTensor*>(p);
  if (m->deleter != nullptr) m->deleter(m);
}
void release_versioned(void* p) {
  auto* m = static_cast<DLManagedTensorVersioned*>(p);
  if (m->deleter != nullptr) m->deleter(m);
}

py::object read_dlpack(const py::object& obj, const py::object& bf16_dtype) {
  py::object capsule;
  // Ask for a versioned capsule (it carries the read-only flag); a producer older than
  // DLPack 1.0 does not know max_version and raises TypeError: then the legacy capsule.
  try {
    capsule = obj.attr("__dlpack__")(py::arg("stream") = py::none(), py::arg("max_version") = py::make_tuple(1, 0));
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    capsule = obj.attr("__dlpack__")(py::arg("stream") = py::none());
  }
  PyObject* cap = capsule.ptr();
  const bool versioned = PyCapsule_IsValid(cap, "dltensor_versioned") != 0;
  if (!versioned && PyCapsule_IsValid(cap, "dltensor") == 0)
    throw py::type_error("_from_dlpack: __dlpack__ did not return an unused DLPack capsule");
  void* managed = PyCapsule_GetPointer(cap, versioned ? "dltensor_versioned" : "dltensor");
  if (managed == nullptr) throw py::error_already_set();
  const DLTensor* t;
  bool read_only = false;
  if (versioned) {
    const auto* m = static_cast<const DLManagedTensorVersioned*>(managed);
    if (m->version.major != 1)
      throw py::buffer_error("_from_dlpack: DLPack version " + std::to_string(m->version.major) + "." +
                             std::to_string(m->version.minor) + " is not supported (1.x is)");
    t = &m->dl_tensor;
    read_only = (m->flags & kFlagReadOnly) != 0;
  } else {
    t = &static_cast<const DLManagedTensor*>(managed)->dl_tensor;
  }
  // Every check before the capsule is taken: on an error its own destructor frees the tensor.
  if (t->device.device_type != kDLCPU && t->device.device_type != kDLCUDAHost)
    throw py::value_error("_from_dlpack: the tensor is on the " + device_name(t->device.device_type) +
                          " device; fastloss reads host memory: move it to the CPU first");
  const py::dtype dt = numpy_dtype(t->dtype, bf16_dtype);
  const py::ssize_t itemsize = dt.itemsize();
  if (t->ndim < 0 || (t->ndim > 0 && t->shape == nullptr))
    throw py::value_error("_from_dlpack: the tensor has no valid shape (ndim " + std::to_string(t->ndim) + ")");
  std::vector<py::ssize_t> shape(t->ndim), strides(t->ndim);
  py::ssize_t contiguous = itemsize, size = 1;
  for (std::int32_t d = t->ndim - 1; d >= 0; --d) {
    if (t->shape[d] < 0)
      throw py::value_error("_from_dlpack: the tensor has a negative dimension " + std::to_string(t->shape[d]));
    shape[d] = static_cast<py::ssize_t>(t->shape[d]);
    strides[d] = t->strides != nullptr ? static_cast<py::ssize_t>(t->strides[d]) * itemsize : contiguous;
    contiguous *= shape[d];
    size *= shape[d];
  }
  if (t->data == nullptr && size != 0) throw py::value_error("_from_dlpack: the tensor has elements but no data");
  void* data = t->data == nullptr ? nullptr : static_cast<char*>(t->data) + t->byte_offset;

  // Take the tensor over: the protocol's rename tells the producer's capsule destructor to leave
  // it alone; from now on `owner` (the array's base) calls its deleter, once.
  if (PyCapsule_SetName(cap, versioned ? "used_dltensor_versioned" : "used_dltensor") != 0)
    throw py::error_already_set();
  py::capsule owner;
  try {
    owner = py::capsule(managed, versioned ? release_versioned : release_legacy);
  } catch (...) {
    (versioned ? release_versioned : release_legacy)(managed);
    throw;
  }
  if (data == nullptr) return py::array(dt, shape);  // empty, without data: owner frees it here
  py::array arr(dt, shape, strides, data, owner);
  if (read_only) py::detail::array_proxy(arr.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return arr;
}

}  // namespace

PyObject* from_dlpack(PyObject* obj, PyObject* bf16_dtype) {
  try {
    return read_dlpack(py::reinterpret_borrow<py::object>(obj), py::reinterpret_borrow<py::object>(bf16_dtype))
        .release()
        .ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  }
  return nullptr;
}

}  // namespace fastloss
