/*
 * policy.c - the engine's face: plain facts in, a verdict out.
 *
 * Orchestrates identity (who sends, is it outgoing), plan assignment, the
 * store's atomic check-and-count, and the verdict texts. A message that
 * postmeter lets through counts; a refused one counts nothing. What the
 * daemon knows of a sender, which spares RCPT round trips, is used in
 * policy_known.c (policy_int.h: what the two share).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "feedback.h"
#include "learning.h"
#include "log.h"
#include "plan.h"
#include "policy.h"
#include "siphash.h"
#include "policy_int.h"
#include "buf.h"
#include "zone.h"

#define STORE_ERROR_LOG_SECONDS 60

/* Log why the store failed (a Redis error reply, a timeout, a busy pool): at
 * most one line a minute, with how many more there were since the last one.
 * The link itself going down or up is logged by the store. */
void
pm_policy_store_error(const char *stage, const char *err)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static long long last, more;
    struct timespec ts;
    long long now, n = -1;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = ts.tv_sec;
    pthread_mutex_lock(&mu);
    if (last == 0 || now - last >= STORE_ERROR_LOG_SECONDS) {
        n = more;
        last = now;
        more = 0;
    } else {
        more++;
    }
    pthread_mutex_unlock(&mu);
    if (n == 0)
        pm_log(PM_LOG_WARNING, "store error at %s: %s", stage, err);
    else if (n > 0)
        pm_log(PM_LOG_WARNING, "store error at %s: %s (%lld more since the previous line)", stage,
               err, n);
    else
        pm_log(PM_LOG_DEBUG, "store error at %s: %s", stage, err);
}

