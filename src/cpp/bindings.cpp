// The Python module fastloss._core: NumPy arrays in, pointers out, the GIL released around
// every kernel over more than a few thousand elements (ReleaseGil). The Python layer
// (python/fastloss/_*.py) settles dtypes, shapes and contiguity first; the checks here only
// guard against a caller that skipped it. An input array that is not C-contiguous, aligned
// and in native byte order is read through one converted copy (readable); the fast paths
// take only arrays that need none.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "stats.hpp"
#include "threads.hpp"

namespace py = pybind11;
using fastloss::active;

namespace {

enum class DType { kF32, kF64 };

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

// The dtype of a float array a kernel reads in place (see readable), or a TypeError.
DType float_dtype(const py::array& a, const char* what) {
  if (!in_place(a))
    throw py::type_error(std::string("_core: ") + what + " must be C-contiguous, aligned and in native byte order");
  switch (type_num(a)) {
    case py::detail::npy_api::NPY_FLOAT_: return DType::kF32;
    case py::detail::npy_api::NPY_DOUBLE_: return DType::kF64;
    default: throw py::type_error(std::string("_core: ") + what + " must be float32 or float64");
  }
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
  if (dt == DType::kF32) return py::cast(py::make_scalar(static_cast<float>(v)));
  return py::cast(py::make_scalar(v));
}

// An ndarray a kernel can read in place (see in_place) of float32 or float64 (its dtype in *dt).
bool in_place_float(py::handle h, DType* dt) {
  if (!py::isinstance<py::array>(h)) return false;
  const auto a = py::reinterpret_borrow<py::array>(h);
  if (!in_place(a)) return false;
  switch (type_num(a)) {
    case py::detail::npy_api::NPY_FLOAT_: *dt = DType::kF32; return true;
    case py::detail::npy_api::NPY_DOUBLE_: *dt = DType::kF64; return true;
    default: return false;
  }
}

// mse / l1 / huber / smooth_l1. reduction 0: the float64 sum (out filled when given); 1 (mean) or
// 2 (sum): the finished scalar (mean of no elements: NaN). Returns None, before any work, unless
// input and target are C-contiguous float32/float64 ndarrays of one dtype and shape: the Python
// layer then converts them (_checks.float_pair) and calls again. So the common call costs one
// binding call and no Python-level checks.
py::object regression(py::handle input_h, py::handle target_h, const py::object& out, int kind, double param,
                      int reduction) {
  DType dt, dt_target;
  if (!in_place_float(input_h, &dt) || !in_place_float(target_h, &dt_target) || dt != dt_target) return py::none();
  const auto input = py::reinterpret_borrow<py::array>(input_h);
  const auto target = py::reinterpret_borrow<py::array>(target_h);
  if (input.ndim() != target.ndim() || !std::equal(input.shape(), input.shape() + input.ndim(), target.shape()))
    return py::none();
  if (kind < 0 || kind > 3 || reduction < 0 || reduction > 2)
    throw py::value_error("_core: bad regression kind or reduction");
  const fastloss::RegressionArgs args{input.data(),
                                      target.data(),
                                      out_data(out, input, dt),
                                      input.size(),
                                      static_cast<fastloss::RegressionKind>(kind),
                                      param,
                                      fastloss::call_threads()};
  double total;
  {
    ReleaseGil release(input.size());
    total = dt == DType::kF32 ? active().regression_f32(args) : active().regression_f64(args);
  }
  if (reduction == 0) return py::float_(total);
  // 0/0 is NaN: the mean of an empty input, as torch.
  return finished_scalar(reduction == 2 ? total : total / static_cast<double>(input.size()), dt);
}

// A weight for kernels/binary.hpp: null, or a tile of `period` (see PeriodicWeight, args.hpp).
// w becomes the array read (a converted copy when needed), so the caller keeps it alive.
fastloss::PeriodicWeight periodic_weight(py::object& w, std::int64_t period, DType dt, std::int64_t n,
                                         const char* what) {
  if (w.is_none()) return {nullptr, 1};
  py::array arr = w.cast<py::array>();
  if (float_input(arr, what) != dt) throw py::type_error(std::string("_core: ") + what + " must match the input dtype");
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
  const fastloss::BceResult r = dt == DType::kF32 ? active().bce_f32(args) : active().bce_f64(args);
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
  return dt == DType::kF32 ? active().bce_with_logits_f32(args) : active().bce_with_logits_f64(args);
}

double kl_div(py::array input, py::array target, const py::object& out, bool log_target) {
  const DType dt = float_input(input, "input");
  same_input(input, target, dt, "target");
  const fastloss::KlDivArgs args{input.data(), target.data(), out_data(out, input, dt),
                                 input.size(), log_target,    fastloss::call_threads()};
  ReleaseGil release(input.size());
  return dt == DType::kF32 ? active().kl_div_f32(args) : active().kl_div_f64(args);
}

void entropy(py::array p, py::array& out, std::int64_t n_outer, std::int64_t n_classes, std::int64_t n_inner) {
  const DType dt = float_input(p, "p");
  if (float_dtype(out, "out") != dt) throw py::type_error("_core: out must match the dtype of p");
  if (n_outer < 0 || n_classes < 0 || n_inner < 0 || p.size() != n_outer * n_classes * n_inner ||
      out.size() != n_outer * n_inner)
    throw py::value_error("_core: entropy shape does not match the arrays");
  const fastloss::EntropyArgs args{p.data(), out.mutable_data(), n_outer, n_classes, n_inner, fastloss::call_threads()};
  ReleaseGil release(p.size());
  dt == DType::kF32 ? active().entropy_f32(args) : active().entropy_f64(args);
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
    same_input(input, w, dt, "sample_weight");
    weight_ptr = w.data();
  }
  const fastloss::RegressionStatsArgs args{input.data(), target.data(), weight_ptr,
                                           input.size(), delta,         fastloss::call_threads()};
  fastloss::RegressionStats s;
  {
    ReleaseGil release(input.size());
    s = dt == DType::kF32 ? active().regression_stats_f32(args) : active().regression_stats_f64(args);
  }
  return stats_to_tuple(s);
}

