// kernel_check: an emulated ISA's kernel table against the scalar one: NEON on aarch64 under
// qemu-aarch64 (run.sh), AVX-512 through SIMDe (tools/avx512_check/run.sh builds this file with
// -Dneon=avx512); see README. Both tables are linked in from their real units (isa/<isa>.cpp
// and kernels/*.cpp, built by units.sh). Every entry of kernels/list.hpp is called on random
// data of odd sizes, clean
// and with NaN/+-inf/subnormal edge values; neon must agree with scalar within 1e-5 relative
// (float32) / 1e-12 (float64), be bitwise the same for 1 and 3 threads, never read past an
// input (inputs end at a PROT_NONE page) and never write past an output (guard values).
// The half entries (_bf16, _f16) get the same cases on half data (bit patterns rounded from
// the float values, the half type's NaN, +-inf and subnormals among the edges; weights that are
// not data in float32) at float32's tolerance, plus two half roundings for half outputs
// (common.hpp, Tol).
// Exit status: 0 if every check passed and every entry was tested, 1 otherwise.
#include <chrono>
#include <set>
#include <tuple>

#include "common.hpp"
#include "kernel_table.hpp"

namespace fastloss {
namespace scalar { extern const KernelTable table; }
namespace neon { extern const KernelTable table; }
}  // namespace fastloss

namespace kernel_check { void run_primitive_checks(); }

using namespace fastloss;
using namespace kernel_check;

