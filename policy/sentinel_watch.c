/*
 * sentinel_watch.c - following the Sentinels' announcements of a new primary.
 *
 * A planned switchover (SENTINEL FAILOVER) leaves the old primary up and
 * writable until the Sentinels demote it, about 10 s later, and it then drops
 * what it took meanwhile: a client must leave it when the promotion is
 * announced, not when it starts refusing writes. One thread holds a
 * subscriber connection to every Sentinel (a promotion is announced by the
 * Sentinel that led the failover, the others repeat it up to 2 s later), all
 * non-blocking in one poll loop with a pipe that stops it at once. Each
 * subscription is checked with a PING every second and dropped after 3 s of
 * silence; a Sentinel that cannot be reached is retried every second and
 * logged once until it is followed again.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "log.h"
#include "redis_conn.h"
#include "sentinel_watch.h"

#define PING_MS 1000   /* a PING on each subscription this often */
#define SILENT_MS 3000 /* a subscription silent this long is dropped */
#define RETRY_MS 1000  /* a Sentinel that failed is tried again after this */

enum sub_phase { SUB_DOWN, SUB_CONNECTING, SUB_SUBSCRIBING, SUB_UP };

/* The subscription to one Sentinel. */
struct sub {
    const char *addr; /* "host:port" as configured */
    redisContext *c;  /* NULL while down */
    enum sub_phase phase;
    long long deadline; /* connecting: give up then */
    long long retry_at; /* down: connect again then */
    long long last_rx, last_ping;
    int asking;  /* the reply to get-master-addr-by-name comes first */
    int writing; /* commands wait to be written */
    int failed;  /* its failure was logged: log when it is followed again */
};

struct pm_sentinel_watch {
    pthread_t thread;
    int wake[2]; /* a byte in wake[1] stops the thread */
    const char *master, *name;
    int connect_ms;
    pm_sentinel_primary_fn primary;
    void *arg;
    struct sub *subs;
    size_t n;
    size_t n_up; /* subscriptions in SUB_UP */
};

/* Drop a subscription (why: for the log, NULL: the watcher stops) and retry later. */
static void
sub_fail(struct pm_sentinel_watch *w, struct sub *s, const char *why, long long now)
{
    if (s->phase == SUB_UP)
        w->n_up--;
    if (why && !s->failed)
        pm_log(PM_LOG_WARNING, "redis %s: cannot follow the Sentinel at %s: %s", w->name, s->addr,
               why);
    s->failed |= why != NULL;
    if (s->c)
        redisFree(s->c);
    s->c = NULL;
    s->phase = SUB_DOWN;
    s->retry_at = now + RETRY_MS;
}

/* Write what the subscription's context holds; 0, or -1 when it failed. */
static int
sub_flush(struct pm_sentinel_watch *w, struct sub *s, long long now)
{
    int done = 0;

    if (redisBufferWrite(s->c, &done) != REDIS_OK) {
        sub_fail(w, s, s->c->errstr, now);
        return -1;
    }
    s->writing = !done;
    return 0;
}

/* Start connecting to a Sentinel, without waiting. */
static void
sub_connect(struct pm_sentinel_watch *w, struct sub *s, long long now)
{
    char host[256];
    int port;

    if (pm_redis_split_hostport(s->addr, host, sizeof(host), &port) != 0) {
        sub_fail(w, s, "not host:port", now);
        return;
    }
    s->c = redisConnectNonBlock(host, port);
    if (!s->c || s->c->err) {
        sub_fail(w, s, s->c ? s->c->errstr : "out of memory", now);
        return;
    }
    s->phase = SUB_CONNECTING;
    s->deadline = now + w->connect_ms;
}

/* The connect ended: subscribe, asking first where the primary is when no
 * subscription was up (announcements may have been missed). */
