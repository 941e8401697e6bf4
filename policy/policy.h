/*
 * policy.h - the engine's face: plain facts in, a verdict out.
 *
 * The milter calls pm_policy_mail() at MAIL FROM, pm_policy_rcpt() for each
 * RCPT TO (early refusal: at most one store round trip, none when what this
 * server knows of the sender decides, policy/sknow.h) and pm_policy_eom() at
 * end of message (the authoritative check-and-count: one round trip, two
 * when the content rules need the cold status of recipients not asked about).
 * Nothing here knows libmilter, syslog or hiredis.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_POLICY_H
#define PM_POLICY_H

#include <stddef.h>

#include "conf.h"
#include "feedback.h"
#include "identity.h"
#include "store.h"
#include "rules.h"
#include "verdict.h"

#define PM_MSG_MAX_HASHES 1000  /* external recipients per message: more are refused (452) */
#define PM_MSG_UNKNOWN_NAMED 16 /* external recipients of unknown cold status named for replies */

/* Per-message state, reset at every MAIL FROM. */
struct pm_msg {
    int outgoing;             /* the origin is outgoing */
    int metered;              /* outgoing with a sender identity: counted */
    char sender[PM_ADDR_MAX]; /* normalised sender identity */
    char login[PM_ADDR_MAX];  /* SASL login as given, or "" */
    char domain[PM_ADDR_MAX]; /* sender domain: of the identity, else of the envelope sender */
    int plan;                 /* index of the sender's plan */
    int plan_override;        /* 1: the plan came from an override in the store */
    int dplan;                /* index of the domain's company-wide plan, or -1 */
    long long nrcpt;          /* recipients accepted so far */
    long long next;           /* external recipients accepted so far */
    long long nrefused;       /* recipients refused by postmeter */
    long long cold;           /* cold (first-contact) external recipients so far */
    char msgid_hash[17];      /* keyed hash of the Message-ID, "" until one is seen */
    size_t nhashes;           /* keyed hashes of the accepted external recipients */
    size_t n_internal;        /* ... and internal ones (to count each once) */
    long long n_unknown;      /* external recipients whose cold status is unknown */
    char hashes[PM_MSG_MAX_HASHES][17];
    char internal[PM_MSG_MAX_HASHES][17]; /* (hashes and internal: read up to their counts) */
    /* per external recipient (read up to nhashes): 0 its cold status is known
     * (it was probed), else unknown (decided without the store) and, up to
     * PM_MSG_UNKNOWN_NAMED, unknown_rcpt[unknown - 1] is its address as given */
    unsigned char unknown[PM_MSG_MAX_HASHES];
    char unknown_rcpt[PM_MSG_UNKNOWN_NAMED][PM_ADDR_MAX];
    char cold_rcpt[PM_ADDR_MAX]; /* the first cold recipient, as given in RCPT TO */
    long long facts[PM_F_COUNT]; /* content facts (attachments, links...), set before EOM */
    int scanned;                 /* facts hold a content scan */
    int have_res;                /* res holds the last store answer */
    int learning;                /* the installation learns: refusals are only logged */
    struct pm_meter_res res;     /* the last store answer (for the log line) */

    /* fake replies: the subject's reply prefix and the Message-IDs referred to */
    int reply_prefix;                    /* the Subject starts with Re:, Fwd:, 回复: ... */
    char refs[PM_FEEDBACK_MAX_REFS][17]; /* keyed hashes (In-Reply-To, References) */
    size_t n_refs, next_ref;             /* kept, and where the next one goes (a ring) */

    /* incidents */
    char qid[32];       /* the queue id (the milter sets it before RCPT and EOM), "" none */
    char net[64];       /* the network of a SASL login's client ("192.0.2.0/24"), "" none */
    char domains[1024]; /* the external recipient domains, space-separated (bounded) */
    int inc_refused;    /* a refusal of this message was reported to the store */
    int inc_opened;     /* the last request opened the sender's incident (res.inc): notify */
};

/*
 * The sender the milter meters for a SASL login (NULL or "": none) and an
 * envelope sender: the login, qualified with login_domain when it has no '@',
 * else the envelope sender, normalised; and the sender domain (the
 * identity's, or for a bare login the envelope sender's; "" when none).
 * Returns 0, 1 for the null sender (never metered), -1 for an address that
 * cannot be parsed (sender "" then).
 */
int pm_policy_sender(const struct pm_conf *conf, const char *login, const char *envfrom,
                     char sender[PM_ADDR_MAX], char domain[PM_ADDR_MAX]);

/* Start a message: direction, sender identity and plans. */
void pm_policy_mail(const struct pm_conf *conf, const struct pm_origin *origin, const char *envfrom,
                    struct pm_msg *m);

/* Decide on one recipient (early refusal); on accept it is added to m. */
void pm_policy_rcpt(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m,
                    const char *rcpt, struct pm_verdict *v);

/* A header of a metered message (the Message-ID is remembered when it counts,
 * so that replies to it are known). */
void pm_policy_header(const struct pm_conf *conf, struct pm_msg *m, const char *name,
                      const char *value);

/*
 * The authoritative decision at end of message: the content rules (over
 * m->facts and what the recipients showed), then, unless a rule refuses the
 * message, the check-and-count.
 */
void pm_policy_eom(const struct pm_conf *conf, struct pm_store *store, struct pm_msg *m,
                   struct pm_verdict *v);

/*
 * Probe a sender's usage as the milter would meter it (its plans, its domain's
 * company-wide plan; counts nothing) into res: would msgs messages with rcpts
 * external recipients, cold of them first contacts, fit now (0, 0, 0: usage
 * only)? login is the SASL login for assignment rules, or NULL. Returns the
 * index of the plan that applies (a store override included), or -1 on a
 * store error (err).
 */
int pm_policy_probe_sender(const struct pm_conf *conf, struct pm_store *store, const char *sender,
                           const char *login, long long msgs, long long rcpts, long long cold,
                           struct pm_meter_res *res, char *err, size_t errlen);

/* Send the refusals decided at RCPT without the store (policy/sknow.h) whose
 * sender made no request for a second, so that they count for the incident
 * signals and the digest (at most 16 requests a call; a store error stops
 * it); an incident one of them opens is logged, counted and passed to
 * opened (NULL: none). Returns how many requests were sent. The milter
 * calls it from a thread of its own, when pm_sknow_next_due() says. */
int pm_policy_carry(const struct pm_conf *conf, struct pm_store *store,
                    void (*opened)(const struct pm_conf *conf, const struct pm_incident *inc));

/* Incidents (policy_incident.c): the network of a SASL login's client ("" none);
 * add an external recipient's domain to m; fill a request's incident part
 * (eom: the commit); act on the answer's incident: 1 when v was set (the
 * sender is in incident: hold at end of message, or tempfail), else 0. */
void pm_policy_incident_net(const struct pm_origin *o, char *out, size_t len);
void pm_policy_incident_domain(struct pm_msg *m, const char *addr);
void pm_policy_incident_req(const struct pm_conf *conf, const struct pm_msg *m, int eom,
                            struct pm_incident_req *in);
int pm_policy_incident(const struct pm_conf *conf, struct pm_msg *m, int eom, struct pm_verdict *v);

/* Format the one log line of a decision (without the queue id). */
void pm_policy_format(const struct pm_conf *conf, const struct pm_msg *m,
                      const struct pm_verdict *v, const char *stage, char *buf, size_t len);

#endif
