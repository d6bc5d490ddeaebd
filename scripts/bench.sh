#!/bin/sh
# The benchmark: bufshare-bench with its results as JSON, and the plot.
set -eu
build=${1:-build}
out="$build/bench"
mkdir -p "$out"
"$build/bench/bufshare-bench" --json "$out/results.json" --plot-dir "$out"
if command -v gnuplot >/dev/null 2>&1; then
        gnuplot -e "dir='$out'" bench/plot.gp && echo "plot: $out/bench.png"
else
        echo "gnuplot is missing: no plot (apt-get install gnuplot-nox)"
fi
echo "results: $out/results.json"
