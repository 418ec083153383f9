#!/usr/bin/env bash
# Regenerates python/fastloss/_core.pyi from a dev build (needs `pip install pybind11-stubgen`):
#   tools/make_stubs.sh [NAME]   (NAME of the tools/devbuild.sh build, default dev)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
site=$("$root/tools/devbuild.sh" "${1:-dev}")
out=$(mktemp -d)
PYTHONPATH="$site" pybind11-stubgen fastloss._core -o "$out" >/dev/null
# Values of this build (version, compiler) are not part of the interface.
sed -E 's/^(__version__|compiler): str = .*/\1: str/; s/^openmp: bool = .*/openmp: bool/' \
  "$out/fastloss/_core.pyi" > "$root/python/fastloss/_core.pyi"
rm -r "$out"
