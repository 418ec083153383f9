// The entries of kernels/regression_stats.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/regression_stats.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

RegressionStats regression_stats_f32(const RegressionStatsArgs& a) { return regression_stats<float>(a); }
RegressionStats regression_stats_f64(const RegressionStatsArgs& a) { return regression_stats<double>(a); }
RegressionStats regression_stats_bf16(const RegressionStatsArgs& a) { return regression_stats<Bf16>(a); }
RegressionStats regression_stats_f16(const RegressionStatsArgs& a) { return regression_stats<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
