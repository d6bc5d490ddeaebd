/* SPDX-License-Identifier: MIT */
/*
 * bufshared: flags and the config file, the listening socket (its own or
 * systemd's), signals (SIGHUP reloads the limits), what systemd hears
 * (service.c), D-Bus (dbus.c), and the event loop.
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

#include "config.h"
#include "cuse.h"
#include "dbus.h"
#include "device.h"
#include "dispatch.h"
#include "idle.h"
#include "fence.h"
#include "limits.h"
#include "listen.h"
#include "log.h"
#include "registry.h"
#include "server.h"
#include "service.h"
#include "socket-path.h"
#include "token.h"
#include "util.h"

struct options {
        char socket_path[108];
        bool socket_default; /* the default path: its folder may be created */
        mode_t socket_mode;
        struct limits_overrides cmdline; /* limits given as flags: they win over the config file */
        const char *config_path;          /* --config, or NULL */
        enum dbus_bus bus;
        bool device; /* serve /dev/NAME through CUSE where it can */
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
                "      --bus auto|system|session|none  where org.bufshare1 is offered (default auto:\n"
                "                               the system bus as root or as a system service)\n"
                "  -c, --config FILE            limits as \"name = value\" lines, named like the\n"
                "                               options below; read again on SIGHUP\n"
                "      --max-buffer-size SIZE   largest buffer, e.g. 64M (default 4G): -EFBIG\n"
                "      --max-buffers-per-client N  buffers one client may hold: -EMFILE\n"
                "      --max-buffers-per-uid N  buffers one uid may pay for: -EDQUOT\n"
                "      --max-bytes-per-uid SIZE bytes one uid may pay for (default RAM + swap): -EDQUOT\n"
                "      --max-clients N          connections in all: -EUSERS\n"
                "      --max-connections-per-uid N  connections of one uid: -EUSERS\n"
                "      --max-attachments-per-client N  attachments of one client (default 1024): -EMFILE\n"
                "      --max-fences-per-client N  fences one client made and did not destroy\n"
                "                               (default 4096): -EMFILE\n"
                "      --max-fences-per-uid N   fences one uid's clients made and did not destroy\n"
                "                               (default 4 x --max-fences-per-client): -EDQUOT\n"
                "      --max-waiters-per-client N  pending sync files one client made: -EMFILE\n"
                "      --max-waiters-per-fence N  what may wait on one fence or sync file: -ENOSPC\n"
                "      --max-sync-files-per-uid N  pending sync files one uid's clients made,\n"
                "                               connected still or not: -EDQUOT\n"
                "      --max-fds-in-flight-per-uid N  fds sent to one uid's clients and not\n"
                "                               received yet: its clients are not read\n"
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

