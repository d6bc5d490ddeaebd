#!/bin/sh
# Install what building and testing bufshare needs on Debian 12, and only
# what is missing: a machine that has everything is left alone.
# With --bench, also what the benchmark compares bufshare with (Eclipse
# iceoryx: its daemon and C binding); the tests never need it.
set -eu

packages="meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev \
libevent-dev libcmocka-dev libsystemd-dev libfuse3-dev gnuplot-nox"
# the VM tests (tests/vm): qemu booting Debian's kernel, a busybox
# initramfs, and a debootstrapped root for the systemd guest
packages="$packages qemu-system-x86 busybox-static cpio xz-utils debootstrap"
# the service layer: systemd's tools, dbus-daemon and libdbus-1-dev (its
# dbus-1.pc says where the D-Bus policy goes) for the tests, python3 for
# bufsharectl's JSON checks, scdoc for the man pages
packages="$packages systemd dbus-daemon libdbus-1-dev python3 scdoc"
if [ "${1:-}" = "--bench" ]; then
        packages="iceoryx libiceoryx-binding-c-dev"
fi

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
