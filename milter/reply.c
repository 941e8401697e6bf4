/*
 * reply.c - the one mapping from a policy verdict to libmilter's answer.
 *
 * accept -> SMFIS_CONTINUE; tag -> add the tag header (end of message) when
 * the verdict names content rules (pm_verdict_header(): never a quota nor
 * the bounce rate, since tagged mail goes out to its recipients);
 * hold -> smfi_quarantine (Postfix puts the message on hold; nothing lost)
 * and a hold note, the header "<header>-Hold: <reason>", which the
 * administrator reads with postcat and Postfix's smtp_header_checks strip
 * when a released message leaves (etc/postfix-main.cf.snippet);
 * tempfail/reject -> smfi_setreply with the verdict's codes and text, then
 * SMFIS_TEMPFAIL / SMFIS_REJECT. A dry-run verdict is only logged.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "reply.h"

/* Copy text into buf without line breaks; with pct, doubling '%' (the MTA
 * formats a reply text: Postfix shows "%%" as "%"). */
static void
reply_escape(const char *text, char *buf, size_t len, int pct)
{
    size_t o = 0;

    for (; *text && o + 2 < len; text++) {
        if (*text == '\r' || *text == '\n')
            continue;
        if (*text == '%' && pct)
            buf[o++] = '%';
        buf[o++] = *text;
    }
    buf[o] = '\0';
}

/* Hold the message: quarantine it with its reason (Postfix 3.7 logs no
 * reason, only "milter triggers HOLD action") and add the hold note. */
static void
reply_hold(SMFICTX *ctx, const struct pm_verdict *v, const char *header)
{
    char name[128], value[sizeof(v->text)];

    reply_escape(v->text, value, sizeof(value), 0);
    snprintf(name, sizeof(name), "%s-Hold", header);
    smfi_addheader(ctx, name, value);
    smfi_quarantine(ctx, value);
}

/* Carry out v on ctx and return the sfsistat for the callback. */
sfsistat
pm_reply(SMFICTX *ctx, const struct pm_verdict *v, int at_eom, const char *header)
{
    char text[sizeof(v->text) * 2 + 1];

    if (v->dry_run)
        return SMFIS_CONTINUE;
    switch (v->action) {
    case PM_ACT_ACCEPT:
        return SMFIS_CONTINUE;
    case PM_ACT_TAG:
        pm_verdict_header(v, text, sizeof(text));
        if (at_eom && text[0])
            smfi_addheader(ctx, (char *)header, text);
        return SMFIS_CONTINUE;
    case PM_ACT_HOLD:
        if (at_eom)
            reply_hold(ctx, v, header);
        return SMFIS_CONTINUE;
    case PM_ACT_TEMPFAIL:
    case PM_ACT_REJECT:
        reply_escape(v->text, text, sizeof(text), 1);
        if (v->rcode[0])
            smfi_setreply(ctx, (char *)v->rcode, (char *)v->xcode, text);
        return v->action == PM_ACT_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    }
    return SMFIS_CONTINUE;
}
