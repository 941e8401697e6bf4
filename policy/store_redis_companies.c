/*
 * store_redis_companies.c - the company registry "<prefix>:v2:{@}:co"
 * (registry.lua): a sorted set, company -> store time it was last
 * announced. The daemons announce the companies they meter (policy/coreg.c,
 * from the watcher thread, off the mail path), postmeterctl incident open
 * the company of the sender; postmeterctl migrate fills it from the layout 2
 * keys (a SCAN, once). Nothing is written while the data is in layout 1.
 * The readers that go over every company (postmeterctl top and incident
 * list, the metrics refresher, the digest) read the members of the days
 * they need instead of scanning the keyspace, then each company's keys.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "registry_lua.h"
#include "store_redis_int.h"

#define REGISTRY_KEEP (9 * 86400) /* seconds a company is kept after its last announcement */
#define REGISTRY_MAX "1000000"    /* companies kept at most */
#define ANNOUNCE_BATCH 1000       /* companies per call */
#define FILL_SCANS 100000         /* bound on SCAN calls of a fill (about 1000 keys each) */

/* Run registry.lua (op, since) with the companies co[0..n); once more when
 * the guard refused the layout the data left meanwhile (its names were
 * built anew on the refusal). */
static int
registry_call(struct redis_store *rs, const char *op, const char *since, const char *const *co,
              size_t n, redisReply **r, char *err, size_t errlen)
{
    const char *keys[PM_GK_COUNT], **args;
    char keep[16];
    size_t i;
    int rc, tries;

    if (!(args = calloc(PM_GA_COUNT + n, sizeof(*args))) ||
        !(keys[PM_GK_CO] = pm_key_global(rs->prefix, PM_LAYOUT_V2, "co"))) {
        free(args);
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    snprintf(keep, sizeof(keep), "%d", REGISTRY_KEEP);
    args[PM_GA_CLOCK] = NULL; /* rs_script's */
    args[PM_GA_OP] = op;
    args[PM_GA_SINCE] = since;
    args[PM_GA_KEEP] = keep;
    args[PM_GA_MAX] = REGISTRY_MAX;
    for (i = 0; i < n; i++)
        args[PM_GA_COUNT + i] = co[i];
    for (tries = 0; tries < 2; tries++) {
        rc = rs_script(rs, pm_registry_lua, PM_GK_COUNT, keys, (int)(PM_GA_COUNT + n), args, r, err,
                       errlen);
        if (rc != PM_STORE_RETRY || !rs_layout_was_refused(rs))
            break;
    }
    if (rc == PM_STORE_OK && ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements < PM_GR_COUNT)) {
        snprintf(err, errlen, "redis %s: unexpected reply from the registry script", rs->name);
        freeReplyObject(*r);
        rc = PM_STORE_ERROR;
    }
    free((char *)keys[PM_GK_CO]);
    free(args);
    return rc;
}

/* Announce companies to the registry, ANNOUNCE_BATCH a call (n 0: one call
 * that only looks); *born (NULL: not asked) from the last reply. */
int
rs_announce(void *impl, const char *const *companies, size_t n, long long *born, char *err,
            size_t errlen)
{
    struct redis_store *rs = impl;
    redisReply *r;
    size_t i = 0, k;
    int rc;

    do {
        k = n - i < ANNOUNCE_BATCH ? n - i : ANNOUNCE_BATCH;
        if ((rc = registry_call(rs, "add", "", companies ? companies + i : NULL, k, &r, err,
                                errlen)) < 0)
            return rc;
        if (born)
            *born = r->element[PM_GR_BORN]->type == REDIS_REPLY_INTEGER
                        ? r->element[PM_GR_BORN]->integer
                        : -1;
        freeReplyObject(r);
        i += k;
    } while (i < n);
    return PM_STORE_OK;
}

