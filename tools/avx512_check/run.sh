#!/usr/bin/env bash
# Runs tools/kernel_check's kernel harness on the AVX-512 table without AVX-512 hardware: the real
# isa/avx512.cpp compiled against SIMDe's emulation of the intrinsics (apt libsimde-dev; stand-ins
# for the few SIMDe 0.7.4 lacks in simde_shim.hpp), checked against the real isa/scalar.cpp.
#   tools/avx512_check/run.sh [-v] [test-name-filter...]     exit 0 = all passed
# The emulated TU is compiled at -O0: ~4 min, where -O2 took 38 min on one core (the kernels run
# slower, ~5 min in all; what it checks is their logic: masks, lane orders, tails).
# The "primitives" test is NEON's (prims.cpp) and "probe_exp_f32" assumes NEON's 4 lanes: both
# are skipped by default. Output directory: AVX512_CHECK_BUILD (default build/avx512_check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${AVX512_CHECK_BUILD:-$root/build/avx512_check}
mkdir -p "$out"
flags=(-std=c++17 -O2 -DNDEBUG -ffp-contract=off -fno-math-errno -fopenmp -DFASTLOSS_OPENMP=1
       -I"$root/src/cpp" -I"$root/tools/kernel_check")
newer() { [[ ! -f "$1" ]] || [[ -n $(find "$root/src/cpp" "$here" "$root/tools/kernel_check" -newer "$1" -type f -print -quit) ]]; }
if newer "$out/avx512.o"; then
  g++ "${flags[@]}" -O0 -mavx2 -mfma -mf16c -include "$here/simde_shim.hpp" -c "$root/src/cpp/isa/avx512.cpp" \
    -o "$out/avx512.o" &
fi
if newer "$out/scalar.o"; then g++ "${flags[@]}" -fno-tree-vectorize -c "$root/src/cpp/isa/scalar.cpp" -o "$out/scalar.o" & fi
g++ "${flags[@]}" -c "$root/src/cpp/stats.cpp" -o "$out/stats.o"
# The harness names its second table "neon": here it is the avx512 one.
g++ "${flags[@]}" -Dneon=avx512 -c "$root/tools/kernel_check/main.cpp" -o "$out/main.o"
g++ "${flags[@]}" -c "$here/prims_stub.cpp" -o "$out/prims_stub.o"
wait
g++ -fopenmp "$out"/{main,prims_stub,scalar,avx512,stats}.o -o "$out/avx512_check"
if [[ $# -eq 0 ]] || [[ $# -eq 1 && $1 == -v ]]; then
  set -- "$@" math regression probe_f bce kl_div entropy softmax cross_entropy nll_loss evaluate
fi
"$out/avx512_check" "$@"
