// The double entries of kernels/cross_entropy.hpp, compiled once per ISA (CMakeLists.txt sets
// FASTLOSS_ISA). One unit per dtype: the family is the largest to compile, and the two halves
// build in parallel.
#include "kernels/cross_entropy.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

CrossEntropyResult cross_entropy_f64(const CrossEntropyArgs& a) { return cross_entropy<double>(a); }
CrossEntropyResult cross_entropy_inner_f64(const CrossEntropyArgs& a) { return cross_entropy<double>(a); }
CrossEntropyResult nll_loss_f64(const CrossEntropyArgs& a) { return nll_loss<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