/* The sender the milter meters and its domain; see policy.h. */
int
pm_policy_sender(const struct pm_conf *conf, const char *login, const char *envfrom,
                 char sender[PM_ADDR_MAX], char domain[PM_ADDR_MAX])
{
    char env[PM_ADDR_MAX], *p;
    size_t n;
    int rc = pm_sender_identity(login, envfrom, sender, PM_ADDR_MAX);

    domain[0] = '\0';
    if (rc != 0) {
        sender[0] = '\0';
        return rc;
    }
    n = strlen(sender);
    /* a SASL login without '@' is qualified with login_domain */
    if (!strchr(sender, '@') && conf->login_domain && *conf->login_domain &&
        n + 1 + strlen(conf->login_domain) < PM_ADDR_MAX) {
        snprintf(sender + n, PM_ADDR_MAX - n, "@%s", conf->login_domain);
        for (p = sender + n; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    /* the sender domain: the identity's, or for a bare login the envelope sender's */
    if (strchr(sender, '@'))
        snprintf(domain, PM_ADDR_MAX, "%s", pm_addr_domain(sender));
    else if (pm_addr_normalise(envfrom ? envfrom : "", env, sizeof(env)) == 0)
        snprintf(domain, PM_ADDR_MAX, "%s", pm_addr_domain(env));
    return 0;
}

/* Start a message: direction, sender identity and plans. */
void
pm_policy_mail(const struct pm_conf *conf, const struct pm_origin *origin, const char *envfrom,
               struct pm_msg *m)
{
    size_t tail = offsetof(struct pm_msg, unknown_rcpt) + sizeof(m->unknown_rcpt);

    /* all but the recipients' arrays, which are read only up to their counts */
    memset(m, 0, offsetof(struct pm_msg, hashes));
    memset((char *)m + tail, 0, sizeof(*m) - tail);
    m->dplan = -1;
    m->outgoing = pm_is_outgoing(conf, origin);
    if (!m->outgoing)
        return;
    if (origin->auth_login)
        snprintf(m->login, sizeof(m->login), "%s", origin->auth_login);
    switch (pm_policy_sender(conf, origin->auth_login, envfrom, m->sender, m->domain)) {
    case 0:
        m->metered = 1;
        break;
    case 1:
        return; /* the null sender is never metered */
    default:
        pm_log(PM_LOG_WARNING, "cannot parse sender address <%.200s>: not metered",
               envfrom ? envfrom : "");
        return;
    }
    m->plan = pm_plan_for_sender(conf, m->sender, m->login);
    m->dplan = pm_plan_for_domain(conf, m->domain);
    pm_policy_incident_net(origin, m->net, sizeof(m->net));
}

/* Fill one scope of a store request from a plan; warm-up only when wanted. */
static void
policy_scope(const struct pm_conf *conf, const struct pm_plan *p, const char *id, int warmup,
             struct pm_scope_req *sc)
{
    sc->id = id;
    pm_plan_counter_limits(&p->lim, sc->limit);
    sc->soft = p->action < PM_ACT_TEMPFAIL; /* hold, tag: over the limit the mail goes */
    /* the rules of warm-up always: a plan override may bring a curve */
    sc->warmup.dormant_days = conf->warmup_dormant_days;
    sc->warmup.max_bounce_ppm = llround(conf->warmup_max_bounce_rate * 1e6);
    if (warmup && p->warmup.n) {
        sc->warmup.n = p->warmup.n;
        sc->warmup.day_cap = p->warmup.cap;
        sc->warmup.hour_cap = p->warmup_hour;
    }
}

/* Fill a store request for m adding one message (internal: a message to
 * colleagues only, counted apart) and rcpts external recipients; hashes (n of
 * them) are the recipients to look up as contacts. */
void
pm_policy_request(const struct pm_conf *conf, const struct pm_msg *m, enum pm_meter_mode mode,
                  int internal, long long rcpts, const char *const *hashes, size_t n,
                  struct pm_meter_req *req)
{
    memset(req, 0, sizeof(*req));
    req->contacts.hashes = hashes;
    req->contacts.n = n;
    req->contacts.ttl_days = conf->contacts_ttl_days;
    req->contacts.max = conf->contacts_max;
    req->contacts.company_wide = conf->contacts_company_wide;
    req->contacts.domain = m->domain;
    req->reputation.min_sends = conf->rep_min_sends;
    req->reputation.warn_ppm = llround(conf->rep_warn * 1e6);
    req->reputation.halve_ppm = llround(conf->rep_halve * 1e6);
    req->reputation.cold_ppm = llround(conf->rep_refuse_cold * 1e6);
    req->reputation.stop_ppm = llround(conf->rep_refuse_all * 1e6);
    req->reputation.min_first = conf->rep_min_first;
    req->reputation.min_reply_ppm = llround(conf->rep_min_reply_rate * 1e6);
    req->company = m->domain;
    req->wday_offset = pm_zone_offset((long long)time(NULL)); /* warm-up days are local */
    if (mode != PM_METER_PROBE && m->msgid_hash[0]) {
        req->msgid_hash = m->msgid_hash;
        req->msgid_days = conf->msgid_days;
        req->msgid_max = conf->msgid_max;
    }
    req->mode = mode;
    req->msgs = !internal;
    req->internal = internal;
    req->rcpts = rcpts;
    req->hour_bucket = conf->hour_bucket;
    req->day_bucket = conf->day_bucket;
    req->wu_learn = m->learning ? conf->learning_established_days : 0;
    policy_scope(conf, &conf->plans[m->plan], m->sender, 1, &req->scope[PM_SCOPE_SENDER]);
    if (m->dplan >= 0)
        policy_scope(conf, &conf->plans[m->dplan], m->domain, conf->plans[m->dplan].warmup_set,
                     &req->scope[PM_SCOPE_DOMAIN]);
}

/* The over-limit action of the plan that governs scope. */
static enum pm_action
policy_action(const struct pm_conf *conf, const struct pm_msg *m, enum pm_scope scope)
{
    int p = scope == PM_SCOPE_DOMAIN && m->dplan >= 0 ? m->dplan : m->plan;

    return conf->plans[p].action;
}

/* Turn a store answer that does not fit into a verdict; at_rcpt: for the
 * recipient just asked about (one too many is refused alone). */
void
pm_policy_over(const struct pm_conf *conf, const struct pm_msg *m, const struct pm_meter_res *res,
               int at_rcpt, struct pm_verdict *v)
{
    enum pm_action act = policy_action(conf, m, res->over_scope);
    int rcpt_counter = res->over_counter == PM_C_RCPTS_HOUR ||
                       res->over_counter == PM_C_RCPTS_DAY || res->over_counter == PM_C_NEW_DAY;

    if (res->over_counter == PM_C_REP_COLD || res->over_counter == PM_C_REP_STOP)
        pm_verdict_reputation(v, act < PM_ACT_TEMPFAIL ? PM_ACT_TEMPFAIL : act, m->sender,
                              res->over_counter == PM_C_REP_COLD, res->rep.ppm, res->rep.sent);
    else if (res->over_counter >= PM_C_WARMUP_DAY)
        pm_verdict_warmup(v, act, m->sender, m->domain, res->over_scope,
                          res->over_counter == PM_C_WARMUP_HOUR, res->warmup[res->over_scope].stage,
                          res->over_limit, res->now, res->retry_at);
    else if (at_rcpt && rcpt_counter && res->retry_at < 0)
        pm_verdict_rcpt_limit(v, act, m->sender, m->domain, res->over_scope, res->over_counter,
                              res->over_limit);
    else
        pm_verdict_limit(v, act, m->sender, m->domain, res->over_scope, res->over_counter,
                         res->over_limit, res->now, res->retry_at);
    /* the bounce rate halved the sender's outgoing limits: say so */
    if (res->rep.level >= 2 && res->over_scope == PM_SCOPE_SENDER &&
        res->over_counter <= PM_C_NEW_DAY)
        pm_verdict_halved(v, res->rep.ppm);
    /* too few first contacts replied: the new-recipient limit was halved */
    if (res->rep.reply_brake && res->over_scope == PM_SCOPE_SENDER &&
        res->over_counter == PM_C_NEW_DAY)
        pm_verdict_reply_brake(v, res->rep.first, res->rep.replied,
                               llround(conf->rep_min_reply_rate * 1e6));
}

#define UNKNOWN_OVERRIDES_SEEN 256

/* Say once per sender and configuration (as far as 256 can be remembered)
 * that the sender's plan override names a plan this configuration lacks. */
static void
policy_unknown_override(const struct pm_conf *conf, const struct pm_msg *m)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static struct {
        const struct pm_conf *conf;
        uint64_t sender;
    } seen[UNKNOWN_OVERRIDES_SEEN];
    static size_t next;
    uint64_t h = pm_siphash(conf->contacts_key, m->sender, strlen(m->sender));
    size_t i;
    int found = 0;

    pthread_mutex_lock(&mu);
    for (i = 0; i < UNKNOWN_OVERRIDES_SEEN && !found; i++)
        found = seen[i].conf == conf && seen[i].sender == h;
    if (!found) {
        seen[next].conf = conf;
        seen[next].sender = h;
        next = (next + 1) % UNKNOWN_OVERRIDES_SEEN;
    }
    pthread_mutex_unlock(&mu);
    if (!found)
        pm_log(PM_LOG_WARNING,
               "sender=%s: the plan override set for this sender names a plan this "
               "configuration does not have; plan %s applies until postmeter is reloaded "
               "with that plan",
               m->sender, conf->plans[m->plan].name);
}

/* Follow a plan override the store reported. */
void
pm_policy_adopt(const struct pm_conf *conf, struct pm_msg *m)
{
    if (m->res.plan >= 0 && (size_t)m->res.plan < conf->n_plans) {
        m->plan = m->res.plan;
        m->plan_override = 1;
    } else if (m->res.plan == -2) {
        policy_unknown_override(conf, m);
    }
}

/* The keyed hash of a normalised address, as 16 hex digits. */
static void
policy_hash(const struct pm_conf *conf, const char *addr, char out[17])
{
    pm_siphash_hex(conf->contacts_key, addr, strlen(addr), out);
}

/* 1 when the recipient of hash was accepted before in this message. */
static int
policy_seen(const struct pm_msg *m, int ext, const char *hash)
{
    size_t i, n = ext ? m->nhashes : m->n_internal;

    for (i = 0; i < n; i++)
        if (memcmp(ext ? m->hashes[i] : m->internal[i], hash, 17) == 0)
            return 1;
    return 0;
}

/* Ask the store about one recipient (ext: external, addr and hash: its
 * normalised address and keyed hash, rcpt: as given) into v; *cold: 1 when
 * it is a first contact. One probe: would the message fit with this
 * recipient, is it a contact, is it suppressed. */
static void
policy_probe(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m, int ext,
             const char *addr, const char *hash, const char *rcpt, struct pm_verdict *v,
             long long *cold)
{
    const char *hp = hash;
    struct pm_meter_req req;
    char err[256];
    int rc;

    pm_policy_request(conf, m, PM_METER_PROBE, m->next + ext == 0, m->next + ext, &hp, ext ? 1 : 0,
                      &req);
    req.contacts.cold_before = m->cold;
    req.suppressed_rcpt = ext ? addr : NULL;
    pm_policy_incident_req(conf, m, 0, &req.incident);
    m->have_res = 0; /* the store clears its answer: the last one is gone */
    rc = pm_policy_meter(conf, store, m, &req, &m->res, err, sizeof(err));
    if (rc == 0) {
        /* the store's time in the reply says whether learning is over */
        pm_learning_clock(m->res.now);
        m->learning = pm_learning_active(conf, store);
    }
    if (rc != 0) {
        pm_verdict_store_error(v, conf->on_store_error, m->sender);
        pm_policy_store_error("RCPT", err);
    } else if (m->res.sup.found) {
        pm_verdict_suppressed(v, rcpt, &m->res.sup); /* quoted as given */
    } else {
        pm_policy_adopt(conf, m);
        *cold = m->res.cold - m->cold;
        /* in incident: held at end of message, or tempfailed now */
        if (!pm_policy_incident(conf, m, 0, v) && !m->res.fits &&
            (policy_action(conf, m, m->res.over_scope) >= PM_ACT_TEMPFAIL ||
             m->res.over_counter >= PM_C_REP_COLD))
            pm_policy_over(conf, m, &m->res, 1, v);
        m->have_res = 1;
    }
}

/* Add an accepted external recipient's hash to m (known: its cold status
 * was looked up; else it is asked at the end of message when the rules need it). */
static void
policy_add_external(struct pm_msg *m, const char *hash, const char *rcpt, int known)
{
    size_t i = m->nhashes;

    if (i >= PM_MSG_MAX_HASHES)
        return;
    memcpy(m->hashes[i], hash, 17);
    m->unknown[i] = 0;
    m->nhashes++;
    if (known)
        return;
    if (m->n_unknown < PM_MSG_UNKNOWN_NAMED) {
        m->unknown[i] = (unsigned char)(m->n_unknown + 1);
        snprintf(m->unknown_rcpt[m->n_unknown], sizeof(m->unknown_rcpt[0]), "%s", rcpt);
    } else {
        m->unknown[i] = PM_MSG_UNKNOWN_NAMED + 1; /* not named */
    }
    m->n_unknown++;
}

/* Decide on one recipient (early refusal); on accept it is added to m. */
void
pm_policy_rcpt(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m,
               const char *rcpt, struct pm_verdict *v)
{
    char addr[PM_ADDR_MAX], hash[17];
    long long cold = 0, per_msg;
    int ext, norm;
    enum pm_sknow_act known = PM_SKNOW_ASK;

    pm_verdict_accept(v);
    if (!m->metered)
        return;
    /* recipients per message: the sender's plan and its company's, the lower */
    per_msg = conf->plans[m->plan].lim.rcpts_per_msg;
    if (m->dplan >= 0 && conf->plans[m->dplan].lim.rcpts_per_msg &&
        (!per_msg || conf->plans[m->dplan].lim.rcpts_per_msg < per_msg))
        per_msg = conf->plans[m->dplan].lim.rcpts_per_msg;
    norm = pm_addr_normalise(rcpt, addr, sizeof(addr)) == 0;
    ext = norm && pm_is_external(conf, addr);
    if (norm)
        policy_hash(conf, addr, hash);
    if (norm && policy_seen(m, ext, hash))
        return; /* the same recipient again: Postfix delivers one copy, it counts once */
    if (per_msg && m->nrcpt + 1 > per_msg) {
        pm_verdict_rcpts_per_msg(v, m->sender, per_msg);
    } else if (ext && m->nhashes >= PM_MSG_MAX_HASHES) {
        /* every external recipient is looked up and remembered as a contact:
         * past what a message keeps, the rest goes in another message */
        pm_verdict_rcpts_per_msg(v, m->sender, PM_MSG_MAX_HASHES);
    } else {
        /* what this server knows of the sender may decide; else the store */
        m->learning = pm_learning_active(conf, store);
        known = pm_policy_known(conf, m, ext, norm ? addr : NULL, v);
        if (known == PM_SKNOW_ASK)
            policy_probe(conf, store, m, ext, addr, hash, rcpt, v, &cold);
    }
    if (v->action >= PM_ACT_TEMPFAIL)
        m->inc_refused = 1; /* the message's refusals after this one are not counted */
    /* a dry run, or an installation learning, only logs a refusal */
    if (v->action >= PM_ACT_TEMPFAIL && (conf->dry_run || m->learning)) {
        v->dry_run = 1;
        v->learning = m->learning;
    }
    if (v->action >= PM_ACT_TEMPFAIL && !v->dry_run) {
        m->nrefused++;
        return;
    }
    m->nrcpt++;
    m->next += ext;
    m->cold += cold;
    if (cold > 0 && !m->cold_rcpt[0])
        snprintf(m->cold_rcpt, sizeof(m->cold_rcpt), "%s", rcpt);
    if (ext)
        pm_policy_incident_domain(m, addr);
    if (ext)
        policy_add_external(m, hash, rcpt, known != PM_SKNOW_GO);
    else if (norm && m->n_internal < PM_MSG_MAX_HASHES)
        memcpy(m->internal[m->n_internal++], hash, sizeof(hash));
}

/* A header of a metered message: remember its Message-ID. */
void
pm_policy_header(const struct pm_conf *conf, struct pm_msg *m, const char *name, const char *value)
{
    if (m->metered && !m->msgid_hash[0] && strcasecmp(name, "Message-ID") == 0 &&
        pm_feedback_msgid_hash(conf, value, m->msgid_hash) < 0)
        m->msgid_hash[0] = '\0';
    else if (m->metered &&
             (strcasecmp(name, "In-Reply-To") == 0 || strcasecmp(name, "References") == 0))
        pm_feedback_refs(conf, value, m->refs, &m->n_refs, &m->next_ref);
}

static unsigned char txid_seed[16]; /* keys the ids of messages without a Message-ID */

/* Seed the ids of messages without a Message-ID (once per process). */
static void
policy_seed(void)
{
    struct timespec ts;

    if (getrandom(txid_seed, sizeof(txid_seed), 0) == (ssize_t)sizeof(txid_seed))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    memcpy(txid_seed, &ts, sizeof(ts) < sizeof(txid_seed) ? sizeof(ts) : sizeof(txid_seed));
}

/* The id of a message's commit: the same message (sender, Message-ID,
 * recipients) sent again gets the same one, so that a commit whose reply was
 * lost is not counted twice; without a Message-ID, one of its own. */
static void
policy_txid(const struct pm_conf *conf, const struct pm_msg *m, char out[17])
{
    static long long serial;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    size_t len = strlen(m->sender) + 48 + m->nhashes * 16, off, i;
    char *buf;

    if (!m->msgid_hash[0] || !(buf = malloc(len))) {
        long long n = __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);
        char id[64];

        pthread_once(&once, policy_seed);
        snprintf(id, sizeof(id), "%ld:%lld", (long)getpid(), n);
        pm_siphash_hex(txid_seed, id, strlen(id), out);
        return;
    }
    off = (size_t)snprintf(buf, len, "%s\n%s\n%lld\n", m->sender, m->msgid_hash, m->nrcpt);
    for (i = 0; i < m->nhashes && off + 16 < len; i++, off += 16)
        memcpy(buf + off, m->hashes[i], 16);
    pm_siphash_hex(conf->contacts_key, buf, off, out);
    free(buf);
}

