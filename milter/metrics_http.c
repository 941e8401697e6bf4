/*
 * metrics_http.c - the Prometheus endpoint and the quota refresher.
 *
 * libmicrohttpd serves GET (and HEAD) /metrics from its own polling thread;
 * any other path is 404, any other method 405. Connections are capped in
 * number, in all and per client address: a new connection beyond a cap
 * makes the oldest request give way (its socket is shut down), so clients
 * that hold connections open cannot lock a scrape out. They are capped in
 * memory (a huge header gets an error reply) and in time: a connection idle
 * for 5 s is dropped, and a request that is not answered within 10 s of the
 * connect or of the previous request's end is cut, however its client
 * trickles bytes (a sweeper thread checks every second). Nothing here takes
 * a lock the mail path holds for long, so clients of the endpoint cannot
 * slow mail down. A third thread refreshes the per-sender quota gauges
 * every metrics.refresh_seconds, pinning the runtime of the moment, so
 * top_senders and refresh_seconds follow reloads. A reload that changes
 * metrics.listen restarts them all on the new address; otherwise they keep
 * running.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "callbacks.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"

#define MAX_CONNECTIONS 16        /* open at once; a newcomer beyond makes the oldest give way */
#define MAX_PER_CLIENT 8          /* the same, per client address */
#define HARD_CONNECTIONS 24       /* libmicrohttpd's own cap, above ours: a newcomer gets in */
#define CONNECTION_TIMEOUT_S 5    /* idle */
#define REQUEST_DEADLINE_MS 10000 /* from the connect or the previous request's end */
#define CONNECTION_MEMORY (16 * 1024) /* request line and headers must fit */

/* An open connection of the endpoint (a slot of conns). */
struct conn {
    int used;
    int dropped; /* shut down, its close not yet notified */
    int fd;
    int family;
    unsigned char addr[16];
    long long mark; /* ms: the connect, or the end of the previous request */
};

static struct MHD_Daemon *daemon_h;
static char current[128]; /* the address served, "" when off */
static pthread_t refresher, sweeper;
static int refresher_running, sweeper_running;
static int stopping;
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv;
/* conns is written by libmicrohttpd's thread (connect, request end, close)
 * and read by the sweeper; a slot is freed before its socket is closed, so
 * a socket shut down under conns_mu is still this connection's */
static struct conn conns[HARD_CONNECTIONS];
static pthread_mutex_t conns_mu = PTHREAD_MUTEX_INITIALIZER;

/* libmicrohttpd's own messages: at debug level (a hostile client must not
 * fill the log). */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    pm_log(PM_LOG_DEBUG, "metrics: %s", line);
}

