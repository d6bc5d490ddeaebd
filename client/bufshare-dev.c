/* SPDX-License-Identifier: MIT */
/*
 * bufshare-dev: /dev/bufshare from the shell. Buffers belong to the open
 * device file, so a shell keeps one open and passes it with --fd:
 *
 *     exec 3<>/dev/bufshare
 *     set -- $(bufshare-dev --fd 3 alloc 64K frame)   # ID SIZE TOKEN
 *     bufshare-dev --fd 3 bind "$1"
 *     dd bs=4K count=16 if=picture.raw >&3              # into the buffer
 *     bufshare-dev redeem "$3" | cmp - picture.raw      # as a socket client sees it
 *     exec 3>&-                                         # the buffer goes
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bufshare/bufshare-ioctl.h"
#include "bufshare/bufshare.h"
#include "limits.h"

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: bufshare-dev [--device PATH | --fd N] [--socket PATH] COMMAND\n"
                "/dev/bufshare's ioctls from the shell (bufshare-ioctl.h).\n\n"
                "  version                   the device's ioctl API and protocol versions\n"
                "  alloc SIZE [NAME [HEAP]]  a buffer held by the device file: prints ID SIZE TOKEN\n"
                "  info ID                   what the daemon knows of buffer ID\n"
                "  name ID NAME              rename it\n"
                "  bind ID [OFFSET]          read/write on the device file reach its bytes\n"
                "  release ID                drop the device file's reference\n"
                "  redeem TOKEN              over the socket: the buffer's bytes to stdout\n\n"
                "  --device PATH   the device to open (default " BS_DEVICE_PATH ")\n"
                "  --fd N          use the device file already open as fd N (a shell's\n"
                "                  `exec 3<>/dev/bufshare`): what it allocates lives as long as it\n"
                "  --socket PATH   the daemon's socket, for redeem (default: libbufshare's)\n");
}

static int parse_u64(const char *s, uint64_t *ret)
{
        char *end;

        errno = 0;
        *ret = strtoull(s, &end, 0);
        return errno || !*s || *end || *s == '-' ? -EINVAL : 0;
}

static int parse_token(const char *s, uint64_t token[2])
{
        char half[17];

        if (strlen(s) != 32 || strspn(s, "0123456789abcdefABCDEF") != 32)
                return -EINVAL;
        for (int i = 0; i < 2; i++) {
                memcpy(half, s + 16 * i, 16);
                half[16] = '\0';
                token[i] = strtoull(half, NULL, 16);
        }
        return 0;
}

static int fail(const char *what, int r)
{
        fprintf(stderr, "bufshare-dev: %s: %s\n", what, strerror(-r));
        return 1;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
        return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* Write the buffer's bytes, through a mapping, to stdout. */
static int cmd_redeem(const char *socket, const char *arg)
{
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        uint64_t token[2], size, done = 0;
        char *p;
        int r;

        if (parse_token(arg, token) < 0)
                return fail(arg, -EINVAL);
        r = bs_client_connect(socket, &c);
        if (r < 0)
                return fail("connecting to bufshared", r);
        r = bs_client_redeem(c, token, &b);
        if (r < 0) {
                bs_client_unref(c);
                return fail("redeem", r);
        }
        size = (uint64_t)bs_buffer_size(b);
        r = bs_buffer_mmap(b, 0, size, BS_PROT_READ, (void **)&p);
        while (r == 0 && done < size) {
                ssize_t n = write(STDOUT_FILENO, p + done, size - done);
                if (n < 0)
                        r = -errno;
                else
                        done += (uint64_t)n;
        }
        if (done)
                bs_buffer_munmap(b, p, size);
        bs_buffer_put(b);
        bs_client_unref(c);
        return r < 0 ? fail("writing the bytes", r) : 0;
}

