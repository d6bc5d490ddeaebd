# Guest script (systemd guest, run from vm-test.service after
# multi-user.target, with the build installed by --install): the harness
# works for service tests.
vm_check "systemd reached multi-user.target" systemctl is-active multi-user.target
# for the log: the state of the boot and what failed, if anything
systemctl is-system-running --wait || systemctl --no-pager --failed
vm_check "the system D-Bus answers" busctl call org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus GetId
vm_check "modprobe cuse gives /dev/cuse" sh -c 'modprobe cuse && test -c /dev/cuse'

# the installed daemon as a transient service, and a client it serves
sock=/run/bufshare-smoke/socket
vm_check "bufshared runs as a transient service" systemd-run --unit=bufshare-smoke \
        --property=RuntimeDirectory=bufshare-smoke /usr/local/sbin/bufshared --socket "$sock"
vm_wait_for 20 test -S "$sock" || journalctl --no-pager -u bufshare-smoke
vm_check "the service serves bufshare-demo" bufshare-demo --socket "$sock"
vm_check "the service stops cleanly" systemctl stop bufshare-smoke
journalctl --no-pager -u bufshare-smoke
# for the log: how long the boot took
systemd-analyze || true