// softmax (kind 0), log_softmax (1), logsumexp (2) over x viewed as (n_outer, n_classes, n_inner).
// out: x's shape and dtype; for logsumexp (n_outer, n_inner) of x's dtype or float64.
void softmax(py::array x, py::array& out, std::int64_t n_outer, std::int64_t n_classes, std::int64_t n_inner,
             int kind) {
  const DType dt = float_input(x, "x");
  const DType dto = float_dtype(out, "out");
  if (kind < 0 || kind > 2) throw py::value_error("_core: softmax kind must be 0, 1 or 2");
  const bool lse = kind == 2;
  if (dto != dt && !(lse && dto == DType::kF64)) throw py::type_error("_core: out has the wrong dtype");
  if (n_outer < 0 || n_classes < 0 || n_inner < 0 || x.size() != n_outer * n_classes * n_inner ||
      out.size() != (lse ? n_outer * n_inner : x.size()))
    throw py::value_error("_core: softmax shape does not match the arrays");
  const fastloss::SoftmaxArgs args{x.data(),
                                   out.mutable_data(),
                                   n_outer,
                                   n_classes,
                                   n_inner,
                                   static_cast<fastloss::SoftmaxKind>(kind),
                                   dto == DType::kF64,
                                   fastloss::call_threads()};
  ReleaseGil release(x.size());
  dt == DType::kF32 ? active().softmax_f32(args) : active().softmax_f64(args);
}

