/*
 * suppress.c - postmeterctl suppress list|add|del|check|migrate: the
 * suppression lists.
 *
 * Each company (sender domain) has its own list: a hard bounce of mail a
 * sender of example.com sent suppresses that address for the senders of
 * example.com only, refused at RCPT TO with 550 5.1.1. An entry holds when
 * (store time), the DSN status and whose mail bounced ("admin:<user>" for
 * entries added here), and lasts suppression.days. Addresses are kept in the
 * clear so administrators can see them, normalised as the milter normalises
 * recipients. The store (policy/store_redis_feedback.c) owns the layout.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define LIST_MAX 100000

/* One entry of a list. */
struct entry {
    char company[256];
    char rcpt[PM_ADDR_MAX];
    struct pm_suppressed e;
};

/* The entries gathered from the store. */
struct entries {
    struct entry *v;
    size_t n, cap, total;
};

/* Gather one entry (pm_store_suppress_list callback); 0 to go on. */
static int
gather(void *arg, const char *company, const char *rcpt, const struct pm_suppressed *e)
{
    struct entries *l = arg;
    struct entry *grown;

    l->total++;
    if (l->n == l->cap) {
        if (l->cap >= LIST_MAX)
            return 0; /* counted, not kept */
        l->cap = l->cap ? l->cap * 2 : 64;
        if (!(grown = realloc(l->v, l->cap * sizeof(*l->v))))
            return 1;
        l->v = grown;
    }
    snprintf(l->v[l->n].company, sizeof(l->v[l->n].company), "%s", company);
    snprintf(l->v[l->n].rcpt, sizeof(l->v[l->n].rcpt), "%s", rcpt);
    l->v[l->n].e = *e;
    l->n++;
    return 0;
}

/* Read the entries of company (NULL: all) and rcpt (NULL: all); CTL_OK or CTL_ERR. */
static int
read_list(struct ctl *c, const char *company, const char *rcpt, struct entries *l)
{
    struct pm_store *st = NULL;
    char err[512];
    int rc;

    memset(l, 0, sizeof(*l));
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_suppress_list(st, company, rcpt, gather, l, err, sizeof(err))) < 0) {
        free(l->v);
        return ctl_store_fail(rc, err);
    }
    return CTL_OK;
}

/* Print one entry as a JSON object. */
static void
entry_json(const struct entry *x)
{
    fputs("{\"company\":", stdout);
    out_json_str(stdout, x->company);
    fputs(",\"recipient\":", stdout);
    out_json_str(stdout, x->rcpt);
    printf(",\"since\":%lld,\"until\":%lld,\"status\":", x->e.since, x->e.until);
    out_json_str(stdout, x->e.status);
    fputs(",\"sender\":", stdout);
    out_json_str(stdout, x->e.sender);
    fputs("}", stdout);
}

/* Print one entry as a line of text. */
static void
entry_text(const struct entry *x)
{
    char since[64], until[64];

    out_time(since, sizeof(since), x->e.since);
    out_time(until, sizeof(until), x->e.until);
    since[10] = until[10] = '\0';
    printf("%-36s %-24s %-7s %s to %s  %s\n", x->rcpt, x->company,
           x->e.status[0] ? x->e.status : "-", since, x->e.until ? until : "(none)", x->e.sender);
}

/* Order entries newest first. */
static int
by_since(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int d = strcmp(x->rcpt, y->rcpt);

    if (x->e.since != y->e.since)
        return (x->e.since < y->e.since) - (x->e.since > y->e.since);
    return d ? d : strcmp(x->company, y->company);
}

/* Print entries: a JSON object or a heading and lines. */
static void
print_list(const struct ctl *c, struct entries *l, size_t want, const char *heading)
{
    size_t i, shown;

    if (l->n) /* no array at all when nothing was found */
        qsort(l->v, l->n, sizeof(*l->v), by_since);
    shown = l->n < want ? l->n : want;
    if (c->json) {
        printf("{\"total\":%zu,\"entries\":[", l->total);
        for (i = 0; i < shown; i++) {
            fputs(i ? "," : "", stdout);
            entry_json(&l->v[i]);
        }
        printf("]}\n");
        return;
    }
    if (heading)
        printf("%zu suppressed address%s%s\n", l->total, l->total == 1 ? "" : "es",
               shown < l->total ? " (newest first, more with -n)" : "");
    for (i = 0; i < shown; i++)
        entry_text(&l->v[i]);
}

