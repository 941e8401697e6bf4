/*
 * dsn.c - bounce parser: the entry point and its text and JSON output.
 *
 * pm_bounce_parse() walks the message (dsn_mime.c), reads the RFC 3464
 * report when there is one (dsn_report.c) and otherwise, or to complete
 * recipients that lack a remote text or have only a generic code, the
 * human-readable part (dsn_text.c). Then it judges: the envelope (or, for
 * a file, the Return-Path field), a report forwarded inside the message,
 * and the signs of a person's or a list's message that quotes a bounce
 * (dsn.h says which). Abuse reports and auto-replies are automatic
 * messages, not bounces. The sender of the returned message comes from
 * the report's X-Postfix-Sender or an X-Original-Sender field, the
 * bounce's addressee, the returned message's Return-Path or From, or the
 * text's "sent by <...>".
 * Codes and classes are dsn_class.c's, the shared text helpers and the
 * recipient list dsn_util.c's (dsn_util.h); none of these calls back here.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "automail.h"
#include "dsn_int.h"
#include "buf.h"

/* Is the local part of addr a relay's VERP or bounce-tracking token
 * ("0100018c...-000000@...", "bounce+...", "a=b@...", "SRS0=...")? */
static int
verp_like(const char *addr)
{
    const char *at = strchr(addr, '@'), *p;
    size_t run = 0, best = 0, digits = 0;

    if (at == NULL)
        return 0;
    if (strncasecmp(addr, "bounce", 6) == 0 || strncasecmp(addr, "srs0=", 5) == 0 ||
        strncasecmp(addr, "prvs=", 5) == 0 || memchr(addr, '=', (size_t)(at - addr)) != NULL)
        return 1;
    for (p = addr; p < at; p++) {
        if (isxdigit((unsigned char)*p) || *p == '-') {
            run++;
            digits += isdigit((unsigned char)*p) != 0;
            if (run > best)
                best = run;
        } else {
            run = 0;
        }
    }
    return best >= 24 && digits >= 8;
}

/* Fill out->original_sender from the best source known. */
static void
sender(const struct pm_dsn *d, struct pm_bounce *out)
{
    char to[320], rp[320], from[320];
    char *o = out->original_sender;
    size_t olen = sizeof(out->original_sender);
    int have_to = strchr(d->to, ',') == NULL && pm_dsn_addr(d->to, to, sizeof(to)) == 0 &&
                  !pm_automail_daemon(d->to);
    int have_rp = pm_dsn_addr(d->ret_return_path, rp, sizeof(rp)) == 0;
    int have_from = pm_dsn_addr(d->ret_from, from, sizeof(from)) == 0;

    if (pm_dsn_addr(d->orig_sender, o, olen) == 0)
        return;
    /* the bounce went to the returned message's author or envelope sender */
    if (have_to && ((have_from && strcmp(to, from) == 0) || (have_rp && strcmp(to, rp) == 0))) {
        snprintf(o, olen, "%s", to);
        return;
    }
    if (have_rp && !(have_to && verp_like(rp))) {
        snprintf(o, olen, "%s", rp);
        return;
    }
    if (have_to && have_rp) {
        snprintf(o, olen, "%s", to); /* a relay's VERP Return-Path: its addressee */
        return;
    }
    if (have_from) {
        snprintf(o, olen, "%s", from);
        return;
    }
    if (have_to) {
        snprintf(o, olen, "%s", to); /* no returned message: whom the bounce went to */
        return;
    }
    o[0] = '\0';
}

/* Give report recipients without a remote text the one the text part has
 * (and the SMTP stage, which Postfix writes only there), and those with
 * only a generic status (X.0.0) a specific code the text gives them. */
