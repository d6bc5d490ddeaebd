/* SPDX-License-Identifier: MIT */
#include "closer.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct closer_item {
        struct list link;
        int fd;
        struct closer_account *account;
};

static void *closer_thread(void *data)
{
        struct closer *cl = data;

        pthread_mutex_lock(&cl->lock);
        for (;;) {
                struct closer_item *it;
                uint64_t one = 1;

                while (list_empty(&cl->queue) && !cl->stop)
                        pthread_cond_wait(&cl->cond, &cl->lock);
                if (list_empty(&cl->queue))
                        break; /* stopping, and nothing left */
                it = container_of(cl->queue.next, struct closer_item, link);
                list_remove(&it->link);
                pthread_mutex_unlock(&cl->lock);
                it->fd = safe_close(it->fd); /* may take as long as the fd's sender wants */
                pthread_mutex_lock(&cl->lock);
                list_insert_tail(&cl->done, &it->link);
                (void)!write(cl->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&cl->lock);
        return NULL;
}

static void account_unref(struct closer_account *a)
{
        if (--a->refs == 0)
                free(a);
}

/* On the loop: account for what the thread closed. */
static void closer_account_done(struct closer *cl)
{
        struct list done, *pos, *tmp;
        uint64_t n;

        (void)!read(cl->efd, &n, sizeof(n));
        list_init(&done);
        pthread_mutex_lock(&cl->lock);
        if (!list_empty(&cl->done)) {
                done = cl->done;
                done.next->prev = &done;
                done.prev->next = &done;
                list_init(&cl->done);
        }
        pthread_mutex_unlock(&cl->lock);
        list_for_each_safe(pos, tmp, &done) {
                struct closer_item *it = container_of(pos, struct closer_item, link);
                struct closer_account *a = it->account;

                list_remove(&it->link);
                free(it);
                if ((--a->pending == 0 || a->pending + 1 == a->full_at) && a->drained)
                        a->drained(a->userdata);
                account_unref(a);
        }
}

static void closer_event_cb(evutil_socket_t fd, short what, void *data)
{
        (void)fd;
        (void)what;
        closer_account_done(data);
}

int closer_init(struct closer *cl, struct event_base *base)
{
        sigset_t all, old;
        int r;

        cl->started = false;
        cl->stop = false;
        cl->ev = NULL;
        list_init(&cl->queue);
        list_init(&cl->done);
        pthread_mutex_init(&cl->lock, NULL);
        pthread_cond_init(&cl->cond, NULL);
        cl->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (cl->efd < 0)
                return -errno;
        cl->ev = event_new(base, cl->efd, EV_READ | EV_PERSIST, closer_event_cb, cl);
        if (!cl->ev || event_add(cl->ev, NULL) < 0)
                return -ENOMEM;
        /* signals are the event loop's: the thread starts with all blocked */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&cl->thread, NULL, closer_thread, cl);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        cl->started = true;
        return 0;
}

void closer_done(struct closer *cl)
{
        if (cl->started) {
                struct timespec ts;

                pthread_mutex_lock(&cl->lock);
                cl->stop = true;
                pthread_cond_signal(&cl->cond);
                pthread_mutex_unlock(&cl->lock);
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += 1;
                if (pthread_timedjoin_np(cl->thread, NULL, &ts) != 0) {
                        /* a close that waits for a client: the process's
                         * exit takes it over; the thread keeps its memory */
                        log_warn("closing a client's fd takes more than a second: left to the exit");
                        pthread_detach(cl->thread);
                        return;
                }
                cl->started = false;
        }
        if (cl->ev) {
                closer_account_done(cl);
                event_free(cl->ev);
                cl->ev = NULL;
        }
        cl->efd = safe_close(cl->efd);
        pthread_cond_destroy(&cl->cond);
        pthread_mutex_destroy(&cl->lock);
}

static void fd_closer_cb(void *userdata, int fd)
{
        closer_close(userdata, fd);
}

struct closer_account *closer_account_new(struct closer *cl, void (*drained)(void *userdata), void *userdata)
{
        struct closer_account *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        a->refs = 1;
        a->closer = cl;
        a->drained = drained;
        a->userdata = userdata;
        a->fd_closer = (struct bs_fd_closer){ fd_closer_cb, a };
        return a;
}

void closer_account_free(struct closer_account *a)
{
        if (!a)
                return;
        a->drained = NULL;
        a->userdata = NULL;
        account_unref(a);
}

unsigned closer_account_pending(const struct closer_account *a)
{
        return a ? a->pending : 0;
}

void closer_account_set_full_at(struct closer_account *a, unsigned n)
{
        a->full_at = n;
}

bool closer_account_full(const struct closer_account *a)
{
        return a && a->pending >= (a->full_at ? a->full_at : 1);
}

const struct bs_fd_closer *closer_account_fd_closer(struct closer_account *a)
{
        return a ? &a->fd_closer : NULL;
}

/* true if closing @fd can't wait for anyone: a shmem or hugetlbfs file
 * (what F_GET_SEALS knows) has no flush, no linger, no release that
 * talks to another process. */
static bool close_is_quick(int fd)
{
        return fcntl(fd, F_GET_SEALS) >= 0;
}

void closer_close(struct closer_account *a, int fd)
{
        struct closer *cl = a ? a->closer : NULL;
        struct closer_item *it;

        if (fd < 0)
                return;
        if (!cl || !cl->started || close_is_quick(fd) || !(it = malloc(sizeof(*it)))) {
                /* out of memory, the one case left to block: better than a leak */
                safe_close(fd);
                return;
        }
        it->fd = fd;
        it->account = a;
        a->refs++;
        a->pending++;
        pthread_mutex_lock(&cl->lock);
        list_insert_tail(&cl->queue, &it->link);
        pthread_cond_signal(&cl->cond);
        pthread_mutex_unlock(&cl->lock);
}

/* 0 if @fd is an AF_UNIX socket: getsockopt() asks no file system. */
static int vet_socket(int fd)
{
        int domain = 0;
        socklen_t len = sizeof(domain);

        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
                return -EINVAL;
        return 0;
}

/* 0 if @fd is a memfd open for reading: fcntl() asks no file system. */
static int vet_memfd(int fd)
{
        int fl = fcntl(fd, F_GETFL);

        if (fl < 0 || (fl & O_PATH) || (fl & O_ACCMODE) == O_WRONLY)
                return -EBADF; /* grants no read access: not a capability */
        if (!close_is_quick(fd))
                return -EBADFD; /* no memfd: fstat() alone could wait on a FUSE server */
        return 0;
}

int closer_vet(struct closer_account *a, int fd, enum closer_want want)
{
        int r;

        if (fd < 0)
                return want == CLOSER_WANT_SOCKET ? -EINVAL : -EBADF;
        r = want == CLOSER_WANT_SOCKET ? vet_socket(fd) : vet_memfd(fd);
        if (r < 0)
                closer_close(a, fd);
        return r;
}
