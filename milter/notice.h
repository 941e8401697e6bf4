/*
 * notice.h - telling people: the administrator's (and the sender's) notice
 * of an incident, by mail through the local Postfix and by webhook, and the
 * daily digest. Never blocks mail: the callbacks only queue.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_NOTICE_H
#define PM_NOTICE_H

#include "conf.h"
#include "incident.h"

/* Start telling people as conf says (0), or -1 with err set. */
int pm_notice_start(const struct pm_conf *conf, char *err, size_t errlen);

/* Queue the notices of an incident this server opened; action is what
 * happens to the sender's mail ("held" or "tempfailed"); sender_local: the
 * sender's domain is one of local_domains, so notify.sender may tell it (an
 * envelope sender of another domain may be anyone's). Never blocks. */
void pm_notice_incident(const struct pm_incident *inc, const char *action, int sender_local);

/* Stop, dropping what was not sent yet (logged). */
void pm_notice_stop(void);

#endif
