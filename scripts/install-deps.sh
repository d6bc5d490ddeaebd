#!/bin/sh
# Install what building and testing bufshare needs on Debian 12, and only
# what is missing: a machine that has everything is left alone.
set -eu

packages="meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev \
libevent-dev libcmocka-dev libsystemd-dev libfuse3-dev gnuplot-nox valgrind"

missing=""
for p in $packages; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
                missing="$missing $p"
        fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
        SUDO=sudo
else
        SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