// softmax (kind 0) or log_softmax (1) of an ndarray read in place (C-contiguous float32/float64, at
// least 1-D) along axis, into out (None: a new array). Returns out, or None, before any work, when
// x needs converting, axis is out of range, or out is not a writeable C-contiguous array of x's
// dtype and shape apart from x's memory: the Python layer then takes the general path (errors,
// conversions, copies).
py::object softmax_new(py::handle x_h, py::handle out_h, std::int64_t axis, int kind) {
  DType dt, dt_out;
  if (!in_place_float(x_h, &dt)) return py::none();
  const auto x = py::reinterpret_borrow<py::array>(x_h);
  const std::int64_t nd = x.ndim();
  if (nd == 0 || axis < -nd || axis >= nd) return py::none();
  if (kind != 0 && kind != 1) throw py::value_error("_core: softmax_new kind must be 0 or 1");
  const py::ssize_t* shape = x.shape();
  // Not a default-constructed py::array: that allocates an empty NumPy array (~1000 instructions).
  py::object out_obj;
  if (out_h.is_none()) {
    const std::vector<py::ssize_t> dims(shape, shape + nd);
    out_obj = dt == DType::kF32 ? py::object(py::array_t<float>(dims)) : py::object(py::array_t<double>(dims));
  } else {
    if (!in_place_float(out_h, &dt_out) || dt_out != dt) return py::none();
    const auto o = py::reinterpret_borrow<py::array>(out_h);
    if (o.ndim() != nd || !std::equal(shape, shape + nd, o.shape()) || !o.writeable()) return py::none();
    // The kernel reads x after writing out: they must not share memory.
    const auto* xb = static_cast<const char*>(x.data());
    const auto* ob = static_cast<const char*>(o.data());
    if (ob < xb + x.nbytes() && xb < ob + o.nbytes()) return py::none();
    out_obj = py::reinterpret_borrow<py::object>(out_h);
  }
  if (x.size() == 0) return out_obj;
  const std::int64_t ax = axis < 0 ? axis + nd : axis;
  std::int64_t n_inner = 1;
  for (std::int64_t d = ax + 1; d < nd; ++d) n_inner *= shape[d];
  auto out = py::reinterpret_borrow<py::array>(out_obj);
  softmax(x, out, x.size() / (shape[ax] * n_inner), shape[ax], n_inner, kind);
  return out_obj;
}

// Class indices: int32 (target_kind 0) or int64 (1), one per row, converted when needed (readable).
void check_index_target(py::array& target, int target_kind, std::int64_t n_rows) {
  if (target_kind != 0 && target_kind != 1) throw py::value_error("_core: bad target_kind");
  target = readable(target);
  if (target.dtype().kind() != 'i' || target.itemsize() != (target_kind == 0 ? 4 : 8) || target.size() != n_rows)
    throw py::type_error("_core: target must be a C-contiguous int32/int64 array of one index per row");
}

// The class weights' data (nullptr for None): the logits' dtype, one entry per class. weight
// becomes the array read (a converted copy when needed), so the caller keeps it alive.
const void* class_weight_data(py::object& weight, DType dt, std::int64_t n_classes) {
  if (weight.is_none()) return nullptr;
  py::array w = weight.cast<py::array>();
  if (float_input(w, "weight") != dt || w.size() != n_classes)
    throw py::type_error("_core: weight must have the logits' dtype and one entry per class");
  weight = w;
  return w.data();
}

