/*
 * plan.c - which plan applies to a sender, and to a sender's domain.
 *
 * Rules match an exact address, every address of a domain ("*@example.com"),
 * a glob (fnmatch(3)), or the SASL login. Patterns were lower-cased when the
 * configuration was loaded; senders arrive normalised (identity.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <fnmatch.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "plan.h"
#include "store.h"

/* 1 when one assignment rule matches the sender (or the domain). */
int
pm_assign_match(const struct pm_assign *rule, const char *sender, const char *login)
{
    switch (rule->kind) {
    case PM_MATCH_ADDRESS:
        return strcmp(rule->pattern, sender) == 0;
    case PM_MATCH_DOMAIN:
        return strcmp(rule->pattern, strchr(sender, '@') ? pm_addr_domain(sender) : sender) == 0;
    case PM_MATCH_GLOB:
        return fnmatch(rule->pattern, sender, 0) == 0;
    case PM_MATCH_LOGIN:
        return login && *login && strcasecmp(rule->pattern, login) == 0;
    }
    return 0;
}

/* Index of the plan of a normalised sender. */
int
pm_plan_for_sender(const struct pm_conf *conf, const char *sender, const char *login)
{
    size_t i;

    for (i = 0; i < conf->n_assign; i++)
        if (pm_assign_match(&conf->assign[i], sender, login))
            return conf->assign[i].plan;
    return conf->default_plan;
}

/* Index of the company-wide plan of a sender domain, or -1. */
int
pm_plan_for_domain(const struct pm_conf *conf, const char *domain)
{
    size_t i;

    if (!domain || !*domain)
        return -1;
    for (i = 0; i < conf->n_domain_assign; i++)
        if (pm_assign_match(&conf->domain_assign[i], domain, NULL))
            return conf->domain_assign[i].plan;
    return -1;
}

/* A plan's limits in the store's counter order. */
void
pm_plan_counter_limits(const struct pm_limits *l, long long *out)
{
    out[PM_C_MSGS_HOUR] = l->msgs_hour;
    out[PM_C_MSGS_DAY] = l->msgs_day;
    out[PM_C_RCPTS_HOUR] = l->rcpts_hour;
    out[PM_C_RCPTS_DAY] = l->rcpts_day;
    out[PM_C_NEW_DAY] = l->new_rcpts_day;
    out[PM_C_INT_HOUR] = l->int_msgs_hour;
    out[PM_C_INT_DAY] = l->int_msgs_day;
}

/* Halve the outgoing limits, as the meter script does under the reputation brake. */
void
pm_plan_halve(long long *lim)
{
    int c;

    for (c = 0; c <= PM_C_NEW_DAY; c++)
        if (lim[c] > 0)
            lim[c] = lim[c] / 2 > 1 ? lim[c] / 2 : 1;
}
