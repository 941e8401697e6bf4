/*
 * log.h - logging with a pluggable sink.
 *
 * The policy library never writes to syslog itself: it calls pm_log(), and
 * the program that links it chooses where lines go (syslog in the daemon,
 * stderr in tools, a buffer in tests). Levels use syslog's numbering.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_LOG_H
#define PM_LOG_H

#include <stdarg.h>

#define PM_LOG_ERR 3
#define PM_LOG_WARNING 4
#define PM_LOG_NOTICE 5
#define PM_LOG_INFO 6
#define PM_LOG_DEBUG 7

#define PM_LOG_LINE_MAX 2048 /* pm_log() cuts lines at PM_LOG_LINE_MAX - 1 bytes */

typedef void (*pm_log_sink)(void *ctx, int level, const char *line);

/* Install the sink that receives every formatted line (NULL: stderr). */
void pm_log_set_sink(pm_log_sink sink, void *ctx);

/* Drop lines less important than level (default PM_LOG_INFO). */
void pm_log_set_level(int level);

/* Format one line and hand it to the sink. */
void pm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand a line that needs no formatting to the sink (not cut). */
void pm_log_line(int level, const char *line);

/* Same as pm_log() with a va_list. */
void pm_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
