/*
 * sentinel_watch.h - following the Sentinels' announcements of a new primary.
 *
 * A thread holds one subscriber connection to each Sentinel and reports the
 * primary each names: at once when a Sentinel announces a promotion
 * (+promoted-slave) or a switch (+switch-master), and the answer to SENTINEL
 * get-master-addr-by-name when a subscription starts while none was up
 * (announcements may have been missed). Every wait is bounded; stopping
 * wakes the thread at once and joins it.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SENTINEL_WATCH_H
#define PM_SENTINEL_WATCH_H

#include <stddef.h>

struct pm_sentinel_watch;

/* Called from the watcher's thread: the Sentinel at sentinel says the primary
 * is host:port; how is the event ("+switch-master", "+promoted-slave") or
 * "get-master-addr-by-name". */
typedef void (*pm_sentinel_primary_fn)(void *arg, const char *host, int port, const char *how,
                                       const char *sentinel);

/*
 * Start following the n Sentinels ("host:port") about the primary called
 * master; name is the store's name in log lines. The strings must outlive the
 * watcher. NULL (logged) when the thread cannot be started.
 */
struct pm_sentinel_watch *pm_sentinel_watch_start(char *const *sentinels, size_t n,
                                                  const char *master, int connect_ms,
                                                  const char *name, pm_sentinel_primary_fn primary,
                                                  void *arg);

/* Stop the thread, wait for it and free everything (NULL: nothing). */
void pm_sentinel_watch_stop(struct pm_sentinel_watch *w);

#endif
