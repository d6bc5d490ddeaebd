/* SPDX-License-Identifier: MIT */
/* Results: one table row and one JSON record per measurement. */
#include <stdarg.h>

#include "bench.h"

/* Records after the first are preceded by a comma. */
static void json_begin(void)
{
        fprintf(B.json, "%s  {", B.n_json++ ? ",\n" : "");
}

void json_record(const char *fmt, ...)
{
        va_list ap;

        if (!B.json)
                return;
        json_begin();
        va_start(ap, fmt);
        vfprintf(B.json, fmt, ap);
        va_end(ap);
        fprintf(B.json, "}");
}

void result(const char *scenario, const char *variant, enum pin p, struct samples *s, const char *floor_name,
            struct samples *f, const char *extra_key, double extra)
{
        double p50 = samples_pct(s, 50), p99 = samples_pct(s, 99), p999 = samples_pct(s, 99.9);
        double f50 = f ? samples_pct(f, 50) : 0;

        printf("%-22s %-16s %-5s %9.1f %9.1f %9.1f  %-18s %9.1f %6.2f", scenario, variant, pin_names[p], p50,
               p99, p999, floor_name ? floor_name : "-", f50, f && f50 > 0 ? p50 / f50 : 0);
        if (extra_key)
                printf("  %s=%.3g", extra_key, extra);
        printf("\n");
        fflush(stdout);
        if (!B.json)
                return;
        json_begin();
        fprintf(B.json,
                "\"scenario\": \"%s\", \"variant\": \"%s\", \"pin\": \"%s\", \"n\": %zu, "
                "\"p50_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f",
                scenario, variant, pin_names[p], s->n, p50, p99, p999);
        if (f)
                fprintf(B.json,
                        ", \"floor\": \"%s\", \"floor_p50_us\": %.3f, \"floor_p99_us\": %.3f, "
                        "\"ratio_p50\": %.4f, \"ratio_p99_to_floor_p50\": %.4f",
                        floor_name, f50, samples_pct(f, 99), f50 > 0 ? p50 / f50 : 0, f50 > 0 ? p99 / f50 : 0);
        if (extra_key)
                fprintf(B.json, ", \"%s\": %.6g", extra_key, extra);
        fprintf(B.json, "}");
}

void header(const char *title)
{
        printf("\n== %s\n%-22s %-16s %-5s %9s %9s %9s  %-18s %9s %6s\n", title, "scenario", "variant", "pin",
               "p50 us", "p99 us", "p99.9 us", "floor", "floor p50", "ratio");
}

void report_placement(enum pin p, const char *scenario, const char *variant, const char *unit, int total,
                      const char *a_key, int a, const char *b_key, int b)
{
        if (p != PIN_FREE)
                return;
        printf("%-22s unpinned placement: the %s ended %d of %d %s on the client's cpu", "", a_key, a, total, unit);
        if (b_key)
                printf(", the %s %d of %d", b_key, b, total);
        printf("\n");
        if (!B.json)
                return;
        json_begin();
        fprintf(B.json, "\"scenario\": \"%s-placement\", \"variant\": \"%s\", \"%s\": %d, \"%s_colocated\": %d",
                scenario, variant, unit, total, a_key, a);
        if (b_key)
                fprintf(B.json, ", \"%s_colocated\": %d", b_key, b);
        fprintf(B.json, "}");
}