/* Queue a short plain-text reply. */
static enum MHD_Result
reply_text(struct MHD_Connection *con, unsigned int status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* One request: GET /metrics, or an error reply. */
static enum MHD_Result
handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **state)
{
    struct MHD_Response *r;
    enum MHD_Result rc;
    size_t len;
    char *text;

    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    if (strcmp(url, "/metrics") != 0)
        return reply_text(con, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(con, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (!(text = pm_metrics_render(&len)))
        return reply_text(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    rc = MHD_queue_response(con, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* Cut a connection: shut its socket down (libmicrohttpd then closes it). Under conns_mu. */
static void
conn_drop(struct conn *c, const char *why)
{
    if (c->dropped)
        return;
    c->dropped = 1;
    shutdown(c->fd, SHUT_RDWR);
    pm_log(PM_LOG_DEBUG, "metrics: connection dropped: %s", why);
}

/* The live connection (not self) with the oldest request, of self's address
 * when same_client; NULL if none. Under conns_mu. */
static struct conn *
conn_oldest(const struct conn *self, int same_client)
{
    struct conn *best = NULL;
    size_t i;

    for (i = 0; i < HARD_CONNECTIONS; i++) {
        struct conn *c = &conns[i];

        if (!c->used || c->dropped || c == self)
            continue;
        if (same_client &&
            (c->family != self->family || memcmp(c->addr, self->addr, sizeof(c->addr)) != 0))
            continue;
        if (!best || c->mark < best->mark)
            best = c;
    }
    return best;
}

/* Count the live connections, or those of self's address when same_client. Under conns_mu. */
static size_t
conn_count(const struct conn *self, int same_client)
{
    size_t i, n = 0;

    for (i = 0; i < HARD_CONNECTIONS; i++)
        n += conns[i].used && !conns[i].dropped &&
             (!same_client || (conns[i].family == self->family &&
                               memcmp(conns[i].addr, self->addr, sizeof(self->addr)) == 0));
    return n;
}

/* Fill c's client address from the connection. */
static void
conn_address(struct conn *c, struct MHD_Connection *con)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    memset(c->addr, 0, sizeof(c->addr));
    c->family = sa ? sa->sa_family : AF_UNSPEC;
    if (c->family == AF_INET)
        memcpy(c->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (c->family == AF_INET6)
        memcpy(c->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* A connection opens (take a slot; beyond a cap, the oldest request gives
 * way) or closes (free its slot, before its socket is closed). */
static void
on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    const union MHD_ConnectionInfo *ci;
    struct conn *c = *socket_context, *old;
    size_t i;

    (void)cls;
    pthread_mutex_lock(&conns_mu);
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (c)
            c->used = 0;
        *socket_context = NULL;
    } else if ((ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL) {
        for (i = 0; i < HARD_CONNECTIONS && conns[i].used; i++)
            ;
        if (i == HARD_CONNECTIONS) { /* cannot happen: libmicrohttpd stops at HARD_CONNECTIONS */
            shutdown(ci->connect_fd, SHUT_RDWR);
        } else {
            c = &conns[i];
            memset(c, 0, sizeof(*c));
            c->used = 1;
            c->fd = ci->connect_fd;
            c->mark = pm_mono_ms();
            conn_address(c, con);
            *socket_context = c;
            if (conn_count(c, 1) > MAX_PER_CLIENT && (old = conn_oldest(c, 1)) != NULL)
                conn_drop(old, "a newer one from the same client address");
            if (conn_count(c, 0) > MAX_CONNECTIONS && (old = conn_oldest(c, 0)) != NULL)
                conn_drop(old, "a newer one beyond the connection cap");
        }
    }
    pthread_mutex_unlock(&conns_mu);
}

/* A request ended: the connection's next request has its own deadline. */
static void
on_completed(void *cls, struct MHD_Connection *con, void **req, enum MHD_RequestTerminationCode toe)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *c = ci ? ci->socket_context : NULL;

    (void)cls;
    (void)req;
    (void)toe;
    if (!c)
        return;
    pthread_mutex_lock(&conns_mu);
    c->mark = pm_mono_ms();
    pthread_mutex_unlock(&conns_mu);
}

/* Parse "a.b.c.d:port" / "[v6]:port" into ss; 0 ok, -1 malformed. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
    const char *colon = strrchr(listen, ':');
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    char host[64];
    size_t n = colon ? (size_t)(colon - listen) : 0;
    int port = colon ? atoi(colon + 1) : 0, v6 = listen[0] == '[';

    memset(ss, 0, sizeof(*ss));
    if (!colon || port < 1 || port > 65535 || n >= sizeof(host) || (v6 && n < 3))
        return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(v6 ? n - 2 : n), v6 ? listen + 1 : listen);
    if (v6) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((unsigned short)port);
        *sslen = sizeof(*s6);
        return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -1;
    }
    s4->sin_family = AF_INET;
    s4->sin_port = htons((unsigned short)port);
    *sslen = sizeof(*s4);
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

/* Wait up to s seconds or until stopped; 1 when stopped. */
static int
wait_stop(int s)
{
    struct timespec ts;
    int stopped;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += s;
    pthread_mutex_lock(&stop_mu);
    while (!stopping && pthread_cond_timedwait(&stop_cv, &stop_mu, &ts) != ETIMEDOUT)
        ;
    stopped = stopping;
    pthread_mutex_unlock(&stop_mu);
    return stopped;
}

/* The refresher: read the quota gauges now and every refresh_seconds. */
static void *
refresh_loop(void *arg)
{
    char err[512];
    int period, failing = 0;

    (void)arg;
    do {
        struct pm_runtime *rt = pm_runtime_pin();

        if (!rt)
            break;
        period = rt->conf->metrics_refresh_seconds;
        if (pm_metrics_quota_refresh(rt->conf, rt->store, err, sizeof(err)) != 0) {
            if (!failing)
                pm_log(PM_LOG_WARNING, "metrics: cannot read the sender quotas: %s", err);
            failing = 1;
        } else if (failing) {
            pm_log(PM_LOG_NOTICE, "metrics: sender quotas read again");
            failing = 0;
        }
        pm_runtime_release(rt);
    } while (!wait_stop(period > 0 ? period : 30));
    return NULL;
}

/* The sweeper: every second, cut the requests older than the deadline. */
static void *
sweep_loop(void *arg)
{
    long long now;
    size_t i;

    (void)arg;
    do {
        now = pm_mono_ms();
        pthread_mutex_lock(&conns_mu);
        for (i = 0; i < HARD_CONNECTIONS; i++)
            if (conns[i].used && now - conns[i].mark > REQUEST_DEADLINE_MS)
                conn_drop(&conns[i], "request not done within the deadline");
        pthread_mutex_unlock(&conns_mu);
    } while (!wait_stop(1));
    return NULL;
}

/* Start the daemon and the refresher with every signal blocked in their
 * threads (the main thread waits for the process's signals). */
static int
start(const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    sigset_t all, old;
    pthread_condattr_t ca;
    unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

    if (parse_listen(listen, &ss, &sslen) != 0) {
        pm_log(PM_LOG_ERR, "metrics: bad address %s", listen);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    memset(conns, 0, sizeof(conns));
    daemon_h = MHD_start_daemon(flags, ntohs(((struct sockaddr_in *)&ss)->sin_port), NULL, NULL,
                                handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HARD_CONNECTIONS,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (daemon_h) {
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&stop_cv, &ca);
        pthread_condattr_destroy(&ca);
        stopping = 0;
        refresher_running = pthread_create(&refresher, NULL, refresh_loop, NULL) == 0;
        sweeper_running = pthread_create(&sweeper, NULL, sweep_loop, NULL) == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!daemon_h) {
        pm_log(PM_LOG_ERR, "metrics: cannot listen on %s: %s", listen, strerror(errno));
        return -1;
    }
    if (!refresher_running)
        pm_log(PM_LOG_ERR, "metrics: cannot start the quota refresher");
    if (!sweeper_running)
        pm_log(PM_LOG_ERR, "metrics: cannot start the request deadline sweeper");
    snprintf(current, sizeof(current), "%s", listen);
    pm_log(PM_LOG_NOTICE, "metrics: serving http://%s/metrics", listen);
    return 0;
}

/* Start serving on listen ("" = off). */
int
pm_metrics_http_start(const char *listen)
{
    if (!listen || !*listen || daemon_h)
        return 0;
    return start(listen);
}

/* After a reload: move the endpoint when the address changed, else keep it. */
void
pm_metrics_http_reload(const char *listen)
{
    if (!listen)
        listen = "";
    if (strcmp(listen, current) == 0)
        return;
    pm_metrics_http_stop();
    if (*listen)
        start(listen);
}

/* Stop serving and refreshing. */
void
pm_metrics_http_stop(void)
{
    if (refresher_running || sweeper_running) {
        pthread_mutex_lock(&stop_mu);
        stopping = 1;
        pthread_cond_broadcast(&stop_cv);
        pthread_mutex_unlock(&stop_mu);
        if (refresher_running)
            pthread_join(refresher, NULL);
        if (sweeper_running)
            pthread_join(sweeper, NULL);
        refresher_running = sweeper_running = 0;
        pthread_cond_destroy(&stop_cv);
    }
    if (daemon_h) {
        MHD_stop_daemon(daemon_h);
        daemon_h = NULL;
        if (*current)
            pm_log(PM_LOG_NOTICE, "metrics: stopped serving %s", current);
    }
    current[0] = '\0';
}
