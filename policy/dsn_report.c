/*
 * dsn_report.c - the fields of an RFC 3464 delivery-status part.
 *
 * The decoded part is read field by field (folded lines joined, names in
 * any case). Per-message fields come first; each Final-Recipient or
 * Original-Recipient starts a new recipient when the current one already
 * has it, so reports without blank lines between recipients read too.
 * Final-Recipient names the recipient unless it holds no usable address;
 * Original-Recipient is the fallback. Action, Status and Diagnostic-Code
 * ("smtp; 550 5.1.1 ...") fill in the rest.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsn_int.h"

/* A recipient being read. */
struct cur {
    char final_[320], orig[320], action[16], status[32], diag[512];
    int used;
};

/* Skip an address-type prefix ("rfc822;", "smtp;") and blanks. */
static const char *
skip_type(const char *v)
{
    const char *semi = strchr(v, ';');

    if (semi != NULL && semi - v < 16)
        v = semi + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    return v;
}

/* Store the recipient read so far in out. */
static void
flush(struct pm_dsn *d, struct cur *c, struct pm_bounce *out, size_t *added)
{
    struct pm_bounce_rcpt *r;
    char addr[320];

    if (!c->used)
        return;
    if (pm_dsn_addr(c->final_, addr, sizeof(addr)) != 0 &&
        pm_dsn_addr(c->orig, addr, sizeof(addr)) != 0)
        goto reset;
    r = pm_dsn_add(out, addr);
    if (r == NULL)
        goto reset;
    if (c->action[0] != '\0') {
        size_t i;

        for (i = 0; c->action[i] != '\0'; i++)
            c->action[i] = (char)tolower((unsigned char)c->action[i]);
        snprintf(r->action, sizeof(r->action), "%s", c->action);
    }
    if (c->status[0] != '\0')
        pm_dsn_find_status(c->status, r->status, sizeof(r->status));
    if (c->diag[0] != '\0')
        pm_dsn_squeeze(r->diag, sizeof(r->diag), c->diag, strlen(c->diag));
    d->by_code[r - out->rcpt] = (unsigned char)pm_dsn_finish_rcpt(r, -1);
    (*added)++;
reset:
    memset(c, 0, sizeof(*c));
}

/* Copy the first word of v (an Action value) into out. */
static void
word(char *out, size_t outlen, const char *v)
{
    size_t n = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    while (isalpha((unsigned char)v[n]))
        n++;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* Take one unfolded field name: value. */
static void
field(struct pm_dsn *d, struct cur *c, struct pm_bounce *out, size_t *added, const char *name,
      const char *v)
{
    if (strcasecmp(name, "Final-Recipient") == 0 || strcasecmp(name, "X-Actual-Recipient") == 0) {
        if (strcasecmp(name, "X-Actual-Recipient") == 0 && c->final_[0] != '\0')
            return;
        if (c->final_[0] != '\0')
            flush(d, c, out, added);
        snprintf(c->final_, sizeof(c->final_), "%s", skip_type(v));
        c->used = 1;
    } else if (strcasecmp(name, "Original-Recipient") == 0) {
        /* RFC order is Original then Final (Postfix writes Final first): a
         * second Original, or one after Action or Status, starts the next */
        if (c->orig[0] != '\0' || c->action[0] != '\0' || c->status[0] != '\0')
            flush(d, c, out, added);
        snprintf(c->orig, sizeof(c->orig), "%s", skip_type(v));
        c->used = 1;
    } else if (strcasecmp(name, "Action") == 0) {
        word(c->action, sizeof(c->action), v);
    } else if (strcasecmp(name, "Status") == 0) {
        snprintf(c->status, sizeof(c->status), "%s", v);
    } else if (strcasecmp(name, "Diagnostic-Code") == 0) {
        snprintf(c->diag, sizeof(c->diag), "%s", skip_type(v));
    } else if (strcasecmp(name, "X-Postfix-Sender") == 0 ||
               strcasecmp(name, "X-Original-Sender") == 0) {
        if (d->orig_sender[0] == '\0')
            snprintf(d->orig_sender, sizeof(d->orig_sender), "%s", skip_type(v));
    }
}

/* Read the delivery-status text into out->rcpt; returns recipients added. */
size_t
pm_dsn_report(struct pm_dsn *d, struct pm_bounce *out)
{
    struct cur c;
    char name[64], val[1024];
    const char *p = d->report, *end = d->report + d->report_len;
    size_t added = 0, vlen = 0;
    int have = 0;

    memset(&c, 0, sizeof(c));
    name[0] = '\0';
    while (p <= end) {
        const char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        int cont = n > 0 && (*p == ' ' || *p == '\t');

        if (have && !cont) {
            val[vlen] = '\0';
            field(d, &c, out, &added, name, val);
            have = 0;
        }
        if (cont && have) {
            if (n > sizeof(val) - 1 - vlen)
                n = sizeof(val) - 1 - vlen;
            memcpy(val + vlen, p, n);
            vlen += n;
        } else if (n > 0) {
            const char *colon = memchr(p, ':', n);

            if (colon != NULL && colon > p && (size_t)(colon - p) < sizeof(name)) {
                size_t nl2 = (size_t)(colon - p);

                memcpy(name, p, nl2);
                name[nl2] = '\0';
                while (nl2 > 0 && isspace((unsigned char)name[nl2 - 1]))
                    name[--nl2] = '\0';
                vlen = n - (size_t)(colon + 1 - p);
                if (vlen > sizeof(val) - 1)
                    vlen = sizeof(val) - 1;
                memcpy(val, colon + 1, vlen);
                have = 1;
            }
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (have) {
        val[vlen] = '\0';
        field(d, &c, out, &added, name, val);
    }
    flush(d, &c, out, &added);
    return added;
}
