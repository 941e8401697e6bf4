/*
 * forget.c - postmeterctl forget --all: delete every key of postmeter's
 * prefix from Redis (redis.key_prefix, the keys "<prefix>:*": every
 * sender's counters, warm-up, contacts, credits, overrides, reputation,
 * the suppression lists and the servers' heartbeats), through the store.
 * Keys of other prefixes stay. It asks first: on a terminal the prefix must
 * be typed back; without one, --yes must be given.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* Which Redis, for people: "127.0.0.1:6379 db 0". */
static void
where(const struct pm_conf *conf, char *buf, size_t len)
{
    if (conf->n_sentinels)
        snprintf(buf, len, "the primary %s of the Sentinels, db %d", conf->sentinel_master,
                 conf->redis_db);
    else if (conf->redis_socket && *conf->redis_socket)
        snprintf(buf, len, "%s db %d", conf->redis_socket, conf->redis_db);
    else if (strchr(conf->redis_host, ':'))
        snprintf(buf, len, "[%s]:%d db %d", conf->redis_host, conf->redis_port, conf->redis_db);
    else
        snprintf(buf, len, "%s:%d db %d", conf->redis_host, conf->redis_port, conf->redis_db);
}

/* Ask on the terminal for the prefix; 1 when it was typed back. */
static int
confirmed(const char *prefix, const char *redis)
{
    char line[256];
    size_t n;

    fprintf(stderr,
            "This deletes every key of prefix \"%s\" in redis %s:\n"
            "the counters, warm-ups, contacts, credits, plan overrides, reputation and\n"
            "suppression lists of every sender, and the servers' heartbeats. Stop postmeter\n"
            "on every server first: a running one writes keys again.\n"
            "Type the prefix (%s) to confirm: ",
            prefix, redis, prefix);
    fflush(stderr);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    return strcmp(line, prefix) == 0;
}

/* forget --all [--yes] */
int
cmd_forget(struct ctl *c, int argc, char **argv)
{
    const char *prefix = c->conf->key_prefix;
    struct pm_store *st;
    char redis[600], err[512];
    long long deleted;
    int i, all = 0, yes = 0, rc;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            all = 1;
        else if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0)
            yes = 1;
        else
            return ctl_fail(CTL_USAGE, "forget: unknown argument %s (usage: forget --all [--yes])",
                            argv[i]);
    }
    if (!all)
        return ctl_fail(CTL_USAGE, "usage: forget --all [--yes]");
    where(c->conf, redis, sizeof(redis));
    if ((rc = ctl_store(c, &st)) != CTL_OK) /* reachable before anything is asked */
        return rc;
    if (!yes && !isatty(STDIN_FILENO))
        return ctl_fail(CTL_USAGE,
                        "forget --all deletes every key of prefix \"%s\" in redis %s: "
                        "without a terminal to confirm on, give --yes",
                        prefix, redis);
    if (!yes && !confirmed(prefix, redis))
        return ctl_fail(CTL_USAGE, "not confirmed: nothing deleted");
    if ((rc = pm_store_forget_all(st, &deleted, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (c->json) {
        fputs("{\"prefix\":", stdout);
        out_json_str(stdout, prefix);
        printf(",\"deleted\":%lld}\n", deleted);
    } else {
        printf("deleted %lld key%s of prefix \"%s\" in redis %s\n", deleted, out_s(deleted), prefix,
               redis);
    }
    return CTL_OK;
}
