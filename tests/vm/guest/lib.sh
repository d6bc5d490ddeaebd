# shellcheck shell=sh
# Guest-side helpers for VM test scripts (busybox ash in the initramfs,
# dash or bash under systemd). The harness sources this file before the
# test script, which then reports each check as one result line:
#     @@bsvm@@ ok NAME          @@bsvm@@ not ok NAME # why
# on the serial console; the host turns each into a TAP result.

vm_result() { # ok|fail NAME [WHY]
        if [ "$1" = ok ]; then
                printf '@@bsvm@@ ok %s\n' "$2"
        else
                printf '@@bsvm@@ not ok %s # %s\n' "$2" "${3:-failed}"
        fi
}

# Run CMD...; its exit status decides the result NAME. Its output goes to
# the console as it comes, for the test log.
vm_check() { # NAME CMD...
        _name=$1; shift
        if "$@"; then
                vm_result ok "$_name"
        else
                vm_result fail "$_name" "exit status $?: $*"
                return 1
        fi
}

# Retry CMD... every 0.1 s until it succeeds or SECONDS pass.
vm_wait_for() { # SECONDS CMD...
        _n=$(($1 * 10)); shift
        until "$@"; do
                _n=$((_n - 1))
                [ "$_n" -gt 0 ] || return 1
                sleep 0.1
        done
}

# Start bufshared (from PATH) on SOCKET in the background and wait until it
# listens: it renames the socket into place once it does. Its pid is in
# $vm_daemon_pid, its log in SOCKET.log.
vm_start_bufshared() { # SOCKET [ARGS...]
        _sock=$1; shift
        bufshared --socket "$_sock" "$@" >"$_sock.log" 2>&1 &
        # shellcheck disable=SC2034 # for the caller
        vm_daemon_pid=$!
        vm_wait_for 20 test -S "$_sock" || { cat "$_sock.log"; return 1; }
}
