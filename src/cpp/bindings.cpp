// The Python module fastloss._core: NumPy arrays in, pointers out, the GIL released around
// every kernel over more than a few thousand elements (ReleaseGil).
//
// The protocol, the same for every entry:
// - One entry per operation, called once per public call. An array is ready when a kernel
//   can read it in place: an ndarray, C-contiguous, aligned, in native byte order, float32,
//   float64, float16 or bfloat16 (class indices: int32 or int64), of the shapes the operation
//   needs. bfloat16 is ml_dtypes' NumPy dtype, or, without ml_dtypes, fastloss's own mark on
//   uint16 (fastloss/_half.py); the half types compute in float32, so their weights (class,
//   BCE and sample weights) are float32 and their "mean"/"sum" results np.float32.
// - The entries with a fast path (regression, softmax, cross_entropy, nll_loss) take the
//   caller's arguments as given and return None, before any work, when an array is not
//   ready or an option is not a plain value in range: None is the one "not handled here".
//   The Python layer then checks and converts the arguments (raising with the public
//   message) and calls the same entry with ready ones. So the common call is one binding
//   call and no Python-level checks: the 2 µs per-call budget.
// - The other entries are called with prepared arrays; one that is not ready is read
//   through one converted copy (readable).
// - reduction is the Reduction enum: NONE gives the per-element (per-row) array, MEAN and
//   SUM the NumPy scalar of the input dtype (float32 for the half types), rounded once from
//   the float64 sum (the mean of nothing is NaN, as torch).
// - A class index out of range comes back as a Python int, the first bad flat row, in place
//   of the result; the Python layer raises the IndexError.
// - The enums and constants the Python layer passes or needs are attributes of the module.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "dlpack.hpp"
#include "stats.hpp"
#include "threads.hpp"

namespace py = pybind11;
using fastloss::active;

