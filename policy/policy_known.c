/*
 * policy_known.c - the engine's use of what the daemon knows of a sender
 * (sknow.c): a RCPT TO decided without the store when the last answer
 * leaves no doubt, every request carrying the refusals decided so, those
 * refusals sent on their own when the sender makes no request
 * (pm_policy_carry()), and at end of message the cold status of the
 * recipients not looked up, asked only when the content rules need it.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "coreg.h"
#include "learning.h"
#include "plan.h"
#include "policy.h"
#include "policy_int.h"
#include "sknow.h"
#include "suplocal.h"

#define CARRY_PER_CALL 16 /* refusal-carrying probes per call of pm_policy_carry() */

/* The key of what this server knows of m's sender. */
static struct pm_sknow_key
policy_sknow_key(const struct pm_conf *conf, const struct pm_msg *m)
{
    return pm_sknow_key(conf->generation, conf->contacts_key, m->sender, m->login, m->domain);
}

/* Give back n refusals (counter c) of m's sender (key k) that a request
 * could not carry: the next one carries them. */
static void
policy_give_back(const struct pm_sknow_key *k, const struct pm_msg *m, long long n,
                 enum pm_counter c)
{
    struct pm_sknow_carry w;

    memset(&w, 0, sizeof(w));
    w.key = *k;
    snprintf(w.sender, sizeof(w.sender), "%s", m->sender);
    snprintf(w.login, sizeof(w.login), "%s", m->login);
    snprintf(w.domain, sizeof(w.domain), "%s", m->domain);
    w.n = n;
    w.counter = c;
    pm_sknow_give_back(&w, pm_mono_ms());
}

/* Send a request for m's sender to the store, carrying the refusals this
 * server decided alone since its last one; a commit's or probe's answer
 * becomes what the server knows of the sender (not a commit's recorded
 * reply given again, minutes old: pm_sknow_put() tells it by its time), and
 * the sender's company is noted for the company registry (coreg.h). */
int
pm_policy_meter(const struct pm_conf *conf, struct pm_store *store, const struct pm_msg *m,
                struct pm_meter_req *req, struct pm_meter_res *res, char *err, size_t errlen)
{
    struct pm_sknow_key k = policy_sknow_key(conf, m);
    enum pm_counter c = PM_C_MSGS_HOUR;
    int rc;

    req->incident.local = pm_sknow_take(&k, &c, pm_mono_ms());
    req->incident.local_counter = c;
    rc = pm_store_meter(store, req, res, err, errlen);
    if (rc == 0 && req->scope[PM_SCOPE_SENDER].id)
        pm_coreg_note(req->scope[PM_SCOPE_SENDER].id, res->now); /* for the registry, later */
    if (rc == 0 && conf->rcpt_fresh > 0)
        pm_sknow_put(&k, res, pm_mono_ms());
    if (rc != 0 && req->incident.local > 0)
        policy_give_back(&k, m, req->incident.local, c);
    return rc;
}

/* What this server knows of m's sender decides one recipient (ext: external,
 * addr: normalised, or NULL) without the store: PM_SKNOW_GO (it fits with
 * room to spare), PM_SKNOW_REFUSE (v says why), else PM_SKNOW_ASK. m->res
 * holds the knowledge (as an answer) on GO and REFUSE. */
enum pm_sknow_act
pm_policy_known(const struct pm_conf *conf, struct pm_msg *m, int ext, const char *addr,
                struct pm_verdict *v)
{
    struct pm_sknow_key k = policy_sknow_key(conf, m);
    struct pm_sknow kn;
    struct pm_sknow_q q;
    long long mono = pm_mono_ms(), next = m->next + ext;
    enum pm_sknow_act act;
    int plan = m->plan, s;

