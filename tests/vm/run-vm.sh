#!/bin/sh
# Boot Debian's kernel under qemu (TCG), run a guest test script, and print
# its results as TAP (stdout); the guest's whole console goes to stderr,
# which meson keeps in the test log.
#
# Usage: run-vm.sh --build BUILD [OPTIONS] GUEST_SCRIPT
#   --build DIR     the meson build folder: the cache lives in DIR/vm-cache
#                   (kernel, debootstrap root), scratch in DIR/vm-work/NAME
#   --systemd       boot the cached Debian root with systemd as PID 1 and run
#                   the script from a unit (default: a busybox initramfs
#                   whose /init runs it)
#   --bin FILE      copy FILE into the guest's /vm/bin (on PATH), with the
#                   shared libraries it loads (repeatable)
#   --module NAME   busybox guest: load module NAME (and its dependencies)
#                   before the script; fetch-kernel.sh lists what is
#                   available (repeatable)
#   --install       systemd guest: `meson install` the build into its root
#   --name NAME     scratch folder name (default: the script's name)
#   --timeout SEC   give up on the guest after SEC seconds (default 480: an
#                   idle machine boots systemd in ~40 s, a loaded one took 270)
# BSVM_QEMU_ARGS in the environment adds qemu arguments (for debugging).
# The script runs with /vm/lib.sh sourced and reports through vm_check and
# vm_result (see guest/lib.sh). Results: one TAP line per guest result, and
# a failure if the guest never printed its final "done" line.
# shellcheck disable=SC2086 # $bins, $modules, $elves: lists of words
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm-lib.sh"

build='' systemd=false install=false name='' timeout=480 bins='' modules=''
while [ $# -gt 1 ]; do
        case $1 in
        --build) build=$2; shift ;;
        --systemd) systemd=true ;;
        --bin) bins="$bins $2"; shift ;;
        --module) modules="$modules $2"; shift ;;
        --install) install=true ;;
        --name) name=$2; shift ;;
        --timeout) timeout=$2; shift ;;
        *) echo "run-vm.sh: unknown option $1" >&2; exit 2 ;;
        esac
        shift
