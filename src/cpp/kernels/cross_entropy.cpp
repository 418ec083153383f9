// The entries of kernels/cross_entropy.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/cross_entropy.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

CrossEntropyResult cross_entropy_f32(const CrossEntropyArgs& a) { return cross_entropy<float>(a); }
CrossEntropyResult cross_entropy_f64(const CrossEntropyArgs& a) { return cross_entropy<double>(a); }
// The same kernel for a class axis that is not last (n_inner > 1, the lanes engine's tiles): an
// entry of its own, so that an ISA's table can take it from another ISA where that one is
// faster (isa/avx512.cpp).
CrossEntropyResult cross_entropy_inner_f32(const CrossEntropyArgs& a) { return cross_entropy<float>(a); }
CrossEntropyResult cross_entropy_inner_f64(const CrossEntropyArgs& a) { return cross_entropy<double>(a); }
CrossEntropyResult nll_loss_f32(const CrossEntropyArgs& a) { return nll_loss<float>(a); }
CrossEntropyResult nll_loss_f64(const CrossEntropyArgs& a) { return nll_loss<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
