/*
 * supervise.h - the process that takes postmeter's signals, with the milter
 * in a child process.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_MILTER_SUPERVISE_H
#define PM_MILTER_SUPERVISE_H

#include <sys/types.h>

/* Block the signals the supervisor takes, first thing: one that arrives
 * during start-up then waits for it (a SIGHUP would kill the process). */
void pm_supervise_block(void);

/* Fork the milter process (single-threaded, signals blocked). In the child: returns
 * 0 and sets *ctl_fd to the read end of the control pipe ('r': reload; end
 * of file: the supervisor is gone), with SIGHUP ignored and SIGTERM, SIGINT
 * blocked for libmilter. In the parent: returns the child's pid and sets
 * *ctl_fd to the write end. -1 on error (logged). */
pid_t pm_supervise_fork(int *ctl_fd);

/* In the child: tell the parent that the milter serves, its socket
 * listening: after the start, and after each reload (refused = 1 when the
 * file was refused and the running configuration stays). */
void pm_supervise_ready(int refused);

/* In the parent: relay signals to child until it ends, telling the service
 * manager when the child is ready, reloading and stopping (what: the socket
 * it serves, for the status line); returns the exit status for the parent (1
 * when the child stopped without being asked). */
int pm_supervise(pid_t child, int ctl_fd, const char *what);

#endif
