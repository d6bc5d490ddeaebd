#!/bin/sh
# A Python consumer (examples/consumer.py, the standard library only)
# receives a buffer from examples/python-producer over a SOCK_SEQPACKET
# socket with socket.recv_fds(), maps it with mmap and writes; the
# producer sees the writes, and the consumer's ftruncate gets EPERM.
# Run under with-daemon (BUFSHARE_SOCKET). Without python3 >= 3.9: skip
# (77) with the reason, or fail under CI=true.
# Usage: test-python.sh PRODUCER CONSUMER.PY
set -u
py=$(command -v python3 || true)
if [ -z "$py" ] || ! "$py" -c 'import socket; socket.recv_fds' 2>/dev/null; then
        reason="python3 with socket.recv_fds (3.9 or later) is not installed (Debian package python3)"
        if [ "${CI:-}" = true ]; then
                echo "FAIL: $reason (CI=true: scripts/install-deps.sh must install it)"
                exit 1
        fi
        echo "SKIP: $reason (scripts/install-deps.sh installs it)"
        exit 77
fi
echo "python: $py ($("$py" --version 2>&1))"
exec "$1" "$py" "$2"
