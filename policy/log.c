/*
 * log.c - logging with a pluggable sink.
 *
 * Lines are formatted into a bounded buffer and handed to the installed sink,
 * or written to stderr when none is installed. Thread-safe: the sink is set
 * once at start-up, before threads run.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>

#include "log.h"

static pm_log_sink log_sink;
static void *log_ctx;
static int log_level = PM_LOG_INFO;

/* Install the sink that receives every formatted line (NULL: stderr). */
void
pm_log_set_sink(pm_log_sink sink, void *ctx)
{
    log_sink = sink;
    log_ctx = ctx;
}

/* Drop lines less important than level. */
void
pm_log_set_level(int level)
{
    __atomic_store_n(&log_level, level, __ATOMIC_RELAXED); /* a reload sets it while others log */
}

/* Same as pm_log() with a va_list. */
void
pm_vlog(int level, const char *fmt, va_list ap)
{
    char line[PM_LOG_LINE_MAX];

    if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    if (log_sink)
        log_sink(log_ctx, level, line);
    else
        fprintf(stderr, "postmeter: %s\n", line);
}

/* Hand a line that needs no formatting to the sink (as pm_log(level, "%s", line)
 * for a line shorter than pm_log's buffer). */
void
pm_log_line(int level, const char *line)
{
    if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
        return;
    if (log_sink)
        log_sink(log_ctx, level, line);
    else
        fprintf(stderr, "postmeter: %s\n", line);
}

/* Format one line and hand it to the sink. */
void
pm_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    pm_vlog(level, fmt, ap);
    va_end(ap);
}
