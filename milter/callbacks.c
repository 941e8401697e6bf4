/*
 * callbacks.c - the xxfi_* callbacks: thin wrappers around the policy engine.
 *
 * Each callback pins the runtime (configuration + store) for the connection,
 * gathers the facts Postfix passes (client address, {daemon_name},
 * {auth_authen}, envelope addresses, queue id), calls the policy engine and
 * maps its verdict with pm_reply(). Per-message state resets at MAIL FROM
 * and at abort; xxfi_close may run alone with no private data.
 *
 * Mail injected locally (sendmail(1)) reaches non_smtpd_milters as an
 * emulated session from "localhost" 127.0.0.1 port 0. Postfix cannot refuse
 * one recipient of such mail (it defers the whole message as a "milter
 * configuration error"), so a refusal at RCPT TO is held and given for the
 * whole message at end of message: a 4xx Postfix retries later, or a 5xx
 * (one that waiting cannot cure) that it returns to the sender.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "callbacks.h"
#include "feedback.h"
#include "identity.h"
#include "log.h"
#include "notice.h"
#include "metrics.h"
#include "policy.h"
#include "reply.h"
#include "scan.h"
#include "watcher.h"
#include "zone.h"

/* Per-connection state. */
struct conn {
    struct pm_runtime *rt;
    char client_addr[64];
    char daemon_name[64];
    int local;              /* injected locally: refusals wait for end of message */
    int held;               /* a recipient was refused: held gives the answer at EOM */
    struct pm_verdict hold; /* the first refusal of a local message's recipients */
    struct pm_msg msg;
    struct pm_scan *scan;  /* the content scan of the current message, or NULL */
    struct pm_feedback in; /* the feedback path, for mail that is not metered */
};

#define LOG_DECISION_MAX 1536 /* the decision text's buffer, without the queue id */

static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pm_runtime *rt_current;

/* Free a runtime nobody uses any more. */
static void
runtime_free(struct pm_runtime *rt)
{
    pm_store_free(rt->store);
    pm_conf_free(rt->conf);
    free(rt);
}

/* Make rt the runtime new connections pin (takes ownership). */
void
pm_runtime_install(struct pm_runtime *rt)
{
    struct pm_runtime *old;

    /* times people read (replies) follow the configuration's zone; set from
     * the thread that installs a configuration, before it is in use */
    pm_zone_set(rt->conf->timezone);
    pthread_mutex_lock(&rt_lock);
    old = rt_current;
    rt->refs = 1;
    rt_current = rt;
    if (old && --old->refs > 0)
        old = NULL;
    pthread_mutex_unlock(&rt_lock);
    if (old)
        runtime_free(old);
}

/* Drop the installed runtime; freed when the last pin goes. */
void
pm_runtime_shutdown(void)
{
    struct pm_runtime *old;

    pthread_mutex_lock(&rt_lock);
    old = rt_current;
    rt_current = NULL;
    if (old && --old->refs > 0)
        old = NULL;
    pthread_mutex_unlock(&rt_lock);
    if (old)
        runtime_free(old);
}

/* Pin the current runtime for a connection. */
static struct pm_runtime *
runtime_pin(void)
{
    struct pm_runtime *rt;

    pthread_mutex_lock(&rt_lock);
    rt = rt_current;
    if (rt)
        rt->refs++;
    pthread_mutex_unlock(&rt_lock);
    return rt;
}

/* Release a pinned runtime. */
static void
runtime_release(struct pm_runtime *rt)
{
    int last;

    if (!rt)
        return;
    pthread_mutex_lock(&rt_lock);
    last = --rt->refs == 0;
    pthread_mutex_unlock(&rt_lock);
    if (last)
        runtime_free(rt);
}

/* Pin the current runtime (for the metrics refresher); NULL when none. */
struct pm_runtime *
pm_runtime_pin(void)
{
    return runtime_pin();
}

/* Release a runtime pinned with pm_runtime_pin(). */
void
pm_runtime_release(struct pm_runtime *rt)
{
    runtime_release(rt);
}

/* A macro's value, or NULL. */
static const char *
macro(SMFICTX *ctx, const char *name)
{
    const char *v = smfi_getsymval(ctx, (char *)name);

    return v && *v ? v : NULL;
}