    if (conf->rcpt_fresh <= 0 || pm_sknow_get(&k, &kn) < 0)
        return PM_SKNOW_ASK;
    if (kn.plan >= 0 && (size_t)kn.plan < conf->n_plans)
        plan = kn.plan; /* the override the store reported */
    memset(&q, 0, sizeof(q));
    q.nscopes = m->dplan >= 0 ? 2 : 1;
    for (s = 0; s < q.nscopes; s++) {
        const struct pm_plan *p = &conf->plans[s == PM_SCOPE_DOMAIN ? m->dplan : plan];

        pm_plan_counter_limits(&p->lim, q.lim[s]);
        q.hard[s] = p->action >= PM_ACT_TEMPFAIL;
    }
    /* as the probe would ask: every recipient of unknown status taken as cold */
    q.msgs = next > 0;
    q.rcpts = next;
    q.internal = next == 0;
    q.cold = m->cold + m->n_unknown + ext;
    q.margin = conf->rcpt_margin;
    q.fresh_ms = conf->rcpt_fresh * 1000LL;
    q.enforce = !conf->dry_run && !m->learning;
    act = pm_sknow_decide(&kn, &q, mono);
    /* an external recipient may be on the suppression list: the store looks */
    if (act == PM_SKNOW_GO && ext && (!addr || pm_suplocal_maybe(m->domain, addr)))
        return PM_SKNOW_ASK;
    /* a refusal counted for the incident signals (the first of its message):
     * one request a second carries those decided here */
    if (act == PM_SKNOW_REFUSE && !m->inc_refused &&
        !pm_sknow_refused(&k, kn.over_counter, m->sender, m->login, m->domain, mono))
        return PM_SKNOW_ASK;
    if (act == PM_SKNOW_ASK)
        return act;
    pm_sknow_res(&kn, pm_sknow_store_time(&kn, mono), &m->res);
    m->have_res = 1;
    pm_policy_adopt(conf, m);
    if (act == PM_SKNOW_REFUSE)
        pm_policy_over(conf, m, &m->res, 1, v);
    return act;
}

#define COLD_VARIANTS_MAX 64 /* cold counts the rules are tried with before asking */

/* 1 when the content rules match the same for every cold count the
 * recipients of unknown status may bring (0 to all of them, at most
 * COLD_VARIANTS_MAX), with and without a fake reply, as the end of message
 * would run them; m's facts are left as they were. */
int
pm_policy_rules_settled(const struct pm_conf *conf, struct pm_msg *m)
{
    int first[2][PM_RULES_MAX] = {{0}}, cur[2][PM_RULES_MAX] = {{0}};
    size_t i, n = conf->n_rules < PM_RULES_MAX ? conf->n_rules : PM_RULES_MAX;
    long long save[3] = {m->facts[PM_F_FIRST_CONTACT], m->facts[PM_F_COLD_RECIPIENTS],
                         m->facts[PM_F_FAKE_REPLY]};
    long long extra, c;
    int same = 1, fake;

    if (m->n_unknown > COLD_VARIANTS_MAX)
        return 0;
    for (extra = 0; extra <= m->n_unknown && same; extra++) {
        c = m->cold + extra;
        m->facts[PM_F_FIRST_CONTACT] = c > 0;
        m->facts[PM_F_COLD_RECIPIENTS] = c;
        for (fake = 0; fake < 2; fake++) {
            /* the fake-reply alternative: references the store may not know */
            m->facts[PM_F_FAKE_REPLY] =
                m->reply_prefix && c > 0 && (m->n_refs == 0 || (fake && m->n_refs > 0));
            for (i = 0; i < n; i++)
                cur[fake][i] = pm_rule_match(&conf->rules[i], m->facts) != 0;
        }
        if (extra == 0)
            memcpy(first, cur, sizeof(first));
        else
            same = memcmp(first, cur, sizeof(first)) == 0;
    }
    m->facts[PM_F_FIRST_CONTACT] = save[0];
    m->facts[PM_F_COLD_RECIPIENTS] = save[1];
    m->facts[PM_F_FAKE_REPLY] = save[2];
    /* a rule that holds or refuses names the new contacts in its text: it
     * must know them all, as when every recipient was looked up at RCPT */
    for (i = 0; same && m->n_unknown > 0 && i < n; i++)
        if ((first[0][i] || first[1][i]) && conf->rules[i].action >= PM_ACT_HOLD)
            same = 0;
    return same;
}

/* Name m's first cold recipient from an answer's cold_first among the
 * hashes index[0..n) of m, when none is named yet. */
void
pm_policy_name_cold(struct pm_msg *m, const size_t *index, size_t n, int cold_first)
{
    size_t i;
    int u;

    if (m->cold_rcpt[0] || cold_first < 1 || (size_t)cold_first > n)
        return;
    i = index ? index[cold_first - 1] : (size_t)cold_first - 1;
    u = m->unknown[i];
    if (u >= 1 && u <= PM_MSG_UNKNOWN_NAMED)
        snprintf(m->cold_rcpt, sizeof(m->cold_rcpt), "%s", m->unknown_rcpt[u - 1]);
}

