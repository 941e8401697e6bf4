/*
 * conf_plan.c - the configuration's plans: each plan's limits, over-limit
 * action and warm-up curve, the default plan, and the lookup of a plan by
 * name (pm_conf_plan_index, conf.h) that conf_assign.c and the program use.
 *
 *   plans: { outreach: { messages_per_day = 300; warmup = [ 20, 50, 100, 200 ]; };
 *            brand:    { warmup_start = 10; warmup_growth = 1.5; }; };
 *   default_plan = "outreach";
 *
 * plan_keys names every key of a plan, as conf_keys (conf.c) does for the
 * file. A curve is an explicit list of increasing daily caps, or a start and
 * a growth factor; a plan that names neither gets the default curve. Each
 * stage's hourly cap is warmup.hourly_share of its daily cap, rounded up.
 * Every limit, cap and start is at most PM_LIMIT_MAX (a growth curve ends
 * before a stage above it), a growth at most 10, a curve at most
 * PM_WARMUP_MAX_STAGES stages: no value can overflow what is computed from it.
 * Without a plans group there is one plan, "default", with every default.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <libconfig.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "curve.h"

_Static_assert(PM_WARMUP_CAP_MAX == PM_LIMIT_MAX, "a warm-up cap is bounded as a limit is");

/* Over-limit actions: "accept" is not one of them. */
static const int plan_actions[] = {PM_ACT_TEMPFAIL, PM_ACT_REJECT, PM_ACT_HOLD, PM_ACT_TAG, -1};

/* clang-format off */
#define P(f) offsetof(struct pm_plan, f)
#define K_PLAN_SPECIAL(N) {.name = N, .type = KT_SPECIAL}
#define K_LIMIT(N, F, D) {.name = N, .type = KT_LLONG, .off = P(lim.F), .def = D, .min = 0, \
    .max = PM_LIMIT_MAX}
#define K_ACTION(N, F, D, CH) {.name = N, .type = KT_ACTION, .off = P(F), .def = D, \
    .acts = CH}

/* Every key of a plan; offsets are into struct pm_plan. */
static const struct conf_key plan_keys[] = {
    K_LIMIT("messages_per_hour",      msgs_hour,     100),
    K_LIMIT("messages_per_day",       msgs_day,      500),
    K_LIMIT("recipients_per_hour",    rcpts_hour,    0),
    K_LIMIT("recipients_per_day",     rcpts_day,     1000),
    K_LIMIT("new_recipients_per_day", new_rcpts_day, 100),
    K_LIMIT("recipients_per_message", rcpts_per_msg, 100),
    K_LIMIT("internal_messages_per_hour", int_msgs_hour, 0),
    K_LIMIT("internal_messages_per_day",  int_msgs_day,  0),
    K_ACTION("action", action, PM_ACT_TEMPFAIL, plan_actions),
    K_PLAN_SPECIAL("warmup"),
    K_PLAN_SPECIAL("warmup_start"),
    K_PLAN_SPECIAL("warmup_growth"),
};
/* clang-format on */

/* The warm-up curve of a plan that names none. */
static const long long default_curve[] = {20, 40, 60, 80, 100, 150, 200, 300, 400, 500};

/* 1 when name is a valid plan name: 1 to PM_PLAN_NAME_MAX of [A-Za-z0-9_-]. */
static int
plan_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n > 0 && n <= PM_PLAN_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Read a plan's warm-up: an explicit list, or start and growth. */
static int
load_plan_warmup(struct loader *ld, const config_setting_t *grp, const char *prefix,
                 struct pm_plan *plan)
{
    const config_setting_t *list = grp ? config_setting_get_member(grp, "warmup") : NULL;
    const config_setting_t *start = grp ? config_setting_get_member(grp, "warmup_start") : NULL;
    const config_setting_t *growth = grp ? config_setting_get_member(grp, "warmup_growth") : NULL;
    long long caps[PM_WARMUP_MAX_STAGES], v = 0;
    double g = 0;
    int i, n, t;

