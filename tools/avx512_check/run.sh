#!/usr/bin/env bash
# Runs tools/kernel_check's kernel harness on the AVX-512 table without AVX-512 hardware: the real
# units of the avx512 table (isa/avx512.cpp, kernels/*.cpp) compiled against SIMDe's emulation of
# the intrinsics (apt libsimde-dev; stand-ins for the few SIMDe 0.7.4 lacks in simde_shim.hpp),
# checked against the real scalar table. An object is rebuilt when its source or a header it
# includes is newer (tools/kernel_check/units.sh).
#   tools/avx512_check/run.sh [-v] [test-name-filter...]     exit 0 = all passed
# The emulated units are compiled at -O0: -O2 takes many times longer (the kernels run slower
# at -O0; what it checks is their logic: masks, lane orders, tails).
# The "primitives" test is NEON's (prims.cpp) and "probe_exp_f32" assumes NEON's 4 lanes: both
# are skipped by default. Output directory: AVX512_CHECK_BUILD (default build/avx512_check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${AVX512_CHECK_BUILD:-$root/build/avx512_check}
mkdir -p "$out"
flags=(-std=c++17 -O2 -DNDEBUG -ffp-contract=off -fno-math-errno -fopenmp -DFASTLOSS_OPENMP=1
       -I"$root/src/cpp" -I"$root/tools/kernel_check")
source "$root/tools/kernel_check/units.sh"
compile_isa avx512 g++ "${flags[@]}" -O0 -mavx2 -mfma -mf16c -include "$here/simde_shim.hpp"
compile_isa scalar g++ "${flags[@]}" -fno-tree-vectorize
compile "$root/src/cpp/stats.cpp" "$out/stats.o" g++ "${flags[@]}"
# The harness names its second table "neon": here it is the avx512 one.
compile "$root/tools/kernel_check/main.cpp" "$out/main.o" g++ "${flags[@]}" -Dneon=avx512
compile "$here/prims_stub.cpp" "$out/prims_stub.o" g++ "${flags[@]}"
finish_compiles
g++ -fopenmp "$out"/{main,prims_stub,stats}.o $(isa_objects scalar) $(isa_objects avx512) -o "$out/avx512_check"
if [[ $# -eq 0 ]] || [[ $# -eq 1 && $1 == -v ]]; then
  set -- "$@" math regression probe_f bce kl_div entropy softmax cross_entropy nll_loss evaluate
fi
"$out/avx512_check" "$@"
