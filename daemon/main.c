/* SPDX-License-Identifier: MIT */
/*
 * bufshared: flags, the listening socket (its own or systemd's), signals,
 * readiness, and the event loop.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "cuse.h"
#include "device.h"
#include "dispatch.h"
#include "idle.h"
#include "limits.h"
#include "listen.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "socket-path.h"
#include "token.h"
#include "util.h"

struct options {
        char socket_path[108];
        bool socket_default; /* the default path: its folder may be created */
        mode_t socket_mode;
        struct limits limits;
        bool device;         /* serve /dev/NAME through CUSE where it can */
        struct cuse_options cuse;
        unsigned token_lifetime_ms;
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: bufshared [OPTIONS]\n"
                "Host shareable buffers in sealed memfds for libbufshare clients.\n\n"
                "  -s, --socket PATH            listen on PATH (default: $BUFSHARE_SOCKET,\n"
                "                               $XDG_RUNTIME_DIR/bufshare/socket, or\n"
                "                               /run/bufshare/socket as root)\n"
                "      --socket-mode MODE       the socket file's mode, octal (default 0666)\n"
                "      --max-buffer-size SIZE   largest buffer, e.g. 64M (default 4G): -EFBIG\n"
                "      --max-buffers-per-client N  buffers one client may hold: -EMFILE\n"
                "      --max-buffers-per-uid N  buffers one uid may pay for: -EDQUOT\n"
                "      --max-bytes-per-uid SIZE bytes one uid may pay for (default RAM + swap): -EDQUOT\n"
                "      --max-clients N          connections in all: -EUSERS\n"
                "      --max-connections-per-uid N  connections of one uid: -EUSERS\n"
                "      --max-attachments-per-client N  attachments of one client (default 1024): -EMFILE\n"
                "      --hello-timeout MS       a new connection's time to say HELLO (default 10000)\n"
                "      --device-name NAME       the CUSE device /dev/NAME (default bufshare)\n"
                "      --device-mode MODE       its mode, octal (default 0666)\n"
                "      --device-group GROUP     its group, a name or a gid\n"
                "      --no-device              serve the socket only, no /dev/bufshare\n"
                "      --token-lifetime MS      how long a device ALLOC's token may be redeemed\n"
                "                               (default 5000)\n"
                "  -v, --verbose                log every client and buffer event\n"
                "  -h, --help                   this text\n"
                "      --version                the version\n"
                "Counts without a default above are cut from the daemon's fd limit\n"
                "(RLIMIT_NOFILE), so that no client and no uid can take every fd.\n");
}

static int parse_count(const char *flag, const char *arg, uint32_t *ret)
{
        if (limits_parse_count(arg, ret) < 0) {
                log_error("%s %s: not a count from 1 to 4294967295", flag, arg);
                return -EINVAL;
        }
        return 0;
}

