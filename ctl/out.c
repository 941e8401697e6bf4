/*
 * out.c - postmeterctl's output helpers: JSON strings, bars, times, charts.
 *
 * Human output is meant for an 80-column terminal: bars are a fixed number
 * of cells, the warm-up chart at most 60 columns wide. JSON output is one
 * object per command, written with out_json_str() for every string.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "buf.h"
#include "zone.h"

#define CHART_ROWS 4
#define CHART_COLS 60

/* Write s as a JSON string (with quotes); a byte that is not part of valid
 * UTF-8 (an 8-bit address, a Latin-1 note) is written as the Latin-1
 * character it would be, so the output is always valid JSON. */
void
out_json_str(FILE *f, const char *s)
{
    struct pm_buf b;
    char *text;

    pm_buf_growing(&b);
    pm_buf_json_str(&b, s);
    if ((text = pm_buf_take(&b)) != NULL)
        fputs(text, f);
    else
        fputs("\"\"", f);
    free(text);
}

/* "s" after a count other than 1, else "". */
const char *
out_s(long long n)
{
    return n == 1 ? "" : "s";
}

/* A bar of width cells for used against limit (limit 0: blank). */
void
out_bar(FILE *f, long long used, long long limit, int width)
{
    long long fill = 0;
    int i;

    if (limit > 0) {
        fill = used >= limit ? width : used * width / limit;
        if (used > 0 && fill == 0)
            fill = 1;
    }
    for (i = 0; i < width; i++)
        fputs(limit <= 0 ? " " : i < fill ? "\u2588" : "\u2591", f);
}

/* "used/limit" or "used (no limit)" into buf. */
void
out_ratio(char *buf, size_t len, long long used, long long limit)
{
    if (limit > 0)
        snprintf(buf, len, "%lld/%lld", used, limit);
    else
        snprintf(buf, len, "%lld (no limit)", used);
}

/* "2026-11-27 14:05 UTC" for store time t. */
void
out_time(char *buf, size_t len, long long t)
{
    pm_zone_format(t, "%Y-%m-%d %H:%M", 1, buf, len);
}

/* The warm-up curve as a small chart, today's stage marked (indent spaces). */
void
out_curve_chart(FILE *f, const long long *caps, size_t n, long long stage, int indent)
{
    static const char *const eighths[9] = {" ",      "\u2581", "\u2582", "\u2583", "\u2584",
                                           "\u2585", "\u2586", "\u2587", "\u2588"};
    size_t cols = n > CHART_COLS ? CHART_COLS : n, width = n <= CHART_COLS / 2 ? 2 : 1, j, w;
    long long max = 0, level;
    int row, mark = -1, pad;
    char label[96];

    if (n == 0)
        return;
    for (j = 0; j < n; j++)
        if (caps[j] > max)
            max = caps[j];
    for (row = CHART_ROWS - 1; row >= 0; row--) {
        fprintf(f, "%*s", indent, "");
        for (j = 0; j < cols; j++) {
            level = caps[j * n / cols] * CHART_ROWS * 8 / max - row * 8;
            level = level < 0 ? 0 : level > 8 ? 8 : level;
            if (level == 0 && row == 0)
                level = 1; /* every stage shows */
            for (w = 0; w < width; w++)
                fputs(eighths[level], f);
        }
        fputc('\n', f);
    }
    for (j = 0; j < cols && stage >= 0; j++)
        if ((long long)(j * n / cols) <= stage && stage < (long long)((j + 1) * n / cols))
            mark = (int)j;
    fprintf(f, "%*s", indent, "");
    snprintf(label, sizeof(label), "(stage %lld: %lld a day) today", stage,
             mark >= 0 ? caps[stage] : 0);
    pad = mark * (int)width - (int)strlen(label) - 1;
    if (mark >= 0 && mark * (int)width < 30)
        fprintf(f, "%*s^ today (stage %lld: %lld a day)\n", mark * (int)width, "", stage,
                caps[stage]);
    else if (mark >= 0)
        fprintf(f, "%*s%s ^\n", pad > 0 ? pad : 0, "", label);
    else
        fprintf(f, "%lld to %lld a day over %zu stage%s; today past the end\n", caps[0],
                caps[n - 1], n, out_s((long long)n));
}

/* Print text word-wrapped to 80 columns, every line indented by indent. */
void
out_wrap(FILE *f, const char *text, int indent)
{
    const char *p = text, *end;
    int col = 0, len;

    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        end = strchr(p, ' ');
        len = end ? (int)(end - p) : (int)strlen(p);
        if (col > 0 && indent + col + 1 + len > 80) {
            fputc('\n', f);
            col = 0;
        }
        if (col == 0)
            fprintf(f, "%*s", indent, "");
        else
            fputc(' ', f), col++;
        fwrite(p, 1, (size_t)len, f);
        col += len;
        p += len;
    }
    if (col > 0)
        fputc('\n', f);
}
