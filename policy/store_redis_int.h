/*
 * store_redis_int.h - what the parts of the Redis store share: the store's
 * state, its connection pool and its key names. store_redis_pool.c holds the
 * connections; store_redis.c the store's making and the meter;
 * store_redis_feedback.c the feedback script and the suppression list;
 * store_redis_admin.c the administrator's operations; store_redis_learn.c
 * the learning start and the contacts learned from logs; store_redis_server.c
 * the daemons' heartbeats; store_redis_supx.c the daemons' copy of the
 * suppression lists (its load and its stream). Each part encodes its requests and decodes the
 * replies; the key names are built by store_redis_keys.c, for the store's
 * layout (rs_key, rs_sup_key, rs_srv_key, rs_company_key). Nothing outside the store includes this.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_STORE_REDIS_INT_H
#define PM_STORE_REDIS_INT_H

#include <pthread.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "cluster_slot.h"
#include "redis_conn.h"
#include "sentinel_watch.h"
#include "store.h"
#include "store_redis_keys.h"

enum rs_link_state { LINK_UNKNOWN, LINK_UP, LINK_DOWN };

/* One connection of the pool. */
struct rs_conn {
    redisContext *c;
    unsigned gen;   /* the pool generation it was opened in */
    unsigned moves; /* with Sentinels: the primary's version it was opened to */
    char sha[41];   /* meter.lua's SHA1, as SCRIPT LOAD answered */
};

struct rs_cluster; /* store_redis_route.c */

struct redis_store {
    /* copied from the configuration, which may be freed on reload */
    char *host, *socket, *user, *password, *prefix;
    int layout;         /* the key layout its names are built for (0: not known yet);
                         * rs_layout() reads it, store_redis_layout.c sets it */
    char *layout_key;   /* "<prefix>:layout" */
    int layout_made;    /* this process SET it (a new install): forget does not count it */
    char *clock_key[3]; /* by layout: the test clock offset (read with test_clock) */
    int test_clock;     /* redis.test_clock: read clock_key before each script */
    char *learn_key[3]; /* by layout: the start of learning mode */
    char *plan_table;   /* the plans, for overrides: "name|mh|md|rh|rd|nd|curve|soft;..." */
    char *now_lua;      /* the prelude that reckons store time, returning it */
    char **sentinels;   /* "host:port" of the Sentinels; NULL: host and port */
    size_t n_sentinels;
    char *master; /* the primary's name in Sentinel */
    int port, db, connect_ms, command_ms, retry_min_ms, retry_max_ms, pool_size;
    int network_encrypted;     /* redis.network_encrypted: no warning about a remote primary */
    char name[256];            /* "127.0.0.1:6379" or the socket path, for messages */
    struct pm_redis_link link; /* how to connect: points at the fields above */

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

    /* redis.cluster: the slot map and a store per primary (store_redis_route.c) */
    struct rs_cluster *cl;
    struct redis_store *top; /* a primary's store: the cluster's top-level one; else NULL */
    char clock_last[24];     /* on a cluster: the test clock offset last read */
    unsigned own_moves;      /* on a cluster: moves when rs_conn_own first connected */
    int own_set;             /* own_moves is set (until rs_conn_moved says it moved) */

    /* the follower's own connection (store_redis_supx.c): only its thread uses it */
    struct rs_conn *follow;
    int follow_layout;   /* the layout of the stream the last load read */
    unsigned follow_gen; /* on a cluster: the slot map's generation the last load read */
};

/* Take an idle connection or open one; NULL with err set when none can be had
 * within command_timeout_ms or the link is backing off. */
struct rs_conn *rs_pool_get(struct redis_store *rs, char *err, size_t errlen);

/* Return a connection to the pool, or close it when dead (dead_reason says
 * why) or opened before the last failure. */
void rs_pool_put(struct redis_store *rs, struct rs_conn *cn, const char *dead_reason);

/* Close every idle connection and stop the Sentinel watcher (none may be in use). */
void rs_pool_close(struct redis_store *rs);

