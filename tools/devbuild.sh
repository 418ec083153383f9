#!/usr/bin/env bash
# Development build into build/NAME, isolated from other builds and from pip:
#   tools/devbuild.sh NAME  ->  PYTHONPATH=build/NAME/site python -m pytest
#   FASTLOSS_X86_ISAS=avx2 tools/devbuild.sh NAME  builds scalar + avx2 only (a faster edit loop)
# build/NAME/site/fastloss links to python/fastloss/*.py (edits show at once) and holds _core.
set -euo pipefail
name=${1:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/$name"
cmake -S "$root" -B "$out/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python3)" \
  "-DFASTLOSS_X86_ISAS=${FASTLOSS_X86_ISAS:-avx2;avx512}" >/dev/null
cmake --build "$out/cmake" >/dev/null
mkdir -p "$out/site/fastloss"
for f in "$root"/python/fastloss/*; do ln -sf "$f" "$out/site/fastloss/"; done
cp "$out"/cmake/_core*.so "$out/site/fastloss/"
echo "$out/site"
