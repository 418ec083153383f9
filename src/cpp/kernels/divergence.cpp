// The entries of kernels/divergence.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/divergence.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

double kl_div_f32(const KlDivArgs& a) { return kl_div<float>(a); }
double kl_div_f64(const KlDivArgs& a) { return kl_div<double>(a); }
void entropy_f32(const EntropyArgs& a) { entropy<float>(a); }
void entropy_f64(const EntropyArgs& a) { entropy<double>(a); }
double kl_div_bf16(const KlDivArgs& a) { return kl_div<Bf16>(a); }
double kl_div_f16(const KlDivArgs& a) { return kl_div<F16>(a); }
void entropy_bf16(const EntropyArgs& a) { entropy<Bf16>(a); }
void entropy_f16(const EntropyArgs& a) { entropy<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
