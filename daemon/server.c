/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dispatch.h"
#include "msgio.h"
#include "socket-path.h"
#include "util.h"

/* Messages handled per wake-up before other clients get their turn. */
#define CONN_BATCH 32

struct outmsg {
        struct list link;
        struct bs_msg msg;
};

static void conn_free(struct conn *c);
static void conn_read_cb(evutil_socket_t fd, short what, void *data);

void conn_log_bug(struct conn *c, const char *fmt, ...)
{
        char line[256];
        va_list ap;

        if (!ratelimit_allow(&c->log_rl) || !ratelimit_allow(&c->server->log_rl))
                return;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        log_warn("client %llu (pid %d, uid %u, %s): %s", (unsigned long long)c->id,
                 (int)c->holder.pid, (unsigned)c->holder.uid, c->holder.comm, line);
}

static void comm_of_pid(pid_t pid, char *buf, size_t len)
{
        char path[64];
        ssize_t n;
        int fd;

        buf[0] = '\0';
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, buf, len - 1);
        safe_close(fd);
        if (n <= 0)
                return;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
}

/* Reading stops while replies wait: a client that doesn't read its
 * replies can't make the daemon queue without bound. */
static void conn_update_events(struct conn *c)
{
        if (list_empty(&c->outq)) {
                event_del(c->wev);
                if (!c->closing)
                        event_add(c->rev, NULL);
        } else {
                event_del(c->rev);
                event_add(c->wev, NULL);
        }
}

