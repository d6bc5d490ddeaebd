#!/bin/sh
# Install what building and testing bufshare needs on Debian 12, and only
# what is missing: a machine that has everything is left alone.
set -eu

# systemd, dbus-daemon, libdbus-1-dev (dbus-1.pc: where the D-Bus policy
# goes), python3 and scdoc: the service layer's tests and man pages
packages="meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev \
libevent-dev libcmocka-dev libsystemd-dev libfuse3-dev gnuplot-nox \
systemd dbus-daemon libdbus-1-dev python3 scdoc"

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
