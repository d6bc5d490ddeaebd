/* SPDX-License-Identifier: MIT */
/*
 * org.bufshare1 on a private dbus-daemon with the system bus's default
 * policy and the project's own policy file: introspection, every method
 * and property, every signal and its bound, SetLimit() refused to a
 * child of another uid, and a client flooding the bus while socket
 * clients go on being served.
 */
#include "harness.h"

#include <bufshare/bufshare.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

#include "util.h"

#define NAME "org.bufshare1"
#define PATH "/org/bufshare1"
#define IFACE "org.bufshare1.Manager"

/* The private bus, for the whole run. */
static struct {
        pid_t pid;
        char dir[64];
        char address[256];
} bus;

static int bus_start(void **state)
{
        const char *config = getenv("TEST_DBUS_CONFIG");
        char addr[160], cfg[320], buf[256];
        int pipefd[2];
        ssize_t n = 0, k;

        (void)state;
        snprintf(bus.dir, sizeof(bus.dir), "/tmp/bufshare-bus-XXXXXX");
        if (!config || !mkdtemp(bus.dir) || chmod(bus.dir, 0755) < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
                return -1;
        snprintf(addr, sizeof(addr), "--address=unix:path=%s/bus", bus.dir);
        snprintf(cfg, sizeof(cfg), "--config-file=%s", config);
        bus.pid = fork();
        if (bus.pid == 0) {
                char fdarg[32];
                int fd = fcntl(pipefd[1], F_DUPFD, 3); /* without CLOEXEC: for dbus-daemon */
                snprintf(fdarg, sizeof(fdarg), "--print-address=%d", fd);
                execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", cfg, addr, fdarg, (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        /* it prints its address once it listens */
        while (!memchr(buf, '\n', (size_t)n) && n < (ssize_t)sizeof(buf) - 1) {
                if (test_wait_readable(pipefd[0], 10000) < 0 ||
                    (k = read(pipefd[0], buf + n, sizeof(buf) - 1 - (size_t)n)) <= 0) {
                        close(pipefd[0]);
                        return -1;
                }
                n += k;
        }
        close(pipefd[0]);
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        snprintf(bus.address, sizeof(bus.address), "%s", buf);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address, 1);
        return 0;
}

static int bus_stop(void **state)
{
        char path[128];

        (void)state;
        if (bus.pid > 0) {
                kill(bus.pid, SIGTERM);
                waitpid(bus.pid, NULL, 0);
        }
        snprintf(path, sizeof(path), "%s/bus", bus.dir);
        unlink(path);
        rmdir(bus.dir);
        return 0;
}

struct fx {
        int fds_before;
        struct test_daemon daemon;
        sd_bus *bus;
};

static int fx_setup(void **state)
{
        static const char *const args[] = { "--max-buffer-size", "64M", NULL };
        struct fx *fx = calloc(1, sizeof(*fx));

        if (!fx)
                return -1;
        alarm(TEST_TIMEOUT_S);
        fx->fds_before = test_count_open_fds();
        fx->daemon.bus = "system";
        fx->daemon.capture_log = true;
        /* READY=1 comes once the name is the daemon's */
        if (test_daemon_start(&fx->daemon, args) < 0 || sd_bus_open_system(&fx->bus) < 0) {
                free(fx);
                return -1;
        }
        *state = fx;
        return 0;
}

static int fx_teardown(void **state)
{
        struct fx *fx = *state;
        int r, now, before = fx->fds_before;

        fx->bus = sd_bus_flush_close_unref(fx->bus);
        r = test_daemon_stop(&fx->daemon);
        free(fx);
        now = test_count_open_fds();
        if (r != 0)
                fprintf(stderr, "bufshared exited with status %d\n", r);
        if (now != before)
                fprintf(stderr, "fd leak: %d open before the test, %d after\n", before, now);
        alarm(0);
        return r != 0 || now != before ? -1 : 0;
}

static void introspection_is_complete(void **state)
{
        struct fx *fx = *state;
        sd_bus_message *reply = NULL;
        const char *xml;
        static const char *const want[] = {
                "<interface name=\"org.bufshare1.Manager\">",
                "<method name=\"ListBuffers\">",
                "<arg type=\"a(tssttuusuuu)\" name=\"buffers\" direction=\"out\"/>",
                "<method name=\"DescribeBuffer\">",
                "<arg type=\"t\" name=\"id\" direction=\"in\"/>",
                "<arg type=\"a(tuusuu)\" name=\"holders\" direction=\"out\"/>",
                "<arg type=\"a(suby)\" name=\"attachments\" direction=\"out\"/>",
                "<arg type=\"a(uu)\" name=\"cpu_access\" direction=\"out\"/>",
                "<method name=\"ListClients\">",
                "<arg type=\"a(tuuussuuu)\" name=\"clients\" direction=\"out\"/>",
                "<method name=\"GetStats\">",
                "<arg type=\"a{st}\" name=\"stats\" direction=\"out\"/>",
                "<method name=\"SetLimit\">",
                "<arg type=\"s\" name=\"name\" direction=\"in\"/>",
                "<arg type=\"t\" name=\"value\" direction=\"in\"/>",
                "<signal name=\"BufferCreated\">",
                "<arg type=\"s\" name=\"exporter_comm\"/>",
                "<signal name=\"BufferReleased\">",
                "<signal name=\"EventsDropped\">",
                "<arg type=\"t\" name=\"count\"/>",
                "<property name=\"Version\" type=\"s\" access=\"read\">",
                "<property name=\"Buffers\" type=\"t\" access=\"read\">",
                "<property name=\"Bytes\" type=\"t\" access=\"read\">",
                "<property name=\"Clients\" type=\"u\" access=\"read\">",
                "<property name=\"MaxBufferSize\" type=\"t\" access=\"read\">",
                "<property name=\"MaxBytesPerUid\" type=\"t\" access=\"read\">",
                "<property name=\"MaxBuffersPerClient\" type=\"u\" access=\"read\">",
                "<property name=\"MaxBuffersPerUid\" type=\"u\" access=\"read\">",
                "<property name=\"MaxClients\" type=\"u\" access=\"read\">",
                "<property name=\"MaxConnectionsPerUid\" type=\"u\" access=\"read\">",
                "<property name=\"MaxAttachmentsPerClient\" type=\"u\" access=\"read\">",
                "<property name=\"MaxFencesPerClient\" type=\"u\" access=\"read\">",
                "<property name=\"MaxFencesPerUid\" type=\"u\" access=\"read\">",
                "<property name=\"MaxWaitersPerClient\" type=\"u\" access=\"read\">",
                "<property name=\"MaxWaitersPerFence\" type=\"u\" access=\"read\">",
                "<property name=\"MaxSyncFilesPerUid\" type=\"u\" access=\"read\">",
                "<property name=\"MaxFdsInFlightPerUid\" type=\"u\" access=\"read\">",
                "<property name=\"HelloTimeout\" type=\"u\" access=\"read\">",
                "<interface name=\"org.freedesktop.DBus.Properties\">",
                "<interface name=\"org.freedesktop.DBus.Introspectable\">",
        };

        assert_int_equal(sd_bus_call_method(fx->bus, NAME, PATH, "org.freedesktop.DBus.Introspectable", "Introspect",
                                            NULL, &reply, NULL),
                         1);
        assert_int_equal(sd_bus_message_read(reply, "s", &xml), 1);
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(xml, want[i]))
                        fail_msg("introspection lacks %s", want[i]);
        sd_bus_message_unref(reply);
}

