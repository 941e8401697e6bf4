/*
 * incident_ids.c - the queue ids an incident recorded ("ids", space-separated,
 * see incident.h), one at a time: the webhook lists them, postmeterctl
 * incident looks for them on the hold queue.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <string.h>

#include "incident.h"

/* The next id of *s and its length in *n, *s moved past it; NULL when none is left. */
const char *
pm_incident_id_next(const char **s, size_t *n)
{
    const char *id = *s + strspn(*s, " ");

    if ((*n = strcspn(id, " ")) == 0)
        return NULL;
    *s = id + *n;
    return id;
}
