/*
 * store_redis_keys.h - the names of postmeter's Redis keys, in one place:
 * every caller (the store, postmeterctl, the test tools) builds them here,
 * for either key layout (doc/redis-keys.md).
 *
 * Layout 1: "<prefix>:v1:{s:<sender>}:<kind>", "<prefix>:v1:{d:<domain>}:<kind>",
 *   "<prefix>:v1:{d:<company>}:sup:<address>", and global keys without a
 *   tag ("<prefix>:v1:top:<day>", ":incidents", ":hits:<day>", ":clock",
 *   ":learning", ":digest:<day>", ":supx", "{srv}").
 * Layout 2: every key of one company under its hash tag {C}:
 *   "<prefix>:v2:{C}:s:<sender>:<kind>", "<prefix>:v2:{C}:d:<kind>",
 *   "<prefix>:v2:{C}:sup:<address>", "<prefix>:v2:{C}:top:<day>",
 *   ":incidents", ":hits:<day>"; the global keys under the tag {@} (no
 *   domain holds '@'): "<prefix>:v2:{@}:clock", ":learning", ":digest:<day>",
 *   ":supx", ":srv", ":srv:<id>", ":co".
 * A sender's tag is its domain part, or the sender itself without '@'.
 * "<prefix>:layout" says which layout the data is in (absent: 1).
 *
 * Every function returns a string the caller frees, NULL on allocation failure.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_STORE_REDIS_KEYS_H
#define PM_STORE_REDIS_KEYS_H

#include <stddef.h>

#define PM_LAYOUT_V1 1
#define PM_LAYOUT_V2 2

/* The tag of the global keys in layout 2. */
#define PM_KEYS_GLOBAL_TAG "@"

/* The hash tag of a sender's keys: its domain part, or the whole sender
 * without '@' (*len its length; the pointer is into sender). */
const char *pm_keys_tag(const char *sender, size_t *len);

/* A sender's key of a kind ("w", "ct", "tx:<id>", ...). */
char *pm_key_sender(const char *prefix, int layout, const char *sender, const char *kind);

/* A domain's key of a kind ("w", "wu", "ct"). */
char *pm_key_domain(const char *prefix, int layout, const char *domain, const char *kind);

/* A company's suppression entry of rcpt (rcpt NULL: the prefix of its entries). */
char *pm_key_sup(const char *prefix, int layout, const char *company, const char *rcpt);

/* Split a suppression entry's key (either layout) into its company (into
 * company, clen bytes) and *rcpt (into key); 0, or -1 when it is not one. */
int pm_key_sup_split(const char *prefix, const char *key, char *company, size_t clen,
                     const char **rcpt);

/* A company-wide key of a company: what is "top:<day>", "top:", "incidents",
 * "hits:<day>" or "hits:" (layout 1: global, the company is not in the name). */
char *pm_key_company(const char *prefix, int layout, const char *company, const char *what);

/* A global key: what is "clock", "learning", "digest:<day>", "supx", "co",
 * "srv" or "srv:<id>" (layout 1 names the last two "{srv}" and "{srv}:<id>";
 * it has no "co"). */
char *pm_key_global(const char *prefix, int layout, const char *what);

/* "<prefix>:layout". */
char *pm_key_layout(const char *prefix);

/* "<prefix>:v<layout>:", what every key of a layout starts with. */
char *pm_key_base(const char *prefix, int layout);

/* The layout 2 name of a layout 1 key that moves by a rename; NULL when
 * it has none (an index split by company, the stream, the heartbeats, a
 * pre-company suppression entry, not a layout 1 key) or on allocation failure. */
char *pm_key_v1_to_v2(const char *prefix, const char *v1);

#endif
