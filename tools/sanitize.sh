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

# The interpreter is not instrumented: the ASan runtime must be loaded before everything else.
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$out/cmake/CMakeCache.txt")
libasan=$("$cxx" -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
  echo "$0: libasan.so not found for $cxx" >&2
  exit 1
fi
[ $# -eq 0 ] && set -- tests
cd "$root"
# detect_leaks=0: CPython keeps its allocations to the end; leak reports would be its own.
LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  FASTLOSS_SIMD="$isa" PYTHONPATH="$out/site" python3 -m pytest -q -p no:cacheprovider "$@"