/* Two clients of this process: one exports two buffers, the other
 * imports a read-only view of the first. */
struct scene {
        struct bs_client *a, *b;
        struct bs_buffer *x, *y, *view;
};

static void scene_set_up(struct fx *fx, struct scene *s)
{
        int fd;

        assert_int_equal(bs_client_connect(fx->daemon.socket, &s->a), 0);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &s->b), 0);
        assert_int_equal(bs_buffer_export(s->a, 4096, "system", "frame-x", &s->x), 0);
        assert_int_equal(bs_buffer_export(s->a, 3 * 4096, "system", "frame-y", &s->y), 0);
        fd = bs_buffer_fd(s->x, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(bs_buffer_import(s->b, fd, &s->view), 0);
        close(fd);
}

static void scene_tear_down(struct scene *s)
{
        bs_buffer_put(s->view);
        bs_buffer_put(s->x);
        bs_buffer_put(s->y);
        bs_client_sync(s->a);
        bs_client_sync(s->b);
        bs_client_unref(s->a);
        bs_client_unref(s->b);
}

static void list_and_describe_buffers(void **state)
{
        struct fx *fx = *state;
        sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        struct scene s;
        unsigned n = 0;
        uint64_t x_id;

        scene_set_up(fx, &s);
        x_id = (uint64_t)bs_buffer_id(s.x);
        assert_int_equal(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "ListBuffers", NULL, &reply, NULL), 1);
        assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(tssttuusuuu)"), 1);
        for (;;) {
                uint64_t id, size, created;
                const char *name, *heap, *comm;
                uint32_t pid, uid, payer, refs, holders;
                int r = sd_bus_message_read(reply, "(tssttuusuuu)", &id, &name, &heap, &size, &created, &pid, &uid,
                                            &comm, &payer, &refs, &holders);
                assert_true(r >= 0);
                if (r == 0)
                        break;
                n++;
                assert_int_equal(pid, getpid());
                assert_int_equal(uid, getuid());
                assert_int_equal(payer, getuid());
                assert_string_equal(heap, "system");
                assert_true(created > 0);
                if (id == x_id) {
                        assert_string_equal(name, "frame-x");
                        assert_int_equal(size, 4096);
                        assert_int_equal(refs, 2);
                        assert_int_equal(holders, 2);
                } else {
                        assert_string_equal(name, "frame-y");
                        assert_int_equal(size, 3 * 4096);
                        assert_int_equal(refs, 1);
                        assert_int_equal(holders, 1);
                }
        }
        assert_int_equal(n, 2);
        reply = sd_bus_message_unref(reply);

        assert_int_equal(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "DescribeBuffer", NULL, &reply, "t", x_id), 1);
        {
                uint64_t id, size, created, hid;
                const char *name, *heap, *comm;
                uint32_t pid, uid, payer, refs, holders, ro, att, cpu, hpid, huid, hrefs, hro;
                assert_int_equal(sd_bus_message_read(reply, "tssttuusuuuuuu", &id, &name, &heap, &size, &created, &pid,
                                                     &uid, &comm, &payer, &refs, &holders, &ro, &att, &cpu),
                                 1);
                assert_int_equal(id, x_id);
                assert_int_equal(payer, getuid());
                assert_int_equal(refs, 2);
                assert_int_equal(holders, 2);
                assert_int_equal(ro, 1);
                assert_int_equal(att, 0);
                assert_int_equal(cpu, 0);
                assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(tuusuu)"), 1);
                /* oldest first: the exporter, then the read-only importer */
                assert_int_equal(sd_bus_message_read(reply, "(tuusuu)", &hid, &hpid, &huid, &comm, &hrefs, &hro), 1);
                assert_int_equal(hpid, getpid());
                assert_int_equal(hrefs, 1);
                assert_int_equal(hro, 0);
                assert_int_equal(sd_bus_message_read(reply, "(tuusuu)", &hid, &hpid, &huid, &comm, &hrefs, &hro), 1);
                assert_int_equal(hrefs, 1);
                assert_int_equal(hro, 1);
                assert_int_equal(sd_bus_message_read(reply, "(tuusuu)", &hid, &hpid, &huid, &comm, &hrefs, &hro), 0);
        }
        reply = sd_bus_message_unref(reply);

        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "DescribeBuffer", &e, &reply, "t",
                                       (uint64_t)999999) < 0);
        assert_true(sd_bus_error_has_name(&e, "org.bufshare1.Error.NoSuchBuffer"));
        sd_bus_error_free(&e);
        scene_tear_down(&s);
}

