// The half-precision entries of kernels/softmax.hpp (half.hpp: bfloat16 and float16 x, computed
// in float32), compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA). A unit of its own, as
// the other families' half entries: in the float unit, their instantiations changed GCC's
// inlining of the float32 rows pass (softmax 32768x1000 measured 10% slower on avx512).
#include "kernels/softmax.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

void softmax_bf16(const SoftmaxArgs& a) { softmax_family<Bf16>(a); }
void softmax_f16(const SoftmaxArgs& a) { softmax_family<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
