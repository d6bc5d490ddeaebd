/* SPDX-License-Identifier: MIT */
/* The pair of processes every frame scenario runs its methods in. */
#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass.h"

#define PAGE 4096
#define REPLY_TIMEOUT_MS 60000 /* one run of a pair; the slowest, three 64 MiB pipe copies, take under 1 s */

struct frame_ack {
        uint64_t t1_ns;
        uint64_t sum;
        int32_t cpu;
        int32_t pad;
};

struct frame_cmd {
        int32_t frames;
};

/* The producer's answer to a command (and its first message, once ready). */
struct frame_report {
        int32_t status;
        int32_t n;
        int32_t colocated;
        int32_t server_colocated;
        double lat[FRAME_RUN_MAX];
        double cycle[FRAME_RUN_MAX];
};

void frame_fill(const struct frame_end *e, uint8_t *p, uint8_t v)
{
        if (e->touch == FRAME_ALL) {
                memset(p, v, e->size);
                return;
        }
        for (size_t i = 0; i < e->size; i += PAGE)
                ((volatile uint8_t *)p)[i] = v;
}

uint64_t frame_sum(const struct frame_end *e, const uint8_t *p)
{
        uint64_t s = 0;

        if (e->touch == FRAME_ALL) {
                const volatile uint64_t *q = (const volatile uint64_t *)p;
                for (size_t i = 0; i < e->size / 8; i++)
                        s += q[i];
        } else {
                for (size_t i = 0; i < e->size; i += PAGE)
                        s += ((const volatile uint8_t *)p)[i];
        }
        return s;
}

int frame_recv(int link, void *buf, size_t len, int *fds, unsigned n_fds)
{
        unsigned got = 0;
        int damage;
        ssize_t n;

        n = bs_fdpass_recv(link, buf, len, fds, n_fds, &got, &damage);
        if (n == 0)
                return -EPIPE;
        if (n > 0 && damage < 0)
                return damage;
        if (n > 0 && got != n_fds) {
                for (unsigned i = 0; i < got; i++)
                        close(fds[i]);
                return -EPROTO;
        }
        return (int)n;
}

/* What frame_sum() gives for a frame filled with @v. */
static uint64_t frame_expect(const struct frame_end *e, uint8_t v)
{
        if (e->touch == FRAME_ALL)
                return (uint64_t)v * 0x0101010101010101ull * (e->size / 8);
        return (uint64_t)v * ((e->size + PAGE - 1) / PAGE);
}

/* ---- the two ends, each in its own process ---- */

static int consumer_main(const struct frame_method *m, struct frame_end *e)
{
        int r = m->consumer_init ? m->consumer_init(e) : 0;

        while (r == 0) {
                const uint8_t *p;
                struct frame_ack ack = { 0 };

                r = m->take(e, &p);
                if (r < 0)
                        break;
                ack.t1_ns = now_ns();
                ack.cpu = sched_getcpu();
                ack.sum = frame_sum(e, p);
                if (m->release)
                        m->release(e, p);
                if (send(e->link, &ack, sizeof(ack), MSG_NOSIGNAL) != sizeof(ack))
                        r = -errno;
        }
        return r == -EPIPE ? 0 : 1; /* the producer hung up: the normal end */
}

static int producer_run(const struct frame_method *m, struct frame_end *e, int frames, pid_t server,
                        struct frame_report *rep)
{
        static uint8_t v;

        for (int f = 0; f < frames; f++) {
                struct frame_ack ack;
                uint64_t start, t0;
                int cpu, r;
                ssize_t n;

                v = v == 255 ? 1 : v + 1; /* never 0: a zeroed frame must not pass */
                start = now_ns();
                r = m->write(e, v);
                t0 = now_ns();
                cpu = sched_getcpu();
                if (r == 0)
                        r = m->publish(e);
                if (r < 0)
                        return r;
                do
                        n = recv(e->link, &ack, sizeof(ack), 0);
                while (n < 0 && errno == EINTR);
                if (n != sizeof(ack))
                        return n < 0 ? -errno : -EPIPE;
                if (ack.sum != frame_expect(e, v)) /* the consumer read this frame's bytes */
                        return -EBADMSG;
                rep->lat[f] = (double)(ack.t1_ns - t0) / 1000.0;
                rep->cycle[f] = (double)(now_ns() - start) / 1000.0;
                rep->colocated += ack.cpu == cpu;
                if (server)
                        rep->server_colocated += last_cpu(server) == sched_getcpu();
                rep->n++;
        }
        return 0;
}

static int producer_main(const struct frame_method *m, struct frame_end *e, int ctl, pid_t server)
{
        static struct frame_report rep;
        struct frame_cmd cmd;

        rep.status = m->producer_init ? m->producer_init(e) : 0;
        if (send(ctl, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep) || rep.status < 0)
                return 1;
        while (recv(ctl, &cmd, sizeof(cmd), 0) == sizeof(cmd)) {
                rep = (struct frame_report){ 0 };
                rep.status = cmd.frames <= FRAME_RUN_MAX ? producer_run(m, e, cmd.frames, server, &rep) : -EINVAL;
                if (send(ctl, &rep, sizeof(rep), MSG_NOSIGNAL) != sizeof(rep))
                        return 1;
        }
        return 0; /* the bench hung up: done */
}

