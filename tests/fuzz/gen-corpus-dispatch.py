#!/usr/bin/env python3
# Writes the seed corpus of fuzz-dispatch (tests/fuzz/corpus-dispatch/):
# one file per scenario, in the input format fuzz-dispatch.c reads.
# Run it again after changing that format.
import os
import sys

OPS = {'hello': 0, 'export': 1, 'import': 2, 'release': 3, 'info': 4, 'set-name': 5,
       'export-memfd': 6, 'begin-cpu': 7, 'end-cpu': 8, 'attach': 9, 'detach': 10,
       'map': 11, 'unmap': 12, 'list-heaps': 13, 'sync': 14, 'limits': 15, 'redeem': 16,
       'fence-create': 17, 'fence-attach': 18, 'fence-signal': 19, 'fence-destroy': 20,
       'export-sync-file': 21, 'import-sync-file': 22, 'sync-file-merge': 23, 'submit': 24,
       'release-read': 25, 'export-described': 26, 'import-described': 27,
       'set-description': 28, 'info-described': 29, 'get-description': 30, 'export-batch': 31}
# the first byte: limits; bits 0-2 buffers per client (7: 40, room for a
# full batch), 3-4 attachments, 5-6 buffers per uid (3: 64), 7 a quota of
# 24 pages instead of 256
# an op from 0x80 has its session say HELLO for version 1 only
DROP, CLOSE_FD, RAW = 0xfc, 0xf8, 0xf0
# the /dev/bufshare file (uid 1000): ALLOC (size in pages), RELEASE (an id), close and reopen
DEV_ALLOC, DEV_RELEASE, DEV_REOPEN = 0xe8, 0xe9, 0xea
# an idle turn of the loop: the reserve refilled by 1 + N % 4 memfds
IDLE = 0xef

def step(session, op, *fields):
    return bytes([session, OPS[op] if isinstance(op, str) else op, *fields])

# fd sources: a held fd (how: 0 dup, 1 read-only, 2 O_PATH, 3 write-only, 4 read-write)
def held(index=0, how=0):
    return [0, how, index]

def memfd(pages=1, seals=0x01, cfg=0, how=0):
    # seals: 1 shrink, 2 grow, 4 write, 8 future write, 0x10 seal; cfg: 1 no sealing,
    # 2-6 mode (0644, 0444, 0600, 0666), 0x10 named bufshare:ID
    return [2, how, cfg, pages, seals]

def not_memfd():
    return [3, 0]

NAME = 1      # "frame"
FIRST = 0     # pick: the first id a reply named
SYSTEM = 0
HUGE = 2      # "system-huge"

# image descriptions (desc_fill() in fuzz-dispatch.c); formats by index:
FMT = {'NV12': 0, 'XRGB8888': 1, 'YUV420': 2, 'P010': 3, 'YUYV': 4, 'RGB565': 5, 'R8': 6,
       'ARGB8888': 7, 'NV21': 8, 'YVU420': 9, 'XBGR8888': 10, 'ABGR8888': 11, 'unknown': 12, 0: 13}
NO_DESC = [0]

def packed(fmt, width, height, align=0, tweak=0, plane=None):
    # align: index of 0, 1, 64, 256, 4096; tweak: 0 as laid out, 1 the last
    # plane ending at the buffer's end, 2 a stride a byte short (of plane),
    # 3 width or height one more; past=True (bit 6) a byte past / the width
    return [1, FMT[fmt], width - 1, (height - 1) % 64, align | (tweak << 4)] + \
        ([plane] if plane is not None else [])

def packed_past(fmt, width, height, align=0, tweak=1):
    return [1, FMT[fmt], width - 1, (height - 1) % 64, align | (tweak << 4) | 0x40]

