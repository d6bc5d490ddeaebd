#!/bin/sh
# The benchmark: bufshare-bench with its results as JSON, and the plot.
# It also installs Eclipse iceoryx (Debian's packages) for the same-run
# comparison, and reconfigures the build once to pick it up.
set -eu
build=${1:-build}
out="$build/bench"
if ! scripts/install-deps.sh --bench; then
        echo "iceoryx could not be installed: the benchmark runs without that comparison"
fi
if dpkg-query -W -f='${Status}' libiceoryx-binding-c-dev 2>/dev/null | grep -q "ok installed" &&
   ! grep -q HAVE_ICEORYX "$build/compile_commands.json" 2>/dev/null; then
        meson setup --reconfigure "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
mkdir -p "$out"
"$build/bench/bufshare-bench" --json "$out/results.json" --plot-dir "$out"
if command -v gnuplot >/dev/null 2>&1; then
        gnuplot -e "dir='$out'" bench/plot.gp && echo "plot: $out/bench.png"
else
        echo "gnuplot is missing: no plot (apt-get install gnuplot-nox)"
fi
echo "results: $out/results.json"
