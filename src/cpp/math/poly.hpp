// Polynomial evaluation shared by math/exp.hpp and math/log.hpp.
#pragma once

#include "attributes.hpp"

namespace fastloss::FASTLOSS_ISA {

// horner(x, c0, c1, ..., ck) = c0 + x (c1 + x (... + x ck)): k FMAs, the fewest ops. Latency is
// hidden by the independent vectors of a kernel loop rather than by Estrin's extra multiplies.
template <class V, class T>
FASTLOSS_INLINE V horner(V /*x*/, T c0) {
  return V::set1(c0);
}
template <class V, class T, class... Rest>
FASTLOSS_INLINE V horner(V x, T c0, Rest... rest) {
  return fma(horner(x, rest...), x, V::set1(c0));
}

}  // namespace fastloss::FASTLOSS_ISA
