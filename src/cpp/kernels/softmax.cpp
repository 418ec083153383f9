// The entries of kernels/softmax.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/softmax.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

void softmax_f32(const SoftmaxArgs& a) { softmax_family<float>(a); }
void softmax_f64(const SoftmaxArgs& a) { softmax_family<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