/* Fill the facts the rules see about recipients and sender. */
static void
policy_facts(struct pm_msg *m)
{
    long long *f = m->facts;

    f[PM_F_FIRST_CONTACT] = m->cold > 0;
    f[PM_F_COLD_RECIPIENTS] = m->cold;
    f[PM_F_RECIPIENTS] = m->nrcpt;
    f[PM_F_EXTERNAL_RECIPIENTS] = m->next;
    f[PM_F_WARMING_UP] = m->have_res && m->res.warmup[PM_SCOPE_SENDER].active;
    f[PM_F_IMAGES] = f[PM_F_ATTACHED_IMAGES] + f[PM_F_INLINE_IMAGES];
}

/* Combine the rules' verdict (tag or hold) with the quota's (accept, tag, hold):
 * the more severe action and its text; for the same action both texts (the
 * log's note lists every reason; the tag header names only the rules). */
static void
policy_combine(struct pm_verdict *v, const struct pm_verdict *rules)
{
    char reason[sizeof(v->reason)];
    size_t off;

    if (rules->action == PM_ACT_ACCEPT && rules->kind == PM_R_OK)
        return;
    if (v->action == PM_ACT_ACCEPT && v->kind == PM_R_OK) {
        *v = *rules;
        return;
    }
    if (snprintf(reason, sizeof(reason), "%s,%s", v->reason, rules->reason) >= 0)
        memcpy(v->reason, reason, sizeof(reason));
    if (rules->action > v->action) {
        v->action = rules->action;
        memcpy(v->text, rules->text, sizeof(v->text));
        memcpy(v->rcode, rules->rcode, sizeof(v->rcode)); /* the reply goes with its text */
        memcpy(v->xcode, rules->xcode, sizeof(v->xcode));
    } else if (rules->action == v->action && rules->text[0]) {
        off = strlen(v->text);
        snprintf(v->text + off, sizeof(v->text) - off, "%s%s", off ? "; " : "", rules->text);
    }
}

