/*
 * feedback.c - what incoming mail means for the local mailboxes it reaches:
 * bounces of mail they sent, replies to it, and the people who write to them
 * (see feedback.h). The store decides, in one script per mailbox, whether a
 * failure matches mail really sent and whether a message names a Message-ID
 * really sent; this module reads the message and says what to ask.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "automail.h"
#include "dsn.h"
#include "feedback.h"
#include "log.h"
#include "metrics.h"
#include "siphash.h"

/* Start reading a message from envfrom. */
void
pm_feedback_start(struct pm_feedback *f, const char *envfrom)
{
    pm_feedback_reset(f);
    f->active = 1;
    if (pm_addr_normalise(envfrom ? envfrom : "", f->from, sizeof(f->from)) != 0)
        f->from[0] = '\0';
    /* only the null sender can bring a bounce: keep such a message for the parser */
    f->keep = f->from[0] == '\0';
}

/* A recipient of the message (local ones only are kept). */
void
pm_feedback_rcpt(struct pm_feedback *f, const struct pm_conf *conf, const char *rcpt)
{
    char addr[PM_ADDR_MAX];
    size_t i;

    if (!f->active || f->n_rcpts >= PM_FEEDBACK_MAX_RCPTS)
        return;
    if (pm_addr_normalise(rcpt, addr, sizeof(addr)) != 0 || !strchr(addr, '@'))
        return;
    /* with local_domains set, mail to other domains is relayed, not ours */
    if (conf->n_local_domains && pm_is_external(conf, addr))
        return;
    for (i = 0; i < f->n_rcpts; i++)
        if (strcmp(f->rcpts[i], addr) == 0)
            return;
    memcpy(f->rcpts[f->n_rcpts++], addr, sizeof(addr));
}

/* Append bytes to the kept copy, within its bound. */
static void
keep_bytes(struct pm_feedback *f, const void *data, size_t len)
{
    if (!f->keep)
        return;
    if (!f->buf && !(f->buf = malloc(PM_FEEDBACK_MAX_KEEP))) {
        f->keep = 0;
        return;
    }
    if (len > PM_FEEDBACK_MAX_KEEP - f->len)
        len = PM_FEEDBACK_MAX_KEEP - f->len;
    memcpy(f->buf + f->len, data, len);
    f->len += len;
}

/* The next id "<...>" of a header value from *p: its text (without the
 * brackets and any folding white space) in out; 0, or -1 when none is left. */
static int
next_msgid(const char **p, char *out, size_t outlen)
{
    const char *s, *e;
    size_t n = 0;

    while (n == 0) { /* an empty "<>" is skipped (a loop: a header of them is long) */
        if (!(s = strchr(*p, '<')) || !(e = strchr(s + 1, '>')))
            return -1;
        for (s++; s < e && n + 1 < outlen; s++)
            if (!isspace((unsigned char)*s))
                out[n++] = *s;
        out[n] = '\0';
        *p = e + 1;
    }
    return 0;
}

/* The keyed hash of a Message-ID header's first id. */
int
pm_feedback_msgid_hash(const struct pm_conf *conf, const char *value, char out[17])
{
    char id[1000];

    if (!value || next_msgid(&value, id, sizeof(id)) < 0)
        return -1;
    pm_siphash_hex(conf->contacts_key, id, strlen(id), out);
    return 0;
}

/* Add the keyed hashes of an In-Reply-To or References value's ids to a ring. */
void
pm_feedback_refs(const struct pm_conf *conf, const char *value, char refs[PM_FEEDBACK_MAX_REFS][17],
                 size_t *n, size_t *next)
{
    char id[1000];

    while (next_msgid(&value, id, sizeof(id)) == 0) {
        pm_siphash_hex(conf->contacts_key, id, strlen(id), refs[*next]);
        *next = (*next + 1) % PM_FEEDBACK_MAX_REFS;
        if (*n < PM_FEEDBACK_MAX_REFS)
            (*n)++;
    }
}

