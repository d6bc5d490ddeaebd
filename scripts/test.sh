#!/bin/sh
# The whole test suite, twice: a plain gcc build, and a clang build with
# AddressSanitizer + UndefinedBehaviorSanitizer that also builds the
# libFuzzer target and runs it for a bounded time. Ends with the totals
# of both runs as one line: "N passed, N failed".
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

run_suite() {
        name=$1; dir=$2; shift 2
        echo "== $name build ($dir)"
        log="$dir/suite-output.txt"
        if ! { setup "$dir" "$@" && ninja -C "$dir"; } >"$dir/configure-log.txt" 2>&1; then
                cat "$dir/configure-log.txt"
                echo "== $name build FAILED to configure or compile"
                failed=$((failed + 1))
                return
        fi
        meson test -C "$dir" --print-errorlogs --num-processes 2 >"$log" 2>&1
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
        echo "== $name: ${ok} passed, ${f} failed, ${skip:-0} skipped"
        passed=$((passed + ok))
        failed=$((failed + f))
}

mkdir -p build build-sanitize
run_suite plain build -Dbuildtype=debugoptimized -Dwerror=true
export CC=clang CXX=clang++
run_suite "ASan+UBSan (clang, libFuzzer smoke run)" build-sanitize \
        -Dbuildtype=debug -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true

echo "$passed passed, $failed failed" >"$totals"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
