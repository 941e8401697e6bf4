/*
 * notice.c - telling people of incidents (see notice.h).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>

#include "notice.h"

/* Start telling people (nothing to start yet). */
int
pm_notice_start(const struct pm_conf *conf, char *err, size_t errlen)
{
    (void)conf;
    (void)err;
    (void)errlen;
    return 0;
}

/* Queue an incident's notices (none are sent yet). */
void
pm_notice_incident(const struct pm_incident *inc, const char *action)
{
    (void)inc;
    (void)action;
}

/* Stop telling people. */
void
pm_notice_stop(void)
{
}
