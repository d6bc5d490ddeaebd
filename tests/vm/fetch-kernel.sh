#!/bin/sh
# Fetch Debian's own kernel and keep what the VM tests boot, in CACHE/kernel:
#   vmlinux          the kernel as a decompressed ELF: qemu enters it through
#                    its PVH note, which saves ~3 s of emulated decompression
#   version          its release, as `uname -r` prints it in the guest
#   modules/*.ko     the modules below and their dependencies, decompressed
#   modules/order    every one of them, dependencies first: load in this order
#   modules/modules.builtin*  for depmod in the systemd root
# The package is the one linux-image-amd64 currently depends on (never a
# hard-coded version). A second run for the same package downloads nothing.
# Usage: fetch-kernel.sh CACHE      Exits 77 if a prerequisite is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm-lib.sh"

# The modules a guest may need; a test wanting another one adds it here.
# fuse, cuse: /dev/cuse. virtio_pci, 9pnet_virtio, 9p, overlay: the
# systemd guest's root (a 9p share under a tmpfs overlay).
modules="fuse cuse virtio_pci 9pnet_virtio 9p overlay"

cache=${1:?usage: fetch-kernel.sh CACHE}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
vm_need_cmd apt-cache apt-get dpkg flock xz timeout
vm_lock "$cache/kernel.lock"

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || vm_skip "apt-cache knows no linux-image-amd64 (run apt-get update)"
stamp="$pkg $modules"
if [ -f "$cache/kernel/stamp" ] && [ "$(cat "$cache/kernel/stamp")" = "$stamp" ]; then
        exit 0
fi

echo "vm: fetching $pkg into $cache/kernel" >&2
tmp="$cache/kernel.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/deb" "$tmp/out/modules"
# apt-get download writes into the current folder
# bounded, so that a stalled mirror can't eat the test's whole timeout
(cd "$tmp/deb" && timeout 300 apt-get download -q "$pkg" >../apt.log 2>&1) ||
        { cat "$tmp/apt.log" >&2; vm_skip "apt-get download $pkg failed"; }
dpkg -x "$tmp"/deb/*.deb "$tmp/root"
rm -rf "$tmp/deb"

vmlinuz=$(find "$tmp/root/boot" -name "vmlinuz-*" | head -n1)
version=${vmlinuz##*/vmlinuz-}
moddir="$tmp/root/lib/modules/$version"
[ -d "$moddir" ] || moddir="$tmp/root/usr/lib/modules/$version"

# The bzImage holds the real kernel as one compressed stream after its
# setup code: find the stream's magic and decompress from there until an
# ELF comes out, as the kernel's scripts/extract-vmlinux does. tr turns
# each magic into "\n" + a marker so that grep -b gives its byte offset.
is_elf() { [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
extract() { # MAGIC MARKER DECOMPRESSOR...
        magic=$1 marker=$2; shift 2
        for pos in $(tr "$magic\n$marker" "\n$marker=" <"$vmlinuz" | grep -abo "^$marker"); do
                pos=${pos%%:*}
                tail -c+"$pos" "$vmlinuz" | "$@" >"$tmp/out/vmlinux" 2>/dev/null || true
                is_elf "$tmp/out/vmlinux" && return 0
        done
        return 1
}
extract '\3757zXZ\000' abcde xz -dc ||
        extract '(\265/\375' xxxx zstd -dc ||
        extract '\037\213\010' xy gzip -dc ||
        { echo "vm: no xz, zstd or gzip kernel found in $vmlinuz" >&2; exit 1; }

# Find a module by name: names use '_' where files may use '-'.
module_file() {
        alt=$(echo "$1" | tr _ -)
        find "$moddir/kernel" \( -name "$1.ko*" -o -name "$alt.ko*" \) | head -n1
}
# Copy a module in after its dependencies (read from its .modinfo, as the
# package ships no modules.dep and depmod may not be installed here).
add_module() {
        grep -qx "$1" "$tmp/out/modules/order" 2>/dev/null && return 0
        f=$(module_file "$1")
        [ -n "$f" ] || { echo "vm: module $1 is not in $pkg" >&2; exit 1; }
        case $f in
        *.ko.xz) xz -dc "$f" ;;
        *.ko.zst) zstd -qdc "$f" ;;
        *.ko.gz) gzip -dc "$f" ;;
        *) cat "$f" ;;
        esac >"$tmp/out/modules/$1.ko"
        for dep in $(tr '\0' '\n' <"$tmp/out/modules/$1.ko" | sed -n 's/^depends=//p' | tr , ' '); do
                add_module "$dep"
        done
        echo "$1" >>"$tmp/out/modules/order"
}
for m in $modules; do
        add_module "$m"
done
cp "$moddir/modules.builtin" "$moddir/modules.builtin.modinfo" "$tmp/out/modules/"
echo "$version" >"$tmp/out/version"
echo "$stamp" >"$tmp/out/stamp"

rm -rf "$cache/kernel"
mv "$tmp/out" "$cache/kernel"
rm -rf "$tmp"
echo "vm: kernel $version ready" >&2
