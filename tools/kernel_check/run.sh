#!/usr/bin/env bash
# Builds the kernel harness with the NEON table for aarch64 (cross compiler) and runs it under
# qemu-aarch64.
#   tools/kernel_check/run.sh [-v] [filter...]   (-v: print the first failures of passing entries too)
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user. Objects are rebuilt when a file under
# src/cpp or tools/kernel_check is newer. Override: CXX_AARCH64, QEMU_AARCH64, AARCH64_SYSROOT,
# KERNEL_CHECK_BUILD (output directory, default build/kernel_check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${KERNEL_CHECK_BUILD:-$root/build/kernel_check}
cxx=${CXX_AARCH64:-aarch64-linux-gnu-g++}
qemu=${QEMU_AARCH64:-qemu-aarch64}
sysroot=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
mkdir -p "$out"

# The flags of the real build (CMakeLists.txt): no fast-math, no FP contraction, Release -O3.
common=(-std=c++17 -ffp-contract=off -fno-math-errno -Wall -Wextra -I"$root/src/cpp" -I"$here")
omp=()
if echo 'int main() { return 0; }' | "$cxx" -fopenmp -x c++ - -o "$out/omp_probe" 2>/dev/null; then
  omp=(-fopenmp -DFASTLOSS_OPENMP=1)
else
  echo "kernel_check: no libgomp for aarch64, building without OpenMP" >&2
fi

# compile SRC OBJ FLAGS...: only when SRC or any header is newer than OBJ.
pids=()
compile() {
  local src=$1 obj=$2
  shift 2
  if [[ -f "$obj" ]] && [[ -z $(find "$root/src/cpp" "$here" -newer "$obj" -type f -print -quit) ]]; then
    return 0
  fi
  echo "  CXX $(basename "$src")"
  "$cxx" "${common[@]}" "${omp[@]}" "$@" -c "$src" -o "$obj" &
  pids+=($!)
}
compile "$root/src/cpp/isa/scalar.cpp" "$out/scalar.o" -O3 -DNDEBUG -fno-tree-vectorize
compile "$root/src/cpp/isa/neon.cpp" "$out/neon.o" -O3 -DNDEBUG
compile "$root/src/cpp/stats.cpp" "$out/stats.o" -O3 -DNDEBUG
compile "$here/prims.cpp" "$out/prims.o" -O2
compile "$here/main.cpp" "$out/main.o" -O2
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if [[ $status != 0 ]]; then
  rm -f "$out"/*.o  # a failed TU must not leave stale objects that look up to date
  echo "kernel_check: build failed" >&2
  exit 2
fi
"$cxx" "${omp[@]}" "$out/main.o" "$out/prims.o" "$out/scalar.o" "$out/neon.o" "$out/stats.o" -o "$out/kernel_check"

"$qemu" -L "$sysroot" "$out/kernel_check" "$@"
