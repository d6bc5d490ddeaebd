/* SPDX-License-Identifier: MIT */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "log.h"
#include "socket-path.h"
#include "util.h"

/* The folder part of @path into @buf. */
static int dir_of(const char *path, char *buf, size_t len)
{
        const char *slash = strrchr(path, '/');
        size_t n;

        if (!slash)
                return snprintf(buf, len, ".") < 0 ? -EINVAL : 0;
        n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= len)
                return -ENAMETOOLONG;
        memcpy(buf, path, n);
        buf[n] = '\0';
        return 0;
}

/* 0 if @path may be bound after removing what is there, or -errno. */
static int path_claim(const char *path, const struct sockaddr_un *sa, socklen_t sa_len)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode)) {
                log_error("%s exists and is not a socket: refusing to replace it", path);
                return -EEXIST;
        }
        if (st.st_uid != geteuid()) {
                log_error("%s is a socket of uid %u: refusing to replace it", path, (unsigned)st.st_uid);
                return -EADDRINUSE;
        }
        /* someone listening? a socket of another type answers EPROTOTYPE */
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)sa, sa_len) == 0 || errno != ECONNREFUSED) {
                log_error("%s: someone listens there (%s)", path, strerror(errno ? errno : EISCONN));
                return -EADDRINUSE;
        }
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int listen_path(const char *path, bool create_dir, mode_t mode)
{
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa, tmp_sa;
        char tmp[sizeof(sa.sun_path)], dir[sizeof(sa.sun_path)];
        int len, tmp_len, r;

        len = bs_sockaddr_un_set(&sa, path);
        if (len < 0)
                return len;
        /* bind a temporary name, listen, then rename into place: whoever
         * sees the socket file can connect at once */
        r = snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
        if (r < 0 || (size_t)r >= sizeof(tmp))
                return -ENAMETOOLONG;
        tmp_len = bs_sockaddr_un_set(&tmp_sa, tmp);
        if (tmp_len < 0)
                return tmp_len;
        r = dir_of(path, dir, sizeof(dir));
        if (r < 0)
                return r;
        if (create_dir && mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        r = path_claim(path, &sa, (socklen_t)len);
        if (r < 0)
                return r;

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&tmp_sa, (socklen_t)tmp_len) < 0)
                return -errno; /* a file of that name exists: not ours to remove */
        if (chmod(tmp, mode) < 0 || listen(fd, SOMAXCONN) < 0 ||
            renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
                r = -errno;
                unlink(tmp);
                return r;
        }
        return TAKE_FD(fd);
}

int listen_systemd(void)
{
        int n = sd_listen_fds(1);

        if (n <= 0)
                return n;
        if (n > 1) {
                log_error("systemd passed %d sockets, expected 1", n);
                return -EINVAL;
        }
        if (sd_is_socket(SD_LISTEN_FDS_START, AF_UNIX, SOCK_SEQPACKET, 1) <= 0) {
                log_error("the socket systemd passed is not a listening AF_UNIX SOCK_SEQPACKET socket "
                          "(ListenSequentialPacket= in the .socket unit)");
                return -EINVAL;
        }
        return SD_LISTEN_FDS_START;
}
