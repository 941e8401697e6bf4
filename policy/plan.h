/*
 * plan.h - which plan applies to a sender, and to a sender's domain.
 *
 * Assignment rules are tried in configuration order; the first match wins.
 * A sender no rule matches gets the default plan; a domain no rule matches
 * has no company-wide cap.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_PLAN_H
#define PM_PLAN_H

#include "conf.h"

/* Index of the plan of a normalised sender; login is the SASL login or NULL. */
int pm_plan_for_sender(const struct pm_conf *conf, const char *sender, const char *login);

/* Index of the company-wide plan of a sender domain, or -1 when none applies. */
int pm_plan_for_domain(const struct pm_conf *conf, const char *domain);

/* 1 when one assignment rule matches the sender (or the domain, for domain rules). */
int pm_assign_match(const struct pm_assign *rule, const char *sender, const char *login);

/* A plan's limits in the store's counter order (enum pm_counter; 0 = none). */
void pm_plan_counter_limits(const struct pm_limits *l, long long *out);

/* Halve the outgoing limits of counter-ordered lim (at least 1 each), as the
 * meter script does when a sender's bounce rate reaches reputation.halve_limits. */
void pm_plan_halve(long long *lim);

#endif
