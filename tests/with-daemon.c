/* SPDX-License-Identifier: MIT */
/*
 * with-daemon COMMAND [ARG...]: run a command against a bufshared of its
 * own. The daemon starts on a private socket (ready when it says
 * READY=1, never by sleeping), the command runs with BUFSHARE_SOCKET set
 * to it, then the daemon stops. For tests written as scripts: the doc
 * examples, the Python and Wayland peers.
 *
 * Exit status: the command's (77, "skipped", passes through), or 1 when
 * the daemon did not start or did not stop cleanly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

int main(int argc, char **argv)
{
        struct test_daemon d = { 0 };
        int status, r, code;
        pid_t pid;

        if (argc < 2) {
                fprintf(stderr, "usage: with-daemon COMMAND [ARG...]\n");
                return 2;
        }
        r = test_daemon_start(&d, NULL);
        if (r < 0) {
                fprintf(stderr, "with-daemon: bufshared did not start: %s\n", strerror(-r));
                return 1;
        }
        setenv("BUFSHARE_SOCKET", d.socket, 1);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                execvp(argv[1], argv + 1);
                fprintf(stderr, "with-daemon: %s: %s\n", argv[1], strerror(errno));
                _exit(127);
        }
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
                code = 1;
        else
                code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r = test_daemon_stop(&d);
        if (r != 0) {
                fprintf(stderr, "with-daemon: bufshared did not stop cleanly (%d)\n", r);
                return code ? code : 1;
        }
        return code;
}
