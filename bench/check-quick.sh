#!/bin/sh
# Run bufshare-bench --quick and check that it finished and reported
# every scenario. Speed is not checked here: that is what the full run
# and docs/performance.md are for.
set -eu
bench=$1
daemon=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bench" --quick --daemon "$daemon" --json "$out/results.json" --plot-dir "$out"
for s in export import info set-name handover bandwidth export-at-scale daemon-metadata \
         concurrent-clients throughput fence-wake fence-wake-1000 pool-pipeline; do
        grep -q "\"scenario\": \"$s\"" "$out/results.json" || { echo "scenario $s missing"; exit 1; }
done
grep -q '"failures": 0}' "$out/results.json" || { echo "failures reported"; exit 1; }
[ "$(grep -vc '^#' "$out/scale.dat")" -ge 2 ] || { echo "scale.dat is short"; exit 1; }
[ "$(grep -vc '^#' "$out/handover.dat")" -eq 3 ] || { echo "handover.dat is short"; exit 1; }
echo "every scenario ran and reported"
