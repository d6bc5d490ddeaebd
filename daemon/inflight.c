/* SPDX-License-Identifier: MIT */
#include "inflight.h"

#include <errno.h>
#include <event2/event.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "limits.h"
#include "util.h"

/* A refused send tries again after this, if no fd was received before;
 * full accounts and lingering sockets are looked at again as often. */
#define INFLIGHT_RETRY_MS 100
/* Sockets looked at per epoll_wait(). */
#define INFLIGHT_EVENTS 64

static unsigned limit_of(const struct inflight *in)
{
        return in->limits->max_fds_in_flight_per_uid;
}

static void account_unref(struct inflight_account *a)
{
        if (--a->refs > 0)
                return;
        if (a->full) {
                list_remove(&a->full_link);
                a->in->n_full--;
        }
        free(a);
}

/* Look again after INFLIGHT_RETRY_MS, unless that is planned already. */
static void inflight_retry_later(struct inflight *in)
{
        struct timeval tv = { 0, INFLIGHT_RETRY_MS * 1000 };

        if (!evtimer_pending(in->retry, NULL))
                evtimer_add(in->retry, &tv);
}

/* The set is watched while someone waits on it (a lingering socket waits
 * to be closed): not always, or a client reading its replies would wake
 * the loop once a read. */
static void inflight_watch(struct inflight *in)
{
        if (in->n_full > 0 || !list_empty(&in->starved) || !list_empty(&in->lingering))
                event_add(in->ev, NULL);
        else
                event_del(in->ev);
}

static void account_sub(struct inflight_account *a, unsigned n)
{
        struct list *pos, *tmp;

        a->n -= n;
        a->in->total -= n;
        if (!a->full || a->n >= limit_of(a->in))
                return;
        a->full = false;
        list_remove(&a->full_link);
        a->in->n_full--;
        list_for_each_safe(pos, tmp, &a->socks) {
                struct inflight_sock *s = container_of(pos, struct inflight_sock, link);
                s->resume(s->userdata);
        }
}

/* If every fd sent on @s was received, they no longer count. */
static void sock_settle(struct inflight_sock *s)
{
        int outq = 0;
        unsigned n = s->n;

        /* 1: the peer's read is freeing the last skb (inflight.h) */
        if (n == 0 || ioctl(s->fd, SIOCOUTQ, &outq) < 0 || outq > 1)
                return;
        s->n = 0;
        account_sub(s->account, n);
}

static void sock_unwatch(struct inflight_sock *s)
{
        if (s->watched)
                (void)epoll_ctl(s->account->in->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        s->watched = false;
}

/* The peer of the lingering @s received all: its socket goes. */
static void sock_linger_end(struct inflight_sock *s)
{
        struct inflight_account *a = s->account;

        list_remove(&s->link);
        sock_unwatch(s);
        closer_close(s->closer, s->fd);
        a->lingering--;
        if (a->lingered)
                a->lingered(a->userdata);
        account_unref(a);
        free(s);
}

/* Sends refused by the kernel try again. */
static void resume_starved(struct inflight *in)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &in->starved) {
                struct inflight_sock *s = container_of(pos, struct inflight_sock, starved_link);

                list_remove(&s->starved_link);
                s->starved = false;
                s->resume(s->userdata);
        }
}

/* Settle every socket whose peer read since it was last looked at. */
static void inflight_drain(struct inflight *in)
{
        struct epoll_event evs[INFLIGHT_EVENTS];
        unsigned before = in->total;
        int n;

        do {
                n = epoll_wait(in->epfd, evs, INFLIGHT_EVENTS, 0);
                for (int i = 0; i < n; i++) {
                        struct inflight_sock *s = evs[i].data.ptr;

                        sock_settle(s);
                        if (s->lingering && s->n == 0)
                                sock_linger_end(s);
                }
        } while (n == INFLIGHT_EVENTS);
        if (in->total < before)
                resume_starved(in);
        inflight_watch(in);
}

static void inflight_cb(evutil_socket_t fd, short what, void *data)
{
        (void)fd;
        (void)what;
        inflight_drain(data);
}

/* Settle every socket of a full account, and every lingering one: what
 * their wake-ups may have told too early (inflight.h). */
static void settle_waiting(struct inflight *in)
{
        struct list *pos, *tmp, *sp, *st;

        list_for_each_safe(pos, tmp, &in->full) {
                struct inflight_account *a = container_of(pos, struct inflight_account, full_link);

                list_for_each_safe(sp, st, &a->socks)
                        sock_settle(container_of(sp, struct inflight_sock, link));
        }
        list_for_each_safe(pos, tmp, &in->lingering) {
                struct inflight_sock *s = container_of(pos, struct inflight_sock, link);

                sock_settle(s);
                if (s->n == 0)
                        sock_linger_end(s);
        }
}

static void retry_cb(evutil_socket_t fd, short what, void *data)
{
        struct inflight *in = data;
        (void)fd;
        (void)what;

        settle_waiting(in);
        resume_starved(in);
        inflight_watch(in);
        if (in->n_full > 0 || !list_empty(&in->lingering))
                inflight_retry_later(in);
}

