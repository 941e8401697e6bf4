/*
 * redis_conn.h - opening a Redis connection as the configuration says:
 * directly, over a unix socket, or to the primary the Sentinels name.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_REDIS_CONN_H
#define PM_REDIS_CONN_H

#include <stddef.h>
#include <signal.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

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

/* How to reach a Redis server, as the configuration says (the store keeps a
 * copy: the configuration may be freed on reload). */
struct pm_redis_link {
    const char *host; /* when neither a socket nor Sentinels */
    int port;
    const char *socket;   /* a unix socket path, or NULL */
    const char *user;     /* an ACL user, or NULL */
    const char *password; /* or NULL */
    int db, connect_ms, command_ms;
    const char *name; /* for messages: "127.0.0.1:6379", a socket, "mymaster (Sentinel)" */
    int sentinel;     /* 1: host and port come from the Sentinels */
};

/*
 * One connection to host:port (the primary the Sentinels named), or with host
 * NULL to the link's socket or host and port; with the command timeout,
 * keepalive, AUTH and SELECT done, and refused when ROLE says the server is a
 * replica. NULL with err set ("redis NAME: Connection refused").
 */
redisContext *pm_redis_open(const struct pm_redis_link *l, const char *host, int port, char *err,
                            size_t errlen);

/* Describe a context that failed ("redis NAME: no reply within 500 ms"); 1
 * when it was a timeout. saved_errno: errno right after the failed call. */
int pm_redis_io_error(const struct pm_redis_link *l, const redisContext *c, int saved_errno,
                      char *err, size_t errlen);

/* Block SIGPIPE in this thread while writing to a socket Redis may have
 * closed; restore the mask after, consuming a SIGPIPE raised meanwhile.
 * When the process ignores SIGPIPE, both do nothing (*was_pending is -1). */
void pm_redis_pipe_block(sigset_t *old, int *was_pending);
void pm_redis_pipe_restore(const sigset_t *old, int was_pending);

#endif
