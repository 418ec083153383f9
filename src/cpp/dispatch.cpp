// CPU feature detection and the choice of kernel table. CPUID says what the CPU has; XCR0
// (xgetbv) says whether the OS saves the wide registers, without which AVX code faults.
#include "dispatch.hpp"

#include <atomic>
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define FASTLOSS_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace fastloss {

namespace scalar { extern const KernelTable table; }
#ifdef FASTLOSS_BUILD_AVX2
namespace avx2 { extern const KernelTable table; }
#endif
#ifdef FASTLOSS_BUILD_AVX512
namespace avx512 { extern const KernelTable table; }
#endif
#ifdef FASTLOSS_BUILD_NEON
namespace neon { extern const KernelTable table; }
#endif

namespace {

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA, with YMM state enabled by the OS
  bool avx512 = false;  // AVX-512 F/DQ/BW/VL, with ZMM and opmask state enabled by the OS
};

#ifdef FASTLOSS_X86
void cpuid(unsigned leaf, unsigned subleaf, unsigned regs[4]) {
#if defined(_MSC_VER)
  int r[4];
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(subleaf));
  for (int i = 0; i < 4; ++i) regs[i] = static_cast<unsigned>(r[i]);
#else
  __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
#endif
}

std::uint64_t xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  if (max_leaf < 7) return f;
  cpuid(1, 0, r);
  const bool fma = r[2] & (1u << 12), osxsave = r[2] & (1u << 27), avx = r[2] & (1u << 28);
  if (!(osxsave && avx)) return f;
  const std::uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;           // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;         // + opmask, ZMM_Hi256, Hi16_ZMM
  cpuid(7, 0, r);
  const unsigned ebx = r[1];
  const bool avx2 = ebx & (1u << 5);
  const bool avx512 = (ebx & (1u << 16)) && (ebx & (1u << 17)) && (ebx & (1u << 30)) && (ebx & (1u << 31));
  f.avx2 = avx2 && fma && ymm_state;
  f.avx512 = f.avx2 && avx512 && zmm_state;
  // macOS enables AVX-512 state lazily, so XCR0 may read 0 there until first use; we then
  // stay on AVX2, which is safe.
  return f;
}
#endif

struct Entry {
  const char* name;
  const KernelTable* table;
  bool supported;
};

// Every compiled table, best first.
std::vector<Entry> entries() {
  std::vector<Entry> list;
#ifdef FASTLOSS_X86
  static const CpuFeatures cpu = detect();  // cpuid is slow: once per process
  (void)cpu;
#endif
#ifdef FASTLOSS_BUILD_AVX512
  list.push_back({"avx512", &avx512::table, cpu.avx512});
#endif
#ifdef FASTLOSS_BUILD_AVX2
  list.push_back({"avx2", &avx2::table, cpu.avx2});
#endif
#ifdef FASTLOSS_BUILD_NEON
  list.push_back({"neon", &neon::table, true});
#endif
  list.push_back({"scalar", &scalar::table, true});
  return list;
}

const KernelTable* best_supported() {
  for (const Entry& e : entries())
    if (e.supported) return e.table;
  return &scalar::table;
}

std::atomic<const KernelTable*> g_active{nullptr};

bool is_known_isa(const std::string& name) {
  return name == "scalar" || name == "avx2" || name == "avx512" || name == "neon";
}

}  // namespace

const KernelTable& active() {
  const KernelTable* t = g_active.load(std::memory_order_acquire);
  if (t == nullptr) {
    t = best_supported();
    g_active.store(t, std::memory_order_release);
  }
  return *t;
}

std::string init_dispatch(const char* requested) {
  const KernelTable* best = best_supported();
  g_active.store(best, std::memory_order_release);
  if (requested == nullptr || *requested == '\0') return "";
  const std::string want(requested);
  if (!is_known_isa(want))
    return "FASTLOSS_SIMD='" + want + "' is not one of scalar, avx2, avx512, neon; ignored (using " + best->isa + ")";
  // FASTLOSS_SIMD can only lower the choice: walk down from the best to the requested one.
  bool passed_best = false;
  for (const Entry& e : entries()) {
    if (e.table == best) passed_best = true;
    if (passed_best && want == e.name) {
      g_active.store(e.table, std::memory_order_release);
      return "";
    }
  }
  return "FASTLOSS_SIMD='" + want + "' is not available on this CPU or build; using " + best->isa;
}

bool set_backend(const std::string& isa) {
  for (const Entry& e : entries()) {
    if (e.supported && isa == e.name) {
      g_active.store(e.table, std::memory_order_release);
      return true;
    }
  }
  return false;
}

bool borrowed_entries(const std::string& isa, std::string* lender, std::vector<std::string>* names) {
  for (const Entry& e : entries()) {
    if (isa != e.name) continue;
    *lender = e.table->lender;
    names->clear();
    for (const char* const* b = e.table->borrowed; *b != nullptr; ++b) names->push_back(*b);
    return true;
  }
  return false;
}

std::vector<std::string> compiled_backends() {
  std::vector<std::string> names;
  for (const Entry& e : entries()) names.push_back(e.name);
  return names;
}

std::vector<std::string> supported_backends() {
  std::vector<std::string> names;
  for (const Entry& e : entries())
    if (e.supported) names.push_back(e.name);
  return names;
}

}  // namespace fastloss