static void list_clients_and_stats(void **state)
{
        struct fx *fx = *state;
        sd_bus_message *reply = NULL;
        struct scene s;
        unsigned n = 0, total_buffers = 0;
        uint64_t buffers = 0, exported = 0, imported = 0, clients = 0;

        scene_set_up(fx, &s);
        assert_int_equal(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "ListClients", NULL, &reply, NULL), 1);
        assert_int_equal(sd_bus_message_enter_container(reply, 'a', "(tuuussuuu)"), 1);
        for (;;) {
                uint64_t id;
                uint32_t pid, uid, gid, version, nbuf, natt;
                const char *comm, *name;
                int r = sd_bus_message_read(reply, "(tuuussuuu)", &id, &pid, &uid, &gid, &comm, &name, &version,
                                            &nbuf, &natt);
                assert_true(r >= 0);
                if (r == 0)
                        break;
                n++;
                assert_int_equal(pid, getpid());
                assert_int_equal(uid, getuid());
                assert_int_equal(version, 2);
                assert_string_equal(comm, "test-dbus");
                total_buffers += nbuf;
        }
        assert_int_equal(n, 2);
        assert_int_equal(total_buffers, 3); /* x and y, and the view of x */
        reply = sd_bus_message_unref(reply);

        assert_int_equal(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "GetStats", NULL, &reply, NULL), 1);
        assert_int_equal(sd_bus_message_enter_container(reply, 'a', "{st}"), 1);
        for (;;) {
                const char *key;
                uint64_t v;
                int r = sd_bus_message_read(reply, "{st}", &key, &v);
                assert_true(r >= 0);
                if (r == 0)
                        break;
                if (strcmp(key, "buffers") == 0)
                        buffers = v;
                else if (strcmp(key, "exported") == 0)
                        exported = v;
                else if (strcmp(key, "imported") == 0)
                        imported = v;
                else if (strcmp(key, "clients") == 0)
                        clients = v;
        }
        assert_int_equal(buffers, 2);
        assert_int_equal(exported, 2);
        assert_int_equal(imported, 1);
        assert_int_equal(clients, 2);
        reply = sd_bus_message_unref(reply);
        scene_tear_down(&s);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
        (*(unsigned *)userdata)++;
        return 0;
}