/* Run the content rules over m's facts into rv. */
static void
policy_rules(const struct pm_conf *conf, const struct pm_msg *m, int only_log,
             struct pm_verdict *rv)
{
    int matched[PM_RULES_MAX] = {0};
    size_t i, n = conf->n_rules < PM_RULES_MAX ? conf->n_rules : PM_RULES_MAX;

    for (i = 0; i < n; i++)
        matched[i] = pm_rule_match(&conf->rules[i], m->facts);
    pm_verdict_rules_to(rv, conf->rules, matched, n, only_log, m->sender, m->cold_rcpt, m->cold);
}

/* The end of message could not reach the store (stage: where): v says what
 * on_store_error does, with the rules' verdict rv. */
static void
policy_eom_error(const struct pm_conf *conf, const struct pm_msg *m, const char *stage,
                 const char *err, int only_log, const struct pm_verdict *rv, struct pm_verdict *v)
{
    pm_verdict_store_error(v, conf->on_store_error, m->sender);
    pm_policy_store_error(stage, err);
    if (v->action >= PM_ACT_TEMPFAIL && only_log) {
        v->dry_run = 1; /* a dry run, or learning, refuses nothing, as at RCPT */
        v->learning = m->learning;
    }
    if (v->action == PM_ACT_ACCEPT || v->dry_run)
        policy_combine(v, rv);
}

