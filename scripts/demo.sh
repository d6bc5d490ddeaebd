#!/bin/sh
# The main job: start bufshared on a private socket with its defaults, run
# the demo against it, stop the daemon and say what happened.
# Usage: scripts/demo.sh [BUILD] [DEMO FLAGS...], e.g. --pool for the
# second mode (a 1080p producer, two consumers, a pool of three).
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
dir=$(mktemp -d /tmp/bufshare-demo.XXXXXX)
socket="$dir/socket"
log="$dir/bufshared.log"

cleanup() {
        if [ -n "${daemon:-}" ] && kill -0 "$daemon" 2>/dev/null; then
                kill -TERM "$daemon" 2>/dev/null || true
                wait "$daemon" 2>/dev/null || true
        fi
        rm -rf "$dir"
}
trap cleanup EXIT INT TERM

echo "== starting bufshared on $socket"
"$build/daemon/bufshared" --socket "$socket" 2>"$log" &
daemon=$!
# the socket file appears only once the daemon listens (it renames it
# into place), so its existence is the readiness signal
i=0
while [ ! -S "$socket" ]; do
        if ! kill -0 "$daemon" 2>/dev/null || [ $i -ge 500 ]; then
                echo "bufshared did not start:"; cat "$log"; exit 1
        fi
        i=$((i + 1))
        sleep 0.01
done

case " $* " in
*" --pool "*) echo "== running bufshare-demo --pool (a 1080p producer, two consumers, a pool of three)" ;;
*) echo "== running bufshare-demo (a producer and two consumer processes)" ;;
esac
status=0
"$build/demo/bufshare-demo" --socket "$socket" "$@" || status=$?

echo "== stopping bufshared"
kill -TERM "$daemon"
dstatus=0
wait "$daemon" || dstatus=$?
daemon=
echo "== bufshared's log"
sed 's/^/   /' "$log"
if [ -e "$socket" ]; then
        echo "bufshared left its socket behind"; dstatus=1
fi
if [ $status -eq 0 ] && [ $dstatus -eq 0 ]; then
        echo "== demo passed: bufshared exited cleanly (status 0) and removed its socket"
else
        echo "== demo FAILED: demo status $status, bufshared status $dstatus"
        exit 1
fi
