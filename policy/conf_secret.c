/*
 * conf_secret.c - opening a secret file the configuration names (the
 * contacts key, the Redis password file) only when nobody else can read or
 * replace it, as OpenDKIM does with its keys.
 *
 * SYNOPSIS
 *     fd = pm_conf_open_secret(ld, setting, "contacts.secret_file", path);
 *
 * DESCRIPTION
 *     The file must be a regular file, owned by root, by the user postmeter
 *     runs as (the "user" key) or by the user reading it; not readable or
 *     writable by others, and not writable by its group (the group may read
 *     it: "chown root:postmeter FILE; chmod 0640 FILE" is the intended
 *     shape). Every directory above it, from the root down (after symbolic
 *     links are resolved, and the directory holding a link too), must
 *     belong to one of those users and must not be writable by group or
 *     others unless it is sticky (/tmp): whoever can write there could
 *     replace the file. Unlike OpenDKIM, a group-readable file is fine
 *     whoever else is in the group: the administrator chose the group.
 *     The checks run on the open descriptor (fstat), so what is checked is
 *     what is read.
 *
 * DIAGNOSTICS
 *     "file:line: KEY: PATH is readable by others (mode 0644): chown
 *     root:postmeter PATH; chmod 0640 PATH" and the like: what is wrong and
 *     the commands that fix it. A file the user cannot read ("Permission
 *     denied") names that user.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_load.h"

/* Who may own a secret and the directories above it. */
struct owners {
    uid_t daemon; /* the "user" key's uid, or (uid_t)-1 */
    uid_t me;     /* the user reading the file */
};

/* The name of uid into buf ("uid N" when unknown). */
const char *
pm_conf_user_name(uid_t uid, char *buf, size_t len)
{
    struct passwd *pw = getpwuid(uid);

    if (pw)
        snprintf(buf, len, "%s", pw->pw_name);
    else
        snprintf(buf, len, "uid %u", (unsigned)uid);
    return buf;
}

/* The commands that make path a good secret for the configured user. */
static void
fix_text(const struct pm_conf *c, const char *path, char *buf, size_t len)
{
    const char *group = c->group;
    struct passwd *pw;
    struct group *gr;
    char me[64];

    if (!c->user || !*c->user) { /* postmeter stays the user who starts it */
        snprintf(buf, len, "chown %s %s; chmod 0600 %s",
                 pm_conf_user_name(geteuid(), me, sizeof(me)), path, path);
        return;
    }
    if (!group || !*group) {
        group = c->user; /* Debian's system users have a group of their name */
        if ((pw = getpwnam(c->user)) != NULL && (gr = getgrgid(pw->pw_gid)) != NULL)
            group = gr->gr_name;
    }
    snprintf(buf, len, "chown root:%s %s; chmod 0640 %s", group, path, path);
}

/* 1 when uid may own a secret or a directory above it. */
static int
good_owner(const struct owners *o, uid_t uid)
{
    return uid == 0 || uid == o->me || uid == o->daemon;
}

/* Check one directory above the secret file; -1 after an error. */
static int
check_dir(struct loader *ld, const config_setting_t *s, const char *kname, const char *file,
          const char *d, const struct owners *o)
{
    struct stat st;
    char who[64];

    if (stat(d, &st) != 0)
        return 0; /* open() found the file through it a moment ago */
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return pm_conf_fail(ld, s,
                            "%s: directory %s is writable by %s (mode %04o): whoever can write "
                            "there can replace %s; chmod go-w %s",
                            kname, d, (st.st_mode & S_IWOTH) ? "others" : "its group",
                            (unsigned)(st.st_mode & 07777), file, d);
    if (!good_owner(o, st.st_uid))
        return pm_conf_fail(ld, s,
                            "%s: directory %s belongs to user %s, who can replace %s; keep it "
                            "in a directory of root's, such as /etc/postmeter",
                            kname, d, pm_conf_user_name(st.st_uid, who, sizeof(who)), file);
    return 0;
}

