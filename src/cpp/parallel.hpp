// Deterministic parallel loops and the one ordered reduction every reducing kernel uses.
//
// The determinism contract (docs/numerics.md, "Determinism"): the items [0, n) are cut into
// chunks whose lengths depend on n and the kernel's min_chunk only, never on the thread count;
// ordered_reduce gives each chunk its own partial state and merges the partials in chunk order,
// from the state's identity. The float operations and their order are then fixed by the shape,
// so 1, 2, 3 or 64 threads give bitwise the same result. (omp reduction(+:) is not used: its
// combination order is unspecified.) A kernel states its chunk and its state, nothing more.
#pragma once

#include <algorithm>
#include <cstdint>
#include <new>

namespace fastloss::FASTLOSS_ISA {

// At most this many chunks for states of up to 16 bytes, a quarter as many for larger ones:
// the partials of a reduction live on the caller's stack (64 KB at most for the small states,
// 188 KB for evaluate's).
constexpr std::int64_t kMaxChunks = 4096;
template <class State>
constexpr std::int64_t kMaxChunksOf = sizeof(State) <= 16 ? kMaxChunks : kMaxChunks / 4;

// The chunks of [0, n): `count` chunks of `len` items, the last one possibly shorter.
struct Chunks {
  std::int64_t n, len, count;
  std::int64_t begin(std::int64_t k) const { return k * len; }
  std::int64_t end(std::int64_t k) const { return std::min(n, (k + 1) * len); }
};

// Chunks of at least min_chunk items (so that a chunk amortizes its scheduling), and never
// more than max_chunks of them.
inline Chunks chunks_of(std::int64_t n, std::int64_t min_chunk, std::int64_t max_chunks = kMaxChunks) {
  const std::int64_t by_count = (n + max_chunks - 1) / max_chunks;
  const std::int64_t len = by_count > min_chunk ? by_count : min_chunk;
  return {n, len, (n + len - 1) / len};
}

// Chunks of exactly len items, as many as n needs (a chunk sized to stay in a cache level).
inline Chunks fixed_chunks(std::int64_t n, std::int64_t len) { return {n, len, (n + len - 1) / len}; }

// fn(k) for every k in [0, count), on up to n_threads OpenMP threads.
template <class Fn>
void for_each_index(std::int64_t count, int n_threads, Fn&& fn) {
#ifdef FASTLOSS_OPENMP
  if (count > 1 && n_threads > 1) {
    const int team = static_cast<int>(std::min<std::int64_t>(n_threads, count));
#pragma omp parallel for schedule(static) num_threads(team)
    for (std::int64_t k = 0; k < count; ++k) fn(k);
    return;
  }
#else
  (void)n_threads;
#endif
  for (std::int64_t k = 0; k < count; ++k) fn(k);
}

// body(begin, end) for every chunk.
template <class Body>
void parallel_chunks(const Chunks& ch, int n_threads, Body&& body) {
  for_each_index(ch.count, n_threads, [&](std::int64_t k) { body(ch.begin(k), ch.end(k)); });
}
template <class Body>
void parallel_chunks(std::int64_t n, std::int64_t min_chunk, int n_threads, Body&& body) {
  parallel_chunks(chunks_of(n, min_chunk), n_threads, body);
}

// State::zero() merged with chunk(begin, end) -> State of every chunk, in chunk order. State:
// an identity zero() and an associative merge(const State&). At most kMaxChunksOf<State>
// partials are held at once: more chunks (fixed_chunks) are run in blocks of that many, each
// block merged before the next starts, in the same order.
template <class State, class Chunk>
State ordered_reduce(const Chunks& ch, int n_threads, Chunk&& chunk) {
  constexpr std::int64_t kSlots = kMaxChunksOf<State>;
  // Only the slots used are constructed: value-initializing them all is a memset of the whole
  // array per call (188 KB for evaluate's state).
  union Slot {
    State s;
    Slot() {}
  };
  Slot parts[kSlots];
  State total = State::zero();
  for (std::int64_t first = 0; first < ch.count; first += kSlots) {
    const std::int64_t count = std::min(kSlots, ch.count - first);
    for_each_index(count, n_threads, [&](std::int64_t k) {
      // Assigned, not built in place from the chunk's result, nor copied from a named local:
      // either way GCC keeps the chunk's running state in memory (a store per item).
      *new (&parts[k].s) State = chunk(ch.begin(first + k), ch.end(first + k));
    });
    for (std::int64_t k = 0; k < count; ++k) total.merge(parts[k].s);
  }
  return total;
}
template <class State, class Chunk>
State ordered_reduce(std::int64_t n, std::int64_t min_chunk, int n_threads, Chunk&& chunk) {
  return ordered_reduce<State>(chunks_of(n, min_chunk, kMaxChunksOf<State>), n_threads, chunk);
}

// A float64 sum as an ordered_reduce state.
struct Sum {
  double value;
  static Sum zero() { return {0.0}; }
  void merge(const Sum& o) { value += o.value; }
};

// Σ over the chunks of chunk_sum(begin, end) -> double.
template <class ChunkSum>
double parallel_sum(std::int64_t n, std::int64_t min_chunk, int n_threads, ChunkSum&& chunk_sum) {
  return ordered_reduce<Sum>(n, min_chunk, n_threads, [&](std::int64_t begin, std::int64_t end) {
    return Sum{chunk_sum(begin, end)};
  }).value;
}

}  // namespace fastloss::FASTLOSS_ISA
