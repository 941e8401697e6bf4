/*
 * watcher.h - the milter process's watch over Postfix, and its heartbeat.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_WATCHER_H
#define PM_MILTER_WATCHER_H

/* Start the thread (the runtime installed; socket: milter.socket as bound);
 * 0, or -1 when it cannot start (logged). */
int pm_watcher_start(const char *socket);

/* Stop the thread and wait for it. */
void pm_watcher_stop(void);

/* A milter connection opened (xxfi_connect). */
void pm_watcher_connect(void);

/* A milter connection that pm_watcher_connect() counted closed (xxfi_close). */
void pm_watcher_close(void);

#endif