# raw fields: dims by index (0, 1, 2, 3, 7, 16, 64, 65, 1920, 1080, 0x8000,
# 0x7fffffff, 0x80000000, UINT32_MAX); each plane (offset sel, stride sel):
# offsets 0, 1, PAGE, size/2, size - (sel >> 3), size, UINT64_MAX,
# UINT64_MAX - PAGE + 1; strides 0, 1, 64, 256, PAGE, 7680, 2^31, UINT32_MAX,
# and from 0xf8 four bytes of it
def raw(fmt, n_planes, width, height, planes, extra_plane=False, modifier=0, reserved=None):
    # planes: min(n_planes, 4) of them, one more with extra_plane (past n_planes)
    np = n_planes | (modifier << 3) | (0x80 if extra_plane else 0)
    out = [0xff if reserved is not None else 3, np, FMT[fmt], width, height]
    for o, st in planes:
        out += [o] + (list(st) if isinstance(st, (list, tuple)) else [st])
    if reserved is not None:
        out.append(reserved)
    return out

seeds = {
    'export-import-attach': bytes([0x3f]) +
        step(1, 'export', 0, 4, SYSTEM, NAME) +
        step(2, 'import', 0, *held()) +
        step(2, 'attach', 0, FIRST, 1, 2) +
        step(2, 'map', 0, FIRST, 1) +
        step(2, 'begin-cpu', 0, FIRST, 3) +
        step(2, 'info', 0, FIRST) +
        step(2, 'end-cpu', 0, FIRST, 1) +
        step(1, 'release', 0, FIRST, 0) +
        step(2, 'unmap', 0, FIRST) +
        step(2, 'detach', 0, FIRST) +
        step(2, DROP),
    'readonly-view': bytes([0x3f]) +
        step(0, 'export', 0, 8, SYSTEM, NAME) +
        step(3, 'import', 0, *held(how=1)) +
        step(3, 'attach', 0, FIRST, 0, 3) +
        step(3, 'map', 0, FIRST, 0) +
        step(3, 'map', 0, FIRST, 1) +
        step(3, 'begin-cpu', 0, FIRST, 2) +
        step(3, 'set-name', 0, FIRST, 2) +
        step(3, 'release', 0, FIRST, 1) +
        step(0, DROP),
    'adopt-memfd': bytes([0x3f]) +
        step(1, 'export-memfd', 0, *memfd(pages=2, seals=0x01), NAME) +
        step(2, 'import', 0, *held()) +
        step(3, 'import', 0, *held(how=1)) +
        step(1, 'export-memfd', 0, *held(), NAME) +
        step(2, 'info', 0, FIRST),
    'adopt-refused': bytes([0x3f]) +
        step(1, 'export-memfd', 0, *memfd(pages=2, seals=0x00), NAME) +
        step(1, 'export-memfd', 0, *memfd(pages=2, seals=0x05), NAME) +
        step(1, 'export-memfd', 0, *memfd(pages=0, seals=0x01), NAME) +
        step(1, 'export-memfd', 0, *memfd(pages=2, seals=0x11), NAME) +
        step(1, 'export-memfd', 0, *memfd(pages=2, seals=0x01, cfg=1), NAME) +
        step(1, 'export-memfd', 0, *not_memfd(), NAME) +
        step(1, 'import', 0, *memfd(pages=1, seals=0x03, how=1)),
    'revive-after-release': bytes([0x3f]) +
        step(1, 'export', 0, 4, SYSTEM, NAME) +
        step(1, 'release', 0, FIRST, 0) +
        step(2, 'import', 0, *held()) +
        step(1, 'import', 0, *held(how=1)) +
        step(2, 'info', 0, FIRST),
    'fds-that-grant-nothing': bytes([0x3f]) +
        step(1, 'export', 0, 4, SYSTEM, NAME) +
        step(2, 'import', 0, *held(how=2)) +
        step(2, 'import', 0, *held(how=3)) +
        step(2, 'import', 0, *not_memfd()) +
        step(1, CLOSE_FD, 0) +
        step(2, 'import', 0, *held()),
    'limits': bytes([0x00]) +
        step(1, 'export', 0, 1, SYSTEM, NAME) +
        step(1, 'export', 0, 1, SYSTEM, NAME) +
        step(2, 'export', 0, 16, SYSTEM, NAME) +
        step(2, 'export', 0, 0xf0, 0, 0, 0, 0x10, 0, 0, 0, 0, SYSTEM, NAME) +
        step(1, 'attach', 0, FIRST, 0, 2) +
        step(1, 'attach', 0, FIRST, 0, 2) +
        step(3, 'import', 0, *held()),
    'heaps-and-names': bytes([0x3f]) +
        step(0, 'list-heaps', 0) +
        step(0, 'limits', 0) +
        step(0, 'export', 0, 4, 2, 0xfa) +
        step(0, 'export', 0, 4, 3, 0) +
        step(0, 'export', 0, 4, 4, 0) +
        step(0, 'export', 0, 0, SYSTEM, 0) +
        step(0, 'sync', 0),
    'oneway-release': bytes([0x3f]) +
        step(1, 'export', 0, 4, SYSTEM, NAME) +
        step(1, 'release', 0xc0, FIRST, 0) +
        step(1, 'release', 0xc0, FIRST, 0) +
        step(1, 'sync', 0),
    'device-tokens': bytes([0x3f]) +
        step(0, DEV_ALLOC, 1) +
        step(1, 'redeem', 0, 0) +
        step(2, 'redeem', 0, 0) +
        step(0, DEV_ALLOC, 2) +
        step(3, 'redeem', 0, 1) +
        step(2, 'redeem', 0, 1) +
        step(2, 'attach', 0, 1, 0, 2) +
        step(0, DEV_ALLOC, 1) +
        step(0, DEV_RELEASE, 2) +
        step(1, 'redeem', 0, 2) +
        step(0, DEV_ALLOC, 1) +
        step(0, DEV_REOPEN) +
        step(1, 'redeem', 0, 3) +
        step(1, 'redeem', 0, 0xf0),
    'fences-and-sync-files': bytes([0x3f]) +
        step(1, 'export', 0, 4, SYSTEM, NAME) +
        step(2, 'import', 0, *held()) +
        step(1, 'fence-create', 0) +
        step(1, 'fence-attach', 0, FIRST, FIRST, 2) +
        step(2, 'export-sync-file', 0, FIRST, 1) +
        step(2, 'begin-cpu', 0, FIRST, 1) +
        step(1, 'fence-create', 0) +
        step(1, 'fence-attach', 0, FIRST, 1, 1) +
        step(2, 'sync-file-merge', 0, *held(index=1), *held(index=2)) +
        step(3, 'import-sync-file', 0, *held(index=1), FIRST, 2) +
        step(1, 'fence-signal', 0, FIRST, 0) +
        step(1, 'submit', 0, FIRST) +
        step(2, 'release-read', 0, FIRST, 0) +
        step(1, 'submit', 0x20, FIRST) +
        step(2, 'release-read', 0, FIRST, 0) +
        step(1, 'fence-signal', 0xc0, 1, 2) +
        step(1, 'fence-destroy', 0, 1) +
        step(1, DROP),
    'described-nv12': bytes([0x3f]) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME, *packed('NV12', 64, 48)) +
        step(2, 'import-described', 0, *held()) +
        step(2, 'info-described', 0, FIRST) +
        step(2, 'get-description', 0, FIRST) +
        step(1, 'set-description', 0, FIRST, *packed('XRGB8888', 32, 32, tweak=1)) +
        step(1, 'set-description', 0, FIRST, *packed_past('XRGB8888', 32, 32)) +
        step(1, 'set-description', 0, FIRST, *packed('YUV420', 100, 30, align=3)) +
        step(3, 'set-description', 0, FIRST, *packed('R8', 16, 16)) +
        step(1, 'release', 0, FIRST, 0) +
        step(3, 'import-described', 0, *held(how=1)) +
        step(3, 'get-description', 0, FIRST) +
        step(2, 'set-description', 0, FIRST, *NO_DESC) +
        step(2, 'info-described', 0, FIRST),
    'described-hostile': bytes([0x3f]) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME,
             *raw('NV12', 2, 13, 13, [(6, 7), (7, 6)])) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME,
             *raw('unknown', 1, 11, 3, [(0x0c, [0xf8, 0xff, 0xff, 0xff, 0xff])])) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME,
             *raw('unknown', 1, 9, 2, [(0x2c, 5)], modifier=2)) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME, *packed('NV12', 64, 48, tweak=2, plane=1)) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME, *packed('P010', 64, 48, tweak=3)) +
        step(1, 'export-described', 0, 4, SYSTEM, NAME, *packed('XRGB8888', 256, 64)) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME,
             *raw('YUV420', 5, 6, 6, [(0, 2), (3, 2), (5, 2), (0, 0)])) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME, *raw('XRGB8888', 1, 1, 1, [(0, 1), (0, 1)],
                                                                extra_plane=True)) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME, *raw(0, 0, 0, 0, [])) +
        step(1, 'export-described', 0, 16, SYSTEM, NAME, *packed('NV12', 64, 48)) +
        step(1, 'set-description', 0, FIRST, *raw('NV12', 2, 7, 7, [(0, 4), (5, 4)])) +
        step(1, 'set-description', 0, FIRST, *raw('R8', 1, 5, 5, [(0x7c, 3)])) +
        step(1, 'set-description', 0, FIRST, *raw('R8', 1, 1, 1, [(0, 1)], reserved=2)),
    'export-batch': bytes([0x7f]) +
        step(1, 'export-batch', 0, 4, 4, SYSTEM, NAME) +
        step(1, 'export-batch', 0, 32, 4, SYSTEM, NAME) +
        step(2, 'import', 0, *held(index=7)) +
        step(2, 'export-batch', 0, 0, 4, SYSTEM, NAME) +
        step(2, 'export-batch', 0, 33, 4, SYSTEM, NAME) +
        step(2, 'export-batch', 0, 40, 4, SYSTEM, NAME) +
        step(2, 'export-batch', 0, 8, 16, HUGE, NAME) +
        step(2, 'export-batch', 0, 8, 0, SYSTEM, NAME) +
        step(2, 'export-batch', 0, 2, 17 * 15, 0, 0, 0, 0x10, 0, 0, 0, 0, SYSTEM, NAME) +
        step(2, 'export-batch', 0, 2, 4, 3, NAME) +
        step(3, 'export-batch', 0, 0xff, 4, SYSTEM, NAME) +
        step(1, CLOSE_FD, 3) +
        step(1, 'release', 0, 3, 0) +
        step(1, DROP),
    'reserve': bytes([0x7f]) +
        step(0, IDLE, 3) +
        step(1, 'export', 0, 4, SYSTEM, NAME) +
        step(1, 'export-batch', 0, 3, 8, SYSTEM, NAME) +
        step(1, 'export-batch', 0, 3, 8, SYSTEM, NAME) +
        step(0, 'sync', 0) +
        step(1, 'export', 0, 4, HUGE, NAME) +
        step(2, 'export', 0, 0xf0, 0, 0, 0, 0x10, 0, 0, 0, 0, SYSTEM, NAME) +
        step(2, 'export-described', 0, 16, SYSTEM, NAME, *packed('NV12', 64, 48)) +
        step(1, 'release', 0, FIRST, 0) +
        step(2, 'import', 0, *held()) +
        step(0, IDLE, 0) +
        step(2, 'export-batch', 0, 4, 4, SYSTEM, NAME),
    'protocol-errors': bytes([0x3f]) +
        step(1, 0xe0 + OPS['export'], 0, 4, SYSTEM, NAME) +
        step(2, 'hello', 0, 1, 1, 0) +
        step(3, 'export', 0xf1, 4, SYSTEM, NAME) +
        step(0, RAW, 16, 0, *([16, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])) +
        step(0, RAW, 24, 1, *([24, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0] + [0] * 8), *memfd()),
}

out = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), 'corpus-dispatch')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
