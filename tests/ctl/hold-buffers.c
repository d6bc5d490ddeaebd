/* SPDX-License-Identifier: MIT */
/*
 * A client for bufsharectl's test to look at: exports the buffers named
 * on the command line (4 KiB each) from one connection; with --view, a
 * second connection imports a read-only view of the first, attaches a
 * "display" to it and maps it, and begins CPU read access. Prints
 * "ready" with the first buffer's id, then holds everything until its
 * stdin closes. With --probe (after --view, if any), SIGUSR1 instead
 * asks it to check its connection, which the test broke by restarting
 * the daemon: a call must fail cleanly with a negative errno, and a new
 * connection must work. It prints what it saw and exits 0 if so.
 */
#include <bufshare/bufshare.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what, int r)
{
        fprintf(stderr, "hold-buffers: %s: %s\n", what, strerror(r < 0 ? -r : EIO));
        return 1;
}

int main(int argc, char **argv)
{
        struct bs_client *a = NULL, *b = NULL;
        struct bs_buffer *bufs[16] = {}, *view = NULL;
        struct bs_attachment *att = NULL;
        const struct bs_sg_table *table = NULL;
        const char *socket = getenv("BUFSHARE_SOCKET");
        bool with_view = false, probe = false;
        int first = 1, n = 0, fd, r;
        sigset_t usr1;
        char c;

        if (argc > first && strcmp(argv[first], "--view") == 0) {
                with_view = true;
                first++;
        }
        if (argc > first && strcmp(argv[first], "--probe") == 0) {
                probe = true;
                first++;
        }
        /* blocked from the start: a SIGUSR1 early waits for sigwait() */
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        if (probe)
                sigprocmask(SIG_BLOCK, &usr1, NULL);
        if ((r = bs_client_connect(socket, &a)) < 0)
                return fail("connect", r);
        for (int i = first; i < argc && n < 16; i++, n++)
                if ((r = bs_buffer_export(a, 4096, "system", argv[i], &bufs[n])) < 0)
                        return fail("export", r);
        if (with_view && n > 0) {
                if ((fd = bs_buffer_fd(bufs[0], O_RDONLY | O_CLOEXEC)) < 0)
                        return fail("a read-only fd", fd);
                if ((r = bs_client_connect(socket, &b)) < 0)
                        return fail("a second connection", r);
                if ((r = bs_buffer_import(b, fd, &view)) < 0)
                        return fail("import", r);
                if ((r = bs_buffer_attach(view, "display", &att)) < 0)
                        return fail("attach", r);
                if ((r = bs_attachment_map(att, BS_DMA_TO_DEVICE, &table)) < 0)
                        return fail("map the attachment", r);
                if ((r = bs_buffer_begin_cpu_access(view, BS_SYNC_READ)) < 0)
                        return fail("begin CPU access", r);
                close(fd);
        }
        printf("ready %lld\n", n > 0 ? (long long)bs_buffer_id(bufs[0]) : 0ll);
        fflush(stdout);
        if (probe) {
                struct bs_client *again = NULL;
                struct bs_buffer *fresh = NULL;
                int before, after, sig;

                if (sigwait(&usr1, &sig) != 0)
                        return 1;
                before = bs_client_sync(a);
                after = bs_client_connect(socket, &again);
                if (after == 0)
                        after = bs_buffer_export(again, 4096, "system", "after-restart", &fresh);
                printf("old connection: %d (%s); new connection and export: %d\n", before,
                       before < 0 ? strerror(-before) : "no error", after);
                return before < 0 && after == 0 ? 0 : 1;
        }
        while (read(STDIN_FILENO, &c, 1) > 0)
                ;
        return 0;
}