/* suppress list [-n N] [--domain D] */
static int
suppress_list(struct ctl *c, const char *limit, const char *company)
{
    struct entries l;
    long long want = 100;
    int rc;

    if (limit && (ctl_number(limit, LIST_MAX, &want) < 0 || want < 1))
        return ctl_fail(CTL_USAGE, "suppress list: bad count \"%s\"", limit);
    if ((rc = read_list(c, company, NULL, &l)) != CTL_OK)
        return rc;
    print_list(c, &l, (size_t)want, "");
    free(l.v);
    return CTL_OK;
}

/* 1 when s is a status code of an invalid address, as a hard bounce gives:
 * 5.1.1, 5.1.2, 5.1.3, 5.1.6 or 5.1.10 (a temporary failure or a block is not). */
static int
status_ok(const char *s)
{
    return strcmp(s, "5.1.1") == 0 || strcmp(s, "5.1.2") == 0 || strcmp(s, "5.1.3") == 0 ||
           strcmp(s, "5.1.6") == 0 || strcmp(s, "5.1.10") == 0;
}

/* 1 when a normalised address has a local part and a domain of non-empty labels. */
static int
rcpt_ok(const char *a)
{
    const char *at = strrchr(a, '@');

    return at && at > a && at[1] && at[1] != '.' && a[strlen(a) - 1] != '.' && !strstr(at, "..");
}

/* The company an entry is added to: --domain, or the one local domain. */
static int
add_company(const struct ctl *c, const char *arg, char *out, size_t len)
{
    if (arg) {
        snprintf(out, len, "%s", arg);
        return CTL_OK;
    }
    if (c->conf->n_local_domains == 1) {
        snprintf(out, len, "%s", c->conf->local_domains[0]);
        return CTL_OK;
    }
    return ctl_fail(CTL_USAGE,
                    "suppress add: name the company whose senders must not write to it "
                    "with --domain DOMAIN (local_domains lists %zu domains)",
                    c->conf->n_local_domains);
}

