/*
 * conf_incidents.c - the incidents group: what happens to the mail of a
 * sender in incident (action, max_hours), the whole group's switch, and one
 * group per signal with its own switch and threshold (burst, fanout,
 * retry_storm, bounce_spike, new_network). A signal switched off has
 * threshold 0, which the meter script reads as off.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "conf_int.h"

/* A signal group as read: its switch and its values. */
struct signal_vals {
    int enabled;
    long long a, b; /* its thresholds (b: burst's multiple) */
    int days;
    double factor;
};

/* What an incident does to the sender's mail. */
static const int inc_actions[] = {PM_ACT_HOLD, PM_ACT_TEMPFAIL, -1};

/* clang-format off */
#define C(f) offsetof(struct pm_conf, f)
#define V(f) offsetof(struct signal_vals, f)
static const struct conf_key top_keys[] = {
    {.group = "incidents", .name = "enabled", .type = KT_BOOL, .off = C(inc_enabled), .def = 1},
    {.group = "incidents", .name = "action", .type = KT_ACTION, .off = C(inc_action),
     .def = PM_ACT_HOLD, .acts = inc_actions},
    {.group = "incidents", .name = "max_hours", .type = KT_INT, .off = C(inc_max_hours), .def = 0,
     .min = 0, .max = 8760},
    {.group = "incidents", .name = "burst", .type = KT_SPECIAL},
    {.group = "incidents", .name = "fanout", .type = KT_SPECIAL},
    {.group = "incidents", .name = "retry_storm", .type = KT_SPECIAL},
    {.group = "incidents", .name = "bounce_spike", .type = KT_SPECIAL},
    {.group = "incidents", .name = "new_network", .type = KT_SPECIAL},
};
#define ON(G) {.group = G, .name = "enabled", .type = KT_BOOL, .off = V(enabled), .def = 1}
#define NUM(G, N, F, D, LO, HI) {.group = G, .name = N, .type = KT_LLONG, .off = V(F), .def = D, \
    .min = LO, .max = HI}
static const struct conf_key signal_keys[] = {
    ON("burst"), NUM("burst", "floor", a, 50, 1, 1000000), NUM("burst", "multiple", b, 10, 1, 1000),
    ON("fanout"), NUM("fanout", "domains", a, 40, 1, 100000),
    ON("retry_storm"), NUM("retry_storm", "refusals", a, 50, 1, 1000000),
    ON("bounce_spike"), NUM("bounce_spike", "hard_bounces", a, 20, 1, 1000000),
    ON("new_network"),
    {.group = "new_network", .name = "days", .type = KT_INT, .off = V(days), .def = 30, .min = 1,
     .max = 365},
    {.group = "new_network", .name = "factor", .type = KT_DOUBLE, .off = V(factor), .ddef = 0.5,
     .dmin = 0.05, .dmax = 1.0},
};
/* clang-format on */

/* Read the signal group name of grp (NULL: its defaults) into v. */
static int
load_signal(struct loader *ld, const config_setting_t *grp, const char *name, struct signal_vals *v)
{
    const config_setting_t *s = grp ? config_setting_get_member(grp, name) : NULL;
    char prefix[64], kname[96];
    size_t i;

    snprintf(prefix, sizeof(prefix), "incidents.%s.", name);
    if (s && !config_setting_is_group(s))
        return pm_conf_fail(ld, s, "incidents.%s: expected a group { ... }, not %s", name,
                            pm_conf_type_name(s));
    if (s && pm_conf_check_members(ld, s, signal_keys, NKEYS(signal_keys), name, prefix) < 0)
        return -1;
    for (i = 0; i < NKEYS(signal_keys); i++) {
        const struct conf_key *k = &signal_keys[i];

        if (strcmp(k->group, name) != 0)
            continue;
        snprintf(kname, sizeof(kname), "%s%s", prefix, k->name);
        if (pm_conf_load_key(ld, k, s ? config_setting_get_member(s, k->name) : NULL, kname, v) < 0)
            return -1;
    }
    return 0;
}

/* Read the incidents group (or its defaults). */
int
pm_conf_load_incidents(struct loader *ld, const config_setting_t *s, const char *kname)
{
    struct pm_conf *c = ld->conf;
    struct signal_vals b, f, r, h, n;
    char name[96];
    size_t i;

    (void)kname;
    if (s && !config_setting_is_group(s))
        return pm_conf_fail(ld, s, "incidents: expected a group { ... }, not %s",
                            pm_conf_type_name(s));
    if (s && pm_conf_check_members(ld, s, top_keys, NKEYS(top_keys), "incidents", "incidents.") < 0)
        return -1;
    for (i = 0; i < NKEYS(top_keys); i++) {
        if (top_keys[i].type == KT_SPECIAL)
            continue;
        snprintf(name, sizeof(name), "incidents.%s", top_keys[i].name);
        if (pm_conf_load_key(ld, &top_keys[i],
                             s ? config_setting_get_member(s, top_keys[i].name) : NULL, name,
                             c) < 0)
            return -1;
    }
    memset(&b, 0, sizeof(b));
    f = r = h = n = b;
    if (load_signal(ld, s, "burst", &b) < 0 || load_signal(ld, s, "fanout", &f) < 0 ||
        load_signal(ld, s, "retry_storm", &r) < 0 || load_signal(ld, s, "bounce_spike", &h) < 0 ||
        load_signal(ld, s, "new_network", &n) < 0)
        return -1;
    c->inc_burst_floor = b.enabled ? b.a : 0;
    c->inc_burst_multiple = b.b;
    c->inc_fanout = f.enabled ? f.a : 0;
    c->inc_retry = r.enabled ? r.a : 0;
    c->inc_bounce = h.enabled ? h.a : 0;
    c->inc_nn_days = n.enabled ? n.days : 0;
    c->inc_nn_factor = n.factor;
    return 0;
}