static void properties_and_set_limit(void **state)
{
        struct fx *fx = *state;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_slot *slot = NULL;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;
        uint64_t size = 0, deadline;
        unsigned changed = 0;

        assert_int_equal(sd_bus_get_property_trivial(fx->bus, NAME, PATH, IFACE, "MaxBufferSize", NULL, 't', &size), 0);
        assert_int_equal(size, 64 << 20); /* the flag */
        assert_int_equal(sd_bus_match_signal(fx->bus, &slot, NAME, PATH, "org.freedesktop.DBus.Properties",
                                             "PropertiesChanged", on_properties_changed, &changed),
                         1);

        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "SetLimit", NULL, NULL, "st", "max-buffer-size",
                                       (uint64_t)(1 << 20)) >= 0);
        assert_int_equal(sd_bus_get_property_trivial(fx->bus, NAME, PATH, IFACE, "MaxBufferSize", NULL, 't', &size), 0);
        assert_int_equal(size, 1 << 20);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        assert_int_equal(bs_buffer_export(c, 2 << 20, "system", NULL, &b), -EFBIG);
        /* the property name does as well */
        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "SetLimit", NULL, NULL, "st", "MaxBufferSize",
                                       (uint64_t)(4 << 20)) >= 0);
        assert_int_equal(bs_buffer_export(c, 2 << 20, "system", NULL, &b), 0);
        bs_buffer_put(b);
        bs_client_unref(c);

        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "SetLimit", &e, NULL, "st", "max-nothing",
                                       (uint64_t)1) < 0);
        assert_true(sd_bus_error_has_name(&e, "org.bufshare1.Error.NoSuchLimit"));
        sd_bus_error_free(&e);
        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "SetLimit", &e, NULL, "st", "max-clients",
                                       (uint64_t)0) < 0);
        assert_true(sd_bus_error_has_name(&e, SD_BUS_ERROR_INVALID_ARGS));
        sd_bus_error_free(&e);
        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "SetLimit", &e, NULL, "st", "max-clients",
                                       (uint64_t)1 << 32) < 0);
        assert_true(sd_bus_error_has_name(&e, SD_BUS_ERROR_INVALID_ARGS));
        sd_bus_error_free(&e);

        deadline = test_now_ms() + 5000;
        while (changed < 2 && test_now_ms() < deadline) {
                if (sd_bus_process(fx->bus, NULL) == 0)
                        sd_bus_wait(fx->bus, 100000);
        }
        assert_int_equal(changed, 2);
        sd_bus_slot_unref(slot);
}

