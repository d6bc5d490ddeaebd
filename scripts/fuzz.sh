#!/bin/sh
# Long fuzzing runs, the ones docs/fuzzing.md records: each libFuzzer
# target for RUNS executions (default 10 million), starting from its seed
# corpus, in an optimised build of its own.
#   scripts/fuzz.sh [RUNS] [TARGET...]
# FUZZ_SANITIZE: the fuzzing build's sanitizers (default address,undefined;
#   "undefined" runs about 3 times faster). When it is not ASan+UBSan, every
#   input of the resulting corpus is then replayed under ASan+UBSan.
# FUZZ_JOBS: processes fuzzing one corpus side by side (default 1), each
#   doing RUNS / FUZZ_JOBS executions.
# New inputs and any crash go to build-fuzz-*/tests/fuzz/TARGET-long/; each
# process's log (executions, coverage) to TARGET-long.N.log there.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10000000}
[ $# -gt 0 ] && shift
targets=${*:-"fuzz-message fuzz-dispatch"}
sanitize=${FUZZ_SANITIZE:-address,undefined}
jobs=${FUZZ_JOBS:-1}

# build_dir SANITIZERS: an optimised -Dfuzz=true build with them
build_dir() {
        dir="$top/build-fuzz-$(echo "$1" | tr , -)"
        if [ ! -f "$dir/build.ninja" ]; then
                CC=clang CXX=clang++ meson setup "$dir" -Dbuildtype=debugoptimized -Dwerror=true \
                        -Db_sanitize="$1" -Db_lundef=false -Dfuzz=true >/dev/null
        fi
        echo "$dir"
}

dir=$(build_dir "$sanitize")
replay=""
[ "$sanitize" = address,undefined ] || replay=$(build_dir address,undefined)
for t in $targets; do
        ninja -C "$dir" "tests/fuzz/$t" >/dev/null
        [ -z "$replay" ] || ninja -C "$replay" "tests/fuzz/$t-corpus" >/dev/null
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
        mkdir -p "$work"
        start=$(date +%s)
        pids=""
        for j in $(seq 1 "$jobs"); do
                # shellcheck disable=SC2086
                "$dir/tests/fuzz/$t" -runs=$((runs / jobs)) -max_len=$max_len $flags -timeout=10 \
                        -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
                        -artifact_prefix="$work/" "$work" "$seeds" >"$work.$j.log" 2>&1 &
                pids="$pids $!"
        done
        result=ok
        for p in $pids; do
                wait "$p" || result=FAILED
        done
        end=$(date +%s)
        total=$(awk '/^stat::number_of_executed_units:/ { s += $2 } END { print s }' "$work".*.log)
        echo "$t: $result, $total executions in $((end - start)) s ($sanitize, $jobs process(es))"
        for j in $(seq 1 "$jobs"); do
                grep -E '^#[0-9]+' "$work.$j.log" | tail -1
        done
        if [ -n "$replay" ]; then
                n=$(find "$work" -type f | wc -l)
                if find "$work" -type f -print0 | xargs -0 "$replay/tests/fuzz/$t-corpus" >"$work.replay.log" 2>&1; then
                        echo "$t: the $n inputs of the corpus replayed under ASan+UBSan without a failure"
                else
                        echo "$t: replaying the corpus under ASan+UBSan FAILED (see $work.replay.log)"
                        result=FAILED
                fi
        fi
        [ "$result" = ok ] || status=1
done
exit $status
