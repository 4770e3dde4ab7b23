#!/usr/bin/env bash
# Formats every C++ source of the project with .clang-format (clang-format
# 14, Debian 12's), or with --check only reports the files that differ and
# fails (the test suite's format_check).
#   scripts/format.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$fmt" ]; then
  echo "format: clang-format not found (scripts/deps.sh test installs it)" >&2
  exit 1
fi
if ! "$fmt" --version | grep -q 'version 14\.'; then
  echo "format: need clang-format 14 (Debian 12's), found: $("$fmt" --version)" >&2
  exit 1
fi
# The project's own sources: tracked files when in a git checkout, else
# everything outside build dirs and node_modules.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp')
else
  mapfile -t files < <(find . \( -name 'build*' -o -name node_modules \) -prune \
                         -o \( -name '*.cpp' -o -name '*.hpp' \) -print)
fi
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "format: ${#bad[@]} file(s) differ from .clang-format; run scripts/format.sh:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files match .clang-format"
  exit 0
fi
"$fmt" -i "${files[@]}"
