/*
 * store_redis_int.h - what the parts of the Redis store share: the store's
 * state, its connection pool and its key names. store_redis.c holds the pool
 * and the meter; store_redis_feedback.c the feedback script and the
 * suppression list. Nothing outside the store includes this.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_STORE_REDIS_INT_H
#define PM_STORE_REDIS_INT_H

#include <pthread.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "sentinel_watch.h"
#include "store.h"

enum rs_link_state { LINK_UNKNOWN, LINK_UP, LINK_DOWN };

/* One connection of the pool. */
struct rs_conn {
    redisContext *c;
    unsigned gen;   /* the pool generation it was opened in */
    unsigned moves; /* with Sentinels: the primary's version it was opened to */
    char sha[41];   /* meter.lua's SHA1, as SCRIPT LOAD answered */
};

struct redis_store {
    /* copied from the configuration, which may be freed on reload */
    char *host, *socket, *user, *password, *prefix;
    char *clock_key;  /* "<prefix>:v1:clock", the test clock offset */
    char *top_prefix; /* "<prefix>:v1:top:", the daily top index */
    char *plan_table; /* the plans, for overrides: "name|mh|md|rh|rd|nd|curve|soft;..." */
    char *now_lua;    /* the prelude that reckons store time, returning it */
    char **sentinels; /* "host:port" of the Sentinels; NULL: host and port */
    size_t n_sentinels;
    char *master; /* the primary's name in Sentinel */
    int port, db, connect_ms, command_ms, retry_min_ms, retry_max_ms, pool_size;
    char name[256]; /* "127.0.0.1:6379" or the socket path, for messages */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled when a connection is returned or a connect ends */
    struct rs_conn **idle;
    int n_idle;
    int n_open;   /* idle + in use + being opened */
    unsigned gen; /* bumped on failure: older connections are not reused */
    enum rs_link_state state;
    int probing;           /* a connect is under way while the link is not up */
    int backoff_ms;        /* current reconnect backoff, 0 after a success */
    long long retry_at_ms; /* monotonic time before which no connect is tried */
    /* with Sentinels: the primary they last named ("" before the first answer) */
    char primary[256];
    int primary_port;
    int primary_stale;               /* a connect to it failed: ask the Sentinels again */
    unsigned moves;                  /* bumped whenever the primary changes */
    int watching;                    /* the watcher was started (or failed to start) */
    struct pm_sentinel_watch *watch; /* follows the Sentinels' announcements */
};

/* Run one command on a pooled connection; its reply (the caller frees it; an
 * error reply included), or NULL with err set when there was none. */
redisReply *rs_command(struct redis_store *rs, int argc, const char **argv, char *err,
                       size_t errlen);

/* "<prefix>:v1:{<tag>:<id>}:<kind>"; NULL on allocation failure. */
char *rs_key(const struct redis_store *rs, char tag, const char *id, const char *kind);

/* A company's suppression entry of rcpt, "<prefix>:v1:{d:<company>}:sup:<rcpt>"
 * (rcpt NULL: the prefix of the company's entries); NULL on allocation failure. */
char *rs_sup_key(const struct redis_store *rs, const char *company, const char *rcpt);

/* Fill a suppression entry from the fields at, status, sender and a TTL in
 * seconds (-1: none), reckoning its end from the store time now. */
void rs_sup_fill(struct pm_suppressed *e, long long at, const char *status, const char *sender,
                 long long ttl, long long now);

/* The store operations of store_redis_feedback.c. */
int rs_feedback(void *impl, const struct pm_feedback_req *req, enum pm_feedback_kind *out,
                char *err, size_t errlen);
int rs_suppress_list(void *impl, const char *company, const char *rcpt,
                     int (*each)(void *arg, const char *company, const char *rcpt,
                                 const struct pm_suppressed *e),
                     void *arg, char *err, size_t errlen);
int rs_suppress_set(void *impl, const char *company, const char *rcpt, const char *status,
                    const char *by, int days, char *err, size_t errlen);
int rs_suppress_migrate(void *impl, const char *const *companies, size_t n, long long *moved,
                        char *err, size_t errlen);
int rs_now(void *impl, long long *now, char *err, size_t errlen);

#endif
