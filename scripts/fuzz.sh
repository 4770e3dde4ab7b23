#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs
# each for SECONDS (default 60) on its corpus in tests/fuzz/corpus/ (new
# inputs go to a temporary directory: the corpus in the repo changes only
# when someone copies them in). Exits non-zero on the first crash, naming
# the input that caused it; every crash found becomes a regression case in
# tests/edge/parser_fuzz_test.cpp or the parser's unit test.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_native_protocol fuzz_socketio fuzz_url fuzz_jwt fuzz_ws_frame fuzz_rest_bodies)
build=${FUZZ_BUILD:-build-fuzz}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPRESENCE_FUZZ=ON \
  "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null

declare -A corpus=([fuzz_native_protocol]=native [fuzz_socketio]=socketio
                   [fuzz_url]=url [fuzz_jwt]=jwt [fuzz_ws_frame]=ws_frame
                   [fuzz_rest_bodies]=rest)
declare -A dict=([fuzz_native_protocol]=native.dict [fuzz_socketio]=socketio.dict)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  bin=$(find "$build" -name "$t" -type f -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "fuzz: $t was not built" >&2; exit 2; }
  mkdir -p "$work/$t" "$work/$t.crash"
  args=(-max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$work/$t.crash/")
  [ -n "${dict[$t]:-}" ] && args+=(-dict="tests/fuzz/${dict[$t]}")
  echo "fuzz: $t for ${secs}s"
  if ! "$bin" "${args[@]}" "$work/$t" "tests/fuzz/corpus/${corpus[$t]}" \
       > "$work/$t.log" 2>&1; then
    tail -40 "$work/$t.log" >&2
    mkdir -p fuzz-crashes
    cp "$work/$t.crash/"* fuzz-crashes/ 2>/dev/null || true
    echo "fuzz: $t crashed; the input is in fuzz-crashes/" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/$t.log" \
    | sed "s/^/fuzz: $t: /"
done
echo "fuzz: ${#targets[@]} targets, ${secs}s each, no crash"
