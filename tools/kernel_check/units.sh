# Sourced by tools/kernel_check/run.sh and tools/avx512_check/run.sh: the parallel, incremental
# build of their objects, an ISA's kernel table unit by unit as CMakeLists.txt builds it.
# Needs $root (the checkout) and $out (the output directory).
#   compile SRC OBJ CXX ARGS...  CXX ARGS -c SRC -o OBJ in the background, unless OBJ is newer
#                                than every file it was built from (the compiler's -MMD list in
#                                OBJ.d: SRC and the headers it included); nproc jobs at once
#   compile_isa ISA CXX ARGS...  compile of isa/ISA.cpp and every kernels/*.cpp, with
#                                -DFASTLOSS_ISA=ISA, into $out/ISA_<unit>.o
#   isa_objects ISA              the objects compile_isa ISA makes
#   finish_compiles              waits for every compile; on a failure removes the objects
#                                (none may look up to date) and exits 2
rm -f "$out/failed"

# True if OBJ and OBJ.d exist and every file OBJ.d lists exists and is not newer than OBJ. A
# list it cannot read (a path with a space, a missing file) means rebuild.
up_to_date() {
  local obj=$1 dep
  [[ -f "$obj" && -f "$obj.d" ]] || return 1
  for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$obj.d"); do
    [[ -f "$dep" && ! "$dep" -nt "$obj" ]] || return 1
  done
}

compile() {
  local src=$1 obj=$2
  shift 2
  if up_to_date "$obj"; then return 0; fi
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n || true; done
  echo "  CXX $(basename "$obj" .o)"
  { "$@" -MMD -MF "$obj.d" -c "$src" -o "$obj" || touch "$out/failed"; } &
}

isa_units() { echo "$root/src/cpp/isa/$1.cpp" "$root"/src/cpp/kernels/*.cpp; }

compile_isa() {
  local isa=$1 src
  shift
  for src in $(isa_units "$isa"); do
    compile "$src" "$out/${isa}_$(basename "$src" .cpp).o" "$@" "-DFASTLOSS_ISA=$isa"
  done
}

isa_objects() {
  local src
  for src in $(isa_units "$1"); do echo "$out/${1}_$(basename "$src" .cpp).o"; done
}

finish_compiles() {
  wait
  if [[ -f "$out/failed" ]]; then
    rm -f "$out"/*.o "$out/failed"
    echo "$0: build failed" >&2
    exit 2
  fi
}
