/*
 * policy_incident.c - the engine's part in incidents (policy/incident.h):
 * what a request tells the meter script (the message's recipient domains,
 * the network of a SASL login, the queue id, the thresholds) and what the
 * engine does with the answer: a sender in incident has its message held
 * (incidents.action hold) or tempfailed; a dry run or learning only logs.
 * One log line per incident opened here and per message held or refused.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "policy.h"

/* The network of a SASL login's client: "a.b.c.0/24" or the /48 of an IPv6
 * address; "" without a login or a parsable address. */
void
pm_policy_incident_net(const struct pm_origin *o, char *out, size_t len)
{
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];

    out[0] = '\0';
    if (!o->auth_login || !o->auth_login[0] || !o->client_addr)
        return;
    if (inet_pton(AF_INET, o->client_addr, a) == 1) {
        snprintf(out, len, "%u.%u.%u.0/24", a[0], a[1], a[2]);
    } else if (inet_pton(AF_INET6, o->client_addr, a) == 1) {
        memset(a + 6, 0, 10);
        if (inet_ntop(AF_INET6, a, text, sizeof(text)))
            snprintf(out, len, "%s/48", text);
    }
}

/* Add the domain of an external recipient to the message's list (once; the
 * list is bounded, the rest is not watched). */
void
pm_policy_incident_domain(struct pm_msg *m, const char *addr)
{
    const char *d = strrchr(addr, '@');
    size_t n, have = strlen(m->domains);
    const char *p;

    if (!d || !*++d || strpbrk(d, " \t\r\n"))
        return;
    n = strlen(d);
    for (p = m->domains; (p = strstr(p, d)) != NULL; p += n)
        if ((p == m->domains || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return;
    if (have + n + 2 > sizeof(m->domains))
        return;
    snprintf(m->domains + have, sizeof(m->domains) - have, "%s%s", have ? " " : "", d);
}

/* Fill the incident part of a request (eom: the end-of-message commit). */
void
pm_policy_incident_req(const struct pm_conf *conf, const struct pm_msg *m, int eom,
                       struct pm_incident_req *in)
{
    int on = conf->inc_enabled;

    memset(in, 0, sizeof(*in));
    in->mode = conf->dry_run || m->learning ? PM_INCM_DRY : on ? PM_INCM_DETECT : PM_INCM_ENFORCE;
    in->refusal = !m->inc_refused;
    /* at RCPT only a tempfail refuses the message: its first refusal is one message */
    in->count = eom || (conf->inc_action == PM_ACT_TEMPFAIL && !m->inc_refused);
    in->qid = m->qid[0] ? m->qid : NULL;
    in->domains = m->domains;
    in->net = m->net[0] ? m->net : NULL;
    in->max_hours = conf->inc_max_hours;
    if (!on)
        return; /* the signals are off: thresholds 0 */
    in->burst_floor = conf->inc_burst_floor;
    in->burst_multiple = conf->inc_burst_multiple;
    in->fanout = conf->inc_fanout;
    in->retry = conf->inc_retry;
    in->bounce = conf->inc_bounce;
    in->nn_days = conf->inc_nn_days;
    in->nn_pct = llround(conf->inc_nn_factor * 100);
}

/* Act on the incident part of the store's answer in m->res; 1 when v was set
 * (the sender is in incident), else 0 and v untouched. */
int
pm_policy_incident(const struct pm_conf *conf, struct pm_msg *m, int eom, struct pm_verdict *v)
{
    const struct pm_incident *inc = &m->res.inc;
    int dry = conf->dry_run || m->learning, tempfail = conf->inc_action == PM_ACT_TEMPFAIL;
    const char *qid = m->qid[0] ? m->qid : "NOQUEUE";

    m->inc_opened = 0;
    switch (m->res.inc_state) {
    case PM_INCS_NONE:
        return 0;
    case PM_INCS_WOULD:
        pm_log(PM_LOG_NOTICE,
               "%s: incident would open (%s, nothing held): sender=%s signal=%s figures=\"%s\" "
               "action=%s",
               qid, m->learning ? "learning" : "dry run", m->sender, inc->signal, inc->figures,
               pm_action_name(conf->inc_action));
        return 0;
    case PM_INCS_OPENED:
        pm_log(PM_LOG_WARNING, "%s: incident opened: sender=%s signal=%s figures=\"%s\" action=%s",
               qid, m->sender, inc->signal, inc->figures, pm_action_name(conf->inc_action));
        pm_metrics_incident_opened(inc->signal);
        m->inc_opened = 1;
        break;
    default:
        break;
    }
    if (!eom && !tempfail) {
        pm_verdict_accept(v); /* held at end of message: nothing refused now */
        return 1;
    }
    pm_verdict_incident(v, conf->inc_action, m->sender, inc);
    if (dry) {
        v->dry_run = 1;
        v->learning = m->learning;
        pm_log(PM_LOG_NOTICE, "%s: sender=%s in incident (signal=%s since %lld): would be %s (%s)",
               qid, m->sender, inc->signal, inc->at, tempfail ? "tempfailed" : "held",
               m->learning ? "learning" : "dry run");
        return 1;
    }
    if (eom || !m->inc_refused) {
        pm_metrics_incident_message(tempfail);
        pm_log(PM_LOG_NOTICE,
               "%s: sender=%s in incident (signal=%s since %lld, by %s): message %s, %lld so far",
               qid, m->sender, inc->signal, inc->at, inc->by, tempfail ? "tempfailed" : "held",
               inc->held);
    }
    return 1;
}
