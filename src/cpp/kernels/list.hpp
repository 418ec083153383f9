// The single list of kernel entries: X(name, return type, argument struct).
// Expanded into the KernelTable (dispatch.hpp) and into every ISA's table (isa/table.inc).
// Each entry is implemented once, as fastloss::<isa>::name, in kernels/<family>.hpp.
#pragma once

#define FASTLOSS_KERNELS(X)                               \
  X(regression_f32, double, RegressionArgs)               \
  X(regression_f64, double, RegressionArgs)               \
  X(probe_read_f32, double, ProbeReadArgs)                \
  X(probe_read_f64, double, ProbeReadArgs)                \
  X(probe_copy_f32, void, ProbeCopyArgs)                  \
  X(probe_copy_f64, void, ProbeCopyArgs)                  \
  X(probe_exp_f32, double, ProbeExpArgs)
