/*
 * pf_socket.c - can the postfix user reach postmeter's unix socket?
 *
 * SYNOPSIS
 *   state = pf_socket_check("/var/spool/postfix/postmeter/postmeter.sock",
 *                           "postfix", &report);
 *
 * DESCRIPTION
 *   To connect to a unix socket a process must search (x) every directory
 *   on its path and write (w) the socket. The user's groups come from
 *   getpwnam() and getgrouplist(), as a process of that user started now
 *   would have them (a running Postfix keeps the groups it started with:
 *   after "adduser postfix GROUP", restart it). The owner's bits apply to
 *   the owner, the group's to a member, the others' to everyone else; ACLs
 *   are not read. The walk stops at the first thing that keeps the user out.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pf.h"

#define GROUPS_MAX 256

/* The user as the checks need it. */
struct who {
    uid_t uid;
    gid_t groups[GROUPS_MAX];
    int n_groups;
};

/* 1 when gid is one of the user's groups. */
static int
in_group(const struct who *w, gid_t gid)
{
    int i;

    for (i = 0; i < w->n_groups; i++)
        if (w->groups[i] == gid)
            return 1;
    return 0;
}

/* 1 when the user has the permission bit (S_IXOTH, S_IWOTH) on st. */
static int
allowed(const struct who *w, const struct stat *st, unsigned bit)
{
    if (w->uid == 0)
        return 1;
    if (st->st_uid == w->uid)
        return (st->st_mode & (bit << 6)) != 0;
    if (in_group(w, st->st_gid))
        return (st->st_mode & (bit << 3)) != 0;
    return (st->st_mode & bit) != 0;
}

/* Fill the report for path and st. */
static void
describe(const struct who *w, const char *path, const struct stat *st, struct pf_sock_report *r)
{
    struct passwd *pw = getpwuid(st->st_uid);
    struct group *gr = getgrgid(st->st_gid);
    char u[32], g[32];

    snprintf(r->path, sizeof(r->path), "%s", path);
    if (pw)
        snprintf(u, sizeof(u), "%s", pw->pw_name);
    else
        snprintf(u, sizeof(u), "%lu", (unsigned long)st->st_uid);
    if (gr)
        snprintf(g, sizeof(g), "%s", gr->gr_name);
    else
        snprintf(g, sizeof(g), "%lu", (unsigned long)st->st_gid);
    snprintf(r->owner, sizeof(r->owner), "%s:%s", u, g);
    r->mode = (unsigned)(st->st_mode & 07777);
    r->user_in_group = in_group(w, st->st_gid);
}

/* Can user enter every directory above the socket path and connect to it? */
enum pf_sock_state
pf_socket_check(const char *path, const char *user, struct pf_sock_report *r)
{
    char dir[PF_ADDR_MAX];
    struct passwd *pw;
    struct stat st;
    struct who w;
    size_t i, n = strlen(path);

    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "%s", path);
    if (!(pw = getpwnam(user)))
        return PF_SOCK_NO_USER;
    w.uid = pw->pw_uid;
    w.n_groups = GROUPS_MAX;
    if (getgrouplist(user, pw->pw_gid, w.groups, &w.n_groups) < 0)
        w.n_groups = GROUPS_MAX; /* more groups than kept: the first ones */
    if (n >= sizeof(dir))
        n = sizeof(dir) - 1;
    /* every directory on the way: "/", "/var", "/var/spool", ... */
    for (i = 0; i < n; i++) {
        if (path[i] != '/')
            continue;
        memcpy(dir, path, i ? i : 1);
        dir[i ? i : 1] = '\0';
        if (stat(dir, &st) < 0) {
            int unseen = errno == EACCES;

            snprintf(r->path, sizeof(r->path), "%s", dir);
            return unseen ? PF_SOCK_UNSEEN : PF_SOCK_NO_DIR;
        }
        if (!S_ISDIR(st.st_mode)) {
            snprintf(r->path, sizeof(r->path), "%s", dir);
            return PF_SOCK_NO_DIR;
        }
        if (!allowed(&w, &st, S_IXOTH)) {
            describe(&w, dir, &st, r);
            return PF_SOCK_DIR_DENIED;
        }
    }
    if (stat(path, &st) < 0)
        return errno == EACCES ? PF_SOCK_UNSEEN : PF_SOCK_MISSING;
    describe(&w, path, &st, r);
    if (!S_ISSOCK(st.st_mode))
        return PF_SOCK_NOT_SOCKET;
    return allowed(&w, &st, S_IWOTH) ? PF_SOCK_OK : PF_SOCK_DENIED;
}
