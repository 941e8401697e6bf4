/*
 * incoming.c - the feedback path: bounces and replies on incoming mail.
 *
 * A message whose envelope sender is null, or whose headers say it is a
 * report or comes from a mailer daemon, is kept (up to PM_IN_MAX_KEEP bytes)
 * and parsed as a bounce at end of message: each hard-bounced recipient goes
 * on the suppression list and counts against the local sender the bounce
 * came back to; a policy block only counts. A message from a person (no
 * Auto-Submitted, not from a list, not a bounce) makes its author a known
 * contact of each local recipient and counts as a reply.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"
#include "incoming.h"
#include "log.h"
#include "metrics.h"
#include "siphash.h"

/* Start reading a message from envfrom for feedback. */
void
pm_in_start(struct pm_incoming *in, const char *envfrom)
{
    pm_in_reset(in);
    in->active = 1;
    if (pm_addr_normalise(envfrom ? envfrom : "", in->from, sizeof(in->from)) != 0)
        in->from[0] = '\0';
    in->keep = in->from[0] == '\0';
}

/* A recipient of the message (local ones only are kept). */
void
pm_in_rcpt(struct pm_incoming *in, const struct pm_conf *conf, const char *rcpt)
{
    char addr[PM_ADDR_MAX];

    if (!in->active || in->n_rcpts >= PM_IN_MAX_RCPTS)
        return;
    if (pm_addr_normalise(rcpt, addr, sizeof(addr)) != 0)
        return;
    /* with local_domains set, mail to other domains is relayed, not ours */
    if (conf->n_local_domains && pm_is_external(conf, addr))
        return;
    memcpy(in->rcpts[in->n_rcpts++], addr, sizeof(addr));
}

/* Append bytes to the kept copy, within its bound. */
static void
keep_bytes(struct pm_incoming *in, const void *data, size_t len)
{
    if (!in->keep)
        return;
    if (!in->buf && !(in->buf = malloc(PM_IN_MAX_KEEP))) {
        in->keep = 0;
        return;
    }
    if (len > PM_IN_MAX_KEEP - in->len)
        len = PM_IN_MAX_KEEP - in->len;
    memcpy(in->buf + in->len, data, len);
    in->len += len;
}

/* 1 when s contains word, ignoring case. */
static int
has_word(const char *s, const char *word)
{
    return s && strcasestr(s, word) != NULL;
}

/* A header of the message. */
void
pm_in_header(struct pm_incoming *in, const char *name, const char *value)
{
    if (!in->active)
        return;
    if (strcasecmp(name, "Auto-Submitted") == 0 && !has_word(value, "no"))
        in->automatic = 1;
    else if (strcasecmp(name, "Precedence") == 0 &&
             (has_word(value, "bulk") || has_word(value, "list") || has_word(value, "junk")))
        in->automatic = 1;
    else if (strcasecmp(name, "List-Id") == 0 || strcasecmp(name, "List-Unsubscribe") == 0 ||
             strcasecmp(name, "X-Autoreply") == 0 || strcasecmp(name, "X-Autorespond") == 0)
        in->automatic = 1;
    else if (strcasecmp(name, "Content-Type") == 0 && has_word(value, "multipart/report"))
        in->keep = 1;
    else if (strcasecmp(name, "From") == 0 &&
             (has_word(value, "mailer-daemon") || has_word(value, "postmaster")))
        in->keep = 1;
    keep_bytes(in, name, strlen(name));
    keep_bytes(in, ": ", 2);
    keep_bytes(in, value, strlen(value));
    keep_bytes(in, "\r\n", 2);
}

/* A body chunk of the message. */
void
pm_in_body(struct pm_incoming *in, const unsigned char *chunk, size_t len)
{
    if (!in->active)
        return;
    if (!in->in_body) {
        in->in_body = 1;
        keep_bytes(in, "\r\n", 2);
    }
    keep_bytes(in, chunk, len);
}

/* Record one feedback event and log it. */
static void
record(const struct pm_conf *conf, struct pm_store *store, const char *qid,
       enum pm_feedback_kind kind, const char *sender, const char *rcpt, const char *status)
{
    static const char *names[] = {"hard_bounce", "block", "reply"};
    struct pm_feedback_req req;
    char hash[17], err[256];

    snprintf(hash, sizeof(hash), "%016llx",
             (unsigned long long)pm_siphash(conf->contacts_key, rcpt, strlen(rcpt)));
    memset(&req, 0, sizeof(req));
    req.kind = kind;
    req.sender = sender;
    req.rcpt = rcpt;
    req.rcpt_hash = hash;
    req.status = status;
    req.contacts_ttl_days = conf->contacts_ttl_days;
    req.suppress_days = conf->suppress_days;
    if (pm_store_feedback(store, &req, err, sizeof(err)) != 0)
        pm_log(PM_LOG_WARNING, "%s: feedback=%s sender=%s rcpt=%s not recorded: %s", qid,
               names[kind], sender, rcpt, err);
    else {
        pm_metrics_feedback(kind);
        pm_log(PM_LOG_INFO, "%s: feedback=%s sender=%s rcpt=%s%s%s", qid, names[kind], sender, rcpt,
               status && *status ? " status=" : "", status ? status : "");
    }
}

/* A bounce: record its hard bounces and blocks against the local sender. */
static void
finish_bounce(struct pm_incoming *in, const struct pm_conf *conf, struct pm_store *store,
              const char *qid, const struct pm_bounce *b)
{
    char sender[PM_ADDR_MAX], rcpt[PM_ADDR_MAX];
    size_t i;

    /* the bounce came back to the local sender; else the sender it names */
    if (in->n_rcpts)
        snprintf(sender, sizeof(sender), "%s", in->rcpts[0]);
    else if (pm_addr_normalise(b->original_sender, sender, sizeof(sender)) != 0 || !*sender)
        return;
    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        if (pm_addr_normalise(r->rcpt, rcpt, sizeof(rcpt)) != 0 || !*rcpt)
            continue;
        if (r->cls == PM_BOUNCE_HARD)
            record(conf, store, qid, PM_FB_HARD, sender, rcpt, r->status);
        else if (r->cls == PM_BOUNCE_BLOCK)
            record(conf, store, qid, PM_FB_BLOCK, sender, rcpt, r->status);
    }
}

/* End of message: record what it says. */
void
pm_in_finish(struct pm_incoming *in, const struct pm_conf *conf, struct pm_store *store,
             const char *qid)
{
    struct pm_bounce *b;
    size_t i;

    if (!in->active)
        return;
    if (in->keep && in->len && (b = malloc(sizeof(*b))) != NULL) {
        if (pm_bounce_parse(in->buf, in->len, b) && b->n) {
            finish_bounce(in, conf, store, qid, b);
            free(b);
            pm_in_reset(in);
            return;
        }
        if (b->is_auto)
            in->automatic = 1;
        free(b);
    }
    if (!in->automatic && in->from[0] && !in->keep)
        for (i = 0; i < in->n_rcpts; i++)
            if (strcmp(in->rcpts[i], in->from) != 0)
                record(conf, store, qid, PM_FB_REPLY, in->rcpts[i], in->from, "");
    pm_in_reset(in);
}

/* Forget the message. */
void
pm_in_reset(struct pm_incoming *in)
{
    free(in->buf);
    memset(in, 0, sizeof(*in));
}