static int parse_size(const char *flag, const char *arg, uint64_t *ret)
{
        uint64_t v;

        if (limits_parse_size(arg, &v) < 0 || v == 0) {
                log_error("%s %s: not a size (e.g. 4096, 64M, 2G)", flag, arg);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int parse_mode(const char *flag, const char *arg, mode_t *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(arg, &end, 8);
        if (errno || !*arg || *end || v > 0777) {
                log_error("%s %s: not an octal mode (e.g. 0660)", flag, arg);
                return -EINVAL;
        }
        *ret = (mode_t)v;
        return 0;
}

/* A group name, or a number. */
static int parse_group(const char *arg, gid_t *ret)
{
        struct group *g = getgrnam(arg);
        char *end;
        unsigned long v;

        if (g) {
                *ret = g->gr_gid;
                return 0;
        }
        errno = 0;
        v = strtoul(arg, &end, 10);
        if (errno || !*arg || *end || v >= (gid_t)-1) {
                log_error("--device-group %s: no such group", arg);
                return -EINVAL;
        }
        *ret = (gid_t)v;
        return 0;
}

static int parse_options(int argc, char **argv, uint64_t fd_limit, struct options *o)
{
        enum {
                OPT_MAX_BUFFER_SIZE = 256,
                OPT_MAX_BUFFERS,
                OPT_MAX_BUFFERS_UID,
                OPT_MAX_BYTES,
                OPT_MAX_CLIENTS,
                OPT_MAX_CONNS_UID,
                OPT_MAX_ATTACHMENTS,
                OPT_HELLO_TIMEOUT,
                OPT_SOCKET_MODE,
                OPT_DEVICE_NAME,
                OPT_DEVICE_MODE,
                OPT_DEVICE_GROUP,
                OPT_NO_DEVICE,
                OPT_TOKEN_LIFETIME,
                OPT_VERSION,
        };
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, 's' },
                { "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
                { "max-buffer-size", required_argument, NULL, OPT_MAX_BUFFER_SIZE },
                { "max-buffers-per-client", required_argument, NULL, OPT_MAX_BUFFERS },
                { "max-buffers-per-uid", required_argument, NULL, OPT_MAX_BUFFERS_UID },
                { "max-bytes-per-uid", required_argument, NULL, OPT_MAX_BYTES },
                { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
                { "max-connections-per-uid", required_argument, NULL, OPT_MAX_CONNS_UID },
                { "max-attachments-per-client", required_argument, NULL, OPT_MAX_ATTACHMENTS },
                { "hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT },
                { "device-name", required_argument, NULL, OPT_DEVICE_NAME },
                { "device-mode", required_argument, NULL, OPT_DEVICE_MODE },
                { "device-group", required_argument, NULL, OPT_DEVICE_GROUP },
                { "no-device", no_argument, NULL, OPT_NO_DEVICE },
                { "token-lifetime", required_argument, NULL, OPT_TOKEN_LIFETIME },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        bool clients_set = false, conns_set = false;
        int c, r;

        limits_init_default(&o->limits, fd_limit);
        o->socket_path[0] = '\0';
        o->socket_default = false;
        o->socket_mode = 0666;
        o->device = true;
        o->cuse = (struct cuse_options){ .name = "bufshare", .mode = 0666 };
        o->token_lifetime_ms = TOKEN_DEFAULT_LIFETIME_MS;
        while ((c = getopt_long(argc, argv, "s:vh", longopts, NULL)) >= 0) {
                r = 0;
                switch (c) {
                case 's':
                        if (strlen(optarg) >= sizeof(o->socket_path)) {
                                log_error("--socket %s: path longer than %zu bytes", optarg,
                                          sizeof(o->socket_path) - 1);
                                return -ENAMETOOLONG;
                        }
                        snprintf(o->socket_path, sizeof(o->socket_path), "%s", optarg);
                        break;
                case OPT_SOCKET_MODE:
                        r = parse_mode("--socket-mode", optarg, &o->socket_mode);
                        break;
                case OPT_DEVICE_NAME:
                        if (!device_name_valid(optarg)) {
                                log_error("--device-name %s: not a name under /dev ([A-Za-z0-9._-], "
                                          "components separated by /)", optarg);
                                return -EINVAL;
                        }
                        o->cuse.name = optarg;
                        break;
                case OPT_DEVICE_MODE:
                        r = parse_mode("--device-mode", optarg, &o->cuse.mode);
                        break;
                case OPT_DEVICE_GROUP:
                        r = parse_group(optarg, &o->cuse.gid);
                        o->cuse.group_set = true;
                        break;
                case OPT_NO_DEVICE:
                        o->device = false;
                        break;
                case OPT_TOKEN_LIFETIME: {
                        uint32_t ms;
                        r = parse_count("--token-lifetime", optarg, &ms);
                        o->token_lifetime_ms = ms;
                        break;
                }
                case OPT_MAX_BUFFER_SIZE:
                        r = parse_size("--max-buffer-size", optarg, &o->limits.max_buffer_size);
                        break;
                case OPT_MAX_BYTES:
                        r = parse_size("--max-bytes-per-uid", optarg, &o->limits.max_bytes_per_uid);
                        break;
                case OPT_MAX_BUFFERS:
                        r = parse_count("--max-buffers-per-client", optarg, &o->limits.max_buffers_per_client);
                        break;
                case OPT_MAX_BUFFERS_UID:
                        r = parse_count("--max-buffers-per-uid", optarg, &o->limits.max_buffers_per_uid);
                        break;
                case OPT_MAX_CLIENTS:
                        r = parse_count("--max-clients", optarg, &o->limits.max_clients);
                        clients_set = true;
                        break;
                case OPT_MAX_CONNS_UID:
                        r = parse_count("--max-connections-per-uid", optarg, &o->limits.max_connections_per_uid);
                        conns_set = true;
                        break;
                case OPT_MAX_ATTACHMENTS:
                        r = parse_count("--max-attachments-per-client", optarg,
                                        &o->limits.max_attachments_per_client);
                        break;
                case OPT_HELLO_TIMEOUT:
                        r = parse_count("--hello-timeout", optarg, &o->limits.hello_timeout_ms);
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
                if (r < 0)
                        return r;
        }
        if (optind < argc) {
                log_error("unexpected argument: %s", argv[optind]);
                return -EINVAL;
        }
        /* a --max-clients alone also bounds each uid's share of it */
        if (clients_set && !conns_set)
                o->limits.max_connections_per_uid = o->limits.max_clients;
        if (!o->socket_path[0]) {
                const char *env = getenv("BUFSHARE_SOCKET");
                r = bs_socket_path_default(o->socket_path, sizeof(o->socket_path));
                if (r < 0) {
                        log_error("no socket path: set --socket, BUFSHARE_SOCKET or XDG_RUNTIME_DIR (%s)",
                                  strerror(-r));
                        return r;
                }
                o->socket_default = !(env && *env);
        }
        return 0;
}

/* Every buffer costs the daemon one fd: take all the kernel allows, and
 * return what that is. */
static uint64_t raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 1024;
        if (rl.rlim_cur < rl.rlim_max) {
                rlim_t want = rl.rlim_max;
                rl.rlim_cur = want;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                        log_warn("raising RLIMIT_NOFILE to %llu failed: %s", (unsigned long long)want,
                                 strerror(errno));
                        getrlimit(RLIMIT_NOFILE, &rl);
                }
        }
        return rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)rl.rlim_cur;
}

struct daemon_state {
        struct event_base *base;
        struct registry *registry;
        struct server *server;
};

static void stop_cb(evutil_socket_t sig, short what, void *data)
{
        struct daemon_state *st = data;
        (void)what;
        log_info("%s received, exiting", strsignal((int)sig));
        event_base_loopbreak(st->base);
}

/* SIGHUP: nothing to reload yet, and never a reason to die. SIGUSR1 and
 * SIGUSR2: a line of counts. */
static void status_cb(evutil_socket_t sig, short what, void *data)
{
        struct daemon_state *st = data;
        (void)what;
        if (sig == SIGHUP) {
                log_info("SIGHUP: no configuration to reload");
                return;
        }
        log_info("status: %llu buffers, %llu bytes, %u connections, %llu exported, %llu released",
                 (unsigned long long)st->registry->n_buffers, (unsigned long long)st->registry->n_bytes,
                 st->server->n_conns, (unsigned long long)st->registry->stats.exported,
                 (unsigned long long)st->registry->stats.released);
}

int main(int argc, char **argv)
{
        static const int stop_signals[] = { SIGTERM, SIGINT };
        static const int status_signals[] = { SIGHUP, SIGUSR1, SIGUSR2 };
        struct event *signals[ELEMENTSOF(stop_signals) + ELEMENTSOF(status_signals)] = {};
        struct options opts;
        struct registry registry;
        struct dispatch dispatch = { .registry = &registry };
        struct server server = { .listen_fd = -EBADF };
        struct daemon_state st = { .registry = &registry, .server = &server };
        struct token_table tokens;
        struct device device;
        struct cuse *cuse = NULL;
        bool own_socket = false;
        int listen_fd = -EBADF, r;
        uint64_t fd_limit;

        signal(SIGPIPE, SIG_IGN);
        fd_limit = raise_fd_limit();
        if (parse_options(argc, argv, fd_limit, &opts) < 0)
                return 2;
        dispatch.limits = &opts.limits;

        listen_fd = listen_systemd();
        if (listen_fd < 0)
                return 1;
        if (listen_fd > 0) {
                log_info("listening on the socket systemd passed");
        } else {
                listen_fd = listen_path(opts.socket_path, opts.socket_default, opts.socket_mode);
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
        token_table_init(&tokens, opts.token_lifetime_ms);
        dispatch.tokens = &tokens;
        device_init(&device, &registry, &tokens, &opts.limits);
        st.base = event_base_new();
        if (!st.base) {
                log_error("event_base_new failed");
                r = -ENOMEM;
                goto out_registry;
        }
        r = idle_new(st.base, &registry, &dispatch.idle);
        if (r < 0) {
                log_error("idle work: %s", strerror(-r));
                goto out_base;
        }
        registry_reserve(&registry, LIMITS_MEMFD_RESERVE);
        registry_refill(&registry, LIMITS_MEMFD_RESERVE);
        r = server_init(&server, st.base, &dispatch, listen_fd);
        listen_fd = -EBADF; /* the server owns it now */
        if (r < 0) {
                log_error("server: %s", strerror(-r));
                goto out_server;
        }
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                bool stop = i < ELEMENTSOF(stop_signals);
                int sig = stop ? stop_signals[i] : status_signals[i - ELEMENTSOF(stop_signals)];
                signals[i] = evsignal_new(st.base, sig, stop ? stop_cb : status_cb, &st);
                if (!signals[i] || event_add(signals[i], NULL) < 0) {
                        log_error("signal handlers: out of memory");
                        r = -ENOMEM;
                        goto out_server;
                }
        }

        if (opts.device) {
                char why[160];
                r = cuse_start(st.base, &device, &opts.cuse, &cuse, why, sizeof(why));
                if (r < 0)
                        log_warn("CUSE: %s: no /dev/%s, serving the socket alone", why, opts.cuse.name);
        }

        log_info("limits: buffer %llu bytes; per client %u buffers, %u attachments; per uid %u buffers, "
                 "%llu bytes, %u connections; %u connections in all (fd limit %llu)",
                 (unsigned long long)opts.limits.max_buffer_size, opts.limits.max_buffers_per_client,
                 opts.limits.max_attachments_per_client, opts.limits.max_buffers_per_uid,
                 (unsigned long long)opts.limits.max_bytes_per_uid, opts.limits.max_connections_per_uid,
                 opts.limits.max_clients, (unsigned long long)fd_limit);
        sd_notify(0, "READY=1\nSTATUS=serving");
        r = event_base_dispatch(st.base) < 0 ? -EIO : 0;
        sd_notify(0, "STOPPING=1");

out_server:
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                if (signals[i])
                        event_free(signals[i]);
        cuse_stop(cuse);
        device_done(&device);
        server_done(&server);
out_base:
        idle_free(dispatch.idle);
        if (st.base)
                event_base_free(st.base);
out_registry:
        token_table_done(&tokens);
        registry_done(&registry);
out_socket:
        safe_close(listen_fd);
        if (own_socket && unlink(opts.socket_path) < 0)
                log_warn("removing %s failed: %s", opts.socket_path, strerror(errno));
        return r < 0 ? 1 : 0;
}