/* Log one decision line with the queue id: "QID: " and up to 1535 bytes of
 * pm_policy_format()'s text, cut at PM_LOG_LINE_MAX - 1 bytes in all. */
static void
log_decision(SMFICTX *ctx, struct conn *c, const struct pm_verdict *v, const char *stage)
{
    char line[PM_LOG_LINE_MAX];
    const char *qid = macro(ctx, "i");
    size_t n;

    pm_metrics_decision(stage, v->action, v->dry_run, v->reason);
    if (!qid)
        qid = "NOQUEUE";
    n = strlen(qid);
    if (n + 2 + LOG_DECISION_MAX > sizeof(line)) {
        /* a queue id too long for the fast path: format as pm_log() would */
        pm_policy_format(c->rt->conf, &c->msg, v, stage, line, LOG_DECISION_MAX);
        pm_log(PM_LOG_INFO, "%s: %s", qid, line);
        return;
    }
    memcpy(line, qid, n);
    memcpy(line + n, ": ", 2);
    pm_policy_format(c->rt->conf, &c->msg, v, stage, line + n + 2, LOG_DECISION_MAX);
    pm_log_line(PM_LOG_INFO, line);
}

/* Ask for the events and macros postmeter needs, with a reply for each step. */
static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    /* headers and body feed the content scan; HELO, EOH and unknown commands
     * are not needed. DATA is answered although nothing is decided there:
     * Postfix sends the DATA macros anyway, and a step without a reply lets
     * Nagle on one side meet delayed ACK on the other (40 ms on TCP sockets) */
    unsigned long skip = SMFIP_NOHELO | SMFIP_NOEOH | SMFIP_NOUNKNOWN;

    (void)f2;
    (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    /* no SMFIP_NR_* flags: steps without replies stall on TCP (Nagle/delayed ACK) */
    *pf1 = f1 & skip;
    *pf2 = 0;
    *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name} {client_addr}");
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "{auth_authen} i");
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
        smfi_setsymlist(ctx, SMFIM_EOM, "i");
    }
    return SMFIS_CONTINUE;
}

/* A new SMTP connection: pin the runtime and note the client. */
static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
    struct conn *c = calloc(1, sizeof(*c));
    const char *v;

    if (!c)
        return SMFIS_TEMPFAIL;
    c->rt = runtime_pin();
    if (!c->rt) {
        free(c);
        return SMFIS_TEMPFAIL;
    }
    pm_metrics_connection(1);
    pm_watcher_connect();
    if ((v = macro(ctx, "{client_addr}")) != NULL)
        snprintf(c->client_addr, sizeof(c->client_addr), "%s", v);
    else if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->client_addr,
                  sizeof(c->client_addr));
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->client_addr,
                  sizeof(c->client_addr));
    if ((v = macro(ctx, "{daemon_name}")) != NULL)
        snprintf(c->daemon_name, sizeof(c->daemon_name), "%s", v);
    /* Postfix's emulated session for local submission: no SMTP client has port 0 */
    c->local = hostname && strcmp(hostname, "localhost") == 0 && sa && sa->sa_family == AF_INET &&
               ((struct sockaddr_in *)sa)->sin_port == 0 &&
               ntohl(((struct sockaddr_in *)sa)->sin_addr.s_addr) == INADDR_LOOPBACK;
    smfi_setpriv(ctx, c);
    return SMFIS_CONTINUE;
}