/* Open a connection of the caller's own, outside the pool (to the primary
 * the Sentinels name; on a cluster, to the primary of the "{@}" slot);
 * NULL with err set on failure. */
struct rs_conn *rs_conn_own(struct redis_store *rs, char *err, size_t errlen);

/* 1 when the primary moved since cn was opened: it may be the old one (on a
 * cluster: the "{@}" slot changed owner since rs_conn_own first connected;
 * said once, the next rs_conn_own starts anew). */
int rs_conn_moved(struct redis_store *rs, const struct rs_conn *cn);

/* Close a connection of rs_conn_own(). */
void rs_conn_close(struct rs_conn *cn);

/* Run one command on a pooled connection: PM_STORE_OK with *out its reply
 * (the caller frees it; never an error reply), else PM_STORE_RETRY (no
 * connection, no reply in time, a replica, a server loading) or
 * PM_STORE_ERROR (an error reply), with err set. */
int rs_call(struct redis_store *rs, int argc, const char **argv, redisReply **out, char *err,
            size_t errlen);

/* Commands sent together on one connection at most (rs_call_many). */
#define RS_PIPELINE 256

/* Run n commands (argc[i], argv[i]) as rs_call does, pipelined on one
 * pooled connection RS_PIPELINE at a time (on a cluster: one call each,
 * routed to its key's primary); clock_at > 0: argv[i][clock_at] is a
 * script's test clock offset, filled as rs_script does. PM_STORE_OK with
 * out[0..n-1] their replies (the caller frees them; none an error reply),
 * else the first failure, with out all NULL and err set. */
int rs_call_many(struct redis_store *rs, size_t n, const int *argc, const char ***argv,
                 int clock_at, redisReply **out, char *err, size_t errlen);

/* Free what a batch for rs_call_many held: each reply of r (NULL: none),
 * each command's argv[i][1] (its key, allocated) and argv[i], then the
 * arrays argv, argc and r themselves; any of them may be NULL. */
void rs_many_free(size_t n, const char ***argv, int *argc, redisReply **r);

/* The store error code of an error reply: a replica's READONLY, a server
 * loading or busy with a script, a cluster moving (TRYAGAIN, CLUSTERDOWN,
 * and MOVED or ASK left when a call's redirections ran out):
 * PM_STORE_RETRY; else PM_STORE_ERROR. */
int rs_reply_rc(const redisReply *r);

/* SCAN MATCH pattern (COUNT 1000, at most max_calls calls): page() gets each
 * page's array of key names and returns 0 to go on, > 0 to stop, or a
 * failure (< 0), which rs_scan returns. PM_STORE_OK when the whole keyspace
 * was seen; RS_SCAN_STOPPED when page() stopped; RS_SCAN_MORE when the calls
 * ran out first; or a failure. */
#define RS_SCAN_STOPPED 1
#define RS_SCAN_MORE 2
int rs_scan(struct redis_store *rs, const char *pattern, int max_calls,
            int (*page)(void *arg, const redisReply *keys), void *arg, char *err, size_t errlen);

/* A function that runs one command as rs_call does. */
typedef int (*rs_caller)(struct redis_store *rs, int argc, const char **argv, redisReply **out,
                         char *err, size_t errlen);

/* rs_scan, each SCAN run by call (e.g. on a connection of its own). */
int rs_scan_by(struct redis_store *rs, rs_caller call, const char *pattern, int max_calls,
               int (*page)(void *arg, const redisReply *keys), void *arg, char *err, size_t errlen);

/* Run a script text (EVAL) with its keys and arguments, as rs_call. */
int rs_eval(struct redis_store *rs, const char *text, int nkeys, const char **keys, int nargs,
            const char **args, redisReply **out, char *err, size_t errlen);

/* Run a script that starts with the prelude (EVAL), as rs_eval: args[0] is
 * the place of its first argument, the test clock offset (scripts.contract),
 * which rs_script fills on the connection it uses (rs_clock_arg); the caller
 * leaves it NULL. */
