/*
 * notify_none.c - pm_notify() when postmeter is built without systemd
 * (configure --without-systemd, or no libsystemd): it says nothing.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "notify.h"

/* Say nothing: there is no service manager to tell. */
void
pm_notify(const char *fmt, ...)
{
    (void)fmt;
}
