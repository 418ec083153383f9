// The single list of kernel entries: X(name, return type, argument struct).
// Expanded into the KernelTable (dispatch.hpp) and into every ISA's table (isa/table.inc).
// Each entry is implemented once, as fastloss::<isa>::name, in kernels/<family>.hpp.
#pragma once

#define FASTLOSS_KERNELS(X)                                        \
  X(math_f32, void, MathArgs)                                      \
  X(math_f64, void, MathArgs)                                      \
  X(regression_f32, double, RegressionArgs)                        \
  X(regression_f64, double, RegressionArgs)                        \
  X(probe_read_f32, double, ProbeReadArgs)                         \
  X(probe_read_f64, double, ProbeReadArgs)                         \
  X(probe_copy_f32, void, ProbeCopyArgs)                           \
  X(probe_copy_f64, void, ProbeCopyArgs)                           \
  X(probe_exp_f32, double, ProbeExpArgs)                           \
  X(regression_stats_f32, RegressionStats, RegressionStatsArgs)    \
  X(regression_stats_f64, RegressionStats, RegressionStatsArgs)    \
  X(bce_f32, BceResult, BceArgs)                                   \
  X(bce_f64, BceResult, BceArgs)                                   \
  X(bce_with_logits_f32, double, BceWithLogitsArgs)                \
  X(bce_with_logits_f64, double, BceWithLogitsArgs)                \
  X(kl_div_f32, double, KlDivArgs)                                 \
  X(kl_div_f64, double, KlDivArgs)                                 \
  X(entropy_f32, void, EntropyArgs)                                \
  X(entropy_f64, void, EntropyArgs)                                \
  X(softmax_f32, void, SoftmaxArgs)                                \
  X(softmax_f64, void, SoftmaxArgs)                                \
  X(cross_entropy_f32, CrossEntropyResult, CrossEntropyArgs)       \
  X(cross_entropy_f64, CrossEntropyResult, CrossEntropyArgs)       \
  X(cross_entropy_inner_f32, CrossEntropyResult, CrossEntropyArgs) \
  X(cross_entropy_inner_f64, CrossEntropyResult, CrossEntropyArgs) \
  X(nll_loss_f32, CrossEntropyResult, CrossEntropyArgs)            \
  X(nll_loss_f64, CrossEntropyResult, CrossEntropyArgs)            \
  X(evaluate_f32, EvaluateResult, EvaluateArgs)                    \
  X(evaluate_f64, EvaluateResult, EvaluateArgs)
