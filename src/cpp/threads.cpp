#include "threads.hpp"

#include <atomic>

namespace fastloss {
namespace {
std::atomic<int> g_default{1};
std::atomic<int> g_process{0};  // 0: not set
std::atomic<bool> g_forked{false};
thread_local int t_override = 0;  // 0: not set
}  // namespace

int call_threads() {
  if (g_forked.load(std::memory_order_relaxed)) return 1;
  if (t_override > 0) return t_override;
  const int p = g_process.load(std::memory_order_relaxed);
  return p > 0 ? p : g_default.load(std::memory_order_relaxed);
}

void set_default_threads(int n) { g_default.store(n > 0 ? n : 1, std::memory_order_relaxed); }
void set_process_threads(int n) { g_process.store(n, std::memory_order_relaxed); }

int swap_thread_override(int n) {
  const int previous = t_override;
  t_override = n;
  return previous;
}

void mark_forked() { g_forked.store(true, std::memory_order_relaxed); }

}  // namespace fastloss