static void
sub_connected(struct pm_sentinel_watch *w, struct sub *s, long long now)
{
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (getsockopt(s->c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr) {
        sub_fail(w, s, strerror(soerr), now);
        return;
    }
    redisEnableKeepAlive(s->c);
    s->asking = w->n_up == 0;
    if ((s->asking &&
         redisAppendCommand(s->c, "SENTINEL get-master-addr-by-name %s", w->master) != REDIS_OK) ||
        redisAppendCommand(s->c, "SUBSCRIBE +promoted-slave +switch-master") != REDIS_OK) {
        sub_fail(w, s, "out of memory", now);
        return;
    }
    s->phase = SUB_SUBSCRIBING;
    s->last_rx = s->last_ping = now;
    sub_flush(w, s, now);
}

/* A message on a channel: report the primary it names, if it is ours. */
static void
sub_message(struct pm_sentinel_watch *w, struct sub *s, const char *channel, const char *text)
{
    char name[256], ip[256], oip[256], type[16], inst[256];
    int port, oport;

    if (strcmp(channel, "+switch-master") == 0 &&
        sscanf(text, "%255s %255s %d %255s %d", name, oip, &oport, ip, &port) == 5 &&
        strcmp(name, w->master) == 0)
        w->primary(w->arg, ip, port, channel, s->addr);
    else if (strcmp(channel, "+promoted-slave") == 0 &&
             sscanf(text, "%15s %255s %255s %d @ %255s", type, inst, ip, &port, name) == 5 &&
             strcmp(name, w->master) == 0)
        w->primary(w->arg, ip, port, channel, s->addr);
}

/* One reply on a subscription. */
static void
sub_reply(struct pm_sentinel_watch *w, struct sub *s, const redisReply *r)
{
    const char *kind;

    if (s->asking) { /* the answer to get-master-addr-by-name */
        s->asking = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING && atoi(r->element[1]->str) > 0)
            w->primary(w->arg, r->element[0]->str, atoi(r->element[1]->str),
                       "get-master-addr-by-name", s->addr);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0 && r->elements == 3 &&
        r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer == 2 &&
        s->phase == SUB_SUBSCRIBING) {
        s->phase = SUB_UP;
        w->n_up++;
        if (s->failed)
            pm_log(PM_LOG_NOTICE, "redis %s: following the Sentinel at %s again", w->name, s->addr);
        s->failed = 0;
    } else if (strcmp(kind, "message") == 0 && r->elements == 3 &&
               r->element[1]->type == REDIS_REPLY_STRING &&
               r->element[2]->type == REDIS_REPLY_STRING) {
        sub_message(w, s, r->element[1]->str, r->element[2]->str);
    }
}

/* Read what a subscription received and handle every complete reply. */
static void
sub_read(struct pm_sentinel_watch *w, struct sub *s, long long now)
{
    void *r;

    if (redisBufferRead(s->c) != REDIS_OK) {
        sub_fail(w, s, s->c->errstr, now);
        return;
    }
    s->last_rx = now;
    for (;;) {
        if (redisGetReplyFromReader(s->c, &r) != REDIS_OK) {
            sub_fail(w, s, s->c->errstr, now);
            return;
        }
        if (!r)
            return;
        sub_reply(w, s, r);
        freeReplyObject(r);
    }
}

/* Handle what poll() said about a subscription, then its timers. */
static void
sub_step(struct pm_sentinel_watch *w, struct sub *s, short revents, long long now)
{
    if (s->phase == SUB_CONNECTING && revents)
        sub_connected(w, s, now);
    else if (s->c && (revents & (POLLIN | POLLERR | POLLHUP)))
        sub_read(w, s, now);
    else if (s->c && (revents & POLLOUT))
        sub_flush(w, s, now);
    if (s->phase == SUB_CONNECTING && now >= s->deadline)
        sub_fail(w, s, "connection timed out", now);
    else if (s->phase >= SUB_SUBSCRIBING && now - s->last_rx >= SILENT_MS)
        sub_fail(w, s, "no answer to PING", now);
    else if (s->phase == SUB_UP && now - s->last_ping >= PING_MS) {
        s->last_ping = now;
        if (redisAppendCommand(s->c, "PING") != REDIS_OK)
            sub_fail(w, s, "out of memory", now);
        else
            sub_flush(w, s, now);
    }
    if (s->phase == SUB_DOWN && now >= s->retry_at)
        sub_connect(w, s, now);
}

