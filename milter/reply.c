/*
 * reply.c - the one mapping from a policy verdict to libmilter's answer.
 *
 * accept -> SMFIS_CONTINUE; tag -> add a header (end of message);
 * hold -> smfi_quarantine (Postfix puts the message on hold; nothing lost);
 * tempfail/reject -> smfi_setreply with the verdict's codes and text, then
 * SMFIS_TEMPFAIL / SMFIS_REJECT. A dry-run verdict is only logged.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "reply.h"

/* Copy text into buf without line breaks, doubling '%' (the MTA formats the
 * reply text: Postfix shows "%%" as "%"). */
static void
reply_escape(const char *text, char *buf, size_t len)
{
    size_t o = 0;

    for (; *text && o + 2 < len; text++) {
        if (*text == '\r' || *text == '\n')
            continue;
        if (*text == '%')
            buf[o++] = '%';
        buf[o++] = *text;
    }
    buf[o] = '\0';
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
        if (at_eom)
            smfi_addheader(ctx, (char *)header, (char *)v->text);
        return SMFIS_CONTINUE;
    case PM_ACT_HOLD:
        if (at_eom)
            smfi_quarantine(ctx, (char *)v->text);
        return SMFIS_CONTINUE;
    case PM_ACT_TEMPFAIL:
    case PM_ACT_REJECT:
        reply_escape(v->text, text, sizeof(text));
        if (v->rcode[0])
            smfi_setreply(ctx, (char *)v->rcode, (char *)v->xcode, text);
        return v->action == PM_ACT_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
    }
    return SMFIS_CONTINUE;
}
