/*
 * verdict.h - the policy engine's answer and the texts people read.
 *
 * A verdict is the engine's own type: an action plus, for refusals, an SMTP
 * reply with an enhanced status code and a text that says what happened and
 * what to do (when to retry, or whom to ask). The milter maps it to libmilter
 * calls in one place.
 *
 * What leaves the company is bounded: a tag header (pm_verdict_header())
 * names content rules only; a sender's quota and reputation stay in the
 * text, which goes to the sender in a refusal, to postmeter's log and to the
 * hold note of a held message, never to a recipient.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_VERDICT_H
#define PM_VERDICT_H

#include <stddef.h>

#include "conf.h"
#include "store.h"

/* What a verdict is about (its reason text gives the detail). */
enum pm_reason {
    PM_R_OK = 0,        /* nothing to say */
    PM_R_LIMIT,         /* a counter of a scope: "msgs_hour", "domain_rcpts_day" */
    PM_R_WARMUP,        /* a warm-up cap: "warmup_day" */
    PM_R_RULE,          /* content rules: "rule:NAME,..." */
    PM_R_SUPPRESSED,    /* a recipient on the suppression list */
    PM_R_REPUTATION,    /* a bounce-rate brake or warning */
    PM_R_RCPTS_PER_MSG, /* one recipient too many for one message */
    PM_R_STORE_ERROR,   /* the store could not answer */
    PM_R_INCIDENT,      /* the sender is in incident: "incident:burst" */
};

struct pm_verdict {
    enum pm_reason kind;   /* what it is about */
    enum pm_action action; /* what to do */
    int dry_run;           /* only log action; the message is accepted */
    int learning;          /* dry_run because the installation learns (learning.days) */
    char rcode[4];         /* "451" for tempfail/reject */
    char xcode[8];         /* "4.7.1" */
    char text[400];        /* reply text; for tag/hold the note logged (and a hold's reason) */
    char reason[128];      /* for logs: "msgs_hour", "domain_msgs_day", "rule:cold-attachment" */
};

/* The sender is in incident inc: act PM_ACT_HOLD (the message goes to the
 * hold queue, a note says why) or PM_ACT_TEMPFAIL (451 4.7.1, contact your
 * mail administrator). */
void pm_verdict_incident(struct pm_verdict *v, enum pm_action act, const char *who,
                         const struct pm_incident *inc);

/* An accept verdict. */
void pm_verdict_accept(struct pm_verdict *v);

/* A recipient's refusal v given for the whole message instead (mail injected
 * locally, whose recipients Postfix cannot refuse one by one): a 452, which
 * would have the client send the recipient in another message, becomes a
 * permanent 550 5.x.x; any other refusal stays as it is. */
void pm_verdict_whole_message(struct pm_verdict *v);

/*
 * Over a counter of a scope: fill a verdict with action act for sender who
 * (and domain, for the domain scope), limit, and the store time now and the
 * time retry_at when it fits again (-1: the request alone exceeds the limit).
 * A tempfail says when to try again; a reject (permanent) says to ask the
 * administrator.
 */
void pm_verdict_limit(struct pm_verdict *v, enum pm_action act, const char *who, const char *domain,
                      enum pm_scope scope, enum pm_counter c, long long limit, long long now,
                      long long retry_at);

/*
 * At RCPT TO: this recipient would take the message past recipient counter c
 * of a scope, a limit the message cannot fit however long it waits. The
 * recipient is refused alone (452 for tempfail, 4.5.3 only from 100 up; 550
 * for reject) and the client sends it later in another message.
 */
/* Say in a limit's reply that the sender's bounce rate (ppm) halved the limit:
 * "(5 messages per hour, halved: 3.4% of your recent mail bounced)". */
void pm_verdict_halved(struct pm_verdict *v, long long ppm);
/* Say in a new-recipient limit's reply that too few first contacts (first, of
 * which replied) replied, want_ppm wanted. */
void pm_verdict_reply_brake(struct pm_verdict *v, long long first, long long replied,
                            long long want_ppm);

void pm_verdict_rcpt_limit(struct pm_verdict *v, enum pm_action act, const char *who,
                           const char *domain, enum pm_scope scope, enum pm_counter c,
                           long long limit);

/*
 * Over a warm-up cap (hourly when hourly, else today's) at 0-based stage:
 * "warm-up limit reached (day 3 of warm-up: 60 messages today)".
 */
void pm_verdict_warmup(struct pm_verdict *v, enum pm_action act, const char *who,
                       const char *domain, enum pm_scope scope, int hourly, long long stage,
                       long long limit, long long now, long long retry_at);

/*
 * The verdict of the content rules that matched (rules[i] for each i with
 * matched[i]): the most severe action wins; the reason lists every matching
 * rule ("rule:a,rule:b") and the text is the most severe rule's reply, or
 * for tag/hold every matching rule's "name: reply" joined by "; ". A rule in
 * dry run is named in the reason with a "?" and does not act.
 */
void pm_verdict_rules(struct pm_verdict *v, const struct pm_rule *rules, const int *matched,
                      size_t n, int dry_run_all, const char *who);

/*
 * The same, naming the first-contact recipients when the refusing rule
 * looks at first_contact or cold_recipients: cold_rcpt is the first cold
 * recipient as given in RCPT TO (or NULL), ncold how many there are:
 * "<alice@example.com> to <bob@example.org>: <the rule's reply>", or
 * "... to <bob@example.org> and 2 other new contacts: ...".
 */
void pm_verdict_rules_to(struct pm_verdict *v, const struct pm_rule *rules, const int *matched,
                         size_t n, int dry_run_all, const char *who, const char *cold_rcpt,
                         long long ncold);

/* A recipient on the suppression list: 550 5.1.1 with the date of its hard
 * bounce (or of an administrator's entry) and of the entry's expiry; rcpt is
 * the recipient as given in RCPT TO ("<bad+tag@example.net>" or without the
 * brackets), quoted as given. */
void pm_verdict_suppressed(struct pm_verdict *v, const char *rcpt, const struct pm_suppressed *e);

/* The sender's bounce rate (ppm of sent) stops first contact (cold) or all
 * external mail; or, at a warning level, tags the message (the text is for
 * the log: the tag header says nothing of it). */
void pm_verdict_reputation(struct pm_verdict *v, enum pm_action act, const char *who, int cold,
                           long long ppm, long long sent);

/* Too many recipients in one message (checked at RCPT TO, no store needed). */
void pm_verdict_rcpts_per_msg(struct pm_verdict *v, const char *who, long long limit);

/* The store could not answer: accept or tempfail as configured. */
void pm_verdict_store_error(struct pm_verdict *v, enum pm_on_error on_error, const char *who);

/* "14:05 UTC" when t (rounded up to the minute) is on now's UTC date, else
 * "2026-11-27 14:05 UTC". */
void pm_verdict_format_retry(long long now, long long t, char *buf, size_t len);

/* A bounce rate of ppm parts per million as a percentage with one decimal,
 * rounded down ("6.4" for 64599), so that a rate never shows at a threshold
 * it has not reached. Replies, the log and postmeterctl all use it. */
void pm_verdict_format_rate(long long ppm, char *buf, size_t len);

/*
 * The value of the tag header for v into buf: "rule=NAME" for every content
 * rule that acts in v (the "rule:NAME" codes of its reason, not those in dry
 * run), joined by ", "; "" when there is none: a limit, a warm-up cap or the
 * bounce rate alone adds no header, because tagged mail goes out to its
 * recipients and they must learn nothing of the sender's quota or
 * reputation.
 */
void pm_verdict_header(const struct pm_verdict *v, char *buf, size_t len);

#endif
