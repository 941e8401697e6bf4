/*
 * store_redis.h - the Redis implementation of the storage interface.
 *
 * Counters live in Redis so that every mail server shares them. Check and
 * count happen in one server-side script (meter.lua) per request, with time
 * taken from the Redis server's clock. Connections are pooled (hiredis
 * contexts are not thread-safe), time-bounded and re-established with
 * backoff after a failure.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_STORE_REDIS_H
#define PM_STORE_REDIS_H

#include "conf.h"
#include "store.h"

/* A store that talks to the Redis named by conf; NULL on allocation failure.
 * No connection is made until the first request. */
struct pm_store *pm_store_redis_new(const struct pm_conf *conf);

#endif
