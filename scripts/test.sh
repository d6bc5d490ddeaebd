#!/bin/sh
# The whole test suite, twice: a plain gcc build, whose integration tests
# then run again with the daemon under valgrind memcheck, and a clang
# build with AddressSanitizer + UndefinedBehaviorSanitizer that also
# builds the libFuzzer targets and runs each for a bounded time. Ends with
# the totals of all three stages as one line: "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
totals="$top/build/test-totals"
passed=0
failed=0

# configure once, reconfigure when the options changed
setup() {
        dir=$1; shift
        if [ -f "$dir/build.ninja" ]; then
                meson configure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi
}

# Add the counts of meson test's summary in $2 to the totals, as stage $1.
tally() {
        name=$1; log=$2
        grep -E '^ *[0-9]+/[0-9]+ ' "$log" || true
        ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log")
        fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log")
        xpass=$(sed -n 's/^Unexpected Pass: *\([0-9]*\).*/\1/p' "$log")
        tout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$log")
        skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' "$log")
        if [ -z "$ok" ]; then
                cat "$log"
                echo "== $name: meson test printed no summary"
                failed=$((failed + 1))
                return
        fi
        f=$(( ${fail:-0} + ${xpass:-0} + ${tout:-0} ))
        if [ "$f" -gt 0 ]; then
                # show what failed, with its log
                sed -n '/^=* *[0-9]*\/[0-9]* .*FAIL\|^=* *[0-9]*\/[0-9]* .*TIMEOUT/,/^==* *[0-9]*\/[0-9]*/p' "$log" | head -200
                grep -A40 -E '^(stdout|stderr):' "$log" | head -200 || true
        fi
        echo "== $name: ${ok} passed, ${f} failed, ${skip:-0} skipped ($(( $(date +%s) - stage_start )) s)"
        passed=$((passed + ok))
        failed=$((failed + f))
}

# Build $2 with the options after it and run its tests; 0 if it built.
run_suite() {
        name=$1; dir=$2; shift 2
        stage_start=$(date +%s)
        echo "== $name build ($dir)"
        if ! { setup "$dir" "$@" && ninja -C "$dir"; } >"$dir/configure-log.txt" 2>&1; then
                cat "$dir/configure-log.txt"
                echo "== $name build FAILED to configure or compile"
                failed=$((failed + 1))
                return 1
        fi
        meson test -C "$dir" --print-errorlogs --num-processes 2 >"$dir/suite-output.txt" 2>&1
        tally "$name" "$dir/suite-output.txt"
}

# The integration tests again with their daemon under valgrind memcheck
# (meson test --setup=valgrind, tests/meson.build): any memcheck error or
# definite leak fails the test that stopped that daemon.
valgrind_tests="test-export-import test-hostile-peer test-dma-buf-api"
run_valgrind() {
        dir=$1
        stage_start=$(date +%s)
        echo "== valgrind memcheck of the daemon ($dir: $valgrind_tests)"
        if ! command -v valgrind >/dev/null; then
                echo "== valgrind is missing: scripts/install-deps.sh installs it"
                failed=$((failed + 1))
                return
        fi
        meson test -C "$dir" --setup=valgrind --print-errorlogs --num-processes 2 $valgrind_tests \
                >"$dir/valgrind-output.txt" 2>&1
        tally "valgrind memcheck" "$dir/valgrind-output.txt"
}

mkdir -p build build-sanitize
run_suite plain build -Dbuildtype=debugoptimized -Dwerror=true && run_valgrind build
export CC=clang CXX=clang++
run_suite "ASan+UBSan (clang, libFuzzer smoke run)" build-sanitize \
        -Dbuildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true

echo "$passed passed, $failed failed" >"$totals"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
