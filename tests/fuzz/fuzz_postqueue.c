/*
 * fuzz_postqueue.c - libFuzzer target for postmeterctl incident's reader of
 * postqueue -j lines (ctl/incident_queue.c): the input, as one string, is
 * read with small buffers; whatever it holds, each field read is a string
 * within its buffer, and a line read once reads the same again.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "incident_queue.h"

/* Read the input as one line of postqueue -j. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1), q[8], id[16], s[24], q2[8], id2[16], s2[24];
    int rc;

    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    rc = iq_parse_line(line, q, sizeof(q), id, sizeof(id), s, sizeof(s));
    if (rc < -1 || rc > 0 || strnlen(q, sizeof(q)) == sizeof(q) ||
        strnlen(id, sizeof(id)) == sizeof(id) || strnlen(s, sizeof(s)) == sizeof(s))
        abort();
    if (iq_parse_line(line, q2, sizeof(q2), id2, sizeof(id2), s2, sizeof(s2)) != rc ||
        (rc == 0 && (strcmp(q, q2) || strcmp(id, id2) || strcmp(s, s2))))
        abort();
    free(line);
    return 0;
}