// cross_entropy / nll_loss: (Σ loss, Σ w[t] over counted rows, first bad row or -1).
// target_kind: 0 int32, 1 int64 (shape (n_outer, n_inner)), 2 probabilities (x's shape, dtype).
// reduction < 0: returns the tuple. 1 (mean) or 2 (sum): returns the finished NumPy scalar of the
// logits' dtype (mean over Σ w[t], NaN for none), or the first bad row as a Python int: one
// call and no Python arithmetic on the fast path (the 2 µs per-call budget).
py::object class_loss(bool nll, py::array logits, py::array target, py::object weight, const py::object& out,
                      std::int64_t n_outer, std::int64_t n_classes, std::int64_t n_inner, std::int64_t ignore_index,
                      double label_smoothing, int target_kind, int reduction) {
  const DType dt = float_input(logits, "logits");
  if (n_outer < 0 || n_classes < 0 || n_inner < 0 || logits.size() != n_outer * n_classes * n_inner)
    throw py::value_error("_core: cross_entropy shape does not match the logits");
  const std::int64_t n_rows = n_outer * n_inner;
  if (target_kind == 2 && !nll) same_input(logits, target, dt, "target");
  else check_index_target(target, target_kind, n_rows);
  const void* weight_ptr = class_weight_data(weight, dt, n_classes);
  void* out_ptr = nullptr;
  if (!out.is_none()) {
    py::array o = out.cast<py::array>();
    if (float_dtype(o, "out") != dt || o.size() != n_rows)
      throw py::type_error("_core: out must hold one loss per row");
    out_ptr = o.mutable_data();
  }
  const fastloss::CrossEntropyArgs args{logits.data(),
                                        target.data(),
                                        weight_ptr,
                                        out_ptr,
                                        n_outer,
                                        n_classes,
                                        n_inner,
                                        ignore_index,
                                        label_smoothing,
                                        static_cast<fastloss::TargetKind>(target_kind),
                                        fastloss::call_threads()};
  fastloss::CrossEntropyResult r;
  {
    ReleaseGil release(logits.size());
    if (nll) r = dt == DType::kF32 ? active().nll_loss_f32(args) : active().nll_loss_f64(args);
    else if (n_inner > 1)
      r = dt == DType::kF32 ? active().cross_entropy_inner_f32(args) : active().cross_entropy_inner_f64(args);
    else r = dt == DType::kF32 ? active().cross_entropy_f32(args) : active().cross_entropy_f64(args);
  }
  if (reduction < 0) return py::make_tuple(r.loss_sum, r.weight_sum, r.first_bad);
  if (r.first_bad >= 0) return py::int_(r.first_bad);
  // 0/0 is NaN: an empty or all-ignored mean, as torch.
  const double v = reduction == 2 ? r.loss_sum : r.loss_sum / r.weight_sum;
  return finished_scalar(v, dt);
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
// "none" 0, "mean" 1, "sum" 2, else -1.
int plain_reduction(py::handle h) {
  if (!PyUnicode_CheckExact(h.ptr())) return -1;
  const char* names[] = {"none", "mean", "sum"};
  for (int code = 0; code < 3; ++code)
    if (PyUnicode_CompareWithASCIIString(h.ptr(), names[code]) == 0) return code;
  return -1;
}

// cross_entropy / nll_loss over (N, C) logits and (N,) int32/int64 targets read in place, with
// no class weights and plain option values (label_smoothing a float in [0, 1], nll: 0.0): the
// finished scalar (mean, sum), the per-row losses (none), or the first bad row as an int. None,
// before any work, when an array or an option needs converting, reshaping or checking: the
// Python layer then takes the general path. The common call is this one binding call and no
// Python-level checks (the 2 µs per-call budget).
py::object class_loss_rows(bool nll, py::handle logits_h, py::handle target_h, py::handle weight_h,
                           py::handle ignore_index_h, py::handle reduction_h, py::handle label_smoothing_h,
                           py::handle axis_h) {
  DType dt;
  std::int64_t ignore_index, axis;
  const int reduction = plain_reduction(reduction_h);
  if (reduction < 0 || !weight_h.is_none() || !plain_int64(ignore_index_h, &ignore_index) ||
      !plain_int64(axis_h, &axis) || (axis != -1 && axis != 1))
    return py::none();
  double label_smoothing = 0.0;
  if (!nll) {
    if (!PyFloat_CheckExact(label_smoothing_h.ptr())) return py::none();
    label_smoothing = PyFloat_AS_DOUBLE(label_smoothing_h.ptr());
    if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) return py::none();
  }
  if (!in_place_float(logits_h, &dt) || !py::isinstance<py::array>(target_h)) return py::none();
  const auto logits = py::reinterpret_borrow<py::array>(logits_h);
  const auto target = py::reinterpret_borrow<py::array>(target_h);
  if (logits.ndim() != 2 || target.ndim() != 1 || target.shape(0) != logits.shape(0) || !in_place(target))
    return py::none();
  const auto* descr = py::detail::array_descriptor_proxy(py::detail::array_proxy(target.ptr())->descr);
  if (descr->kind != 'i' || (target.itemsize() != 4 && target.itemsize() != 8)) return py::none();
  const int target_kind = target.itemsize() == 4 ? 0 : 1;
  const std::int64_t n = logits.shape(0), c = logits.shape(1);
  if (reduction != 0)
    return class_loss(nll, logits, target, py::none(), py::none(), n, c, 1, ignore_index, label_smoothing, target_kind,
                      reduction);
  py::array out = dt == DType::kF32 ? py::array(py::array_t<float>(n)) : py::array(py::array_t<double>(n));
  const py::tuple r = class_loss(nll, logits, target, py::none(), out, n, c, 1, ignore_index, label_smoothing,
                                 target_kind, -1);
  const auto bad = r[2].cast<std::int64_t>();
  return bad >= 0 ? py::object(py::int_(bad)) : py::object(out);
}

