#!/usr/bin/env bash
# Builds the kernel harness with the NEON table for aarch64 (cross compiler) and runs it under
# qemu-aarch64.
#   tools/kernel_check/run.sh [-v] [filter...]   (-v: print the first failures of passing entries too)
# Needs: apt-get install g++-aarch64-linux-gnu qemu-user. An object is rebuilt when its source or a
# header it includes is newer (units.sh). Override: CXX_AARCH64, QEMU_AARCH64, AARCH64_SYSROOT,
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

source "$here/units.sh"
compile_isa scalar "$cxx" "${common[@]}" "${omp[@]}" -O3 -DNDEBUG -fno-tree-vectorize
compile_isa neon "$cxx" "${common[@]}" "${omp[@]}" -O3 -DNDEBUG
compile "$root/src/cpp/stats.cpp" "$out/stats.o" "$cxx" "${common[@]}" "${omp[@]}" -O3 -DNDEBUG
compile "$here/prims.cpp" "$out/prims.o" "$cxx" "${common[@]}" "${omp[@]}" -O2
compile "$here/main.cpp" "$out/main.o" "$cxx" "${common[@]}" "${omp[@]}" -O2
finish_compiles
"$cxx" "${omp[@]}" "$out/main.o" "$out/prims.o" $(isa_objects scalar) $(isa_objects neon) "$out/stats.o" \
  -o "$out/kernel_check"

"$qemu" -L "$sysroot" "$out/kernel_check" "$@"
