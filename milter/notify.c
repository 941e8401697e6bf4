/*
 * notify.c - tell the service manager (systemd) how postmeter is doing,
 * with libsystemd's sd_notify().
 *
 * SYNOPSIS
 *   #include "notify.h"
 *
 *   pm_notify("READY=1\nSTATUS=serving %s", socket);
 *
 * DESCRIPTION
 *   Only the process systemd started (the supervisor, supervise.c) calls it:
 *   the unit's Type=notify accepts messages from its main process alone
 *   (NotifyAccess=main). Built with configure --with-systemd; notify_none.c
 *   replaces this file otherwise.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

/* Send one state message to $NOTIFY_SOCKET. */
void
pm_notify(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if ((rc = sd_notify(0, msg)) < 0)
        pm_log(PM_LOG_DEBUG, "cannot notify the service manager: %s", strerror(-rc));
}
