#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bufsharectl against a live bufshared on a private dbus-daemon: every
command as a table and as JSON (parsed, its documented fields checked),
the socket mode, the fallback to the socket when no bus answers, and the
exit codes. Prints TAP."""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

CTL = os.environ.get("BUFSHARECTL")
BUFSHARED = os.environ.get("BUFSHARED")
HOLD = os.environ.get("HOLD_BUFFERS")
CONFIG = os.environ.get("TEST_DBUS_CONFIG")

BUFFER_FIELDS = {"id", "name", "heap", "size", "created_usec", "exporter_pid", "exporter_uid",
                 "exporter_comm", "payer_uid", "refs", "n_holders"}
INFO_FIELDS = BUFFER_FIELDS | {"n_readonly", "n_attachments", "n_cpu_access", "holders",
                               "attachments", "cpu_access"}
HOLDER_FIELDS = {"client_id", "pid", "uid", "comm", "refs", "readonly_refs"}
CLIENT_FIELDS = {"client_id", "pid", "uid", "gid", "comm", "name", "protocol_version", "buffers",
                 "attachments"}
STATS_FIELDS = {"buffers", "bytes", "clients", "paying_uids", "exported", "imported", "adopted",
                "revived", "released", "refused", "signals_sent", "signals_dropped"}
LIMITS_FIELDS = {"max_buffer_size", "max_bytes_per_uid", "max_buffers_per_client",
                 "max_buffers_per_uid", "max_clients", "max_connections_per_uid",
                 "max_attachments_per_client", "max_fences_per_client", "max_waiters_per_client",
                 "max_waiters_per_fence", "hello_timeout"}
# D-Bus has every limit; the socket's LIMITS reply has no room for these
BUS_LIMITS_FIELDS = LIMITS_FIELDS | {"max_fences_per_uid", "max_sync_files_per_uid",
                                     "max_fds_in_flight_per_uid"}

results = []


def check(name, ok, why=""):
    results.append((name, bool(ok), why))
    return ok


def skip_all(why):
    ci = os.environ.get("CI") == "true"
    print(f"1..0 # SKIP {why}" if not ci else f"Bail out! {why} (CI=true: required)")
    sys.exit(1 if ci else 77)


def wait_line(stream, want, timeout=10.0):
    """Read lines from a pipe until one contains want; returns it or None."""
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(stream.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
        for line in buf.decode(errors="replace").splitlines():
            if want in line:
                return line
    return None


def ctl(*args, env=None):
    p = subprocess.run([CTL, *args], capture_output=True, text=True, timeout=30,
                       env=env or os.environ)
    return p.returncode, p.stdout, p.stderr


def ctl_json(name, *args, env=None):
    code, out, err = ctl("--json", *args, env=env)
    if not check(f"{name} --json exits 0", code == 0, err.strip()):
        return None
    try:
        return json.loads(out)
    except ValueError as e:
        check(f"{name} --json is JSON", False, f"{e}: {out[:200]!r}")
        return None


def main():
    for tool, what in ((CTL, "BUFSHARECTL"), (BUFSHARED, "BUFSHARED"), (HOLD, "HOLD_BUFFERS"),
                       (CONFIG, "TEST_DBUS_CONFIG")):
        if not tool:
            skip_all(f"{what} is not set: run through meson test")
    if not shutil.which("dbus-daemon"):
        skip_all("no dbus-daemon (Debian package dbus-daemon)")

    work = tempfile.mkdtemp(prefix="bufsharectl-test-")
    os.chmod(work, 0o755)
    procs = []
    try:
        run(work, procs)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)

    print(f"1..{len(results)}")
    for i, (name, ok, why) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}" + (f" # {why}" if why and not ok else ""))
    sys.exit(0 if all(ok for _, ok, _ in results) else 1)


def run(work, procs):
    sock = os.path.join(work, "socket")
    # the bus: it prints its address once it listens
    bus = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={CONFIG}",
                            f"--address=unix:path={work}/bus", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(bus)
    address = wait_line(bus.stdout, "unix:")
    if not check("dbus-daemon starts", address):
        return
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address.strip()
    os.environ["BUFSHARE_SOCKET"] = sock

    # the daemon: ready once READY=1 reaches our NOTIFY_SOCKET
    notify_path = os.path.join(work, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    daemon = subprocess.Popen([BUFSHARED, "--bus=system", "--socket", sock, "--max-buffer-size", "64M"],
                              env=env, stderr=subprocess.DEVNULL)
    procs.append(daemon)
    ready = False
    deadline = time.monotonic() + 10
    while not ready and time.monotonic() < deadline:
        r, _, _ = select.select([notify], [], [], 1)
        if r and b"READY=1" in notify.recv(4096).split(b"\n"):
            ready = True
    notify.close()
    if not check("bufshared becomes ready", ready):
        return

    holder = subprocess.Popen([HOLD, "--view", "frame-a", "frame-b"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    procs.append(holder)
    line = wait_line(holder.stdout, "ready")
    if not check("a client holds two buffers", line):
        return
    first = int(line.split()[1])

    # list
    code, out, err = ctl("list")
    check("list: a table", code == 0 and "NAME" in out.splitlines()[0] and "frame-a" in out
          and "frame-b" in out and "2 buffers listed." in out, out + err)
    data = ctl_json("list", "list")
    if data is not None:
        check("list --json: two buffers", isinstance(data, list) and len(data) == 2, data)
        check("list --json: the documented fields", all(set(b) == BUFFER_FIELDS for b in data), data)
        a = next((b for b in data if b["name"] == "frame-a"), None)
        check("list --json: values", a and a["id"] == first and a["size"] == 4096
              and a["heap"] == "system" and a["refs"] == 2 and a["n_holders"] == 2
              and a["payer_uid"] == os.getuid() and a["exporter_pid"] == holder.pid
              and a["exporter_comm"] == "hold-buffers", a)

    # info
    code, out, err = ctl("info", str(first))
    check("info: a description", code == 0 and "Buffer: %d" % first in out and "frame-a" in out
          and "Holders:" in out and "display" in out and "CPU access: 1" in out, out + err)
    counts = re.findall(r"(\d+) (holders?)\b", out)
    check("info: a count of 1 is one holder, any other count holders",
          counts and all((n == "1") == (word == "holder") for n, word in counts), counts)
    data = ctl_json("info", "info", str(first))
    if data is not None:
        check("info --json: the documented fields", set(data) == INFO_FIELDS, sorted(data))
        check("info --json: holders", len(data["holders"]) == 2
              and all(set(h) == HOLDER_FIELDS for h in data["holders"])
              and [h["readonly_refs"] for h in data["holders"]] == [0, 1], data["holders"])
        check("info --json: attachments and CPU access",
              data["attachments"] == [{"device": "display", "pid": holder.pid, "mapped": True,
                                       "direction": "to-device"}]
              and data["cpu_access"] == [{"pid": holder.pid, "read": True, "write": False}]
              and data["n_readonly"] == 1, data)
    code, out, err = ctl("info", "999999")
    check("info of no buffer exits 4", code == 4 and "999999" in err, (code, err))
    code, out, err = ctl("--json", "info", "999999")
    check("info --json of no buffer exits 4", code == 4 and out == "", (code, out))

    # clients
    code, out, err = ctl("clients")
    check("clients: a table", code == 0 and "COMM" in out and "hold-buffers" in out
          and "2 clients listed." in out, out + err)
    data = ctl_json("clients", "clients")
    if data is not None:
        check("clients --json: fields and values", len(data) == 2
              and all(set(c) == CLIENT_FIELDS for c in data)
              and sorted(c["buffers"] for c in data) == [1, 2]
              and all(c["pid"] == holder.pid and c["protocol_version"] == 2 for c in data), data)

    # stats
    code, out, err = ctl("stats")
    check("stats: a table", code == 0 and "exported" in out and "signals_dropped" in out, out + err)
    data = ctl_json("stats", "stats")
    if data is not None:
        check("stats --json: fields and values", set(data) == STATS_FIELDS and data["buffers"] == 2
              and data["bytes"] == 8192 and data["clients"] == 2 and data["exported"] == 2, data)

    # limits
    code, out, err = ctl("limits")
    check("limits: a table", code == 0 and "max-buffer-size" in out and "64.0M" in out, out + err)
    data = ctl_json("limits", "limits")
    if data is not None:
        check("limits --json: fields and values", set(data) == BUS_LIMITS_FIELDS
              and data["max_buffer_size"] == 64 << 20
              and data["max_fences_per_uid"] == 4 * data["max_fences_per_client"], data)

    # top: two refreshes
    code, out, err = ctl("top", "-n", "2", "-d", "0.1")
    check("top: refreshes", code == 0 and out.count("bufshared: 2 clients, 2 buffers") == 2, out + err)
    code, out, err = ctl("--json", "top", "-n", "2", "-d", "0.1")
    lines = out.splitlines()
    try:
        frames = [json.loads(x) for x in lines]
        check("top --json: a frame a line", code == 0 and len(frames) == 2
              and all(set(f) == {"stats", "clients"} and set(f["stats"]) == STATS_FIELDS
                      and len(f["clients"]) == 2 for f in frames), frames)
    except ValueError as e:
        check("top --json: a frame a line", False, f"{e}: {out[:200]!r}")

    # monitor: a client that exports one buffer and goes
    for mode in ([], ["--json"]):
        mon = subprocess.Popen([CTL, *mode, "monitor", "-n", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        procs.append(mon)
        started = wait_line(mon.stderr, "Monitoring")
        one = subprocess.Popen([HOLD, "monitored"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        wait_line(one.stdout, "ready")
        one.stdin.close()
        one.wait(timeout=10)
        try:
            out, _ = mon.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            mon.kill()
            out = ""
        lines = out.splitlines()
        name = "monitor" + (" --json" if mode else "")
        if mode:
            try:
                ev = [json.loads(x) for x in lines]
                check(f"{name}: created, then released", started and mon.returncode == 0
                      and [e["event"] for e in ev] == ["created", "released"]
                      and all(e["name"] == "monitored" and e["size"] == 4096 for e in ev)
                      and set(ev[0]) == {"event", "time_usec", "id", "name", "size", "heap",
                                         "exporter_pid", "exporter_uid", "exporter_comm"}
                      and set(ev[1]) == {"event", "time_usec", "id", "name", "size"}, ev)
            except ValueError as e:
                check(f"{name}: created, then released", False, f"{e}: {out!r}")
        else:
            check(f"{name}: created, then released", started and mon.returncode == 0
                  and len(lines) == 2 and lines[0].startswith("created") and "monitored" in lines[0]
                  and lines[1].startswith("released"), out)

    # the socket: limits and info only
    code, out, err = ctl("--socket", sock, "limits")
    check("--socket limits: a table", code == 0 and "64.0M" in out, out + err)
    data = ctl_json("--socket limits", "--socket", sock, "limits")
    if data is not None:
        check("--socket limits --json: the same fields, but for the per-uid fences and sync files",
              set(data) == LIMITS_FIELDS
              and data["max_buffer_size"] == 64 << 20, data)
    code, out, err = ctl("--socket", sock, "info", str(first))
    check("--socket info: a description", code == 0 and "frame-a" in out, out + err)
    data = ctl_json("--socket info", "--socket", sock, "info", str(first))
    if data is not None:
        check("--socket info --json: holders and payer unknown", set(data) == INFO_FIELDS
              and data["holders"] is None and data["payer_uid"] is None and data["refs"] == 2
              and data["attachments"][0]["device"] == "display", data)
    code, out, err = ctl("--socket", sock, "list")
    check("--socket list: refused, needs D-Bus", code == 1 and "needs D-Bus" in err, (code, err))

    # no bus at all: limits and info fall back to $BUFSHARE_SOCKET
    nobus = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={work}/nothing")
    code, out, err = ctl("limits", env=nobus)
    check("no bus: limits from the socket", code == 0 and "64.0M" in out and "asking the socket" in err,
          (code, out, err))
    code, out, err = ctl("list", env=nobus)
    check("no bus: list fails", code == 1 and err, (code, err))

    # no daemon at the socket is a failure (1), not "no such buffer" (4)
    code, out, err = ctl("--socket", f"{work}/nothing.sock", "limits")
    check("--socket to no daemon: limits exits 1", code == 1 and "nothing.sock" in err, (code, err))
    code, out, err = ctl("--socket", f"{work}/nothing.sock", "info", "1")
    check("--socket to no daemon: info exits 1", code == 1 and "nothing.sock" in err, (code, err))

    # usage
    check("an unknown command exits 1", ctl("frobnicate")[0] == 1)
    check("info without a number exits 1", ctl("info", "abc")[0] == 1)
    code, out, _ = ctl("--help")
    check("--help exits 0", code == 0 and "monitor" in out)

    # list: oldest id first, whatever order the daemon keeps them in
    many = subprocess.Popen([HOLD] + ["sorted-%d" % i for i in range(16)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    procs.append(many)
    if check("a client holds sixteen more buffers", wait_line(many.stdout, "ready")):
        data = ctl_json("list", "list")
        ids = [b["id"] for b in data] if data is not None else []
        check("list --json: ids in order", len(ids) == 18 and ids == sorted(ids), ids)
        code, out, _ = ctl("list")
        table = out.split("\n\n")[0].splitlines()[1:]  # the rows, before the count
        rows = [int(line.split()[0]) for line in table if line.split() and line.split()[0].isdigit()]
        check("list: rows in id order", code == 0 and len(rows) == 18 and rows == sorted(rows), rows)
    many.stdin.close()
    many.wait(timeout=10)

    holder.stdin.close()
    holder.wait(timeout=10)


if __name__ == "__main__":
    main()