static void
complete(struct pm_dsn *d, struct pm_bounce *out)
{
    struct pm_bounce *t = calloc(1, sizeof(*t));
    size_t i, j;

    if (t == NULL)
        return;
    memcpy(t->original_sender, out->original_sender, sizeof(t->original_sender));
    pm_dsn_text(d, t);
    for (i = 0; i < out->n; i++) {
        struct pm_bounce_rcpt *r = &out->rcpt[i];

        for (j = 0; j < t->n; j++) {
            const struct pm_bounce_rcpt *tr = &t->rcpt[j];

            if (strcmp(tr->rcpt, r->rcpt) != 0)
                continue;
            if (r->diag[0] == '\0') {
                memcpy(r->diag, tr->diag, sizeof(r->diag));
                d->by_code[i] = (unsigned char)pm_dsn_finish_rcpt(r, -1);
            } else if (r->status[0] == tr->status[0] && r->status[1] == '.' &&
                       strncmp(r->status + 1, ".0.0", 4) == 0 && r->status[5] == '\0' &&
                       strncmp(tr->status + 1, ".0.0", 4) != 0 && tr->status[0] != '\0') {
                /* the report says only X.0.0; its text part names the code */
                memcpy(r->status, tr->status, sizeof(r->status));
                memcpy(r->diag, tr->diag, sizeof(r->diag));
                r->cls = tr->cls;
            } else if (r->cls == PM_BOUNCE_HARD && !d->by_code[i] && pm_dsn_after_data(tr->diag)) {
                r->cls = PM_BOUNCE_BLOCK; /* the text tells the stage the report omits */
            }
            break;
        }
    }
    /* recipients the text names but a report cut short lacks */
    for (j = 0; j < t->n && d->cut_short; j++) {
        size_t had = out->n;
        struct pm_bounce_rcpt *r = pm_dsn_add(out, t->rcpt[j].rcpt);

        if (r != NULL && out->n > had)
            *r = t->rcpt[j];
    }
    free(t);
}

/* Is a Return-Path value the null sender: "<>", empty, no address at all
 * ("<MAILER-DAEMON>"), or a MAILER-DAEMON address? */
static int
null_return_path(const char *v)
{
    char a[320];

    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '\0' || strncmp(v, "<>", 2) == 0)
        return 1;
    if (pm_dsn_addr(v, a, sizeof(a)) != 0)
        return strchr(v, '@') == NULL; /* "<MAILER-DAEMON>", "<null>" */
    return strncmp(a, "mailer-daemon@", 14) == 0;
}

/* Does the message, not itself a report, look like a person's or a list's
 * that quotes or forwards a bounce? */
static int
quoted_by(const struct pm_dsn *d)
{
    size_t fwd = pm_dsn_text_forward(d), layout = pm_dsn_text_layout(d);

    if (d->has_from && !(d->auto_flags & PM_AUTO_DAEMON))
        return 1; /* a person's From */
    if (fwd < d->text_len && fwd <= d->cut && fwd <= layout && fwd <= d->first_rcpt)
        return 1; /* a forwarding marker before the bounce's own words (not in
                     the returned message, which may be a forward itself) */
    if ((d->auto_flags & PM_AUTO_LIST) && layout >= d->text_len)
        return 1; /* a list post that is no recognised bounce */
    return 0;
}

/* Read the recipients of the walked message d into out (not yet judged). */
static void
read_bounce(struct pm_dsn *d, struct pm_bounce *out)
{
    pm_dsn_text_cut(d);
    if (!d->returned && d->cut < d->text_len) {
        size_t off = d->cut;

        /* skip the marker line and blank lines before the returned headers */
        while (!d->cut_header && off < d->text_len && d->text[off] != '\n')
            off++;
        while (off < d->text_len && (d->text[off] == '\n' || d->text[off] == ' '))
            off++;
        pm_dsn_returned(d, (const unsigned char *)d->text + off, d->text_len - off);
    }
    d->first_rcpt = d->text_len;
    if (d->is_arf)
        return;
    if (d->has_status_part) {
        pm_dsn_report(d, out); /* first: it may name the sender (X-Postfix-Sender) */
        sender(d, out);
        if (out->n > 0) {
            complete(d, out);
            return;
        }
    }
    sender(d, out);
    if (pm_dsn_text_is_bounce(d))
        pm_dsn_text(d, out);
}

/* A report forwarded inside d (its first message/rfc822 part): walk and
 * read it into out; 1 when it names recipients. */
static int
read_inner(const struct pm_dsn *d, struct pm_bounce *out)
{
    struct pm_dsn *in;
    int found;

    if (d->inner == NULL || d->inner_len == 0 || (in = calloc(1, sizeof(*in))) == NULL)
        return 0;
    pm_dsn_walk(in, d->inner, d->inner_len);
    memset(out, 0, sizeof(*out));
    read_bounce(in, out);
    found = out->n > 0 && (in->has_status_part || !quoted_by(in));
    if (found && out->original_sender[0] == '\0' && strchr(d->to, ',') == NULL &&
        !pm_automail_daemon(d->to)) /* the wrapping went to the report's addressee */
        pm_dsn_addr(d->to, out->original_sender, sizeof(out->original_sender));
    free(in);
    return found;
}

