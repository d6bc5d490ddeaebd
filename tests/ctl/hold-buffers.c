/* SPDX-License-Identifier: MIT */
/*
 * A client for bufsharectl's test to look at: exports the buffers named
 * on the command line (4 KiB each) from one connection; with --view, a
 * second connection imports a read-only view of the first, attaches a
 * "display" to it and maps it, and begins CPU read access. Prints
 * "ready" with the first buffer's id, then holds everything until its
 * stdin closes.
 */
#include <bufshare/bufshare.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct bs_client *a = NULL, *b = NULL;
        struct bs_buffer *bufs[16] = {}, *view = NULL;
        struct bs_attachment *att = NULL;
        const struct bs_sg_table *table = NULL;
        const char *socket = getenv("BUFSHARE_SOCKET");
        bool with_view = false;
        int first = 1, n = 0, fd;
        char c;

        if (argc > 1 && strcmp(argv[1], "--view") == 0) {
                with_view = true;
                first = 2;
        }
        if (bs_client_connect(socket, &a) < 0)
                return 1;
        for (int i = first; i < argc && n < 16; i++, n++)
                if (bs_buffer_export(a, 4096, "system", argv[i], &bufs[n]) < 0)
                        return 1;
        if (with_view && n > 0) {
                fd = bs_buffer_fd(bufs[0], O_RDONLY | O_CLOEXEC);
                if (fd < 0 || bs_client_connect(socket, &b) < 0 || bs_buffer_import(b, fd, &view) < 0 ||
                    bs_buffer_attach(view, "display", &att) < 0 ||
                    bs_attachment_map(att, BS_DMA_TO_DEVICE, &table) < 0 ||
                    bs_buffer_begin_cpu_access(view, BS_SYNC_READ) < 0)
                        return 1;
                close(fd);
        }
        printf("ready %lld\n", n > 0 ? (long long)bs_buffer_id(bufs[0]) : 0ll);
        fflush(stdout);
        while (read(STDIN_FILENO, &c, 1) > 0)
                ;
        return 0;
}
