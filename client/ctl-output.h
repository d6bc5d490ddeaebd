/* SPDX-License-Identifier: MIT */
/*
 * bufsharectl's two ways of printing: human tables, with whatever a
 * client named escaped so it can't drive the terminal, and JSON with
 * stable field names (bufsharectl(1), JSON OUTPUT).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- JSON ---- */

#define JSON_MAX_DEPTH 8

struct json {
        FILE *f;
        unsigned depth;
        bool need_comma[JSON_MAX_DEPTH];
        bool after_key;
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);
/* @s as a JSON string; bytes that are not UTF-8 come out as \u00XX. */
void json_string(struct json *j, const char *s);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Shorthands for a key and its value. */
void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_uint(struct json *j, const char *key, uint64_t v);

/* ---- tables ---- */

#define TABLE_MAX_COLS 12

struct table {
        unsigned n_cols;
        const char *headers[TABLE_MAX_COLS];
        bool right[TABLE_MAX_COLS]; /* numbers: right-aligned */
        char **cells;               /* rows * n_cols, owned */
        size_t n_rows, cap;
};

/* Columns from "NAME" (left) and ">NAME" (right-aligned), NULL-ended. */
void table_init(struct table *t, const char *const *columns);
/* One row of n_cols printf-formatted cells: table_row(t, "%s|%u", ...),
 * cells separated by '|' in the result. Returns 0 or -ENOMEM. */
int table_row(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void table_print(const struct table *t, FILE *f);
void table_done(struct table *t);

/* ---- values ---- */

/* @src for a terminal: control characters, '|', '\\' and bytes that are
 * not UTF-8 as \xHH. Always NUL-terminated, truncated to fit. */
void text_escape(char *dst, size_t len, const char *src);
/* 1536 -> "1.5K", 4096 -> "4.0K", 100 -> "100B" (as systemd's format_bytes). */
void format_bytes(char *buf, size_t len, uint64_t bytes);
/* A CLOCK_REALTIME time in microseconds as "2026-11-26 02:11:05". */
void format_time(char *buf, size_t len, uint64_t usec);
