/*
 * store_redis_supnote.c - the notes of the stream of suppression changes,
 * written by the C code around the scripts that change entries.
 *
 * Each change of an entry "<prefix>:v2:{<company>}:sup:<address>" is noted
 * in the stream "<prefix>:v2:{@}:supx" twice: before the script, an intent
 * (op chk, c company, a address); after it, what the script reports it did
 * (op add with x its expiry in store time, 0 never; op del; or op end:
 * nothing changed). The stream sits in another slot than the entries under
 * Redis Cluster, so no script writes it. A follower (store_redis_supx.c)
 * takes an address with an open intent as "may be suppressed": a writer
 * that dies between its notes leaves it so until the copy is loaded again.
 * A writer that certainly did not send its script (no connection could be
 * had: rs_sends() unchanged) closes its intents with "end".
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "store_redis_int.h"

/* One note: XADD <supx> MAXLEN ~ RS_SUPX_MAX_TEXT * op OP c C a R [x X];
 * PM_STORE_OK or a failure. */
int
rs_supnote(struct redis_store *rs, enum pm_sup_op op, const char *company, const char *rcpt,
           long long expires, char *err, size_t errlen)
{
    static const char *names[] = {"add", "del", "chk", "end"}; /* enum pm_sup_op order */
    char *supx = rs_supx_key(rs), x[24];
    const char *argv[14] = {"XADD", supx, "MAXLEN",  "~", RS_SUPX_MAX_TEXT,
                            "*",    "op", names[op], "c", company,
                            "a",    rcpt, "x",       x};
    redisReply *r = NULL;
    int rc;

    if (!supx) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    snprintf(x, sizeof(x), "%lld", expires);
    rc = rs_call(rs, op == PM_SUP_ADD ? 14 : 12, argv, &r, err, errlen);
    if (r)
        freeReplyObject(r);
    free(supx);
    return rc;
}

/* The intents of n changes of company's entries (rcpt[i], those with
 * want[i] or want NULL); PM_STORE_OK, or a failure: the changes must not
 * be made. */
int
rs_supnote_intents(struct redis_store *rs, const char *company, const char *const *rcpt,
                   const int *want, size_t n, char *err, size_t errlen)
{
    size_t i;
    int rc;

    for (i = 0; i < n; i++)
        if ((!want || want[i]) &&
            (rc = rs_supnote(rs, PM_SUP_CHK, company, rcpt[i], 0, err, errlen)) < 0) {
            rs_supnote_ends(rs, company, rcpt, want, i); /* those noted: nothing is done */
            return rc;
        }
    return PM_STORE_OK;
}

/* Close the intents of rs_supnote_intents (the same company, rcpt, want, n)
 * with "end": their changes were certainly not made. A note lost leaves its
 * intent open ("may be"): no failure. */
void
rs_supnote_ends(struct redis_store *rs, const char *company, const char *const *rcpt,
                const int *want, size_t n)
{
    char e[256];
    size_t i;

    for (i = 0; i < n; i++)
        if (!want || want[i])
            (void)rs_supnote(rs, PM_SUP_END, company, rcpt[i], 0, e, sizeof(e));
}