/* A limit flag: @arg as @d's kind, into @o. */
static int parse_limit(const struct limit_desc *d, const char *arg, struct limits_overrides *o)
{
        uint64_t v;

        if (limits_parse(d, arg, &v) < 0 || limits_override(o, d, v) < 0) {
                log_error("--%s %s: not %s", d->name, arg,
                          d->kind == LIMIT_SIZE ? "a size (e.g. 4096, 64M, 2G)" : "a count from 1 to 4294967295");
                return -EINVAL;
        }
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

static int parse_options(int argc, char **argv, struct options *o)
{
        enum {
                OPT_SOCKET_MODE = 256,
                OPT_VERSION,
                OPT_BUS,
                OPT_DEVICE_NAME,
                OPT_DEVICE_MODE,
                OPT_DEVICE_GROUP,
                OPT_NO_DEVICE,
                OPT_TOKEN_LIFETIME,
                OPT_LIMIT, /* OPT_LIMIT + i: limits_table[i] */
        };
        static const struct option fixed[] = {
                { "socket", required_argument, NULL, 's' },
                { "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
                { "bus", required_argument, NULL, OPT_BUS },
                { "config", required_argument, NULL, 'c' },
                { "device-name", required_argument, NULL, OPT_DEVICE_NAME },
                { "device-mode", required_argument, NULL, OPT_DEVICE_MODE },
                { "device-group", required_argument, NULL, OPT_DEVICE_GROUP },
                { "no-device", no_argument, NULL, OPT_NO_DEVICE },
                { "token-lifetime", required_argument, NULL, OPT_TOKEN_LIFETIME },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
        };
        struct option longopts[ELEMENTSOF(fixed) + 32 + 1] = {};
        int c, r;

        memcpy(longopts, fixed, sizeof(fixed));
        for (unsigned i = 0; i < limits_table_len; i++)
                longopts[ELEMENTSOF(fixed) + i] = (struct option){ limits_table[i].name, required_argument, NULL,
                                                                   OPT_LIMIT + (int)i };
        memset(o, 0, sizeof(*o));
        o->socket_mode = 0666;
        o->bus = DBUS_BUS_AUTO;
        o->device = true;
        o->cuse = (struct cuse_options){ .name = "bufshare", .mode = 0666 };
        o->token_lifetime_ms = TOKEN_DEFAULT_LIFETIME_MS;
        while ((c = getopt_long(argc, argv, "s:c:vh", longopts, NULL)) >= 0) {
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
                        if (limits_parse_count(optarg, &ms) < 0) {
                                log_error("--token-lifetime %s: not a count from 1 to 4294967295", optarg);
                                return -EINVAL;
                        }
                        o->token_lifetime_ms = ms;
                        break;
                }
                case OPT_BUS:
                        if (dbus_bus_from_string(optarg, &o->bus) < 0) {
                                log_error("--bus %s: not auto, system, session or none", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'c':
                        o->config_path = optarg;
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
                        if (c >= OPT_LIMIT && c < OPT_LIMIT + (int)limits_table_len) {
                                r = parse_limit(&limits_table[c - OPT_LIMIT], optarg, &o->cmdline);
                                break;
                        }
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
        return 0;
}

/* The path to bind when systemd passed no socket: --socket, or the
 * default (a system service of its own user has no XDG_RUNTIME_DIR, and
 * needs none: systemd passes the socket). */
static int socket_path_resolve(struct options *o)
{
        const char *env = getenv("BUFSHARE_SOCKET");
        int r;

        if (o->socket_path[0])
                return 0;
        r = bs_socket_path_default(o->socket_path, sizeof(o->socket_path));
        if (r < 0) {
                log_error("no socket path: set --socket, BUFSHARE_SOCKET or XDG_RUNTIME_DIR (%s)", strerror(-r));
                return r;
        }
        o->socket_default = !(env && *env);
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
        struct service service;
        struct dbus *dbus;
        struct limits *limits; /* in force; registry, dispatch and server read them */
        const struct options *opts;
        uint64_t fd_limit;
};

/* The limits from the defaults, the config file and the flags, into
 * @ret; on error @ret is untouched and @err says why. */
static int limits_load(const struct daemon_state *st, struct limits *ret, char *err, size_t err_len)
{
        struct limits_overrides file = {};
        const struct limits_overrides *layers[2];
        unsigned n = 0;
        int r;

        if (st->opts->config_path) {
                r = config_read_limits(st->opts->config_path, &file, err, err_len);
                if (r < 0)
                        return r;
                layers[n++] = &file;
        }
        layers[n++] = &st->opts->cmdline;
        limits_compose(ret, st->fd_limit, layers, n);
        return 0;
}

static void log_limits(const struct limits *l, uint64_t fd_limit)
{
        log_info("limits: buffer %llu bytes; per client %u buffers, %u attachments, %u fences, "
                 "%u sync files; %u waiters per fence; per uid %u buffers, "
                 "%llu bytes, %u connections, %u fences, %u sync files, %u fds in flight; "
                 "%u connections in all (fd limit %llu)",
                 (unsigned long long)l->max_buffer_size, l->max_buffers_per_client, l->max_attachments_per_client,
                 l->max_fences_per_client, l->max_waiters_per_client, l->max_waiters_per_fence,
                 l->max_buffers_per_uid, (unsigned long long)l->max_bytes_per_uid, l->max_connections_per_uid,
                 l->max_fences_per_uid, l->max_sync_files_per_uid, l->max_fds_in_flight_per_uid, l->max_clients,
                 (unsigned long long)fd_limit);
}

static void stop_cb(evutil_socket_t sig, short what, void *data)
{
        struct daemon_state *st = data;
        (void)what;
        log_info("%s received, exiting", strsignal((int)sig));
        event_base_loopbreak(st->base);
}

/* SIGHUP: the limits from the config file again (the flags still win);
 * a file that can't be read or parsed leaves the limits as they are. */
static void reload(struct daemon_state *st)
{
        struct limits next, old;
        char err[256];

        if (!st->opts->config_path) {
                log_info("SIGHUP: no --config file, nothing to reload");
                return;
        }
        service_reloading(&st->service);
        if (limits_load(st, &next, err, sizeof(err)) < 0) {
                log_warn("SIGHUP: %s: the limits in force stay", err);
                service_reloaded(&st->service, err);
                return;
        }
        old = *st->limits;
        /* one assignment on the loop's only thread: no request is half
         * way through when it happens */
        *st->limits = next;
        log_info("SIGHUP: limits reloaded from %s", st->opts->config_path);
        log_limits(st->limits, st->fd_limit);
        dbus_limits_changed(st->dbus, &old);
        service_reloaded(&st->service, NULL);
}

/* SIGHUP reloads; SIGUSR1 and SIGUSR2 log a line of counts. */
static void status_cb(evutil_socket_t sig, short what, void *data)
{
        struct daemon_state *st = data;
        (void)what;
        if (sig == SIGHUP) {
                reload(st);
                return;
        }
        log_info("status: %llu buffers, %llu bytes, %u connections, %llu exported, %llu released",
                 (unsigned long long)st->registry->n_buffers, (unsigned long long)st->registry->n_bytes,
                 st->server->n_conns, (unsigned long long)st->registry->stats.exported,
                 (unsigned long long)st->registry->stats.released);
}

/* The STATUS= line systemd shows. */
static void status_line(void *userdata, char *buf, size_t len)
{
        struct daemon_state *st = userdata;
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double bytes = (double)st->registry->n_bytes;
        unsigned u = 0;

        while (bytes >= 1024 && u + 1 < ELEMENTSOF(units)) {
                bytes /= 1024;
                u++;
        }
        snprintf(buf, len, "%u clients, %llu buffers, %.*f %s", st->server->n_conns,
                 (unsigned long long)st->registry->n_buffers, u ? 1 : 0, bytes, units[u]);
}

/* The bus is settled (or off): the daemon serves, say so. */
static void bus_settled(void *userdata)
{
        struct daemon_state *st = userdata;

        service_ready(&st->service);
}

int main(int argc, char **argv)
{
        static const int stop_signals[] = { SIGTERM, SIGINT };
        static const int status_signals[] = { SIGHUP, SIGUSR1, SIGUSR2 };
        struct event *signals[ELEMENTSOF(stop_signals) + ELEMENTSOF(status_signals)] = {};
        struct options opts;
        struct limits limits;
        struct registry registry;
        struct dispatch dispatch = { .registry = &registry, .limits = &limits };
        struct server server = { .listen_fd = -EBADF };
        struct daemon_state st = { .registry = &registry, .server = &server, .limits = &limits, .opts = &opts };
        struct token_table tokens;
        struct device device;
        struct cuse *cuse = NULL;
        bool own_socket = false;
        int listen_fd = -EBADF, r;
        char err[256];

        signal(SIGPIPE, SIG_IGN);
        st.fd_limit = raise_fd_limit();
        if (parse_options(argc, argv, &opts) < 0)
                return 2;
        if (limits_load(&st, &limits, err, sizeof(err)) < 0) {
                log_error("%s", err);
                return 2;
        }

        listen_fd = listen_systemd();
        if (listen_fd < 0)
                return 1;
        if (listen_fd > 0) {
                log_info("listening on the socket systemd passed");
        } else {
                if (socket_path_resolve(&opts) < 0)
                        return 2;
                listen_fd = listen_path(opts.socket_path, opts.socket_default, opts.socket_mode);
                if (listen_fd < 0) {
                        log_error("listening on %s failed: %s", opts.socket_path, strerror(-listen_fd));
                        return 1;
                }
                own_socket = true;
                log_info("listening on %s", opts.socket_path);
        }

        r = registry_init(&registry, &limits);
        if (r < 0) {
                log_error("registry: %s", strerror(-r));
                goto out_socket;
        }
        fence_setup(&registry);
        token_table_init(&tokens, opts.token_lifetime_ms);
        dispatch.tokens = &tokens;
        device_init(&device, &registry, &tokens, &limits);
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
        r = service_init(&st.service, st.base, status_line, &st);
        if (r < 0) {
                log_error("service notifications: out of memory");
                goto out_server;
        }

        if (opts.device) {
                char why[160];
                r = cuse_start(st.base, &device, &opts.cuse, &cuse, why, sizeof(why));
                if (r < 0)
                        log_warn("CUSE: %s: no /dev/%s, serving the socket alone", why, opts.cuse.name);
        }

        log_limits(&limits, st.fd_limit);
        /* READY=1 once the bus is settled too (bus_settled), so that a
         * started service has its name; a missing bus settles at once */
        r = dbus_new(st.base, opts.bus, &(struct dbus_context){ .registry = &registry, .server = &server,
                                                               .limits = &limits, .settled = bus_settled,
                                                               .userdata = &st },
                     &st.dbus);
        if (r < 0) {
                log_error("D-Bus: %s", strerror(-r));
                goto out_server;
        }
        r = event_base_dispatch(st.base) < 0 ? -EIO : 0;
        service_stopping(&st.service);

out_server:
        st.dbus = dbus_free(st.dbus);
        service_done(&st.service);
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
