/*
 * args.c - postmeterctl's argument helpers: options, numbers, senders.
 *
 * Each command names the options it takes (all of them take a value, given
 * as "--name value" or "--name=value"); everything else is positional. Bad
 * usage is reported on stderr as "postmeterctl: ..." with exit status 2.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* Print "postmeterctl: ..." on stderr and return status. */
int
ctl_fail(int status, const char *fmt, ...)
{
    va_list ap;

    fputs("postmeterctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

/* Index of an option name in o->names, or -1. */
static int
opt_index(const struct ctl_opts *o, const char *name, size_t len)
{
    int i;

    for (i = 0; o->names && o->names[i]; i++)
        if (strlen(o->names[i]) == len && strncmp(o->names[i], name, len) == 0)
            return i;
    return -1;
}

/* Split a command's arguments; CTL_OK or CTL_USAGE (message printed). */
int
ctl_getopts(const char *cmd, int argc, char **argv, struct ctl_opts *o)
{
    const char *eq;
    size_t len;
    int i, k;

    memset(o->value, 0, sizeof(o->value));
    o->npos = 0;
    for (i = 0; i < argc; i++) {
        if (argv[i][0] != '-' || argv[i][1] == '\0') {
            if (o->npos == (int)(sizeof(o->pos) / sizeof(o->pos[0])))
                return ctl_fail(CTL_USAGE, "%s: too many arguments", cmd);
            o->pos[o->npos++] = argv[i];
            continue;
        }
        eq = strchr(argv[i], '=');
        len = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        if ((k = opt_index(o, argv[i], len)) < 0)
            return ctl_fail(CTL_USAGE, "%s: unknown option %.*s", cmd, (int)len, argv[i]);
        if (eq)
            o->value[k] = eq + 1;
        else if (i + 1 < argc)
            o->value[k] = argv[++i];
        else
            return ctl_fail(CTL_USAGE, "%s: option %s needs a value", cmd, argv[i]);
    }
    return CTL_OK;
}

/* Parse a whole non-negative number within [0, max]; 0 or -1. */
int
ctl_number(const char *text, long long max, long long *out)
{
    char *end;
    long long v;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Normalise a sender argument as the daemon does; CTL_OK or CTL_USAGE. */
int
ctl_sender(const char *arg, char *out, size_t outlen)
{
    switch (pm_addr_normalise(arg, out, outlen)) {
    case 0:
        if (*out)
            return CTL_OK;
        break;
    case 1:
        return ctl_fail(CTL_USAGE, "the null sender <> is never metered");
    }
    return ctl_fail(CTL_USAGE, "not a sender address: \"%s\"", arg);
}

/* The user running the command (SUDO_USER when run through sudo). */
const char *
ctl_who(void)
{
    static char name[64];
    const char *sudo = getenv("SUDO_USER");
    struct passwd *pw;

    if (sudo && *sudo && getuid() == 0)
        snprintf(name, sizeof(name), "%s", sudo);
    else if ((pw = getpwuid(getuid())))
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid %ld", (long)getuid());
    return name;
}
