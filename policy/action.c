/*
 * action.c - the names of the actions (enum pm_action, conf.h): the
 * configuration's rules read them, the log line, the metrics page and
 * postmeterctl print them.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "conf.h"

/* The number of entries of an array. */
#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const char *const action_names[] = {
    [PM_ACT_ACCEPT] = "accept",     [PM_ACT_TAG] = "tag",       [PM_ACT_HOLD] = "hold",
    [PM_ACT_TEMPFAIL] = "tempfail", [PM_ACT_REJECT] = "reject",
};

/* The name of an action ("tempfail"), or "?". */
const char *
pm_action_name(enum pm_action act)
{
    if ((unsigned)act < NKEYS(action_names) && action_names[act])
        return action_names[act];
    return "?";
}

/* Parse an action name, "accept" included; returns 0 and sets *out, or -1. */
int
pm_action_parse(const char *name, enum pm_action *out)
{
    size_t i;

    for (i = 0; i < NKEYS(action_names); i++) {
        if (action_names[i] && strcmp(action_names[i], name) == 0) {
            *out = (enum pm_action)i;
            return 0;
        }
    }
    return -1;
}