/* Remember the ids of an In-Reply-To or References value, the latest ones. */
static void
note_refs(struct pm_feedback *f, const struct pm_conf *conf, const char *value)
{
    pm_feedback_refs(conf, value, f->refs, &f->n_refs, &f->next_ref);
}

/* 1 when an Authentication-Results value comes from the trusted server id
 * and says spf=fail or dmarc=fail. */
static int
auth_failed(const char *id, const char *value)
{
    size_t n = strlen(id);
    const char *p = value;

    while (isspace((unsigned char)*p))
        p++;
    if (strncasecmp(p, id, n) != 0 || (p[n] && p[n] != ';' && !isspace((unsigned char)p[n])))
        return 0;
    for (p += n; (p = strchr(p, '=')) != NULL; p++) {
        const char *m = p;
        size_t len;

        while (m > value && (isalnum((unsigned char)m[-1]) || m[-1] == '-'))
            m--;
        len = (size_t)(p - m);
        if (((len == 3 && strncasecmp(m, "spf", 3) == 0) ||
             (len == 5 && strncasecmp(m, "dmarc", 5) == 0)) &&
            strncasecmp(p + 1, "fail", 4) == 0 && !isalnum((unsigned char)p[5]))
            return 1;
    }
    return 0;
}

/* A header of the message. */
void
pm_feedback_header(struct pm_feedback *f, const struct pm_conf *conf, const char *name,
                   const char *value)
{
    if (!f->active)
        return;
    f->autoflags |= pm_automail_header(name, value);
    if (strcasecmp(name, "In-Reply-To") == 0 || strcasecmp(name, "References") == 0)
        note_refs(f, conf, value);
    else if (strcasecmp(name, "Authentication-Results") == 0 && conf->feedback_authserv_id &&
             *conf->feedback_authserv_id && auth_failed(conf->feedback_authserv_id, value))
        f->auth_fail = 1;
    keep_bytes(f, name, strlen(name));
    keep_bytes(f, ": ", 2);
    keep_bytes(f, value, strlen(value));
    keep_bytes(f, "\r\n", 2);
}

/* 1 while the body is still wanted. */
int
pm_feedback_wants_body(const struct pm_feedback *f)
{
    return f->active && f->keep && f->len < PM_FEEDBACK_MAX_KEEP;
}

/* A body chunk of the message. */
void
pm_feedback_body(struct pm_feedback *f, const unsigned char *chunk, size_t len)
{
    if (!f->active)
        return;
    if (!f->in_body) {
        f->in_body = 1;
        keep_bytes(f, "\r\n", 2);
    }
    keep_bytes(f, chunk, len);
}

/* Fill the settings every feedback request carries. */
static void
request(const struct pm_conf *conf, const char *mailbox, struct pm_feedback_req *req)
{
    memset(req, 0, sizeof(*req));
    req->sender = mailbox;
    req->company = pm_addr_domain(mailbox);
    req->contacts_ttl_days = conf->contacts_ttl_days;
    req->contacts_max = conf->contacts_max;
    req->suppress_days = conf->suppress_days;
    req->bounce_window_days = conf->feedback_bounce_window_days;
    req->learned_per_day = conf->feedback_learned_per_day;
    req->replies_per_day = conf->feedback_replies_per_day;
    req->message_ids_days = conf->msgid_days;
}

/* Log and count one result. */
static void
note(const char *qid, enum pm_feedback_kind k, const char *mailbox, const char *addr,
     const char *status)
{
    pm_metrics_feedback(k);
    pm_log(k == PM_FB_KNOWN ? PM_LOG_DEBUG : PM_LOG_INFO, "%s: feedback=%s sender=%s rcpt=%s%s%s",
           qid, pm_feedback_name(k), mailbox, addr, status && *status ? " status=" : "",
           status ? status : "");
}

