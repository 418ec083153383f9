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

}  // namespace fastloss
