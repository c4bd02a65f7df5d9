#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer and AddressSanitizer, for a bounded time per target.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]
#
# SECONDS_PER_TARGET defaults to 60; TARGET defaults to every target (token-response record-codec session-codec
# callback-url). Builds `oauth-broker-fuzz` in .build-fuzz/ (release, -DFUZZING, ASan, libFuzzer coverage
# instrumentation, linked against the toolchain's libclang_rt.fuzzer_no_main), starts each target from the
# checked-in seeds in Fuzz/corpus/TARGET (read only) plus a scratch corpus in .build-fuzz/corpus/TARGET, and prints
# one line per target: executions, corpus size, and crashes. Crash inputs are kept in .build-fuzz/crashes/TARGET;
# rerun one with a normal build: `swift run oauth-broker-fuzz TARGET FILE`. Exits 1 if any target crashed.
# Not part of CI's test run (it takes minutes); `swift test` replays the seed corpus through the same targets.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(token-response record-codec session-codec callback-url); fi

toolchain="$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")"
fuzzer_lib="$(find "$toolchain/lib/clang" -name 'libclang_rt.fuzzer_no_main-*.a' | head -n 1)"
if [ -z "$fuzzer_lib" ]; then echo "fuzz.sh: libclang_rt.fuzzer_no_main not found under $toolchain/lib/clang" >&2; exit 2; fi

echo "==> building oauth-broker-fuzz (release, ASan, libFuzzer instrumentation) in .build-fuzz"
swift build -c release --build-path .build-fuzz --product oauth-broker-fuzz \
    -Xswiftc -DFUZZING -Xswiftc -sanitize=address \
    -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
    -Xlinker "$fuzzer_lib" -Xlinker -lstdc++ 2>&1 | grep -v "Cannot export local symbol" || true
binary=".build-fuzz/release/oauth-broker-fuzz"
[ -x "$binary" ] || { echo "fuzz.sh: the build did not produce $binary" >&2; exit 1; }

status=0
for target in "${targets[@]}"; do
    corpus=".build-fuzz/corpus/$target"
    crashes=".build-fuzz/crashes/$target"
    mkdir -p "$corpus" "$crashes"
    seeds=()
    if [ -d "Fuzz/corpus/$target" ]; then seeds=("Fuzz/corpus/$target"); fi
    log=".build-fuzz/$target.log"
    # -detect_leaks=0: the Swift runtime's caches look like leaks to LeakSanitizer.
    set +e
    ASAN_OPTIONS=detect_leaks=0 "$binary" "$target" "$corpus" "${seeds[@]}" -max_total_time="$seconds" \
        -print_final_stats=1 -max_len=65536 -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$crashes/" >"$log" 2>&1
    rc=$?
    set -e
    executions="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -n 1)"
    units="$(find "$corpus" -type f | wc -l | tr -d ' ')"
    found="$(find "$crashes" -type f | wc -l | tr -d ' ')"
    echo "$target: ${executions:-?} executions in ${seconds}s, corpus $units inputs, $found crash input(s), exit $rc"
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        status=1
        grep -E 'ERROR|Fatal error|precondition' "$log" | head -n 5 || true
    fi
done
exit "$status"
