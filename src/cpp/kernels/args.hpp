// Arguments of the kernels: plain structs, the same for every ISA. A kernel reads its inputs
// through these, never touches Python, and reports bad input through its return value.
//
// Every float array is of the entry's storage type (_f32, _f64, or the half types _bf16, _f16 of
// half.hpp, computed in float32) unless its comment says otherwise; weights that are not data
// (class weights, BCE weight tiles, the evaluator's sample weights) are of the compute type:
// float32 for the half types.
#pragma once
#include <cstdint>

namespace fastloss {

enum class Reduction : int { kNone = 0, kMean = 1, kSum = 2 };

enum class RegressionKind : int { kMse = 0, kL1 = 1, kHuber = 2, kSmoothL1 = 3 };

// input/target: n C-contiguous elements of one float type; out: n elements, or null when
// only the sum is wanted.
struct RegressionArgs {
  const void* input;
  const void* target;
  void* out;
  std::int64_t n;
  RegressionKind kind;
  double param;  // delta (huber) or beta (smooth_l1)
  int n_threads;
};

// Probes for bench/: the physical limit of a workload is measured with these.
struct ProbeReadArgs {
  const void* data;
  std::int64_t n;  // elements
  int n_threads;
};
struct ProbeCopyArgs {
  const void* src;
  void* dst;
  std::int64_t n;
  int n_threads;
};
struct ProbeExpArgs {
  std::int64_t n;  // exp evaluations in all
  int n_threads;
};

// binary_cross_entropy, binary_cross_entropy_with_logits (kernels/binary.hpp).
// A weight broadcast to the input that repeats along the flat index: element i takes
// tile[i % period]. The Python layer passes either the weight itself (period = n) or a tile
// whose period is a multiple of the weight's, >= kWeightTilePad, with at least
// kWeightTilePad elements after it that continue the pattern, so that a run of vectors
// starting below the period never wraps. tile = null: no weight.
constexpr std::int64_t kWeightTilePad = 64;
struct PeriodicWeight {
  const void* tile;
  std::int64_t period;
};
// input/target/out as in RegressionArgs.
struct BceArgs {
  const void* input;
  const void* target;
  PeriodicWeight weight;
  void* out;
  std::int64_t n;
  int n_threads;
};
struct BceWithLogitsArgs {
  const void* input;
  const void* target;
  PeriodicWeight weight;
  PeriodicWeight pos_weight;
  void* out;
  std::int64_t n;
  int n_threads;
};
// The float64 sum of the terms and the smallest index whose input or target lies outside
// [0, 1] (NaN included), or -1.
struct BceResult {
  double sum;
  std::int64_t first_bad;
};

// kl_div and entropy (kernels/divergence.hpp).
struct KlDivArgs {
  const void* input;
  const void* target;
  void* out;
  std::int64_t n;
  bool log_target;
  int n_threads;
};
// p viewed as C-contiguous (n_outer, n_classes, n_inner); the class axis is the middle one.
// out: n_outer * n_inner entropies, in the input's float type.
struct EntropyArgs {
  const void* p;
  void* out;
  std::int64_t n_outer;
  std::int64_t n_classes;
  std::int64_t n_inner;
  int n_threads;
};

// RegressionEvaluator (kernels/regression_stats.hpp): weight is null (all ones) or n
// elements of the input's float type.
struct RegressionStatsArgs {
  const void* input;
  const void* target;
  const void* weight;
  std::int64_t n;
  double delta;
  int n_threads;
};
struct RegressionStats {
  std::int64_t count;  // rows seen, weighted or not
  double weight_sum, sq_sum, abs_sum, huber_sum;
  double max_abs;      // over rows of positive weight; NaN if any |d| is NaN
  double y_mean, y_m2;  // weighted mean of the target and Σw·(y - ȳ)²
};

// softmax, log_softmax, logsumexp (kernels/softmax.hpp). x is C-contiguous
// (n_outer, n_classes, n_inner), the class axis in the middle; out has x's shape (softmax,
// log_softmax) or (n_outer, n_inner) (logsumexp), of x's storage type, or float64 (logsumexp,
// out_f64), or float32 for a half x (out_f32).
enum class SoftmaxKind : int { kSoftmax = 0, kLogSoftmax = 1, kLogSumExp = 2 };
struct SoftmaxArgs {
  const void* x;
  void* out;
  std::int64_t n_outer;
  std::int64_t n_classes;
  std::int64_t n_inner;
  SoftmaxKind kind;
  bool out_f64;
  bool out_f32;
  int n_threads;
};

// cross_entropy and nll_loss (kernels/cross_entropy.hpp). logits (log-probabilities for
// nll_loss) are C-contiguous (n_outer, n_classes, n_inner); index targets are
// (n_outer, n_inner) of int32 or int64, probability targets have the logits' shape and type.
// weight: n_classes elements of the logits' type, or null. out: n_outer * n_inner per-row
// losses of the logits' type, or null.
enum class TargetKind : int { kInt32 = 0, kInt64 = 1, kProb = 2 };
struct CrossEntropyArgs {
  const void* logits;
  const void* target;
  const void* weight;
  void* out;
  std::int64_t n_outer;
  std::int64_t n_classes;
  std::int64_t n_inner;
  std::int64_t ignore_index;
  double label_smoothing;
  TargetKind target_kind;
  int n_threads;
};
// Σ of the per-row losses, Σ w[t] over counted rows (index targets), and the smallest flat
// row index whose target is outside [0, C) and not ignore_index, or -1.
struct CrossEntropyResult {
  double loss_sum;
  double weight_sum;
  std::int64_t first_bad;
};

// evaluate (kernels/evaluate.hpp): the fused classification metrics. logits and target as in
// CrossEntropyArgs (index targets only); sample_weight: n_outer * n_inner float64, or null
// (ones); topk: n_topk (<= kMaxTopk) values of k. Per-row outputs (each may be null): the
// loss, entropy and lse in the logits' type, the rank as int64 (-1 for ignored rows).
constexpr int kMaxTopk = 16;
struct EvaluateArgs {
  const void* logits;
  const void* target;
  const void* weight;
  const double* sample_weight;
  const std::int64_t* topk;
  int n_topk;
  void* out_loss;
  std::int64_t* out_rank;
  void* out_entropy;
  void* out_lse;
  std::int64_t n_outer;
  std::int64_t n_classes;
  std::int64_t n_inner;
  std::int64_t ignore_index;
  double label_smoothing;
  TargetKind target_kind;  // kInt32 or kInt64
  int n_threads;
};
// Sums over the counted rows (s = sample weight): Σ s·l, Σ s·w[t], Σ s, Σ s·H, Σ s·lse,
// Σ s·[rank < topk[j]]; the number of counted rows; the smallest bad row or -1.
struct EvaluateResult {
  double loss = 0.0, loss_weight = 0.0, weight = 0.0, entropy = 0.0, lse = 0.0;
  double hits[kMaxTopk] = {};
  std::int64_t count = 0, first_bad = -1;
};

// The vector math library over an array (kernels/math_eval.hpp, for tests/test_math_ulp.py):
// out[i] = f(x[i]), x and out n elements of one float type.
// kSoftplusTail: log1p(exp(-|x|)), kernels/softplus.hpp's tail of softplus (float32 has its own method).
enum class MathFn : int { kExp = 0, kLog = 1, kLog1p = 2, kExpReducedP = 3, kExpReducedN = 4, kSoftplusTail = 5 };
struct MathArgs {
  const void* x;
  void* out;
  std::int64_t n;
  MathFn fn;
  int n_threads;
};

}  // namespace fastloss
