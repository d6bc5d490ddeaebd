#!/bin/sh
# The systemd guest's root, made once and cached in CACHE/rootfs: a minimal
# Debian (debootstrap minbase of this machine's release, from the mirror
# apt already uses) with systemd, udev, kmod and D-Bus, plus the modules
# of CACHE/kernel in /usr/lib/modules/VERSION with their depmod indexes,
# so that modprobe and udev's autoloading work in the guest as on a real
# Debian. Guests never write to it: they boot it under a tmpfs overlay.
# Usage: make-rootfs.sh CACHE    (after fetch-kernel.sh; needs root)
# Exits 77 if a prerequisite is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm-lib.sh"

# What the root holds; changing this list makes the next run rebuild it.
include=systemd-sysv,udev,kmod,dbus

cache=${1:?usage: make-rootfs.sh CACHE}
cache=$(cd "$cache" && pwd)
vm_need_root debootstrap
vm_need_cmd debootstrap chroot flock timeout
vm_lock "$cache/rootfs.lock"
root="$cache/rootfs"

. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
stamp="$suite $include"
if [ "$(cat "$root/.bsvm-stamp" 2>/dev/null)" != "$stamp" ]; then
        # the first mirror apt lists for this release (not -updates, -security)
        mirror=$(apt-cache policy 2>/dev/null |
                awk -v s="$suite/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }')
        [ -n "$mirror" ] || vm_skip "apt knows no mirror for $suite/main (run apt-get update)"
        echo "vm: debootstrap $suite from $mirror into $root (once)" >&2
        rm -rf "$root" "$root.tmp"
        # bounded, so that a stalled mirror can't eat the test's whole timeout
        if ! timeout 400 debootstrap --variant=minbase --include="$include" "$suite" "$root.tmp" "$mirror" \
                >"$cache/debootstrap.log" 2>&1; then
                tail -n 30 "$cache/debootstrap.log" >&2
                vm_skip "debootstrap failed (no network?): see $cache/debootstrap.log"
        fi
        rm -f "$root.tmp"/var/cache/apt/archives/*.deb
        echo "$stamp" >"$root.tmp/.bsvm-stamp"
        mv "$root.tmp" "$root"
fi

# the cached kernel's modules, redone when the kernel changes
version=$(cat "$cache/kernel/version")
mods="$root/usr/lib/modules/$version"
if [ "$(cat "$mods/.bsvm-stamp" 2>/dev/null)" != "$(cat "$cache/kernel/stamp")" ]; then
        rm -rf "$root/usr/lib/modules"
        mkdir -p "$mods/kernel"
        cp "$cache/kernel/modules/"*.ko "$mods/kernel/"
        cp "$cache/kernel/modules/modules.builtin"* "$mods/"
        sed 's|.*|kernel/&.ko|' "$cache/kernel/modules/order" >"$mods/modules.order"
        chroot "$root" depmod "$version"
        cp "$cache/kernel/stamp" "$mods/.bsvm-stamp"
fi
