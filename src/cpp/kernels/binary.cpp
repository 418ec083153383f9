// The entries of kernels/binary.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/binary.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

BceResult bce_f32(const BceArgs& a) { return bce<float>(a); }
BceResult bce_f64(const BceArgs& a) { return bce<double>(a); }
double bce_with_logits_f32(const BceWithLogitsArgs& a) { return bce_with_logits<float>(a); }
double bce_with_logits_f64(const BceWithLogitsArgs& a) { return bce_with_logits<double>(a); }
BceResult bce_bf16(const BceArgs& a) { return bce<Bf16>(a); }
BceResult bce_f16(const BceArgs& a) { return bce<F16>(a); }
double bce_with_logits_bf16(const BceWithLogitsArgs& a) { return bce_with_logits<Bf16>(a); }
double bce_with_logits_f16(const BceWithLogitsArgs& a) { return bce_with_logits<F16>(a); }

}  // namespace fastloss::FASTLOSS_ISA