/* Ask the store, in one probe that counts nothing, which of m's recipients
 * of unknown status are first contacts; 0, or a failure (err). */
int
pm_policy_cold_lookup(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m,
                      char *err, size_t errlen)
{
    const char **h = calloc(PM_MSG_MAX_HASHES, sizeof(*h));
    size_t *index = calloc(PM_MSG_MAX_HASHES, sizeof(*index)), i, n = 0;
    struct pm_meter_req req;
    struct pm_meter_res *res = calloc(1, sizeof(*res));
    int rc = PM_STORE_ERROR;

    if (!h || !index || !res) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (i = 0; i < m->nhashes; i++)
        if (m->unknown[i]) {
            h[n] = m->hashes[i];
            index[n++] = i;
        }
    pm_policy_request(conf, m, PM_METER_PROBE, 0, 0, h, n, &req);
    req.msgs = 0; /* a look-up: nothing added, nothing checked but the contacts */
    req.contacts.cold_before = m->cold;
    if ((rc = pm_store_meter(store, &req, res, err, errlen)) != 0)
        goto out;
    pm_policy_name_cold(m, index, n, res->cold_first);
    m->cold = res->cold;
    for (i = 0; i < n; i++)
        m->unknown[index[i]] = 0;
    m->n_unknown = 0;
out:
    free(h);
    free(index);
    free(res);
    return rc;
}

/* Send the refusals decided without the store that waited a second for a
 * request of their sender (policy/sknow.c), each in a probe of its own that
 * adds nothing, at most CARRY_PER_CALL of them, stopping at a store error
 * (what was taken waits again); an incident such a probe opens is logged and
 * counted as any, and passed to opened (NULL: none); returns how many probes
 * were sent. */
int
pm_policy_carry(const struct pm_conf *conf, struct pm_store *store,
                void (*opened)(const struct pm_conf *conf, const struct pm_incident *inc))
{
    struct pm_sknow_carry c;
    struct pm_meter_req req;
    struct pm_verdict v;
    struct pm_msg *m;
    char err[256];
    int n = 0;

    if (pm_sknow_next_due() < 0)
        return 0;           /* nothing waits (the common case: each wake of the watcher) */
    m = malloc(sizeof(*m)); /* large: keep it off the stack */

    while (m && n < CARRY_PER_CALL && pm_sknow_due(pm_mono_ms(), &c)) {
        memset(m, 0, sizeof(*m));
        snprintf(m->sender, sizeof(m->sender), "%s", c.sender);
        snprintf(m->login, sizeof(m->login), "%s", c.login);
        snprintf(m->domain, sizeof(m->domain), "%s", c.domain);
        m->metered = 1;
        m->plan = pm_plan_for_sender(conf, m->sender, m->login);
        m->dplan = pm_plan_for_domain(conf, m->domain);
        m->learning = pm_learning_active(conf, store);
        pm_policy_request(conf, m, PM_METER_PROBE, 0, 0, NULL, 0, &req);
        req.msgs = 0;
        pm_policy_incident_req(conf, m, 0, &req.incident);
        req.incident.refusal = 0; /* this probe refuses nothing itself ... */
        req.incident.count = 0;   /* ... nor is it a message */
        req.incident.local = c.n;
        req.incident.local_counter = c.counter;
        n++;
        if (pm_store_meter(store, &req, &m->res, err, sizeof(err)) != 0) {
            pm_policy_store_error("carrying refusals", err);
            pm_sknow_give_back(&c, pm_mono_ms());
            break;
        }
        if (conf->rcpt_fresh > 0) { /* known under this configuration (c's may be older) */
            c.key = policy_sknow_key(conf, m);
            pm_sknow_put(&c.key, &m->res, pm_mono_ms());
        }
        m->inc_refused = 1; /* no message of its own to log as held or tempfailed */
        if (m->res.inc_state == PM_INCS_OPENED || m->res.inc_state == PM_INCS_WOULD) {
            pm_policy_incident(conf, m, 0, &v);
            if (m->inc_opened && opened)
                opened(conf, &m->res.inc);
        }
    }
    free(m);
    return n;
}
