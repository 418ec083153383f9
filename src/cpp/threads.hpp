// The thread count of a kernel call: a process-wide setting, a per-OS-thread override (a Python
// thread is an OS thread), and a default given at import. Kept here, not in Python, so that a
// call resolves it without a Python-level lookup (the 2 µs per-call budget). After fork the
// child runs serially: libgomp's pool does not survive a fork.
#pragma once

namespace fastloss {

int call_threads();                  // the count for a kernel call from this thread
void set_default_threads(int n);     // at import: OMP_NUM_THREADS, else the CPU affinity
void set_process_threads(int n);     // fastloss.set_num_threads
int swap_thread_override(int n);     // fastloss.threads(n): 0 clears it; returns the previous
void mark_forked();                  // in a forked child

}  // namespace fastloss