/* The authoritative decision at end of message. */
void
pm_policy_eom(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m,
              struct pm_verdict *v)
{
    const char *hp[PM_MSG_MAX_HASHES], *rp[PM_FEEDBACK_MAX_REFS];
    char txid[17];
    struct pm_verdict rv, rv_fake;
    int refs_open, gate = 0, unsettled;
    struct pm_meter_req req;
    enum pm_meter_mode mode = PM_METER_COMMIT;
    char err[256];
    size_t i;
    int only_log;
    long long had_unknown;

    pm_verdict_accept(v);
    if (!m->metered)
        return;
    /* a dry run, or an installation learning, only logs what it would do */
    m->learning = pm_learning_active(conf, store);
    only_log = conf->dry_run || m->learning;
    policy_facts(m);
    /* recipients let through without the store: when the rules' verdict
     * depends on how many of them are first contacts, the store says first */
    unsettled = m->n_unknown > 0 && !pm_policy_rules_settled(conf, m);
    if (unsettled && pm_policy_cold_lookup(conf, store, m, err, sizeof(err)) != 0) {
        policy_rules(conf, m, only_log, &rv);
        policy_eom_error(conf, m, "end of message", err, only_log, &rv, v);
        return;
    }
    if (unsettled)
        policy_facts(m);
    had_unknown = m->n_unknown;
    /* a reply prefix to a first contact: a fake reply without references;
     * with some, the store says (in the meter call) whether they name a
     * message the sender sent: the rules run for both answers */
    refs_open = m->reply_prefix && m->cold + m->n_unknown > 0 && m->n_refs > 0;
    m->facts[PM_F_FAKE_REPLY] = m->reply_prefix && m->cold > 0 && m->n_refs == 0;
    policy_rules(conf, m, only_log, &rv);
    if (refs_open) {
        m->facts[PM_F_FAKE_REPLY] = 1;
        policy_rules(conf, m, only_log, &rv_fake);
        m->facts[PM_F_FAKE_REPLY] = 0;
        gate = rv_fake.action >= PM_ACT_TEMPFAIL && !rv_fake.dry_run;
    }
    if (rv.action >= PM_ACT_TEMPFAIL && !rv.dry_run) {
        *v = rv; /* refused by a rule: nothing counts */
        return;
    }
    /* what a dry run or learning lets through must count; a plan that holds
     * or tags over its limits is a soft scope, which the commit counts past */
    if (only_log || rv.action >= PM_ACT_TEMPFAIL)
        mode = PM_METER_FORCE;
    for (i = 0; i < m->nhashes; i++)
        hp[i] = m->hashes[i];
    pm_policy_request(conf, m, mode, m->nrcpt > 0 && m->next == 0, m->next, hp, m->nhashes, &req);
    policy_txid(conf, m, txid);
    req.txid = txid;
    pm_policy_incident_req(conf, m, 1, &req.incident);
    if (refs_open) {
        for (i = 0; i < m->n_refs; i++)
            rp[i] = m->refs[i];
        req.ref_hashes = rp;
        req.n_refs = m->n_refs;
        req.refs_gate = gate; /* refused when fake: then nothing may count */
    }
    m->have_res = 0;
    if (pm_policy_meter(conf, store, m, &req, &m->res, err, sizeof(err)) != 0) {
        policy_eom_error(conf, m, "end of message", err, only_log, &rv, v);
        return;
    }
    m->have_res = 1;
    pm_learning_clock(m->res.now);
    if (refs_open && m->res.refs_known == 0) {
        m->facts[PM_F_FAKE_REPLY] = 1; /* its references name nothing the sender sent */
        rv = rv_fake;
        if (gate) {
            *v = rv; /* the store counted nothing (refs_gate) */
            return;
        }
    }
    if (had_unknown) {
        /* the rules matched alike for any cold count: the commit's says
         * which, for the log, the metrics and the rules' texts */
        pm_policy_name_cold(m, NULL, m->nhashes, m->res.cold_first);
        m->cold = m->res.cold;
        m->n_unknown = 0;
        policy_facts(m);
        m->facts[PM_F_FAKE_REPLY] = m->reply_prefix && m->cold > 0 &&
                                    (m->n_refs == 0 || (refs_open && m->res.refs_known == 0));
        policy_rules(conf, m, only_log, &rv);
    }
    m->cold = m->res.cold;
    pm_policy_adopt(conf, m);
    if (pm_policy_incident(conf, m, 1, v))
        return; /* in incident: held or tempfailed, whatever else applies */
    if (!m->res.fits)
        pm_policy_over(conf, m, &m->res, 0, v);
    if (v->action != PM_ACT_ACCEPT && only_log)
        v->dry_run = 1;
    if (v->action < PM_ACT_TEMPFAIL || v->dry_run)
        policy_combine(v, &rv);
    if (v->action < PM_ACT_TEMPFAIL && (m->res.rep.level == 1 || m->res.rep.level == 2)) {
        pm_verdict_reputation(&rv, PM_ACT_TAG, m->sender, 0, m->res.rep.ppm, m->res.rep.sent);
        policy_combine(v, &rv);
    }
    if (rv.dry_run && rv.action >= v->action)
        v->dry_run = 1;
    v->learning = v->dry_run && m->learning;
}

