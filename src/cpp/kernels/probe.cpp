// The entries of kernels/probe.hpp, compiled once per ISA (CMakeLists.txt sets FASTLOSS_ISA).
#include "kernels/probe.hpp"

#include "kernels/entries.hpp"

namespace fastloss::FASTLOSS_ISA {

double probe_read_f32(const ProbeReadArgs& a) { return probe_read<float>(a); }
double probe_read_f64(const ProbeReadArgs& a) { return probe_read<double>(a); }
void probe_copy_f32(const ProbeCopyArgs& a) { probe_copy<float>(a); }
void probe_copy_f64(const ProbeCopyArgs& a) { probe_copy<double>(a); }
double probe_exp_f32(const ProbeExpArgs& a) { return probe_exp(a); }

}  // namespace fastloss::FASTLOSS_ISA
