#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real compositor shows a bufshare buffer: weston, headless.

weston (headless backend, pixman renderer, desktop shell) runs on an
XDG_RUNTIME_DIR of this test's own and says READY=1 (its systemd-notify
module) on a socket of ours. examples/wayland-show then shows a described
bufshare buffer through wl_shm; the test checks that its frame callbacks
and wl_buffer.release arrive, that weston-screenshooter (weston --debug
exposes its protocol) sees the buffer's pixels, and that a read-only view
is refused by wl_shm with WL_SHM_ERROR_INVALID_FD.

Usage: test-wayland.py WAYLAND_SHOW   (BUFSHARE_SOCKET: run under with-daemon)
Exit 77 with the reason when weston is missing, unless CI=true.
"""
import glob
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import zlib

WIDTH, HEIGHT = 320, 240
WL_SHM_ERROR_INVALID_FD = 2


def skip(reason):
    if os.environ.get("CI") == "true":
        print(f"FAIL: {reason} (CI=true: scripts/install-deps.sh must install it)")
        sys.exit(1)
    print(f"SKIP: {reason} (scripts/install-deps.sh installs it)")
    sys.exit(77)


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{os.path.basename(path)} is a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    check(depth == 8 and colour in (2, 6) and interlace == 0, "the screenshot is 8-bit RGB(A), not interlaced")
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


def wait_ready(notify, proc, what):
    notify.settimeout(20)
    try:
        while True:
            if b"READY=1" in notify.recv(4096):
                return
    except socket.timeout:
        proc.kill()
        check(False, f"{what} said READY=1 within 20 s")


def main():
    show = sys.argv[1]
    for prog in ("weston", "weston-screenshooter"):
        if not shutil.which(prog):
            skip(f"{prog} is not installed (Debian package weston)")
    if not os.path.exists(show):
        skip("examples/wayland-show was not built (libwayland-dev, wayland-protocols)")

    tmp = tempfile.mkdtemp(prefix="bufshare-wayland-")
    os.chmod(tmp, 0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=tmp, WAYLAND_DISPLAY="wayland-bufshare")
    env.pop("DISPLAY", None)
    # no fades or zooms: a screenshot must see the pixels as they are
    config = os.path.join(tmp, "weston.ini")
    with open(config, "w") as f:
        f.write("[core]\nidle-time=0\n[shell]\nstartup-animation=none\nanimation=none\n"
                "close-animation=none\nfocus-animation=none\nlocking=false\n")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(tmp, "notify"))
    weston = subprocess.Popen(
        ["weston", "--config=" + config, "--backend=headless-backend.so", "--use-pixman", "--shell=desktop-shell.so",
         "--socket=wayland-bufshare", f"--width={WIDTH}", f"--height={HEIGHT}", "--idle-time=0",
         "--debug", "--modules=systemd-notify.so", "--log=" + os.path.join(tmp, "weston.log")],
        env=dict(env, NOTIFY_SOCKET=os.path.join(tmp, "notify")), stdin=subprocess.DEVNULL)
    try:
        wait_ready(notify, weston, "weston")
        client = subprocess.Popen([show], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lines = []
        for line in client.stdout:
            lines.append(line.strip())
            print("wayland-show:", line.strip())
            if line.strip() == "shown":
                break
        check("configured" in lines, "the xdg_surface was configured")
        check("frame 1 done" in lines and "frame 2 done" in lines, "both frame callbacks arrived")
        check("buffer 1 released" in lines, "wl_buffer.release arrived for the first buffer")

        subprocess.run(["weston-screenshooter"], env=env, cwd=tmp, timeout=20, check=True)
        shots = glob.glob(os.path.join(tmp, "wayland-screenshot-*.png"))
        check(len(shots) == 1, "weston-screenshooter wrote one screenshot")
        w, h, rows = png_pixels(shots[0])
        check((w, h) == (WIDTH, HEIGHT), f"the screenshot is {WIDTH}x{HEIGHT}")
        expect = {"red": (80, 60, (255, 0, 0)), "green": (240, 60, (0, 255, 0)),
                  "blue": (80, 180, (0, 0, 255)), "white": (240, 180, (255, 255, 255))}
        for name, (x, y, rgb) in expect.items():
            check(rows[y][x] == rgb, f"pixel ({x}, {y}) is {name}: {rows[y][x]}")
        wrong = sum(rows[y][x] != expect[("red", "green", "blue", "white")[(y >= HEIGHT // 2) * 2 + (x >= WIDTH // 2)]][2]
                    for y in range(HEIGHT) for x in range(WIDTH))
        check(wrong == 0, f"every pixel is its quadrant's colour ({wrong} wrong)")
        client.stdin.close()
        check(client.wait(timeout=20) == 0, "wayland-show exited cleanly")

        ro = subprocess.run([show, "--readonly"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=20)
        print("wayland-show --readonly:", ro.stdout.strip(), ro.stderr.strip())
        check(ro.returncode == 3 and f"protocol error: wl_shm code {WL_SHM_ERROR_INVALID_FD}" in ro.stdout,
              "wl_shm refuses a read-only view (WL_SHM_ERROR_INVALID_FD)")
    finally:
        weston.terminate()
        try:
            weston.wait(timeout=10)
        except subprocess.TimeoutExpired:
            weston.kill()
        log = os.path.join(tmp, "weston.log")
        if os.path.exists(log) and os.environ.get("VERBOSE"):
            print(open(log).read())
        for shot in glob.glob(os.path.join(tmp, "*.png")) if os.environ.get("KEEP_SCREENSHOT") else []:
            shutil.copy(shot, os.environ["KEEP_SCREENSHOT"])
        shutil.rmtree(tmp, ignore_errors=True)
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
