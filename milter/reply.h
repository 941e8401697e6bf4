/*
 * reply.h - the one mapping from a policy verdict to libmilter's answer.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_REPLY_H
#define PM_MILTER_REPLY_H

#include <libmilter/mfapi.h>

#include "verdict.h"

/*
 * Carry out v on ctx and return the sfsistat for the callback. at_eom says
 * whether this is end of message (where tag and hold can act); header is the
 * tag header's name (header_name): a tag adds it with the content rules that
 * matched, a hold adds "<header>-Hold" with the reason.
 */
sfsistat pm_reply(SMFICTX *ctx, const struct pm_verdict *v, int at_eom, const char *header);

#endif