/* The uid's fence bound is read and set like every limit: four clients'
 * worth by default, and what SetLimit says is what FENCE_CREATE meets,
 * on all of the uid's connections together (-EDQUOT). */
static void fences_per_uid_is_a_property_and_a_bound(void **state)
{
        struct fx *fx = *state;
        struct bs_client *c[2] = { NULL, NULL };
        struct bs_fence *f[3] = { NULL, NULL, NULL };
        uint32_t per_client = 0, per_uid = 0;

        assert_int_equal(sd_bus_get_property_trivial(fx->bus, NAME, PATH, IFACE, "MaxFencesPerClient", NULL, 'u',
                                                     &per_client), 0);
        assert_int_equal(sd_bus_get_property_trivial(fx->bus, NAME, PATH, IFACE, "MaxFencesPerUid", NULL, 'u',
                                                     &per_uid), 0);
        assert_int_equal(per_uid, 4 * per_client);
        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "SetLimit", NULL, NULL, "st", "MaxFencesPerUid",
                                       (uint64_t)2) >= 0);
        assert_int_equal(sd_bus_get_property_trivial(fx->bus, NAME, PATH, IFACE, "MaxFencesPerUid", NULL, 'u',
                                                     &per_uid), 0);
        assert_int_equal(per_uid, 2);
        for (unsigned i = 0; i < 2; i++) {
                assert_int_equal(bs_client_connect(fx->daemon.socket, &c[i]), 0);
                assert_int_equal(bs_fence_create(c[i], &f[i]), 0);
        }
        assert_int_equal(bs_fence_create(c[1], &f[2]), -EDQUOT);
        assert_null(f[2]);
        for (unsigned i = 0; i < 2; i++) {
                bs_fence_destroy(f[i]);
                bs_client_unref(c[i]);
        }
}

/* In a child of uid 65534: SetLimit is refused, reading is not. */
static int child_not_root(void *arg)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *b = NULL;
        uint64_t size = 0;

        (void)arg;
        child_check(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
                    setresuid(65534, 65534, 65534) == 0);
        child_check(sd_bus_open_system(&b) >= 0);
        child_check(sd_bus_call_method(b, NAME, PATH, IFACE, "SetLimit", &e, NULL, "st", "max-buffer-size",
                                       (uint64_t)4096) < 0);
        if (!sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED)) {
                fprintf(stderr, "SetLimit from uid 65534: %s: %s\n", e.name, e.message);
                _exit(1);
        }
        child_check(strstr(e.message, "root only") != NULL);
        sd_bus_error_free(&e);
        child_check(sd_bus_get_property_trivial(b, NAME, PATH, IFACE, "MaxBufferSize", &e, 't', &size) >= 0);
        child_check(size == 64 << 20);
        child_check(sd_bus_call_method(b, NAME, PATH, IFACE, "GetStats", &e, NULL, NULL) >= 0);
        sd_bus_flush_close_unref(b);
        return 0;
}

static void set_limit_is_for_root_only(void **state)
{
        struct fx *fx = *state;
        uint64_t size = 0;

        test_skip_unless(geteuid() == 0, "not root: a child of another uid can't be made");
        assert_int_equal(test_wait(test_fork(child_not_root, NULL)), 0);
        assert_int_equal(sd_bus_get_property_trivial(fx->bus, NAME, PATH, IFACE, "MaxBufferSize", NULL, 't', &size), 0);
        assert_int_equal(size, 64 << 20); /* unchanged */
}

struct events {
        unsigned created, released, dropped_signals;
        uint64_t dropped, last_id;
        bool in_order;
};

static int on_event(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
        struct events *ev = userdata;
        const char *member = sd_bus_message_get_member(m);
        uint64_t id = 0, n = 0;

        if (strcmp(member, "BufferCreated") == 0) {
                const char *name, *heap, *comm;
                uint64_t size;
                uint32_t pid, uid;
                if (sd_bus_message_read(m, "tsstuus", &id, &name, &heap, &size, &pid, &uid, &comm) > 0 &&
                    pid == (uint32_t)getpid() && strcmp(heap, "system") == 0)
                        ev->created++;
        } else if (strcmp(member, "BufferReleased") == 0) {
                const char *name;
                uint64_t size;
                if (sd_bus_message_read(m, "tst", &id, &name, &size) > 0)
                        ev->released++;
        } else if (strcmp(member, "EventsDropped") == 0 && sd_bus_message_read(m, "t", &n) > 0) {
                ev->dropped += n;
                ev->dropped_signals++;
        }
        return 0;
}

