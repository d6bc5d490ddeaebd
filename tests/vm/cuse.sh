# Guest script (busybox initramfs, fuse and cuse loaded): /dev/bufshare on
# a real kernel's CUSE. test-cuse prints its own result lines (poll on a
# bound file's fences among them: another process in poll or epoll woken
# when a socket client signals); the shell checks here are what a shell
# user does: dd and bufshare-dev.

# Without CUSE, and with CUSE refusing the device: one line, the socket alone.
vm_check "cuse unloaded for a while" rmmod cuse
vm_check "without /dev/cuse, bufshared serves the socket alone" \
        vm_start_bufshared /run/nocuse.sock
no_cuse_lines() { [ "$(grep -c CUSE /run/nocuse.sock.log)" = 1 ] &&
        grep -q 'CUSE: /dev/cuse: No such file or directory: no /dev/bufshare, serving the socket alone' \
                /run/nocuse.sock.log; }
vm_check "... and says so in one log line" no_cuse_lines
vm_check "... its socket serves a client" test-cuse --socket-only /run/nocuse.sock
kill "$vm_daemon_pid"; wait "$vm_daemon_pid"
vm_check "cuse loaded again" insmod /usr/lib/modules/cuse.ko

vm_check "bufshared starts with the test's limits" vm_start_bufshared /run/bs.sock \
        --token-lifetime 2000 --max-buffer-size 64M --max-bytes-per-uid 160M \
        --max-buffers-per-client 16 --max-clients 6
main_pid=$vm_daemon_pid
vm_check "/dev/bufshare appears" vm_wait_for 10 test -c /dev/bufshare
vm_check "its mode is --device-mode's default, 0666" [ "$(stat -c %a /dev/bufshare)" = 666 ]
test-cuse /run/bs.sock /dev/bufshare || vm_result fail "test-cuse exits 0" "exit status $?"

# a second daemon asking for the same name: the kernel refuses it
vm_check "a daemon whose device name is taken starts" vm_start_bufshared /run/dup.sock
dup_refused() { vm_wait_for 10 grep -q 'CUSE: the kernel refused /dev/bufshare' /run/dup.sock.log &&
        [ "$(grep -c CUSE /run/dup.sock.log)" = 1 ]; }
vm_check "... says in one line that the kernel refused it" dup_refused || cat /run/dup.sock.log
vm_check "... and serves its socket alone" test-cuse --socket-only /run/dup.sock
kill "$vm_daemon_pid"; wait "$vm_daemon_pid"
vm_check "the first daemon's device still works" bufshare-dev version

# dd and bufshare-dev on a device of another name, mode and group
vm_check "a daemon with --device-name, --device-mode and --device-group starts" \
        vm_start_bufshared /run/dd.sock --device-name bufshare-dd --device-mode 0600 --device-group 5 \
        --token-lifetime 120000 # the token waits for dd; TCG on a busy machine is slow
vm_check "/dev/bufshare-dd appears" vm_wait_for 10 test -c /dev/bufshare-dd
vm_check "... with mode 0600 and group 5" [ "$(stat -c %a:%g /dev/bufshare-dd)" = 600:5 ]
exec 3<>/dev/bufshare-dd
set -- $(bufshare-dev --fd 3 alloc 64K dd-test)
id=${1:-0} token=${3:-none}
vm_check "bufshare-dev alloc prints ID SIZE TOKEN" [ "${2:-}" = 65536 ]
head -c 65536 /dev/urandom >/tmp/src
head -c 4096 /dev/urandom >/tmp/more
vm_check "bind the buffer to the shell's device file" bufshare-dev --fd 3 bind "$id"
dd_in() { dd bs=4096 count=16 if=/tmp/src 2>/tmp/dd.err >&3; }
vm_check "dd writes 64K into the buffer through the device" dd_in
dd_past() { ! dd bs=4096 count=1 if=/tmp/more 2>/tmp/dd.err >&3 && grep -q 'No space left' /tmp/dd.err; }
vm_check "dd past the end: No space left on device" dd_past
vm_check "bind again at 0" bufshare-dev --fd 3 bind "$id" 0
dd_out() { dd bs=4096 count=17 of=/tmp/back 2>/tmp/dd.err <&3; }
vm_check "dd reads it back, stopping at the end" dd_out
vm_check "... the same 64K" cmp /tmp/src /tmp/back
vm_check "the buffer did not grow" sh -c "bufshare-dev --fd 3 info $id | grep -q 'size 65536 '"
redeemed() { bufshare-dev --socket /run/dd.sock redeem "$token" >/tmp/sock && cmp /tmp/src /tmp/sock; }
vm_check "a socket client redeeming the token maps the same bytes" redeemed
exec 3>&-
gone() { ! bufshare-dev --device /dev/bufshare-dd info "$id" 2>/tmp/info.err &&
        grep -q 'No such file' /tmp/info.err; }
vm_check "closing the shell's device file released the buffer" gone
kill "$vm_daemon_pid"; wait "$vm_daemon_pid"
vm_check "its device went with it" vm_wait_for 10 test ! -e /dev/bufshare-dd

# the timings, side by side in this one boot
test-cuse --bench /run/bs.sock /dev/bufshare
kill "$main_pid"; wait "$main_pid"
vm_check "the daemon exits cleanly and /dev/bufshare goes" vm_wait_for 10 test ! -e /dev/bufshare
echo "==== bufshared's log ===="
cat /run/bs.sock.log
