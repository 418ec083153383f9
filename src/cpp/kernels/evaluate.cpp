// The entries of kernels/evaluate.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/evaluate.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

EvaluateResult evaluate_f32(const EvaluateArgs& a) { return evaluate<float>(a); }
EvaluateResult evaluate_f64(const EvaluateArgs& a) { return evaluate<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
