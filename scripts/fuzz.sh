#!/bin/sh
# Long fuzzing runs, the ones docs/fuzzing.md records: each libFuzzer
# target for RUNS executions (default 10 million) in an optimised
# ASan+UBSan build of its own (build-fuzz), starting from its seed corpus.
# New inputs and any crash go to build-fuzz/tests/fuzz/TARGET-long/; the
# summary (executions, seconds, coverage) goes to TARGET-long.log there.
#   scripts/fuzz.sh [RUNS] [TARGET...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10000000}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz-message fuzz-dispatch"}
dir="$top/build-fuzz"

if [ ! -f "$dir/build.ninja" ]; then
        CC=clang CXX=clang++ meson setup "$dir" -Dbuildtype=debugoptimized -Dwerror=true \
                -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true >/dev/null
fi
for t in $targets; do
        ninja -C "$dir" "tests/fuzz/$t" >/dev/null
done

status=0
for t in $targets; do
        case $t in
        fuzz-message) seeds="$top/tests/fuzz/corpus"; max_len=1024; flags="" ;;
        # its ~15,000 features made libFuzzer's entropic schedule spend 60%
        # of the time on its own bookkeeping (perf): 4 times the executions
        # without it
        fuzz-dispatch) seeds="$top/tests/fuzz/corpus-dispatch"; max_len=256; flags="-entropic=0" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
        esac
        work="$dir/tests/fuzz/$t-long"
        log="$work.log"
        mkdir -p "$work"
        start=$(date +%s)
        # shellcheck disable=SC2086
        if "$dir/tests/fuzz/$t" -runs="$runs" -max_len=$max_len $flags -timeout=10 -rss_limit_mb=2048 \
                -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
                -artifact_prefix="$work/" "$work" "$seeds" >"$log" 2>&1; then
                result=ok
        else
                result=FAILED
                status=1
        fi
        end=$(date +%s)
        last=$(grep -E '^#[0-9]+' "$log" | tail -1)
        echo "$t: $result in $((end - start)) s; $last"
        grep -E '^stat::' "$log" || true
done
exit $status
