// The half-precision entries of kernels/evaluate.hpp (half.hpp: bfloat16 and float16 logits,
// computed in float32), compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA). A unit of its
// own: it builds in parallel with the float one.
#include "kernels/evaluate.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

EvaluateResult evaluate_bf16(const EvaluateArgs& a) { return evaluate<Bf16>(a); }
EvaluateResult evaluate_f16(const EvaluateArgs& a) { return evaluate<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