/* When the subscription next needs attention (monotonic ms). */
static long long
sub_due(const struct sub *s)
{
    switch (s->phase) {
    case SUB_DOWN:
        return s->retry_at;
    case SUB_CONNECTING:
        return s->deadline;
    case SUB_SUBSCRIBING:
        return s->last_rx + SILENT_MS;
    default:
        return s->last_ping + PING_MS;
    }
}

/* The thread: poll every subscription until the wake pipe is readable. */
static void *
watch_main(void *arg)
{
    struct pm_sentinel_watch *w = arg;
    struct pollfd *p = calloc(w->n + 1, sizeof(*p));
    long long now, due;
    size_t i;

    if (!p) {
        pm_log(PM_LOG_ERR, "redis %s: cannot follow the Sentinels: out of memory", w->name);
        return NULL;
    }
    for (now = pm_mono_ms(), i = 0; i < w->n; i++)
        sub_connect(w, &w->subs[i], now);
    for (;;) {
        p[0] = (struct pollfd){w->wake[0], POLLIN, 0};
        due = now + PING_MS;
        for (i = 0; i < w->n; i++) {
            const struct sub *s = &w->subs[i];

            p[i + 1] = (struct pollfd){s->c ? s->c->fd : -1, 0, 0};
            if (s->c)
                p[i + 1].events = s->phase == SUB_CONNECTING || s->writing ? POLLOUT : POLLIN;
            if (sub_due(s) < due)
                due = sub_due(s);
        }
        if (poll(p, w->n + 1, due > now ? (int)(due - now) : 0) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        now = pm_mono_ms();
        for (i = 0; i < w->n; i++)
            sub_step(w, &w->subs[i], p[i + 1].revents, now);
    }
    for (i = 0; i < w->n; i++)
        if (w->subs[i].c)
            sub_fail(w, &w->subs[i], NULL, now);
    free(p);
    return NULL;
}

/* Free a watcher whose thread is not running. */
static void
watch_free(struct pm_sentinel_watch *w)
{
    if (w->wake[0] >= 0)
        close(w->wake[0]);
    if (w->wake[1] >= 0)
        close(w->wake[1]);
    free(w->subs);
    free(w);
}

/* Start following the Sentinels; NULL (logged) on failure. */
struct pm_sentinel_watch *
pm_sentinel_watch_start(char *const *sentinels, size_t n, const char *master, int connect_ms,
                        const char *name, pm_sentinel_primary_fn primary, void *arg)
{
    struct pm_sentinel_watch *w = calloc(1, sizeof(*w));
    sigset_t all, old;
    size_t i;
    int rc = -1;

    if (w) {
        w->wake[0] = w->wake[1] = -1;
        w->subs = calloc(n, sizeof(*w->subs));
    }
    if (w && w->subs && pipe(w->wake) == 0) {
        fcntl(w->wake[0], F_SETFD, FD_CLOEXEC);
        fcntl(w->wake[1], F_SETFD, FD_CLOEXEC);
        w->master = master;
        w->name = name;
        w->connect_ms = connect_ms;
        w->primary = primary;
        w->arg = arg;
        w->n = n;
        for (i = 0; i < n; i++)
            w->subs[i].addr = sentinels[i];
        /* the thread takes no signal: they belong to the program's own threads */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&w->thread, NULL, watch_main, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (rc != 0) {
        pm_log(PM_LOG_ERR, "redis %s: cannot follow the Sentinels: %s", name,
               rc > 0 ? strerror(rc) : "out of memory");
        if (w)
            watch_free(w);
        return NULL;
    }
    return w;
}

/* Stop the thread, wait for it and free everything. */
void
pm_sentinel_watch_stop(struct pm_sentinel_watch *w)
{
    ssize_t rc;

    if (!w)
        return;
    do
        rc = write(w->wake[1], "x", 1);
    while (rc < 0 && errno == EINTR);
    pthread_join(w->thread, NULL);
    watch_free(w);
}
