/* SPDX-License-Identifier: MIT */
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"

struct floor_msg {
        char op; /* 'E' export, 'I' import, 'P' ping */
        char pad[7];
        uint64_t size;
        char rest[48];
};
_Static_assert(sizeof(struct floor_msg) == 64, "a 64-byte message");

/* Blocking receive of one datagram with at most one fd. */
static ssize_t recv_blocking(int sock, struct floor_msg *m, int *fd)
{
        unsigned n_fds = 0;
        int damage;
        ssize_t n;

        *fd = -1;
        for (;;) {
                n = bs_fdpass_recv(sock, m, sizeof(*m), fd, 1, &n_fds, &damage);
                if (n != -EAGAIN)
                        break;
                fd_set set;
                FD_ZERO(&set);
                FD_SET(sock, &set);
                if (select(sock + 1, &set, NULL, NULL, NULL) < 0 && errno != EINTR)
                        return -errno;
        }
        if (n_fds == 0)
                *fd = -1;
        return n;
}

int floor_memfd(uint64_t size)
{
        int fd = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING), r;

        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void serve(int sock)
{
        struct floor_msg m;
        int fd, premade = floor_memfd(4096);

        while (recv_blocking(sock, &m, &fd) == sizeof(m)) {
                if (m.op == 'E') {
                        int mfd = floor_memfd(m.size);
                        /* mode 0444, as any export here must be (DESIGN §2:
                         * a read-only view must not be reopenable for
                         * writing), and as issue 12 defines this floor */
                        if (mfd < 0 || fchmod(mfd, 0444) < 0)
                                _exit(1);
                        bs_fdpass_send(sock, &m, sizeof(m), &mfd, 1);
                        close(mfd);
                } else if (m.op == 'F') {
                        /* the plainest reply that carries an fd: one that exists already */
                        if (premade < 0)
                                _exit(1);
                        bs_fdpass_send(sock, &m, sizeof(m), &premade, 1);
                } else if (m.op == 'I') {
                        struct stat st;
                        if (fd < 0 || fstat(fd, &st) < 0)
                                _exit(1);
                        close(fd);
                        bs_fdpass_send(sock, &m, sizeof(m), NULL, 0);
                } else {
                        bs_fdpass_send(sock, &m, sizeof(m), NULL, 0);
                }
        }
        _exit(0);
}

int floor_start(struct floor_server *f)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        f->pid = fork();
        if (f->pid < 0)
                return -errno;
        if (f->pid == 0) {
                close(sv[0]);
                serve(sv[1]);
        }
        close(sv[1]);
        f->sock = sv[0];
        return 0;
}

void floor_stop(struct floor_server *f)
{
        close(f->sock);
        waitpid(f->pid, NULL, 0);
}

static int call(struct floor_server *f, char op, uint64_t size, int send_fd, int *ret_fd)
{
        struct floor_msg m = { .op = op, .size = size };
        int fd;
        ssize_t n;
        int r = bs_fdpass_send(f->sock, &m, sizeof(m), &send_fd, send_fd >= 0 ? 1 : 0);

        if (r < 0)
                return r;
        n = recv_blocking(f->sock, &m, &fd);
        if (n != sizeof(m))
                return n < 0 ? (int)n : -EIO;
        if (ret_fd)
                *ret_fd = fd;
        else if (fd >= 0)
                close(fd);
        return 0;
}

int floor_export(struct floor_server *f, uint64_t size)
{
        int fd = -1, r = call(f, 'E', size, -1, &fd);
        return r < 0 ? r : fd;
}

int floor_import(struct floor_server *f, int fd)
{
        return call(f, 'I', 0, fd, NULL);
}

int floor_ping(struct floor_server *f)
{
        return call(f, 'P', 0, -1, NULL);
}

int floor_fd_roundtrip(struct floor_server *f)
{
        int fd = -1, r = call(f, 'F', 0, -1, &fd);

        if (r < 0)
                return r;
        return fd >= 0 ? fd : -EIO;
}
