// The single list of kernel entries: X(name, return type, argument struct).
// Expanded into the KernelTable (dispatch.hpp) and into every ISA's table (isa/table.inc).
// Each entry is implemented once, as fastloss::<isa>::name, in kernels/<family>.hpp.
#pragma once

// Every family has an entry per storage type: _f32, _f64, and the half types _bf16, _f16
// (half.hpp), which compute in float32.
#define FASTLOSS_KERNELS(X)                                         \
  X(math_f32, void, MathArgs)                                       \
  X(math_f64, void, MathArgs)                                       \
  X(regression_f32, double, RegressionArgs)                         \
  X(regression_f64, double, RegressionArgs)                         \
  X(regression_bf16, double, RegressionArgs)                        \
  X(regression_f16, double, RegressionArgs)                         \
  X(probe_read_f32, double, ProbeReadArgs)                          \
  X(probe_read_f64, double, ProbeReadArgs)                          \
  X(probe_copy_f32, void, ProbeCopyArgs)                            \
  X(probe_copy_f64, void, ProbeCopyArgs)                            \
  X(probe_exp_f32, double, ProbeExpArgs)                            \
  X(regression_stats_f32, RegressionStats, RegressionStatsArgs)     \
  X(regression_stats_f64, RegressionStats, RegressionStatsArgs)     \
  X(regression_stats_bf16, RegressionStats, RegressionStatsArgs)    \
  X(regression_stats_f16, RegressionStats, RegressionStatsArgs)     \
  X(bce_f32, BceResult, BceArgs)                                    \
  X(bce_f64, BceResult, BceArgs)                                    \
  X(bce_bf16, BceResult, BceArgs)                                   \
  X(bce_f16, BceResult, BceArgs)                                    \
  X(bce_with_logits_f32, double, BceWithLogitsArgs)                 \
  X(bce_with_logits_f64, double, BceWithLogitsArgs)                 \
  X(bce_with_logits_bf16, double, BceWithLogitsArgs)                \
  X(bce_with_logits_f16, double, BceWithLogitsArgs)                 \
  X(kl_div_f32, double, KlDivArgs)                                  \
  X(kl_div_f64, double, KlDivArgs)                                  \
  X(kl_div_bf16, double, KlDivArgs)                                 \
  X(kl_div_f16, double, KlDivArgs)                                  \
  X(entropy_f32, void, EntropyArgs)                                 \
  X(entropy_f64, void, EntropyArgs)                                 \
  X(entropy_bf16, void, EntropyArgs)                                \
  X(entropy_f16, void, EntropyArgs)                                 \
  X(softmax_f32, void, SoftmaxArgs)                                 \
  X(softmax_f64, void, SoftmaxArgs)                                 \
  X(softmax_bf16, void, SoftmaxArgs)                                \
  X(softmax_f16, void, SoftmaxArgs)                                 \
  X(cross_entropy_f32, CrossEntropyResult, CrossEntropyArgs)        \
  X(cross_entropy_f64, CrossEntropyResult, CrossEntropyArgs)        \
  X(cross_entropy_bf16, CrossEntropyResult, CrossEntropyArgs)       \
  X(cross_entropy_f16, CrossEntropyResult, CrossEntropyArgs)        \
  X(cross_entropy_inner_f32, CrossEntropyResult, CrossEntropyArgs)  \
  X(cross_entropy_inner_f64, CrossEntropyResult, CrossEntropyArgs)  \
  X(cross_entropy_inner_bf16, CrossEntropyResult, CrossEntropyArgs) \
  X(cross_entropy_inner_f16, CrossEntropyResult, CrossEntropyArgs)  \
  X(nll_loss_f32, CrossEntropyResult, CrossEntropyArgs)             \
  X(nll_loss_f64, CrossEntropyResult, CrossEntropyArgs)             \
  X(nll_loss_bf16, CrossEntropyResult, CrossEntropyArgs)            \
  X(nll_loss_f16, CrossEntropyResult, CrossEntropyArgs)             \
  X(evaluate_f32, EvaluateResult, EvaluateArgs)                     \
  X(evaluate_f64, EvaluateResult, EvaluateArgs)                     \
  X(evaluate_bf16, EvaluateResult, EvaluateArgs)                    \
  X(evaluate_f16, EvaluateResult, EvaluateArgs)
