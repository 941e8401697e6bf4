/*
 * redis_conn.h - opening a Redis connection as the configuration says:
 * directly, over a unix socket, or to the primary the Sentinels name.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_REDIS_CONN_H
#define PM_REDIS_CONN_H

#include <stddef.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "conf.h"

/* A timeval of ms milliseconds. */
struct timeval pm_redis_tv(int ms);

/* Split "host:port" or "[v6]:port" into host and port; 0, or -1 when malformed. */
int pm_redis_split_hostport(const char *hp, char *host, size_t hostlen, int *port);

/*
 * Ask each of the n Sentinels ("host:port") where the primary called master
 * is, and take the word of the one whose configuration is the newest (the
 * highest config-epoch): a Sentinel learns of a failover another one led up
 * to 2 s later. 0 with host and port, or -1 with err saying why (name is the
 * store's name in the message).
 */
int pm_redis_sentinel_primary(char *const *sentinels, size_t n, const char *master, int connect_ms,
                              int command_ms, const char *name, char *host, size_t hostlen,
                              int *port, char *err, size_t errlen);

/*
 * One connection as conf says (Sentinel primary, unix socket or host:port),
 * with its timeouts, AUTH and SELECT done. where receives what was reached
 * ("127.0.0.1:6379", a socket path, "mymaster (Sentinel) at 10.0.0.5:6379").
 * NULL with err set ("Connection refused", "AUTH failed: ...") on failure.
 */
redisContext *pm_redis_connect(const struct pm_conf *conf, char *where, size_t wherelen, char *err,
                               size_t errlen);

#endif
