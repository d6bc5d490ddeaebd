#!/bin/sh
# make bench three times (or $RUNS), back to back, and one table of the
# median of the runs with their min-max: what docs/performance.md quotes.
# Usage: scripts/bench-median.sh [build-dir]; the runs' JSON stay in
# build/bench/run-N.json, the table goes to build/bench/median.md.
set -eu
build=${1:-build}
runs=${RUNS:-3}
out="$build/bench"
mkdir -p "$out"
i=1
while [ "$i" -le "$runs" ]; do
        echo "== run $i of $runs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
        scripts/bench.sh "$build"
        cp "$out/results.json" "$out/run-$i.json"
        i=$((i + 1))
done
echo "== load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/bench-median.py "$out"/run-*.json | tee "$out/median.md"
