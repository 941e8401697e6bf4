/*
 * conf_plan.c - a plan's name and warm-up curve in the configuration.
 *
 *   plans: { outreach: { messages_per_day = 300; warmup = [ 20, 50, 100, 200 ]; };
 *            brand:    { warmup_start = 10; warmup_growth = 1.5; }; };
 *
 * A curve is an explicit list of increasing daily caps, or a start and a
 * growth factor; a plan that names neither gets the default curve. Each
 * stage's hourly cap is warmup.hourly_share of its daily cap, rounded up.
 */
#include <libconfig.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "warmup.h"

/* The warm-up curve of a plan that names none (SPEC §5). */
static const long long default_curve[] = {20, 40, 60, 80, 100, 150, 200, 300, 400, 500};

/* 1 when name is a valid plan name: [A-Za-z0-9_-]+. */
int
pm_conf_plan_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n > 0 &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Read a plan's warm-up: an explicit list, or start and growth (SPEC §5). */
int
pm_conf_load_plan_warmup(struct loader *ld, const config_setting_t *grp, const char *prefix,
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
        pm_curve_from_growth(v, g, plan->lim.msgs_day, &plan->warmup);
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
            if (caps[i] < 1 || (i > 0 && caps[i] <= caps[i - 1]))
                return pm_conf_fail(ld, e,
                                    "%swarmup: stages must be positive and increasing (%lld)",
                                    prefix, caps[i]);
        }
        pm_curve_from_list(caps, (size_t)n, plan->lim.msgs_day, &plan->warmup);
    } else {
        pm_curve_from_list(default_curve, sizeof(default_curve) / sizeof(default_curve[0]),
                           plan->lim.msgs_day, &plan->warmup);
    }
    for (i = 0; i < (int)plan->warmup.n; i++)
        plan->warmup_hour[i] =
            pm_warmup_hour_cap(plan->warmup.cap[i], ld->conf->warmup_hourly_share);
    return 0;
}
