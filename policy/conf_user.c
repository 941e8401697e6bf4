/*
 * conf_user.c - the configuration and the user postmeter runs as.
 *
 * SYNOPSIS
 *     pm_conf_switch_user(conf, err, sizeof(err));
 *     pm_conf_check_as_user(path, conf, err, sizeof(err));
 *
 * DESCRIPTION
 *     The daemon reads its files (the configuration, the Redis password
 *     file, the contacts key) as the user of the "user" key, or as the
 *     systemd unit's User=, at every reload; an administrator checks the
 *     file as root. pm_conf_switch_user() makes the calling process that
 *     user (initgroups, setgid, setuid; it must not be able to come back).
 *     pm_conf_check_as_user() loads the file again in a child process that
 *     switched to that user first, so that "configuration OK" from root
 *     means the daemon will be able to read every file too.
 *     This file is above conf.c: it calls pm_conf_load().
 *
 * DIAGNOSTICS
 *     The child's error line as it is ("file:line: contacts.secret_file:
 *     cannot open FILE as user postmeter: Permission denied; ..."), or why
 *     no check could be made.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

/* The uid and gid of the configured user and group; 0, or -1 with err set. */
static int
target(const struct pm_conf *conf, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
    struct passwd *pw;
    struct group *gr;

    if (!(pw = getpwnam(conf->user))) {
        snprintf(err, errlen, "%s: user \"%s\" does not exist", conf->file, conf->user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (conf->group && *conf->group) {
        if (!(gr = getgrnam(conf->group))) {
            snprintf(err, errlen, "%s: group \"%s\" does not exist", conf->file, conf->group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

/* Become the configured user; 1 switched, 0 nothing to do, -1 with err set. */
int
pm_conf_switch_user(const struct pm_conf *conf, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;

    if (!conf->user || !*conf->user)
        return 0;
    if (target(conf, &uid, &gid, err, errlen) < 0)
        return -1;
    if (getuid() == uid && getgid() == gid)
        return 0;
    if (initgroups(conf->user, gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        snprintf(err, errlen, "cannot switch to user %s: %s", conf->user, strerror(errno));
        return -1;
    }
    if (uid != 0 && setuid(0) == 0) {
        snprintf(err, errlen, "privileges could be regained after switching to %s", conf->user);
        return -1;
    }
    return 1;
}

/* In the child: switch, load path, write the error (if any) to fd; never returns. */
static void
child(const char *path, const struct pm_conf *conf, int fd)
{
    char err[1024] = "";
    struct pm_conf *again = NULL;
    int rc = 1;
    size_t n, off = 0;
    ssize_t w;

    if (pm_conf_switch_user(conf, err, sizeof(err)) >= 0 &&
        pm_conf_load(path, &again, err, sizeof(err)) == 0) {
        pm_conf_free(again);
        rc = 0;
    }
    n = strlen(err);
    while (off < n && ((w = write(fd, err + off, n - off)) > 0 || errno == EINTR))
        off += w > 0 ? (size_t)w : 0;
    _exit(rc);
}

/* Load path again as the configured user; see conf.h. */
int
pm_conf_check_as_user(const char *path, const struct pm_conf *conf, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    int fd[2], status = 0;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    err[0] = '\0';
    if (!conf->user || !*conf->user)
        return PM_CONF_USER_SAME;
    if (target(conf, &uid, &gid, err, errlen) < 0)
        return -1;
    if (geteuid() == uid && getegid() == gid)
        return PM_CONF_USER_SAME;
    if (geteuid() != 0) {
        snprintf(err, errlen,
                 "%s: not checked as user %s, whom postmeter runs as (\"user\"): run this as root "
                 "or as %s",
                 path, conf->user, conf->user);
        return PM_CONF_USER_CANNOT;
    }
    if (pipe(fd) != 0 || (pid = fork()) < 0) {
        snprintf(err, errlen, "%s: cannot check as user %s: %s", path, conf->user, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fd[0]);
        child(path, conf, fd[1]);
    }
    close(fd[1]);
    while (got + 1 < errlen &&
           ((n = read(fd[0], err + got, errlen - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
        got += n > 0 ? (size_t)n : 0;
    err[got] = '\0';
    close(fd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return PM_CONF_USER_OK;
    if (!err[0])
        snprintf(err, errlen, "%s: cannot check as user %s", path, conf->user);
    return -1;
}