int rs_script(struct redis_store *rs, const char *text, int nkeys, const char **keys, int nargs,
              const char **args, redisReply **out, char *err, size_t errlen);

/* The test clock offset, a script's first argument, into buf ("0" unless
 * redis.test_clock is on: then the value of clock_key, GET on c, "0" when
 * absent); 0, or -1 when the GET failed, with *fail its error reply (NULL:
 * no reply, c's error says why). No command is sent without test_clock. */
int rs_clock_arg(struct redis_store *rs, redisContext *c, char *buf, size_t len, redisReply **fail);

/* The size of rs_clock_arg's buffer. */
#define RS_CLOCK_LEN 512

/* Send argv on c, after ASKING when asking (pipelined): the command's reply,
 * or NULL when the connection failed (c->err says why). */
redisReply *rs_send(redisContext *c, int asking, int argc, const char **argv);

/* How many commands this thread had a connection for since it started:
 * unchanged across a call, the call certainly sent nothing (no connection
 * could be had, no primary was known). */
unsigned long rs_sends(void);

/* On a Redis Cluster (store_redis_route.c): one call's way through redirections. */
struct rs_try {
    unsigned slot;            /* PM_CLUSTER_SLOTS: a command without a key */
    struct redis_store *node; /* the primary's store to send it to */
    int asking;               /* send ASKING first (an ASK redirection) */
    int tries, delay_ms;
    long long deadline; /* monotonic ms: redis.cluster_retry_ms after the start */
};

/* Make rs a cluster's top-level store with these seeds ("host:port"); 0, or
 * -1 on allocation failure. */
int rs_cluster_init(struct redis_store *rs, char *const *seeds, size_t n, int retry_ms);

/* Free the cluster's state and every primary's store. */
void rs_cluster_free(struct redis_store *rs);

/* Start a call of argc/argv: its slot and primary; 0, or -1 with err set. */
int rs_route_start(struct redis_store *rs, int argc, const char **argv, struct rs_try *t, char *err,
                   size_t errlen);

/* 1 to send the call again after reply r (NULL: none came), t updated;
 * else 0 (err set when the budget ran out). */
int rs_route_again(struct redis_store *rs, struct rs_try *t, const redisReply *r, char *err,
                   size_t errlen);

/* Mark the slot map stale: read it again soon. */
void rs_route_stale(struct redis_store *rs);

/* The store of the primary serving slot (PM_CLUSTER_SLOTS: any); NULL with err set. */
struct redis_store *rs_route_slot(struct redis_store *rs, unsigned slot, char *err, size_t errlen);

/* The slot of the global keys' tag "{@}". */
unsigned rs_route_at_slot(const struct redis_store *rs);

/* The primaries serving a slot now, into out (at most max); how many. */
size_t rs_route_primaries(struct redis_store *rs, struct redis_store **out, size_t max);

/* The primary of the global keys' slot and rs->moves read with it; NULL
 * with err set when none is known. */
struct redis_store *rs_route_at(struct redis_store *rs, unsigned *moves, char *err, size_t errlen);

/* Read the slot map now into the cache and its generation (bumped on any
 * change of a slot's owner) into *gen; PM_STORE_OK when every slot has a
 * primary, else PM_STORE_RETRY with err set. */
int rs_route_whole(struct redis_store *rs, unsigned *gen, char *err, size_t errlen);

/* The slot map's generation as this process knows it (no read of the map). */
unsigned rs_route_gen(struct redis_store *rs);

/* A sender's (tag 's') or a domain's (tag 'd') key of a kind, in the store's
 * layout (store_redis_keys.h); NULL on allocation failure. */
char *rs_key(const struct redis_store *rs, char tag, const char *id, const char *kind);

/* A company's suppression entry of rcpt, "<prefix>:v1:{d:<company>}:sup:<rcpt>"
 * (rcpt NULL: the prefix of the company's entries); NULL on allocation failure. */
char *rs_sup_key(const struct redis_store *rs, const char *company, const char *rcpt);

/* The stream of suppression changes, "<prefix>:v1:supx" (no hash tag: see
 * prelude.lua); NULL on allocation failure. */
