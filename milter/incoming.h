/*
 * incoming.h - the feedback path: what incoming mail tells about local
 * senders. Bounces put recipients on the suppression list and
 * count against the sender; a person's message makes its author a known
 * contact of the local recipient. Incoming mail is never refused or changed.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_INCOMING_H
#define PM_MILTER_INCOMING_H

#include <stddef.h>

#include "conf.h"
#include "identity.h"
#include "store.h"

#define PM_IN_MAX_RCPTS 16          /* local recipients remembered per message */
#define PM_IN_MAX_KEEP (256 * 1024) /* bytes of a possible bounce kept for parsing */

/* Per-message state of the feedback path. */
struct pm_incoming {
    int active;             /* this message is read for feedback */
    char from[PM_ADDR_MAX]; /* envelope sender, normalised ("" for <>) */
    char rcpts[PM_IN_MAX_RCPTS][PM_ADDR_MAX];
    size_t n_rcpts;
    int automatic; /* Auto-Submitted, Precedence bulk/list/junk, List-Id... */
    int keep;      /* a possible bounce: keep the message for the parser */
    int in_body;
    unsigned char *buf;
    size_t len;
};

/* Start reading a message from envfrom for feedback. */
void pm_in_start(struct pm_incoming *in, const char *envfrom);

/* A recipient of the message (local ones only are kept). */
void pm_in_rcpt(struct pm_incoming *in, const struct pm_conf *conf, const char *rcpt);

/* A header of the message. */
void pm_in_header(struct pm_incoming *in, const char *name, const char *value);

/* A body chunk of the message. */
void pm_in_body(struct pm_incoming *in, const unsigned char *chunk, size_t len);

/* End of message: record what it says; qid names it in the log. */
void pm_in_finish(struct pm_incoming *in, const struct pm_conf *conf, struct pm_store *store,
                  const char *qid);

/* Forget the message (abort, close, or after pm_in_finish). */
void pm_in_reset(struct pm_incoming *in);

#endif
