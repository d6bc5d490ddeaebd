/* SPDX-License-Identifier: MIT */
/*
 * Closing the fds clients send that the daemon does not keep.
 *
 * close(2) of someone else's fd can block for as long as that someone
 * wants: a TCP socket with SO_LINGER whose peer keeps its window full
 * waits in close() until the data is gone (the linger time is the
 * sender's choice); a FUSE file's close waits for its server to answer
 * FLUSH; the last close of an AF_UNIX socket closes the fds still queued
 * in it (a client's connection, a sync file), lingering ones included.
 * The daemon's one thread must never wait for a client, so only memfds
 * (shmem and hugetlbfs files: no flush, no linger, no queue) are closed
 * on it; every other fd a client sent or could queue fds into goes to a
 * thread of its own.
 *
 * Bounded: each owner has an account of its fds on that thread's queue,
 * and sends no more while it is full (its owner is told on the event loop
 * when there is room). The connections of one uid share an account, full
 * at UID_CLOSING_MAX (server.c), that outlives them while it holds fds:
 * so a uid makes the daemon hold at most that many and one message's
 * more, however many connections it opens and closes.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "fdpass.h"
#include "list.h"

struct event_base;
struct event;

struct closer {
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct list queue; /* struct closer_item: to close, the thread's */
        struct list done;  /* struct closer_item: closed, the loop's to account */
        bool stop;
        int efd;           /* the thread tells the loop of done items */
        struct event *ev;
};

/* One owner's fds on the queue. */
struct closer_account {
        unsigned refs;    /* the owner's, and one per queued fd */
        unsigned pending; /* fds on the queue */
        unsigned full_at; /* closer_account_full() from this many on (0: 1) */
        void (*drained)(void *userdata); /* on the loop, when pending drops to 0 */
        void *userdata;   /* NULL once the owner is gone */
        struct closer *closer;
        struct bs_fd_closer fd_closer; /* for the protocol's receive */
};

/* Start the thread, its events on @base. 0 or -errno. */
int closer_init(struct closer *cl, struct event_base *base);
/* Close what is queued and stop the thread. An fd whose close does not
 * end within a second is left to the process's exit. */
void closer_done(struct closer *cl);

/* An account whose owner is told @drained(@userdata) when its last queued
 * fd is closed. NULL when out of memory. */
struct closer_account *closer_account_new(struct closer *cl, void (*drained)(void *userdata), void *userdata);
/* The owner goes; the account stays until its queued fds are closed. */
void closer_account_free(struct closer_account *a);
/* How many of @a's fds wait to be closed. */
unsigned closer_account_pending(const struct closer_account *a);
/* An account that is full at @n fds (not 1, the default): its drained()
 * is also told when the count falls below @n. */
void closer_account_set_full_at(struct closer_account *a, unsigned n);
/* Whether @a's owner should send the closer no more for now. */
bool closer_account_full(const struct closer_account *a);
/* The protocol's view of @a: what bs_msg_recv_flags() takes. */
const struct bs_fd_closer *closer_account_fd_closer(struct closer_account *a);

/* Close @fd, a client's: at once if that can't block, else on the thread,
 * charged to @a. */
void closer_close(struct closer_account *a, int fd);

/* What a request's fd must be for its handler to look at it. */
enum closer_want {
        CLOSER_WANT_MEMFD,  /* a buffer: import, adoption */
        CLOSER_WANT_SOCKET, /* a sync file: an AF_UNIX socket */
};

/*
 * Take @fd, a client's, if it is what @want says, so its handler may
 * look at it: 0. Else close it with closer_close() and say why, the errno
 * the handler would have found: for a memfd, -EBADF (O_PATH or O_WRONLY:
 * it grants no read access) or -EBADFD (no memfd); for a sync file,
 * -EINVAL (no AF_UNIX socket). Nothing that could wait on a file system
 * (fstat() of a FUSE file waits for its server) runs on it.
 */
int closer_vet(struct closer_account *a, int fd, enum closer_want want);
