// The Python module fastloss._core: NumPy arrays in, pointers out, the GIL released around
// every kernel. The Python layer (python/fastloss/_losses.py) settles dtypes, shapes and
// contiguity first; the checks here only guard against a caller that skipped it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "dispatch.hpp"

namespace py = pybind11;
using fastloss::active;

namespace {

enum class DType { kF32, kF64 };

int type_num(const py::array& a) { return py::detail::array_descriptor_proxy(py::detail::array_proxy(a.ptr())->descr)->type_num; }

// The dtype of a C-contiguous float array, or a TypeError.
DType float_dtype(const py::array& a, const char* what) {
  if (!(a.flags() & py::array::c_style)) throw py::type_error(std::string("_core: ") + what + " must be C-contiguous");
  switch (type_num(a)) {
    case py::detail::npy_api::NPY_FLOAT_: return DType::kF32;
    case py::detail::npy_api::NPY_DOUBLE_: return DType::kF64;
    default: throw py::type_error(std::string("_core: ") + what + " must be float32 or float64");
  }
}

void require_same(const py::array& a, const py::array& b, DType da, const char* what) {
  if (float_dtype(b, what) != da || b.size() != a.size())
    throw py::type_error(std::string("_core: ") + what + " must match the first array in dtype and size");
}

double regression(const py::array& input, const py::array& target, const py::object& out, int kind,
                  double param, int n_threads) {
  const DType dt = float_dtype(input, "input");
  require_same(input, target, dt, "target");
  void* out_ptr = nullptr;
  if (!out.is_none()) {
    py::array out_arr = out.cast<py::array>();
    require_same(input, out_arr, dt, "out");
    out_ptr = out_arr.mutable_data();
  }
  const fastloss::RegressionArgs args{input.data(), target.data(), out_ptr, input.size(),
                                      static_cast<fastloss::RegressionKind>(kind), param, n_threads};
  py::gil_scoped_release release;
  return dt == DType::kF32 ? active().regression_f32(args) : active().regression_f64(args);
}

double probe_read(const py::list& arrays, int n_threads) {
  double total = 0.0;
  for (const py::handle& h : arrays) {
    const py::array a = py::reinterpret_borrow<py::array>(h);
    const DType dt = float_dtype(a, "array");
    const fastloss::ProbeReadArgs args{a.data(), a.size(), n_threads};
    py::gil_scoped_release release;
    total += dt == DType::kF32 ? active().probe_read_f32(args) : active().probe_read_f64(args);
  }
  return total;
}

void probe_copy(const py::array& src, py::array& dst, int n_threads) {
  const DType dt = float_dtype(src, "src");
  require_same(src, dst, dt, "dst");
  const fastloss::ProbeCopyArgs args{src.data(), dst.mutable_data(), src.size(), n_threads};
  py::gil_scoped_release release;
  dt == DType::kF32 ? active().probe_copy_f32(args) : active().probe_copy_f64(args);
}

double probe_exp(std::int64_t n, int n_threads) {
  const fastloss::ProbeExpArgs args{n, n_threads};
  py::gil_scoped_release release;
  return active().probe_exp_f32(args);
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastloss compiled core: SIMD kernels chosen at import (see fastloss.simd_backend())";
  m.attr("__version__") = FASTLOSS_VERSION;
#ifdef FASTLOSS_OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
  m.attr("compiler") = compiler();

  const std::string warning = fastloss::init_dispatch(std::getenv("FASTLOSS_SIMD"));
  if (!warning.empty() && PyErr_WarnEx(PyExc_RuntimeWarning, warning.c_str(), 1) != 0) throw py::error_already_set();

  m.def("simd_backend", [] { return std::string(active().isa); }, "The instruction set the kernels run on.");
  m.def("compiled_backends", &fastloss::compiled_backends, "Instruction sets built into this module, best first.");
  m.def("supported_backends", &fastloss::supported_backends, "Compiled instruction sets this CPU runs, best first.");
  m.def("_set_backend", [](const std::string& name) {
    if (!fastloss::set_backend(name)) throw py::value_error("_set_backend: '" + name + "' is not supported here");
  }, "Switch the instruction set (tests visit every path with it).");

  m.def("regression", &regression, py::arg("input"), py::arg("target"), py::arg("out"), py::arg("kind"),
        py::arg("param"), py::arg("n_threads"));

  m.def("_noop", [] {}, "An empty call: the baseline of the per-call overhead.");
  m.def("_probe_read", &probe_read, py::arg("arrays"), py::arg("n_threads"));
  m.def("_probe_copy", &probe_copy, py::arg("src"), py::arg("dst"), py::arg("n_threads"));
  m.def("_probe_exp", &probe_exp, py::arg("n"), py::arg("n_threads"));
}
