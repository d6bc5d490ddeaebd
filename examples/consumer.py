#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A bufshare consumer in Python, with the standard library only.

The producer (python-producer.c) hands it a buffer with bs_buffer_send():
one SOCK_SEQPACKET message whose payload is the producer's own (here the
frame's width, height, stride and offset) and whose one fd is the buffer,
a sealed memfd. Python 3.9's socket.recv_fds() takes it; mmap maps it
shared, so what we write the producer sees at once; and the seals make
ftruncate fail with EPERM, so no holder can shrink the buffer under the
others (a SIGBUS for them).

Usage: consumer.py FD   (FD: our end of the socket, inherited)
"""
import errno
import mmap
import os
import socket
import struct
import sys

PAYLOAD = struct.Struct("=IIII")  # width, height, stride, offset: the producer's choice


def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    # Be as strict as bs_buffer_receive(): one message, exactly one fd,
    # nothing cut short. Close whatever fds came with a bad message.
    msg, fds, flags, _ = socket.recv_fds(sock, 4096, 2)
    if len(fds) != 1 or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(msg) != PAYLOAD.size:
        for fd in fds:
            os.close(fd)
        sock.send(b"refused")
        return 1
    fd = fds[0]  # close-on-exec already: recv_fds uses MSG_CMSG_CLOEXEC
    width, height, stride, offset = PAYLOAD.unpack(msg)
    size = os.fstat(fd).st_size

    with mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as m:
        # the producer's first row says "hello"; answer in the last row
        first = bytes(m[offset:offset + 5])
        last = offset + (height - 1) * stride
        answer = b"python saw " + first
        m[last:last + len(answer)] = answer

    try:
        os.ftruncate(fd, size // 2)
        truncate = "ftruncate succeeded"
    except OSError as e:
        truncate = "ftruncate " + errno.errorcode[e.errno]
    os.close(fd)
    sock.send(f"{width}x{height} stride {stride}: {truncate}".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
