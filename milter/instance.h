/*
 * instance.h - one postmeter per milter socket: the instance lock, and a
 * socket removed only by the process that bound it.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_INSTANCE_H
#define PM_MILTER_INSTANCE_H

/* Lock the unix socket of conn (PATH.lock beside it) for this process and
 * its children, writing our pid there; 0 ok (or an inet socket), -1 when
 * another postmeter holds it or the lock file cannot be used (logged). */
int pm_instance_lock(const char *conn);

/* The libmilter connection to bind: conn itself for an inet socket, else the
 * private name unix:PATH.new, valid after pm_instance_lock(). */
const char *pm_instance_bind_conn(void);

/* The file system path of the bound socket before it is published (NULL for
 * an inet socket), for its owner and mode. */
const char *pm_instance_bind_path(void);

/* Move the bound socket to its configured path; 0 ok, -1 error (logged). */
int pm_instance_publish(void);

/* At exit: remove the configured path only if it is still the socket this
 * process bound (same device and inode); a socket bound but never
 * published is removed too. */
void pm_instance_unpublish(void);

#endif
