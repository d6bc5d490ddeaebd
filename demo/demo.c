/* SPDX-License-Identifier: MIT */
/* What the demo's two modes share (demo.h). */
#include "demo.h"

#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

pid_t demo_fork(int (*fn)(const char *socket_path, unsigned k, int sock), const char *socket_path, unsigned k,
                int *ret_sock)
{
        int sv[2];
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                perror("bufshare-demo: socketpair");
                return -1;
        }
        fflush(stdout);
        pid = fork();
        if (pid < 0) {
                perror("bufshare-demo: fork");
                close(sv[0]);
                close(sv[1]);
                return -1;
        }
        if (pid == 0) {
                close(sv[0]);
                _exit(fn(socket_path, k, sv[1]));
        }
        close(sv[1]);
        *ret_sock = sv[0];
        return pid;
}
