/* SPDX-License-Identifier: MIT */
#include "ctl-output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utf8.h"

/* ---- JSON ---- */

void json_init(struct json *j, FILE *f)
{
        memset(j, 0, sizeof(*j));
        j->f = f;
}

/* Before a value: the comma after the previous one, unless after a key. */
static void json_value_start(struct json *j)
{
        if (j->after_key) {
                j->after_key = false;
                return;
        }
        if (j->need_comma[j->depth])
                fputc(',', j->f);
        j->need_comma[j->depth] = true;
}

static void json_open(struct json *j, char c)
{
        json_value_start(j);
        fputc(c, j->f);
        if (j->depth + 1 < JSON_MAX_DEPTH)
                j->depth++;
        j->need_comma[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
        fputc(c, j->f);
        if (j->depth > 0)
                j->depth--;
        if (j->depth == 0)
                fputc('\n', j->f);
}

void json_object_begin(struct json *j)
{
        json_open(j, '{');
}

void json_object_end(struct json *j)
{
        json_close(j, '}');
}

void json_array_begin(struct json *j)
{
        json_open(j, '[');
}

void json_array_end(struct json *j)
{
        json_close(j, ']');
}

static void json_write_string(FILE *f, const char *s)
{
        bool utf8 = bs_utf8_valid(s);

        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else if (*p < 0x20 || *p == 0x7f || (*p >= 0x80 && !utf8))
                        fprintf(f, "\\u%04x", *p);
                else
                        fputc(*p, f);
        }
        fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
        json_value_start(j);
        json_write_string(j->f, key);
        fputc(':', j->f);
        j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
        json_value_start(j);
        json_write_string(j->f, s);
}

void json_uint(struct json *j, uint64_t v)
{
        json_value_start(j);
        fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_bool(struct json *j, bool v)
{
        json_value_start(j);
        fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
        json_value_start(j);
        fputs("null", j->f);
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
        json_key(j, key);
        json_string(j, s);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
        json_key(j, key);
        json_uint(j, v);
}

/* ---- tables ---- */

void table_init(struct table *t, const char *const *columns)
{
        memset(t, 0, sizeof(*t));
        for (; *columns && t->n_cols < TABLE_MAX_COLS; columns++, t->n_cols++) {
                t->right[t->n_cols] = **columns == '>';
                t->headers[t->n_cols] = *columns + t->right[t->n_cols];
        }
}

int table_row(struct table *t, const char *fmt, ...)
{
        char line[1024], *cell, *save = NULL;
        va_list ap;
        unsigned i;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        if (t->n_rows == t->cap) {
                size_t cap = t->cap ? 2 * t->cap : 16;
                char **cells = realloc(t->cells, cap * t->n_cols * sizeof(*cells));
                if (!cells)
                        return -ENOMEM;
                t->cells = cells;
                t->cap = cap;
        }
        cell = strtok_r(line, "|", &save);
        for (i = 0; i < t->n_cols; i++) {
                char **slot = &t->cells[t->n_rows * t->n_cols + i];
                *slot = strdup(cell ? cell : "");
                if (!*slot) {
                        while (i-- > 0)
                                free(t->cells[t->n_rows * t->n_cols + i]);
                        return -ENOMEM;
                }
                cell = strtok_r(NULL, "|", &save);
        }
        t->n_rows++;
        return 0;
}

/* Display width of a UTF-8 string: one column per code point. */
static size_t text_width(const char *s)
{
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        w++;
        return w;
}

void table_print(const struct table *t, FILE *f)
{
        size_t width[TABLE_MAX_COLS];

        for (unsigned c = 0; c < t->n_cols; c++) {
                width[c] = text_width(t->headers[c]);
                for (size_t r = 0; r < t->n_rows; r++) {
                        size_t w = text_width(t->cells[r * t->n_cols + c]);
                        if (w > width[c])
                                width[c] = w;
                }
        }
        for (size_t r = 0; r <= t->n_rows; r++) {
                for (unsigned c = 0; c < t->n_cols; c++) {
                        const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->n_cols + c];
                        size_t pad = width[c] - text_width(s);
                        bool last = c + 1 == t->n_cols;

                        if (t->right[c])
                                fprintf(f, "%*s%s", (int)pad, "", s);
                        else
                                fprintf(f, "%s%*s", s, last ? 0 : (int)pad, "");
                        fputs(last ? "\n" : "  ", f);
                }
        }
}

void table_done(struct table *t)
{
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
        t->cells = NULL;
        t->n_rows = t->cap = 0;
}

/* ---- values ---- */

void text_escape(char *dst, size_t len, const char *src)
{
        bool utf8 = bs_utf8_valid(src);
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *)src; *p && n + 5 < len; p++) {
                if (*p < 0x20 || *p == 0x7f || *p == '|' || *p == '\\' || (*p >= 0x80 && !utf8))
                        n += (size_t)snprintf(dst + n, len - n, "\\x%02x", *p);
                else
                        dst[n++] = (char)*p;
        }
        dst[n] = '\0';
}

void format_bytes(char *buf, size_t len, uint64_t bytes)
{
        static const char suffix[] = "KMGTPE";
        double v = (double)bytes;
        unsigned i = 0;

        if (bytes < 1024) {
                snprintf(buf, len, "%lluB", (unsigned long long)bytes);
                return;
        }
        while (v >= 1024 && i < sizeof(suffix) - 1) {
                v /= 1024;
                i++;
        }
        snprintf(buf, len, "%.1f%c", v, suffix[i - 1]);
}

void format_time(char *buf, size_t len, uint64_t usec)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, len, "%llu", (unsigned long long)usec);
}
