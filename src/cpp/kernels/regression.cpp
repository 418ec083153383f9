// The entries of kernels/regression.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/regression.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

double regression_f32(const RegressionArgs& a) { return regression<float>(a); }
double regression_f64(const RegressionArgs& a) { return regression<double>(a); }
double regression_bf16(const RegressionArgs& a) { return regression<Bf16>(a); }
double regression_f16(const RegressionArgs& a) { return regression<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