/* qsort's order of two strings. */
static int
co_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Free a list of rs_companies. */
void
rs_companies_free(char **co, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(co[i]);
    free(co);
}

/* The registry's companies announced since a day (see store_redis_int.h). */
int
rs_companies(struct redis_store *rs, long long since, char ***out, size_t *n, char *err,
             size_t errlen)
{
    char s[24] = "";
    redisReply *r;
    size_t i, m = 0;
    char **co = NULL;
    int rc;

    *out = NULL;
    *n = 0;
    if (since != RS_COMPANIES_ALL)
        snprintf(s, sizeof(s), "%lld", since);
    if ((rc = registry_call(rs, "list", s, NULL, 0, &r, err, errlen)) < 0)
        return rc;
    if (r->elements > PM_GR_COUNT && !(co = calloc(r->elements - PM_GR_COUNT, sizeof(*co))))
        goto oom;
    for (i = PM_GR_COUNT; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING)
            continue;
        if (!(co[m] = strdup(r->element[i]->str)))
            goto oom;
        m++;
    }
    freeReplyObject(r);
    if (m)
        qsort(co, m, sizeof(*co), co_cmp);
    *out = co;
    *n = m;
    return PM_STORE_OK;
oom:
    freeReplyObject(r);
    rs_companies_free(co, m);
    snprintf(err, errlen, "out of memory");
    return PM_STORE_ERROR;
}

/* The companies of one SCAN page of layout 2 keys, announced. */
struct fill {
    struct redis_store *rs;
    size_t skip; /* strlen("<prefix>:v2:{") */
    char *err;
    size_t errlen;
};

/* Announce the companies of a page's keys, each once; 0 or a failure. */
static int
fill_page(void *arg, const redisReply *keys)
{
    struct fill *x = arg;
    char **co = calloc(keys->elements + 1, sizeof(*co));
    size_t i, j, m = 0, tl;
    int rc = 0;

    if (!co) {
        snprintf(x->err, x->errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    for (i = 0; i < keys->elements && rc == 0; i++) {
        const char *k = keys->element[i]->str, *t, *end;

        if (keys->element[i]->type != REDIS_REPLY_STRING || strlen(k) <= x->skip ||
            !(end = strstr((t = k + x->skip), "}:")))
            continue;
        tl = (size_t)(end - t);
        if (tl == strlen(PM_KEYS_GLOBAL_TAG) && strncmp(t, PM_KEYS_GLOBAL_TAG, tl) == 0)
            continue;
        for (j = 0; j < m && (strlen(co[j]) != tl || strncmp(co[j], t, tl) != 0); j++)
            ;
        if (j < m)
            continue;
        if ((co[m] = strndup(t, tl)) != NULL)
            m++;
        else {
            snprintf(x->err, x->errlen, "out of memory");
            rc = PM_STORE_ERROR;
        }
    }
    if (rc == 0 && m)
        rc = rs_announce(x->rs, (const char *const *)co, m, NULL, x->err, x->errlen);
    rs_companies_free(co, m);
    return rc < 0 ? rc : 0;
}

/* Announce every company that holds a layout 2 key (see store_redis_int.h). */
int
rs_companies_fill(struct redis_store *rs, char *err, size_t errlen)
{
    struct fill x = {rs, strlen(rs->prefix) + 5, err, errlen};
    char esc[160], pattern[176];
    int rc;

    rs_glob_escape(rs->prefix, esc, sizeof(esc));
    snprintf(pattern, sizeof(pattern), "%s:v2:{*", esc);
    rc = rs_scan(rs, pattern, FILL_SCANS, fill_page, &x, err, errlen);
    if (rc == RS_SCAN_MORE) {
        snprintf(err, errlen,
                 "redis %s: the keys were not seen whole in %d SCAN calls: run it again", rs->name,
                 FILL_SCANS);
        return PM_STORE_ERROR;
    }
    return rc < 0 ? rc : PM_STORE_OK;
}
