/*
 * notify.h - tell the service manager (systemd) how postmeter is doing:
 * ready, reloading, stopping.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_NOTIFY_H
#define PM_MILTER_NOTIFY_H

/* Send one state message ("READY=1\nSTATUS=...", sd_notify(3)) to the
 * socket named by $NOTIFY_SOCKET; nothing when it is unset or postmeter was
 * built without systemd. A failure is logged at debug level only. */
void pm_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
