// Lane-by-lane check of every primitive of simd/neon.hpp against its definition in
// simd/scalar.hpp (the one-lane Vec, used here as the oracle: both headers are included into
// this TU under two namespaces). Values cover NaN (two payloads, so that "returns the second
// operand" is checked bit for bit) in every lane position, +-0, +-inf, subnormals, ties and
// random values of all magnitudes. Results go to the report as "prim <type> <name>".
// The half loads and stores of Vec<float> (Bf16, F16) are checked against scalar.hpp's (the
// conversions of kernels/unaligned.hpp), and those against common.hpp's own conversions: every
// half bit pattern loaded; stored, every half value, the ties between neighbours and the floats
// next to them, overflow to inf, float16 subnormals, NaN payloads.
#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "common.hpp"

#define FASTLOSS_ISA prim_scalar
#include "simd/scalar.hpp"
#undef FASTLOSS_ISA
#define FASTLOSS_ISA prim_neon
#include "simd/neon.hpp"
#undef FASTLOSS_ISA

namespace S = fastloss::prim_scalar;
namespace N = fastloss::prim_neon;
using namespace kernel_check;

namespace {

template <class T>
struct Bits;
template <>
struct Bits<float> {
  using U = std::uint32_t;
  static constexpr int kMant = 23;
};
template <>
struct Bits<double> {
  using U = std::uint64_t;
  static constexpr int kMant = 52;
};

template <class T>
T from_bits(typename Bits<T>::U u) {
  T x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
template <class T>
typename Bits<T>::U to_bits(T x) {
  typename Bits<T>::U u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Bit-exact equality, or (nan_any) any NaN for any NaN.
template <class T>
bool agree(T ref, T got, bool nan_any) {
  if (nan_any && std::isnan(ref)) return std::isnan(got);
  return to_bits(ref) == to_bits(got);
}

std::string name_of(const char* type, const char* prim) { return std::string("prim ") + type + " " + prim; }

template <class T>
std::vector<T> pool() {
  using U = typename Bits<T>::U;
  constexpr int M = Bits<T>::kMant;
  const U exp_all = static_cast<U>(((U(1) << (sizeof(T) * 8 - 1 - M)) - 1)) << M;
  std::vector<T> p = {
      from_bits<T>(exp_all | (U(1) << (M - 1)) | 1),                            // +qNaN, payload 1
      from_bits<T>((U(1) << (sizeof(T) * 8 - 1)) | exp_all | (U(1) << (M - 1)) | 2),  // -qNaN, payload 2
      T(0),
      -T(0),
      T(1),
      T(-1),
      T(0.5),
      T(-0.5),
      T(1.5),
      T(-1.5),
      T(2.5),
      T(-2.5),
      T(3.5),
      T(-3.5),
      std::nextafter(T(0.5), T(0)),
      std::nextafter(T(1), T(2)),
      Lim<T>::inf(),
      -Lim<T>::inf(),
      Lim<T>::denorm(),
      -Lim<T>::denorm(),
      Lim<T>::tiny(),
      -Lim<T>::tiny(),
      Lim<T>::tiny() / T(3),
      -Lim<T>::tiny() / T(7),
      Lim<T>::max(),
      -Lim<T>::max(),
      std::ldexp(T(1), M) + T(1),
      -std::ldexp(T(1), M) - T(1),
      std::ldexp(T(1), M - 1) + T(0.5),
      T(1e30),
      T(-1e-30),
      T(100.25),
      T(-88.5)};
  for (int i = 0; i < 24; ++i)
    p.push_back(static_cast<T>(gauss() * std::ldexp(1.0, static_cast<int>(rint_in(-40, 40)))));
  return p;
}

bool mask_lanes(N::MaskF32 m, bool* out) {
  std::uint32_t u[4];
  vst1q_u32(u, m.raw);
  for (int k = 0; k < 4; ++k) {
    if (u[k] != 0 && u[k] != 0xffffffffu) return false;
    out[k] = u[k] != 0;
  }
  return true;
}
bool mask_lanes(N::MaskF64 m, bool* out) {
  std::uint64_t u[2];
  vst1q_u64(u, m.raw);
  for (int k = 0; k < 2; ++k) {
    if (u[k] != 0 && u[k] != ~std::uint64_t(0)) return false;
    out[k] = u[k] != 0;
  }
  return true;
}

// Runs body(i) over the vectors of n packed operands, at every lane rotation, so that each
// operand tuple visits every lane position.
template <int L, class Body>
void rotations(std::size_t n, Body body) {
  for (int r = 0; r < L; ++r)
    for (std::size_t i = r; i + L <= n; i += L) body(i);
}

template <class T>
struct Checker {
  explicit Checker(std::string n) : name(std::move(n)) {}
  std::string name;
  long bad = 0, total = 0;
  std::string first;
  template <class... A>
  void lane(bool ok, const char* f, A... a) {
    ++total;
    if (!ok && bad++ == 0) first = fmt(f, a...);
  }
  ~Checker() { record(name, bad == 0, fmt("%ld of %ld lanes wrong; first: %s", bad, total, first.c_str())); }
};

template <class T, class FN, class FS>
void check_binary(const char* prim, FN fn, FS fs, bool nan_any) {
  using VN = N::Vec<T>;
  using VS = S::Vec<T>;
  constexpr int L = VN::kLanes;
  const std::vector<T> p = pool<T>();
  std::vector<T> A, B;
  for (T a : p)
    for (T b : p) {
      A.push_back(a);
      B.push_back(b);
    }
  Checker<T> c{name_of(Tol<T>::name, prim)};
  rotations<L>(A.size(), [&](std::size_t i) {
    T out[L];
    fn(VN::load(&A[i]), VN::load(&B[i])).store(out);
    for (int k = 0; k < L; ++k) {
      const T ref = fs(VS::load(&A[i + k]), VS::load(&B[i + k])).raw;
      c.lane(agree(ref, out[k], nan_any), "lane %d a=%a b=%a: scalar %a neon %a", k, double(A[i + k]), double(B[i + k]),
             double(ref), double(out[k]));
    }
  });
}

template <class T, class FN, class FS>
void check_compare(const char* prim, FN fn, FS fs) {
  using VN = N::Vec<T>;
  using VS = S::Vec<T>;
  constexpr int L = VN::kLanes;
  const std::vector<T> p = pool<T>();
  std::vector<T> A, B;
  for (T a : p)
    for (T b : p) {
      A.push_back(a);
      B.push_back(b);
    }
  Checker<T> c{name_of(Tol<T>::name, prim)};
  rotations<L>(A.size(), [&](std::size_t i) {
    bool got[L];
    const bool valid = mask_lanes(fn(VN::load(&A[i]), VN::load(&B[i])), got);
    for (int k = 0; k < L; ++k) {
      const bool ref = fs(VS::load(&A[i + k]), VS::load(&B[i + k]));
      c.lane(valid && ref == got[k], "lane %d a=%a b=%a: scalar %d neon %d (mask valid %d)", k, double(A[i + k]),
             double(B[i + k]), int(ref), int(got[k]), int(valid));
    }
  });
}

template <class T, class FN, class FS>
void check_unary(const char* prim, const std::vector<T>& xs, FN fn, FS fs, bool nan_any) {
  using VN = N::Vec<T>;
  using VS = S::Vec<T>;
  constexpr int L = VN::kLanes;
  Checker<T> c{name_of(Tol<T>::name, prim)};
  rotations<L>(xs.size(), [&](std::size_t i) {
    T out[L];
    fn(VN::load(&xs[i])).store(out);
    for (int k = 0; k < L; ++k) {
      const T ref = fs(VS::load(&xs[i + k])).raw;
      c.lane(agree(ref, out[k], nan_any), "lane %d x=%a: scalar %a neon %a", k, double(xs[i + k]), double(ref),
             double(out[k]));
    }
  });
}

template <class T>
void check_type() {
  using VN = N::Vec<T>;
  using VS = S::Vec<T>;
  using U = typename Bits<T>::U;
  constexpr int L = VN::kLanes;
  constexpr int M = Bits<T>::kMant;
  const char* tn = Tol<T>::name;
  const std::vector<T> p = pool<T>();

  // Arithmetic: NaN-ness for NaN results (which NaN an FPU propagates is not part of the
  // interface), bits otherwise.
  check_binary<T>("add", [](VN a, VN b) { return a + b; }, [](VS a, VS b) { return a + b; }, true);
  check_binary<T>("sub", [](VN a, VN b) { return a - b; }, [](VS a, VS b) { return a - b; }, true);
  check_binary<T>("mul", [](VN a, VN b) { return a * b; }, [](VS a, VS b) { return a * b; }, true);
  check_binary<T>("div", [](VN a, VN b) { return a / b; }, [](VS a, VS b) { return a / b; }, true);
  // min/max: bit for bit, NaN payloads included (the second operand on NaN).
  check_binary<T>("min", [](VN a, VN b) { return N::min(a, b); }, [](VS a, VS b) { return S::min(a, b); }, false);
  check_binary<T>("max", [](VN a, VN b) { return N::max(a, b); }, [](VS a, VS b) { return S::max(a, b); }, false);
  check_compare<T>("lt", [](VN a, VN b) { return N::lt(a, b); }, [](VS a, VS b) { return S::lt(a, b); });
  check_compare<T>("le", [](VN a, VN b) { return N::le(a, b); }, [](VS a, VS b) { return S::le(a, b); });
  check_compare<T>("gt", [](VN a, VN b) { return N::gt(a, b); }, [](VS a, VS b) { return S::gt(a, b); });
  check_compare<T>("ge", [](VN a, VN b) { return N::ge(a, b); }, [](VS a, VS b) { return S::ge(a, b); });
  check_compare<T>("eq", [](VN a, VN b) { return N::eq(a, b); }, [](VS a, VS b) { return S::eq(a, b); });
  check_compare<T>("is_nan", [](VN a, VN) { return N::is_nan(a); }, [](VS a, VS) { return S::is_nan(a); });
  check_unary<T>("neg", p, [](VN a) { return -a; }, [](VS a) { return -a; }, false);
  check_unary<T>("abs", p, [](VN a) { return N::abs(a); }, [](VS a) { return S::abs(a); }, false);
  {
    Checker<T> c{name_of(tn, "set1")};
    for (T x : p) {
      T out[L];
      VN::set1(x).store(out);
      for (int k = 0; k < L; ++k) c.lane(agree(x, out[k], false), "set1(%a) lane %d: %a", double(x), k, double(out[k]));
    }
  }

  // round_even: ties, near-integers, the largest non-integers.
  {
    std::vector<T> xs = p;
    for (int k = -12; k <= 12; ++k) {
      xs.push_back(T(k) + T(0.5));
      xs.push_back(std::nextafter(T(k) + T(0.5), T(100)));
      xs.push_back(std::nextafter(T(k) + T(0.5), T(-100)));
      xs.push_back(T(k) - T(0.25));
    }
    for (int e = M - 3; e <= M + 1; ++e) {
      xs.push_back(std::ldexp(T(1), e) + T(0.5));
      xs.push_back(-std::ldexp(T(1), e) - T(0.5));
      xs.push_back(std::ldexp(T(1), e) - T(0.5));
    }
    for (int i = 0; i < 400; ++i) xs.push_back(static_cast<T>(uni(-3000, 3000)));
    check_unary<T>("round_even", xs, [](VN a) { return N::round_even(a); }, [](VS a) { return S::round_even(a); },
                   false);
  }

  // fma/fnma: pool triples, and triples whose fused result is the rounding error of a*b (an
  // unfused evaluation gives 0 there).
  {
    std::vector<T> A, B, C;
    const T cs[] = {T(0), -T(0), T(1), T(-3.5), Lim<T>::inf(), p[0], Lim<T>::denorm(), T(1e-20)};
    for (T a : p)
      for (T b : p)
        for (T cc : cs) {
          A.push_back(a);
          B.push_back(b);
          C.push_back(cc);
        }
    for (int i = 0; i < 20000; ++i) {
      const T a = static_cast<T>(uni(-4, 4)), b = static_cast<T>(uni(-4, 4));
      A.push_back(a);
      B.push_back(b);
      C.push_back(i % 2 ? -(a * b) : a * b);
    }
    for (int which = 0; which < 2; ++which) {
      Checker<T> c{name_of(tn, which ? "fnma" : "fma")};
      long fused_witness = 0;
      rotations<L>(A.size(), [&](std::size_t i) {
        T out[L];
        const VN a = VN::load(&A[i]), b = VN::load(&B[i]), cc = VN::load(&C[i]);
        (which ? N::fnma(a, b, cc) : N::fma(a, b, cc)).store(out);
        for (int k = 0; k < L; ++k) {
          const VS sa = VS::load(&A[i + k]), sb = VS::load(&B[i + k]), sc = VS::load(&C[i + k]);
          const T ref = (which ? S::fnma(sa, sb, sc) : S::fma(sa, sb, sc)).raw;
          if (!std::isnan(ref) && ref != 0 && std::isfinite(ref) && std::fabs(ref) < T(1e-3)) ++fused_witness;
          c.lane(agree(ref, out[k], true), "lane %d a=%a b=%a c=%a: scalar %a neon %a", k, double(A[i + k]),
                 double(B[i + k]), double(C[i + k]), double(ref), double(out[k]));
        }
      });
      c.lane(fused_witness > 1000, "only %ld lanes had a nonzero fused rounding error", fused_witness);
    }
  }

  // select, &, |, any, none on masks from compares of random values.
  {
    Checker<T> c{name_of(tn, "select/and/or/any/none")};
    for (int it = 0; it < 4000; ++it) {
      T a[L], b[L], x[L], y[L];
      for (int k = 0; k < L; ++k) {
        a[k] = p[rint_in(0, p.size() - 1)];
        b[k] = p[rint_in(0, p.size() - 1)];
        x[k] = static_cast<T>(rint_in(-2, 2));
        y[k] = static_cast<T>(rint_in(-2, 2));
      }
      const auto m1 = N::lt(VN::load(x), VN::load(y)), m2 = N::ge(VN::load(y), VN::set1(T(0)));
      T sel[L];
      N::select(m1, VN::load(a), VN::load(b)).store(sel);
      bool l_and[L], l_or[L];
      const bool v1 = mask_lanes(m1 & m2, l_and), v2 = mask_lanes(m1 | m2, l_or);
      bool any_ref = false;
      for (int k = 0; k < L; ++k) {
        const bool r1 = x[k] < y[k], r2 = y[k] >= 0;
        any_ref = any_ref || r1;
        const T ref = S::select(r1, VS::set1(a[k]), VS::set1(b[k])).raw;
        c.lane(agree(ref, sel[k], false), "select lane %d: scalar %a neon %a", k, double(ref), double(sel[k]));
        c.lane(v1 && l_and[k] == (r1 && r2), "and lane %d", k);
        c.lane(v2 && l_or[k] == (r1 || r2), "or lane %d", k);
      }
      c.lane(N::any(m1) == any_ref && N::none(m1) == !any_ref, "any/none: expected any=%d", int(any_ref));
    }
    const typename VN::Mask zero{};
    c.lane(N::none(zero) && !N::any(zero), "a value-initialized Mask is not all false");
  }

  // scale_pow2 over the whole range of n: bit for bit the two-step product of avx2.hpp, and
  // equal to ldexp (scalar.hpp's definition, one rounding) for v in [0.5, 2), the values exp
  // scales, down into subnormal and zero results.
  {
    const int n_max = sizeof(T) == 4 ? 250 : 2000;
    Checker<T> c{name_of(tn, "scale_pow2")};
    long ldexp_diff_general = 0;
    std::vector<T> vs = p;
    for (int i = 0; i < 12; ++i) vs.push_back(static_cast<T>(uni(0.5, 2.0)) * (i % 2 ? T(-1) : T(1)));
    vs.push_back(T(0.5));
    vs.push_back(std::nextafter(T(2), T(0)));
    std::vector<T> V, Nn;
    for (T v : vs)
      for (int n = -n_max; n <= n_max; ++n) {
        V.push_back(v);
        Nn.push_back(static_cast<T>(n));
      }
    rotations<L>(V.size(), [&](std::size_t i) {
      T out[L];
      N::scale_pow2(VN::load(&V[i]), VN::load(&Nn[i])).store(out);
      for (int k = 0; k < L; ++k) {
        const T v = V[i + k];
        const int n = static_cast<int>(Nn[i + k]);
        const int h = n / 2;  // truncation toward zero, as avx2.hpp
        const T two_step = (v * std::ldexp(T(1), h)) * std::ldexp(T(1), n - h);
        c.lane(agree(two_step, out[k], true), "v=%a n=%d: two-step %a neon %a", double(v), n, double(two_step),
               double(out[k]));
        const T ld = S::scale_pow2(VS::set1(v), VS::set1(T(n))).raw;
        const T av = std::fabs(v);
        if (av >= T(0.5) && av < T(2)) {
          c.lane(agree(ld, out[k], true), "v=%a n=%d: ldexp %a neon %a", double(v), n, double(ld), double(out[k]));
        } else if (!agree(ld, out[k], true)) {
          ++ldexp_diff_general;
        }
      }
    });
    std::printf("  info: prim %s scale_pow2: %ld lanes (outside v in [0.5, 2)) differ from ldexp by the two-step "
                "double rounding into subnormals, as on avx2\n",
                tn, ldexp_diff_general);
  }

  // decompose: every exponent (subnormals included) with boundary and random mantissas.
  {
    std::vector<T> xs;
    const U boundary = to_bits(static_cast<T>(0.70710678118654752440)) & ((U(1) << M) - 1);
    const int e_hi = (1 << (sizeof(T) * 8 - 2 - M)) * 2 - 2;  // largest biased exponent of a finite
    for (int be = 1; be <= e_hi; ++be) {
      const U mants[] = {0,
                         1,
                         boundary - 1,
                         boundary,
                         boundary + 1,
                         (U(1) << M) - 1,
                         static_cast<U>(rng()() & ((U(1) << M) - 1)),
                         static_cast<U>(rng()() & ((U(1) << M) - 1))};
      for (U m : mants) xs.push_back(from_bits<T>((static_cast<U>(be) << M) | m));
    }
    for (int b = 0; b < M; ++b) {  // subnormals: leading bit b, with boundary-like tails
      xs.push_back(from_bits<T>(U(1) << b));
      xs.push_back(from_bits<T>((U(1) << b) | (static_cast<U>(rng()()) & ((U(1) << b) - 1))));
      xs.push_back(from_bits<T>(((U(1) << b) - 1) | (U(1) << b)));
      xs.push_back(from_bits<T>(((boundary | (U(1) << M)) >> (M - b))));
    }
    // split(x, &e) against scalar decompose on the x from x_min up (decompose_normal: normal x).
    auto check_split = [&](const char* prim, auto split, T x_min) {
      Checker<T> c{name_of(tn, prim)};
      rotations<L>(xs.size(), [&](std::size_t i) {
        T m[L], e[L];
        VN ev;
        split(VN::load(&xs[i]), &ev).store(m);
        ev.store(e);
        for (int k = 0; k < L; ++k) {
          if (!(xs[i + k] >= x_min)) continue;
          VS es;
          const T mr = S::decompose(VS::set1(xs[i + k]), &es).raw;
          c.lane(agree(mr, m[k], false) && agree(es.raw, e[k], false), "x=%a: scalar m=%a e=%g, neon m=%a e=%g",
                 double(xs[i + k]), double(mr), double(es.raw), double(m[k]), double(e[k]));
        }
      });
    };
    check_split("decompose", [](VN x, VN* e) { return N::decompose(x, e); }, std::numeric_limits<T>::denorm_min());
    check_split("decompose_normal", [](VN x, VN* e) { return N::decompose_normal(x, e); },
                std::numeric_limits<T>::min());
  }

  // reduce_add (fixed order) and reduce_max (x86 rule, avx2.hpp's pairing).
  {
    Checker<T> ca{name_of(tn, "reduce_add")}, cm{name_of(tn, "reduce_max")};
    auto mx = [](T a, T b) { return a > b ? a : b; };
    for (int it = 0; it < 20000; ++it) {
      T v[L];
      for (int k = 0; k < L; ++k)
        v[k] = it % 3 ? static_cast<T>(gauss() * std::ldexp(1.0, static_cast<int>(rint_in(-30, 30))))
                      : p[rint_in(0, p.size() - 1)];
      const VN x = VN::load(v);
      T ref_add, ref_max;
      if constexpr (L == 4) {
        ref_add = (v[0] + v[2]) + (v[1] + v[3]);
        ref_max = mx(mx(v[0], v[2]), mx(v[1], v[3]));
      } else {
        ref_add = v[0] + v[1];
        ref_max = mx(v[0], v[1]);
      }
      const T ga = N::reduce_add(x), gm = N::reduce_max(x);
      ca.lane(agree(ref_add, ga, true), "reduce_add: expected %a got %a", double(ref_add), double(ga));
      cm.lane(agree(ref_max, gm, false), "reduce_max: expected %a got %a", double(ref_max), double(gm));
    }
  }

  // pow2_low_bits: random bit patterns and the magic-added exponents.
  {
    std::vector<T> ys;
    for (int i = 0; i < 4000; ++i) ys.push_back(from_bits<T>(static_cast<U>(rng()())));
    const int j_max = sizeof(T) == 4 ? 254 : 2046;
    for (int j = 0; j <= j_max; ++j) ys.push_back(std::ldexp(T(1.5), M) + T(j));
    check_unary<T>("pow2_low_bits", ys, [](VN y) { return N::pow2_low_bits(y); },
                   [](VS y) { return S::pow2_low_bits(y); }, false);
  }

  // load_n / store_n: memory ends at a PROT_NONE page right after the n-th element, so a
  // touch past it faults; lanes past n are the fill; store_n leaves the rest untouched.
  {
    Checker<T> c{name_of(tn, "load/load_n/store/store_n")};
    const T fill = T(-7.25);
    for (int n = -1; n <= L + 1; ++n) {
      const std::size_t have = static_cast<std::size_t>(std::max(0, std::min(n, L)));
      std::vector<T> src(have);
      for (std::size_t k = 0; k < have; ++k) src[k] = static_cast<T>(10 + k) + T(0.125);
      Guarded<T> g(src);
      T out[L];
      VN::load_n(g.data(), n, fill).store(out);
      for (int k = 0; k < L; ++k) {
        const T ref = S::Vec<T>::load_n(g.data() + k, n - k, fill).raw;
        c.lane(agree(ref, out[k], false), "load_n n=%d lane %d: expected %a got %a", n, k, double(ref), double(out[k]));
      }
      // store_n into guarded memory of exactly max(0, min(n, L)) elements.
      std::vector<T> zero(have, T(0));
      Guarded<T> d(zero);
      T lanes[L];
      for (int k = 0; k < L; ++k) lanes[k] = static_cast<T>(k + 1);
      VN::load(lanes).store_n(d.data(), n);
      for (std::size_t k = 0; k < have; ++k) c.lane(d.data()[k] == lanes[k], "store_n n=%d lane %zu not written", n, k);
      // ... and into a larger buffer: elements from n on keep their value.
      T big[2 * L + 2];
      for (int k = 0; k < 2 * L + 2; ++k) big[k] = T(-1);
      VN::load(lanes).store_n(big, n);
      for (int k = 0; k < 2 * L + 2; ++k) {
        const T ref = k < std::min(std::max(n, 0), L) ? lanes[k] : T(-1);
        c.lane(big[k] == ref, "store_n n=%d element %d: expected %g got %g", n, k, double(ref), double(big[k]));
      }
    }
    // Full load/store round trip of the pool.
    for (std::size_t i = 0; i + L <= p.size(); ++i) {
      T out[L];
      VN::load(&p[i]).store(out);
      for (int k = 0; k < L; ++k) c.lane(agree(p[i + k], out[k], false), "load/store at %zu", i);
    }
  }

  // load_transposed: out[i] lane j = p[j*stride + i]; the last element read is the last one
  // before a PROT_NONE page.
  {
    Checker<T> c{name_of(tn, "load_transposed")};
    for (std::int64_t stride : {1, 2, 3, 5, 7, 17, 1000, 100003}) {
      std::vector<T> src(static_cast<std::size_t>((L - 1) * stride + L));
      for (std::size_t k = 0; k < src.size(); ++k) src[k] = static_cast<T>(k) + T(0.5);
      Guarded<T> g(src);
      VN rows[L];
      VN::load_transposed(g.data(), stride, rows);
      for (int i = 0; i < L; ++i) {
        T out[L];
        rows[i].store(out);
        for (int k = 0; k < L; ++k)
          c.lane(out[k] == src[k * stride + i], "stride %lld out %d lane %d: expected %g got %g", (long long)stride, i,
                 k, double(src[k * stride + i]), double(out[k]));
      }
    }
  }

  // load_transposed_n: the first n outputs as load_transposed's (the others are unspecified).
  {
    Checker<T> c{name_of(tn, "load_transposed_n")};
    for (std::int64_t stride : {1, 3, 10, 17, 1000}) {
      for (int n = 1; n <= L; ++n) {
        std::vector<T> src(static_cast<std::size_t>((L - 1) * stride + L));
        for (std::size_t k = 0; k < src.size(); ++k) src[k] = static_cast<T>(k) + T(0.25);
        Guarded<T> g(src);
        VN rows[L];
        VN::load_transposed_n(g.data(), stride, n, rows);
        for (int i = 0; i < n; ++i) {
          T out[L];
          rows[i].store(out);
          for (int k = 0; k < L; ++k)
            c.lane(out[k] == src[k * stride + i], "n %d stride %lld out %d lane %d: expected %g got %g", n,
                   (long long)stride, i, k, double(src[k * stride + i]), double(out[k]));
        }
      }
    }
  }

  // load_index: class indices as lane values, -1 for ignore, -2 outside [0, n), for int32 and
  // int64 indices, with ignore inside, outside and beyond the index type's range.
  {
    Checker<T> c{name_of(tn, "load_index")};
    const std::int64_t picks[] = {0,
                                  1,
                                  2,
                                  5,
                                  6,
                                  7,
                                  -1,
                                  -2,
                                  -100,
                                  99,
                                  100,
                                  1 << 24,
                                  INT32_MIN,
                                  INT32_MAX,
                                  std::int64_t(1) << 40,
                                  -(std::int64_t(1) << 40),
                                  INT64_MIN,
                                  INT64_MAX};
    constexpr int kPicks = sizeof(picks) / sizeof(picks[0]);
    for (std::int64_t n : {std::int64_t(1), std::int64_t(7), std::int64_t(100), std::int64_t(1) << 24}) {
      for (std::int64_t ignore : {std::int64_t(-100), std::int64_t(0), std::int64_t(5), std::int64_t(1) << 40}) {
        for (int start = 0; start < kPicks; ++start) {
          std::int64_t i64[L];
          std::int32_t i32[L];
          for (int k = 0; k < L; ++k) {
            i64[k] = picks[(start + 5 * k) % kPicks];
            i32[k] = static_cast<std::int32_t>(
                std::max<std::int64_t>(INT32_MIN, std::min<std::int64_t>(INT32_MAX, i64[k])));
          }
          T got64[L], got32[L];
          VN::load_index(i64, n, ignore).store(got64);
          VN::load_index(i32, n, ignore).store(got32);
          for (int k = 0; k < L; ++k) {
            const T ref64 = S::Vec<T>::load_index(i64 + k, n, ignore).raw;
            const T ref32 = S::Vec<T>::load_index(i32 + k, n, ignore).raw;
            c.lane(agree(ref64, got64[k], false), "int64 %lld n %lld ignore %lld lane %d: expected %g got %g",
                   (long long)i64[k], (long long)n, (long long)ignore, k, double(ref64), double(got64[k]));
            c.lane(agree(ref32, got32[k], false), "int32 %d n %lld ignore %lld lane %d: expected %g got %g", i32[k],
                   (long long)n, (long long)ignore, k, double(ref32), double(got32[k]));
          }
        }
      }
    }
  }
}

// Loads and stores of the half type H (fastloss::Bf16 or F16, Fmt its common.hpp format).
template <class H, class Fmt>
void check_half(const char* tn) {
  using VN = N::Vec<float>;
  using VS = S::Vec<float>;
  constexpr int L = VN::kLanes;
  constexpr std::uint32_t kQuiet = 0x400000;  // a float NaN's quiet bit
  auto bits_of = [](float f) { return to_bits(f); };
  auto half = [](std::uint32_t b) { return H{static_cast<std::uint16_t>(b)}; };

  // load: all 65536 bit patterns at every lane position. Bits as scalar's, except that a NaN
  // may come back quiet (FCVTL quiets a signaling float16 NaN; sign and payload stay).
  {
    std::vector<H> all;
    for (std::uint32_t b = 0; b < 65536 + L; ++b) all.push_back(half(b & 0xffff));
    Checker<float> c{name_of(tn, "load")}, o{name_of(tn, "load (scalar vs harness)")};
    rotations<L>(all.size(), [&](std::size_t i) {
      float out[L];
      VN::load(&all[i]).store(out);
      for (int k = 0; k < L; ++k) {
        const float ref = VS::load(&all[i + k]).raw;
        const bool ok = std::isnan(ref) ? std::isnan(out[k]) && (bits_of(ref) | kQuiet) == (bits_of(out[k]) | kQuiet)
                                        : bits_of(ref) == bits_of(out[k]);
        c.lane(ok, "lane %d bits 0x%04x: scalar %a (0x%08x) neon %a (0x%08x)", k, unsigned(all[i + k].bits),
               double(ref), unsigned(bits_of(ref)), double(out[k]), unsigned(bits_of(out[k])));
        if (i % L == 0 && k == 0) {
          const float h = Fmt::decode(all[i].bits);
          o.lane(bits_of(h) == bits_of(ref), "bits 0x%04x: harness %a scalar %a", unsigned(all[i].bits), double(h),
                 double(ref));
        }
      }
    });
  }

  // store: bit for bit as scalar (round to nearest even; NaN quiet with its top payload bits).
  {
    std::vector<float> xs;
    auto add = [&](double v) {
      xs.push_back(static_cast<float>(v));
      xs.push_back(static_cast<float>(-v));
    };
    const std::uint32_t max_bits = Fmt::kInf - 1;
    for (std::uint32_t b = 0; b <= max_bits; ++b) {  // every finite half, the tie above it, its neighbours
      const double lo = Fmt::decode(static_cast<std::uint16_t>(b));
      const double hi = b < max_bits ? double(Fmt::decode(static_cast<std::uint16_t>(b + 1)))
                                     : 2 * lo - double(Fmt::decode(static_cast<std::uint16_t>(b - 1)));
      const float mid = static_cast<float>((lo + hi) / 2);  // exact: a half has <= 11 bits
      add(lo);
      add(mid);
      add(std::nextafter(mid, 0.0f));
      add(std::nextafter(mid, INFINITY));
    }
    const std::uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7fc00001u, 0x7fd2345fu, 0xffe00100u,
                                  0x7f800001u, 0x7fa00000u, 0xffbfffffu, 0x7f802000u, 0x7f810000u};
    for (std::uint32_t b : nans) xs.push_back(from_bits<float>(b));
    for (double v : {0.0,
                     double(INFINITY),
                     double(std::numeric_limits<float>::max()),
                     double(std::numeric_limits<float>::denorm_min()),
                     double(std::numeric_limits<float>::min()),
                     65504.0,
                     65519.0,
                     65520.0,
                     65535.0,
                     65536.0,
                     1e10,
                     0x1p-24,
                     0x1p-25,
                     0x1.000002p-25,
                     0x1p-26,
                     0x1.8p-24,
                     0x1.4p-23,
                     0x1p-133,
                     0x1p-134,
                     0x1.8p-133,
                     0x1p-126})
      add(v);
    for (int i = 0; i < 20000; ++i) xs.push_back(from_bits<float>(static_cast<std::uint32_t>(rng()())));
    Checker<float> c{name_of(tn, "store")}, o{name_of(tn, "store (scalar vs harness)")};
    rotations<L>(xs.size(), [&](std::size_t i) {
      H out[L];
      VN::load(&xs[i]).store(out);
      for (int k = 0; k < L; ++k) {
        H ref;
        VS::load(&xs[i + k]).store(&ref);
        c.lane(ref.bits == out[k].bits, "lane %d x=%a (0x%08x): scalar 0x%04x neon 0x%04x", k, double(xs[i + k]),
               unsigned(bits_of(xs[i + k])), unsigned(ref.bits), unsigned(out[k].bits));
        if (i % L == 0 && k == 0) {
          const std::uint16_t h = Fmt::encode(xs[i]);
          o.lane(h == ref.bits, "x=%a (0x%08x): harness 0x%04x scalar 0x%04x", double(xs[i]), unsigned(bits_of(xs[i])),
                 unsigned(h), unsigned(ref.bits));
        }
      }
    });
  }

  // load_n / store_n: memory that ends at a PROT_NONE page after the n-th element; lanes from n
  // on are the fill; store_n writes the first n elements, rounded as store, and nothing else.
  {
    Checker<float> c{name_of(tn, "load_n/store_n")};
    const float fill = -7.25f;
    for (int n = -1; n <= L + 1; ++n) {
      const std::size_t have = static_cast<std::size_t>(std::max(0, std::min(n, L)));
      std::vector<H> src(have);
      for (std::size_t k = 0; k < have; ++k) src[k] = half(k % 2 ? Fmt::kInf | 0x8000u | 3u : 0x3c01u + 77 * k);
      const Guarded<H> g(src);
      float out[L];
      VN::load_n(g.data(), n, fill).store(out);
      for (int k = 0; k < L; ++k) {
        const float ref = VS::load_n(g.data() + k, n - k, fill).raw;
        c.lane(std::isnan(ref) ? std::isnan(out[k]) : bits_of(ref) == bits_of(out[k]),
               "load_n n=%d lane %d: expected %a got %a", n, k, double(ref), double(out[k]));
      }
      // Lanes that round: a tie to even, a NaN, a value that overflows float16, a subnormal.
      const float lanes[L] = {1.00390625f, std::numeric_limits<float>::quiet_NaN(), 65520.0f, 0x1.8p-24f};
      H want[L];
      for (int k = 0; k < L; ++k) VS::load(&lanes[k]).store(&want[k]);
      std::vector<H> zero(have, half(0));
      Guarded<H> d(zero);
      VN::load(lanes).store_n(d.data(), n);
      for (std::size_t k = 0; k < have; ++k)
        c.lane(d.data()[k].bits == want[k].bits, "store_n n=%d lane %zu: expected 0x%04x got 0x%04x", n, k,
               unsigned(want[k].bits), unsigned(d.data()[k].bits));
      H big[2 * L + 2];
      for (auto& h : big) h = half(0xa5a5);
      VN::load(lanes).store_n(big, n);
      for (int k = 0; k < 2 * L + 2; ++k) {
        const std::uint16_t ref = k < std::min(std::max(n, 0), L) ? want[k].bits : 0xa5a5;
        c.lane(big[k].bits == ref, "store_n n=%d element %d: expected 0x%04x got 0x%04x", n, k, unsigned(ref),
               unsigned(big[k].bits));
      }
    }
  }
}

void check_widen() {
  Checker<double> c{"prim f32->f64 widen_add"};
  for (int it = 0; it < 5000; ++it) {
    float v[4];
    double lo[2], hi[2], acc[2], w[2];
    for (int k = 0; k < 4; ++k)
      v[k] = static_cast<float>(gauss() * std::ldexp(1.0, static_cast<int>(rint_in(-60, 60))));
    if (it % 50 == 0) v[it / 50 % 4] = std::numeric_limits<float>::quiet_NaN();
    for (int k = 0; k < 2; ++k) {
      lo[k] = gauss();
      hi[k] = gauss() * 1e10;
      acc[k] = gauss();
      w[k] = gauss();
    }
    N::VecD vlo = N::VecD::load(lo), vhi = N::VecD::load(hi), vacc = N::VecD::load(acc);
    N::widen_add(vlo, vhi, N::VecF::load(v));
    N::widen_add(vacc, N::VecD::load(w));
    double glo[2], ghi[2], gacc[2];
    vlo.store(glo);
    vhi.store(ghi);
    vacc.store(gacc);
    for (int k = 0; k < 2; ++k) {
      const double rlo = lo[k] + double(v[k]), rhi = hi[k] + double(v[k + 2]), racc = acc[k] + w[k];
      c.lane(agree(rlo, glo[k], true) && agree(rhi, ghi[k], true) && agree(racc, gacc[k], true),
             "lane %d: expected %a %a %a got %a %a %a", k, rlo, rhi, racc, glo[k], ghi[k], gacc[k]);
    }
  }
}

}  // namespace

namespace kernel_check {
void run_primitive_checks() {
  check_type<float>();
  check_type<double>();
  check_widen();
  check_half<fastloss::Bf16, Bf16Format>("bf16");
  check_half<fastloss::F16, F16Format>("f16");
}
}  // namespace kernel_check
