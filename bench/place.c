/* SPDX-License-Identifier: MIT */
/* Where the benchmark's processes run: pinning, and where the scheduler
 * put a server when nothing was pinned. */
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
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

/* Unpinned, both first start from cpu 0, so that the daemon and the
 * floor's helper begin every round from the same placement and the
 * scheduler's choices, not their histories, decide where they go. */
void pin(enum pin p, pid_t server)
{
        int two = sysconf(_SC_NPROCESSORS_ONLN) > 1;

        if (p == PIN_FREE) {
                pin_pid(0, 0);
                pin_pid(server, 0);
                pin_pid(server, -1);
                pin_pid(0, -1);
                return;
        }
        pin_pid(0, 0);
        pin_pid(server, p == PIN_TWO && two ? 1 : 0);
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

static int time_calls(struct side *x, int count, int keep)
{
        for (int k = 0; k < count; k++) {
                uint64_t t = now_ns();
                int r = x->op(x->arg);

                if (r < 0)
                        return r;
                if (keep)
                        samples_add(&x->s, (double)(now_ns() - t) / 1000.0);
        }
        return 0;
}

int compare_rounds(enum pin p, struct side *a, struct side *b, int n)
{
        int r;

        samples_init(&a->s, (size_t)n);
        samples_init(&b->s, (size_t)n);
        a->colocated = b->colocated = 0;
        pin(p, a->server);
        if ((r = time_calls(a, n / 10 + 1, 0)) < 0 || (r = time_calls(b, n / 10 + 1, 0)) < 0)
                return r;
        for (int round = 0; round < ROUNDS; round++) {
                pin(p, a->server);
                if ((r = time_calls(a, n / ROUNDS, 1)) < 0)
                        return r;
                a->colocated += colocated(a->server);
                pin(p, b->server);
                if ((r = time_calls(b, n / ROUNDS, 1)) < 0)
                        return r;
                b->colocated += colocated(b->server);
        }
        return 0;
}
