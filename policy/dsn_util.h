/*
 * dsn_util.h - the bounce parser's machinery, shared by dsn.c and the
 * readers (dsn_int.h): text helpers and the recipient list (dsn_util.c),
 * codes and classes of a failed recipient (dsn_class.c, which uses
 * dsn_util.c). Nothing declared here calls into the files above it.
 * Not part of the policy library's interface.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_DSN_UTIL_H
#define PM_DSN_UTIL_H

#include <stddef.h>

#include "dsn.h"

/* Copy the first address of s (lower case, no brackets) to out; 0 or -1. */
int pm_dsn_addr(const char *s, char *out, size_t outlen);

/* Find an enhanced status code ([245].d{1,3}.d{1,3}) in s; 0 or -1. */
int pm_dsn_find_status(const char *s, char *out, size_t outlen);

/* Find a three-digit SMTP reply code ([245]dd) in s; the code or 0. */
int pm_dsn_find_reply(const char *s);

/* Copy s to out with whitespace runs collapsed to one space, trimmed. */
void pm_dsn_squeeze(char *out, size_t outlen, const char *s, size_t slen);

/* Case-insensitive search of needle in hay[0..hlen). */
const char *pm_dsn_memcasestr(const char *hay, size_t hlen, const char *needle);

/* Add a recipient (merged with an existing one of the same address);
 * returns it, or NULL when full or the address is unusable. */
struct pm_bounce_rcpt *pm_dsn_add(struct pm_bounce *out, const char *addr);

/* Fill in status (when generic or missing) and class of r from its diag
 * (dsn_class.c); returns 1 when a status code the server wrote decided
 * the class, 0 when the words of the text did. */
int pm_dsn_finish_rcpt(struct pm_bounce_rcpt *r, int permanent_hint);

/* The class of a failure; by_code: the status is a code the server wrote
 * (0: one derived from the words). Sets *decided (when not NULL) to 1
 * when a specific code decided it. */
enum pm_bounce_class pm_dsn_classify(const char *status, const char *diag, int by_code,
                                     int *decided);

/* Was the failure given at end of DATA (a filter, not an unknown user)? */
int pm_dsn_after_data(const char *diag);

#endif
