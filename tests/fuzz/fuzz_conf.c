/*
 * fuzz_conf.c - libFuzzer target for the configuration loader: any file
 * content must load or be refused with "file:line: ...", never crash, leak
 * or hang.
 *
 * What loaded must hold within its bounds: every limit and warm-up cap at
 * most PM_WARMUP_CAP_MAX, curves strictly increasing with hourly caps between
 * 1 and the day's cap (the values the store's plan table and the meter
 * script are built from), at most PM_RULES_MAX rules with names, replies and
 * condition values within theirs. The warm-up functions also run on the
 * curves that loaded and on the input's first bytes taken as raw arguments,
 * so that they are tried with any value, not only those the loader lets by.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "curve.h"

/* Abort unless ok: a broken invariant is a finding. */
static void
check(int ok)
{
    if (!ok)
        abort();
}

/* A curve is at most PM_WARMUP_MAX_STAGES caps within 1..PM_WARMUP_CAP_MAX, increasing. */
static void
check_curve(const struct pm_curve *c)
{
    size_t i;

    check(c->n <= PM_WARMUP_MAX_STAGES);
    for (i = 0; i < c->n; i++)
        check(c->cap[i] >= 1 && c->cap[i] <= PM_WARMUP_CAP_MAX &&
              (i == 0 || c->cap[i] > c->cap[i - 1]));
}

/* A limit is 0 (none) to PM_WARMUP_CAP_MAX (the loader's PM_LIMIT_MAX). */
static void
check_limit(long long v)
{
    check(v >= 0 && v <= PM_WARMUP_CAP_MAX);
}

/* A plan as loaded: limits, curve and hourly caps, rebuilt by the warm-up functions. */
static void
check_plan(const struct pm_conf *conf, const struct pm_plan *p)
{
    const struct pm_limits *l = &p->lim;
    struct pm_curve again;
    size_t i;

    check_limit(l->msgs_hour);
    check_limit(l->msgs_day);
    check_limit(l->rcpts_hour);
    check_limit(l->rcpts_day);
    check_limit(l->new_rcpts_day);
    check_limit(l->rcpts_per_msg);
    check_limit(l->int_msgs_hour);
    check_limit(l->int_msgs_day);
    check_curve(&p->warmup);
    for (i = 0; i < p->warmup.n; i++) {
        check(p->warmup_hour[i] >= 1 && p->warmup_hour[i] <= p->warmup.cap[i]);
        check(p->warmup_hour[i] == pm_curve_hour_cap(p->warmup.cap[i], conf->warmup_hourly_share));
        check(pm_curve_day_cap(&p->warmup, (long long)i) == p->warmup.cap[i]);
        check(l->msgs_day == 0 || p->warmup.cap[i] < l->msgs_day);
    }
    check(pm_curve_day_cap(&p->warmup, (long long)p->warmup.n) == 0);
    check(pm_curve_from_list(p->warmup.cap, p->warmup.n, l->msgs_day, &again) == 0);
    check(again.n == p->warmup.n);
    if (p->warmup.n)
        check(pm_curve_from_growth(p->warmup.cap[0], 2.0, l->msgs_day, &again) == 0);
    check_curve(&again);
}

/* Rules as loaded: how many, and the bounds of their texts and values. */
static void
check_rules(const struct pm_conf *conf)
{
    size_t i, j;

    check(conf->n_rules <= PM_RULES_MAX);
    for (i = 0; i < conf->n_rules; i++) {
        const struct pm_rule *r = &conf->rules[i];

        check(strlen(r->name) <= PM_RULE_NAME_MAX && strlen(r->reply) <= PM_RULE_REPLY_MAX);
        for (j = 0; j < r->n_all; j++)
            check(r->all[j].value >= 0 && r->all[j].value <= PM_WARMUP_CAP_MAX);
        for (j = 0; j < r->n_any; j++)
            check(r->any[j].value >= 0 && r->any[j].value <= PM_WARMUP_CAP_MAX);
    }
}

/* The warm-up functions on raw arguments: whatever they are, no overflow, bounded caps. */
static void
check_raw(const uint8_t *data, size_t size)
{
    long long start, limit;
    double growth;
    struct pm_curve c;
    long long h;

    if (size < 2 * sizeof(long long) + sizeof(double))
        return;
    memcpy(&start, data, sizeof(start));
    memcpy(&growth, data + sizeof(start), sizeof(growth));
    memcpy(&limit, data + sizeof(start) + sizeof(growth), sizeof(limit));
    if (pm_curve_from_growth(start, growth, limit, &c) == 0)
        check(start >= 1 && start <= PM_WARMUP_CAP_MAX && growth > 1.0);
    check_curve(&c);
    h = pm_curve_hour_cap(start, growth);
    check(start <= 0 ? h == 0 : h >= 1 && h <= start);
    h = pm_curve_hour_cap(limit, growth);
    check(limit <= 0 ? h == 0 : h >= 1 && h <= limit);
    (void)pm_curve_day_cap(&c, limit);
}

/* Write the input to a temporary file and load it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/pm-fuzz-conf-XXXXXX", err[1024];
    struct pm_conf *conf = NULL;
    int fd = mkstemp(path);
    size_t i;

    check_raw(data, size);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    if (pm_conf_load(path, &conf, err, sizeof(err)) == 0) {
        check(conf->n_plans >= 1);
        for (i = 0; i < conf->n_plans; i++)
            check_plan(conf, &conf->plans[i]);
        check_rules(conf);
        pm_conf_free(conf);
    } else if (strchr(err, ':') == NULL) {
        abort(); /* every error is "file:line: what is wrong" */
    }
    unlink(path);
    return 0;
}
