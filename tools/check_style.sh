#!/usr/bin/env bash
# The style gate that CI runs: ruff's lint and formatter over the Python, clang-format (the
# repo's .clang-format) over the C++. Exit status 0 means the tree is clean.
#   tools/check_style.sh            check, with the pinned ruff and clang-format on PATH
#   tools/check_style.sh --install  first pip-install the pinned versions from PyPI (CI does this)
#   tools/check_style.sh --fix      rewrite the files instead: ruff check --fix, ruff format, clang-format -i
# The versions are pinned here and only here: other versions format differently (Debian's
# clang-format too), so a new version is a commit that bumps the pin and reformats the tree.
set -euo pipefail
RUFF_VERSION=0.17.6
CLANG_FORMAT_VERSION=23.1.3
cd "$(dirname "$0")/.."

fix=0
for arg in "$@"; do
  case "$arg" in
    --install) python3 -m pip install --quiet "ruff==$RUFF_VERSION" "clang-format==$CLANG_FORMAT_VERSION" ;;
    --fix) fix=1 ;;
    *) echo "usage: tools/check_style.sh [--install] [--fix]" >&2; exit 2 ;;
  esac
done

ruff_version=$(ruff --version 2>/dev/null | awk '{print $2}' || true)
clang_format_version=$(clang-format --version 2>/dev/null | sed -nE 's/.*clang-format version ([0-9.]+).*/\1/p' || true)
if [[ "$ruff_version" != "$RUFF_VERSION" || "$clang_format_version" != "$CLANG_FORMAT_VERSION" ]]; then
  echo "check_style: needs ruff $RUFF_VERSION and clang-format $CLANG_FORMAT_VERSION, found ruff" \
    "${ruff_version:-none} and clang-format ${clang_format_version:-none} (run with --install)" >&2
  exit 1
fi

python_dirs=(python tests bench tools examples)  # pyproject.toml's [tool.ruff] has the rules and exclusions
mapfile -t cpp_files < <(git ls-files -- 'src/cpp/*.cpp' 'src/cpp/*.hpp' 'src/cpp/*.inc' 'tools/*.cpp' 'tools/*.hpp')

if ((fix)); then
  # Format first: it fixes what ruff check would report as too long; then what is left.
  ruff format "${python_dirs[@]}"
  clang-format -i "${cpp_files[@]}"
  ruff check --fix "${python_dirs[@]}"
  exit
fi
status=0
ruff check "${python_dirs[@]}" || status=1
ruff format --check "${python_dirs[@]}" || status=1
clang-format --dry-run --Werror "${cpp_files[@]}" || status=1
if ((status)); then
  echo "check_style: style check failed; tools/check_style.sh --fix rewrites the files" >&2
else
  echo "check_style: ruff $RUFF_VERSION and clang-format $CLANG_FORMAT_VERSION: clean (${#cpp_files[@]} C++ files)"
fi
exit "$status"
