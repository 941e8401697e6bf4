/*
 * notice_digest.c - the daily digest: once a day, after notify.digest_hour
 * in the configured time zone, one server of those sharing the store mails
 * the administrators the previous day's refusals, by sender and limit.
 *
 * DESCRIPTION
 *     The previous day is the UTC day number floor(store time / 86400) - 1,
 *     the day of the record "<prefix>:v1:hits:<day>" the meter script
 *     writes. The server that claims "<prefix>:v1:digest:<day>" first (SET
 *     NX, store.h's digest_elect) sends it; the others see it claimed. When
 *     sending fails, the winner gives up its claim (digest_unclaim) and tries
 *     again at the next ticks, DIGEST_TRIES times in all, and so may any other
 *     server. A day without refusals has no digest. The table is sorted by
 *     refusals, most first, at most DIGEST_LINES lines, then "and N more".
 *     Then a short
 *     list of silent senders: of those that sent mail in the last 7 days,
 *     each with at least reputation.min_first_contacts first-contact
 *     recipients in 30 days of which none replied (store.h's digest_silent),
 *     at most SILENT_LINES, most first contacts first. A day without
 *     refusals or silent senders has no digest.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "notice_int.h"
#include "zone.h"

#define DIGEST_LINES 200 /* rows of the table; the rest are counted */
#define DIGEST_MAX 10000 /* rows read (the meter script keeps no more) */
#define SILENT_LINES 20  /* the silent senders listed; the rest are counted */
#define DIGEST_TRIES 5   /* a failed digest is tried again at the next ticks, this often */

/* The rows read so far. */
struct hits {
    struct notice_hit *rows;
    size_t n, cap;
};

/* Keep one row of the record. */
static int
keep_hit(void *arg, const char *sender, const char *limit, long long n)
{
    struct hits *h = arg;
    struct notice_hit *r;

    if (n <= 0)
        return 0;
    if (h->n == DIGEST_MAX)
        return 1; /* the meter script keeps no more */
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;

        if (cap > DIGEST_MAX)
            cap = DIGEST_MAX;
        if (!(r = realloc(h->rows, cap * sizeof(*r))))
            return 1;
        h->rows = r;
        h->cap = cap;
    }
    r = &h->rows[h->n++];
    pm_notice_clean(sender, r->sender, sizeof(r->sender));
    pm_notice_clean(limit, r->limit, sizeof(r->limit));
    r->n = n;
    return 0;
}

/* Keep one silent sender (limit left empty). */
static int
keep_silent(void *arg, const char *sender, long long first)
{
    return keep_hit(arg, sender, "", first);
}

/* Most refusals first, then by sender and limit. */
static int
by_refusals(const void *a, const void *b)
{
    const struct notice_hit *x = a, *y = b;
    int c;

    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    if ((c = strcmp(x->sender, y->sender)) != 0)
        return c;
    return strcmp(x->limit, y->limit);
}

/* The digest's text of day. */
void
pm_notice_digest_text(struct pm_buf *b, const struct notice_cfg *c, long long day,
                      struct notice_hit *rows, size_t n, struct notice_hit *silent, size_t ns,
                      long long now, unsigned seq)
{
    char date[32], subject[128];
    long long total = 0;
    size_t i;

    if (n)
        qsort(rows, n, sizeof(*rows), by_refusals);
    for (i = 0; i < n; i++)
        total += rows[i].n;
    pm_zone_format(day * 86400, "%Y-%m-%d", 0, date, sizeof(date));
    snprintf(subject, sizeof(subject), "postmeter: daily digest of %s (UTC): %lld refusals", date,
             total);
    pm_notice_headers(b, c, (const char *const *)c->admin, c->n_admin, subject, now, seq);
    pm_buf_printf(b,
                  "Refusals on %s (UTC), by sender and limit: %lld, %zu sender%s and limit%s.\n\n",
                  date, total, n, n == 1 ? "" : "s", n == 1 ? "" : "s");
    if (n) {
        pm_buf_printf(b, "%-40s %-24s %9s\n", "sender", "limit", "refusals");
        for (i = 0; i < n && i < DIGEST_LINES; i++)
            pm_buf_printf(b, "%-40s %-24s %9lld\n", rows[i].sender, rows[i].limit, rows[i].n);
        if (n > DIGEST_LINES)
            pm_buf_printf(b, "and %zu more\n", n - DIGEST_LINES);
    }
    if (ns) {
        qsort(silent, ns, sizeof(*silent), by_refusals);
        pm_buf_printf(b,
                      "\nSenders with %lld or more first contacts and no reply in 30 days: "
                      "%zu.\n\n",
                      c->min_first, ns);
        pm_buf_printf(b, "%-40s %14s\n", "sender", "first contacts");
        for (i = 0; i < ns && i < SILENT_LINES; i++)
            pm_buf_printf(b, "%-40s %14lld\n", silent[i].sender, silent[i].n);
        if (ns > SILENT_LINES)
            pm_buf_printf(b, "and %zu more\n", ns - SILENT_LINES);
    }
    pm_buf_str(b, "\nSee a sender's use of its limits with: postmeterctl status SENDER\n");
}

