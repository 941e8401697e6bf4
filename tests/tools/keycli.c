/*
 * keycli.c - prints the name of one of postmeter's Redis keys, built by
 * policy/store_redis_keys.c, for the tests (tests/lib/common.sh's pm_key).
 *
 *   keycli PREFIX LAYOUT sender S KIND | domain D KIND | sup C ADDRESS |
 *          company C WHAT | global WHAT | layout | base | v2of V1KEY
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_redis_keys.h"

/* Print usage and fail. */
static int
usage(void)
{
    fputs("usage: keycli PREFIX LAYOUT sender S KIND | domain D KIND | sup C ADDRESS |\n"
          "              company C WHAT | global WHAT | layout | base | v2of V1KEY\n",
          stderr);
    return 2;
}

/* Build the key the arguments name and print it. */
int
main(int argc, char **argv)
{
    const char *p, *what;
    char *key = NULL;
    int layout;

    if (argc < 4)
        return usage();
    p = argv[1];
    layout = atoi(argv[2]) == 1 ? PM_LAYOUT_V1 : PM_LAYOUT_V2;
    what = argv[3];
    if (strcmp(what, "sender") == 0 && argc == 6)
        key = pm_key_sender(p, layout, argv[4], argv[5]);
    else if (strcmp(what, "domain") == 0 && argc == 6)
        key = pm_key_domain(p, layout, argv[4], argv[5]);
    else if (strcmp(what, "sup") == 0 && argc == 6)
        key = pm_key_sup(p, layout, argv[4], argv[5]);
    else if (strcmp(what, "company") == 0 && argc == 6)
        key = pm_key_company(p, layout, argv[4], argv[5]);
    else if (strcmp(what, "global") == 0 && argc == 5)
        key = pm_key_global(p, layout, argv[4]);
    else if (strcmp(what, "layout") == 0 && argc == 4)
        key = pm_key_layout(p);
    else if (strcmp(what, "base") == 0 && argc == 4)
        key = pm_key_base(p, layout);
    else if (strcmp(what, "v2of") == 0 && argc == 5)
        key = pm_key_v1_to_v2(p, argv[4]);
    else
        return usage();
    if (!key)
        return 1;
    puts(key);
    free(key);
    return 0;
}