// evaluate: the fused metrics (kernels/evaluate.hpp). Returns (Σ s·l, Σ s·w_t, Σ s, Σ s·H,
// Σ s·lse, (Σ s·[rank < k] for k in topk), counted rows, first bad row or -1).
py::tuple evaluate(py::array logits, py::array target, py::object weight, const py::object& sample_weight,
                   const std::vector<std::int64_t>& topk, const py::object& out_loss, const py::object& out_rank,
                   const py::object& out_entropy, const py::object& out_lse, std::int64_t n_outer,
                   std::int64_t n_classes, std::int64_t n_inner, std::int64_t ignore_index, double label_smoothing,
                   int target_kind) {
  const DType dt = float_input(logits, "logits");
  if (n_outer < 0 || n_classes < 0 || n_inner < 0 || logits.size() != n_outer * n_classes * n_inner)
    throw py::value_error("_core: evaluate shape does not match the logits");
  const std::int64_t n_rows = n_outer * n_inner;
  check_index_target(target, target_kind, n_rows);
  if (topk.size() > static_cast<std::size_t>(fastloss::kMaxTopk)) throw py::value_error("_core: too many topk values");
  const void* weight_ptr = class_weight_data(weight, dt, n_classes);
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
                                    n_outer,
                                    n_classes,
                                    n_inner,
                                    ignore_index,
                                    label_smoothing,
                                    static_cast<fastloss::TargetKind>(target_kind),
                                    fastloss::call_threads()};
  fastloss::EvaluateResult r;
  {
    ReleaseGil release(logits.size());
    r = dt == DType::kF32 ? active().evaluate_f32(args) : active().evaluate_f64(args);
  }
  py::tuple hits(topk.size());
  for (std::size_t j = 0; j < topk.size(); ++j) hits[j] = py::float_(r.hits[j]);
  return py::make_tuple(r.loss, r.loss_weight, r.weight, r.entropy, r.lse, hits, r.count, r.first_bad);
}

double probe_read(const py::list& arrays, int n_threads) {
  double total = 0.0;
  for (const py::handle& h : arrays) {
    const py::array a = py::reinterpret_borrow<py::array>(h);
    const DType dt = float_dtype(a, "array");
    const fastloss::ProbeReadArgs args{a.data(), a.size(), n_threads};
    ReleaseGil release(a.size());
    total += dt == DType::kF32 ? active().probe_read_f32(args) : active().probe_read_f64(args);
  }
  return total;
}

