// Arguments of the kernels: plain structs, the same for every ISA. A kernel reads its inputs
// through these, never touches Python, and reports bad input through its return value.
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

}  // namespace fastloss