/* Check every directory from / down to dir (an absolute, resolved path). */
static int
check_dirs(struct loader *ld, const config_setting_t *s, const char *kname, const char *file,
           const char *dir, const struct owners *o)
{
    char part[PATH_MAX];
    size_t i, n = strlen(dir);

    if (check_dir(ld, s, kname, file, "/", o) < 0)
        return -1;
    for (i = 1; i <= n && n < sizeof(part); i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        memcpy(part, dir, i);
        part[i] = '\0';
        if (check_dir(ld, s, kname, file, part, o) < 0)
            return -1;
    }
    return 0;
}

/* Cut p (a path) to the directory holding it: "/a/b" -> "/a", "/a" -> "/", "a" -> ".". */
static void
cut_to_parent(char *p)
{
    char *slash = strrchr(p, '/');

    if (!slash)
        strcpy(p, ".");
    else
        slash[slash == p ? 1 : 0] = '\0';
}

/* Check the directories above path's name (a symbolic link's own directory)
 * and above the file it resolves to. */
static int
check_path(struct loader *ld, const config_setting_t *s, const char *kname, const char *path,
           const struct owners *o)
{
    char name[PATH_MAX], dir[PATH_MAX];

    snprintf(name, sizeof(name), "%s", path);
    cut_to_parent(name);
    if (realpath(name, dir) != NULL && check_dirs(ld, s, kname, path, dir, o) < 0)
        return -1;
    if (realpath(path, dir) != NULL) {
        cut_to_parent(dir);
        if (check_dirs(ld, s, kname, path, dir, o) < 0)
            return -1;
    }
    return 0;
}

/* Check the open file fd itself; -1 after an error. */
static int
check_file(struct loader *ld, const config_setting_t *s, const char *kname, const char *path,
           int fd, const struct owners *o)
{
    struct stat st;
    char fix[512], who[64];
    unsigned mode;

    if (fstat(fd, &st) != 0)
        return pm_conf_fail(ld, s, "%s: cannot stat %s: %s", kname, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return pm_conf_fail(ld, s, "%s: %s is not a regular file", kname, path);
    mode = (unsigned)(st.st_mode & 07777);
    fix_text(ld->conf, path, fix, sizeof(fix));
    if (st.st_mode & (S_IROTH | S_IWOTH))
        return pm_conf_fail(ld, s, "%s: %s is %s by others (mode %04o): %s", kname, path,
                            (st.st_mode & S_IROTH) && (st.st_mode & S_IWOTH)
                                ? "readable and writable"
                            : (st.st_mode & S_IROTH) ? "readable"
                                                     : "writable",
                            mode, fix);
    if (st.st_mode & S_IWGRP)
        return pm_conf_fail(ld, s, "%s: %s is writable by its group (mode %04o): %s", kname, path,
                            mode, fix);
    if (!good_owner(o, st.st_uid))
        return pm_conf_fail(ld, s, "%s: %s belongs to user %s, who may change it: %s", kname, path,
                            pm_conf_user_name(st.st_uid, who, sizeof(who)), fix);
    return 0;
}

/* Open a secret file once it is safe; its descriptor, or -1 after an error. */
int
pm_conf_open_secret(struct loader *ld, const config_setting_t *s, const char *kname,
                    const char *path)
{
    struct owners o = {(uid_t)-1, geteuid()};
    struct passwd *pw;
    char fix[512], who[64];
    int fd, e;

    if (ld->conf->user && *ld->conf->user && (pw = getpwnam(ld->conf->user)) != NULL)
        o.daemon = pw->pw_uid;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        e = errno;
        if (e != EACCES)
            return pm_conf_fail(ld, s, "%s: cannot open %s: %s", kname, path, strerror(e));
        fix_text(ld->conf, path, fix, sizeof(fix));
        return pm_conf_fail(ld, s, "%s: cannot open %s as user %s: %s; %s", kname, path,
                            pm_conf_user_name(o.me, who, sizeof(who)), strerror(e), fix);
    }
    if (check_file(ld, s, kname, path, fd, &o) < 0 || check_path(ld, s, kname, path, &o) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}
