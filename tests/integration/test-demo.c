/* SPDX-License-Identifier: MIT */
/* The demo, as the README's main job runs it, against a real daemon. */
#include "harness.h"

#include <string.h>
#include <sys/wait.h>

static void demo_shows_both_directions(void **state)
{
        struct fx_daemon *fx = *state;
        const char *demo = getenv("BUFSHARE_DEMO");
        char cmd[512], line[512];
        int summary = 0, intact = 0, answers = 0, readonly = 0, attached = 0, status;
        FILE *p;

        assert_non_null(demo);
        snprintf(cmd, sizeof(cmd), "'%s' --socket '%s'", demo, fx->daemon.socket);
        p = popen(cmd, "re");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p)) {
                fputs(line, stdout);
                intact += strstr(line, "pattern intact") != NULL;
                answers += strstr(line, "reads back \"consumer") != NULL;
                summary += strstr(line, "every consumer saw the producer's bytes") != NULL;
                readonly += strstr(line, "read-only 1, writable map Permission denied, "
                                         "write CPU access Permission denied") != NULL;
                attached += strstr(line, "attached \"display\"") != NULL &&
                            strstr(line, "16 segments") != NULL && strstr(line, "mapped") != NULL;
        }
        status = pclose(p);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(intact, 2 * 3); /* two consumers, three buffers, inside CPU access */
        assert_int_equal(answers, 3 * 2); /* the producer reads both answers back */
        assert_int_equal(summary, 1);
        assert_int_equal(readonly, 2); /* each consumer's read-only view refuses writes */
        assert_int_equal(attached, 2); /* each consumer attaches and maps a display */
}

/* The second mode: every frame of a 1080p pipeline through a pool of
 * three intact at both consumers, the slow one included. */
static void demo_pool_mode_checks_every_frame(void **state)
{
        struct fx_daemon *fx = *state;
        const char *demo = getenv("BUFSHARE_DEMO");
        char cmd[512], line[512];
        int summary = 0, intact = 0, status;
        FILE *p;

        assert_non_null(demo);
        snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' --pool --frames 30", demo, fx->daemon.socket);
        p = popen(cmd, "re");
        assert_non_null(p);
        while (fgets(line, sizeof(line), p)) {
                fputs(line, stdout);
                intact += strstr(line, "checked every pixel of 30 frames: 30 intact, 0 damaged") != NULL;
                summary += strstr(line, "every frame intact") != NULL;
        }
        status = pclose(p);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(intact, 2); /* both consumers, the slow one too */
        assert_int_equal(summary, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(demo_shows_both_directions, fx_daemon_setup,
                                                fx_daemon_teardown),
                cmocka_unit_test_setup_teardown(demo_pool_mode_checks_every_frame, fx_daemon_setup,
                                                fx_daemon_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