char *rs_supx_key(const struct redis_store *rs);

/* The stream's bound (XADD MAXLEN ~), as the scripts take it. */
#define RS_SUPX_MAX_TEXT "100000"

/* The hash of a daemon's heartbeat, "<prefix>:v1:{srv}:<id>" (id NULL: the
 * index of the daemons, "<prefix>:v1:{srv}"); NULL on allocation failure. */
char *rs_srv_key(const struct redis_store *rs, const char *id);

/* The layout the store's names are built for (1 or 2): read from
 * "<prefix>:layout" when a connection opens (store_redis_layout.c). */
int rs_layout(const struct redis_store *rs);

/* Learn the layout, when it is not known yet, on a connection of the pool
 * (its opening runs rs_layout_discover); 0, or -1 with err set when none
 * could be had. */
int rs_layout_learn(struct redis_store *rs, char *err, size_t errlen);

/* Learn the layout on a new connection c when it is not known yet: GET
 * "<prefix>:layout"; absent, a new install (no "<prefix>:v1:*" key but the
 * test clock, in at most 10 SCAN calls) takes layout 2 (SET NX), else the
 * store runs layout 1. 0, or -1 with err set. */
int rs_layout_discover(struct redis_store *rs, redisContext *c, char *err, size_t errlen);

/* The layout the names of this thread's next script were built for: the
 * first rs_layout() gave it since its last refusal, or 0 when it gave
 * another since (names of both layouts: the guard refuses them). */
int rs_layout_named(const struct redis_store *rs);

/* 1, once, after a script refused this thread's names (rs_layout_refused):
 * build them anew and ask again. */
int rs_layout_was_refused(const struct redis_store *rs);

/* 1 when r is a script's "LAYOUT <value>" refusal: the data moved to
 * another layout; the store's layout is set from it (the caller rebuilds
 * its names and asks again once). */
int rs_layout_refused(struct redis_store *rs, const redisReply *r);

/* Move the keys from layout 1 to layout 2 (store_redis_migrate.c). */
int rs_migrate(void *impl, struct pm_migrate_res *res, char *err, size_t errlen);

/* The companies of the registry "<prefix>:v2:{@}:co" announced since the
 * start of UTC day since (>= 0), or on the last -since store days (< 0;
 * -1: today), or every one (RS_COMPANIES_ALL), sorted, each once, into *out
 * (n of them; the caller frees them with rs_companies_free); PM_STORE_OK
 * or a failure. */
#define RS_COMPANIES_ALL (-(1LL << 40))
int rs_companies(struct redis_store *rs, long long since, char ***out, size_t *n, char *err,
                 size_t errlen);

/* Announce to the registry every company that holds a layout 2 key (SCAN
 * of the prefix's layout 2 keys; postmeterctl migrate). */
int rs_companies_fill(struct redis_store *rs, char *err, size_t errlen);

/* Announce companies to the registry (registry.lua "add"; store.h). */
int rs_announce(void *impl, const char *const *companies, size_t n, long long *born, char *err,
                size_t errlen);

/* Free a list of rs_companies. */
void rs_companies_free(char **co, size_t n);

/* A company-wide key of the sender's company ("top:", "incidents", "hits:";
 * layout 1: the global one); NULL on allocation failure. */
char *rs_company_key(const struct redis_store *rs, const char *sender, const char *what);

/* Copy s into out (len bytes) with the glob characters of SCAN MATCH escaped. */
void rs_glob_escape(const char *s, char *out, size_t len);

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

/* A note of the stream of suppression changes (store_redis_supnote.c):
 * op, company, rcpt and, for PM_SUP_ADD, the entry's expiry (store time, 0
 * never); PM_STORE_OK or a failure. */
int rs_supnote(struct redis_store *rs, enum pm_sup_op op, const char *company, const char *rcpt,
               long long expires, char *err, size_t errlen);

/* The intents (PM_SUP_CHK) of n changes of company's entries rcpt[i] (only
 * those with want[i], want NULL: all); PM_STORE_OK, or a failure after
 * which the changes must not be made. */
