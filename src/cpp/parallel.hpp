// Deterministic parallel loops. The work is cut into chunks whose size depends on the problem
// size only, never on the thread count; a reduction keeps one float64 partial per chunk and
// adds the partials in chunk order. So 1, 2, 3 or 64 threads give bitwise the same result.
// (omp reduction(+:) is not used: its combination order is unspecified.)
#pragma once

#include <algorithm>
#include <cstdint>

namespace fastloss::FASTLOSS_ISA {

// At most this many chunks: the partials live on the caller's stack.
constexpr std::int64_t kMaxChunks = 4096;

// Chunk length for n items: at least min_chunk (so that a chunk amortizes its scheduling), and
// never more than kMaxChunks chunks.
inline std::int64_t chunk_length(std::int64_t n, std::int64_t min_chunk) {
  const std::int64_t by_count = (n + kMaxChunks - 1) / kMaxChunks;
  return by_count > min_chunk ? by_count : min_chunk;
}

// Calls body(begin, end) for every chunk of [0, n), in parallel when n_threads > 1.
template <class Body>
void parallel_chunks(std::int64_t n, std::int64_t min_chunk, int n_threads, Body&& body) {
  const std::int64_t chunk = chunk_length(n, min_chunk);
  const std::int64_t n_chunks = (n + chunk - 1) / chunk;
  if (n_chunks <= 1 || n_threads <= 1) {
    for (std::int64_t k = 0; k < n_chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
    return;
  }
#ifdef FASTLOSS_OPENMP
  const int team = static_cast<int>(std::min<std::int64_t>(n_threads, n_chunks));
#pragma omp parallel for schedule(static) num_threads(team)
  for (std::int64_t k = 0; k < n_chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
#else
  for (std::int64_t k = 0; k < n_chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
#endif
}

// Σ over chunks of chunk_sum(begin, end) -> double, added in chunk order.
template <class ChunkSum>
double parallel_sum(std::int64_t n, std::int64_t min_chunk, int n_threads, ChunkSum&& chunk_sum) {
  const std::int64_t chunk = chunk_length(n, min_chunk);
  const std::int64_t n_chunks = (n + chunk - 1) / chunk;
  double partials[kMaxChunks];
  parallel_chunks(n, min_chunk, n_threads,
                  [&](std::int64_t begin, std::int64_t end) { partials[begin / chunk] = chunk_sum(begin, end); });
  double total = 0.0;
  for (std::int64_t k = 0; k < n_chunks; ++k) total += partials[k];
  return total;
}

}  // namespace fastloss::FASTLOSS_ISA
