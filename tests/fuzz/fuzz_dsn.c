/*
 * fuzz_dsn.c - libFuzzer target for the bounce parser.
 *
 * Each input is parsed as a whole message under the three envelopes;
 * every recipient must be a terminated string within its field and of a
 * known class, at most PM_BOUNCE_MAX_RCPTS of them. With a sender's
 * envelope it is never a bounce; what reads as a bounce as a file
 * (PM_ENV_UNKNOWN) reads the same with the null envelope. The text and
 * JSON summaries are written to a buffer. The same input without its last
 * byte is parsed too (a message cut short). Built and run by
 * tests/fuzz/run.
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

    if (b->n > PM_BOUNCE_MAX_RCPTS || (!b->is_bounce && b->n != 0) ||
        (b->is_bounce && (b->quoted || !b->is_auto)))
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
    static struct pm_bounce b, f;
    static char buf[65536];
    size_t i;

    pm_bounce_parse(data, size, PM_ENV_SENDER, &b);
    check(&b);
    if (b.is_bounce || b.n != 0)
        abort();
    pm_bounce_parse(data, size, PM_ENV_UNKNOWN, &f);
    check(&f);
    pm_bounce_parse(data, size, PM_ENV_NULL, &b);
    check(&b);
    if (f.is_bounce) {
        if (!b.is_bounce || b.n != f.n || strcmp(b.original_sender, f.original_sender) != 0)
            abort();
        for (i = 0; i < b.n; i++)
            if (strcmp(b.rcpt[i].rcpt, f.rcpt[i].rcpt) != 0 || b.rcpt[i].cls != f.rcpt[i].cls)
                abort();
    }
    pm_bounce_text(&b, buf, sizeof(buf));
    pm_bounce_json(&b, buf, sizeof(buf));
    if (size > 0) {
        pm_bounce_parse(data, size - 1, PM_ENV_NULL, &b);
        check(&b);
    }
    pm_bounce_classify((const char *)b.rcpt[0].status, b.rcpt[0].diag);
    return 0;
}
