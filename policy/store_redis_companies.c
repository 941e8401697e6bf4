/*
 * store_redis_companies.c - the companies that hold a company-wide key of
 * layout 2 (the daily top index, the incident index, the digest's hits), for
 * the readers that go over every company: postmeterctl top and incident
 * list, the metrics refresher, the digest. Layout 2 keeps these per company
 * ("<prefix>:v2:{C}:top:<day>"); the companies are found by SCAN MATCH
 * "<prefix>:v2:{*}:<what>" on the one node (a read of the whole keyspace,
 * out of the mail path).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"

#define COMPANY_SCANS 100000 /* bound on SCAN calls (about 1000 keys each) */

/* The companies found so far. */
struct co_scan {
    char **co;
    size_t n, cap;
    size_t skip; /* strlen("<prefix>:v2:{") */
    int oom;
};

/* Keep the company of each key of a page; 0 to go on, -1 out of memory. */
static int
co_page(void *arg, const redisReply *keys)
{
    struct co_scan *x = arg;
    size_t i;

    for (i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str, *end;
        char **grown;

        if (keys->element[i]->type != REDIS_REPLY_STRING || strlen(k) <= x->skip ||
            !(end = strstr(k + x->skip, "}:")))
            continue;
        if (x->n == x->cap) {
            if (!(grown = realloc(x->co, (x->cap * 2 + 16) * sizeof(*grown)))) {
                x->oom = 1;
                return -1;
            }
            x->co = grown;
            x->cap = x->cap * 2 + 16;
        }
        if (!(x->co[x->n] = strndup(k + x->skip, (size_t)(end - k - x->skip)))) {
            x->oom = 1;
            return -1;
        }
        x->n++;
    }
    return 0;
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

/* The companies holding a key "<prefix>:v2:{C}:<what>" (what may hold a glob). */
int
rs_companies(struct redis_store *rs, const char *what, char ***out, size_t *n, char *err,
             size_t errlen)
{
    struct co_scan x = {NULL, 0, 0, strlen(rs->prefix) + 5, 0};
    char esc[160], *pattern;
    size_t i, u;
    int rc;

    *out = NULL;
    *n = 0;
    rs_glob_escape(rs->prefix, esc, sizeof(esc));
    if (!(pattern = malloc(strlen(esc) + strlen(what) + 16))) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    sprintf(pattern, "%s:v2:{*}:%s", esc, what);
    rc = rs_scan(rs, pattern, COMPANY_SCANS, co_page, &x, err, errlen);
    free(pattern);
    if (x.oom)
        snprintf(err, errlen, "out of memory");
    else if (rc == RS_SCAN_MORE)
        snprintf(err, errlen, "redis %s: the companies were not read whole in %d SCAN calls",
                 rs->name, COMPANY_SCANS);
    if (x.oom || rc < 0 || rc == RS_SCAN_MORE) {
        rs_companies_free(x.co, x.n);
        return rc < 0 ? rc : PM_STORE_ERROR;
    }
    if (x.n)
        qsort(x.co, x.n, sizeof(*x.co), co_cmp);
    for (i = u = 0; i < x.n; i++) {
        if (u && strcmp(x.co[u - 1], x.co[i]) == 0)
            free(x.co[i]);
        else
            x.co[u++] = x.co[i];
    }
    *out = x.co;
    *n = u;
    return PM_STORE_OK;
}