done
script=${1:?usage: run-vm.sh --build BUILD [OPTIONS] GUEST_SCRIPT}
[ -n "$build" ] || { echo "run-vm.sh: --build is required" >&2; exit 2; }
build=$(cd "$build" && pwd)
[ -n "$name" ] || { name=${script##*/}; name=${name%.sh}; }
cache="$build/vm-cache"
work="$build/vm-work/$name"

# Prerequisites and caches. Until TAP output starts, a skip is exit 77 from
# vm_skip; meson's TAP protocol wants "1..0 # SKIP" instead, so translate.
prepare() {
        vm_need_cmd qemu-system-x86_64 busybox cpio gzip ldd timeout
        # the Debian package busybox-static: a dynamic busybox would need
        # its own libraries in the guest
        busybox_bin=$(command -v busybox)
        ldd "$busybox_bin" >/dev/null 2>&1 &&
                vm_skip "$busybox_bin is not static (apt-get install busybox-static)"
        "$here/fetch-kernel.sh" "$cache"
        if $systemd; then
                vm_need_root "the systemd guest (debootstrap, 9p passthrough)"
                "$here/make-rootfs.sh" "$cache"
        fi
}
mkdir -p "$build/vm-work"
export BSVM_REASON_FILE="$build/vm-work/$name.reason"
rm -f "$BSVM_REASON_FILE"
status=0
( prepare ) || status=$?
reason=$(cat "$BSVM_REASON_FILE" 2>/dev/null || echo "exit status $status, see the log")
if [ "$status" -eq 77 ]; then
        echo "1..0 # SKIP $reason"
        exit 0
elif [ "$status" -ne 0 ]; then
        echo "Bail out! preparing the VM failed: $reason"
        exit 1
fi
busybox_bin=$(command -v busybox)
kdir="$cache/kernel"

rm -rf "$work"
mkdir -p "$work/initramfs" "$work/layer"

# Copy ELF files into TREE/vm/bin, and the libraries they load that the
# guest root (ROOT, or nothing) lacks, where the loader finds them.
add_bins() { # TREE ROOT FILE...
        tree=$1 root=$2; shift 2
        mkdir -p "$tree/vm/bin"
        for f in "$@"; do
                cp "$f" "$tree/vm/bin/"
        done
        add_libs "$tree" "$root" "$@"
}
add_libs() { # TREE ROOT ELF...
        tree=$1 root=$2; shift 2
        for lib in $(vm_libs_of "$@"); do
                # its folder resolved (merged-/usr), its name as the loader asks
                dest=$(vm_lib_dest "$(realpath "${lib%/*}")/${lib##*/}")
                [ -n "$root" ] && [ -e "$root$dest" ] && continue
                mkdir -p "$tree${dest%/*}"
                cp -L "$lib" "$tree$dest"
        done
        # the ELF interpreter as the binaries name it
        if [ -z "$root" ]; then
                ln -sfn usr/lib64 "$tree/lib64"
                ln -sfn usr/lib "$tree/lib"
        fi
}

# A busybox initramfs in $work/initramfs: busybox and its applets, /init
# (guest/INIT), the modules MODULE... and their dependencies with their
# load order, and whatever the caller put there; packed into $work/initrd.gz.
make_initramfs() { # INIT MODULE...
        init=$1; shift
        t="$work/initramfs"
        mkdir -p "$t/usr/bin" "$t/usr/lib/modules" "$t/proc" "$t/sys" "$t/dev" \
                "$t/tmp" "$t/run" "$t/root" "$t/etc" "$t/vm"
        ln -s usr/bin "$t/bin"
        ln -s usr/bin "$t/sbin"
        ln -s bin "$t/usr/sbin"
        cp "$busybox_bin" "$t/usr/bin/busybox"
        # not busybox itself: a link to itself would be ELOOP at exec
        for a in $("$busybox_bin" --list); do
                [ "$a" = busybox ] || ln -s busybox "$t/usr/bin/$a"
        done
        cp "$here/guest/$init" "$t/init"
        # the modules asked for, with their dependencies, in the cache's order
        : >"$t/usr/lib/modules/order"
        while read -r m; do
                for want in "$@"; do
                        if needs_module "$want" "$m"; then
                                cp "$kdir/modules/$m.ko" "$t/usr/lib/modules/"
                                echo "$m" >>"$t/usr/lib/modules/order"
                                break
                        fi
                done
        done <"$kdir/modules/order"
        (cd "$t" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"
}
# Is M the module WANT or one it depends on (directly or not)?
needs_module() { # WANT M
        [ "$1" = "$2" ] && return 0
        for d in $(tr '\0' '\n' <"$kdir/modules/$1.ko" | sed -n 's/^depends=//p' | tr , ' '); do
                needs_module "$d" "$2" && return 0
        done
        return 1
}
for m in $modules; do
        [ -f "$kdir/modules/$m.ko" ] || { echo "Bail out! module $m is not in the cache (add it to fetch-kernel.sh)"; exit 1; }
done

kernel_args='console=ttyS0 panic=-1 loglevel=3'
qemu_args=
if $systemd; then
        mem=1G
        root="$cache/rootfs"
        make_initramfs init-systemd virtio_pci 9pnet_virtio 9p overlay
        # the test's layer over the cached root: the script, the test unit
        # enabled in multi-user.target, binaries, and the installed build
        l="$work/layer"
        mkdir -p "$l/vm" "$l/etc/systemd/system/multi-user.target.wants"
        cp "$here/guest/lib.sh" "$here/guest/run-test" "$l/vm/"
        cp "$script" "$l/vm/test.sh"
        cp "$here/guest/vm-test.service" "$l/etc/systemd/system/"
        ln -s ../vm-test.service "$l/etc/systemd/system/multi-user.target.wants/"
        # masked: periodic jobs and a disk check with nothing to do here,
        # each seconds long under TCG
        for u in e2scrub_reap.service e2scrub_all.timer fstrim.timer apt-daily.timer \
                apt-daily-upgrade.timer dpkg-db-backup.timer; do
                ln -s /dev/null "$l/etc/systemd/system/$u"
        done
        if $install; then
                meson install -C "$build" --no-rebuild --quiet --destdir "$l" >"$work/install.log" 2>&1 ||
                        { cat "$work/install.log" >&2; echo "Bail out! meson install failed"; exit 1; }
                # and the libraries of what got installed, if the root lacks them
                elves=$(find "$l" -type f -perm -u+x -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
                [ -z "$elves" ] || add_libs "$l" "$root" $elves
        fi
        [ -z "$bins" ] || add_bins "$l" "$root" $bins
        # no login prompt on the test's console
        kernel_args="$kernel_args systemd.mask=serial-getty@ttyS0.service systemd.mask=getty@tty1.service"
        qemu_args="-smp ${BSVM_SMP:-2} \
                -virtfs local,path=$root,mount_tag=root,security_model=passthrough,readonly=on \
                -virtfs local,path=$l,mount_tag=vm,security_model=passthrough,readonly=on"
else
        mem=512M
        t="$work/initramfs"
        mkdir -p "$t/vm"
        cp "$here/guest/lib.sh" "$t/vm/"
        cp "$script" "$t/vm/test.sh"
        [ -z "$bins" ] || add_bins "$t" "" $bins
        make_initramfs init-busybox $modules
fi

console="$work/console.log"
start=$(date +%s.%N)
qstatus=0
# shellcheck disable=SC2086 # qemu_args is a list of words
timeout -k 10 "$timeout" qemu-system-x86_64 -accel tcg -M pc -nodefaults -nic none -m "$mem" \
        -display none -no-reboot -serial "file:$console" \
        -kernel "$kdir/vmlinux" -initrd "$work/initrd.gz" -append "$kernel_args" \
        $qemu_args ${BSVM_QEMU_ARGS:-} </dev/null >"$work/qemu.log" 2>&1 || qstatus=$?
end=$(date +%s.%N)

# the whole console for the log, then the results as TAP
echo "==== guest console ($console) ====" >&2
tr -d '\r' <"$console" >&2 || true
cat "$work/qemu.log" >&2
tr -d '\r' <"$console" | sed -n 's/.*@@bsvm@@ //p' >"$work/results"
n=0
while read -r verdict rest; do
        case $verdict in
        ok) n=$((n + 1)); echo "ok $n - $rest" ;;
        not) n=$((n + 1)); echo "not ok $n - ${rest#ok }" ;;
        started) echo "# guest script started at uptime $rest s" ;;
        done) echo "# guest script done at uptime $rest s" ;;
        esac
done <"$work/results"
if ! grep -q '^done ' "$work/results"; then
        n=$((n + 1))
        why="qemu exit status $qstatus"
        [ "$qstatus" -eq 124 ] && why="timed out after $timeout s"
        echo "not ok $n - the guest finished its script # $why; see the console in the log"
fi
echo "# qemu start to power-off: $(awk "BEGIN { printf \"%.1f\", $end - $start }") s (wall time)"
echo "1..$n"