    plan->warmup_set = list || start || growth;
    if (list && (start || growth))
        return pm_conf_fail(
            ld, list, "%swarmup: give either a list or warmup_start and warmup_growth", prefix);
    if (start || growth) {
        if (!start || !growth)
            return pm_conf_fail(ld, start ? start : growth,
                                "%swarmup_start and warmup_growth go together", prefix);
        if (pm_conf_get_integer(ld, start, "warmup_start", &v) < 0)
            return -1;
        t = config_setting_type(growth);
        if (t == CONFIG_TYPE_FLOAT)
            g = config_setting_get_float(growth);
        else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
            g = (double)config_setting_get_int64(growth);
        else
            return pm_conf_fail(ld, growth, "%swarmup_growth: expected a number, not %s", prefix,
                                pm_conf_type_name(growth));
        if (v < 1 || v > PM_LIMIT_MAX)
            return pm_conf_fail(ld, start, "%swarmup_start: %lld is out of range (1-%lld)", prefix,
                                v, PM_LIMIT_MAX);
        if (!(g > 1.0 && g <= 10.0))
            return pm_conf_fail(
                ld, growth, "%swarmup_growth: %g is out of range (above 1, at most 10)", prefix, g);
        if (pm_curve_from_growth(v, g, plan->lim.msgs_day, &plan->warmup) < 0)
            return pm_conf_fail(ld, growth, "%swarmup: not a curve", prefix);
    } else if (list) {
        if (!config_setting_is_array(list) && !config_setting_is_list(list))
            return pm_conf_fail(ld, list, "%swarmup: expected a list of numbers, not %s", prefix,
                                pm_conf_type_name(list));
        n = config_setting_length(list);
        if (n > PM_WARMUP_MAX_STAGES)
            return pm_conf_fail(ld, list, "%swarmup: at most %d stages", prefix,
                                PM_WARMUP_MAX_STAGES);
        for (i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);

            if (pm_conf_get_integer(ld, e, "warmup", &caps[i]) < 0)
                return -1;
            if (caps[i] > PM_LIMIT_MAX)
                return pm_conf_fail(ld, e, "%swarmup[%d]: %lld is out of range (1-%lld)", prefix, i,
                                    caps[i], PM_LIMIT_MAX);
            if (caps[i] < 1 || (i > 0 && caps[i] <= caps[i - 1]))
                return pm_conf_fail(ld, e,
                                    "%swarmup: stages must be positive and increasing (%lld)",
                                    prefix, caps[i]);
        }
        if (pm_curve_from_list(caps, (size_t)n, plan->lim.msgs_day, &plan->warmup) < 0)
            return pm_conf_fail(ld, list, "%swarmup: not a curve", prefix);
    } else {
        pm_curve_from_list(default_curve, sizeof(default_curve) / sizeof(default_curve[0]),
                           plan->lim.msgs_day, &plan->warmup);
    }
    for (i = 0; i < (int)plan->warmup.n; i++)
        plan->warmup_hour[i] =
            pm_curve_hour_cap(plan->warmup.cap[i], ld->conf->warmup_hourly_share);
    return 0;
}

/* Fill plan named name from the keys of grp (NULL: all defaults). */
static int
load_plan(struct loader *ld, const config_setting_t *grp, const char *name, struct pm_plan *plan)
{
    char prefix[128], kname[192];
    size_t i;

    if (!(plan->name = strdup(name)))
        return pm_conf_fail(ld, grp, "plans.%s: out of memory", name);
    snprintf(prefix, sizeof(prefix), "plans.%s.", name);
    if (grp && pm_conf_check_members(ld, grp, plan_keys, NKEYS(plan_keys), NULL, prefix) < 0)
        return -1;
    for (i = 0; i < NKEYS(plan_keys); i++) {
        const config_setting_t *s = grp ? config_setting_get_member(grp, plan_keys[i].name) : NULL;

        snprintf(kname, sizeof(kname), "%s%s", prefix, plan_keys[i].name);
        if (pm_conf_load_key(ld, &plan_keys[i], s, kname, plan) < 0)
            return -1;
    }
    return load_plan_warmup(ld, grp, prefix, plan);
}

/* plans: a group of named plans; absent, one plan "default". */
int
pm_conf_load_plans(struct loader *ld, const config_setting_t *s, const char *kname)
{
    struct pm_conf *c = ld->conf;
    size_t i, n = s ? (size_t)config_setting_length(s) : 1;

    if (s && !config_setting_is_group(s))
        return pm_conf_fail(ld, s, "%s: expected a group of plans { NAME: { ... }; }, not %s",
                            kname, pm_conf_type_name(s));
    if (!(c->plans = calloc(n ? n : 1, sizeof(*c->plans))))
        return pm_conf_fail(ld, s, "%s: out of memory", kname);
    if (!s) {
        c->n_plans = 1;
        return load_plan(ld, NULL, "default", &c->plans[0]);
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *p = config_setting_get_elem(s, (unsigned int)i);
        const char *name = config_setting_name(p);

        if (!plan_name_ok(name))
            return pm_conf_fail(ld, p,
                                "%s.%.80s: a plan name is 1 to %d characters of A-Z a-z 0-9 _ -",
                                kname, name, PM_PLAN_NAME_MAX);
        if (!config_setting_is_group(p))
            return pm_conf_fail(ld, p, "%s.%s: expected a group { ... }, not %s", kname, name,
                                pm_conf_type_name(p));
        c->n_plans = i + 1;
        if (load_plan(ld, p, name, &c->plans[i]) < 0)
            return -1;
    }
    return 0;
}

/* default_plan: the name of an existing plan. */
int
pm_conf_load_default_plan(struct loader *ld, const config_setting_t *s, const char *kname)
{
    const char *name = "default";

    if (s && !(name = pm_conf_get_string(ld, s, kname)))
        return -1;
    ld->conf->default_plan = pm_conf_plan_index(ld->conf, name);
    if (ld->conf->default_plan >= 0)
        return 0;
    return pm_conf_fail(ld, s ? s : pm_conf_find_setting(ld, NULL, "plans"),
                        "%s: no plan named \"%s\"", kname, name);
}

/* Index of the plan named name, or -1. */
int
pm_conf_plan_index(const struct pm_conf *conf, const char *name)
{
    size_t i;

    for (i = 0; i < conf->n_plans; i++)
        if (conf->plans[i].name && strcmp(conf->plans[i].name, name) == 0)
            return (int)i;
    return -1;
}
