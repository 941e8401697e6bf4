/*
 * suppress.c - postmeterctl suppress list|add|del|check: the suppression list.
 *
 * A hard-bounced recipient is the string key "<prefix>:v1:sup:<address>"
 * holding "<time>|<status>|<sender>" (when, the DSN status, whose mail
 * bounced), with a TTL of suppression.days; the milter refuses it at RCPT TO
 * with 550 5.1.1. Addresses are kept in the clear so administrators can see
 * them, normalised as the milter normalises recipients. Entries added here
 * name the administrator as "admin:<user>".
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define LIST_MAX 100000
#define SCAN_ROUNDS 100000 /* bound on SCAN calls (each returns up to 1000 keys) */

/* One entry of the list. */
struct entry {
    char rcpt[PM_ADDR_MAX];
    long long since, ttl;
    char status[16];
    char sender[PM_ADDR_MAX];
};

/* The key of a recipient. */
static void
sup_key(const struct ctl *c, const char *rcpt, char *buf, size_t len)
{
    snprintf(buf, len, "%s:v1:sup:%s", c->conf->key_prefix, rcpt);
}

/* Read one entry; CTL_OK, CTL_NOTFOUND or CTL_ERR. */
static int
entry_read(struct ctl *c, const char *rcpt, struct entry *e)
{
    char key[PM_ADDR_MAX + 64], *bar;
    redisReply *r;

    memset(e, 0, sizeof(*e));
    snprintf(e->rcpt, sizeof(e->rcpt), "%s", rcpt);
    sup_key(c, rcpt, key, sizeof(key));
    if (!(r = ctl_cmd(c, "GET %s", key)))
        return CTL_ERR;
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return CTL_NOTFOUND;
    }
    e->since = strtoll(r->str, &bar, 10);
    if (*bar == '|') {
        snprintf(e->status, sizeof(e->status), "%.*s", (int)strcspn(bar + 1, "|"), bar + 1);
        if ((bar = strchr(bar + 1, '|')))
            snprintf(e->sender, sizeof(e->sender), "%s", bar + 1);
    }
    freeReplyObject(r);
    if (!(r = ctl_cmd(c, "TTL %s", key)))
        return CTL_ERR;
    e->ttl = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return CTL_OK;
}

/* Print one entry as a JSON object. */
static void
entry_json(const struct entry *e, long long now)
{
    fputs("{\"recipient\":", stdout);
    out_json_str(stdout, e->rcpt);
    printf(",\"since\":%lld,\"until\":%lld,\"status\":", e->since, e->ttl >= 0 ? now + e->ttl : 0);
    out_json_str(stdout, e->status);
    fputs(",\"sender\":", stdout);
    out_json_str(stdout, e->sender);
    fputs("}", stdout);
}

/* Print one entry as a line of text. */
static void
entry_text(const struct entry *e, long long now)
{
    char since[64], until[64];

    out_time(since, sizeof(since), e->since);
    out_time(until, sizeof(until), now + e->ttl);
    since[10] = until[10] = '\0';
    printf("%-36s %-7s %s to %s  %s\n", e->rcpt, e->status[0] ? e->status : "-", since,
           e->ttl >= 0 ? until : "(none)", e->sender);
}

/* Order entries newest first. */
static int
by_since(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;

    return x->since != y->since ? (x->since < y->since) - (x->since > y->since)
                                : strcmp(x->rcpt, y->rcpt);
}

/* Collect the recipients of every entry (SCAN); CTL_OK or CTL_ERR. */
static int
list_scan(struct ctl *c, char ***out, size_t *n)
{
    char pattern[128], cursor[32] = "0";
    size_t plen, i;
    redisReply *r;
    char **grown;
    int rounds = 0;

    snprintf(pattern, sizeof(pattern), "%s:v1:sup:*", c->conf->key_prefix);
    plen = strlen(pattern) - 1;
    *out = NULL;
    *n = 0;
    do {
        if (!(r = ctl_cmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern)))
            return CTL_ERR;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING) {
            freeReplyObject(r);
            return ctl_fail(CTL_ERR, "Redis at %s: unexpected reply to SCAN", c->redis_name);
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (i = 0; i < r->element[1]->elements && *n < LIST_MAX; i++) {
            const char *k = r->element[1]->element[i]->str;

            if (!k || strlen(k) <= plen || !(grown = realloc(*out, (*n + 1) * sizeof(**out))))
                continue;
            *out = grown;
            if (((*out)[*n] = strdup(k + plen)))
                (*n)++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0 && ++rounds < SCAN_ROUNDS);
    return CTL_OK;
}

/* suppress list [-n N] */
static int
suppress_list(struct ctl *c, const char *limit)
{
    struct entry *e;
    char **rcpts;
    size_t n, i, k = 0, shown;
    long long now, want = 100;
    int rc = CTL_OK;

    if (limit && (ctl_number(limit, LIST_MAX, &want) < 0 || want < 1))
        return ctl_fail(CTL_USAGE, "suppress list: bad count \"%s\"", limit);
    if ((rc = ctl_now(c, &now)) || (rc = list_scan(c, &rcpts, &n)))
        return rc;
    e = calloc(n ? n : 1, sizeof(*e));
    for (i = 0; e && i < n && rc != CTL_ERR; i++) {
        rc = entry_read(c, rcpts[i], &e[k]);
        if (rc == CTL_OK)
            k++; /* an entry may expire between SCAN and GET */
    }
    for (i = 0; i < n; i++)
        free(rcpts[i]);
    free(rcpts);
    if (!e)
        return ctl_fail(CTL_ERR, "out of memory");
    if (rc == CTL_ERR) {
        free(e);
        return rc;
    }
    qsort(e, k, sizeof(*e), by_since);
    shown = k < (size_t)want ? k : (size_t)want;
    if (c->json) {
        printf("{\"now\":%lld,\"total\":%zu,\"entries\":[", now, k);
        for (i = 0; i < shown; i++) {
            fputs(i ? "," : "", stdout);
            entry_json(&e[i], now);
        }
        printf("]}\n");
    } else {
        printf("%zu suppressed address%s%s\n", k, k == 1 ? "" : "es",
               shown < k ? " (newest first, more with -n)" : "");
        for (i = 0; i < shown; i++)
            entry_text(&e[i], now);
    }
    free(e);
    return CTL_OK;
}