static void wait_events(struct fx *fx, struct events *ev, unsigned total)
{
        uint64_t deadline = test_now_ms() + 10000;

        while (ev->created + ev->released + ev->dropped < total && test_now_ms() < deadline)
                if (sd_bus_process(fx->bus, NULL) == 0)
                        sd_bus_wait(fx->bus, 100000);
}

static void signals_tell_of_buffers(void **state)
{
        struct fx *fx = *state;
        struct events ev = {};
        sd_bus_slot *slot = NULL;
        struct bs_client *c = NULL;
        struct bs_buffer *b = NULL;

        assert_true(sd_bus_match_signal(fx->bus, &slot, NAME, PATH, IFACE, NULL, on_event, &ev) >= 0);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        assert_int_equal(bs_buffer_export(c, 4096, "system", "signalled", &b), 0);
        bs_buffer_put(b);
        assert_int_equal(bs_client_sync(c), 0);
        wait_events(fx, &ev, 2);
        assert_int_equal(ev.created, 1);
        assert_int_equal(ev.released, 1);
        assert_int_equal(ev.dropped, 0);
        bs_client_unref(c);
        sd_bus_slot_unref(slot);
}

/* 1200 events at once: about the burst (200) goes out, the rest is
 * counted in EventsDropped, and nothing is lost from the count. */
static void signals_are_bounded(void **state)
{
        enum { N = 600 };
        struct fx *fx = *state;
        struct events ev = {};
        sd_bus_slot *slot = NULL;
        struct bs_client *c = NULL;
        struct bs_buffer **b = calloc(N, sizeof(*b));
        sd_bus_message *reply = NULL;
        uint64_t dropped_stat = 0;

        assert_non_null(b);
        assert_true(sd_bus_match_signal(fx->bus, &slot, NAME, PATH, IFACE, NULL, on_event, &ev) >= 0);
        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        for (int i = 0; i < N; i++)
                assert_int_equal(bs_buffer_export(c, 4096, "system", NULL, &b[i]), 0);
        for (int i = 0; i < N; i++)
                bs_buffer_put(b[i]);
        assert_int_equal(bs_client_sync(c), 0);
        wait_events(fx, &ev, 2 * N);
        assert_int_equal(ev.created + ev.released + ev.dropped, 2 * N);
        assert_true(ev.dropped > 0);
        assert_true(ev.created + ev.released + ev.dropped_signals <= 2 * 200 + 10);
        assert_int_equal(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "GetStats", NULL, &reply, NULL), 1);
        assert_int_equal(sd_bus_message_enter_container(reply, 'a', "{st}"), 1);
        for (;;) {
                const char *key;
                uint64_t v;
                if (sd_bus_message_read(reply, "{st}", &key, &v) <= 0)
                        break;
                if (strcmp(key, "signals_dropped") == 0)
                        dropped_stat = v;
        }
        assert_int_equal(dropped_stat, ev.dropped);
        sd_bus_message_unref(reply);
        bs_client_unref(c);
        sd_bus_slot_unref(slot);
        free(b);
}

/* A caller that keeps the daemon's bus queue full for a while. */
static int pending_calls;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
        pending_calls--;
        return 0;
}

static int child_flood(void *arg)
{
        uint64_t until = test_now_ms() + *(unsigned *)arg;
        unsigned sent = 0;
        sd_bus *b = NULL;

        child_check(sd_bus_open_system(&b) >= 0);
        while (test_now_ms() < until) {
                while (pending_calls < 100) {
                        child_check(sd_bus_call_method_async(b, NULL, NAME, PATH, IFACE,
                                                             sent % 2 ? "ListClients" : "GetStats", on_reply, NULL,
                                                             NULL) >= 0);
                        pending_calls++;
                        sent++;
                }
                if (sd_bus_process(b, NULL) == 0)
                        sd_bus_wait(b, 10000);
        }
        printf("flood: %u calls\n", sent);
        child_check(sent > 1000);
        sd_bus_flush_close_unref(b);
        return 0;
}

