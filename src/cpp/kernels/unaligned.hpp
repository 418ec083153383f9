// Scalar reads and writes of user memory that assume no alignment: the bindings pass aligned
// arrays, but a kernel must not depend on it (a misaligned plain dereference is undefined
// behaviour, and faults on some targets). std::memcpy of one element compiles to the same
// single load or store as the dereference. In the ISA namespace, as everything built per ISA.
#pragma once

#include <cstring>

#include "attributes.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
FASTLOSS_INLINE T load_one(const T* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
FASTLOSS_INLINE void store_one(T* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

}  // namespace fastloss::FASTLOSS_ISA
