/*
 * incident_queue.h - postmeterctl incident: this server's held mail of a sender,
 * through Postfix's own tools (incident_queue.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CTL_INCIDENT_QUEUE_H
#define PM_CTL_INCIDENT_QUEUE_H

#include <stddef.h>

#define IQ_ID_MAX 64          /* a queue id (Postfix's long ids are about 20) */
#define IQ_MAX 100000         /* held messages one command acts on at most */
#define IQ_LINE_MAX (1 << 20) /* one line of postqueue -j */

/* Queue ids of held messages. */
struct iq_ids {
    char (*id)[IQ_ID_MAX];
    size_t n, cap;
};

/* Read one line of postqueue -j: its top-level string fields queue_name,
 * queue_id and sender (unescaped; "" when absent); 0, or -1 when the line is
 * not one JSON object. */
int iq_parse_line(const char *line, char *queue, size_t qlen, char *id, size_t idlen, char *sender,
                  size_t slen);

/* The queue ids of the messages on the hold queue of the Postfix whose
 * configuration directory is dir (NULL: the default) whose envelope sender
 * is sender (normalised) or whose id is among also (NULL: none: the ids an
 * incident recorded, so mail a stolen login sent with another MAIL FROM is
 * found), added to ids (sorted); 0, or -1 with why in err. */
int iq_held(const char *dir, const char *sender, const struct iq_ids *also, struct iq_ids *ids,
            char *err, size_t errlen);

/* Add the space-separated queue ids of s (an incident's "ids") to ids; 0, or
 * -1 when memory ran out. */
int iq_split(const char *s, struct iq_ids *ids);

/* Release ids from the hold queue (postsuper -H) and have them delivered now
 * (postqueue -i each); 0, or -1 with why in err. */
int iq_requeue(const char *dir, const struct iq_ids *ids, char *err, size_t errlen);

/* Delete ids from the hold queue (postsuper -d ID ... hold); 0, or -1. */
int iq_drop(const char *dir, const struct iq_ids *ids, char *err, size_t errlen);

/* 1 when id is among ids. */
int iq_has(const struct iq_ids *ids, const char *id);

/* Free the ids. */
void iq_free(struct iq_ids *ids);

#endif
