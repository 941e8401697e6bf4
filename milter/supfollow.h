/*
 * supfollow.h - the thread that loads and follows this server's copy of the
 * suppression lists (policy/suplocal.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_SUPFOLLOW_H
#define PM_MILTER_SUPFOLLOW_H

/* Start the thread (the runtime installed); 0, or -1 when it cannot start
 * (logged: the copy then never answers, Redis is asked). */
int pm_supfollow_start(void);

/* Stop the thread and wait for it (within about SUPFOLLOW_BLOCK_MS). */
void pm_supfollow_stop(void);

#endif
