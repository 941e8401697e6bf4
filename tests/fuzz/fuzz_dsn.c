/*
 * fuzz_dsn.c - libFuzzer target for the bounce parser.
 *
 * Each input is parsed as a whole message; every recipient must be a
 * terminated string within its field and of a known class, at most
 * PM_BOUNCE_MAX_RCPTS of them. The text and JSON summaries are written
 * to a buffer. The same input without its last byte is parsed too (a
 * message cut short). Built and run by tests/fuzz/run.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"

/* Check the invariants of one reading. */
static void
check(const struct pm_bounce *b)
{
    size_t i;

    if (b->n > PM_BOUNCE_MAX_RCPTS || (!b->is_bounce && b->n != 0))
        abort();
    if (memchr(b->original_sender, '\0', sizeof(b->original_sender)) == NULL)
        abort();
    for (i = 0; i < b->n; i++) {
        const struct pm_bounce_rcpt *r = &b->rcpt[i];

        if (memchr(r->rcpt, '\0', sizeof(r->rcpt)) == NULL || r->rcpt[0] == '\0' ||
            memchr(r->status, '\0', sizeof(r->status)) == NULL ||
            memchr(r->action, '\0', sizeof(r->action)) == NULL ||
            memchr(r->diag, '\0', sizeof(r->diag)) == NULL || r->cls > PM_BOUNCE_OTHER)
            abort();
    }
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pm_bounce b;
    static char buf[65536];

    pm_bounce_parse(data, size, &b);
    check(&b);
    pm_bounce_text(&b, buf, sizeof(buf));
    pm_bounce_json(&b, buf, sizeof(buf));
    if (size > 0) {
        pm_bounce_parse(data, size - 1, &b);
        check(&b);
    }
    pm_bounce_classify((const char *)b.rcpt[0].status, b.rcpt[0].diag);
    return 0;
}