int rs_supnote_intents(struct redis_store *rs, const char *company, const char *const *rcpt,
                       const int *want, size_t n, char *err, size_t errlen);

/* Close intents of rs_supnote_intents (the same arguments) with "end": the
 * changes were certainly not made (a note lost: the intent stays open). */
void rs_supnote_ends(struct redis_store *rs, const char *company, const char *const *rcpt,
                     const int *want, size_t n);

/* The store operations of store_redis_supx.c. */
int rs_sup_snapshot(void *impl, char *last, size_t lastlen,
                    void (*note)(void *arg, enum pm_sup_op op, const char *company,
                                 const char *rcpt, long long expires),
                    void (*each)(void *arg, const char *company, const char *rcpt,
                                 long long expires),
                    void *arg, int (*stop)(void), long long *now, char *err, size_t errlen);
int rs_sup_follow(void *impl, char *last, size_t lastlen, int block_ms,
                  void (*each)(void *arg, enum pm_sup_op op, const char *company, const char *rcpt,
                               long long expires),
                  void *arg, long long *now, char *err, size_t errlen);

/* The store operations of store_redis_admin.c. */
int rs_plan_get(void *impl, const char *sender, struct pm_override *o, char *err, size_t errlen);
int rs_plan_set(void *impl, const char *sender, const char *plan, long long keep, int *had,
                char *err, size_t errlen);
int rs_credits(void *impl, const char *sender, struct pm_credits *out, char *err, size_t errlen);
int rs_credit_set(void *impl, const char *sender, const struct pm_grant_req *g, long long id,
                  const char *note, struct pm_grant_res *res, char *err, size_t errlen);
int rs_warmup_set(void *impl, const struct pm_warmup_set *w, int *had, long long *day, char *err,
                  size_t errlen);
int rs_contact_days(void *impl, const char *sender, const char *company, const char *hash,
                    struct pm_contact_days *out, char *err, size_t errlen);
int rs_top(void *impl, int days, int limit, int (*each)(void *arg, const char *sender), void *arg,
           long long *now, char *err, size_t errlen);
int rs_forget_all(void *impl, long long *deleted, char *err, size_t errlen);

/* The store operations of store_redis_server.c. */
int rs_server_beat(void *impl, const struct pm_server_beat *b, char *err, size_t errlen);
int rs_servers(void *impl, int (*each)(void *arg, const struct pm_server *s), void *arg,
               long long *now, char *err, size_t errlen);

/* The store operations of store_redis_incident.c. */
int rs_incident_get(void *impl, const char *sender, struct pm_incident *inc, long long *now,
                    char *err, size_t errlen);
int rs_incident_list(void *impl, int (*each)(void *arg, const struct pm_incident *inc), void *arg,
                     long long *now, char *err, size_t errlen);
int rs_incident_open(void *impl, const char *sender, const struct pm_incident_open *o, int *opened,
                     struct pm_incident *inc, char *err, size_t errlen);
int rs_incident_release(void *impl, const char *sender, struct pm_incident *was, char *err,
                        size_t errlen);

/* The store operations of store_redis_learn.c. */
int rs_learning(void *impl, int record, long long keep, long long *start, long long *now, char *err,
                size_t errlen);
int rs_seed(void *impl, const struct pm_seed_req *req, struct pm_seed_res *res, char *err,
            size_t errlen);

/* The store operations of store_redis_digest.c. */
int rs_digest_elect(void *impl, long long day, const char *holder, int *won, char *err,
                    size_t errlen);
int rs_digest_unclaim(void *impl, long long day, char *err, size_t errlen);
int rs_digest_hits(void *impl, long long day,
                   int (*each)(void *arg, const char *sender, const char *limit, long long n),
                   void *arg, char *err, size_t errlen);
int rs_digest_silent(void *impl, long long min_first,
                     int (*each)(void *arg, const char *sender, long long first), void *arg,
                     char *err, size_t errlen);

#endif
