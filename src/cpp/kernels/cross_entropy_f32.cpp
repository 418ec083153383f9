// The float entries of kernels/cross_entropy.hpp, compiled once per ISA (CMakeLists.txt sets
// FASTLOSS_ISA). One unit per dtype: the family is the largest to compile, and the two halves
// build in parallel.
#include "kernels/cross_entropy.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

CrossEntropyResult cross_entropy_f32(const CrossEntropyArgs& a) { return cross_entropy<float>(a); }
// The same kernel for a class axis that is not last (n_inner > 1, the lanes engine's tiles): an
// entry of its own, so that an ISA's table can take it from another ISA where that one is
// faster (isa/avx512.cpp).
CrossEntropyResult cross_entropy_inner_f32(const CrossEntropyArgs& a) { return cross_entropy<float>(a); }
CrossEntropyResult nll_loss_f32(const CrossEntropyArgs& a) { return nll_loss<float>(a); }

}  // namespace fastloss::FASTLOSS_ISA