namespace {

const KernelTable& kS = fastloss::scalar::table;
const KernelTable& kN = fastloss::neon::table;

const std::int64_t kSizes[] = {1, 3, 5, 17, 1000, 100003};

bool g_timing = std::getenv("KERNEL_CHECK_TIMING") != nullptr;  // print the cases that take > 1 s

std::set<std::string>& tested() {
  static std::set<std::string> s;
  return s;
}

template <class T>
std::string entry(const char* base) {
  std::string e = std::string(base) + "_" + Tol<T>::name;
  tested().insert(e);
  return e;
}

// The entry of data type T (float, double, HBf16, HF16) of a family; PICK_F for the families
// without half entries (math, probes).
template <class T, class F>
F pick(F f32, F f64, F bf16, F f16) {
  if constexpr (std::is_same_v<T, float>) return f32;
  else if constexpr (std::is_same_v<T, double>) return f64;
  else if constexpr (std::is_same_v<T, HBf16>) return bf16;
  else return f16;
}
#define PICK(t, name) pick<T>((t).name##_f32, (t).name##_f64, (t).name##_bf16, (t).name##_f16)
#define PICK_F(t, name) (sizeof(T) == 4 ? (t).name##_f32 : (t).name##_f64)

// What one kernel call produced: scalar results (sums, counts) and an output array.
template <class T>
struct Out {
  Out(std::vector<double> v = {}, std::vector<T> a = {}, bool g = true, std::vector<std::int64_t> i = {})
      : vals(std::move(v)), arr(std::move(a)), guards(g), ints(std::move(i)) {}
  std::vector<double> vals;
  std::vector<T> arr;
  bool guards;
  std::vector<std::int64_t> ints;  // integer outputs (ranks): must be equal
};

struct Tols {
  double rtol, atol;
};

// Runs f(table, threads) for scalar (1 thread) and neon (1 and 3 threads) and compares:
// vals[i] within tol_vals[i], arr within tol_arr (widened by two roundings for a half T),
// neon bitwise the same for both thread counts, and the output guards intact.
template <class T, class F>
void run_and_compare(const std::string& e, const std::string& what, const std::vector<Tols>& tol_vals, Tols tol_arr,
                     F f) {
  if constexpr (kIsHalfValue<T>) tol_arr = {tol_arr.rtol + 2 * Tol<T>::u, tol_arr.atol + Tol<T>::sub};
  const auto t0 = std::chrono::steady_clock::now();
  const Out<T> s = f(kS, 1);
  const auto t1 = std::chrono::steady_clock::now();
  const Out<T> n1 = f(kN, 1), n3 = f(kN, 3);
  const double ts = std::chrono::duration<double>(t1 - t0).count();
  const double tn = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count() / 2;
  if (g_timing && ts + 2 * tn > 1.0)
    std::printf("  slow: %s %s: scalar %.2f s, neon %.2f s\n", e.c_str(), what.c_str(), ts, tn);
  record(e, s.guards && n1.guards && n3.guards, what + ": an output guard was overwritten (write past the end)");
  bool det = n1.vals.size() == n3.vals.size() && n1.arr.size() == n3.arr.size();
  std::string diff;  // the first value that differs
  for (std::size_t i = 0; det && i < n1.vals.size(); ++i) {
    det = same_bits(n1.vals[i], n3.vals[i]);
    if (!det) {
      std::uint64_t b1, b3;
      std::memcpy(&b1, &n1.vals[i], sizeof b1);
      std::memcpy(&b3, &n3.vals[i], sizeof b3);
      diff = fmt(" (value[%zu]: %a vs %a, bits %016" PRIx64 " vs %016" PRIx64 ")", i, n1.vals[i], n3.vals[i], b1, b3);
    }
  }
  if (det && !n1.arr.empty()) det = std::memcmp(n1.arr.data(), n3.arr.data(), n1.arr.size() * sizeof(T)) == 0;
  if (det) det = n1.ints == n3.ints;
  record(e, det, what + ": neon differs between 1 and 3 threads" + diff);
  for (std::size_t i = 0; i < s.vals.size(); ++i) {
    const Tols t = i < tol_vals.size() ? tol_vals[i] : tol_vals.back();
    check_value(e, fmt("%s value[%zu]", what.c_str(), i), s.vals[i], n1.vals[i], t.rtol, t.atol);
  }
  if (!s.ints.empty() || !n1.ints.empty()) {
    std::size_t bad = s.ints.size() == n1.ints.size() ? 0 : 1, first = 0;
    for (std::size_t i = 0; i < std::min(s.ints.size(), n1.ints.size()); ++i)
      if (s.ints[i] != n1.ints[i] && bad++ == 0) first = i;
    record(e, bad == 0,
           fmt("%s ints: %zu of %zu differ, first at %zu: scalar %lld neon %lld", what.c_str(), bad, s.ints.size(),
               first, first < s.ints.size() ? (long long)s.ints[first] : -1LL,
               first < n1.ints.size() ? (long long)n1.ints[first] : -1LL));
  }
  if (!s.arr.empty()) {
    const ArrayDiff<T> d = compare_arrays(s.arr.data(), n1.arr.data(), s.arr.size(), tol_arr.rtol, tol_arr.atol);
    record(e, d.ok(),
           fmt("%s out: %zu of %zu elements differ, first at %zu: scalar %.17g neon %.17g", what.c_str(), d.mismatches,
               s.arr.size(), d.first, d.fa, d.fb));
    EntryReport& r = report()[e];
    r.elems += static_cast<long>(s.arr.size());
    r.bit_diffs += static_cast<long>(d.bit_diffs);
  }
}

template <class T>
std::vector<T> copy_out(const OutBuf<T>& b) {
  return std::vector<T>(b.data(), b.data() + b.size());
}

template <class T>
double abs_sum(const std::vector<T>& v) {
  double s = 0;
  for (T x : v)
    if (std::isfinite(x)) s += std::fabs(double(x));
  return s;
}

template <class T>
std::vector<T> gauss_vec(std::int64_t n, double scale, double mean = 0) {
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(mean + scale * gauss());
  return v;
}
template <class T>
std::vector<T> uni_vec(std::int64_t n, double lo, double hi) {
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(uni(lo, hi));
  return v;
}

template <class T>
std::vector<T> generic_edges() {
  using Li = Lim<T>;
  std::vector<T> v{Li::nan(), Li::inf(), -Li::inf(),        Li::denorm(), -Li::denorm(),
                   T(0),      -T(0),     Li::tiny() / T(4), Li::max()};
  // The halves: the largest subnormal, -max. No signaling NaN here: which NaN a sum of NaNs
  // keeps then depends on qemu (7.2 leaves a float16 sNaN signaling through FCVTL, and its bits
  // came out different at 1 and 3 threads); prims.cpp checks its load.
  if constexpr (kIsHalfValue<T>) {
    v.push_back(Li::below(Li::tiny()));
    v.push_back(-Li::max());
  }
  return v;
}

// ---------------------------------------------------------------- math
template <class T>
std::vector<T> math_inputs(MathFn fn, std::int64_t n, bool edge) {
  using Li = Lim<T>;
  const bool f = sizeof(T) == 4;
  std::vector<T> x(n);
  for (auto& v : x) {
    switch (fn) {
      case MathFn::kExp:
        v = static_cast<T>(f ? uni(-110, 95) : uni(-760, 720));
        if (coin(0.2)) v = static_cast<T>(uni(-1, 1) * std::ldexp(1.0, int(rint_in(-40, 0))));
        break;
      case MathFn::kLog:
        v = static_cast<T>(std::ldexp(uni(1, 2), int(f ? rint_in(-149, 127) : rint_in(-1074, 1023))));
        if (coin(0.2)) v = static_cast<T>(uni(0.5, 2));
        break;
      case MathFn::kLog1p:
        v = static_cast<T>(coin(0.4) ? uni(-1, 1)
                                     : (coin(0.5) ? 1 : -1) * std::ldexp(uni(1, 2), int(rint_in(-60, -1))));
        if (coin(0.2)) v = static_cast<T>(std::ldexp(uni(1, 2), int(rint_in(0, f ? 120 : 1000))));
        break;
      default:  // exp_reduced: |x| up to 2^15 ln2
        v = static_cast<T>(coin(0.5) ? uni(-22000, 22000) : uni(-100, 100));
        break;
    }
  }
  if (edge) {
    std::vector<T> ev = generic_edges<T>();
    ev.insert(ev.end(), {T(-1), std::nextafter(T(-1), T(0)), T(1), -Li::max(),
                         static_cast<T>(f ? 88.72283935546875 : 709.782712893384),
                         static_cast<T>(f ? -103.97208404541015625 : -745.13321910194122)});
    inject(x, ev, 0.03);
  }
  return x;
}

template <class T>
void test_math() {
  const std::string e = entry<T>("math");
  const MathFn fns[] = {MathFn::kExp, MathFn::kLog, MathFn::kLog1p, MathFn::kExpReducedP, MathFn::kExpReducedN};
  const char* names[] = {"exp", "log", "log1p", "exp_reduced_p", "exp_reduced_n"};
  for (int k = 0; k < 5; ++k)
    for (std::int64_t n : kSizes)
      for (bool edge : {false, true}) {
        const Guarded<T> x(math_inputs<T>(fns[k], n, edge));
        run_and_compare<T>(e, fmt("%s n=%lld %s", names[k], (long long)n, edge ? "edge" : "clean"), {{0, 0}},
                           {Tol<T>::r, 4 * double(Lim<T>::denorm())}, [&](const KernelTable& t, int threads) {
          OutBuf<T> out(n);
          MathArgs a{x.data(), out.data(), n, fns[k], threads};
          PICK_F(t, math)(a);
          return Out<T>{{}, copy_out(out), out.guards_ok()};
        });
      }
}

// ---------------------------------------------------------------- regression
template <class T>
void test_regression() {
  const std::string e = entry<T>("regression");
  const std::pair<RegressionKind, double> kinds[] = {{RegressionKind::kMse, 0},        {RegressionKind::kL1, 0},
                                                     {RegressionKind::kHuber, 1},      {RegressionKind::kHuber, 0.3},
                                                     {RegressionKind::kSmoothL1, 0.5}, {RegressionKind::kSmoothL1, 0}};
  for (std::int64_t n : kSizes)
    for (bool edge : {false, true}) {
      std::vector<T> xv = gauss_vec<T>(n, 2), yv = gauss_vec<T>(n, 2);
      if (edge) {
        inject(xv, generic_edges<T>(), 0.01);
        inject(yv, {Lim<T>::denorm(), Lim<T>::nan(), T(0)}, 0.01);
      }
      const Guarded<T> x(xv), y(yv);
      for (const auto& [kind, param] : kinds) {
        const std::string what = fmt("kind=%d param=%g n=%lld %s", int(kind), param, (long long)n,
                                     edge ? "edge" : "clean");
        // Per-element terms, then the sum (its tolerance scaled by Σ|terms|).
        std::vector<T> terms;
        run_and_compare<T>(e, what + " out", {{0, 0}}, {Tol<T>::r, 0}, [&](const KernelTable& t, int threads) {
          OutBuf<T> out(n);
          RegressionArgs a{x.data(), y.data(), out.data(), n, kind, param, threads};
          PICK(t, regression)(a);
          if (&t == &kS) terms = copy_out(out);
          return Out<T>{{}, copy_out(out), out.guards_ok()};
        });
        run_and_compare<T>(e, what + " sum", {{Tol<T>::r, Tol<T>::r * abs_sum(terms)}}, {0, 0},
                           [&](const KernelTable& t, int threads) {
          RegressionArgs a{x.data(), y.data(), nullptr, n, kind, param, threads};
          return Out<T>{{PICK(t, regression)(a)}, {}, true};
        });
      }
    }
}

// ---------------------------------------------------------------- probes
template <class T>
void test_probes() {
  const std::string er = entry<T>("probe_read"), ec = entry<T>("probe_copy");
  for (std::int64_t n : {std::int64_t(0), std::int64_t(1), std::int64_t(3), std::int64_t(5), std::int64_t(17),
                         std::int64_t(1000), std::int64_t(100003)}) {
    // Small integers: every partial sum is exact, so the sums must agree exactly.
    std::vector<T> iv(n);
    for (auto& v : iv) v = static_cast<T>(rint_in(-8, 8));
    const Guarded<T> xi(iv);
    run_and_compare<T>(er, fmt("n=%lld", (long long)n), {{0, 0}}, {0, 0}, [&](const KernelTable& t, int threads) {
      ProbeReadArgs a{xi.data(), n, threads};
      return Out<T>{{PICK_F(t, probe_read)(a)}, {}, true};
    });
    std::vector<T> cv = gauss_vec<T>(n, 10);
    inject(cv, generic_edges<T>(), 0.01);
    const Guarded<T> xc(cv);
    run_and_compare<T>(ec, fmt("n=%lld", (long long)n), {}, {0, 0}, [&](const KernelTable& t, int threads) {
      OutBuf<T> out(n);
      ProbeCopyArgs a{xc.data(), out.data(), n, threads};
      PICK_F(t, probe_copy)(a);
      const std::vector<T> o = copy_out(out);
      record(ec, n == 0 || std::memcmp(o.data(), cv.data(), n * sizeof(T)) == 0,
             fmt("n=%lld: copy is not bitwise equal to the source (%s)", (long long)n, t.isa));
      return Out<T>{{}, o, out.guards_ok()};
    });
  }
}

void test_probe_exp() {
  const std::string e = "probe_exp_f32";
  tested().insert(e);
  // Scalar runs n/4 steps of 1 lane, neon n/16 steps of 4 identical lanes: with n_neon =
  // 4 n_scalar both take the same steps, and neon's checksum is exactly 4x the scalar one.
  for (std::int64_t steps : {0, 1, 5, 17, 1000, 5003}) {
    const double s = kS.probe_exp_f32(ProbeExpArgs{4 * steps, 1});
    const double n1 = kN.probe_exp_f32(ProbeExpArgs{16 * steps, 1});
    const double n3 = kN.probe_exp_f32(ProbeExpArgs{16 * steps, 3});
    check_exact(e, fmt("steps=%lld: 4 x scalar vs neon", (long long)steps), 4 * s, n1);
    record(e, same_bits(n1, n3), fmt("steps=%lld: neon differs between 1 and 3 threads", (long long)steps));
    record(e, steps == 0 || (std::isfinite(s) && s > 0),
           fmt("steps=%lld: checksum %g not finite positive", (long long)steps, s));
  }
}

// ---------------------------------------------------------------- regression_stats
template <class T>
void test_regression_stats() {
  const std::string e = entry<T>("regression_stats");
  const double r = Tol<T>::r;
  for (std::int64_t n : {std::int64_t(0), std::int64_t(1), std::int64_t(3), std::int64_t(5), std::int64_t(17),
                         std::int64_t(1000), std::int64_t(100003)})
    for (int wmode = 0; wmode < 2; ++wmode)
      for (bool edge : {false, true}) {
        using W = CompOf<T>;  // the weight: float32 for half data
        std::vector<T> xv = gauss_vec<T>(n, 2, 1), yv = gauss_vec<T>(n, 3, 5);
        std::vector<W> wv = uni_vec<W>(n, 0, 2);
        for (auto& w : wv)
          if (coin(0.1)) w = 0;
        if (edge) {
          inject(xv, {Lim<T>::nan(), Lim<T>::denorm(), -T(0)}, 0.002);
          inject(wv, {W(0), Lim<W>::denorm()}, 0.01);
        }
        double ymax = 0;
        for (T y : yv) ymax = std::max(ymax, std::fabs(double(y)));
        const Guarded<T> x(xv), y(yv);
        const Guarded<W> w(wv);
        for (double delta : {1.0, 0.25}) {
          run_and_compare<T>(e,
                             fmt("n=%lld weight=%d delta=%g %s", (long long)n, wmode, delta, edge ? "edge" : "clean"),
                             {{0, 0}, {r, 0}, {r, 0}, {r, 0}, {r, 0}, {0, 0}, {r, r * ymax}, {r, 0}}, {0, 0},
                             [&](const KernelTable& t, int threads) {
            RegressionStatsArgs a{x.data(), y.data(), wmode ? w.data() : nullptr, n, delta, threads};
            const RegressionStats s = PICK(t, regression_stats)(a);
            return Out<T>{
                {double(s.count), s.weight_sum, s.sq_sum, s.abs_sum, s.huber_sum, s.max_abs, s.y_mean, s.y_m2},
                {},
                true};
          });
        }
      }
}

// ---------------------------------------------------------------- binary
// A periodic weight as the Python layer passes it: the weight itself (period n), or a tile of
// a short base pattern (period a multiple of it, >= kWeightTilePad, plus kWeightTilePad more).
template <class T>
struct Weight {
  Guarded<T> mem;
  PeriodicWeight pw{nullptr, 1};
};
template <class T>
Weight<T> make_weight(int mode, std::int64_t n, double lo, double hi) {
  Weight<T> w;
  if (mode == 0) return w;
  if (mode == 1) {
    w.mem = Guarded<T>(uni_vec<T>(n, lo, hi));
    w.pw = PeriodicWeight{w.mem.data(), std::max<std::int64_t>(n, 1)};
    return w;
  }
  const std::int64_t q = 5, period = q * ((kWeightTilePad + q - 1) / q);
  const std::vector<T> base = uni_vec<T>(q, lo, hi);
  std::vector<T> tile(period + kWeightTilePad);
  for (std::size_t i = 0; i < tile.size(); ++i) tile[i] = base[i % q];
  w.mem = Guarded<T>(tile);
  w.pw = PeriodicWeight{w.mem.data(), period};
  return w;
}

template <class T>
void test_bce() {
  const std::string e = entry<T>("bce");
  const double r = Tol<T>::r;
  for (std::int64_t n : kSizes)
    for (int ymode = 0; ymode < 3; ++ymode)     // soft, hard, mixed
      for (int emode = 0; emode < 3; ++emode)   // clean, valid edge values, bad values
        for (int wmode = 0; wmode < 3; ++wmode) {  // none, full, periodic
          std::vector<T> p = uni_vec<T>(n, 0, 1), y(n);
          for (auto& v : p) {
            if (coin(0.05)) v = 0;
            if (coin(0.05)) v = 1;
          }
          for (std::int64_t i = 0; i < n; ++i) {
            const bool hard = ymode == 1 || (ymode == 2 && (i / 8) % 3 != 0);
            y[i] = hard ? T(rint_in(0, 1)) : static_cast<T>(uni(0, 1));
          }
          if (emode == 1) inject(p, {T(0), T(1), -T(0), Lim<T>::denorm(), Lim<T>::below(T(1)), Lim<T>::tiny()}, 0.02);
          if (emode == 2) {
            inject(p, {Lim<T>::nan(), T(1.5), T(-0.25), Lim<T>::inf()}, 0.0005);
            inject(y, {T(-0.1), Lim<T>::nan()}, 0.0005);
          }
          const Guarded<T> pg(p), yg(y);
          const Weight<CompOf<T>> w = make_weight<CompOf<T>>(wmode, n, 0, 2);
          const std::string what = fmt("n=%lld y=%d edge=%d weight=%d", (long long)n, ymode, emode, wmode);
          std::vector<T> terms;
          run_and_compare<T>(e, what + " out", {{0, 0}}, {r, 0}, [&](const KernelTable& t, int threads) {
            OutBuf<T> out(n);
            BceArgs a{pg.data(), yg.data(), w.pw, out.data(), n, threads};
            const BceResult res = PICK(t, bce)(a);
            if (&t == &kS) terms = copy_out(out);
            // With a bad element the chunk stops: the out array is partial, compare first_bad only.
            return Out<T>{
                {double(res.first_bad)}, res.first_bad >= 0 ? std::vector<T>{} : copy_out(out), out.guards_ok()};
          });
          run_and_compare<T>(e, what + " sum", {{r, r * abs_sum(terms)}, {0, 0}}, {0, 0},
                             [&](const KernelTable& t, int threads) {
            BceArgs a{pg.data(), yg.data(), w.pw, nullptr, n, threads};
            const BceResult res = PICK(t, bce)(a);
            return Out<T>{{res.sum, double(res.first_bad)}, {}, true};
          });
        }
}

template <class T>
void test_bce_with_logits() {
  const std::string e = entry<T>("bce_with_logits");
  const double r = Tol<T>::r;
  for (std::int64_t n : kSizes)
    for (bool edge : {false, true})
      for (int wmode = 0; wmode < 3; ++wmode)
        for (int pmode = 0; pmode < 3; ++pmode) {
          std::vector<T> x = gauss_vec<T>(n, 4), y = uni_vec<T>(n, 0, 1);
          for (auto& v : x)
            if (coin(0.03)) v = static_cast<T>((coin(0.5) ? 1 : -1) * (coin(0.5) ? 30.0 : 120.0));
          for (auto& v : y)
            if (coin(0.3)) v = T(rint_in(0, 1));
          if (edge) {
            inject(x, generic_edges<T>(), 0.005);
            inject(y, {Lim<T>::nan(), Lim<T>::denorm(), T(0), T(1)}, 0.002);
          }
          const Guarded<T> xg(x), yg(y);
          const Weight<CompOf<T>> w = make_weight<CompOf<T>>(wmode, n, 0, 2),
                                  pw = make_weight<CompOf<T>>(pmode, n, 0.5, 3);
          const std::string what = fmt("n=%lld %s weight=%d pos_weight=%d", (long long)n, edge ? "edge" : "clean",
                                       wmode, pmode);
          std::vector<T> terms;
          run_and_compare<T>(e, what + " out", {{0, 0}}, {r, 0}, [&](const KernelTable& t, int threads) {
            OutBuf<T> out(n);
            BceWithLogitsArgs a{xg.data(), yg.data(), w.pw, pw.pw, out.data(), n, threads};
            PICK(t, bce_with_logits)(a);
            if (&t == &kS) terms = copy_out(out);
            return Out<T>{{}, copy_out(out), out.guards_ok()};
          });
          run_and_compare<T>(e, what + " sum", {{r, r * abs_sum(terms)}}, {0, 0},
                             [&](const KernelTable& t, int threads) {
            BceWithLogitsArgs a{xg.data(), yg.data(), w.pw, pw.pw, nullptr, n, threads};
            return Out<T>{{PICK(t, bce_with_logits)(a)}, {}, true};
          });
        }
}

// ---------------------------------------------------------------- divergence
template <class T>
void test_kl_div() {
  const std::string e = entry<T>("kl_div");
  const double r = Tol<T>::r;
  for (std::int64_t n : kSizes)
    for (bool log_target : {false, true})
      for (bool edge : {false, true}) {
        std::vector<T> x(n), y(n);
        for (std::int64_t i = 0; i < n; ++i) {
          x[i] = static_cast<T>(std::log(uni(1e-4, 1)));
          const double p = coin(0.1) ? 0.0 : uni(0, 1);
          y[i] = static_cast<T>(log_target ? std::log(std::max(p, 1e-6)) : p);
        }
        if (edge) {
          inject(x, {Lim<T>::nan(), -Lim<T>::inf(), Lim<T>::inf(), -Lim<T>::denorm(), T(0)}, 0.005);
          inject(y,
                 log_target ? std::vector<T>{Lim<T>::nan(), -Lim<T>::inf(), T(0), -Lim<T>::denorm()}
                            : std::vector<T>{Lim<T>::nan(), Lim<T>::inf(), T(0), Lim<T>::denorm(), T(1), T(-0.5)},
                 0.005);
        }
        const Guarded<T> xg(x), yg(y);
        const std::string what = fmt("n=%lld log_target=%d %s", (long long)n, int(log_target), edge ? "edge" : "clean");
        std::vector<T> terms;
        run_and_compare<T>(e, what + " out", {{0, 0}}, {r, 0}, [&](const KernelTable& t, int threads) {
          OutBuf<T> out(n);
          KlDivArgs a{xg.data(), yg.data(), out.data(), n, log_target, threads};
          PICK(t, kl_div)(a);
          if (&t == &kS) terms = copy_out(out);
          return Out<T>{{}, copy_out(out), out.guards_ok()};
        });
        run_and_compare<T>(e, what + " sum", {{r, r * abs_sum(terms)}}, {0, 0}, [&](const KernelTable& t, int threads) {
          KlDivArgs a{xg.data(), yg.data(), nullptr, n, log_target, threads};
          return Out<T>{{PICK(t, kl_div)(a)}, {}, true};
        });
      }
}

struct Shape {
  std::int64_t outer, classes, inner;
};

template <class T>
void test_entropy() {
  const std::string e = entry<T>("entropy");
  const Shape shapes[] = {{100003, 5, 1}, {1000, 17, 1},   {17, 3, 1},   {5, 1, 1},      {3, 31, 1},
                          {1, 1, 1},      {1000, 1000, 1}, {17, 33, 1},  {3, 100003, 1}, {1, 32, 1},
                          {1, 131075, 1}, {2, 131089, 1},  {3, 5, 1000}, {17, 17, 17},   {1, 1000, 257},
                          {1000, 3, 5},   {5, 3, 100003},  {3, 0, 5},    {0, 5, 3},      {1, 5, 1}};
  for (const Shape& sh : shapes)
    for (bool edge : {false, true}) {
      const std::int64_t total = sh.outer * sh.classes * sh.inner, rows = sh.outer * sh.inner;
      std::vector<T> p = uni_vec<T>(total, 0, 1);
      for (auto& v : p)
        if (coin(0.1)) v = 0;
      if (edge) inject(p, {Lim<T>::nan(), T(-0.5), Lim<T>::inf(), Lim<T>::denorm(), T(0), T(1), -T(0)}, 0.0005);
      const Guarded<T> pg(p);
      run_and_compare<T>(e,
                         fmt("shape=(%lld,%lld,%lld) %s", (long long)sh.outer, (long long)sh.classes,
                             (long long)sh.inner, edge ? "edge" : "clean"),
                         {{0, 0}}, {Tol<T>::r, 0}, [&](const KernelTable& t, int threads) {
        OutBuf<T> out(rows);
        EntropyArgs a{pg.data(), out.data(), sh.outer, sh.classes, sh.inner, threads};
        PICK(t, entropy)(a);
        return Out<T>{{}, copy_out(out), out.guards_ok()};
      });
    }
}

// ---------------------------------------------------------------- softmax family
// Logits: N(0, 3) plus a per-row offset (some rows at +-50), confident rows (one class +25)
// and a few masked classes (-inf); edge adds NaN, +inf, all -inf rows and subnormals.
template <class T>
std::vector<T> make_logits(const Shape& sh, bool edge) {
  const std::int64_t C = sh.classes, S = sh.inner;
  std::vector<T> x(sh.outer * C * S);
  for (std::int64_t o = 0; o < sh.outer; ++o)
    for (std::int64_t s = 0; s < S; ++s) {
      const double off = coin(0.2) ? (coin(0.5) ? 50.0 : -50.0) : uni(-3, 3);
      const std::int64_t hot = coin(0.2) ? rint_in(0, std::max<std::int64_t>(C - 1, 0)) : -1;
      const int kind = edge ? int(rint_in(0, 9)) : 0;
      for (std::int64_t c = 0; c < C; ++c) {
        double v = off + 3 * gauss();
        if (c == hot) v += 25;
        if (C > 2 && coin(0.02)) v = -INFINITY;
        if (kind == 1 && coin(0.05)) v = NAN;
        if (kind == 2 && coin(0.05)) v = INFINITY;
        if (kind == 3) v = -INFINITY;
        if (kind == 4 && coin(0.3)) v = double(Lim<T>::denorm());
        x[(o * C + c) * S + s] = static_cast<T>(v);
      }
    }
  if (edge && !x.empty()) {  // NaN in the first and the last element
    x.front() = Lim<T>::nan();
    x.back() = Lim<T>::nan();
  }
  return x;
}

template <class T>
double finite_max_abs(const std::vector<T>& v) {
  double m = 0;
  for (T x : v)
    if (std::isfinite(x)) m = std::max(m, std::fabs(double(x)));
  return m;
}

const Shape kSoftmaxShapes[] = {{1000, 1000, 1}, {17, 49, 1},  {3, 100003, 1}, {5, 333, 1},    {100003, 5, 1},
                                {1000, 17, 1},   {17, 48, 1},  {5, 1, 1},      {1, 3, 1},      {3, 1, 1},
                                {3, 5, 1000},    {17, 17, 17}, {1, 1000, 5},   {3, 3, 100003}, {1, 0, 3},
                                {0, 3, 1},       {1, 5, 1},    {33, 9, 1}};

template <class T>
void test_softmax() {
  const std::string e = entry<T>("softmax");
  const double r = Tol<T>::r;
  const double tiny_out = std::is_same_v<T, double> ? std::ldexp(1.0, -1020) : std::ldexp(1.0, -124);
  for (const Shape& sh : kSoftmaxShapes)
    for (bool edge : {false, true}) {
      const std::vector<T> xv = make_logits<T>(sh, edge);
      const Guarded<T> x(xv);
      const double xs = finite_max_abs(xv) + std::log(double(std::max<std::int64_t>(sh.classes, 1))) + 1;
      const std::int64_t total = sh.outer * sh.classes * sh.inner, rows = sh.outer * sh.inner;
      const std::string base = fmt("shape=(%lld,%lld,%lld) %s", (long long)sh.outer, (long long)sh.classes,
                                   (long long)sh.inner, edge ? "edge" : "clean");
      // softmax: outputs below ~2^-126 (2^-1022) depend on the ISA's fold shift (see row_engine.hpp).
      run_and_compare<T>(e, base + " softmax", {{0, 0}}, {r, tiny_out}, [&](const KernelTable& t, int threads) {
        OutBuf<T> out(total);
        SoftmaxArgs a{x.data(), out.data(), sh.outer, sh.classes, sh.inner, SoftmaxKind::kSoftmax,
                      false,    false,      threads};
        PICK(t, softmax)(a);
        return Out<T>{{}, copy_out(out), out.guards_ok()};
      });
      run_and_compare<T>(e, base + " log_softmax", {{0, 0}}, {r, r * xs}, [&](const KernelTable& t, int threads) {
        OutBuf<T> out(total);
        SoftmaxArgs a{x.data(), out.data(), sh.outer, sh.classes, sh.inner, SoftmaxKind::kLogSoftmax,
                      false,    false,      threads};
        PICK(t, softmax)(a);
        return Out<T>{{}, copy_out(out), out.guards_ok()};
      });
      run_and_compare<T>(e, base + " logsumexp", {{0, 0}}, {r, r}, [&](const KernelTable& t, int threads) {
        OutBuf<T> out(rows);
        SoftmaxArgs a{x.data(), out.data(), sh.outer, sh.classes, sh.inner, SoftmaxKind::kLogSumExp,
                      false,    false,      threads};
        PICK(t, softmax)(a);
        return Out<T>{{}, copy_out(out), out.guards_ok()};
      });
      // logsumexp into float64 (compared through the out array of doubles, cast to T's slot).
      {
        OutBuf<double> s(rows), n1(rows), n3(rows);
        for (auto [tab, buf, th] : {std::tuple{&kS, &s, 1}, std::tuple{&kN, &n1, 1}, std::tuple{&kN, &n3, 3}}) {
          SoftmaxArgs a{x.data(), buf->data(), sh.outer, sh.classes, sh.inner, SoftmaxKind::kLogSumExp,
                        true,     false,       th};
          PICK(*tab, softmax)(a);
        }
        record(e, s.guards_ok() && n1.guards_ok() && n3.guards_ok(), base + " logsumexp f64: guard overwritten");
        record(e, rows == 0 || std::memcmp(n1.data(), n3.data(), rows * sizeof(double)) == 0,
               base + " logsumexp f64: neon differs between 1 and 3 threads");
        check_arrays<double>(e, base + " logsumexp f64", s.data(), n1.data(), rows, r, r);
      }
      // logsumexp of half data into float32 (out_f32).
      if constexpr (kIsHalfValue<T>) {
        OutBuf<float> s(rows), n1(rows), n3(rows);
        for (auto [tab, buf, th] : {std::tuple{&kS, &s, 1}, std::tuple{&kN, &n1, 1}, std::tuple{&kN, &n3, 3}}) {
          SoftmaxArgs a{x.data(), buf->data(), sh.outer, sh.classes, sh.inner, SoftmaxKind::kLogSumExp,
                        false,    true,        th};
          PICK(*tab, softmax)(a);
        }
        record(e, s.guards_ok() && n1.guards_ok() && n3.guards_ok(), base + " logsumexp f32: guard overwritten");
        record(e, rows == 0 || std::memcmp(n1.data(), n3.data(), rows * sizeof(float)) == 0,
               base + " logsumexp f32: neon differs between 1 and 3 threads");
        check_arrays<float>(e, base + " logsumexp f32", s.data(), n1.data(), rows, r, r);
      }
    }
}

// ---------------------------------------------------------------- cross-entropy, nll_loss
template <class T>
struct CeData {
  std::vector<T> x, y;
  std::vector<CompOf<T>> w;  // class weights: float32 for half logits
  std::vector<std::int32_t> t32;
  std::vector<std::int64_t> t64;
};

template <class T>
CeData<T> make_ce(const Shape& sh, bool edge, bool log_probs, std::int64_t ignore) {
  CeData<T> d;
  const std::int64_t C = sh.classes, S = sh.inner, rows = sh.outer * S;
  d.x = make_logits<T>(sh, edge);
  if (log_probs)
    for (auto& v : d.x) v = static_cast<T>(-std::fabs(double(v)) / 10);
  d.w = uni_vec<CompOf<T>>(C, 0.1, 2);
  for (std::int64_t r = 0; r < rows; ++r) {
    std::int64_t t = C > 0 ? rint_in(0, C - 1) : 0;
    if (coin(0.05)) t = ignore;
    if (edge && coin(0.002)) t = coin(0.5) ? C : -1 - rint_in(0, 5);
    if (C == 0) t = ignore;
    d.t32.push_back(static_cast<std::int32_t>(t));
    d.t64.push_back(t);
  }
  // Probability targets: a softmax of random values, some exact zeros.
  d.y.assign(d.x.size(), T(0));
  for (std::int64_t o = 0; o < sh.outer; ++o)
    for (std::int64_t s = 0; s < S; ++s) {
      double sum = 0;
      std::vector<double> p(C);
      for (std::int64_t c = 0; c < C; ++c) sum += (p[c] = coin(0.2) ? 0.0 : std::exp(2 * gauss()));
      for (std::int64_t c = 0; c < C; ++c) d.y[(o * C + c) * S + s] = static_cast<T>(sum > 0 ? p[c] / sum : 0);
    }
  if (edge) inject(d.y, {Lim<T>::nan(), Lim<T>::denorm(), T(0)}, 0.0005);
  return d;
}

// cross_entropy calls the cross_entropy_inner entry where the class axis is not last
// (n_inner > 1), as bindings.cpp does.
template <class T>
void test_ce_family(bool nll) {
  const std::string e_rows = entry<T>(nll ? "nll_loss" : "cross_entropy");
  const std::string e_inner = nll ? e_rows : entry<T>("cross_entropy_inner");
  const double r = Tol<T>::r;
  long combo = 0;
  for (const Shape& sh : kSoftmaxShapes)
    for (bool edge : {false, true}) {
      const std::int64_t rows = sh.outer * sh.inner, total = rows * sh.classes;
      const std::int64_t ignore = combo++ % 2 ? -100 : 2;  // 2 is a valid class: ignored all the same
      const CeData<T> d = make_ce<T>(sh, edge, nll, ignore);
      const Guarded<T> x(d.x), y(d.y);
      const Guarded<CompOf<T>> w(d.w);
      const std::string& e = sh.inner > 1 ? e_inner : e_rows;
      const Guarded<std::int32_t> t32(d.t32);
      const Guarded<std::int64_t> t64(d.t64);
      const double xs = finite_max_abs(d.x) + std::log(double(std::max<std::int64_t>(sh.classes, 1))) + 1;
      const bool big = total > 200000;
      for (int kind = 0; kind < (nll ? 2 : 3); ++kind)
        for (int wmode = 0; wmode < 2; ++wmode)
          for (double eps : nll ? std::vector<double>{0.0} : std::vector<double>{0.0, 0.1}) {
            // Big shapes: a rotating subset of the flag combinations (qemu time).
            if (big && (kind * 4 + wmode * 2 + int(eps > 0) + combo) % 4 != 0) continue;
            const TargetKind tk = kind == 0 ? TargetKind::kInt32 : kind == 1 ? TargetKind::kInt64 : TargetKind::kProb;
            const void* tgt = kind == 0   ? static_cast<const void*>(t32.data())
                              : kind == 1 ? static_cast<const void*>(t64.data())
                                          : static_cast<const void*>(y.data());
            const std::string what = fmt("shape=(%lld,%lld,%lld) %s target=%d weight=%d eps=%g ignore=%lld",
                                         (long long)sh.outer, (long long)sh.classes, (long long)sh.inner,
                                         edge ? "edge" : "clean", kind, wmode, eps, (long long)ignore);
            std::vector<T> per_row;
            auto call = [&](const KernelTable& t, int threads, T* out) {
              CrossEntropyArgs a{
                  x.data(), tgt,    wmode ? w.data() : nullptr, out, sh.outer, sh.classes, sh.inner, ignore, eps,
                  tk,       threads};
              return nll            ? PICK(t, nll_loss)(a)
                     : sh.inner > 1 ? PICK(t, cross_entropy_inner)(a)
                                    : PICK(t, cross_entropy)(a);
            };
            run_and_compare<T>(e, what + " out", {{r, r * rows}, {r, 0}, {0, 0}}, {r, r * xs},
                               [&](const KernelTable& t, int threads) {
              OutBuf<T> out(rows);
              const CrossEntropyResult res = call(t, threads, out.data());
              if (&t == &kS) per_row = copy_out(out);
              return Out<T>{{res.loss_sum, res.weight_sum, double(res.first_bad)}, copy_out(out), out.guards_ok()};
            });
            run_and_compare<T>(e, what + " sum", {{r, r * (abs_sum(per_row) + rows)}, {r, 0}, {0, 0}}, {0, 0},
                               [&](const KernelTable& t, int threads) {
              const CrossEntropyResult res = call(t, threads, nullptr);
              return Out<T>{{res.loss_sum, res.weight_sum, double(res.first_bad)}, {}, true};
            });
          }
    }
}

// ---------------------------------------------------------------- evaluate
template <class T>
void test_evaluate() {
  const std::string e = entry<T>("evaluate");
  const double r = Tol<T>::r;
  long combo = 0;
  for (const Shape& sh : kSoftmaxShapes)
    for (bool edge : {false, true}) {
      const std::int64_t rows = sh.outer * sh.inner, total = rows * sh.classes;
      const std::int64_t ignore = combo++ % 2 ? -100 : 2;
      const CeData<T> d = make_ce<T>(sh, edge, false, ignore);
      std::vector<double> swv(rows);
      for (auto& v : swv) v = coin(0.1) ? 0.0 : uni(0, 2);
      const Guarded<T> x(d.x);
      const Guarded<CompOf<T>> w(d.w);
      const Guarded<double> sw(swv);
      const Guarded<std::int32_t> t32(d.t32);
      const Guarded<std::int64_t> t64(d.t64);
      const std::vector<std::int64_t> ks = combo % 3 ? std::vector<std::int64_t>{1, 3, 5, 17}
                                                     : std::vector<std::int64_t>{1, 2,  3,  4,  5,  6,  7,  8,
                                                                                 9, 10, 11, 12, 13, 14, 15, 1000};
      const Guarded<std::int64_t> kg(ks);
      const int nk = static_cast<int>(ks.size());
      const double xs = finite_max_abs(d.x) + std::log(double(std::max<std::int64_t>(sh.classes, 1))) + 1;
      const bool big = total > 200000;
      for (int c = 0; c < 16; ++c) {
        if (big && (c + combo) % 8 != 0) continue;  // big shapes: a rotating subset (qemu time)
        const int kind = c & 1, wmode = (c >> 1) & 1, swmode = (c >> 3) & 1;
        const double eps = (c >> 2) & 1 ? 0.1 : 0.0;
        const std::string what = fmt("shape=(%lld,%lld,%lld) %s target=%d weight=%d eps=%g sample_weight=%d nk=%d",
                                     (long long)sh.outer, (long long)sh.classes, (long long)sh.inner,
                                     edge ? "edge" : "clean", kind, wmode, eps, swmode, nk);
        auto call = [&](const KernelTable& t, int threads, T* o_loss, std::int64_t* o_rank, T* o_ent, T* o_lse) {
          EvaluateArgs a{x.data(),
                         kind ? static_cast<const void*>(t64.data()) : static_cast<const void*>(t32.data()),
                         wmode ? w.data() : nullptr,
                         swmode ? sw.data() : nullptr,
                         kg.data(),
                         nk,
                         o_loss,
                         o_rank,
                         o_ent,
                         o_lse,
                         sh.outer,
                         sh.classes,
                         sh.inner,
                         ignore,
                         eps,
                         kind ? TargetKind::kInt64 : TargetKind::kInt32,
                         threads};
          return PICK(t, evaluate)(a);
        };
        auto vals_of = [&](const EvaluateResult& res) {
          std::vector<double> v{res.loss, res.loss_weight, res.weight, res.entropy, res.lse};
          for (int j = 0; j < nk; ++j) v.push_back(res.hits[j]);
          v.push_back(double(res.count));
          v.push_back(double(res.first_bad));
          return v;
        };
        auto tols = [&](double a_loss, double a_ent, double a_lse) {
          std::vector<Tols> t{{r, a_loss}, {r, 0}, {r, 0}, {r, a_ent}, {r, a_lse}};
          for (int j = 0; j < nk; ++j) t.push_back({r, 0});
          t.push_back({0, 0});
          t.push_back({0, 0});
          return t;
        };
        std::vector<T> s_loss, s_ent, s_lse;
        const double loose = r * xs * double(rows);
        run_and_compare<T>(e, what + " out", tols(loose, loose, loose), {r, r * xs},
                           [&](const KernelTable& t, int threads) {
          OutBuf<T> ol(rows), oe(rows), os(rows);
          OutBuf<std::int64_t> ork(rows);
          const EvaluateResult res = call(t, threads, ol.data(), ork.data(), oe.data(), os.data());
          Out<T> o{vals_of(res), copy_out(ol), ol.guards_ok() && oe.guards_ok() && os.guards_ok() && ork.guards_ok(),
                   copy_out(ork)};
          const std::vector<T> ve = copy_out(oe), vs = copy_out(os);
          if (&t == &kS) {
            s_loss = o.arr;
            s_ent = ve;
            s_lse = vs;
          }
          o.arr.insert(o.arr.end(), ve.begin(), ve.end());
          o.arr.insert(o.arr.end(), vs.begin(), vs.end());
          return o;
        });
        const double n_r = double(rows);
        run_and_compare<T>(e, what + " sums",
                           tols(r * (abs_sum(s_loss) + n_r), r * (abs_sum(s_ent) + n_r), r * (abs_sum(s_lse) + n_r)),
                           {0, 0}, [&](const KernelTable& t, int threads) {
          return Out<T>{vals_of(call(t, threads, nullptr, nullptr, nullptr, nullptr)), {}, true, {}};
        });
      }
    }
}

struct Test {
  const char* name;
  void (*run)();
};
const Test kTests[] = {
    {"primitives", run_primitive_checks},
    {"math_f32", test_math<float>},
    {"math_f64", test_math<double>},
    {"regression_f32", test_regression<float>},
    {"regression_f64", test_regression<double>},
    {"probe_f32", test_probes<float>},
    {"probe_f64", test_probes<double>},
    {"probe_exp_f32", test_probe_exp},
    {"regression_stats_f32", test_regression_stats<float>},
    {"regression_stats_f64", test_regression_stats<double>},
    {"bce_f32", test_bce<float>},
    {"bce_f64", test_bce<double>},
    {"bce_with_logits_f32", test_bce_with_logits<float>},
    {"bce_with_logits_f64", test_bce_with_logits<double>},
    {"kl_div_f32", test_kl_div<float>},
    {"kl_div_f64", test_kl_div<double>},
    {"entropy_f32", test_entropy<float>},
    {"entropy_f64", test_entropy<double>},
    {"softmax_f32", test_softmax<float>},
    {"softmax_f64", test_softmax<double>},
    {"cross_entropy_f32", [] { test_ce_family<float>(false); }},
    {"cross_entropy_f64", [] { test_ce_family<double>(false); }},
    {"nll_loss_f32", [] { test_ce_family<float>(true); }},
    {"nll_loss_f64", [] { test_ce_family<double>(true); }},
    {"evaluate_f32", test_evaluate<float>},
    {"evaluate_f64", test_evaluate<double>},
    // The half entries.
    {"regression_bf16", test_regression<HBf16>},
    {"regression_f16", test_regression<HF16>},
    {"regression_stats_bf16", test_regression_stats<HBf16>},
    {"regression_stats_f16", test_regression_stats<HF16>},
    {"bce_bf16", test_bce<HBf16>},
    {"bce_f16", test_bce<HF16>},
    {"bce_with_logits_bf16", test_bce_with_logits<HBf16>},
    {"bce_with_logits_f16", test_bce_with_logits<HF16>},
    {"kl_div_bf16", test_kl_div<HBf16>},
    {"kl_div_f16", test_kl_div<HF16>},
    {"entropy_bf16", test_entropy<HBf16>},
    {"entropy_f16", test_entropy<HF16>},
    {"softmax_bf16", test_softmax<HBf16>},
    {"softmax_f16", test_softmax<HF16>},
    {"cross_entropy_bf16", [] { test_ce_family<HBf16>(false); }},
    {"cross_entropy_f16", [] { test_ce_family<HF16>(false); }},
    {"nll_loss_bf16", [] { test_ce_family<HBf16>(true); }},
    {"nll_loss_f16", [] { test_ce_family<HF16>(true); }},
    {"evaluate_bf16", test_evaluate<HBf16>},
    {"evaluate_f16", test_evaluate<HF16>},
};

}  // namespace

