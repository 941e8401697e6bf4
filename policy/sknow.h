/*
 * sknow.h - sender knowledge: what the store's last answer (a RCPT probe or
 * an end-of-message commit) said about a sender, kept per process, so that a
 * recipient can be decided at RCPT without a round trip when that answer is
 * fresh and leaves no doubt (see sknow.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SKNOW_H
#define PM_SKNOW_H

#include <stdint.h>

#include "identity.h"
#include "store.h"

#define PM_SKNOW_SLOTS 4096 /* senders remembered per process; the oldest is replaced */
#define PM_SKNOW_CARRY 256  /* senders whose refusals decided here wait for a request */

/* Whose knowledge: the generation of the configuration it was asked under
 * (struct pm_conf's: a reload makes a new one) and a keyed hash of the
 * sender with what assigns its plans (SASL login, domain). */
struct pm_sknow_key {
    unsigned long long gen;
    uint64_t id;
};

/* What the last answer said, and when it came (local monotonic time). */
struct pm_sknow {
    long long used[PM_SCOPE_COUNT][PM_C_COUNT];
    struct pm_warmup_res warmup[PM_SCOPE_COUNT];
    struct pm_reputation rep;
    int plan; /* the plan override, as in struct pm_meter_res */
    enum pm_incident_state inc_state;
    int fits;
    enum pm_scope over_scope;
    enum pm_counter over_counter;
    long long over_limit, over_used, retry_at;
    long long credits_left[2];
    long long now;     /* store time of the answer */
    long long mono_ms; /* when it was received */
};

/* The question at RCPT: the message as it would be with this recipient,
 * counted as the store would count it, every external recipient whose cold
 * status is not known taken as cold. */
struct pm_sknow_q {
    int nscopes;                               /* 1, or 2 with the company's scope */
    long long lim[PM_SCOPE_COUNT][PM_C_COUNT]; /* the plans' limits, 0 none */
    int hard[PM_SCOPE_COUNT];                  /* over this scope's limits, mail is refused */
    long long msgs, rcpts, cold, internal;     /* what the message adds */
    long long margin;                          /* headroom kept below every limit */
    long long fresh_ms;                        /* knowledge older than this decides nothing */
    int enforce;                               /* refusals are real (no dry run, no learning) */
};

/* What the knowledge decides. */
enum pm_sknow_act {
    PM_SKNOW_ASK = 0, /* it cannot decide: ask the store */
    PM_SKNOW_GO,      /* the message fits with room to spare: go on */
    PM_SKNOW_REFUSE,  /* the sender is over a message limit until retry_at: refuse */
};

/* The key of a sender (a keyed hash of the parts, gen the configuration's
 * generation). */
struct pm_sknow_key pm_sknow_key(unsigned long long gen, const unsigned char key[16],
                                 const char *sender, const char *login, const char *domain);

/* Remember a store answer for k, received at mono_ms: 1, or 0 when it is
 * not kept because its store time is more than a few seconds behind the
 * store's time as the knowledge of k (at most 20 minutes old) puts it: an
 * answer given again from a commit's record (a retry after a lost reply, or
 * the same message sent again) tells of the past, not of now. */
int pm_sknow_put(const struct pm_sknow_key *k, const struct pm_meter_res *res, long long mono_ms);

/* The knowledge of k into out: 0, or -1 when there is none. */
int pm_sknow_get(const struct pm_sknow_key *k, struct pm_sknow *out);

/* Decide with knowledge kn at mono_ms (pure: kn and q are all it reads). */
enum pm_sknow_act pm_sknow_decide(const struct pm_sknow *kn, const struct pm_sknow_q *q,
                                  long long mono_ms);

/* The store time at mono_ms, as estimated from kn. */
long long pm_sknow_store_time(const struct pm_sknow *kn, long long mono_ms);

/* An answer like the one kn was, at store time now (for the verdict and the log). */
void pm_sknow_res(const struct pm_sknow *kn, long long now, struct pm_meter_res *res);

/* Refusals decided here for a sender, to carry to the store: who (to build
 * the request), how many and the limit that refused them. */
struct pm_sknow_carry {
    struct pm_sknow_key key;
    char sender[PM_ADDR_MAX], login[PM_ADDR_MAX], domain[PM_ADDR_MAX];
    long long n;
    enum pm_counter counter;
    long long since_ms; /* when the last request for the sender was sent */
};

/* A refusal decided here for k (counter c refused; sender, login and domain
 * as in pm_sknow_key): 1 when it stays local (a request carried the count
 * less than a second ago, and there is room to remember it), 0 when a
 * request should carry it now (the caller asks the store instead). */
int pm_sknow_refused(const struct pm_sknow_key *k, enum pm_counter c, const char *sender,
                     const char *login, const char *domain, long long mono_ms);

/* Take the refusals decided here for k since the last request, those of
 * one limit (the most numerous; the limit in *c): the request about to be
 * sent carries them (a request carries the count of one limit); those of
 * other limits wait, due a second after mono_ms. */
long long pm_sknow_take(const struct pm_sknow_key *k, enum pm_counter *c, long long mono_ms);

/* Take into out the refusals of a sender whose last request is a second old
 * or more (for a request of their own, when the sender sends nothing more),
 * those of one limit as pm_sknow_take() does: 1, or 0 when none is due. */
int pm_sknow_due(long long mono_ms, struct pm_sknow_carry *out);

/* Give back refusals taken for a request the store did not answer (c as
 * pm_sknow_due() gave it, or built by the caller): they wait again, due a
 * second after mono_ms. 1, or 0 when there was no room (they are lost). */
int pm_sknow_give_back(const struct pm_sknow_carry *c, long long mono_ms);

/* When the next refusals are due (monotonic ms), or -1 when none waits. */
long long pm_sknow_next_due(void);

/* Call wake (NULL: nothing) when refusals start waiting, so that whoever
 * calls pm_sknow_due() looks again. */
void pm_sknow_on_wait(void (*wake)(void));

/* Forget everything (tests). */
void pm_sknow_clear(void);

#endif