/* Send queued replies. Returns 0, or -errno when the connection is dead. */
static int conn_flush(struct conn *c)
{
        while (!list_empty(&c->outq)) {
                struct outmsg *o = container_of(c->outq.next, struct outmsg, link);
                int r = bs_msg_send(c->fd, &o->msg);
                if (r == -EAGAIN)
                        return 0;
                list_remove(&o->link);
                bs_msg_clear(&o->msg);
                free(o);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Send @m or queue it; @m's fds move to the queue or are closed. */
static int conn_send(struct conn *c, struct bs_msg *m)
{
        struct outmsg *o;
        int r;

        if (list_empty(&c->outq)) {
                r = bs_msg_send(c->fd, m);
                if (r != -EAGAIN) {
                        bs_msg_clear(m);
                        return r;
                }
        }
        o = malloc(sizeof(*o));
        if (!o) {
                bs_msg_clear(m);
                return -ENOMEM;
        }
        o->msg = *m;
        bs_msg_init(m); /* the fds are the queue's now */
        list_insert_tail(&c->outq, &o->link);
        return 0;
}

/* After the replies drain, close: used once a protocol error is answered. */
static void conn_close_after_flush(struct conn *c)
{
        c->closing = true;
        event_del(c->rev);
        if (list_empty(&c->outq))
                conn_free(c);
        else
                conn_update_events(c);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *data)
{
        struct conn *c = data;
        (void)fd;
        (void)what;

        if (conn_flush(c) < 0 || (c->closing && list_empty(&c->outq))) {
                conn_free(c);
                return;
        }
        conn_update_events(c);
}

/* One message; returns 1 to go on reading, 0 to stop, -1 if @c is gone. */
static int conn_handle_one(struct conn *c)
{
        struct bs_msg req, rep;
        int r, fatal;

        r = bs_msg_recv(c->fd, &req);
        if (r == -EAGAIN)
                return 0;
        if (r == -EPROTO) {
                conn_log_bug(c, "malformed message (%zu bytes, opcode %u, %u fds): disconnecting",
                             req.len, req.len >= sizeof(req.hdr) ? req.hdr.opcode : 0, req.n_fds);
                if (req.len >= sizeof(req.hdr)) {
                        bs_msg_reply_error(&rep, &req.hdr, -EPROTO);
                        conn_send(c, &rep);
                }
                conn_close_after_flush(c);
                return -1;
        }
        if (r < 0) { /* the peer hung up, or the socket broke */
                if (r != -ECONNRESET)
                        log_debug("client %llu: receive failed: %s", (unsigned long long)c->id,
                                  strerror(-r));
                conn_free(c);
                return -1;
        }

        fatal = dispatch_request(c, &req, &rep);
        bs_msg_clear(&req);
        r = conn_send(c, &rep);
        /* the reply is on its way: now free what the request released */
        registry_flush(c->server->registry);
        if (r < 0 && r != -ENOMEM) {
                conn_free(c);
                return -1;
        }
        if (fatal < 0) {
                conn_close_after_flush(c);
                return -1;
        }
        return list_empty(&c->outq) ? 1 : 0;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *data)
{
        struct conn *c = data;
        (void)fd;
        (void)what;

        for (int i = 0; i < CONN_BATCH; i++) {
                int r = conn_handle_one(c);
                if (r < 0)
                        return;
                if (r == 0)
                        break;
        }
        conn_update_events(c);
}

static void conn_free(struct conn *c)
{
        struct list *pos, *tmp;

        if (!c)
                return;
        /* queued replies first: they may lend the fds of buffers that only
         * this connection's references keep alive */
        list_for_each_safe(pos, tmp, &c->outq) {
                struct outmsg *o = container_of(pos, struct outmsg, link);
                bs_msg_clear(&o->msg);
                free(o);
        }
        registry_holder_drop(c->server->registry, &c->holder);
        registry_flush(c->server->registry);
        if (c->rev)
                event_free(c->rev);
        if (c->wev)
                event_free(c->wev);
        safe_close(c->fd);
        list_remove(&c->link);
        c->server->n_conns--;
        if (c->version)
                c->server->n_clients--;
        log_debug("client %llu disconnected", (unsigned long long)c->id);
        free(c);
}

static int conn_new(struct server *s, int fd_)
{
        _cleanup_close_ int fd = fd_;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        char comm[BS_COMM_LEN];
        struct conn *c;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warn("SO_PEERCRED on a new connection failed: %s", strerror(errno));
                return -errno;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        comm_of_pid(cred.pid, comm, sizeof(comm));
        holder_init(&c->holder, cred.pid, cred.uid, cred.gid, comm);
        c->server = s;
        c->id = ++s->next_conn_id;
        list_init(&c->outq);
        list_insert_tail(&s->conns, &c->link);
        s->n_conns++;
        c->fd = TAKE_FD(fd);
        c->rev = event_new(s->base, c->fd, EV_READ | EV_PERSIST, conn_read_cb, c);
        c->wev = event_new(s->base, c->fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
        if (!c->rev || !c->wev || event_add(c->rev, NULL) < 0) {
                conn_free(c);
                return -ENOMEM;
        }
        log_debug("client %llu connected: pid %d, uid %u, %s", (unsigned long long)c->id,
                  (int)cred.pid, (unsigned)cred.uid, comm);
        return 0;
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

        for (int i = 0; i < CONN_BATCH; i++) {
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
                conn_new(s, fd);
        }
}

int server_init(struct server *s, struct event_base *base, struct registry *registry,
                const struct limits *limits, int listen_fd)
{
        memset(s, 0, sizeof(*s));
        s->base = base;
        s->registry = registry;
        s->limits = limits;
        s->listen_fd = listen_fd;
        list_init(&s->conns);
        if (fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK) < 0)
                return -errno;
        s->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, listen_cb, s);
        s->accept_retry_ev = evtimer_new(base, accept_retry_cb, s);
        if (!s->listen_ev || !s->accept_retry_ev || event_add(s->listen_ev, NULL) < 0)
                return -ENOMEM;
        return 0;
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
}

/* mkdir -p for the directory part of @path, mode 0755. */
static int mkdir_parents(const char *path)
{
        char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
        char *p;

        snprintf(buf, sizeof(buf), "%s", path);
        for (p = buf + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        return 0;
}

int server_listen_path(const char *path)
{
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa, tmp_sa;
        char tmp[sizeof(sa.sun_path)];
        int len, tmp_len, r;

        len = bs_sockaddr_un_set(&sa, path);
        if (len < 0)
                return len;
        /* bind a temporary name, listen, then rename into place: whoever
         * sees the socket file can connect at once */
        r = snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
        if (r < 0 || (size_t)r >= sizeof(tmp))
                return -ENAMETOOLONG;
        tmp_len = bs_sockaddr_un_set(&tmp_sa, tmp);
        if (tmp_len < 0)
                return tmp_len;
        r = mkdir_parents(path);
        if (r < 0)
                return r;

        /* someone listening there already? then it is not ours to take */
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, (socklen_t)len) == 0)
                return -EADDRINUSE;
        fd = safe_close(fd);

        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        unlink(tmp);
        if (bind(fd, (struct sockaddr *)&tmp_sa, (socklen_t)tmp_len) < 0)
                return -errno;
        /* the socket is open to all: what a client may touch is decided by
         * the fds it holds, not by who it is */
        if (chmod(tmp, 0666) < 0 || listen(fd, SOMAXCONN) < 0 || rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
                return r;
        }
        return TAKE_FD(fd);
}
