/*
 * migrate.c - postmeterctl migrate: move the keys of an installation of an
 * earlier key layout to the current one (layout 2, doc/redis-keys.md),
 * live, through the store (pm_store_migrate): the daemons go on metering
 * and switch at once, the data moves behind them. It works on the one Redis
 * the configuration names (a server, or the primary of the Sentinels).
 * Run again, it moves nothing.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* postmeterctl migrate. */
int
cmd_migrate(struct ctl *c, int argc, char **argv)
{
    struct pm_migrate_res m;
    struct pm_store *st;
    char err[512];
    int rc;

    if (argc > 0)
        return ctl_fail(CTL_USAGE, "migrate: unknown argument %s (usage: migrate)", argv[0]);
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_migrate(st, &m, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (c->json) {
        fputs("{\"before\":", stdout);
        out_json_str(stdout, m.before);
        printf(",\"layout\":2,\"moved\":%lld,\"both\":%lld,\"merged\":%lld,\"entries\":%lld,"
               "\"dropped\":%lld,\"left\":%lld}\n",
               m.moved, m.both, m.merged, m.entries, m.dropped, m.left);
        return CTL_OK;
    }
    printf("key layout %s -> 2: moved %lld key%s, merged %lld index%s (%lld entr%s), "
           "deleted %lld, left %lld",
           m.before, m.moved, out_s(m.moved), m.merged, m.merged == 1 ? "" : "es", m.entries,
           m.entries == 1 ? "y" : "ies", m.dropped, m.left);
    if (m.both)
        printf(", %lld whose new name was taken (kept under the old one)", m.both);
    putchar('\n');
    return CTL_OK;
}