void probe_copy(const py::array& src, py::array& dst, int n_threads) {
  const DType dt = float_dtype(src, "src");
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
  const DType dt = float_dtype(x, "x");
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

  m.def("regression", &regression, py::arg("input"), py::arg("target"), py::arg("out"), py::arg("kind"),
        py::arg("param"), py::arg("reduction"),
        "reduction 0: the float64 sum; 1 mean, 2 sum: the finished scalar. None: inputs need converting.");

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

  m.def("softmax", &softmax, py::arg("x"), py::arg("out"), py::arg("n_outer"), py::arg("n_classes"), py::arg("n_inner"),
        py::arg("kind"));
  m.def("cross_entropy",
        [](const py::array& logits, const py::array& target, const py::object& weight, const py::object& out,
           std::int64_t n_outer, std::int64_t n_classes, std::int64_t n_inner, std::int64_t ignore_index,
           double label_smoothing, int target_kind, int reduction) {
    return class_loss(false, logits, target, weight, out, n_outer, n_classes, n_inner, ignore_index, label_smoothing,
                      target_kind, reduction);
  },
        py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("out"), py::arg("n_outer"),
        py::arg("n_classes"), py::arg("n_inner"), py::arg("ignore_index"), py::arg("label_smoothing"),
        py::arg("target_kind"), py::arg("reduction") = -1,
        "(loss sum, weight sum, first bad row or -1); with reduction 1 (mean) or 2 (sum) the finished "
        "scalar, or the first bad row as an int");
  m.def("nll_loss",
        [](const py::array& log_probs, const py::array& target, const py::object& weight, const py::object& out,
           std::int64_t n_outer, std::int64_t n_classes, std::int64_t n_inner, std::int64_t ignore_index,
           int target_kind, int reduction) {
    return class_loss(true, log_probs, target, weight, out, n_outer, n_classes, n_inner, ignore_index, 0.0, target_kind,
                      reduction);
  },
        py::arg("log_probs"), py::arg("target"), py::arg("weight"), py::arg("out"), py::arg("n_outer"),
        py::arg("n_classes"), py::arg("n_inner"), py::arg("ignore_index"), py::arg("target_kind"),
        py::arg("reduction") = -1, "as cross_entropy");

  m.def("softmax_new", &softmax_new, py::arg("x"), py::arg("out"), py::arg("axis"), py::arg("kind"),
        "softmax (0) or log_softmax (1) into out (None: a new array); None when the arrays need work");
  m.def("cross_entropy_rows",
        [](py::handle logits, py::handle target, py::handle weight, py::handle ignore_index, py::handle reduction,
           py::handle label_smoothing, py::handle axis) {
    return class_loss_rows(false, logits, target, weight, ignore_index, reduction, label_smoothing, axis);
  },
        py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("reduction"),
        py::arg("label_smoothing"), py::arg("axis"),
        "cross_entropy's arguments as given: the result or the first bad row as an int for (N, C) logits, (N,) "
        "index targets, no weight and plain options; None when anything needs converting or checking");
  m.def("nll_loss_rows",
        [](py::handle log_probs, py::handle target, py::handle weight, py::handle ignore_index, py::handle reduction,
           py::handle axis) {
    return class_loss_rows(true, log_probs, target, weight, ignore_index, reduction, py::none(), axis);
  },
        py::arg("log_probs"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("reduction"),
        py::arg("axis"), "as cross_entropy_rows");

  m.def("evaluate", &evaluate, py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("sample_weight"),
        py::arg("topk"), py::arg("out_loss"), py::arg("out_rank"), py::arg("out_entropy"), py::arg("out_lse"),
        py::arg("n_outer"), py::arg("n_classes"), py::arg("n_inner"), py::arg("ignore_index"),
        py::arg("label_smoothing"), py::arg("target_kind"),
        "(Σ s·loss, Σ s·w[t], Σ s, Σ s·entropy, Σ s·lse, (Σ s·hit_k), count, first bad row or -1)");

  m.def("_noop", [] {}, "An empty call: the baseline of the per-call overhead.");
  m.def("_probe_read", &probe_read, py::arg("arrays"), py::arg("n_threads"));
  m.def("_probe_copy", &probe_copy, py::arg("src"), py::arg("dst"), py::arg("n_threads"));
  m.def("_probe_exp", &probe_exp, py::arg("n"), py::arg("n_threads"));
  m.def("_math", &math_eval, py::arg("fn_name"), py::arg("x"), py::arg("out"), py::arg("n_threads"),
        "The SIMD exp/log/log1p (and exp_reduced's p, n) elementwise: out = f(x).");
}
