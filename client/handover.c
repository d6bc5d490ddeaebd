/* SPDX-License-Identifier: MIT */
/*
 * Handing a buffer to a peer over the caller's own unix socket: one
 * message, a caller-defined payload and exactly one fd, received as
 * strictly as the daemon receives (protocol/fdpass.c does both).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include "api.h"
#include "client-private.h"
#include "fdpass.h"
#include "util.h"

/* @sock's type if it keeps message bounds (SEQPACKET, DGRAM), or -errno:
 * over a stream, a payload could arrive cut or glued to the next one. */
static int handover_socket(int sock)
{
        socklen_t len = sizeof(int);
        int type;

        if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return -errno;
        return type == SOCK_SEQPACKET || type == SOCK_DGRAM ? type : -EPROTOTYPE;
}

int buffer_send(struct bs_buffer *b, int sock, int flags, const void *payload, size_t payload_len)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        lib_return_if(!b || sock < 0, -EINVAL);
        lib_return_if(flags != O_RDWR && flags != O_RDONLY, -EINVAL);
        lib_return_if(!payload && payload_len, -EINVAL);
        lib_return_if(payload_len > BS_HANDOVER_PAYLOAD_MAX, -EMSGSIZE);
        r = handover_socket(sock);
        if (r < 0)
                return r;
        fd = buffer_fd(b, flags | O_CLOEXEC);
        if (fd < 0)
                return fd;
        /* the kernel copies the fd into the message: ours closes here */
        return bs_fdpass_send(sock, payload, payload_len, &fd, 1);
}

int buffer_receive(struct bs_client *c, int sock, void *payload, size_t payload_max, size_t *ret_payload_len,
                   struct bs_buffer **ret_buffer, struct bs_image_description *ret_desc)
{
        /* one byte more than any sender may send: a longer message shows
         * as MSG_TRUNC (fdpass: -EPROTO), the byte as too long */
        char buf[BS_HANDOVER_PAYLOAD_MAX + 1];
        struct bs_image_description desc;
        struct bs_buffer *b;
        unsigned n_fds = 0;
        int fd = -EBADF, damage, type, r;
        ssize_t n;

        lib_return_if(!c || !ret_buffer || sock < 0, -EINVAL);
        lib_return_if(!payload && payload_max, -EINVAL);
        type = handover_socket(sock);
        if (type < 0)
                return type;
        /* MSG_CMSG_CLOEXEC; a message with more than one fd, another
         * control message or cut short is refused, its fds closed */
        n = bs_fdpass_recv(sock, buf, sizeof(buf), &fd, 1, &n_fds, &damage);
        if (n < 0)
                return (int)n;
        if (damage < 0)
                return damage;
        if (n_fds == 0) /* on SEQPACKET, nothing at all is the peer's close */
                return n == 0 && type == SOCK_SEQPACKET ? -ECONNRESET : -EPROTO;
        if ((size_t)n > BS_HANDOVER_PAYLOAD_MAX || (size_t)n > payload_max) {
                safe_close(fd);
                return (size_t)n > BS_HANDOVER_PAYLOAD_MAX ? -EPROTO : -EMSGSIZE;
        }
        r = buffer_import_owned(c, fd, &b, &desc);
        if (r < 0)
                return r;
        if (n > 0)
                memcpy(payload, buf, (size_t)n);
        if (ret_payload_len)
                *ret_payload_len = (size_t)n;
        if (ret_desc)
                *ret_desc = desc;
        *ret_buffer = b;
        return 0;
}