/* Send the digest of day, which this server won; 0 (sent, or nothing to
 * send), or -1 when it failed. */
static int
send_digest(const struct notice_cfg *c, long long day, long long now)
{
    struct hits h = {NULL, 0, 0}, q = {NULL, 0, 0};
    char err[256], why[512];
    struct pm_buf b;
    char *msg;
    int rc;

    if ((rc = pm_store_digest_hits(c->store, day, keep_hit, &h, err, sizeof(err))) < 0) {
        pm_log(PM_LOG_ERR, "notice: digest of day %lld failed: %s", day, err);
        pm_metrics_notice(PM_NOTICE_DIGEST, 0);
        free(h.rows);
        return -1;
    }
    /* the silent senders: a failure to read them costs the list, not the digest */
    if (pm_store_digest_silent(c->store, c->min_first, keep_silent, &q, err, sizeof(err)) < 0) {
        pm_log(PM_LOG_WARNING, "notice: digest of day %lld: no silent senders: %s", day, err);
        q.n = 0;
    }
    if (h.n == 0 && q.n == 0) {
        pm_log(PM_LOG_INFO, "notice: digest of day %lld: nothing was refused, no digest", day);
        free(h.rows);
        free(q.rows);
        return 0;
    }
    pm_buf_growing(&b);
    pm_notice_digest_text(&b, c, day, h.rows, h.n, q.rows, q.n, now, pm_notice_seq());
    if (!(msg = pm_buf_take(&b))) {
        snprintf(why, sizeof(why), "out of memory");
        rc = -1;
    } else {
        rc = pm_notice_mail_admins(c, msg, strlen(msg), why, sizeof(why));
    }
    if (rc >= 0)
        pm_log(PM_LOG_NOTICE, "notice: digest of day %lld sent to %zu address%s: %zu rows", day,
               c->n_admin, c->n_admin == 1 ? "" : "es", h.n + q.n);
    if (rc > 0) /* sent by SMTP, but some administrators were refused */
        pm_log(PM_LOG_WARNING, "notice: digest of day %lld: %s", day, why);
    else if (rc < 0)
        pm_log(PM_LOG_ERR, "notice: digest of day %lld failed: %s", day, why);
    pm_metrics_notice(PM_NOTICE_DIGEST, rc >= 0);
    free(msg);
    free(h.rows);
    free(q.rows);
    return rc < 0 ? -1 : 0;
}

/* Claim the digest of day and send it when won; 0, -1 when the store could not
 * say, or 1 when sending failed (the claim is given up, so that a next try,
 * here or on another server, may send it). */
int
pm_notice_digest_day(const struct notice_cfg *c, long long day, long long now)
{
    char err[256], holder[320];
    int won;

    snprintf(holder, sizeof(holder), "%s:%ld", c->host, (long)getpid());
    if (pm_store_digest_elect(c->store, day, holder, &won, err, sizeof(err)) < 0) {
        pm_log(PM_LOG_WARNING, "notice: digest of day %lld: cannot claim it: %s", day, err);
        return -1;
    }
    if (!won) {
        pm_log(PM_LOG_DEBUG, "notice: digest of day %lld: another server sends it", day);
        return 0;
    }
    if (send_digest(c, day, now) == 0)
        return 0;
    if (pm_store_digest_unclaim(c->store, day, err, sizeof(err)) < 0)
        pm_log(PM_LOG_WARNING, "notice: digest of day %lld: cannot give up the claim: %s", day,
               err);
    return 1;
}

/* Send the previous day's digest when due and won. */
void
pm_notice_digest_tick(const struct notice_cfg *c, long long *done_day)
{
    static long long tried_day; /* the notifier is one thread */
    static int tries;
    char err[256];
    long long now, day;
    struct tm tm;
    int rc;

    if (!c->digest || !c->store || c->n_admin == 0)
        return;
    if (pm_store_now(c->store, &now, err, sizeof(err)) < 0) {
        pm_log(PM_LOG_WARNING, "notice: digest: cannot read the store's clock: %s", err);
        return;
    }
    day = now / 86400 - 1;
    pm_zone_tm(now, &tm);
    /* due at digest_hour of a local date after the UTC day's: west of UTC the
     * local hour at UTC midnight is already past it, on the same date */
    if (day <= *done_day || tm.tm_hour < c->digest_hour ||
        pm_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) <= day)
        return;
    rc = pm_notice_digest_day(c, day, now);
    if (day != tried_day)
        tried_day = day, tries = 0;
    if (rc == 0) {
        *done_day = day;
    } else if (rc > 0 && ++tries >= DIGEST_TRIES) {
        pm_log(PM_LOG_ERR, "notice: digest of day %lld: failed %d times, not tried again here", day,
               tries);
        *done_day = day;
    }
}