/* ---- steering, from the bench ---- */

static pid_t fork_end(const int *keep, size_t n_keep)
{
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid == 0) {
                /* a pair must not outlive the bench, nor hold another
                 * pair's sockets open (their hang-up is the stop signal) */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close_fds_except(keep, n_keep);
        }
        return pid;
}

static int recv_report(struct frame_pair *fp, struct frame_report *rep)
{
        int r = test_wait_readable(fp->ctl, REPLY_TIMEOUT_MS);
        ssize_t n;

        if (r < 0)
                return r;
        n = recv(fp->ctl, rep, sizeof(*rep), 0);
        if (n != sizeof(*rep))
                return n < 0 ? -errno : -EPIPE;
        return rep->status;
}

int frame_pair_start(struct frame_pair *fp, const struct frame_method *m, size_t size, enum frame_touch touch,
                     pid_t server)
{
        static unsigned n_pairs;
        static struct frame_report rep;
        struct frame_end e = { .size = size, .touch = touch, .data = -1 };
        int ctl[2], link[2], r;

        *fp = (struct frame_pair){ .m = m, .server = server, .ctl = -1 };
        snprintf(fp->tag, sizeof(fp->tag), "%d-%u", (int)getpid(), n_pairs++);
        e.tag = fp->tag;
        samples_init(&fp->lat, 64);
        samples_init(&fp->cycle, 64);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
                return -errno;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link) < 0) {
                r = -errno;
                close(ctl[0]);
                close(ctl[1]);
                return r;
        }
        fp->ctl = ctl[0];
        fp->consumer = fork_end((int[]){ link[1] }, 1);
        if (fp->consumer == 0) {
                e.link = link[1];
                (m->leave ? m->leave : _exit)(consumer_main(m, &e));
        }
        fp->producer = fp->consumer < 0 ? -1 : fork_end((int[]){ ctl[1], link[0] }, 2);
        if (fp->producer == 0) {
                e.link = link[0];
                (m->leave ? m->leave : _exit)(producer_main(m, &e, ctl[1], server));
        }
        r = fp->producer < 0 ? -errno : 0;
        close(ctl[1]);
        close(link[0]);
        close(link[1]);
        if (r == 0)
                r = recv_report(fp, &rep);
        if (r < 0)
                frame_pair_stop(fp);
        return r;
}

int frame_pair_run(struct frame_pair *fp, enum pin p, int frames, int keep)
{
        static struct frame_report rep;

        pin_pair(p, fp->producer, fp->consumer);
        if (fp->server)
                pin_pair(p, fp->producer, fp->server);
        while (frames > 0) {
                struct frame_cmd cmd = { frames < FRAME_RUN_MAX ? frames : FRAME_RUN_MAX };
                int r;

                if (send(fp->ctl, &cmd, sizeof(cmd), MSG_NOSIGNAL) != sizeof(cmd))
                        return -errno;
                r = recv_report(fp, &rep);
                if (r < 0)
                        return r;
                frames -= cmd.frames;
                if (!keep)
                        continue;
                for (int i = 0; i < rep.n; i++) {
                        samples_add(&fp->lat, rep.lat[i]);
                        samples_add(&fp->cycle, rep.cycle[i]);
                }
                fp->frames += rep.n;
                fp->colocated += rep.colocated;
                fp->server_colocated += rep.server_colocated;
        }
        return 0;
}

int frame_pair_stop(struct frame_pair *fp)
{
        int r = 0;

        if (fp->ctl >= 0)
                close(fp->ctl); /* the producer hangs up, then the consumer */
        fp->ctl = -1;
        if (fp->producer > 0 && wait_or_kill(fp->producer, 5000, 0) != 0)
                r = -ECHILD;
        if (fp->consumer > 0 && wait_or_kill(fp->consumer, 5000, 0) != 0)
                r = -ECHILD;
        fp->producer = fp->consumer = 0;
        samples_free(&fp->lat);
        samples_free(&fp->cycle);
        return r;
}

int frame_pairs_compare(struct frame_pair *fps, size_t n, enum pin p, int frames, int warmup)
{
        int rounds = frames < ROUNDS ? frames : ROUNDS, per_round = frames / rounds, r;

        for (size_t i = 0; i < n; i++) {
                samples_free(&fps[i].lat);
                samples_free(&fps[i].cycle);
                samples_init(&fps[i].lat, (size_t)frames);
                samples_init(&fps[i].cycle, (size_t)frames);
                fps[i].frames = fps[i].colocated = fps[i].server_colocated = 0;
                if ((r = frame_pair_run(&fps[i], p, warmup, 0)) < 0)
                        return r;
        }
        for (int round = 0; round < rounds; round++)
                for (size_t i = 0; i < n; i++)
                        if ((r = frame_pair_run(&fps[i], p, per_round, 1)) < 0)
                                return r;
        return 0;
}

double frame_pair_gbps(const struct frame_pair *fp, size_t size)
{
        double total_us = 0;

        for (size_t i = 0; i < fp->cycle.n; i++)
                total_us += fp->cycle.v[i];
        return total_us > 0 ? (double)size * (double)fp->cycle.n / (total_us * 1000.0) : 0;
}
