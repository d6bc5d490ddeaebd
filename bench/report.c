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

/* A tail cell of the table: the percentile, "max X" when there are too
 * few samples to state it, or "-" when a narrower tail already shows the
 * max. */
static const char *tail_cell(char *buf, size_t len, struct samples *s, double p, double narrower)
{
        if (samples_have_pct(s, p))
                snprintf(buf, len, "%.1f", samples_pct(s, p));
        else if (narrower > 0 && !samples_have_pct(s, narrower))
                snprintf(buf, len, "-");
        else
                snprintf(buf, len, "max %.1f", samples_max(s));
        return buf;
}

/* "p99_us" (or "p999_us") only from enough samples; "max_us" always. */
static void json_tail(const char *prefix, struct samples *s)
{
        if (samples_have_pct(s, 99))
                fprintf(B.json, ", \"%sp99_us\": %.3f", prefix, samples_pct(s, 99));
        if (samples_have_pct(s, 99.9))
                fprintf(B.json, ", \"%sp999_us\": %.3f", prefix, samples_pct(s, 99.9));
        fprintf(B.json, ", \"%smax_us\": %.3f", prefix, samples_max(s));
}

void result(const char *scenario, const char *variant, enum pin p, struct samples *s, const char *floor_name,
            struct samples *f, const char *extra_key, double extra)
{
        double p50 = samples_pct(s, 50), f50 = f ? samples_pct(f, 50) : 0;
        double ratio = f && f50 > 0 ? p50 / f50 : 0;
        char c99[32], c999[32];

        printf("%-22s %-24s %-5s %6zu %9.1f %12s %12s  %-18s %9.1f %6.*f", scenario, variant, pin_names[p], s->n,
               p50, tail_cell(c99, sizeof(c99), s, 99, 0), tail_cell(c999, sizeof(c999), s, 99.9, 99),
               floor_name ? floor_name : "-", f50, ratio > 0 && ratio < 0.1 ? 4 : 2, ratio);
        if (extra_key)
                printf("  %s=%.3g", extra_key, extra);
        printf("\n");
        fflush(stdout);
        if (!B.json)
                return;
        json_begin();
        fprintf(B.json, "\"scenario\": \"%s\", \"variant\": \"%s\", \"pin\": \"%s\", \"n\": %zu, \"p50_us\": %.3f",
                scenario, variant, pin_names[p], s->n, p50);
        json_tail("", s);
        if (f) {
                fprintf(B.json, ", \"floor\": \"%s\", \"floor_n\": %zu, \"floor_p50_us\": %.3f", floor_name, f->n,
                        f50);
                json_tail("floor_", f);
                fprintf(B.json, ", \"ratio_p50\": %.4f", ratio);
                if (samples_have_pct(s, 99))
                        fprintf(B.json, ", \"ratio_p99_to_floor_p50\": %.4f", f50 > 0 ? samples_pct(s, 99) / f50 : 0);
                else
                        fprintf(B.json, ", \"ratio_max_to_floor_p50\": %.4f", f50 > 0 ? samples_max(s) / f50 : 0);
        }
        if (extra_key)
                fprintf(B.json, ", \"%s\": %.6g", extra_key, extra);
        fprintf(B.json, "}");
}

/* p99 and p99.9 are printed only from enough samples (stats.h); with
 * fewer, the column shows the max, labelled "max". */
void header(const char *title)
{
        printf("\n== %s\n%-22s %-24s %-5s %6s %9s %12s %12s  %-18s %9s %6s\n", title, "scenario", "variant", "pin",
               "n", "p50 us", "p99 us", "p99.9 us", "floor", "floor p50", "ratio");
}

void report_placement(enum pin p, const char *scenario, const char *variant, const char *unit, int total, ...)
{
        const char *key;
        va_list ap;

        if (p != PIN_FREE)
                return;
        printf("%-22s unpinned placement, on the client's cpu:", "");
        va_start(ap, total);
        for (int i = 0; (key = va_arg(ap, const char *)); i++)
                printf("%s the %s in %d of %d %s", i ? "," : "", key, va_arg(ap, int), total, unit);
        va_end(ap);
        printf("\n");
        if (!B.json)
                return;
        json_begin();
        fprintf(B.json, "\"scenario\": \"%s-placement\", \"variant\": \"%s\", \"%s\": %d", scenario, variant,
                unit, total);
        va_start(ap, total);
        while ((key = va_arg(ap, const char *)))
                fprintf(B.json, ", \"%s_colocated\": %d", key, va_arg(ap, int));
        va_end(ap);
        fprintf(B.json, "}");
}