/* Parse the message msg[0..len), which arrived with envelope env, into
 * *out; returns out->is_bounce. */
int
pm_bounce_parse(const unsigned char *msg, size_t len, enum pm_envelope env, struct pm_bounce *out)
{
    struct pm_dsn *d;
    struct pm_bounce *in = NULL;
    int looks, quoted = 0;

    memset(out, 0, sizeof(*out));
    if (msg == NULL)
        return 0;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return 0;
    pm_dsn_walk(d, msg, len);
    if (env == PM_ENV_UNKNOWN && d->has_return_path)
        env = null_return_path(d->return_path) ? PM_ENV_NULL : PM_ENV_SENDER;
    read_bounce(d, out);
    looks = out->n > 0;
    if (!d->has_status_part && !d->is_arf && (in = calloc(1, sizeof(*in))) != NULL &&
        read_inner(d, in)) {
        /* a report inside a message/rfc822 part: a gateway's wrapping counts
         * with a null envelope, a person's forward never */
        memcpy(out, in, sizeof(*out));
        looks = env == PM_ENV_NULL && !quoted_by(d);
        quoted = !looks;
    } else if (looks && !d->has_status_part && quoted_by(d)) {
        quoted = 1;
        looks = 0;
    }
    free(in);
    if (looks && env == PM_ENV_SENDER) {
        quoted = 1; /* a message with a sender is never a bounce */
        looks = 0;
    }
    out->is_bounce = looks;
    out->quoted = quoted;
    if (!looks) {
        out->n = 0;
        out->original_sender[0] = '\0'; /* no returned message of ours */
    }
    out->is_auto = looks || d->is_arf || d->auto_flags != 0 || env == PM_ENV_NULL;
    free(d);
    return out->is_bounce;
}

/* Human-readable summary: the flags, the sender, one line per recipient. */
void
pm_bounce_text(const struct pm_bounce *b, char *buf, size_t len)
{
    struct pm_buf o;
    size_t i;

    if (len == 0)
        return;
    pm_buf_fixed(&o, buf, len);
    pm_buf_printf(&o, "bounce: %s\nautomatic: %s\nquoted: %s\noriginal sender: %s\n",
                  b->is_bounce ? "yes" : "no", b->is_auto ? "yes" : "no", b->quoted ? "yes" : "no",
                  b->original_sender[0] ? b->original_sender : "-");
    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        pm_buf_printf(&o, "recipient: %s %s %s %s%s%s\n", r->rcpt, r->status[0] ? r->status : "-",
                      r->action[0] ? r->action : "-", pm_bounce_class_name(r->cls),
                      r->diag[0] ? " " : "", r->diag);
    }
}

/* The same as one JSON object. */
void
pm_bounce_json(const struct pm_bounce *b, char *buf, size_t len)
{
    struct pm_buf o;
    size_t i;

    if (len == 0)
        return;
    pm_buf_fixed(&o, buf, len);
    pm_buf_printf(&o, "{\"is_bounce\":%s,\"is_auto\":%s,\"quoted\":%s,\"original_sender\":",
                  b->is_bounce ? "true" : "false", b->is_auto ? "true" : "false",
                  b->quoted ? "true" : "false");
    pm_buf_json_str(&o, b->original_sender);
    pm_buf_printf(&o, ",\"recipients\":[");
    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        pm_buf_printf(&o, "%s{\"recipient\":", i ? "," : "");
        pm_buf_json_str(&o, r->rcpt);
        pm_buf_printf(&o, ",\"status\":");
        pm_buf_json_str(&o, r->status);
        pm_buf_printf(&o, ",\"action\":");
        pm_buf_json_str(&o, r->action);
        pm_buf_printf(&o, ",\"class\":\"%s\",\"diag\":", pm_bounce_class_name(r->cls));
        pm_buf_json_str(&o, r->diag);
        pm_buf_printf(&o, "}");
    }
    pm_buf_printf(&o, "]}");
}