// kernel_check [-v] [NAME...]: runs the tests whose name contains one of the NAMEs (all by
// default; the untested-entry check only then). -v prints the failures of every entry.
int main(int argc, char** argv) {
  bool verbose = false;
  std::vector<std::string> filters;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-v") verbose = true;
    else filters.push_back(argv[i]);
  }
  std::printf("kernel_check: tables '%s' (reference) and '%s'\n", kS.isa, kN.isa);
  for (const Test& t : kTests) {
    bool want = filters.empty();
    for (const std::string& f : filters) want = want || std::string(t.name).find(f) != std::string::npos;
    if (!want) continue;
    const auto t0 = std::chrono::steady_clock::now();
    t.run();
    std::printf("  time: %-24s %6.1f s\n", t.name,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  }

  // Every entry of kernels/list.hpp must have been tested.
  const char* entries[] = {
#define KERNEL_CHECK_NAME(name, ret, args) #name,
      FASTLOSS_KERNELS(KERNEL_CHECK_NAME)
#undef KERNEL_CHECK_NAME
  };
  int failed = 0;
  for (const char* name : entries) {
    if (filters.empty() && !tested().count(name)) {
      std::printf("UNTESTED %-24s (an entry of kernels/list.hpp this harness does not call yet)\n", name);
      ++failed;
    }
  }
  for (const auto& [name, r] : report()) {
    const bool ok = r.fails == 0;
    if (!ok) ++failed;
    std::printf("%s %-34s %6ld checks", ok ? "PASS" : "FAIL", name.c_str(), r.cases);
    if (r.elems) std::printf(", %ld elements, %ld not bitwise equal to scalar", r.elems, r.bit_diffs);
    std::printf("\n");
    if (!ok || verbose)
      for (const std::string& m : r.msgs) std::printf("     %s\n", m.c_str());
  }
  std::printf("kernel_check: %s (%d failing or untested)\n", failed ? "FAILED" : "all passed", failed);
  return failed ? 1 : 0;
}
