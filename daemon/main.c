/* SPDX-License-Identifier: MIT */
/*
 * bufshared: flags, the listening socket (its own or systemd's), signals,
 * readiness, and the event loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "limits.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "socket-path.h"
#include "util.h"

struct options {
        char socket_path[108];
        struct limits limits;
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: bufshared [OPTIONS]\n"
                "Host shareable buffers in sealed memfds for libbufshare clients.\n\n"
                "  -s, --socket PATH            listen on PATH (default: $BUFSHARE_SOCKET,\n"
                "                               $XDG_RUNTIME_DIR/bufshare/socket, or\n"
                "                               /run/bufshare/socket as root)\n"
                "      --max-buffer-size SIZE   largest buffer, e.g. 64M (default 4G): -EFBIG\n"
                "      --max-buffers-per-client N  buffers one client may hold (default 65536): -EMFILE\n"
                "      --max-bytes-per-uid SIZE bytes of live buffers per uid (default RAM + swap): -EDQUOT\n"
                "      --max-clients N          clients served at once (default 4096): -EUSERS\n"
                "  -v, --verbose                log every client and buffer event\n"
                "  -h, --help                   this text\n"
                "      --version                the version\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
        enum { OPT_MAX_BUFFER_SIZE = 256, OPT_MAX_BUFFERS, OPT_MAX_BYTES, OPT_MAX_CLIENTS, OPT_VERSION };
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, 's' },
                { "max-buffer-size", required_argument, NULL, OPT_MAX_BUFFER_SIZE },
                { "max-buffers-per-client", required_argument, NULL, OPT_MAX_BUFFERS },
                { "max-bytes-per-uid", required_argument, NULL, OPT_MAX_BYTES },
                { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int c, r;

        limits_init_default(&o->limits);
        o->socket_path[0] = '\0';
        while ((c = getopt_long(argc, argv, "s:vh", longopts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        if (strlen(optarg) >= sizeof(o->socket_path)) {
                                log_error("--socket %s: path longer than %zu bytes", optarg,
                                          sizeof(o->socket_path) - 1);
                                return -ENAMETOOLONG;
                        }
                        snprintf(o->socket_path, sizeof(o->socket_path), "%s", optarg);
                        break;
                case OPT_MAX_BUFFER_SIZE:
                        r = limits_parse_size(optarg, &o->limits.max_buffer_size);
                        if (r < 0 || o->limits.max_buffer_size == 0) {
                                log_error("--max-buffer-size %s: not a size (e.g. 4096, 64M, 2G)", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_MAX_BYTES:
                        r = limits_parse_size(optarg, &o->limits.max_bytes_per_uid);
                        if (r < 0 || o->limits.max_bytes_per_uid == 0) {
                                log_error("--max-bytes-per-uid %s: not a size (e.g. 1G)", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_MAX_BUFFERS:
                        if (limits_parse_count(optarg, &o->limits.max_buffers_per_client) < 0) {
                                log_error("--max-buffers-per-client %s: not a count from 1", optarg);
                                return -EINVAL;
                        }
                        break;
                case OPT_MAX_CLIENTS:
                        if (limits_parse_count(optarg, &o->limits.max_clients) < 0) {
                                log_error("--max-clients %s: not a count from 1", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'v':
                        log_set_level(LOG_LVL_DEBUG);
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                case OPT_VERSION:
                        printf("bufshared %s\n", BUFSHARE_VERSION);
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument: %s", argv[optind]);
                return -EINVAL;
        }
        if (!o->socket_path[0]) {
                r = bs_socket_path_default(o->socket_path, sizeof(o->socket_path));
                if (r < 0) {
                        log_error("no socket path: set --socket, BUFSHARE_SOCKET or XDG_RUNTIME_DIR (%s)",
                                  strerror(-r));
                        return r;
                }
        }
        return 0;
}

/* Every buffer costs the daemon one fd: take all the kernel allows. */
static void raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warn("raising RLIMIT_NOFILE to %llu failed: %s", (unsigned long long)rl.rlim_max,
                         strerror(errno));
}

static void signal_cb(evutil_socket_t sig, short what, void *data)
{
        (void)what;
        log_info("%s received, exiting", strsignal((int)sig));
        event_base_loopbreak(data);
}

int main(int argc, char **argv)
{
        struct options opts;
        struct registry registry;
        struct server server;
        struct event_base *base = NULL;
        struct event *sigterm = NULL, *sigint = NULL;
        bool own_socket = false;
        int listen_fd = -EBADF, n, r;

        if (parse_options(argc, argv, &opts) < 0)
                return 2;
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();

        n = sd_listen_fds(1);
        if (n > 1) {
                log_error("systemd passed %d sockets, expected 1", n);
                return 1;
        } else if (n == 1) {
                listen_fd = SD_LISTEN_FDS_START;
                log_info("listening on the socket systemd passed");
        } else {
                listen_fd = server_listen_path(opts.socket_path);
                if (listen_fd < 0) {
                        log_error("listening on %s failed: %s", opts.socket_path, strerror(-listen_fd));
                        return 1;
                }
                own_socket = true;
                log_info("listening on %s", opts.socket_path);
        }

        r = registry_init(&registry, &opts.limits);
        if (r < 0) {
                log_error("registry: %s", strerror(-r));
                goto out_socket;
        }
        base = event_base_new();
        if (!base) {
                log_error("event_base_new failed");
                r = -ENOMEM;
                goto out_registry;
        }
        r = server_init(&server, base, &registry, &opts.limits, listen_fd);
        listen_fd = -EBADF; /* the server owns it now */
        if (r < 0) {
                log_error("server: %s", strerror(-r));
                goto out_server;
        }
        sigterm = evsignal_new(base, SIGTERM, signal_cb, base);
        sigint = evsignal_new(base, SIGINT, signal_cb, base);
        if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0) {
                log_error("signal handlers: out of memory");
                r = -ENOMEM;
                goto out_server;
        }

        log_info("limits: buffer %llu bytes, %u buffers per client, %llu bytes per uid, %u clients",
                 (unsigned long long)opts.limits.max_buffer_size, opts.limits.max_buffers_per_client,
                 (unsigned long long)opts.limits.max_bytes_per_uid, opts.limits.max_clients);
        sd_notify(0, "READY=1\nSTATUS=serving");
        r = event_base_dispatch(base) < 0 ? -EIO : 0;
        sd_notify(0, "STOPPING=1");

out_server:
        if (sigterm)
                event_free(sigterm);
        if (sigint)
                event_free(sigint);
        server_done(&server);
        event_base_free(base);
out_registry:
        registry_done(&registry);
out_socket:
        safe_close(listen_fd);
        if (own_socket && unlink(opts.socket_path) < 0)
                log_warn("removing %s failed: %s", opts.socket_path, strerror(errno));
        return r < 0 ? 1 : 0;
}