/* Probe a sender's usage as the milter would meter it; the plan index or -1. */
int
pm_policy_probe_sender(const struct pm_conf *conf, struct pm_store *store, const char *sender,
                       const char *login, long long msgs, long long rcpts, long long cold,
                       struct pm_meter_res *res, char *err, size_t errlen)
{
    struct pm_meter_req req;
    struct pm_msg *m = calloc(1, sizeof(*m)); /* large: keep it off the stack */
    int plan = -1;

    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(m->sender, sizeof(m->sender), "%s", sender);
    snprintf(m->domain, sizeof(m->domain), "%s", pm_addr_domain(sender));
    m->metered = 1;
    m->plan = pm_plan_for_sender(conf, m->sender, login);
    m->dplan = pm_plan_for_domain(conf, m->domain);
    pm_policy_request(conf, m, PM_METER_PROBE, 0, rcpts, NULL, 0, &req);
    req.msgs = msgs;
    req.contacts.cold_before = cold;
    if (pm_store_meter(store, &req, res, err, errlen) == 0) {
        m->res = *res;
        pm_policy_adopt(conf, m);
        plan = m->plan;
    }
    free(m);
    return plan;
}

/* Append " key=value" with a string value. */
static void
out_kv(struct pm_buf *o, const char *key, const char *val)
{
    pm_buf_str(o, key);
    pm_buf_str(o, val);
}