static void a_bus_flood_leaves_socket_clients_served(void **state)
{
        struct fx *fx = *state;
        unsigned flood_ms = 2000, rounds = 0;
        struct bs_client *c = NULL;
        uint64_t start, worst = 0;
        pid_t pid;

        assert_int_equal(bs_client_connect(fx->daemon.socket, &c), 0);
        pid = test_fork(child_flood, &flood_ms);
        start = test_now_ms();
        while (test_now_ms() - start < flood_ms) {
                struct bs_buffer *b = NULL;
                uint64_t t = test_now_ms();
                assert_int_equal(bs_buffer_export(c, 4096, "system", NULL, &b), 0);
                bs_buffer_put(b);
                assert_int_equal(bs_client_sync(c), 0);
                if (test_now_ms() - t > worst)
                        worst = test_now_ms() - t;
                rounds++;
        }
        assert_int_equal(test_wait(pid), 0);
        printf("socket: %u export/release rounds during the flood, the slowest %llu ms\n", rounds,
               (unsigned long long)worst);
        assert_true(rounds > 100);
        assert_true(worst < 500);
        bs_client_unref(c);
        /* and the bus still answers */
        assert_true(sd_bus_call_method(fx->bus, NAME, PATH, IFACE, "GetStats", NULL, NULL, NULL) >= 0);
}

static void a_missing_bus_is_one_log_line(void **state)
{
        struct test_daemon d = { .bus = "system", .capture_log = true };
        char log[4096] = "";
        unsigned lines = 0;

        (void)state;
        alarm(TEST_TIMEOUT_S);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
        assert_int_equal(test_daemon_start(&d, NULL), 0); /* ready all the same */
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address, 1);
        assert_int_equal(test_daemon_stop_read_log(&d, log, sizeof(log)), 0);
        assert_non_null(strstr(log, "D-Bus: no system bus"));
        for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
                lines += strstr(line, "D-Bus") != NULL;
        assert_int_equal(lines, 1);
        assert_int_equal(test_daemon_stop(&d), 0);
}

/* --bus=session takes $DBUS_SESSION_BUS_ADDRESS: here the same private bus */
static void the_session_bus_works_too(void **state)
{
        struct test_daemon d = { .bus = "session" };
        sd_bus *b = NULL;
        uint64_t size = 0;

        (void)state;
        alarm(TEST_TIMEOUT_S);
        setenv("DBUS_SESSION_BUS_ADDRESS", bus.address, 1);
        assert_int_equal(test_daemon_start(&d, (const char *const[]){ "--max-buffer-size", "3M", NULL }), 0);
        unsetenv("DBUS_SESSION_BUS_ADDRESS");
        assert_true(sd_bus_open_system(&b) >= 0);
        assert_int_equal(sd_bus_get_property_trivial(b, NAME, PATH, IFACE, "MaxBufferSize", NULL, 't', &size), 0);
        assert_int_equal(size, 3 << 20);
        sd_bus_flush_close_unref(b);
        assert_int_equal(test_daemon_stop(&d), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
        const struct CMUnitTest tests[] = {
                T(introspection_is_complete),
                T(list_and_describe_buffers),
                T(list_clients_and_stats),
                T(properties_and_set_limit),
                T(set_limit_is_for_root_only),
                T(fences_per_uid_is_a_property_and_a_bound),
                T(signals_tell_of_buffers),
                T(signals_are_bounded),
                T(a_bus_flood_leaves_socket_clients_served),
                cmocka_unit_test_setup_teardown(a_missing_bus_is_one_log_line, fx_base_setup, fx_base_teardown),
                cmocka_unit_test_setup_teardown(the_session_bus_works_too, fx_base_setup, fx_base_teardown),
        };

        test_require(access("/usr/bin/dbus-daemon", X_OK) == 0, "no /usr/bin/dbus-daemon (Debian package dbus-daemon)");
        return cmocka_run_group_tests(tests, bus_start, bus_stop);
}
