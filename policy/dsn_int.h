/*
 * dsn_int.h - the parts of the bounce parser that dsn.c calls.
 *
 * The MIME walk (dsn_mime.c) gathers what a bounce says into one
 * struct pm_dsn: the decoded delivery-status text, the decoded human
 * text, a few top-level headers and the returned message's sender. The
 * report reader (dsn_report.c) and the plain-text reader (dsn_text.c)
 * turn that into recipients; dsn.c decides whether the message is a
 * bounce at all. Below them, declared in dsn_util.h: codes and classes
 * (dsn_class.c) and the shared text helpers (dsn_util.c). Calls only go
 * down: dsn.c calls the parts and the machinery, a part calls the
 * machinery, never dsn.c.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_DSN_INT_H
#define PM_DSN_INT_H

#include <stddef.h>

#include "dsn.h"
#include "dsn_util.h"

#define PM_DSN_REPORT_MAX 32768 /* decoded delivery-status text kept */
#define PM_DSN_TEXT_MAX 65536   /* decoded human-readable text kept */
#define PM_DSN_DEPTH 8          /* deepest MIME nesting followed */
#define PM_DSN_PARTS 64         /* most MIME parts visited in one message */
#define PM_DSN_FIELD 2048       /* longest unfolded header field kept */

/* What the MIME walk found. */
struct pm_dsn {
    char report[PM_DSN_REPORT_MAX]; /* delivery-status parts, NUL-free, NUL-terminated */
    size_t report_len;
    char text[PM_DSN_TEXT_MAX]; /* text/plain (or non-MIME) parts, NUL-free */
    size_t text_len;
    size_t cut;                 /* offset in text where the returned message starts */
    int cut_header;             /* the returned message starts with its header (no marker line) */
    char subject[256];          /* top-level Subject */
    char from[320];             /* top-level From (raw) */
    char return_path[320];      /* top-level Return-Path (raw) */
    char to[320];               /* top-level To (raw): the bounce's addressee */
    char failed[1024];          /* top-level X-Failed-Recipients */
    char orig_sender[320];      /* X-Original-Sender or similar (raw) */
    char ret_from[320];         /* returned message: From (raw) */
    char ret_return_path[320];  /* returned message: Return-Path (raw) */
    char ret_to[1024];          /* returned message: To (raw) */
    int ret_list;               /* the returned message is a list post (List-* fields) */
    int report_type_dsn;        /* multipart/report; report-type=delivery-status */
    int has_status_part;        /* a message/(global-)delivery-status part */
    int is_arf;                 /* message/feedback-report or report-type=feedback-report */
    unsigned auto_flags;        /* PM_AUTO_* flags of the top-level header fields */
    int has_from;               /* the top level has a From field */
    int has_return_path;        /* the top level has a Return-Path field */
    int returned;               /* a returned message (or its headers) part was seen */
    int cut_short;              /* the top multipart has no closing boundary line */
    unsigned parts;             /* parts visited */
    const unsigned char *inner; /* body of the first message/rfc822 part (a forwarded message) */
    size_t inner_len;
    size_t first_rcpt; /* offset in text of the first recipient line read */
    unsigned char by_code[PM_BOUNCE_MAX_RCPTS]; /* report recipient i: class from a given code */
};

/* Walk the message and fill *d. */
void pm_dsn_walk(struct pm_dsn *d, const unsigned char *msg, size_t len);

/* Read the delivery-status text into out->rcpt; returns recipients added. */
size_t pm_dsn_report(struct pm_dsn *d, struct pm_bounce *out);

/* Find where the returned message starts in d->text (sets d->cut). */
void pm_dsn_text_cut(struct pm_dsn *d);

/* Read a plain-text bounce up to d->cut; returns recipients added. */
size_t pm_dsn_text(struct pm_dsn *d, struct pm_bounce *out);

/* Does the message look like a plain-text bounce? */
int pm_dsn_text_is_bounce(const struct pm_dsn *d);

/* Offset in d->text of the first words only bounce generators write
 * (a recognised layout), or d->text_len when none. */
size_t pm_dsn_text_layout(const struct pm_dsn *d);

/* Offset in d->text of the first forwarding marker of a mail program
 * ("---------- Forwarded message ---------", "-----Original Message-----",
 * "Begin forwarded message:" ...), or d->text_len when none. */
size_t pm_dsn_text_forward(const struct pm_dsn *d);

/* Note the header fields of a returned message at p[0..len). */
void pm_dsn_returned(struct pm_dsn *d, const unsigned char *p, size_t len);

#endif