namespace {

// The storage types of the kernel entries (kernels/list.hpp: _f32, _f64, _bf16, _f16).
enum class DType { kF32, kF64, kBF16, kF16 };

bool is_half(DType dt) { return dt == DType::kBF16 || dt == DType::kF16; }
// The type a kernel computes in: the type of the weights that are not data.
DType compute_dtype(DType dt) { return is_half(dt) ? DType::kF32 : dt; }

// The entry `name` of the active table for storage type dt.
#define FASTLOSS_KERNEL(name, dt)                \
  ((dt) == DType::kF32    ? active().name##_f32  \
   : (dt) == DType::kF64  ? active().name##_f64  \
   : (dt) == DType::kBF16 ? active().name##_bf16 \
                          : active().name##_f16)

// Releases the GIL for the scope when the kernel reads at least kReleaseGilFrom elements.
// Around a small call the release and re-acquire (two mutex round trips, ~400 instructions)
// cost more than the call's own work and let no other thread do anything useful meanwhile:
// the 2 µs per-call budget. NumPy's ufuncs keep the GIL below a size too.
constexpr std::int64_t kReleaseGilFrom = std::int64_t{1} << 14;
class ReleaseGil {
 public:
  explicit ReleaseGil(std::int64_t n_elements) {
    if (n_elements >= kReleaseGilFrom) release_.emplace();
  }

 private:
  std::optional<py::gil_scoped_release> release_;
};

int type_num(const py::array& a) {
  return py::detail::array_descriptor_proxy(py::detail::array_proxy(a.ptr())->descr)->type_num;
}

// The byte order NumPy marks as swapped here ('=' and '|' are native).
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr char kSwappedOrder = '<';
#else
constexpr char kSwappedOrder = '>';
#endif
constexpr int kInPlaceFlags = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ | py::detail::npy_api::NPY_ARRAY_ALIGNED_;

// What a kernel can read in place: C-contiguous, aligned and in native byte order. Kernels load
// whole elements (and vectors) and never swap bytes, so anything else is converted first. One
// flags test and one byte compare: the fast paths take it on every call.
bool in_place(const py::array& a) {
  const auto* proxy = py::detail::array_proxy(a.ptr());
  return (proxy->flags & kInPlaceFlags) == kInPlaceFlags &&
         py::detail::array_descriptor_proxy(proxy->descr)->byteorder != kSwappedOrder;
}

// a itself when a kernel can read it in place, else its one converted copy: same type, native
// byte order, C-contiguous and aligned.
py::array readable(const py::array& a) {
  if (in_place(a)) return a;
  auto& api = py::detail::npy_api::get();
  PyObject* descr = py::dtype(type_num(a)).release().ptr();  // native byte order; FromAny steals it
  PyObject* copy = api.PyArray_FromAny_(a.ptr(), descr, 0, 0,
                                        kInPlaceFlags | py::detail::npy_api::NPY_ARRAY_ENSUREARRAY_, nullptr);
  if (copy == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::array>(copy);
}

constexpr int kNpyHalf = 23;      // NumPy's NPY_HALF (float16)
constexpr int kNpyUserDef = 256;  // NPY_USERDEF: the first dtype number of a registered type

// ml_dtypes' bfloat16 dtype number once seen (-1 before): a registered type keeps its number
// for the life of the process, so later calls skip the lookup of its name (a small bfloat16
// call took 0.53 µs with it, 0.17 µs without). Read and written with the GIL held.
int bf16_type_num = -1;

// A's dtype as a half type, if it is one: float16, or bfloat16 (ml_dtypes' registered type
// named bfloat16, or uint16 marked {"fastloss": "bfloat16"} in its dtype's metadata). Only
// arrays of another type than float32/float64 come here.
bool half_dtype(const py::array& a, int num, DType* dt) {
  if (num == kNpyHalf || num == bf16_type_num) {
    *dt = num == kNpyHalf ? DType::kF16 : DType::kBF16;
    return true;
  }
  if (a.itemsize() != 2 || (num < kNpyUserDef && num != py::detail::npy_api::NPY_USHORT_)) return false;
  const py::dtype d = a.dtype();
  bool bf16;
  if (num >= kNpyUserDef) {
    bf16 = py::str(d.attr("type").attr("__name__")).cast<std::string>() == "bfloat16";
    if (bf16) bf16_type_num = num;
  } else {
    const py::object md = d.attr("metadata");  // None, or a read-only mapping
    bf16 = !md.is_none() && py::str(md.attr("get")("fastloss", "")).cast<std::string>() == "bfloat16";
  }
  if (bf16) *dt = DType::kBF16;
  return bf16;
}

// The storage type of a float array's dtype, if it has one.
bool known_dtype(const py::array& a, DType* dt) {
  switch (const int num = type_num(a)) {
    case py::detail::npy_api::NPY_FLOAT_: *dt = DType::kF32; return true;
    case py::detail::npy_api::NPY_DOUBLE_: *dt = DType::kF64; return true;
    default: return half_dtype(a, num, dt);
  }
}

// The dtype of a float array a kernel reads in place (see readable), or a TypeError.
DType float_dtype(const py::array& a, const char* what) {
  if (!in_place(a))
    throw py::type_error(std::string("_core: ") + what + " must be C-contiguous, aligned and in native byte order");
  DType dt;
  if (!known_dtype(a, &dt))
    throw py::type_error(std::string("_core: ") + what + " must be float32, float64, float16 or bfloat16");
  return dt;
}

// float32 or float64 only (the probes and the math library have no half entries).
DType single_or_double(const py::array& a, const char* what) {
  const DType dt = float_dtype(a, what);
  if (is_half(dt)) throw py::type_error(std::string("_core: ") + what + " must be float32 or float64");
  return dt;
}

// An input array: converted in place of the caller's handle when needed (readable), then its dtype.
DType float_input(py::array& a, const char* what) {
  a = readable(a);
  return float_dtype(a, what);
}

void require_same(const py::array& a, const py::array& b, DType da, const char* what) {
  if (float_dtype(b, what) != da || b.size() != a.size())
    throw py::type_error(std::string("_core: ") + what + " must match the first array in dtype and size");
}

// An input that must match the first array in dtype and size, converted when needed.
void same_input(const py::array& a, py::array& b, DType da, const char* what) {
  b = readable(b);
  require_same(a, b, da, what);
}

// A float array of the type dt (the compute type's for weights), converted when needed.
void weight_input(py::array& w, DType dt, const char* what) {
  if (float_input(w, what) != dt)
    throw py::type_error(std::string("_core: ") + what +
                         " must be of the kernel's compute type (float32 for half inputs)");
}

// An output array: written in place, so it must be one a kernel can write (the Python layer
// passes only such arrays).
void* out_data(const py::object& out, const py::array& like, DType dt) {
  if (out.is_none()) return nullptr;
  py::array arr = out.cast<py::array>();
  require_same(like, arr, dt, "out");
  return arr.mutable_data();
}

// The public "mean" / "sum" result: a NumPy scalar of the input dtype, rounded once from float64
// (py::make_scalar, pybind11 >= 3: no Python-level np.float32(x), the 2 µs per-call budget).
py::object finished_scalar(double v, DType dt) {
  if (dt == DType::kF64) return py::cast(py::make_scalar(v));
  return py::cast(py::make_scalar(static_cast<float>(v)));
}

// An ndarray a kernel can read in place (see in_place) of a storage type (its dtype in *dt).
bool in_place_float(py::handle h, DType* dt) {
  if (!py::isinstance<py::array>(h)) return false;
  const auto a = py::reinterpret_borrow<py::array>(h);
  return in_place(a) && known_dtype(a, dt);
}

// A new C-contiguous array of the shape and the type dt of `like` (its dtype object for the
// half types, so that bfloat16 stays ml_dtypes' or fastloss's marked one).
py::array new_array(DType dt, const std::vector<py::ssize_t>& dims, const py::array& like) {
  switch (dt) {
    case DType::kF32: return py::array_t<float>(dims);
    case DType::kF64: return py::array_t<double>(dims);
    default: return py::array(like.dtype(), dims);
  }
}

// The public result of a reduction: out for NONE, else the scalar of the sum or the mean over count.
py::object reduced(const py::object& out, double sum, double count, fastloss::Reduction reduction, DType dt) {
  switch (reduction) {
    case fastloss::Reduction::kNone: return out;
    case fastloss::Reduction::kSum: return finished_scalar(sum, dt);
    case fastloss::Reduction::kMean: return finished_scalar(sum / count, dt);  // 0/0: NaN
  }
  throw py::value_error("_core: bad reduction");
}

// An array of the shape of a, or of a without axis `drop` (-1: none).
std::vector<py::ssize_t> shape_of(const py::array& a, std::int64_t drop = -1) {
  std::vector<py::ssize_t> dims;
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (d != drop) dims.push_back(a.shape(d));
  return dims;
}

// Whether b has a's shape without axis `drop` (-1: a's shape).
bool shape_matches(const py::array& a, const py::array& b, std::int64_t drop = -1) {
  if (b.ndim() != a.ndim() - (drop >= 0 ? 1 : 0)) return false;
  for (py::ssize_t d = 0, e = 0; d < a.ndim(); ++d)
    if (d != drop && a.shape(d) != b.shape(e++)) return false;
  return true;
}

// mse / l1 / huber / smooth_l1 (param: huber's delta, smooth_l1's beta). Ready: input and
// target of one float dtype and shape.
py::object regression(py::handle input_h, py::handle target_h, fastloss::RegressionKind kind, double param,
                      fastloss::Reduction reduction) {
  DType dt, dt_target;
  if (!in_place_float(input_h, &dt) || !in_place_float(target_h, &dt_target) || dt != dt_target) return py::none();
  const auto input = py::reinterpret_borrow<py::array>(input_h);
  const auto target = py::reinterpret_borrow<py::array>(target_h);
  if (!shape_matches(input, target)) return py::none();
  py::object out = py::none();
  if (reduction == fastloss::Reduction::kNone) out = new_array(dt, shape_of(input), input);
  const fastloss::RegressionArgs args{input.data(),
                                      target.data(),
                                      out.is_none() ? nullptr : py::reinterpret_borrow<py::array>(out).mutable_data(),
                                      input.size(),
                                      kind,
                                      param,
                                      fastloss::call_threads()};
  double total;
  {
    ReleaseGil release(input.size());
    total = FASTLOSS_KERNEL(regression, dt)(args);
  }
  return reduced(out, total, static_cast<double>(input.size()), reduction, dt);
}

// A weight for kernels/binary.hpp: null, or a tile of `period` (see PeriodicWeight, args.hpp).
// w becomes the array read (a converted copy when needed), so the caller keeps it alive.
fastloss::PeriodicWeight periodic_weight(py::object& w, std::int64_t period, DType dt, std::int64_t n,
                                         const char* what) {
  if (w.is_none()) return {nullptr, 1};
  py::array arr = w.cast<py::array>();
  weight_input(arr, compute_dtype(dt), what);
  const bool whole = period == n && arr.size() >= n;
  const bool tile = period >= fastloss::kWeightTilePad && arr.size() >= period + fastloss::kWeightTilePad;
  if (!whole && !tile) throw py::value_error(std::string("_core: ") + what + " is not a valid periodic tile");
  w = arr;
  return {arr.data(), period};
}

std::pair<double, std::int64_t> bce(py::array input, py::array target, py::object weight, std::int64_t weight_period,
                                    const py::object& out) {
  const DType dt = float_input(input, "input");
  same_input(input, target, dt, "target");
  const fastloss::BceArgs args{input.data(),
                               target.data(),
                               periodic_weight(weight, weight_period, dt, input.size(), "weight"),
                               out_data(out, input, dt),
                               input.size(),
                               fastloss::call_threads()};
  ReleaseGil release(input.size());
  const fastloss::BceResult r = FASTLOSS_KERNEL(bce, dt)(args);
  return {r.sum, r.first_bad};
}

double bce_with_logits(py::array input, py::array target, py::object weight, std::int64_t weight_period,
                       py::object pos_weight, std::int64_t pos_weight_period, const py::object& out) {
  const DType dt = float_input(input, "input");
  same_input(input, target, dt, "target");
  const fastloss::BceWithLogitsArgs args{input.data(),
                                         target.data(),
                                         periodic_weight(weight, weight_period, dt, input.size(), "weight"),
                                         periodic_weight(pos_weight, pos_weight_period, dt, input.size(), "pos_weight"),
                                         out_data(out, input, dt),
                                         input.size(),
                                         fastloss::call_threads()};
  ReleaseGil release(input.size());
  return FASTLOSS_KERNEL(bce_with_logits, dt)(args);
}

double kl_div(py::array input, py::array target, const py::object& out, bool log_target) {
  const DType dt = float_input(input, "input");
  same_input(input, target, dt, "target");
  const fastloss::KlDivArgs args{input.data(), target.data(), out_data(out, input, dt),
                                 input.size(), log_target,    fastloss::call_threads()};
  ReleaseGil release(input.size());
  return FASTLOSS_KERNEL(kl_div, dt)(args);
}

void entropy(py::array p, py::array& out, std::int64_t n_outer, std::int64_t n_classes, std::int64_t n_inner) {
  const DType dt = float_input(p, "p");
  if (float_dtype(out, "out") != dt) throw py::type_error("_core: out must match the dtype of p");
  if (n_outer < 0 || n_classes < 0 || n_inner < 0 || p.size() != n_outer * n_classes * n_inner ||
      out.size() != n_outer * n_inner)
    throw py::value_error("_core: entropy shape does not match the arrays");
  const fastloss::EntropyArgs args{p.data(), out.mutable_data(), n_outer, n_classes, n_inner, fastloss::call_threads()};
  ReleaseGil release(p.size());
  FASTLOSS_KERNEL(entropy, dt)(args);
}

// RegressionStats <-> a tuple of floats in the order of the struct, for the Python evaluator.
py::tuple stats_to_tuple(const fastloss::RegressionStats& s) {
  return py::make_tuple(s.count, s.weight_sum, s.sq_sum, s.abs_sum, s.huber_sum, s.max_abs, s.y_mean, s.y_m2);
}
fastloss::RegressionStats stats_from_tuple(const py::tuple& t) {
  if (t.size() != 8) throw py::value_error("_core: regression stats are a tuple of 8 numbers");
  return {t[0].cast<std::int64_t>(), t[1].cast<double>(), t[2].cast<double>(), t[3].cast<double>(),
          t[4].cast<double>(),       t[5].cast<double>(), t[6].cast<double>(), t[7].cast<double>()};
}

py::tuple regression_stats(py::array input, py::array target, const py::object& weight, double delta) {
  const DType dt = float_input(input, "input");
  same_input(input, target, dt, "target");
  const void* weight_ptr = nullptr;
  py::array w;  // holds a converted copy while the kernel runs
  if (!weight.is_none()) {
    w = weight.cast<py::array>();
    weight_input(w, compute_dtype(dt), "sample_weight");
    if (w.size() != input.size()) throw py::type_error("_core: sample_weight must match the input in size");
    weight_ptr = w.data();
  }
  const fastloss::RegressionStatsArgs args{input.data(), target.data(), weight_ptr,
                                           input.size(), delta,         fastloss::call_threads()};
  fastloss::RegressionStats s;
  {
    ReleaseGil release(input.size());
    s = FASTLOSS_KERNEL(regression_stats, dt)(args);
  }
  return stats_to_tuple(s);
}

// The option values the fast paths take as they come from Python (no bool, no subclass, no
// conversion): anything else returns false and the Python layer checks and converts it.
bool plain_int64(py::handle h, std::int64_t* v) {
  if (!PyLong_CheckExact(h.ptr())) return false;
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(h.ptr(), &overflow);
  if (overflow != 0 || (x == -1 && PyErr_Occurred())) {
    PyErr_Clear();
    return false;
  }
  *v = x;
  return true;
}
// An axis of a: a plain int in [-ndim, ndim), as the non-negative axis.
bool plain_axis(py::handle h, const py::array& a, std::int64_t* axis) {
  std::int64_t v;
  const std::int64_t nd = a.ndim();
  if (!plain_int64(h, &v) || v < -nd || v >= nd) return false;
  *axis = v < 0 ? v + nd : v;
  return true;
}

// x viewed as C-contiguous (n_outer, n_classes, n_inner) around the class axis (args.hpp).
struct ClassLayout {
  std::int64_t n_outer, n_classes, n_inner;
};
ClassLayout layout_around(const py::array& x, std::int64_t axis) {
  ClassLayout l{1, x.shape(axis), 1};
  for (std::int64_t d = 0; d < axis; ++d) l.n_outer *= x.shape(d);
  for (std::int64_t d = axis + 1; d < x.ndim(); ++d) l.n_inner *= x.shape(d);
  return l;
}

// softmax, log_softmax, logsumexp along axis into out (None: a new array of x's dtype); returns
// out. Ready: x of at least one dimension, axis a plain int in range; out None, or writeable, of
// x's shape (logsumexp: without the axis) and dtype (logsumexp: or float64), apart from x's
// memory (the kernel reads x after writing out).
py::object softmax(py::handle x_h, py::handle out_h, py::handle axis_h, fastloss::SoftmaxKind kind) {
  DType dt, dt_out;
  std::int64_t axis;
  if (!in_place_float(x_h, &dt)) return py::none();
  const auto x = py::reinterpret_borrow<py::array>(x_h);
  if (x.ndim() == 0 || !plain_axis(axis_h, x, &axis)) return py::none();
  const bool lse = kind == fastloss::SoftmaxKind::kLogSumExp;
  const std::int64_t dropped = lse ? axis : -1;
  // Not a default-constructed py::array: that allocates an empty NumPy array (~1000 instructions).
  py::object out_obj;
  if (out_h.is_none()) {
    dt_out = dt;
    out_obj = new_array(dt, shape_of(x, dropped), x);
  } else {
    // out of x's type; float64 for logsumexp; float32 for half x.
    if (!in_place_float(out_h, &dt_out) ||
        (dt_out != dt && !(lse && dt_out == DType::kF64) && !(is_half(dt) && dt_out == DType::kF32)))
      return py::none();
    const auto o = py::reinterpret_borrow<py::array>(out_h);
    if (!shape_matches(x, o, dropped) || !o.writeable()) return py::none();
    // The kernel reads x after writing out: they must not share memory.
    const auto* xb = static_cast<const char*>(x.data());
    const auto* ob = static_cast<const char*>(o.data());
    if (ob < xb + x.nbytes() && xb < ob + o.nbytes()) return py::none();
    out_obj = py::reinterpret_borrow<py::object>(out_h);
  }
  auto out = py::reinterpret_borrow<py::array>(out_obj);
  const ClassLayout l = layout_around(x, axis);
  if (lse && l.n_classes == 0) {  // log Σ over no classes
    switch (dt_out) {
      case DType::kF32: std::fill_n(static_cast<float*>(out.mutable_data()), out.size(), -INFINITY); break;
      case DType::kF64: std::fill_n(static_cast<double*>(out.mutable_data()), out.size(), -INFINITY); break;
      case DType::kBF16: std::fill_n(static_cast<std::uint16_t*>(out.mutable_data()), out.size(), 0xff80); break;
      case DType::kF16: std::fill_n(static_cast<std::uint16_t*>(out.mutable_data()), out.size(), 0xfc00); break;
    }
    return out_obj;
  }
  if (x.size() == 0) return out_obj;
  const fastloss::SoftmaxArgs args{x.data(),
                                   out.mutable_data(),
                                   l.n_outer,
                                   l.n_classes,
                                   l.n_inner,
                                   kind,
                                   dt_out == DType::kF64,
                                   is_half(dt) && dt_out == DType::kF32,
                                   fastloss::call_threads()};
  {
    ReleaseGil release(x.size());
    FASTLOSS_KERNEL(softmax, dt)(args);
  }
  return out_obj;
}

// The TargetKind of an array of class indices: int32 or int64, else false.
bool index_kind(const py::array& t, fastloss::TargetKind* kind) {
  if (py::detail::array_descriptor_proxy(py::detail::array_proxy(t.ptr())->descr)->kind != 'i') return false;
  if (t.itemsize() == 4) *kind = fastloss::TargetKind::kInt32;
  else if (t.itemsize() == 8) *kind = fastloss::TargetKind::kInt64;
  else return false;
  return true;
}

// The class weights' data (nullptr for None) if they are ready: the logits' compute type, shape (C,).
bool ready_class_weight(py::handle w_h, DType dt, std::int64_t n_classes, const void** data) {
  *data = nullptr;
  if (w_h.is_none()) return true;
  DType dt_w;
  if (!in_place_float(w_h, &dt_w) || dt_w != compute_dtype(dt)) return false;
  const auto w = py::reinterpret_borrow<py::array>(w_h);
  if (w.ndim() != 1 || w.shape(0) != n_classes) return false;
  *data = w.data();
  return true;
}

// cross_entropy and nll_loss (nll) along axis. Ready: logits of at least one dimension, axis and
// ignore_index plain ints (axis in range); targets of int32/int64 class indices of the logits'
// shape without the axis, or (cross_entropy, ignore_index -100) probabilities of the logits'
// shape and dtype; weight None or ready. MEAN divides by Σ w[t] over the counted rows (index
// targets) or by the number of rows (probabilities).
py::object class_loss(bool nll, py::handle logits_h, py::handle target_h, py::handle weight_h,
                      py::handle ignore_index_h, py::handle axis_h, fastloss::Reduction reduction,
                      double label_smoothing) {
  DType dt, dt_target;
  std::int64_t ignore_index, axis;
  if (!in_place_float(logits_h, &dt) || !py::isinstance<py::array>(target_h) ||
      !plain_int64(ignore_index_h, &ignore_index))
    return py::none();
  const auto logits = py::reinterpret_borrow<py::array>(logits_h);
  const auto target = py::reinterpret_borrow<py::array>(target_h);
  if (logits.ndim() == 0 || !plain_axis(axis_h, logits, &axis) || !in_place(target)) return py::none();
  fastloss::TargetKind target_kind;
  if (!nll && shape_matches(logits, target)) {
    if (!in_place_float(target_h, &dt_target) || dt_target != dt || ignore_index != -100) return py::none();
    target_kind = fastloss::TargetKind::kProb;
  } else if (!index_kind(target, &target_kind) || !shape_matches(logits, target, axis)) {
    return py::none();
  }
  const ClassLayout l = layout_around(logits, axis);
  const void* weight;
  if (!ready_class_weight(weight_h, dt, l.n_classes, &weight)) return py::none();
  py::object out = py::none();
  void* out_ptr = nullptr;
  if (reduction == fastloss::Reduction::kNone) {
    out = new_array(dt, shape_of(logits, axis), logits);
    out_ptr = py::reinterpret_borrow<py::array>(out).mutable_data();
  }
  const fastloss::CrossEntropyArgs args{logits.data(),
                                        target.data(),
                                        weight,
                                        out_ptr,
                                        l.n_outer,
                                        l.n_classes,
                                        l.n_inner,
                                        ignore_index,
                                        label_smoothing,
                                        target_kind,
                                        fastloss::call_threads()};
  const bool prob = target_kind == fastloss::TargetKind::kProb;
  fastloss::CrossEntropyResult r{0.0, 0.0, -1};
  if (prob && l.n_classes == 0) {  // -Σ over no classes
    if (out_ptr != nullptr) std::memset(out_ptr, 0, py::reinterpret_borrow<py::array>(out).nbytes());
  } else {
    ReleaseGil release(logits.size());
    if (nll) r = FASTLOSS_KERNEL(nll_loss, dt)(args);
    else if (l.n_inner > 1) r = FASTLOSS_KERNEL(cross_entropy_inner, dt)(args);
    else r = FASTLOSS_KERNEL(cross_entropy, dt)(args);
  }
  if (r.first_bad >= 0) return py::int_(r.first_bad);
  return reduced(out, r.loss_sum, prob ? static_cast<double>(l.n_outer * l.n_inner) : r.weight_sum, reduction, dt);
}

// evaluate: the fused metrics (kernels/evaluate.hpp) along axis (in range). Returns (Σ s·l,
// Σ s·w_t, Σ s, Σ s·H, Σ s·lse, (Σ s·[rank < k] for k in topk), counted rows), or the first bad
// row as an int.
py::object evaluate(py::array logits, py::array target, py::object weight, const py::object& sample_weight,
                    const std::vector<std::int64_t>& topk, const py::object& out_loss, const py::object& out_rank,
                    const py::object& out_entropy, const py::object& out_lse, std::int64_t ignore_index,
                    double label_smoothing, std::int64_t axis) {
  const DType dt = float_input(logits, "logits");
  if (axis < 0 || axis >= logits.ndim()) throw py::value_error("_core: evaluate axis out of range");
  const ClassLayout l = layout_around(logits, axis);
  const std::int64_t n_rows = l.n_outer * l.n_inner;
  target = readable(target);
  fastloss::TargetKind target_kind;
  if (!index_kind(target, &target_kind) || !shape_matches(logits, target, axis))
    throw py::type_error("_core: target must hold int32/int64 class indices, one per row");
  if (topk.size() > static_cast<std::size_t>(fastloss::kMaxTopk)) throw py::value_error("_core: too many topk values");
  const void* weight_ptr = nullptr;
  if (!weight.is_none()) {
    py::array w = weight.cast<py::array>();
    weight_input(w, compute_dtype(dt), "weight");
    if (w.size() != l.n_classes) throw py::type_error("_core: weight must have one entry per class");
    weight = w;  // holds a converted copy while the kernel runs
    weight_ptr = w.data();
  }
  const double* sw_ptr = nullptr;
  py::array sw;  // holds a converted copy while the kernel runs
  if (!sample_weight.is_none()) {
    sw = sample_weight.cast<py::array>();
    if (float_input(sw, "sample_weight") != DType::kF64 || sw.size() != n_rows)
      throw py::type_error("_core: sample_weight must be float64 with one entry per row");
    sw_ptr = static_cast<const double*>(sw.data());
  }
  auto row_out = [&](const py::object& o, bool f64_int) -> void* {
    if (o.is_none()) return nullptr;
    py::array arr = o.cast<py::array>();
    if (!in_place(arr) || arr.size() != n_rows)
      throw py::type_error("_core: evaluate outputs must be C-contiguous, aligned, native, with one entry per row");
    if (f64_int ? (arr.dtype().kind() != 'i' || arr.itemsize() != 8) : float_dtype(arr, "out") != dt)
      throw py::type_error("_core: evaluate output of the wrong dtype");
    return arr.mutable_data();
  };
  void* o_loss = row_out(out_loss, false);
  auto* o_rank = static_cast<std::int64_t*>(row_out(out_rank, true));
  void* o_ent = row_out(out_entropy, false);
  void* o_lse = row_out(out_lse, false);
  const fastloss::EvaluateArgs args{logits.data(),
                                    target.data(),
                                    weight_ptr,
                                    sw_ptr,
                                    topk.data(),
                                    static_cast<int>(topk.size()),
                                    o_loss,
                                    o_rank,
                                    o_ent,
                                    o_lse,
                                    l.n_outer,
                                    l.n_classes,
                                    l.n_inner,
                                    ignore_index,
                                    label_smoothing,
                                    target_kind,
                                    fastloss::call_threads()};
  fastloss::EvaluateResult r;
  {
    ReleaseGil release(logits.size());
    r = FASTLOSS_KERNEL(evaluate, dt)(args);
  }
  if (r.first_bad >= 0) return py::int_(r.first_bad);
  py::tuple hits(topk.size());
  for (std::size_t j = 0; j < topk.size(); ++j) hits[j] = py::float_(r.hits[j]);
  return py::make_tuple(r.loss, r.loss_weight, r.weight, r.entropy, r.lse, hits, r.count);
}

double probe_read(const py::list& arrays, int n_threads) {
  double total = 0.0;
  for (const py::handle& h : arrays) {
    const py::array a = py::reinterpret_borrow<py::array>(h);
    const DType dt = single_or_double(a, "array");
    const fastloss::ProbeReadArgs args{a.data(), a.size(), n_threads};
    ReleaseGil release(a.size());
    total += dt == DType::kF32 ? active().probe_read_f32(args) : active().probe_read_f64(args);
  }
  return total;
}

void probe_copy(const py::array& src, py::array& dst, int n_threads) {
  const DType dt = single_or_double(src, "src");
  require_same(src, dst, dt, "dst");
  const fastloss::ProbeCopyArgs args{src.data(), dst.mutable_data(), src.size(), n_threads};
  ReleaseGil release(src.size());
  dt == DType::kF32 ? active().probe_copy_f32(args) : active().probe_copy_f64(args);
}

double probe_exp(std::int64_t n, int n_threads) {
  const fastloss::ProbeExpArgs args{n, n_threads};
  ReleaseGil release(n);
  return active().probe_exp_f32(args);
}

// The vector math library over an array, for tests/test_math_ulp.py: out = f(x) elementwise.
void math_eval(const std::string& fn_name, const py::array& x, py::array& out, int n_threads) {
  fastloss::MathFn fn;
  if (fn_name == "exp") fn = fastloss::MathFn::kExp;
  else if (fn_name == "log") fn = fastloss::MathFn::kLog;
  else if (fn_name == "log1p") fn = fastloss::MathFn::kLog1p;
  else if (fn_name == "exp_reduced_p") fn = fastloss::MathFn::kExpReducedP;
  else if (fn_name == "exp_reduced_n") fn = fastloss::MathFn::kExpReducedN;
  else if (fn_name == "softplus_tail") fn = fastloss::MathFn::kSoftplusTail;
  else
    throw py::value_error(
        "_math: fn_name must be one of 'exp', 'log', 'log1p', 'exp_reduced_p', 'exp_reduced_n', 'softplus_tail', got '" +
        fn_name + "'");
  const DType dt = single_or_double(x, "x");
  require_same(x, out, dt, "out");
  if (!out.writeable()) throw py::value_error("_math: out must be writeable");
  const fastloss::MathArgs args{x.data(), out.mutable_data(), x.size(), fn, n_threads};
  ReleaseGil release(x.size());
  dt == DType::kF32 ? active().math_f32(args) : active().math_f64(args);
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
  m.def("_kernel_entries", [] {
#define FASTLOSS_ENTRY_NAME(name, ret, args) #name,
    return std::vector<std::string>{FASTLOSS_KERNELS(FASTLOSS_ENTRY_NAME)};
#undef FASTLOSS_ENTRY_NAME
  }, "The names of the kernel table's entries (kernels/list.hpp).");
  m.def("_borrowed_entries", [](const std::string& name) {
    std::string lender;
    std::vector<std::string> names;
    if (!fastloss::borrowed_entries(name, &lender, &names))
      throw py::value_error("_borrowed_entries: '" + name + "' is not compiled in");
    return py::make_tuple(lender, names);
  }, py::arg("isa"), "(lender ISA, entries) that the named ISA's table takes from a lower ISA's.");
  m.def("_set_backend", [](const std::string& name) {
    if (!fastloss::set_backend(name)) throw py::value_error("_set_backend: '" + name + "' is not supported here");
  }, "Switch the instruction set (tests visit every path with it).");

  m.def("_get_num_threads", &fastloss::call_threads, "The thread count of a kernel call from this thread.");
  m.def("_set_default_threads", &fastloss::set_default_threads, py::arg("n"));
  m.def("_set_num_threads", &fastloss::set_process_threads, py::arg("n"));
  m.def("_swap_thread_override", &fastloss::swap_thread_override, py::arg("n"),
        "Set this thread's override (0: none); returns the previous one.");
  m.def("_mark_forked", &fastloss::mark_forked, "Run serially from now on (called in a forked child).");

  py::enum_<fastloss::Reduction>(m, "Reduction", "The reduction of every loss entry.")
      .value("NONE", fastloss::Reduction::kNone)
      .value("MEAN", fastloss::Reduction::kMean)
      .value("SUM", fastloss::Reduction::kSum);
  py::enum_<fastloss::RegressionKind>(m, "RegressionKind", "The loss of the regression entry.")
      .value("MSE", fastloss::RegressionKind::kMse)
      .value("L1", fastloss::RegressionKind::kL1)
      .value("HUBER", fastloss::RegressionKind::kHuber)
      .value("SMOOTH_L1", fastloss::RegressionKind::kSmoothL1);
  py::enum_<fastloss::SoftmaxKind>(m, "SoftmaxKind", "The function of the softmax entry.")
      .value("SOFTMAX", fastloss::SoftmaxKind::kSoftmax)
      .value("LOG_SOFTMAX", fastloss::SoftmaxKind::kLogSoftmax)
      .value("LOGSUMEXP", fastloss::SoftmaxKind::kLogSumExp);
  m.attr("WEIGHT_TILE_PAD") = fastloss::kWeightTilePad;
  m.attr("MAX_TOPK") = fastloss::kMaxTopk;

  m.def("regression", &regression, py::arg("input"), py::arg("target"), py::arg("kind"), py::arg("param"),
        py::arg("reduction"), "mse / l1 / huber / smooth_l1 (param: delta, beta); None: not handled here.");

  m.def("bce", &bce, py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("weight_period"), py::arg("out"),
        "(sum, first index outside [0, 1] or -1)");
  m.def("bce_with_logits", &bce_with_logits, py::arg("input"), py::arg("target"), py::arg("weight"),
        py::arg("weight_period"), py::arg("pos_weight"), py::arg("pos_weight_period"), py::arg("out"));
  m.def("kl_div", &kl_div, py::arg("input"), py::arg("target"), py::arg("out"), py::arg("log_target"));
  m.def("entropy", &entropy, py::arg("p"), py::arg("out"), py::arg("n_outer"), py::arg("n_classes"),
        py::arg("n_inner"));

  m.def("regression_stats", &regression_stats, py::arg("input"), py::arg("target"), py::arg("weight"),
        py::arg("delta"));
  m.def("merge_regression_stats", [](const py::tuple& a, const py::tuple& b) {
    return stats_to_tuple(fastloss::merge(stats_from_tuple(a), stats_from_tuple(b)));
  }, "The statistics of the union of two disjoint sets of rows.");

  m.def("softmax", &softmax, py::arg("x"), py::arg("out"), py::arg("axis"), py::arg("kind"),
        "softmax / log_softmax / logsumexp along axis into out (None: a new array); None: not handled here.");
  m.def("cross_entropy",
        [](py::handle logits, py::handle target, py::handle weight, py::handle ignore_index, py::handle axis,
           fastloss::Reduction reduction, py::handle label_smoothing) -> py::object {
    if (!PyFloat_CheckExact(label_smoothing.ptr())) return py::none();
    const double eps = PyFloat_AS_DOUBLE(label_smoothing.ptr());
    if (!(eps >= 0.0 && eps <= 1.0)) return py::none();
    return class_loss(false, logits, target, weight, ignore_index, axis, reduction, eps);
  },
        py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("axis"),
        py::arg("reduction"), py::arg("label_smoothing"),
        "The loss, or the first bad row as an int; None: not handled here.");
  m.def("nll_loss",
        [](py::handle log_probs, py::handle target, py::handle weight, py::handle ignore_index, py::handle axis,
           fastloss::Reduction reduction) {
    return class_loss(true, log_probs, target, weight, ignore_index, axis, reduction, 0.0);
  },
        py::arg("log_probs"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("axis"),
        py::arg("reduction"), "The loss, or the first bad row as an int; None: not handled here.");

  m.def("evaluate", &evaluate, py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("sample_weight"),
        py::arg("topk"), py::arg("out_loss"), py::arg("out_rank"), py::arg("out_entropy"), py::arg("out_lse"),
        py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("axis"),
        "(Σ s·loss, Σ s·w[t], Σ s, Σ s·entropy, Σ s·lse, (Σ s·hit_k), count), or the first bad row as an int");
  m.def("_from_dlpack",
        [](py::handle obj, py::handle bf16_dtype) {
    PyObject* a = fastloss::from_dlpack(obj.ptr(), bf16_dtype.ptr());
    if (a == nullptr) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(a);
  }, py::arg("obj"), py::arg("bf16_dtype"),
        "obj.__dlpack__() as an ndarray over its memory (bfloat16 as bf16_dtype), for dtypes NumPy cannot import.");
  m.def("_noop", [] {}, "An empty call: the baseline of the per-call overhead.");
  m.def("_probe_read", &probe_read, py::arg("arrays"), py::arg("n_threads"));
  m.def("_probe_copy", &probe_copy, py::arg("src"), py::arg("dst"), py::arg("n_threads"));
  m.def("_probe_exp", &probe_exp, py::arg("n"), py::arg("n_threads"));
  m.def("_math", &math_eval, py::arg("fn_name"), py::arg("x"), py::arg("out"), py::arg("n_threads"),
        "The SIMD exp/log/log1p (and exp_reduced's p, n) elementwise: out = f(x).");
}
