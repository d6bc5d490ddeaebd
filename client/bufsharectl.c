/* SPDX-License-Identifier: MIT */
/*
 * bufsharectl: look at a running bufshared. It asks org.bufshare1 on
 * D-Bus (ctl-bus.c); with --socket, or when no bus answers, it asks the
 * daemon's socket what that can answer: the limits and one buffer's info
 * (ctl-socket.c). Exit codes as systemd's tools have them: 0, 1 for any
 * failure, 4 for a buffer that does not exist (systemctl's "no such unit").
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl-output.h"
#include "socket-path.h"

#define EXIT_NO_SUCH 4

struct args {
        const char *command;
        uint64_t id;
        bool json;
        bool user_bus;
        const char *socket; /* --socket: the socket protocol only */
        unsigned iterations; /* top, monitor: 0 = until interrupted */
        double delay;        /* top: seconds between refreshes */
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: bufsharectl [OPTIONS] COMMAND\n"
                "Look at a running bufshared.\n\n"
                "Commands:\n"
                "  list             the buffers\n"
                "  info ID          one buffer: its holders, who pays, attachments, CPU access\n"
                "  clients          the connected clients\n"
                "  stats            totals and counters\n"
                "  limits           the limits in force\n"
                "  top              a live view of the totals and the busiest clients\n"
                "  monitor          print buffers created and released as it happens\n\n"
                "Options:\n"
                "      --system     ask the daemon on the system bus (default)\n"
                "      --user       ask the daemon on the session bus\n"
                "  -s, --socket PATH  ask the daemon's socket (limits and info only)\n"
                "  -j, --json       JSON instead of tables (one object a line for top, monitor)\n"
                "  -n, --iterations N  top: refresh N times; monitor: stop after N events\n"
                "  -d, --delay SEC  top: seconds between refreshes (default 1)\n"
                "  -h, --help       this text\n"
                "      --version    the version\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
        enum { OPT_SYSTEM = 256, OPT_USER, OPT_VERSION };
        static const struct option longopts[] = {
                { "system", no_argument, NULL, OPT_SYSTEM },
                { "user", no_argument, NULL, OPT_USER },
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "iterations", required_argument, NULL, 'n' },
                { "delay", required_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        char *end;
        int c;

        memset(a, 0, sizeof(*a));
        a->delay = 1.0;
        while ((c = getopt_long(argc, argv, "s:jn:d:h", longopts, NULL)) >= 0) {
                switch (c) {
                case OPT_SYSTEM:
                        a->user_bus = false;
                        break;
                case OPT_USER:
                        a->user_bus = true;
                        break;
                case 's':
                        a->socket = optarg;
                        break;
                case 'j':
                        a->json = true;
                        break;
                case 'n':
                        errno = 0;
                        a->iterations = (unsigned)strtoul(optarg, &end, 10);
                        if (errno || !*optarg || *end || a->iterations == 0) {
                                fprintf(stderr, "bufsharectl: --iterations %s: not a count from 1\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'd':
                        errno = 0;
                        a->delay = strtod(optarg, &end);
                        if (errno || !*optarg || *end || !(a->delay >= 0.01 && a->delay <= 3600)) {
                                fprintf(stderr, "bufsharectl: --delay %s: not seconds from 0.01 to 3600\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                case OPT_VERSION:
                        printf("bufsharectl %s\n", BUFSHARE_VERSION);
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "bufsharectl: a command is needed (list, info, clients, stats, limits, top, monitor)\n");
                return -EINVAL;
        }
        a->command = argv[optind++];
        if (strcmp(a->command, "info") == 0) {
                if (optind >= argc) {
                        fprintf(stderr, "bufsharectl: info needs a buffer id\n");
                        return -EINVAL;
                }
                errno = 0;
                a->id = strtoull(argv[optind], &end, 10);
                if (errno || !*argv[optind] || *end || a->id == 0) {
                        fprintf(stderr, "bufsharectl: info %s: not a buffer id\n", argv[optind]);
                        return -EINVAL;
                }
                optind++;
        }
        if (optind < argc) {
                fprintf(stderr, "bufsharectl: unexpected argument: %s\n", argv[optind]);
                return -EINVAL;
        }
        return 0;
}

/* ---- printing ------------------------------------------------------------ */

/* @n items of @size bytes as a JSON array of objects, each filled by @fields. */
static void json_array_of(struct json *j, const void *items, size_t n, size_t size,
                          void (*fields)(struct json *j, const void *item))
{
        json_array_begin(j);
        for (size_t i = 0; i < n; i++) {
                json_object_begin(j);
                fields(j, (const char *)items + i * size);
                json_object_end(j);
        }
        json_array_end(j);
}

static void buffer_fields(struct json *j, const void *item)
{
        ctl_buffer_json_fields(j, item);
}

static void client_fields(struct json *j, const void *item)
{
        ctl_client_json_fields(j, item);
}

static void print_buffers(const struct ctl_buffer *b, size_t n, bool json)
{
        static const char *const columns[] = { ">ID", "NAME", "HEAP", ">SIZE", ">REFS", ">HOLDERS", "EXPORTER",
                                                ">PAYER", "CREATED", NULL };
        struct table t;
        struct json j;

        if (json) {
                json_init(&j, stdout);
                json_array_of(&j, b, n, sizeof(*b), buffer_fields);
                return;
        }
        table_init(&t, columns);
        for (size_t i = 0; i < n; i++) {
                char name[4 * CTL_NAME_LEN], heap[4 * CTL_NAME_LEN], comm[4 * CTL_NAME_LEN], size[16], created[32];
                text_escape(name, sizeof(name), b[i].name);
                text_escape(heap, sizeof(heap), b[i].heap);
                text_escape(comm, sizeof(comm), b[i].exporter_comm);
                format_bytes(size, sizeof(size), b[i].size);
                format_time(created, sizeof(created), b[i].created_usec);
                table_row(&t, "%llu|%s|%s|%s|%u|%u|%s[%u] uid %u|%u|%s", (unsigned long long)b[i].id,
                          name[0] ? name : "-", heap, size, b[i].n_refs, b[i].n_holders, comm, b[i].exporter_pid,
                          b[i].exporter_uid, b[i].payer_uid, created);
        }
        table_print(&t, stdout);
        table_done(&t);
        printf("\n%zu %s listed.\n", n, n == 1 ? "buffer" : "buffers");
}

static const char *direction_name(unsigned d)
{
        static const char *const names[] = { "bidirectional", "to-device", "from-device" };
        return d < 3 ? names[d] : "?";
}

static void print_info(const struct ctl_buffer *b, bool json)
{
        char name[4 * CTL_NAME_LEN], heap[4 * CTL_NAME_LEN], comm[4 * CTL_NAME_LEN], size[16], created[32];
        struct json j;

        if (json) {
                json_init(&j, stdout);
                json_object_begin(&j);
                ctl_info_json_fields(&j, b);
                json_object_end(&j);
                return;
        }
        text_escape(name, sizeof(name), b->name);
        text_escape(heap, sizeof(heap), b->heap);
        text_escape(comm, sizeof(comm), b->exporter_comm);
        format_bytes(size, sizeof(size), b->size);
        format_time(created, sizeof(created), b->created_usec);
        printf("       Buffer: %llu\n", (unsigned long long)b->id);
        printf("         Name: %s\n", name[0] ? name : "-");
        printf("         Heap: %s\n", heap);
        printf("         Size: %s (%llu bytes)\n", size, (unsigned long long)b->size);
        printf("      Created: %s\n", created);
        printf("     Exporter: %s[%u], uid %u\n", comm, b->exporter_pid, b->exporter_uid);
        if (b->has_payer)
                printf("     Paid for: uid %u\n", b->payer_uid);
        printf("   References: %u", b->n_refs);
        if (b->holders_known)
                printf(" from %u %s", b->n_holders, b->n_holders == 1 ? "holder" : "holders");
        printf(", %u %s read-only ones\n", b->n_readonly, b->n_readonly == 1 ? "holder with" : "holders with");
        for (size_t i = 0; b->holders_known && i < b->n_holder_list; i++) {
                const struct ctl_holder *h = &b->holders[i];
                text_escape(comm, sizeof(comm), h->comm);
                printf("%s client %llu: %s[%u] uid %u, %u references (%u read-only)\n", i ? "              " : "      Holders:",
                       (unsigned long long)h->client_id, comm, h->pid, h->uid, h->refs, h->readonly_refs);
        }
        printf("  Attachments: %u\n", b->n_attachments);
        for (size_t i = 0; i < b->n_attachment_list; i++) {
                const struct ctl_attachment *a = &b->attachments[i];
                text_escape(name, sizeof(name), a->device);
                printf("               %s by pid %u, %s%s\n", name, a->pid, a->mapped ? "mapped " : "not mapped",
                       a->mapped ? direction_name(a->direction) : "");
        }
        printf("   CPU access: %u\n", b->n_cpu_access);
        for (size_t i = 0; i < b->n_cpu_list; i++)
                printf("               pid %u %s%s\n", b->cpu[i].pid, b->cpu[i].flags & 1 ? "read " : "",
                       b->cpu[i].flags & 2 ? "write" : "");
}

static void print_clients(const struct ctl_client *c, size_t n, bool json)
{
        static const char *const columns[] = { ">CLIENT", ">PID", ">UID", ">GID", "COMM", "NAME", ">PROTO",
                                                ">BUFFERS", ">ATTACHMENTS", NULL };
        struct table t;
        struct json j;

        if (json) {
                json_init(&j, stdout);
                json_array_of(&j, c, n, sizeof(*c), client_fields);
                return;
        }
        table_init(&t, columns);
        for (size_t i = 0; i < n; i++) {
                char comm[4 * CTL_NAME_LEN], name[4 * CTL_NAME_LEN];
                text_escape(comm, sizeof(comm), c[i].comm);
                text_escape(name, sizeof(name), c[i].name);
                table_row(&t, "%llu|%u|%u|%u|%s|%s|%u|%u|%u", (unsigned long long)c[i].id, c[i].pid, c[i].uid,
                          c[i].gid, comm[0] ? comm : "-", name[0] ? name : "-", c[i].version, c[i].n_buffers,
                          c[i].n_attachments);
        }
        table_print(&t, stdout);
        table_done(&t);
        printf("\n%zu clients listed.\n", n);
}

static void print_pairs(const struct ctl_pair *p, size_t n, bool json, bool bytes_human)
{
        static const char *const columns[] = { "NAME", ">VALUE", NULL };
        struct table t;
        struct json j;

        if (json) {
                json_init(&j, stdout);
                json_object_begin(&j);
                for (size_t i = 0; i < n; i++)
                        json_kv_uint(&j, p[i].json_key, p[i].value);
                json_object_end(&j);
                return;
        }
        table_init(&t, columns);
        for (size_t i = 0; i < n; i++) {
                char v[32];
                if (bytes_human && p[i].is_bytes)
                        format_bytes(v, sizeof(v), p[i].value);
                else
                        snprintf(v, sizeof(v), "%llu", (unsigned long long)p[i].value);
                table_row(&t, "%s|%s", p[i].name, v);
        }
        table_print(&t, stdout);
        table_done(&t);
}

/* ---- top ------------------------------------------------------------------ */

static int cmp_clients(const void *a, const void *b)
{
        const struct ctl_client *x = a, *y = b;
        return x->n_buffers != y->n_buffers ? (x->n_buffers < y->n_buffers ? 1 : -1)
                                            : (x->id > y->id) - (x->id < y->id);
}

static int command_top(struct ctl *ctl, const struct args *a)
{
        bool tty = isatty(STDOUT_FILENO);
        struct timespec delay = { (time_t)a->delay, (long)((a->delay - (double)(time_t)a->delay) * 1e9) };

        for (unsigned i = 0; a->iterations == 0 || i < a->iterations; i++) {
                struct ctl_pair stats[CTL_MAX_PAIRS];
                struct ctl_client *clients = NULL;
                size_t n_stats, n_clients;
                int r;

                r = ctl_get_stats(ctl, stats, &n_stats);
                if (r >= 0)
                        r = ctl_list_clients(ctl, &clients, &n_clients);
                if (r < 0)
                        return r;
                qsort(clients, n_clients, sizeof(*clients), cmp_clients);
                if (a->json) {
                        struct json j;
                        json_init(&j, stdout);
                        json_object_begin(&j);
                        json_key(&j, "stats");
                        json_object_begin(&j);
                        for (size_t k = 0; k < n_stats; k++)
                                json_kv_uint(&j, stats[k].json_key, stats[k].value);
                        json_object_end(&j);
                        json_key(&j, "clients");
                        json_array_of(&j, clients, n_clients, sizeof(*clients), client_fields);
                        json_object_end(&j);
                } else {
                        char bytes[16];
                        uint64_t v[4] = {};
                        static const char *const keys[] = { "clients", "buffers", "bytes", "exported" };
                        for (size_t k = 0; k < n_stats; k++)
                                for (unsigned m = 0; m < 4; m++)
                                        if (strcmp(stats[k].json_key, keys[m]) == 0)
                                                v[m] = stats[k].value;
                        format_bytes(bytes, sizeof(bytes), v[2]);
                        if (tty)
                                fputs("\033[H\033[2J", stdout); /* home, clear */
                        printf("bufshared: %llu clients, %llu buffers, %s; %llu exported since start\n\n",
                               (unsigned long long)v[0], (unsigned long long)v[1], bytes,
                               (unsigned long long)v[3]);
                        print_clients(clients, n_clients, false);
                }
                fflush(stdout);
                free(clients);
                if (a->iterations == 0 || i + 1 < a->iterations)
                        nanosleep(&delay, NULL);
        }
        return 0;
}

/* ---- main ------------------------------------------------------------------ */

static int run(struct ctl *ctl, const struct args *a)
{
        const char *cmd = a->command;
        int r;

        if (strcmp(cmd, "list") == 0) {
                struct ctl_buffer *b = NULL;
                size_t n = 0;
                r = ctl_list_buffers(ctl, &b, &n);
                if (r >= 0)
                        print_buffers(b, n, a->json);
                free(b);
        } else if (strcmp(cmd, "info") == 0) {
                struct ctl_buffer b;
                r = ctl_describe_buffer(ctl, a->id, &b);
                if (r >= 0)
                        print_info(&b, a->json);
                if (r >= 0)
                        ctl_buffer_done(&b);
        } else if (strcmp(cmd, "clients") == 0) {
                struct ctl_client *c = NULL;
                size_t n = 0;
                r = ctl_list_clients(ctl, &c, &n);
                if (r >= 0)
                        print_clients(c, n, a->json);
                free(c);
        } else if (strcmp(cmd, "stats") == 0) {
                struct ctl_pair p[CTL_MAX_PAIRS];
                size_t n;
                r = ctl_get_stats(ctl, p, &n);
                if (r >= 0)
                        print_pairs(p, n, a->json, false);
        } else if (strcmp(cmd, "limits") == 0) {
                struct ctl_pair p[CTL_MAX_PAIRS];
                size_t n;
                r = ctl_get_limits(ctl, p, &n);
                if (r >= 0)
                        print_pairs(p, n, a->json, true);
        } else if (strcmp(cmd, "top") == 0) {
                r = command_top(ctl, a);
        } else if (strcmp(cmd, "monitor") == 0) {
                r = ctl_monitor(ctl, a->json, a->iterations);
        } else {
                fprintf(stderr, "bufsharectl: unknown command \"%s\" (bufsharectl --help)\n", cmd);
                return -EINVAL;
        }
        return r;
}

int main(int argc, char **argv)
{
        struct ctl ctl;
        struct args a;
        int r;

        if (parse_args(argc, argv, &a) < 0)
                return EXIT_FAILURE;
        r = ctl_open(&ctl, a.socket, a.user_bus, a.command);
        if (r >= 0)
                r = run(&ctl, &a);
        ctl_close(&ctl);
        if (fflush(stdout) != 0 && r >= 0) {
                fprintf(stderr, "bufsharectl: writing the output failed: %s\n", strerror(errno));
                r = -EIO;
        }
        if (r == -ENOENT)
                return EXIT_NO_SUCH;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
