# shellcheck shell=sh
# Host-side helpers shared by the VM harness scripts (sourced, not run).

# Say why and stop because a prerequisite is missing: exit 77, meson's
# "skipped". Under CI (CI=true) a missing prerequisite is a failure
# instead, so that a broken CI machine can't pass by skipping. The reason
# also goes to $BSVM_REASON_FILE, if set, for run-vm.sh's TAP line.
vm_skip() {
        [ -z "${BSVM_REASON_FILE:-}" ] || echo "$*" >"$BSVM_REASON_FILE"
        if [ "${CI:-}" = true ]; then
                echo "vm: $* (CI=true: failing instead of skipping)" >&2
                exit 1
        fi
        echo "vm: skipped: $*" >&2
        exit 77
}

vm_need_cmd() {
        for c in "$@"; do
                command -v "$c" >/dev/null 2>&1 ||
                        vm_skip "'$c' is missing (scripts/install-deps.sh installs it)"
        done
}

vm_need_root() {
        [ "$(id -u)" -eq 0 ] || vm_skip "$1 needs root"
}

# Hold an exclusive lock on FILE for the rest of the script (fd 9), so
# tests running in parallel share one download instead of racing.
vm_lock() {
        exec 9>"$1"
        flock 9
}

# Print the shared libraries that the ELF files "$@" load, one
# resolved path a line (ldd's view, so the loader itself included).
vm_libs_of() {
        for f in "$@"; do
                ldd "$f" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p'
        done | sort -u
}

# Where library LIB goes in a guest tree: system libraries keep their
# directory (below /usr: Debian 12 is merged-/usr, and the guest root's
# /lib is a symlink that a real folder must not shadow); the build's own
# libraries go to /usr/lib, which the loader searches without a cache.
vm_lib_dest() {
        case $1 in
        /lib/* | /lib64/*) echo "/usr$1" ;;
        /usr/lib/* | /usr/lib64/*) echo "$1" ;;
        *) echo "/usr/lib/${1##*/}" ;;
        esac
}