/* 1 when s is a status code of an invalid address, as a hard bounce gives:
 * 5.1.1, 5.1.2, 5.1.3 or 5.1.10 (a temporary failure or a block is not). */
static int
status_ok(const char *s)
{
    return strcmp(s, "5.1.1") == 0 || strcmp(s, "5.1.2") == 0 || strcmp(s, "5.1.3") == 0 ||
           strcmp(s, "5.1.10") == 0;
}

/* 1 when a normalised address has a local part and a domain of non-empty labels. */
static int
rcpt_ok(const char *a)
{
    const char *at = strrchr(a, '@');

    return at && at > a && at[1] && at[1] != '.' && a[strlen(a) - 1] != '.' && !strstr(at, "..");
}

/* suppress add RCPT [--days N] [--status X.Y.Z] */
static int
suppress_add(struct ctl *c, const char *rcpt, const char *days_arg, const char *status)
{
    char key[PM_ADDR_MAX + 64], val[PM_ADDR_MAX + 96], ttl[24];
    const char *argv[5] = {"SET", key, val, "EX", ttl};
    long long days = c->conf->suppress_days > 0 ? c->conf->suppress_days : 180, now;
    struct entry e;
    redisReply *r;
    int rc;

    if (days_arg && (ctl_number(days_arg, 3650, &days) < 0 || days < 1))
        return ctl_fail(CTL_USAGE, "suppress add: bad number of days \"%s\" (1 to 3650)", days_arg);
    if (!status)
        status = "5.1.1";
    if (!status_ok(status))
        return ctl_fail(CTL_USAGE,
                        "suppress add: \"%s\" is not the status of an invalid address "
                        "(5.1.1, 5.1.2, 5.1.3 or 5.1.10)",
                        status);
    if ((rc = ctl_now(c, &now)) != CTL_OK)
        return rc;
    sup_key(c, rcpt, key, sizeof(key));
    snprintf(val, sizeof(val), "%lld|%s|admin:%s", now, status, ctl_who());
    snprintf(ttl, sizeof(ttl), "%lld", days * CTL_DAY);
    if (!(r = ctl_cmdv(c, 5, argv)))
        return CTL_ERR;
    freeReplyObject(r);
    if ((rc = entry_read(c, rcpt, &e)) != CTL_OK)
        return rc == CTL_NOTFOUND ? ctl_fail(CTL_ERR, "suppress add: entry vanished") : rc;
    if (c->json) {
        entry_json(&e, now);
        printf("\n");
    } else {
        printf("suppressed %s for %lld days\n", rcpt, days);
    }
    return CTL_OK;
}

/* suppress del|check RCPT */
static int
suppress_one(struct ctl *c, const char *rcpt, int del)
{
    char key[PM_ADDR_MAX + 64];
    struct entry e;
    long long now;
    redisReply *r;
    int rc;

    if ((rc = ctl_now(c, &now)) != CTL_OK)
        return rc;
    rc = entry_read(c, rcpt, &e);
    if (rc == CTL_ERR)
        return rc;
    if (rc == CTL_NOTFOUND)
        return ctl_fail(CTL_NOTFOUND, "%s is not on the suppression list", rcpt);
    if (del) {
        sup_key(c, rcpt, key, sizeof(key));
        if (!(r = ctl_cmd(c, "DEL %s", key)))
            return CTL_ERR;
        freeReplyObject(r);
    }
    if (c->json) {
        printf("{\"suppressed\":%s,\"entry\":", del ? "false" : "true");
        entry_json(&e, now);
        printf("}\n");
    } else {
        printf("%s%s\n", del ? "removed: " : "", del ? rcpt : "suppressed:");
        if (!del)
            entry_text(&e, now);
    }
    return CTL_OK;
}

/* suppress list|add|del|check ... */
int
cmd_suppress(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"-n", "--days", "--status", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    const char *sub = argc > 0 ? argv[0] : "";
    char rcpt[PM_ADDR_MAX];
    int rc, list = strcmp(sub, "list") == 0, add = strcmp(sub, "add") == 0;

    if (!list && !add && strcmp(sub, "del") != 0 && strcmp(sub, "check") != 0)
        return ctl_fail(CTL_USAGE, "usage: suppress list [-n N] | suppress add RCPT [--days N] "
                                   "[--status X.Y.Z] | suppress del|check RCPT");
    if ((rc = ctl_getopts("suppress", argc - 1, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != (list ? 0 : 1) || (!list && o.value[0]) || (!add && (o.value[1] || o.value[2])))
        return ctl_fail(CTL_USAGE, "usage: suppress %s%s", sub,
                        list  ? " [-n N]"
                        : add ? " RCPT [--days N] [--status X.Y.Z]"
                              : " RCPT");
    if (list)
        return suppress_list(c, o.value[0]);
    if (pm_addr_normalise(o.pos[0], rcpt, sizeof(rcpt)) != 0 || !rcpt_ok(rcpt))
        return ctl_fail(CTL_USAGE, "not a recipient address: \"%s\"", o.pos[0]);
    if (add)
        return suppress_add(c, rcpt, o.value[1], o.value[2]);
    return suppress_one(c, rcpt, strcmp(sub, "del") == 0);
}