/* MAIL FROM: start a message; mail that is not metered is accepted at once. */
static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
    struct conn *c = smfi_getpriv(ctx);
    struct pm_origin o;

    if (!c)
        return SMFIS_ACCEPT;
    o.client_addr = c->client_addr[0] ? c->client_addr : NULL;
    o.daemon_name = c->daemon_name[0] ? c->daemon_name : macro(ctx, "{daemon_name}");
    o.auth_login = macro(ctx, "{auth_authen}");
    o.local = c->local;
    c->held = 0;
    pm_scan_free(c->scan);
    c->scan = NULL;
    pm_feedback_reset(&c->in);
    pm_policy_mail(c->rt->conf, &o, argv && argv[0] ? argv[0] : "", &c->msg);
    pm_metrics_message(c->msg.outgoing);
    if (!c->msg.metered && c->rt->conf->feedback_enabled &&
        (!c->msg.outgoing || !c->msg.sender[0])) {
        /* incoming mail and bounces feed the feedback loop; never metered */
        pm_feedback_start(&c->in, argv && argv[0] ? argv[0] : "");
        return SMFIS_CONTINUE;
    }
    if (!c->msg.metered) {
        pm_log(PM_LOG_DEBUG, "%s: not metered (%s) from=%.200s client=%s",
               macro(ctx, "i") ? macro(ctx, "i") : "NOQUEUE",
               c->msg.outgoing ? "null or unparsable sender" : "incoming",
               argv && argv[0] ? argv[0] : "", c->client_addr);
        return SMFIS_ACCEPT;
    }
    if (c->rt->conf->n_rules > 0) {
        const struct pm_conf *cf = c->rt->conf;
        struct pm_scan_conf sc = {(const char *const *)cf->shorteners, cf->n_shorteners, 0,
                                  (const char *const *)cf->subject_spam_words,
                                  cf->n_subject_spam_words};

        c->scan = pm_scan_new(&sc); /* NULL (out of memory): no content facts */
    }
    return SMFIS_CONTINUE;
}

/* Give the policy the queue id, for the incident's list of held mail. */
static void
incident_qid(SMFICTX *ctx, struct conn *c)
{
    const char *qid = macro(ctx, "i");

    snprintf(c->msg.qid, sizeof(c->msg.qid), "%s", qid ? qid : "");
}

/* The request just made opened the sender's incident: tell people. */
static void
incident_notice(struct conn *c)
{
    if (!c->msg.inc_opened)
        return;
    c->msg.inc_opened = 0;
    pm_notice_incident(&c->msg.res.inc,
                       c->rt->conf->inc_action == PM_ACT_TEMPFAIL ? "tempfailed" : "held",
                       !pm_is_external(c->rt->conf, c->msg.res.inc.sender));
}

/* RCPT TO: early refusal of a recipient that cannot fit. */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
    struct conn *c = smfi_getpriv(ctx);
    struct pm_verdict v;

    if (c)
        pm_metrics_recipient(c->msg.outgoing);
    if (c && c->in.active)
        pm_feedback_rcpt(&c->in, c->rt->conf, argv && argv[0] ? argv[0] : "");
    if (!c || !c->msg.metered)
        return SMFIS_CONTINUE;
    incident_qid(ctx, c);
    pm_policy_rcpt(c->rt->conf, c->rt->store, &c->msg, argv && argv[0] ? argv[0] : "", &v);
    incident_notice(c);
    if (v.action >= PM_ACT_TEMPFAIL || v.kind == PM_R_STORE_ERROR)
        log_decision(ctx, c, &v, "rcpt");
    if (c->local && v.action >= PM_ACT_TEMPFAIL && !v.dry_run) {
        if (!c->held++) {
            c->hold = v;
            pm_verdict_whole_message(&c->hold);
        }
        return SMFIS_CONTINUE;
    }
    return pm_reply(ctx, &v, 0, c->rt->conf->header_name);
}

/* A header: to the content scan and the policy (metered mail), or the feedback path. */
static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c && c->scan)
        pm_scan_header(c->scan, name, value);
    if (c && c->msg.metered)
        pm_policy_header(c->rt->conf, &c->msg, name, value);
    if (c && c->in.active)
        pm_feedback_header(&c->in, c->rt->conf, name, value);
    return SMFIS_CONTINUE;
}

/* A body chunk of a metered message: feed the content scan. */
static sfsistat
cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c && c->in.active) {
        if (pm_feedback_wants_body(&c->in))
            pm_feedback_body(&c->in, chunk, len);
        return pm_feedback_wants_body(&c->in) ? SMFIS_CONTINUE : SMFIS_SKIP;
    }
    if (!c || !c->scan || c->held)
        return SMFIS_SKIP;
    pm_scan_body(c->scan, chunk, len);
    return SMFIS_CONTINUE;
}

