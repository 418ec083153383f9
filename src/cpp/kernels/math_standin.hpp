// TEMPORARY stand-in for math/exp.hpp and math/log.hpp (same API: exp, log, log1p over any
// Vec) until they land; removed then. Accurate enough for the tests, not tuned.
#pragma once

#if __has_include("math/exp.hpp") && __has_include("math/log.hpp")
#include "math/exp.hpp"
#include "math/log.hpp"
#else

namespace fastloss::FASTLOSS_ISA {

template <class V>
V exp(V x) {
  using T = typename V::Elem;
  constexpr bool kF = sizeof(T) == 4;
  const V lo = V::set1(kF ? T(-110) : T(-1000)), hi = V::set1(kF ? T(100) : T(1000));
  const V xc = min(hi, max(lo, x));  // constants first: NaN survives
  const V n = round_even(xc * V::set1(T(1.44269504088896340736)));
  V r = fnma(n, V::set1(T(0.693147180369123816490)), xc);
  r = fnma(n, V::set1(T(1.90821492927058770002e-10)), r);
  const int deg = kF ? 7 : 13;
  double c = 1.0;
  for (int k = 2; k <= deg; ++k) c /= k;
  V p = V::set1(T(c));
  for (int k = deg - 1; k >= 0; --k) {
    double ck = 1.0;
    for (int j = 2; j <= k; ++j) ck /= j;
    p = fma(p, r, V::set1(T(ck)));
  }
  return scale_pow2(p, n);
}

template <class V>
V log(V x) {
  using T = typename V::Elem;
  const V zero = V::set1(T(0)), one = V::set1(T(1));
  const V inf = V::set1(std::numeric_limits<T>::infinity());
  const V safe = select(gt(x, zero) & lt(x, inf), x, one);
  V e;
  const V m = decompose(safe, &e);
  const V s = (m - one) / (m + one);
  const V s2 = s * s;
  V p = V::set1(T(1.0 / 23));
  for (int k = 21; k >= 1; k -= 2) p = fma(p, s2, V::set1(T(1.0 / k)));
  V r = fma(V::set1(T(2)) * s, p, e * V::set1(T(0.693147180559945309417)));
  r = select(eq(x, zero), -inf, r);
  r = select(eq(x, inf), inf, r);
  r = select(lt(x, zero), V::set1(std::numeric_limits<T>::quiet_NaN()), r);
  return select(is_nan(x), x, r);
}

template <class V>
V log1p(V x) {
  using T = typename V::Elem;
  const V one = V::set1(T(1));
  const V u = one + x;
  const V d = u - one;
  const V r = log(u) * (x / select(eq(d, V::set1(T(0))), one, d));
  return select(eq(d, V::set1(T(0))), x, select(eq(u, V::set1(std::numeric_limits<T>::infinity())), u, r));
}

}  // namespace fastloss::FASTLOSS_ISA

#endif
