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
for s in export import info set-name handover frame-fresh bandwidth export-at-scale daemon-metadata \
         concurrent-clients throughput fence-wake fence-wake-1000 pool-pipeline; do
        grep -q "\"scenario\": \"$s\"" "$out/results.json" || { echo "scenario $s missing"; exit 1; }
done
# every scenario with a second process says where the unpinned run put it
for s in export import info set-name handover frame-fresh export-at-scale concurrent-clients throughput \
         fence-wake fence-wake-1000 pool-pipeline; do
        grep -q "\"scenario\": \"$s-placement\"" "$out/results.json" || { echo "placement of $s missing"; exit 1; }
done
# a quick run has under 1,000 samples a row: a max, never a p99
if grep -q '"p99_us"' "$out/results.json"; then echo "a p99 from too few samples"; exit 1; fi
grep -q '"failures": 0}' "$out/results.json" || { echo "failures reported"; exit 1; }
[ "$(grep -vc '^#' "$out/scale.dat")" -ge 2 ] || { echo "scale.dat is short"; exit 1; }
[ "$(grep -vc '^#' "$out/handover.dat")" -eq 3 ] || { echo "handover.dat is short"; exit 1; }
awk '!/^#/ && NF != 6 { exit 1 }' "$out/handover.dat" || { echo "handover.dat lacks a column"; exit 1; }
awk '!/^#/ && NF != 4 { exit 1 }' "$out/scale.dat" || { echo "scale.dat lacks a column"; exit 1; }
echo "every scenario ran and reported"
