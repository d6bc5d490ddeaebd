/* SPDX-License-Identifier: MIT */
/* Where the benchmark's processes run: pinning, and where the scheduler
 * put a server when nothing was pinned. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

const char *const pin_names[] = { "same", "two", "free" };
const enum pin pin_order[3] = { PIN_FREE, PIN_SAME, PIN_TWO };

void pin_pid(pid_t pid, int cpu)
{
        cpu_set_t set;

        CPU_ZERO(&set);
        if (cpu < 0) {
                for (int i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
                        CPU_SET(i, &set);
        } else {
                CPU_SET(cpu, &set);
        }
        sched_setaffinity(pid, sizeof(set), &set);
}

/* Unpinned, both first start from cpu 0 (the client's), so that every
 * round begins from the same placement and the scheduler's choices, not
 * the processes' histories, decide where they go. */
void pin_pair(enum pin p, pid_t client, pid_t server)
{
        int two = sysconf(_SC_NPROCESSORS_ONLN) > 1;

        if (p == PIN_FREE) {
                pin_pid(client, 0);
                pin_pid(server, 0);
                pin_pid(server, -1);
                pin_pid(client, -1);
                return;
        }
        pin_pid(client, 0);
        pin_pid(server, p == PIN_TWO && two ? 1 : 0);
}

void pin(enum pin p, pid_t server)
{
        pin_pair(p, 0, server);
}

/* Field 39 of /proc/PID/stat. */
int last_cpu(pid_t pid)
{
        char path[64], buf[1024], *p;
        int cpu = -1, field = 1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
                /* fields after the command: state is field 3 */
                for (p += 2, field = 3; *p && field < 39; p++)
                        if (*p == ' ')
                                field++;
                cpu = atoi(p);
        }
        fclose(f);
        return cpu;
}

/* Unpinned, where the scheduler runs the server decides the cost: the
 * scenarios count the rounds that ended with it on the client's cpu. */
int colocated(pid_t server)
{
        return last_cpu(server) == sched_getcpu();
}

void *shared_alloc(size_t bytes)
{
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
}

uint64_t cpu_ns_of(pid_t pid)
{
        char path[64];
        unsigned long long ns = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return ns;
}

static int time_calls(struct side *x, int count, int keep)
{
        for (int k = 0; k < count; k++) {
                uint64_t t = now_ns();
                int r = x->op(x->arg);

                if (r < 0)
                        return r;
                if (keep)
                        samples_add(&x->s, (double)(now_ns() - t) / 1000.0);
                if (x->after)
                        x->after(x->arg);
        }
        return 0;
}

int compare_rounds(enum pin p, struct side *a, struct side *b, int n)
{
        struct side *sides[2] = { a, b };
        size_t n_sides = b ? 2 : 1;
        int r;

        for (size_t i = 0; i < n_sides; i++) {
                samples_init(&sides[i]->s, (size_t)n);
                sides[i]->colocated = 0;
                sides[i]->server_cpu_ns = 0;
        }
        pin(p, a->server);
        for (size_t i = 0; i < n_sides; i++)
                if ((r = time_calls(sides[i], n / 10 + 1, 0)) < 0)
                        return r;
        for (int round = 0; round < ROUNDS; round++)
                for (size_t i = 0; i < n_sides; i++) {
                        uint64_t cpu0;

                        pin(p, sides[i]->server);
                        cpu0 = cpu_ns_of(sides[i]->server);
                        if ((r = time_calls(sides[i], n / ROUNDS, 1)) < 0)
                                return r;
                        sides[i]->server_cpu_ns += cpu_ns_of(sides[i]->server) - cpu0;
                        sides[i]->colocated += colocated(sides[i]->server);
                }
        return 0;
}

static int cmp_int(const void *a, const void *b)
{
        return *(const int *)a - *(const int *)b;
}

void close_fds_except(const int *keep, size_t n)
{
        int sorted[8];
        unsigned lo = 3;

        n = n < 8 ? n : 8;
        memcpy(sorted, keep, n * sizeof(*keep));
        qsort(sorted, n, sizeof(*sorted), cmp_int);
        for (size_t i = 0; i < n; i++) {
                if ((unsigned)sorted[i] > lo)
                        close_range(lo, (unsigned)sorted[i] - 1, 0);
                lo = (unsigned)sorted[i] + 1;
        }
        close_range(lo, ~0u, 0);
}

int wait_or_kill(pid_t pid, int timeout_ms, int group)
{
        struct pollfd p = { .fd = pidfd_open(pid, 0), .events = POLLIN };
        int status, r;

        if (p.fd >= 0) {
                do
                        r = poll(&p, 1, timeout_ms);
                while (r < 0 && errno == EINTR);
                close(p.fd);
                if (r == 0) { /* still running: no more waiting */
                        kill(group ? -pid : pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        return -ETIMEDOUT;
                }
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int wait_workers(const pid_t *pids, int n, pid_t server, int *ret_samples, int *ret_colocated)
{
        int left = n, failed = 0, samples = 0, coloc = 0;
        int done[64] = { 0 };

        while (left > 0) {
                int a, b;

                for (int w = 0; w < n && w < 64; w++) {
                        int status;

                        if (done[w] || waitpid(pids[w], &status, WNOHANG) == 0)
                                continue;
                        done[w] = 1;
                        left--;
                        failed += !WIFEXITED(status) || WEXITSTATUS(status);
                }
                /* a worker that ended has no /proc entry left to ask */
                if (left > 0 && !done[0] && (a = last_cpu(server)) >= 0 && (b = last_cpu(pids[0])) >= 0) {
                        samples++;
                        coloc += a == b;
                }
                if (left > 0)
                        poll(NULL, 0, 10);
        }
        *ret_samples = samples;
        *ret_colocated = coloc;
        return failed;
}