/* Copy what the scan found into the facts the rules see. */
static void
scan_facts(struct conn *c)
{
    struct pm_features f;
    long long *x = c->msg.facts;

    pm_scan_finish(c->scan, &f);
    pm_scan_free(c->scan);
    c->scan = NULL;
    x[PM_F_ATTACHMENTS] = f.attachments;
    x[PM_F_ATTACHED_IMAGES] = f.attached_images;
    x[PM_F_INLINE_IMAGES] = f.inline_images;
    x[PM_F_REMOTE_IMAGES] = f.remote_images;
    x[PM_F_LINKS] = f.links;
    x[PM_F_SHORTENER_LINKS] = f.shortener_links;
    x[PM_F_BODY_LINKS] = f.body_links;
    x[PM_F_SIGNATURE_LINKS] = f.signature_links;
    x[PM_F_QUOTED_LINKS] = f.quoted_links;
    x[PM_F_SIZE] = (long long)f.size;
    x[PM_F_INCOMPLETE] = !f.complete;
    x[PM_F_SUBJECT_CAPS] = f.subject_caps;
    x[PM_F_SUBJECT_EXCLAMATIONS] = f.subject_exclamations;
    x[PM_F_SUBJECT_SPAM_WORDS] = f.subject_spam_words;
    x[PM_F_SUBJECT_LENGTH] = f.subject_length;
    c->msg.reply_prefix = f.reply_prefix; /* fake_reply: decided at end of message */
    c->msg.scanned = 1;
}

/* DATA: nothing to decide, but answering it keeps TCP from stalling (see cb_negotiate). */
static sfsistat
cb_data(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

/* End of message: the authoritative check-and-count. */
static sfsistat
cb_eom(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);
    struct pm_verdict v;
    sfsistat r;

    if (c && c->in.active) {
        pm_feedback_finish(&c->in, c->rt->conf, c->rt->store,
                           macro(ctx, "i") ? macro(ctx, "i") : "NOQUEUE");
        return SMFIS_CONTINUE;
    }
    if (!c || !c->msg.metered)
        return SMFIS_CONTINUE;
    if (c->held) {
        /* a local message with a refused recipient: refused whole, counts nothing */
        log_decision(ctx, c, &c->hold, "eom");
        pm_scan_free(c->scan);
        c->scan = NULL;
        c->msg.metered = c->held = 0;
        return pm_reply(ctx, &c->hold, 1, c->rt->conf->header_name);
    }
    if (c->scan)
        scan_facts(c);
    incident_qid(ctx, c);
    pm_policy_eom(c->rt->conf, c->rt->store, &c->msg, &v);
    incident_notice(c);
    pm_metrics_scan(c->msg.cold > 0, c->msg.scanned && c->msg.facts[PM_F_ATTACHMENTS] > 0);
    log_decision(ctx, c, &v, "eom");
    r = pm_reply(ctx, &v, 1, c->rt->conf->header_name);
    c->msg.metered = 0;
    return r;
}

/* The transaction was aborted: it counts nothing; forget it. */
static sfsistat
cb_abort(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c) {
        memset(&c->msg, 0, sizeof(c->msg));
        c->held = 0;
        pm_scan_free(c->scan);
        c->scan = NULL;
        pm_feedback_reset(&c->in);
    }
    return SMFIS_CONTINUE;
}

/* The connection ends (possibly without a connect callback). */
static sfsistat
cb_close(SMFICTX *ctx)
{
    struct conn *c = smfi_getpriv(ctx);

    if (c) {
        smfi_setpriv(ctx, NULL);
        pm_metrics_connection(-1);
        pm_watcher_close();
        pm_scan_free(c->scan);
        pm_feedback_reset(&c->in);
        runtime_release(c->rt);
        free(c);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc pm_milter_desc = {
    .xxfi_name = "postmeter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_QUARANTINE,
    .xxfi_connect = cb_connect,
    .xxfi_envfrom = cb_envfrom,
    .xxfi_envrcpt = cb_envrcpt,
    .xxfi_header = cb_header,
    .xxfi_body = cb_body,
    .xxfi_data = cb_data,
    .xxfi_eom = cb_eom,
    .xxfi_abort = cb_abort,
    .xxfi_close = cb_close,
    .xxfi_negotiate = cb_negotiate,
};
