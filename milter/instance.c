/*
 * instance.c - one postmeter per milter socket: the instance lock, and a
 * socket removed only by the process that bound it.
 *
 * SYNOPSIS
 *   #include "instance.h"
 *
 *   pm_instance_lock(conn); ... smfi_setconn(pm_instance_bind_conn());
 *   smfi_opensocket(1); chmod(pm_instance_bind_path(), ...);
 *   pm_instance_publish(); smfi_main(); pm_instance_unpublish();
 *
 * DESCRIPTION
 *   For a unix socket PATH, pm_instance_lock() takes an exclusive flock(2)
 *   on PATH.lock (created mode 0600 beside the socket, in a directory the
 *   daemon's user can write, and never removed) and writes its pid there.
 *   The lock lasts as long as the process and the processes it forks, also
 *   while they stop; a second postmeter on the same socket finds it held
 *   and refuses to start, naming the pid of the first. An inet socket needs
 *   no lock: a second bind on the same port fails by itself.
 *
 *   libmilter, when it stops without root privileges, unlinks its socket
 *   path if a socket is there, whichever socket that is by then. So the
 *   socket is bound under a private name, PATH.new, given its group and
 *   mode there, and renamed over PATH (which also replaces a stale socket
 *   in one step: Postfix never finds the path missing or half set up);
 *   libmilter's unlink then finds nothing. pm_instance_unpublish() removes
 *   PATH at exit only if it still is the socket this process bound (same
 *   device and inode), and leaves any other file there alone.
 *
 * DIAGNOSTICS
 *   Every failure is logged; the functions return -1.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "instance.h"
#include "log.h"

#define NAME_MAX_LEN 1024

static char sock_path[NAME_MAX_LEN]; /* the configured unix socket; "" for inet */
static char bind_conn[NAME_MAX_LEN]; /* what libmilter binds */
static dev_t sock_dev;
static ino_t sock_ino;
static int published;

/* The path of a unix:/local: connection, or NULL. */
static const char *
unix_path(const char *conn)
{
    if (strncmp(conn, "unix:", 5) == 0)
        return conn + 5;
    if (strncmp(conn, "local:", 6) == 0)
        return conn + 6;
    return NULL;
}

/* Log who holds the lock on fd (its pid, as the holder wrote it). */
static void
log_holder(int fd, const char *conn, const char *lock)
{
    char pid[32];
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);

    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    if (*pid)
        pm_log(PM_LOG_ERR, "another postmeter (pid %s) serves %s (it holds %s): not starting", pid,
               conn, lock);
    else
        pm_log(PM_LOG_ERR, "another postmeter serves %s (it holds %s): not starting", conn, lock);
}

/* Lock the socket of conn for this process and its children. */
int
pm_instance_lock(const char *conn)
{
    const char *path = unix_path(conn);
    char lock[NAME_MAX_LEN + 8];
    int fd;

    if (!path) {
        snprintf(bind_conn, sizeof(bind_conn), "%s", conn);
        return 0;
    }
    if (strlen(path) + sizeof(".new") > sizeof(((struct sockaddr_un *)0)->sun_path) ||
        strlen(path) + sizeof(".lock") > sizeof(sock_path)) {
        pm_log(PM_LOG_ERR, "milter socket %s: the path is too long", conn);
        return -1;
    }
    snprintf(sock_path, sizeof(sock_path), "%s", path);
    snprintf(bind_conn, sizeof(bind_conn), "unix:%s.new", path);
    snprintf(lock, sizeof(lock), "%s.lock", path);
    fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        pm_log(PM_LOG_ERR, "cannot open the lock file %s: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            log_holder(fd, conn, lock);
        else
            pm_log(PM_LOG_ERR, "cannot lock %s: %s", lock, strerror(errno));
        close(fd);
        return -1;
    }
    if (ftruncate(fd, 0) != 0 || dprintf(fd, "%ld\n", (long)getpid()) < 0)
        pm_log(PM_LOG_WARNING, "cannot write %s: %s", lock, strerror(errno));
    return 0; /* fd stays open, and the lock held, until the process ends */
}

/* The libmilter connection to bind. */
const char *
pm_instance_bind_conn(void)
{
    return bind_conn;
}

/* The path of the socket before it is published, or NULL for inet. */
const char *
pm_instance_bind_path(void)
{
    return *sock_path ? bind_conn + 5 : NULL;
}

/* Move the bound socket to its configured path. */
int
pm_instance_publish(void)
{
    const char *tmp = pm_instance_bind_path();
    struct stat st;

    if (!tmp)
        return 0;
    if (lstat(tmp, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        pm_log(PM_LOG_ERR, "the new socket %s is gone", tmp);
        return -1;
    }
    if (rename(tmp, sock_path) != 0) {
        pm_log(PM_LOG_ERR, "cannot move %s to %s: %s", tmp, sock_path, strerror(errno));
        return -1;
    }
    sock_dev = st.st_dev;
    sock_ino = st.st_ino;
    published = 1;
    return 0;
}

/* Remove the configured path if it still is our socket. */
void
pm_instance_unpublish(void)
{
    const char *tmp = pm_instance_bind_path();
    struct stat st;

    if (!tmp)
        return;
    if (!published) { /* bound but never published: still under its private name */
        if (lstat(tmp, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(tmp);
        return;
    }
    published = 0;
    if (lstat(sock_path, &st) != 0) {
        if (errno != ENOENT)
            pm_log(PM_LOG_WARNING, "cannot check %s: %s", sock_path, strerror(errno));
        return;
    }
    if (st.st_dev != sock_dev || st.st_ino != sock_ino) {
        pm_log(PM_LOG_WARNING, "%s is no longer the socket this postmeter bound: left in place",
               sock_path);
        return;
    }
    if (unlink(sock_path) != 0 && errno != ENOENT)
        pm_log(PM_LOG_WARNING, "cannot remove %s: %s", sock_path, strerror(errno));
}