/* suppress add RCPT [--domain D] [--days N] [--status X.Y.Z] */
static int
suppress_add(struct ctl *c, const char *rcpt, const char *domain, const char *days_arg,
             const char *status)
{
    long long days = c->conf->suppress_days > 0 ? c->conf->suppress_days : 180;
    char company[PM_ADDR_MAX], by[128], err[512];
    struct entries l;
    struct pm_store *st = NULL;
    int rc;

    if (days_arg && (ctl_number(days_arg, 3650, &days) < 0 || days < 1))
        return ctl_fail(CTL_USAGE, "suppress add: bad number of days \"%s\" (1 to 3650)", days_arg);
    if (!status)
        status = "5.1.1";
    if (!status_ok(status))
        return ctl_fail(CTL_USAGE,
                        "suppress add: \"%s\" is not the status of an invalid address "
                        "(5.1.1, 5.1.2, 5.1.3, 5.1.6 or 5.1.10)",
                        status);
    if ((rc = add_company(c, domain, company, sizeof(company))) != CTL_OK ||
        (rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    snprintf(by, sizeof(by), "admin:%s", ctl_who());
    if ((rc = pm_store_suppress_set(st, company, rcpt, status, by, (int)days, err, sizeof(err))) <
        0)
        return ctl_store_fail(rc, err);
    if ((rc = read_list(c, company, rcpt, &l)) != CTL_OK)
        return rc;
    if (!l.n) {
        free(l.v);
        return ctl_fail(CTL_ERR, "suppress add: the entry vanished");
    }
    if (c->json) {
        entry_json(&l.v[0]);
        printf("\n");
    } else {
        printf("suppressed %s for the senders of %s for %lld day%s\n", rcpt, company, days,
               out_s(days));
    }
    free(l.v);
    return CTL_OK;
}

/* suppress del|check RCPT [--domain D]: without --domain, every company's entry */
static int
suppress_one(struct ctl *c, const char *rcpt, const char *company, int del)
{
    struct pm_store *st = NULL;
    struct entries l;
    char err[512];
    size_t i;
    int rc;

    if ((rc = read_list(c, company, rcpt, &l)) != CTL_OK)
        return rc;
    if (!l.n) {
        free(l.v);
        return ctl_fail(CTL_NOTFOUND, "%s is not on the suppression list%s%s", rcpt,
                        company ? " of " : "", company ? company : "");
    }
    for (i = 0; del && i < l.n; i++)
        if ((rc = ctl_store(c, &st)) != CTL_OK ||
            (rc = pm_store_suppress_set(st, l.v[i].company, rcpt, NULL, NULL, 0, err,
                                        sizeof(err))) < 0) {
            free(l.v);
            return rc > 0 ? rc : ctl_store_fail(rc, err);
        }
    if (c->json) {
        printf("{\"suppressed\":%s,\"entries\":[", del ? "false" : "true");
        for (i = 0; i < l.n; i++) {
            fputs(i ? "," : "", stdout);
            entry_json(&l.v[i]);
        }
        printf("]}\n");
    } else {
        printf("%s\n", del ? "removed:" : "suppressed:");
        print_list(c, &l, l.n, NULL);
    }
    free(l.v);
    return CTL_OK;
}

/* suppress migrate: entries of the layout before companies go to their company */
static int
suppress_migrate(struct ctl *c)
{
    struct pm_store *st = NULL;
    long long moved;
    char err[512];
    int rc;

    if (c->conf->n_cluster) {
        fprintf(stderr, "postmeterctl: suppress migrate runs on one Redis server (or the "
                        "Sentinels' primary), not on a cluster (README: Redis Cluster)\n");
        return CTL_ERR;
    }
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_suppress_migrate(st, (const char *const *)c->conf->local_domains,
                                        c->conf->n_local_domains, &moved, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (c->json)
        printf("{\"moved\":%lld}\n", moved);
    else
        printf("moved %lld entr%s to the lists of their companies\n", moved,
               moved == 1 ? "y" : "ies");
    return CTL_OK;
}

/* suppress list|add|del|check|migrate ... */
int
cmd_suppress(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"-n", "--days", "--status", "--domain", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    const char *sub = argc > 0 ? argv[0] : "";
    char rcpt[PM_ADDR_MAX], domain[PM_ADDR_MAX];
    int rc, list = strcmp(sub, "list") == 0, add = strcmp(sub, "add") == 0;
    int migrate = strcmp(sub, "migrate") == 0;

    if (!list && !add && !migrate && strcmp(sub, "del") != 0 && strcmp(sub, "check") != 0)
        return ctl_fail(CTL_USAGE, "usage: suppress list [-n N] [--domain D] | suppress add RCPT "
                                   "[--domain D] [--days N] [--status X.Y.Z] | suppress del|check "
                                   "RCPT [--domain D] | suppress migrate");
    if ((rc = ctl_getopts("suppress", argc - 1, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != (list || migrate ? 0 : 1) || (!list && o.value[0]) ||
        (!add && (o.value[1] || o.value[2])) || (migrate && o.value[3]))
        return ctl_fail(CTL_USAGE, "usage: suppress %s%s", sub,
                        list      ? " [-n N] [--domain D]"
                        : add     ? " RCPT [--domain D] [--days N] [--status X.Y.Z]"
                        : migrate ? ""
                                  : " RCPT [--domain D]");
    if (o.value[3] && (pm_addr_normalise(o.value[3], domain, sizeof(domain)) != 0 || !*domain ||
                       strchr(domain, '@')))
        return ctl_fail(CTL_USAGE, "not a domain: \"%s\"", o.value[3]);
    if (migrate)
        return suppress_migrate(c);
    if (list)
        return suppress_list(c, o.value[0], o.value[3] ? domain : NULL);
    if (pm_addr_normalise(o.pos[0], rcpt, sizeof(rcpt)) != 0 || !rcpt_ok(rcpt))
        return ctl_fail(CTL_USAGE, "not a recipient address: \"%s\"", o.pos[0]);
    if (add)
        return suppress_add(c, rcpt, o.value[3] ? domain : NULL, o.value[1], o.value[2]);
    return suppress_one(c, rcpt, o.value[3] ? domain : NULL, strcmp(sub, "del") == 0);
}
