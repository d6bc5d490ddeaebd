/* SPDX-License-Identifier: MIT */
/*
 * python-producer: hand a bufshare buffer to a Python consumer
 * (consumer.py) and see what it wrote, through the mapping we had all
 * along.
 *
 * The frame is described (a 640x480 XRGB8888 image) for bufshare's own
 * consumers; a Python consumer doesn't speak bufshare's protocol, so the
 * payload of bs_buffer_send() carries what it needs to know.
 *
 * Usage: python-producer PYTHON CONSUMER.PY   (BUFSHARE_SOCKET)
 * Exit status 0 when the consumer's answer is there and its ftruncate
 * got EPERM.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bufshare/bufshare.h>

int main(int argc, char **argv)
{
        struct bs_image_description d;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        uint32_t payload[4];
        char reply[128] = "", fdnum[16], *p = NULL;
        uint64_t size;
        int sv[2], status, r, ok;
        ssize_t n;
        pid_t pid;

        if (argc != 3) {
                fprintf(stderr, "usage: python-producer PYTHON CONSUMER.PY\n");
                return 2;
        }
        r = bs_image_layout(BS_FORMAT_XRGB8888, 640, 480, 256, &d, &size);
        if (r == 0)
                r = bs_client_connect(NULL, &c);
        if (r == 0)
                r = bs_buffer_export_described(c, size, NULL, "for-python", &d, &b);
        if (r == 0)
                r = bs_buffer_vmap(b, (void **)&p);
        if (r < 0) {
                fprintf(stderr, "python-producer: %s\n", strerror(-r));
                return 1;
        }
        memcpy(p + d.planes[0].offset, "hello", 5);

        /* the consumer's end of the socket stays open across exec */
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return 1;
        pid = fork();
        if (pid == 0) {
                fcntl(sv[1], F_SETFD, 0);
                snprintf(fdnum, sizeof(fdnum), "%d", sv[1]);
                execl(argv[1], argv[1], argv[2], fdnum, (char *)NULL);
                perror("python-producer: exec");
                _exit(127);
        }
        close(sv[1]);

        payload[0] = d.width;
        payload[1] = d.height;
        payload[2] = d.planes[0].stride;
        payload[3] = (uint32_t)d.planes[0].offset;
        r = bs_buffer_send(b, sv[0], O_RDWR, payload, sizeof(payload));
        n = r < 0 ? -1 : recv(sv[0], reply, sizeof(reply) - 1, 0);
        close(sv[0]);
        waitpid(pid, &status, 0);
        if (n > 0)
                reply[n] = '\0';
        printf("consumer says: %s\n", reply);
        printf("last row reads: %.16s\n", p + d.planes[0].offset + (uint64_t)(d.height - 1) * d.planes[0].stride);
        ok = r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
             memcmp(p + d.planes[0].offset + (uint64_t)(d.height - 1) * d.planes[0].stride, "python saw hello", 16) == 0 &&
             strstr(reply, "640x480 stride 2560: ftruncate EPERM") != NULL &&
             bs_buffer_size(b) == (int64_t)size; /* the seals held: same size */
        bs_buffer_vunmap(b, p);
        bs_buffer_put(b);
        bs_client_unref(c);
        return ok ? 0 : 1;
}
