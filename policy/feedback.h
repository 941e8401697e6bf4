/*
 * feedback.h - what incoming mail means for the local mailboxes it reaches.
 *
 * SYNOPSIS
 *	struct pm_feedback f;
 *	pm_feedback_start(&f, envfrom);
 *	pm_feedback_rcpt(&f, conf, rcpt);            each RCPT TO
 *	pm_feedback_header(&f, conf, name, value);   each header
 *	if (pm_feedback_wants_body(&f))
 *		pm_feedback_body(&f, chunk, len);      each body chunk
 *	pm_feedback_finish(&f, conf, store, qid);    end of message
 *	pm_feedback_reset(&f);                       abort, close
 *
 * DESCRIPTION
 *	Incoming mail is written by strangers, so what it teaches is bound to
 *	mail the company really sent:
 *
 *	A bounce is a message with the null envelope sender (Postfix's own
 *	bounces arrive so too) that the bounce parser reads as a report; a
 *	message with a sender is never one, whatever it quotes. Each failed
 *	recipient counts for the local mailbox the bounce is addressed to only
 *	when that mailbox mailed it within feedback.bounce_window_days, once per
 *	message sent to it (the store checks, in the same script that records
 *	it): a hard failure puts the address on the suppression list of the
 *	mailbox's company and counts against its reputation, a block only counts.
 *	Anything else is logged as feedback=unmatched (or duplicate) and changes
 *	nothing.
 *
 *	A message from a person (no Auto-Submitted, not a list, not bulk, not an
 *	auto-reply, not from a mailer daemon, not a report) whose In-Reply-To or
 *	References names a Message-ID the local mailbox sent is a reply: its
 *	author (the envelope sender) becomes a known contact and it counts as a
 *	reply, once per author a day and at most feedback.replies_per_day a day.
 *	Other mail from a person makes its author known, at most
 *	feedback.learned_contacts_per_day new contacts per mailbox a day. With
 *	feedback.authserv_id set, a message whose Authentication-Results from
 *	that server says spf=fail or dmarc=fail teaches nothing.
 *
 *	Nothing here refuses or changes a message. Every result is logged as one
 *	line "QID: feedback=KIND sender=MAILBOX rcpt=ADDRESS [status=X.Y.Z]".
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_FEEDBACK_H
#define PM_FEEDBACK_H

#include <stddef.h>

#include "conf.h"
#include "identity.h"
#include "store.h"

#define PM_FEEDBACK_MAX_RCPTS 16          /* local recipients remembered per message */
#define PM_FEEDBACK_MAX_KEEP (256 * 1024) /* bytes of a possible bounce kept for the parser */
#define PM_FEEDBACK_MAX_REFS 16           /* Message-IDs referred to, the latest ones */

/* Per-message state of the feedback path. */
struct pm_feedback {
    int active;             /* this message is read for feedback */
    char from[PM_ADDR_MAX]; /* envelope sender, normalised ("" for <>) */
    char rcpts[PM_FEEDBACK_MAX_RCPTS][PM_ADDR_MAX];
    size_t n_rcpts;
    unsigned autoflags; /* PM_AUTO_* flags its headers showed */
    int auth_fail;      /* a trusted Authentication-Results says spf or dmarc failed */
    char refs[PM_FEEDBACK_MAX_REFS][17]; /* keyed hashes of the Message-IDs referred to */
    size_t n_refs, next_ref;             /* kept, and where the next one goes (a ring) */
    int keep;                            /* the null sender: keep the message for the parser */
    int in_body;
    unsigned char *buf;
    size_t len;
};

/* Start reading a message from envfrom. */
void pm_feedback_start(struct pm_feedback *f, const char *envfrom);

/* A recipient of the message (local ones only are kept). */
void pm_feedback_rcpt(struct pm_feedback *f, const struct pm_conf *conf, const char *rcpt);

/* A header of the message. */
void pm_feedback_header(struct pm_feedback *f, const struct pm_conf *conf, const char *name,
                        const char *value);

/* 1 while the body is still wanted (a possible bounce, within its bound). */
int pm_feedback_wants_body(const struct pm_feedback *f);

/* A body chunk of the message. */
void pm_feedback_body(struct pm_feedback *f, const unsigned char *chunk, size_t len);

/* End of message: record what it says; qid names it in the log. */
void pm_feedback_finish(struct pm_feedback *f, const struct pm_conf *conf, struct pm_store *store,
                        const char *qid);

/* Forget the message (abort, close, or after pm_feedback_finish). */
void pm_feedback_reset(struct pm_feedback *f);

/* The keyed hash of a Message-ID header's first id ("<a@b>"), into out;
 * 0, or -1 when the value holds none. */
int pm_feedback_msgid_hash(const struct pm_conf *conf, const char *value, char out[17]);

/* Add the keyed hashes of the Message-IDs an In-Reply-To or References value
 * names to a ring of PM_FEEDBACK_MAX_REFS (the latest ones): *n kept, *next
 * where the next one goes. The same hashes as the Message-IDs sent. */
void pm_feedback_refs(const struct pm_conf *conf, const char *value,
                      char refs[PM_FEEDBACK_MAX_REFS][17], size_t *n, size_t *next);

#endif