/* Append " key=value" with a number. */
static void
out_kn(struct pm_buf *o, const char *key, long long val)
{
    pm_buf_str(o, key);
    pm_buf_num(o, val);
}

/* Append "name=used/limit" for every counter of a scope. */
static void
policy_format_usage(const struct pm_conf *conf, const struct pm_msg *m, enum pm_scope s,
                    struct pm_buf *o)
{
    static const char *key[PM_C_COUNT] = {
        "msgs_hour=",     "msgs_day=",      "rcpts_hour=",  "rcpts_day=",
        "new_rcpts_day=", "int_msgs_hour=", "int_msgs_day="};
    long long lim[PM_C_COUNT];
    const char *pre = s == PM_SCOPE_DOMAIN ? " domain_" : " ";
    int c;

    pm_plan_counter_limits(&conf->plans[s == PM_SCOPE_DOMAIN ? m->dplan : m->plan].lim, lim);
    /* the limits in force: the bounce rate may have halved the sender's */
    if (s == PM_SCOPE_SENDER && m->res.rep.level >= 2)
        pm_plan_halve(lim);
    if (s == PM_SCOPE_SENDER && m->res.rep.reply_brake && lim[PM_C_NEW_DAY] > 0)
        lim[PM_C_NEW_DAY] = lim[PM_C_NEW_DAY] / 2 > 0 ? lim[PM_C_NEW_DAY] / 2 : 1;
    for (c = 0; c < PM_C_COUNT; c++) {
        /* internal mail's counters only when in use or limited */
        if (c >= PM_C_INT_HOUR && !m->res.used[s][c] && !lim[c])
            continue;
        pm_buf_str(o, pre);
        out_kn(o, key[c], m->res.used[s][c]);
        out_kn(o, "/", lim[c]);
    }
    if (s == PM_SCOPE_SENDER && m->res.rep.level >= 2)
        pm_buf_str(o, " limits=halved");
    if (s == PM_SCOPE_SENDER && m->res.rep.reply_brake) {
        pm_buf_str(o, " reply_brake=1");
        out_kn(o, " replied=", m->res.rep.replied);
        out_kn(o, "/", m->res.rep.first);
    }
    if (m->res.warmup[s].active) {
        pm_buf_str(o, pre);
        out_kn(o, "warmup_day=", m->res.warmup[s].stage + 1);
        pm_buf_str(o, pre);
        out_kn(o, "warmup_today=", m->res.warmup[s].today);
        out_kn(o, "/", m->res.warmup[s].day_cap);
    }
}