static int run(int fd, int argc, char **argv)
{
        const char *cmd = argv[0];
        uint64_t id = 0, off = 0;
        int r;

        if (argc >= 2 && strcmp(cmd, "alloc") != 0 && parse_u64(argv[1], &id) < 0)
                return fail(argv[1], -EINVAL);
        if (!strcmp(cmd, "version") && argc == 1) {
                struct bufshare_version v;
                r = xioctl(fd, BUFSHARE_IOCTL_VERSION, &v);
                if (r < 0)
                        return fail("VERSION", r);
                printf("api %u protocol %u token-lifetime-ms %u\n", v.api_version, v.protocol_version,
                       v.token_lifetime_ms);
        } else if (!strcmp(cmd, "alloc") && argc >= 2 && argc <= 4) {
                struct bufshare_alloc a = { 0 };
                uint64_t size;
                if (limits_parse_size(argv[1], &size) < 0)
                        return fail(argv[1], -EINVAL);
                a.size = size;
                if ((argc > 2 && strlen(argv[2]) >= sizeof(a.name)) ||
                    (argc > 3 && strlen(argv[3]) >= sizeof(a.heap)))
                        return fail("alloc", -EINVAL);
                if (argc > 2)
                        strcpy(a.name, argv[2]);
                if (argc > 3)
                        strcpy(a.heap, argv[3]);
                r = xioctl(fd, BUFSHARE_IOCTL_ALLOC, &a);
                if (r < 0)
                        return fail("ALLOC", r);
                printf("%llu %llu %016llx%016llx\n", (unsigned long long)a.id, (unsigned long long)a.size,
                       (unsigned long long)a.token[0], (unsigned long long)a.token[1]);
        } else if (!strcmp(cmd, "info") && argc == 2) {
                struct bufshare_info i = { .id = id };
                r = xioctl(fd, BUFSHARE_IOCTL_INFO, &i);
                if (r < 0)
                        return fail("INFO", r);
                printf("id %llu size %llu heap %s name %s exporter %d (%s, uid %u) refs %u%s\n",
                       (unsigned long long)i.id, (unsigned long long)i.size, i.heap, i.name, i.exporter_pid,
                       i.exporter_comm, i.exporter_uid, i.n_refs, i.flags & BUFSHARE_INFO_BOUND ? " bound" : "");
        } else if (!strcmp(cmd, "name") && argc == 3) {
                struct bufshare_set_name n = { .id = id };
                if (strlen(argv[2]) >= sizeof(n.name))
                        return fail("name", -EINVAL);
                strcpy(n.name, argv[2]);
                r = xioctl(fd, BUFSHARE_IOCTL_SET_NAME, &n);
                if (r < 0)
                        return fail("SET_NAME", r);
        } else if (!strcmp(cmd, "bind") && (argc == 2 || argc == 3)) {
                struct bufshare_bind b = { .id = id };
                if (argc == 3 && parse_u64(argv[2], &off) < 0)
                        return fail(argv[2], -EINVAL);
                b.offset = off;
                r = xioctl(fd, BUFSHARE_IOCTL_BIND, &b);
                if (r < 0)
                        return fail("BIND", r);
        } else if (!strcmp(cmd, "release") && argc == 2) {
                struct bufshare_release rel = { .id = id };
                r = xioctl(fd, BUFSHARE_IOCTL_RELEASE, &rel);
                if (r < 0)
                        return fail("RELEASE", r);
        } else {
                usage(stderr);
                return 2;
        }
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "device", required_argument, NULL, 'd' },
                { "fd", required_argument, NULL, 'f' },
                { "socket", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *device = BS_DEVICE_PATH, *socket = NULL;
        uint64_t fd_arg;
        int fd = -1, c, r;

        while ((c = getopt_long(argc, argv, "+d:f:s:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        device = optarg;
                        break;
                case 'f':
                        if (parse_u64(optarg, &fd_arg) < 0 || fd_arg > 65535)
                                return fail(optarg, -EBADF);
                        fd = (int)fd_arg;
                        break;
                case 's':
                        socket = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        if (!strcmp(argv[optind], "redeem"))
                return optind + 2 == argc ? cmd_redeem(socket, argv[optind + 1]) : (usage(stderr), 2);
        if (fd < 0) {
                fd = open(device, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return fail(device, -errno);
        }
        r = run(fd, argc - optind, argv + optind);
        fflush(stdout);
        return r;
}
