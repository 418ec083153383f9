// The entries of kernels/math_eval.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/math_eval.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

void math_f32(const MathArgs& a) { math_eval<float>(a); }
void math_f64(const MathArgs& a) { math_eval<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