/* A bounce: ask the store about its failures, for each local mailbox. */
static void
finish_bounce(struct pm_feedback *f, const struct pm_conf *conf, struct pm_store *store,
              const char *qid, const struct pm_bounce *b)
{
    struct pm_feedback_failure fail[PM_BOUNCE_MAX_RCPTS];
    char addr[PM_BOUNCE_MAX_RCPTS][PM_ADDR_MAX], hash[PM_BOUNCE_MAX_RCPTS][17], err[256];
    enum pm_feedback_kind out[PM_BOUNCE_MAX_RCPTS];
    struct pm_feedback_req req;
    size_t i, j, n = 0;

    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        if ((r->cls != PM_BOUNCE_HARD && r->cls != PM_BOUNCE_BLOCK) ||
            pm_addr_normalise(r->rcpt, addr[n], sizeof(addr[n])) != 0 || !strchr(addr[n], '@'))
            continue;
        for (j = 0; j < n && strcmp(addr[j], addr[n]) != 0; j++)
            ;
        if (j < n)
            continue; /* named twice: once is enough */
        pm_siphash_hex(conf->contacts_key, addr[n], strlen(addr[n]), hash[n]);
        fail[n].rcpt = addr[n];
        fail[n].hash = hash[n];
        fail[n].hard = r->cls == PM_BOUNCE_HARD;
        fail[n].status = r->status;
        n++;
    }
    for (i = 0; n && i < f->n_rcpts; i++) {
        request(conf, f->rcpts[i], &req);
        req.fail = fail;
        req.n_fail = n;
        if (pm_store_feedback(store, &req, out, err, sizeof(err)) != 0) {
            pm_log(PM_LOG_WARNING, "%s: feedback for sender=%s not recorded: %s", qid, f->rcpts[i],
                   err);
            continue;
        }
        for (j = 0; j < n; j++)
            note(qid, out[j], f->rcpts[i], fail[j].rcpt, fail[j].status);
    }
}

/* A person's message: a reply, or an author to learn, for each local mailbox. */
static void
finish_person(struct pm_feedback *f, const struct pm_conf *conf, struct pm_store *store,
              const char *qid)
{
    const char *refs[PM_FEEDBACK_MAX_REFS];
    char hash[17], err[256];
    enum pm_feedback_kind out;
    struct pm_feedback_req req;
    size_t i;

    pm_siphash_hex(conf->contacts_key, f->from, strlen(f->from), hash);
    for (i = 0; i < f->n_refs; i++)
        refs[i] = f->refs[i];
    for (i = 0; i < f->n_rcpts; i++) {
        if (strcmp(f->rcpts[i], f->from) == 0)
            continue;
        request(conf, f->rcpts[i], &req);
        req.author_hash = hash;
        req.ref_hashes = refs;
        req.n_refs = f->n_refs;
        if (pm_store_feedback(store, &req, &out, err, sizeof(err)) != 0)
            pm_log(PM_LOG_WARNING, "%s: feedback for sender=%s not recorded: %s", qid, f->rcpts[i],
                   err);
        else
            note(qid, out, f->rcpts[i], f->from, NULL);
    }
}

/* End of message: record what it says. */
void
pm_feedback_finish(struct pm_feedback *f, const struct pm_conf *conf, struct pm_store *store,
                   const char *qid)
{
    struct pm_bounce *b;

    if (!f->active || !f->n_rcpts)
        goto done;
    if (f->from[0] == '\0') {
        /* the null sender: a bounce, or automatic mail that teaches nothing */
        if (f->len && (b = malloc(sizeof(*b))) != NULL) {
            if (pm_bounce_parse(f->buf, f->len, PM_ENV_NULL, b) && b->n)
                finish_bounce(f, conf, store, qid, b);
            else if (b->quoted)
                pm_log(PM_LOG_DEBUG, "%s: not a bounce: a report quoted or forwarded", qid);
            free(b);
        }
        goto done;
    }
    if (f->autoflags & PM_AUTO_NOT_PERSON)
        goto done;
    if (f->auth_fail) {
        pm_log(PM_LOG_INFO,
               "%s: feedback=untrusted rcpt=%s: Authentication-Results says spf or "
               "dmarc failed",
               qid, f->from);
        goto done;
    }
    finish_person(f, conf, store, qid);
done:
    pm_feedback_reset(f);
}

/* Forget the message. */
void
pm_feedback_reset(struct pm_feedback *f)
{
    free(f->buf);
    memset(f, 0, sizeof(*f));
}
