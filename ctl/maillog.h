/*
 * maillog.h - one line of Postfix's log, as postmeterctl learn reads it (see
 * maillog.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MAILLOG_H
#define PM_MAILLOG_H

#include <stddef.h>

#define ML_QID_MAX 31 /* the longest queue id taken (Postfix's long ids are 10 to 20) */

/* What a line says. */
enum ml_kind {
    ML_OTHER = 0, /* nothing postmeterctl learn needs */
    ML_CLIENT,    /* smtpd: QID: client=HOST[ADDR], [sasl_username=LOGIN] */
    ML_FROM,      /* qmgr: QID: from=<SENDER>, ... */
    ML_TO,        /* smtp or lmtp: QID: to=<RCPT>, ..., status=STATUS */
    ML_REMOVED,   /* qmgr: QID: removed */
    ML_LOCAL,     /* pickup: QID: uid=N from=<...>: submitted on this host */
};

/* One line's event; addr and login point into the line (not terminated). */
struct ml_event {
    enum ml_kind kind;
    char qid[ML_QID_MAX + 1];
    const char *addr; /* ML_FROM, ML_TO: inside the angle brackets; ML_CLIENT: ADDR */
    size_t addr_len;
    const char *login; /* ML_CLIENT: sasl_username, or NULL */
    size_t login_len;
    int sent; /* ML_TO: status=sent */
    /* the timestamp as written (ML_TO only): converted by ml_time() */
    int year, mon, mday, hour, min, sec; /* year 0: a syslog timestamp without one */
    int has_offset;                      /* RFC 3339: offset east of UTC in seconds */
    long offset;
};

/* How timestamps without a zone and year are read: in the zone of the
 * system's logs, with the year that puts them not after the file's time. */
struct ml_clock {
    const char *log_tz;              /* the TZ of the logs (NULL: the system's, /etc/localtime) */
    const char *tz;                  /* the TZ to go back to (the configured zone) */
    int ref_year, ref_mon, ref_mday; /* the file's modification date, in the logs' zone */
    long long hour_key;              /* cache: the last (year, month, day, hour) converted */
    long long hour_start;            /* ... and its Unix time */
};

/*
 * Parse one line (len bytes, no newline) of a Postfix log: traditional
 * syslog ("Dec  6 10:00:01 host postfix/qmgr[123]: ...", also with a
 * zero-padded day, as Postfix's own maillog_file writes) or RFC 3339
 * ("2026-12-06T10:00:01.123456+01:00 host ..."). Returns the kind (ML_OTHER
 * for a line of no interest), or -1 for a broken line: one of interest that
 * cannot be read whole (a bad timestamp or address, a queue id too long).
 */
int ml_parse(const char *line, size_t len, struct ml_event *ev);

/* Set the reference date of a file from its modification time. */
void ml_clock_file(struct ml_clock *clk, long long mtime);

/* The Unix time of an event's timestamp; -1 when it is not a valid time. */
long long ml_time(struct ml_clock *clk, const struct ml_event *ev);

#endif
