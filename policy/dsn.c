/*
 * dsn.c - bounce parser: the entry point and its text and JSON output.
 *
 * pm_bounce_parse() walks the message (dsn_mime.c), reads the RFC 3464
 * report when there is one (dsn_report.c) and otherwise, or to complete
 * recipients that lack a remote text, the human-readable part
 * (dsn_text.c). Abuse reports and auto-replies are automatic messages,
 * not bounces. The sender of the returned message comes from the report's
 * X-Postfix-Sender, an X-Original-Sender field, or the returned
 * message's Return-Path or From.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsn_int.h"

/* Add a recipient (merged with an existing one of the same address). */
struct pm_bounce_rcpt *
pm_dsn_add(struct pm_bounce *out, const char *addr)
{
    size_t i;

    if (addr[0] == '\0' || strlen(addr) >= sizeof(out->rcpt[0].rcpt))
        return NULL;
    for (i = 0; i < out->n; i++)
        if (strcmp(out->rcpt[i].rcpt, addr) == 0)
            return &out->rcpt[i];
    if (out->n >= PM_BOUNCE_MAX_RCPTS)
        return NULL;
    memset(&out->rcpt[out->n], 0, sizeof(out->rcpt[0]));
    snprintf(out->rcpt[out->n].rcpt, sizeof(out->rcpt[0].rcpt), "%s", addr);
    return &out->rcpt[out->n++];
}

/* Fill out->original_sender from the best source known. */
static void
sender(const struct pm_dsn *d, struct pm_bounce *out)
{
    const char *const src[] = {d->orig_sender, d->ret_return_path, d->ret_from};
    size_t i;

    for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
        if (pm_dsn_addr(src[i], out->original_sender, sizeof(out->original_sender)) == 0)
            return;
    out->original_sender[0] = '\0';
}

/* Give report recipients without a remote text the one the text part has
 * (and the SMTP stage, which Postfix writes only there). */
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
            if (strcmp(t->rcpt[j].rcpt, r->rcpt) != 0)
                continue;
            if (r->diag[0] == '\0') {
                memcpy(r->diag, t->rcpt[j].diag, sizeof(r->diag));
                pm_dsn_finish_rcpt(r, -1);
            } else if (r->cls == PM_BOUNCE_HARD && pm_dsn_after_data(t->rcpt[j].diag)) {
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

/* Is the message an auto-reply: Auto-Submitted: auto-replied, a null
 * Return-Path, or a subject an out-of-office responder writes? */
static int
auto_reply(const struct pm_dsn *d)
{
    static const char *const subjects[] = {"automatic reply", "auto reply",    "auto-reply",
                                           "autoreply",       "out of office", "auto response"};
    const char *s = d->subject;
    size_t i;

    if (d->auto_replied)
        return 1;
    while (*s == ' ')
        s++;
    if (strstr(d->return_path, "<>") != NULL)
        return 1;
    for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++)
        if (strncasecmp(s, subjects[i], strlen(subjects[i])) == 0)
            return 1;
    return 0;
}

/* Parse the message msg[0..len) into *out; returns out->is_bounce. */
int
pm_bounce_parse(const unsigned char *msg, size_t len, struct pm_bounce *out)
{
    struct pm_dsn *d;

    memset(out, 0, sizeof(*out));
    if (msg == NULL)
        return 0;
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return 0;
    pm_dsn_walk(d, msg, len);
    out->is_auto = d->is_auto;
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
    if (d->is_arf) {
        out->is_auto = 1;
        free(d);
        return 0;
    }
    if (d->has_status_part) {
        pm_dsn_report(d, out);
        sender(d, out);
        if (out->n > 0) {
            out->is_bounce = 1;
            complete(d, out);
        }
    }
    if (!out->is_bounce) {
        sender(d, out);
        if (pm_dsn_text_is_bounce(d)) {
            pm_dsn_text(d, out);
            out->is_bounce = out->n > 0;
        }
    }
    if (out->is_bounce || auto_reply(d))
        out->is_auto = 1;
    if (!out->is_bounce)
        out->n = 0;
    free(d);
    return out->is_bounce;
}

/* Append printf output to buf at *off, never past len. */
static void __attribute__((format(printf, 4, 5)))
put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off >= len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = *off + (size_t)n < len ? *off + (size_t)n : len - 1;
}

/* Human-readable summary: the flags, the sender, one line per recipient. */
void
pm_bounce_text(const struct pm_bounce *b, char *buf, size_t len)
{
    size_t off = 0, i;

    if (len == 0)
        return;
    buf[0] = '\0';
    put(buf, len, &off, "bounce: %s\nautomatic: %s\noriginal sender: %s\n",
        b->is_bounce ? "yes" : "no", b->is_auto ? "yes" : "no",
        b->original_sender[0] ? b->original_sender : "-");
    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        put(buf, len, &off, "recipient: %s %s %s %s%s%s\n", r->rcpt, r->status[0] ? r->status : "-",
            r->action[0] ? r->action : "-", pm_bounce_class_name(r->cls), r->diag[0] ? " " : "",
            r->diag);
    }
}

/* Append s as a JSON string. */
static void
put_json_str(char *buf, size_t len, size_t *off, const char *s)
{
    put(buf, len, off, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            put(buf, len, off, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            put(buf, len, off, "\\u%04x", c);
        else
            put(buf, len, off, "%c", c);
    }
    put(buf, len, off, "\"");
}

/* The same as one JSON object. */
void
pm_bounce_json(const struct pm_bounce *b, char *buf, size_t len)
{
    size_t off = 0, i;

    if (len == 0)
        return;
    buf[0] = '\0';
    put(buf, len, &off,
        "{\"is_bounce\":%s,\"is_auto\":%s,\"original_sender\":", b->is_bounce ? "true" : "false",
        b->is_auto ? "true" : "false");
    put_json_str(buf, len, &off, b->original_sender);
    put(buf, len, &off, ",\"recipients\":[");
    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        put(buf, len, &off, "%s{\"recipient\":", i ? "," : "");
        put_json_str(buf, len, &off, r->rcpt);
        put(buf, len, &off, ",\"status\":");
        put_json_str(buf, len, &off, r->status);
        put(buf, len, &off, ",\"action\":");
        put_json_str(buf, len, &off, r->action);
        put(buf, len, &off, ",\"class\":\"%s\",\"diag\":", pm_bounce_class_name(r->cls));
        put_json_str(buf, len, &off, r->diag);
        put(buf, len, &off, "}");
    }
    put(buf, len, &off, "]}");
}