/* Format the one log line of a decision (without the queue id). */
void
pm_policy_format(const struct pm_conf *conf, const struct pm_msg *m, const struct pm_verdict *v,
                 const char *stage, char *buf, size_t len)
{
    struct pm_buf o;

    if (len == 0)
        return;
    pm_buf_fixed(&o, buf, len);
    out_kv(&o, "stage=", stage);
    out_kv(&o, " action=", pm_action_name(v->action));
    if (v->learning)
        pm_buf_str(&o, " learning=yes");
    else if (v->dry_run)
        pm_buf_str(&o, " dry_run=yes");
    out_kv(&o, " reason=", v->reason);
    out_kv(&o, " sender=", m->sender[0] ? m->sender : "<>");
    out_kv(&o, " plan=", m->metered ? conf->plans[m->plan].name : "-");
    if (m->plan_override)
        pm_buf_str(&o, " plan_from=override");
    out_kn(&o, " rcpts=", m->nrcpt);
    out_kn(&o, " ext=", m->next);
    if (m->have_res) {
        policy_format_usage(conf, m, PM_SCOPE_SENDER, &o);
        if (m->dplan >= 0) {
            out_kv(&o, " domain=", m->domain);
            out_kv(&o, " domain_plan=", conf->plans[m->dplan].name);
            policy_format_usage(conf, m, PM_SCOPE_DOMAIN, &o);
        }
    }
    if (m->metered)
        out_kn(&o, " cold=", m->cold);
    if (m->have_res && m->res.rep.level > 0) {
        out_kn(&o, " bounce_rate_ppm=", m->res.rep.ppm);
        out_kn(&o, " bounce_level=", m->res.rep.level);
    }
    if (m->have_res && (m->res.credits_spent[0] || m->res.credits_spent[1])) {
        out_kn(&o, " credits_spent=", m->res.credits_spent[0]);
        out_kn(&o, "/", m->res.credits_spent[1]);
        out_kn(&o, " credits_left=", m->res.credits_left[0]);
        out_kn(&o, "/", m->res.credits_left[1]);
    }
    if (m->scanned) {
        const long long *f = m->facts;

        out_kn(&o, " size=", f[PM_F_SIZE]);
        out_kn(&o, " attachments=", f[PM_F_ATTACHMENTS]);
        out_kn(&o, " images=", f[PM_F_IMAGES]);
        out_kn(&o, " remote_images=", f[PM_F_REMOTE_IMAGES]);
        out_kn(&o, " links=", f[PM_F_LINKS]);
        out_kn(&o, " shortener_links=", f[PM_F_SHORTENER_LINKS]);
        out_kn(&o, " body_links=", f[PM_F_BODY_LINKS]);
        out_kn(&o, " signature_links=", f[PM_F_SIGNATURE_LINKS]);
        out_kn(&o, " quoted_links=", f[PM_F_QUOTED_LINKS]);
        if (f[PM_F_INCOMPLETE])
            pm_buf_str(&o, " incomplete=1");
        if (f[PM_F_SUBJECT_CAPS] || f[PM_F_SUBJECT_EXCLAMATIONS] || f[PM_F_SUBJECT_SPAM_WORDS]) {
            out_kn(&o, " subject_caps=", f[PM_F_SUBJECT_CAPS]);
            out_kn(&o, " subject_exclamations=", f[PM_F_SUBJECT_EXCLAMATIONS]);
            out_kn(&o, " subject_spam_words=", f[PM_F_SUBJECT_SPAM_WORDS]);
        }
        if (f[PM_F_FAKE_REPLY])
            pm_buf_str(&o, " fake_reply=1");
    }
    if (v->action >= PM_ACT_TEMPFAIL) {
        out_kv(&o, " reply=\"", v->rcode);
        out_kv(&o, " ", v->xcode);
        out_kv(&o, " ", v->text);
        pm_buf_str(&o, "\"");
    } else if (v->action > PM_ACT_ACCEPT) {
        out_kv(&o, " note=\"", v->text);
        pm_buf_str(&o, "\"");
    }
}
