#!/usr/bin/env bash
# ASan + UBSan build of one instruction set into build/sanitize, then the tests under it:
#   tools/sanitize.sh [scalar|avx2] [pytest arguments...]
# scalar (the default) builds the scalar path only; avx2 builds scalar and avx2 and pins avx2
# with FASTLOSS_SIMD (the suite's backend fixture still visits both). Without pytest arguments
# the whole suite runs. Sanitized kernels are several times slower: this is for before a
# release, not for CI. Any report stops the run (halt_on_error) with a stack trace.
set -euo pipefail
isa=${1:-scalar}
[ $# -gt 0 ] && shift
case "$isa" in
  scalar) x86_isas="" ;;
  avx2) x86_isas="avx2" ;;
  *) echo "usage: $0 [scalar|avx2] [pytest arguments...]" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/sanitize"
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer"
cmake -S "$root" -B "$out/cmake" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFASTLOSS_X86_ISAS="$x86_isas" -DCMAKE_CXX_FLAGS="$sanitize" \
  -DCMAKE_MODULE_LINKER_FLAGS="$sanitize" -DCMAKE_SHARED_LINKER_FLAGS="$sanitize" \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
cmake --build "$out/cmake" >/dev/null
mkdir -p "$out/site/fastloss"
rm -f "$out"/site/fastloss/_core*.so
for f in "$root"/python/fastloss/*; do ln -sf "$f" "$out/site/fastloss/"; done
cp "$out"/cmake/_core*.so "$out/site/fastloss/"

# The interpreter is not instrumented: the ASan runtime must be loaded before everything else,
# and libstdc++ with it, or ASan's __cxa_throw interceptor finds no real __cxa_throw at start
# (the first C++ exception, ours or torch's, then aborts in a CHECK).
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$out/cmake/CMakeCache.txt")
libasan=$("$cxx" -print-file-name=libasan.so)
libstdcxx=$("$cxx" -print-file-name=libstdc++.so)
for lib in "$libasan" "$libstdcxx"; do
  if [ ! -e "$lib" ]; then
    echo "$0: $lib not found for $cxx" >&2
    exit 1
  fi
done
[ $# -eq 0 ] && set -- tests
cd "$root"
# Reports go to files, not stderr: pytest captures fd 2 and a halted process never shows it.
reports="$out/reports"
rm -rf "$reports"
mkdir -p "$reports"
# detect_leaks=0: CPython keeps its allocations to the end; leak reports would be its own.
# One test cannot hold under ASan: a child under an RLIMIT_AS of 330 MB cannot map ASan's
# shadow memory.
status=0
LD_PRELOAD="$libasan $libstdcxx" ASAN_OPTIONS="detect_leaks=0:log_path=$reports/asan" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
  FASTLOSS_SIMD="$isa" PYTHONPATH="$out/site" python3 -m pytest -q -p no:cacheprovider \
  --deselect tests/test_bounded_memory.py::test_file_larger_than_the_cap \
  "$@" || status=$?
if compgen -G "$reports/*" >/dev/null; then
  echo "$0: sanitizer reports:" >&2
  cat "$reports"/* >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
