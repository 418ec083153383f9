// The half-precision entries of kernels/cross_entropy.hpp (half.hpp: bfloat16 and float16 logits,
// computed in float32), compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA). A unit of its
// own: it builds in parallel with the float32 and float64 ones.
#include "kernels/cross_entropy.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

CrossEntropyResult cross_entropy_bf16(const CrossEntropyArgs& a) { return cross_entropy<Bf16>(a); }
CrossEntropyResult cross_entropy_f16(const CrossEntropyArgs& a) { return cross_entropy<F16>(a); }
CrossEntropyResult cross_entropy_inner_bf16(const CrossEntropyArgs& a) { return cross_entropy<Bf16>(a); }
CrossEntropyResult cross_entropy_inner_f16(const CrossEntropyArgs& a) { return cross_entropy<F16>(a); }
CrossEntropyResult nll_loss_bf16(const CrossEntropyArgs& a) { return nll_loss<Bf16>(a); }
CrossEntropyResult nll_loss_f16(const CrossEntropyArgs& a) { return nll_loss<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
