/*
 * fuzz_maillog.c - libFuzzer target for postmeterctl learn's reading of
 * Postfix log lines (ctl/maillog.c): the input is split into lines as the
 * reader splits a file, each is parsed within its length (copied to a buffer
 * of exactly that size, so a read past it is caught) and, when it is a
 * delivery, its time is reckoned. What a line points at must lie inside it.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maillog.h"

/* Parse one line held in a buffer of its own size. */
static void
one(const uint8_t *p, size_t n, struct ml_clock *clk)
{
    char *line = malloc(n ? n : 1);
    struct ml_event ev;
    int k;

    if (!line)
        return;
    memcpy(line, p, n);
    k = ml_parse(line, n, &ev);
    if (k < -1 || k > ML_LOCAL || (k > ML_OTHER && strlen(ev.qid) > ML_QID_MAX))
        abort();
    if ((k == ML_FROM || k == ML_TO) && (ev.addr < line || ev.addr + ev.addr_len > line + n))
        abort();
    if (k == ML_CLIENT && ev.login && (ev.login < line || ev.login + ev.login_len > line + n))
        abort();
    if (k == ML_TO)
        (void)ml_time(clk, &ev);
    free(line);
}

/* Split the input at newlines and parse each line. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ml_clock clk;
    const uint8_t *nl;

    memset(&clk, 0, sizeof(clk));
    clk.log_tz = "UTC";
    clk.tz = "UTC";
    ml_clock_file(&clk, 1796560000);
    while (size > 0) {
        nl = memchr(data, '\n', size);
        one(data, nl ? (size_t)(nl - data) : size, &clk);
        if (!nl)
            break;
        size -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
    return 0;
}
