# Guest script (systemd guest, the build installed under /usr/local by
# --install, hold-buffers in /vm/bin, which is not on PATH here): bufshare as the system service it
# is meant to be. The socket unit starts the service on the first
# connection; the service runs as its own user, sandboxed, on the system
# bus; bufsharectl and busctl show a client's buffer; a restart leaves
# clients a clean error and lets them reconnect.
sock=/run/bufshare/socket
unit_pid() { systemctl show -p MainPID --value bufshare.service; }
# Wait until the client PID says "ready" in FILE; fail at once if it died.
wait_ready() { # FILE PID
        _i=0
        while [ $_i -lt 600 ]; do
                grep -q '^ready' "$1" && return 0
                kill -0 "$2" 2>/dev/null || break
                sleep 0.1
                _i=$((_i + 1))
        done
        cat "$1"
        return 1
}

# dbus-daemon reads policies from /usr/share only, not /usr/local/share
cp /usr/local/share/dbus-1/system.d/org.bufshare1.conf /usr/share/dbus-1/system.d/
cp /usr/local/share/dbus-1/system-services/org.bufshare1.service /usr/share/dbus-1/system-services/
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig
vm_check "sysusers makes the bufshare user" sh -c 'systemd-sysusers && id bufshare'
vm_check "tmpfiles makes /run/bufshare" sh -c 'systemd-tmpfiles --create && test -d /run/bufshare'
systemctl daemon-reload

vm_check "bufshare.socket starts" systemctl start bufshare.socket
vm_check "the service waits for a client" sh -c '! systemctl is-active --quiet bufshare.service'
vm_check "the first client is served (socket activation)" bufshare-demo --socket "$sock"
vm_check "the service is active after it" systemctl is-active bufshare.service
systemctl --no-pager status bufshare.service || true

# a client holding two buffers, one of them also read-only from a second
# connection with an attachment and CPU access
# (its stdin never ends while the sleep lives: it holds to the end)
sleep 100000 | /vm/bin/hold-buffers --view vm-frame vm-other >/tmp/hold.out 2>&1 &
vm_check "a client holds buffers" wait_ready /tmp/hold.out $!
id=$(sed -n 's/^ready //p' /tmp/hold.out)

vm_check "READY=1 and STATUS= reach systemd" sh -c \
        'systemctl show -p StatusText --value bufshare.service | grep -q "clients, .* buffers"'
vm_check "busctl introspects org.bufshare1" sh -c \
        'busctl introspect org.bufshare1 /org/bufshare1 | grep -q "^\.DescribeBuffer"'
vm_check "busctl lists the client's buffer" sh -c \
        'busctl call org.bufshare1 /org/bufshare1 org.bufshare1.Manager ListBuffers | grep -q "\"vm-frame\""'
vm_check "bufsharectl list --json shows it" sh -c \
        "bufsharectl list --json | grep -q '\"name\":\"vm-frame\"'"
vm_check "bufsharectl info shows its holders" sh -c \
        "bufsharectl --json info $id | grep -q '\"readonly_refs\":1'"
bufsharectl list; bufsharectl clients; bufsharectl info "$id"

pid=$(unit_pid)
vm_check "the service runs as bufshare" sh -c "[ \"\$(stat -c %U /proc/$pid)\" = bufshare ]"
vm_check "no new privileges, no capabilities" sh -c \
        "grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status && grep -q '^CapEff:[[:space:]]*0*$' /proc/$pid/status"
vm_check "a seccomp filter" grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status"
vm_check "its own mount namespace (ProtectSystem=strict)" sh -c \
        "[ \"\$(readlink /proc/$pid/ns/mnt)\" != \"\$(readlink /proc/1/ns/mnt)\" ]"
vm_check "its own network namespace (PrivateNetwork=yes)" sh -c \
        "[ \"\$(readlink /proc/$pid/ns/net)\" != \"\$(readlink /proc/1/ns/net)\" ]"
vm_check "the watchdog is on" sh -c \
        '[ "$(systemctl show -p WatchdogUSec --value bufshare.service)" = 30s ]'
vm_check "SIGHUP (systemctl reload) keeps it serving" sh -c \
        'systemctl reload bufshare.service && bufshare-demo --socket /run/bufshare/socket >/dev/null'

# a restart: the client that was connected gets an error, then reconnects
/vm/bin/hold-buffers --probe vm-probe </dev/null >/tmp/probe.out 2>&1 &
probe=$!
wait_ready /tmp/probe.out $probe
vm_check "systemctl restart" systemctl restart bufshare.service
kill -USR1 $probe
vm_check "clients see a clean error, then reconnect" wait $probe
cat /tmp/probe.out
vm_check "the new service serves" bufsharectl list
pid2=$(unit_pid)
vm_check "it is a new process" [ "$pid" != "$pid2" ]

if bufshared --help | grep -q -- --device-name; then
        # 60-bufshare.rules lets the bufshare user open /dev/cuse
        ls -l /dev/cuse /dev/bufshare || true
        vm_check "/dev/bufshare exists under the service" vm_wait_for 20 test -c /dev/bufshare
        vm_check "/dev/bufshare is open to everyone" sh -c '[ "$(stat -c %a /dev/bufshare)" = 666 ]'
        vm_check "a buffer through /dev/bufshare" sh -c \
                'exec 3<>/dev/bufshare && bufshare-dev --fd 3 alloc 64K vm-device | grep -q " 65536 "'
else
        echo "# /dev/bufshare: this bufshared has no CUSE device, nothing to check"
fi

vm_check "the service stops cleanly" systemctl stop bufshare.service bufshare.socket
journalctl --no-pager -u bufshare.service -u bufshare.socket | tail -40
systemd-analyze security bufshare.service --no-pager | tail -3 || true
