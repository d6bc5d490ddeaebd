/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"
#include "util.h"

/* Connections accepted per wake-up. */
#define ACCEPT_BATCH 32
/* Connections over a limit kept open at once to be told -EUSERS; they
 * have a short deadline. Past this many, new ones are closed at once. */
#define REFUSING_MAX 16
#define REFUSING_DEADLINE_MS 1000

struct uid_conns {
        unsigned n;
};

static struct hm_key uid_key(uid_t uid)
{
        return (struct hm_key){ uid, 0 };
}

static unsigned uid_conns_of(struct server *s, uid_t uid)
{
        struct uid_conns *u = hashmap_get(&s->uid_conns, uid_key(uid));
        return u ? u->n : 0;
}

static int uid_conns_add(struct server *s, uid_t uid)
{
        struct uid_conns *u = hashmap_get(&s->uid_conns, uid_key(uid));

        if (!u) {
                u = calloc(1, sizeof(*u));
                if (!u || hashmap_put(&s->uid_conns, uid_key(uid), u) < 0) {
                        free(u);
                        return -ENOMEM;
                }
        }
        u->n++;
        return 0;
}

static void uid_conns_sub(struct server *s, uid_t uid)
{
        struct uid_conns *u = hashmap_get(&s->uid_conns, uid_key(uid));

        if (u && --u->n == 0)
                free(hashmap_remove(&s->uid_conns, uid_key(uid)));
}

static void server_conn_closed(void *userdata, struct conn *c)
{
        struct server *s = userdata;

        list_remove(&c->link);
        if (c->refuse < 0) {
                s->n_refusing--;
        } else {
                s->n_conns--;
                uid_conns_sub(s, c->session.holder.uid);
        }
}

/* Take the accepted @fd: a connection, a refused one, or closed. */
static void server_accept_one(struct server *s, int fd_)
{
        _cleanup_close_ int fd = fd_;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char comm[BS_COMM_LEN];
        struct conn *c;
        int refuse, r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warn("SO_PEERCRED on a new connection failed: %s", strerror(errno));
                return;
        }
        refuse = limits_check_connections(s->limits, s->n_conns, uid_conns_of(s, cred.uid));
        if (refuse < 0 && s->n_refusing >= REFUSING_MAX) {
                if (ratelimit_allow(&s->refuse_rl))
                        log_warn("connection of pid %d uid %u closed: over the connection limits "
                                 "(%u in all, %u of its uid)", (int)cred.pid, (unsigned)cred.uid,
                                 s->n_conns, uid_conns_of(s, cred.uid));
                return;
        }
        if (refuse == 0 && uid_conns_add(s, cred.uid) < 0)
                return;
        procfs_comm(cred.pid, comm, sizeof(comm));
        r = conn_new(&s->owner, TAKE_FD(fd), &cred, comm, refuse,
                     refuse < 0 ? REFUSING_DEADLINE_MS : s->limits->hello_timeout_ms, &c);
        if (r < 0) {
                log_warn("a connection of pid %d could not be set up: %s", (int)cred.pid, strerror(-r));
                if (refuse == 0)
                        uid_conns_sub(s, cred.uid);
                return;
        }
        list_insert_tail(&s->conns, &c->link);
        if (refuse < 0) {
                s->n_refusing++;
        } else {
                s->n_conns++;
                log_debug("client %llu connected: pid %d, uid %u", (unsigned long long)c->session.holder.id,
                          (int)cred.pid, (unsigned)cred.uid);
        }
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *data)
{
        struct server *s = data;
        (void)fd;
        (void)what;
        event_add(s->listen_ev, NULL);
}

static void listen_cb(evutil_socket_t lfd, short what, void *data)
{
        struct server *s = data;
        (void)what;

        for (int i = 0; i < ACCEPT_BATCH; i++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                                /* the pending client stays queued: pause
                                 * accepting rather than spin on it */
                                struct timeval tv = { 0, 100000 };
                                if (!s->fd_exhaustion_logged)
                                        log_warn("out of file descriptors accepting a client: "
                                                 "pausing accept for 100 ms");
                                s->fd_exhaustion_logged = true;
                                event_del(s->listen_ev);
                                evtimer_add(s->accept_retry_ev, &tv);
                        } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                                log_warn("accept failed: %s", strerror(errno));
                        }
                        return;
                }
                s->fd_exhaustion_logged = false;
                server_accept_one(s, fd);
        }
}

int server_init(struct server *s, struct event_base *base, struct dispatch *dispatch, int listen_fd)
{
        memset(s, 0, sizeof(*s));
        s->dispatch = dispatch;
        s->limits = dispatch->limits;
        s->listen_fd = listen_fd;
        s->owner = (struct conn_owner){
                .base = base,
                .dispatch = dispatch,
                .closed = server_conn_closed,
                .userdata = s,
        };
        list_init(&s->conns);
        hashmap_init(&s->uid_conns);
        if (fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        s->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, listen_cb, s);
        s->accept_retry_ev = evtimer_new(base, accept_retry_cb, s);
        if (!s->listen_ev || !s->accept_retry_ev || event_add(s->listen_ev, NULL) < 0)
                return -ENOMEM;
        return 0;
}

const struct conn *server_next_conn(const struct server *s, const struct conn *prev)
{
        const struct list *pos = prev ? prev->link.next : s->conns.next;

        for (; pos != &s->conns; pos = pos->next) {
                const struct conn *c = container_of(pos, struct conn, link);
                if (c->refuse == 0)
                        return c;
        }
        return NULL;
}

void server_done(struct server *s)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &s->conns)
                conn_free(container_of(pos, struct conn, link));
        if (s->listen_ev)
                event_free(s->listen_ev);
        if (s->accept_retry_ev)
                event_free(s->accept_retry_ev);
        s->listen_fd = safe_close(s->listen_fd);
        for (size_t i = 0; i < s->uid_conns.cap; i++)
                free(s->uid_conns.slots[i].value);
        hashmap_done(&s->uid_conns);
}
