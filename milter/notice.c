/*
 * notice.c - telling people of incidents (see notice.h).
 *
 * DESCRIPTION
 *     pm_notice_incident(), called on the mail path, only copies the
 *     incident into a bounded queue (NOTICE_QUEUE entries; when it is full
 *     the incident's notices are dropped, logged and counted as failed) and
 *     wakes the one notifier thread. That thread sends, for each incident:
 *     the administrators' notice and, with notify.sender, the sender's, by
 *     Postfix's sendmail (notice_mail.c) or, with notify.smtp or under
 *     no_new_privs, by SMTP (notice_smtp.c); the webhook when notify.webhook_url
 *     is set (notice_hook.c). Once a minute it sees whether the daily digest
 *     is due (notice_digest.c). Every outcome is one log line and one count
 *     of postmeter_notices_total{kind,result}.
 *
 *     The settings are copied from the configuration (a reload frees it):
 *     pm_notice_start() called again, after a reload, replaces them; the
 *     notice under way finishes with the settings it started with.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "notice.h"
#include "notice_int.h"
#include "store_redis.h"

#define NOTICE_QUEUE 64 /* incidents waiting for the notifier */
#define TICK_S 60       /* the digest is looked at this often */

/* One queued incident. */
struct item {
    struct pm_incident inc;
    char action[16];
    int sender_local; /* the sender's domain is one of local_domains */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct item queue[NOTICE_QUEUE];
static size_t q_head, q_len;
static int running, stopping, busy;
static pthread_t thread;
static struct notice_cfg *current; /* guarded by mu */
static unsigned seq;
static int smtp_auto_logged; /* the no_new_privs line was logged for the settings in use */

/* A number unique in this process for Message-IDs. */
unsigned
pm_notice_seq(void)
{
    return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

/* Free settings. */
static void
cfg_free(struct notice_cfg *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n_admin; i++)
        free(c->admin[i]);
    free(c->admin);
    if (c->store)
        pm_store_free(c->store);
    free(c);
}

/* Drop a reference to settings (under mu). */
static void
cfg_unref(struct notice_cfg *c)
{
    if (c && --c->refs == 0)
        cfg_free(c);
}

/* Copy the notify settings of conf; NULL with err set. */
static struct notice_cfg *
cfg_new(const struct pm_conf *conf, char *err, size_t errlen)
{
    struct notice_cfg *c = calloc(1, sizeof(*c));
    size_t i;

    if (!c || !(c->admin = calloc(conf->n_notify_admin + 1, sizeof(*c->admin))))
        goto oom;
    for (i = 0; i < conf->n_notify_admin; i++, c->n_admin++)
        if (!(c->admin[i] = strdup(conf->notify_admin[i])))
            goto oom;
    c->sender = conf->notify_sender;
    if (gethostname(c->host, sizeof(c->host) - 1) != 0 || !*c->host)
        snprintf(c->host, sizeof(c->host), "localhost");
    if (*conf->notify_from)
        snprintf(c->from, sizeof(c->from), "%s", conf->notify_from);
    else
        snprintf(c->from, sizeof(c->from), "postmeter@%.240s", c->host);
    snprintf(c->sendmail, sizeof(c->sendmail), "%s", conf->notify_sendmail);
    snprintf(c->config_dir, sizeof(c->config_dir), "%s", conf->notify_postfix_config_dir);
    c->timeout_s = conf->notify_timeout;
    snprintf(c->smtp, sizeof(c->smtp), "%s", conf->notify_smtp);
    if (!*c->smtp && pm_notice_nnp("/proc/self/status")) { /* sendmail cannot queue */
        snprintf(c->smtp, sizeof(c->smtp), "%s", PM_NOTICE_SMTP_NNP);
        c->smtp_auto = 1;
    }
    snprintf(c->url, sizeof(c->url), "%s", conf->notify_webhook_url);
    c->hook_ms = conf->notify_webhook_timeout_ms;
    c->digest = conf->notify_digest;
    c->digest_hour = conf->notify_digest_hour;
    c->min_first = conf->rep_min_first;
    if (c->digest && !(c->store = pm_store_redis_new(conf)))
        goto oom;
    c->refs = 1;
    return c;
oom:
    snprintf(err, errlen, "notices: out of memory");
    cfg_free(c);
    return NULL;
}

/* Log and count one outcome: 0 sent, 1 sent with some recipients refused, -1 failed. */
static void
outcome(enum pm_notice_kind kind, const char *what, const struct pm_incident *inc, int rc,
        const char *why)
{
    if (rc >= 0)
        pm_log(PM_LOG_NOTICE, "notice: %s of %s (%s) sent", what, inc->sender, inc->signal);
    if (rc > 0) /* sent by SMTP, but some recipients were refused */
        pm_log(PM_LOG_WARNING, "notice: %s of %s (%s): %s", what, inc->sender, inc->signal, why);
    else if (rc < 0)
        pm_log(PM_LOG_ERR, "notice: %s of %s (%s) failed: %s", what, inc->sender, inc->signal, why);
    pm_metrics_notice(kind, rc >= 0);
}

/* Write a notice with make and send it to n rcpts (by sendmail or SMTP). */
static int
mail_one(const struct notice_cfg *c, const struct item *it, const char *const *rcpts, size_t n,
         void (*make)(struct pm_buf *, const struct notice_cfg *, const struct pm_incident *,
                      const char *, long long, unsigned),
         char *why, size_t whylen)
{
    struct pm_buf b;
    char *msg;
    int rc;

    pm_buf_growing(&b);
    make(&b, c, &it->inc, it->action, (long long)time(NULL), pm_notice_seq());
    if (!(msg = pm_buf_take(&b))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    rc = pm_notice_submit(c, rcpts, n, msg, strlen(msg), why, whylen);
    free(msg);
    return rc;
}

/* Send every notice of one incident. */
static void
send_incident(const struct notice_cfg *c, const struct item *it)
{
    const char *to[1] = {it->inc.sender};
    char why[512];
    struct pm_buf b;
    char *body;
    int rc;

    if (c->n_admin) {
        rc = mail_one(c, it, (const char *const *)c->admin, c->n_admin, pm_notice_admin_text, why,
                      sizeof(why));
        outcome(PM_NOTICE_ADMIN, "admin notice", &it->inc, rc, why);
    }
    if (c->sender && c->n_admin && !it->sender_local) {
        pm_log(PM_LOG_INFO,
               "notice: no sender notice of %s (%s): its domain is not one of local_domains",
               it->inc.sender, it->inc.signal);
    } else if (c->sender && c->n_admin) {
        if (!pm_addr_plain(it->inc.sender, PM_NOTIFY_ADDR_MAX)) {
            snprintf(why, sizeof(why), "not an address a notice can go to");
            rc = -1;
        } else {
            rc = mail_one(c, it, to, 1, pm_notice_sender_text, why, sizeof(why));
        }
        outcome(PM_NOTICE_SENDER, "sender notice", &it->inc, rc, why);
    }
    if (*c->url) {
        pm_buf_growing(&b);
        pm_notice_hook_json(&b, &it->inc, it->action);
        if (!(body = pm_buf_take(&b))) {
            snprintf(why, sizeof(why), "out of memory");
            rc = -1;
        } else {
            rc = pm_notice_hook_post(c, body, why, sizeof(why));
        }
        free(body);
        outcome(PM_NOTICE_WEBHOOK, "webhook", &it->inc, rc, why);
    }
}

/* The notifier: send queued incidents, look at the digest once a minute. */
static void *
notifier(void *arg)
{
    long long done_day = 0, next_tick = 0;
    struct notice_cfg *c;
    struct timespec ts;
    struct item it;
    int have;

    (void)arg;
    pthread_mutex_lock(&mu);
    while (!stopping) {
        have = q_len > 0;
        if (have) {
            it = queue[q_head];
            q_head = (q_head + 1) % NOTICE_QUEUE;
            q_len--;
        } else if (time(NULL) < next_tick) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&cv, &mu, &ts);
            continue;
        }
        c = current;
        c->refs++;
        busy = 1;
        pthread_mutex_unlock(&mu);
        if (have) {
            send_incident(c, &it);
        } else {
            pm_notice_digest_tick(c, &done_day);
            next_tick = time(NULL) + TICK_S;
        }
        pthread_mutex_lock(&mu);
        busy = 0;
        cfg_unref(c);
        pthread_cond_broadcast(&cv);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Start telling people as conf says, or take conf's settings (a reload). */
int
pm_notice_start(const struct pm_conf *conf, char *err, size_t errlen)
{
    struct notice_cfg *c = cfg_new(conf, err, errlen), *old;
    int rc;

    if (!c)
        return -1;
    if (c->smtp_auto && !smtp_auto_logged && c->n_admin)
        pm_log(PM_LOG_WARNING,
               "notices: no_new_privs is set (systemd NoNewPrivileges=): Postfix's sendmail "
               "cannot queue mail (postdrop is set-group-id); notices go by SMTP to %s (set "
               "notify.smtp to choose)",
               PM_NOTICE_SMTP_NNP);
    smtp_auto_logged = c->smtp_auto && c->n_admin;
    pthread_mutex_lock(&mu);
    old = current;
    current = c;
    if (old)
        cfg_unref(old);
    if (running) {
        pthread_mutex_unlock(&mu);
        return 0;
    }
    stopping = 0;
    if (pm_notice_hook_init() != 0) {
        snprintf(err, errlen, "notices: cannot start libcurl");
        rc = -1;
    } else if ((rc = pthread_create(&thread, NULL, notifier, NULL)) != 0) {
        snprintf(err, errlen, "notices: cannot start the notifier: %s", strerror(rc));
        pm_notice_hook_done();
        rc = -1;
    } else {
        running = 1;
    }
    if (rc != 0) {
        current = NULL;
        cfg_unref(c);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

/* Queue the notices of an incident; never blocks on the notifier's work. */
void
pm_notice_incident(const struct pm_incident *inc, const char *action, int sender_local)
{
    struct item *it;
    int dropped = 0, admin = 0, sender = 0, hook = 0;

    pthread_mutex_lock(&mu);
    if (!running || stopping || !current) {
        pthread_mutex_unlock(&mu);
        return;
    }
    if (q_len == NOTICE_QUEUE) {
        /* the notices send_incident would have sent, each counted as failed */
        dropped = 1;
        admin = current->n_admin > 0;
        sender = current->sender && current->n_admin > 0 && sender_local;
        hook = *current->url != '\0';
    } else {
        it = &queue[(q_head + q_len++) % NOTICE_QUEUE];
        it->inc = *inc;
        snprintf(it->action, sizeof(it->action), "%s", action);
        it->sender_local = sender_local;
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
    if (dropped) {
        pm_log(PM_LOG_ERR, "notice: queue full (%d incidents): notices of %s (%s) dropped",
               NOTICE_QUEUE, inc->sender, inc->signal);
        if (admin)
            pm_metrics_notice(PM_NOTICE_ADMIN, 0);
        if (sender)
            pm_metrics_notice(PM_NOTICE_SENDER, 0);
        if (hook)
            pm_metrics_notice(PM_NOTICE_WEBHOOK, 0);
    }
}

/* Wait until the queue is empty and the notifier idle, at most ms; 0 or -1 (for tests). */
int
pm_notice_drain(int ms)
{
    struct timespec ts;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (running && (q_len > 0 || busy) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&cv, &mu, &ts);
    rc = q_len > 0 || busy ? -1 : 0;
    pthread_mutex_unlock(&mu);
    return rc;
}

/* Stop, dropping what was not sent yet (logged). */
void
pm_notice_stop(void)
{
    size_t left;

    pthread_mutex_lock(&mu);
    if (!running) {
        pthread_mutex_unlock(&mu);
        return;
    }
    stopping = 1;
    left = q_len;
    q_len = 0;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (left)
        pm_log(PM_LOG_WARNING, "notice: stopping: the notices of %zu incidents were not sent",
               left);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&mu);
    running = 0;
    cfg_unref(current);
    current = NULL;
    pthread_mutex_unlock(&mu);
    pm_notice_hook_done();
}