int inflight_init(struct inflight *in, struct event_base *base, const struct limits *l)
{
        memset(in, 0, sizeof(*in));
        in->limits = l;
        list_init(&in->starved);
        list_init(&in->lingering);
        list_init(&in->full);
        in->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (in->epfd < 0)
                return -errno;
        in->ev = event_new(base, in->epfd, EV_READ | EV_PERSIST, inflight_cb, in);
        in->retry = evtimer_new(base, retry_cb, in);
        if (!in->ev || !in->retry)
                return -ENOMEM;
        return 0;
}

void inflight_done(struct inflight *in)
{
        struct list *pos, *tmp;

        list_for_each_safe(pos, tmp, &in->lingering) {
                struct inflight_sock *s = container_of(pos, struct inflight_sock, link);

                s->account->lingered = NULL; /* the owner is going too */
                sock_linger_end(s);
        }
        if (in->ev)
                event_free(in->ev);
        if (in->retry)
                event_free(in->retry);
        in->ev = in->retry = NULL;
        in->epfd = safe_close(in->epfd);
}

struct inflight_account *inflight_account_new(struct inflight *in, void (*lingered)(void *userdata),
                                              void *userdata)
{
        struct inflight_account *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        a->in = in;
        a->refs = 1;
        a->lingered = lingered;
        a->userdata = userdata;
        list_init(&a->socks);
        return a;
}

void inflight_account_free(struct inflight_account *a)
{
        if (!a)
                return;
        a->lingered = NULL;
        a->userdata = NULL;
        account_unref(a);
}

bool inflight_account_full(const struct inflight_account *a)
{
        return a && a->full;
}

unsigned inflight_account_lingering(const struct inflight_account *a)
{
        return a ? a->lingering : 0;
}

struct inflight_sock *inflight_sock_new(struct inflight_account *a, int fd, void (*resume)(void *userdata),
                                        void *userdata)
{
        struct inflight_sock *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->account = a;
        s->fd = fd;
        s->resume = resume;
        s->userdata = userdata;
        list_init(&s->starved_link);
        list_insert_tail(&a->socks, &s->link);
        a->refs++;
        return s;
}

bool inflight_sock_blocked(const struct inflight_sock *s)
{
        return s && (s->account->full || s->starved);
}

void inflight_sock_sent(struct inflight_sock *s, unsigned n)
{
        struct inflight_account *a;
        struct inflight *in;

        if (!s || n == 0)
                return;
        a = s->account;
        in = a->in;
        if (!s->watched) {
                /* once a connection: the kernel wakes the set as its peer reads */
                struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.ptr = s };

                if (epoll_ctl(in->epfd, EPOLL_CTL_ADD, s->fd, &ev) == 0)
                        s->watched = true;
                else
                        log_warn("watching a connection for fds received failed: %s", strerror(errno));
        }
        s->n += n;
        a->n += n;
        in->total += n;
        in->refused_logged = false;
        if (a->full || a->n < limit_of(in))
                return;
        /* the peers may have read most of it: count again before stopping */
        inflight_drain(in);
        if (a->n < limit_of(in) || a->full)
                return;
        a->full = true;
        list_insert_tail(&in->full, &a->full_link);
        in->n_full++;
        inflight_watch(in);
        inflight_retry_later(in);
}

void inflight_sock_refused(struct inflight_sock *s, unsigned n)
{
        struct inflight *in = s->account->in;
        struct rlimit rl = { 0, 0 };

        /* once until an fd goes again, and never often */
        if (!in->refused_logged && ratelimit_allow(&in->refused_rl)) {
                in->refused_logged = true;
                (void)getrlimit(RLIMIT_NOFILE, &rl);
                log_warn("sending a reply with %u fds failed: too many fds in transit for the daemon's user "
                         "(%s; %u sent by this daemon not yet received, its fd limit %llu): the reply waits",
                         n, strerror(ETOOMANYREFS), in->total, (unsigned long long)rl.rlim_cur);
        }
        if (!s->starved) {
                s->starved = true;
                list_insert_tail(&in->starved, &s->starved_link);
        }
        inflight_retry_later(in);
        inflight_watch(in);
}

void inflight_sock_close(struct inflight_sock *s, int fd, struct closer_account *closer)
{
        struct inflight_account *a = s->account;
        struct inflight *in = a->in;

        if (s->starved) {
                list_remove(&s->starved_link);
                s->starved = false;
        }
        list_remove(&s->link);
        sock_settle(s);
        if (s->n > 0 && s->watched) {
                /* the peer may still read them: hanging up frees none of
                 * them in the kernel. Shut down, so that it sees the
                 * hang-up, and counted until it reads them or closes. */
                (void)shutdown(fd, SHUT_RDWR);
                s->lingering = true;
                s->closer = closer;
                a->lingering++;
                list_insert_tail(&in->lingering, &s->link);
                inflight_watch(in);
                inflight_retry_later(in);
                return;
        }
        if (s->n > 0) /* never watched (logged): nobody would tell */
                account_sub(a, s->n);
        sock_unwatch(s);
        closer_close(closer, fd);
        account_unref(a);
        free(s);
        inflight_watch(in);
}
