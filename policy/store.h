/*
 * store.h - the storage interface of the policy engine.
 *
 * The engine asks one question of its store: "do these messages and
 * recipients fit the limits of these scopes, and if so count them", answered
 * atomically for every server that shares the store. The Redis
 * implementation lives in store_redis.c; unit tests may supply their own ops.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_STORE_H
#define PM_STORE_H

#include <stddef.h>

#include "incident.h"

/* What a store operation returns, with a text beside it in err (as Postfix's
 * dictionaries answer): both failures are negative, so "< 0" tests for either. */
enum pm_store_rc {
    PM_STORE_OK = 0,
    PM_STORE_RETRY = -1, /* the store could not be reached, or did not answer in time, or is
                          * read-only (a replica): the same request may work later */
    PM_STORE_ERROR = -2, /* the store answered with an error or an unexpected reply, or the
                          * request was bad, or memory ran out */
    PM_STORE_GAP = 1,    /* sup_follow only: changes may have been lost, load again */
};

/* A note of the stream of suppression changes (sup_follow): a writer notes
 * chk (an intent: the entry may change) before its script, then add, del or
 * end (nothing changed) once it ran. */
enum pm_sup_op {
    PM_SUP_ADD = 0,
    PM_SUP_DEL,
    PM_SUP_CHK,
    PM_SUP_END,
};

/* The counters checked for every scope, in the order they are checked. */
enum pm_counter {
    PM_C_MSGS_HOUR = 0,
    PM_C_MSGS_DAY,
    PM_C_RCPTS_HOUR,
    PM_C_RCPTS_DAY,
    PM_C_NEW_DAY,  /* first-contact (cold) recipients per rolling 24 hours */
    PM_C_INT_HOUR, /* internal messages (every recipient local) per rolling hour */
    PM_C_INT_DAY,  /* internal messages per rolling 24 hours */
    PM_C_COUNT,
    /* not counters of their own: the warm-up caps, reported in over_counter */
    PM_C_WARMUP_DAY = PM_C_COUNT, /* messages on this UTC day, against the stage's cap */
    PM_C_WARMUP_HOUR,             /* messages per rolling hour, against the stage's share */
    PM_C_REP_COLD,                /* reputation: first-contact mail refused */
    PM_C_REP_STOP,                /* reputation: all external mail refused */
};

/* Whose counters: the sender, and the sender's domain (company-wide cap). */
enum pm_scope { PM_SCOPE_SENDER = 0, PM_SCOPE_DOMAIN, PM_SCOPE_COUNT };

/* What a request does. */
enum pm_meter_mode {
    PM_METER_PROBE = 0, /* would it fit? count nothing (RCPT time, status) */
    PM_METER_COMMIT,    /* count it unless it is over a limit of a scope that is not soft
                         * (or a reputation brake); else count nothing */
    PM_METER_FORCE,     /* count it whether or not it fits; report whether it did */
};

/* Warm-up of one scope (see curve.h): the curve and its rules. */
struct pm_warmup_req {
    size_t n;                  /* stages; 0: this scope does not warm up */
    const long long *day_cap;  /* n daily caps, strictly increasing */
    const long long *hour_cap; /* n hourly caps (a share of each day's) */
    int dormant_days;          /* silence after which warm-up restarts */
    long long max_bounce_ppm;  /* the stage holds while the bounce rate is above this */
};

/* One scope of a request. */
struct pm_scope_req {
    const char *id;              /* "alice@example.com" / "example.com"; NULL: scope unused */
    long long limit[PM_C_COUNT]; /* 0: unlimited */
    struct pm_warmup_req warmup;
    int soft; /* 1: mail over this scope's limits still goes (its plan holds or tags):
               * they do not stop a commit from counting */
};

/* Where a scope stands in its warm-up, as of the request. */
struct pm_warmup_res {
    int active;           /* 1: warming up (the stage has a cap) */
    long long stage;      /* 0-based stage: "day stage+1 of warm-up" */
    long long day_cap;    /* today's cap (0 when not active) */
    long long hour_cap;   /* this hour's cap (0 when not active) */
    long long today;      /* messages on this UTC day (after the request when counted) */
    long long bounce_ppm; /* the bounce rate the gate saw, parts per million */
};

/* What incoming mail said about a local mailbox, as the store counted it. */
enum pm_feedback_kind {
    PM_FB_HARD = 0,  /* a hard bounce of mail the sender sent: suppressed, counted */
    PM_FB_BLOCK,     /* a policy block (5.7.x) of mail the sender sent: counted */
    PM_FB_UNMATCHED, /* a failure for a recipient the sender did not mail lately: nothing */
    PM_FB_DUPLICATE, /* a failure already counted for that sending: nothing */
    PM_FB_REPLY,     /* a reply to a message the sender sent: a contact, a reply */
    PM_FB_LEARNED,   /* a person's message: its author became a known contact */
    PM_FB_KNOWN,     /* a person already known: nothing new */
    PM_FB_CAPPED,    /* over the day's cap of learned contacts or replies: nothing */
    PM_FB_KIND_COUNT
};

/* One failed recipient a bounce reports. */
struct pm_feedback_failure {
    const char *rcpt; /* normalised address */
    const char *hash; /* its keyed contact hash (16 hex digits) */
    int hard;         /* 1: an invalid address; 0: a block */
    const char *status;
};

/* One incoming message for one local mailbox: a bounce's failures, or a
 * person's message (its author and the Message-IDs it refers to). */
struct pm_feedback_req {
    const char *sender;  /* the local mailbox (normalised) */
    const char *company; /* its domain: whose suppression list a hard bounce joins */
    const struct pm_feedback_failure *fail; /* a bounce: n_fail failures (n_fail > 0) */
    size_t n_fail;
    const char *author_hash;       /* else: the author's keyed contact hash */
    const char *const *ref_hashes; /* keyed hashes of the Message-IDs referred to */
    size_t n_refs;
    int contacts_ttl_days;
    long long contacts_max;
    int suppress_days;
    int bounce_window_days; /* a failure counts for a recipient mailed this recently */
    int learned_per_day;    /* contacts learned from non-replies per mailbox and day */
    int replies_per_day;    /* replies counted per mailbox and day */
    int message_ids_days;   /* a reply names a Message-ID sent this recently (0: 90) */
};

/* A suppression list entry. */
struct pm_suppressed {
    int found;
    long long since;  /* store time of the hard bounce */
    long long until;  /* store time the entry expires (0: never) */
    char status[16];  /* "5.1.1" */
    char sender[320]; /* whose mail bounced, or "admin:USER" */
};

/* Reputation thresholds (parts per million of hard bounces per external recipient). */
struct pm_reputation_req {
    long long min_sends; /* act only from this many external recipients in 7 days */
    long long warn_ppm, halve_ppm, cold_ppm, stop_ppm; /* 0: off */
    long long min_first; /* the reply-rate brake acts from this many first contacts in 30 days */
    long long min_reply_ppm; /* the reply-rate brake: replied / first contacts below this; 0 off */
};

/* A sender's reputation over the last 7 days. */
struct pm_reputation {
    long long sent, hard, blocks, replies;
    long long ppm;            /* hard / sent, parts per million */
    int level;                /* 0 fine, 1 warn, 2 halved, 3 no first contact, 4 stopped */
    long long first, replied; /* first-contact recipients of 30 days, those that replied */
    int reply_brake;          /* 1: too few replied: the new-recipient limit is halved */
};

/* The contacts a request looks up (and, when counted, remembers). */
struct pm_contacts_req {
    const char *const *hashes; /* keyed hashes of external recipients (16 hex digits) */
    size_t n;
    long long cold_before; /* cold recipients already found in this message */
    int ttl_days;          /* a contact stays known this long */
    long long max;         /* contacts kept per sender */
    int company_wide;      /* a contact of any sender of the domain is known */
    const char *domain;    /* the company's domain; NULL or "": the sender's */
};

/* Incidents (policy/incident.h, meter_incident.lua): how a request takes part. */
enum pm_incident_mode {
    PM_INCM_NONE = 0, /* not at all (status probes) */
    PM_INCM_ENFORCE,  /* a sender in incident is reported; its request counts nothing */
    PM_INCM_DETECT,   /* that, and the signals may open an incident */
    PM_INCM_DRY,      /* reported and detected, nothing opened or held (dry run, learning) */
};

/* A request's part in incidents: what it is, and the signals' thresholds (0: off). */
struct pm_incident_req {
    enum pm_incident_mode mode;
    int count;       /* 1: for a sender in incident, a message held or refused */
    int refusal;     /* 1: a refusal of this request counts (the first of its message) */
    long long local; /* refusals this server decided without the store since its last
                      * request for the sender (policy/sknow.c): they count too */
    enum pm_counter local_counter; /* the limit that refused them */
    const char *qid;               /* the queue id, or NULL */
    const char *domains;           /* the external recipient domains, space-separated, or NULL */
    const char *net;     /* the network of a SASL login's client ("192.0.2.0/24"), or NULL */
    long long max_hours; /* an incident ends by itself after this long; 0: when released */
    long long burst_floor, burst_multiple, fanout, retry, bounce;
    long long nn_days, nn_pct; /* a new network: unused this long; thresholds x pct% */
};

struct pm_meter_req {
    enum pm_meter_mode mode;
    struct pm_scope_req scope[PM_SCOPE_COUNT];
    long long msgs;     /* messages to add (1 at end of message with an external recipient) */
    long long rcpts;    /* external recipients to add */
    long long internal; /* internal messages to add (1 when every recipient is local) */
    struct pm_contacts_req contacts;
    struct pm_reputation_req reputation;
    const char *suppressed_rcpt; /* a probe: the normalised recipient to look up, or NULL */
    const char *company;         /* whose suppression list (the sender's domain) */
    const char *msgid_hash;      /* a commit: the message's Message-ID, keyed hash, or NULL */
    long long wday_offset;       /* seconds east of UTC of the time zone warm-up days follow */
    const char *txid;            /* a commit: the transaction's id (16 hex digits; the same message
                                  * sent again gets the same id), or NULL: a commit that counted
                                  * is recorded, and the same id again gets its reply back */
    int msgid_days;              /* Message-IDs are kept this long ... */
    long long msgid_max;         /* ... and this many per sender */
    int hour_bucket;             /* seconds per bucket of the rolling hour (divides 3600) */
    int day_bucket;              /* seconds per bucket of the rolling day (divides 86400) */
    int wu_learn;                /* learning mode: a warm-up ends after this many active days
                                  * (learning.established_days); 0: not learning */
    struct pm_incident_req incident;
    /* fake replies: the keyed hashes of the Message-IDs the message refers to,
     * looked up among those the sender sent ({s:S}:mid); refs_gate: a commit
     * whose references name none of them counts nothing (a rule refuses it) */
    const char *const *ref_hashes;
    size_t n_refs; /* at most PM_METER_MAX_REFS */
    int refs_gate;
};

#define PM_METER_MAX_REFS 16

/* Where a request found the sender's incident. */
enum pm_incident_state {
    PM_INCS_NONE = 0, /* not in incident */
    PM_INCS_IN,       /* in incident already */
    PM_INCS_OPENED,   /* this request opened it */
    PM_INCS_WOULD,    /* a signal tripped, nothing opened (PM_INCM_DRY) */
};

struct pm_meter_res {
    int fits;    /* 1: every counter of every used scope stays within its limit */
    int counted; /* 1: the request was added to the counters */
    /* the limit that does not fit: one of a scope that is not soft (or a
     * reputation brake) when any is over, else one of a soft scope; among
     * those the one that frees up last (a "never" wins; else the latest
     * retry_at; ties: scope order, then counter order) */
    enum pm_scope over_scope;
    enum pm_counter over_counter;
    long long over_limit;
    long long over_used; /* that counter's value before this request */
    long long retry_at;  /* store time (unix s) when it would fit; -1: never (request > limit) */
    long long now;       /* store time (unix s) the request was decided at */
    /* every counter of every used scope: after this request when counted, before otherwise */
    long long used[PM_SCOPE_COUNT][PM_C_COUNT];
    struct pm_warmup_res warmup[PM_SCOPE_COUNT];
    long long cold; /* cold recipients of the message: cold_before + those looked up now */
    int cold_first; /* the first cold one among the request's hashes (from 1), 0 none */
    int plan;       /* the sender's plan override (index of the store's plan table), -1 none, or
                     * -2: an override naming a plan this postmeter's table lacks (not applied) */
    long long credits_spent[2]; /* message and recipient credits spent by this request */
    long long credits_left[2];  /* credits left, when they were looked at */
    struct pm_reputation rep;   /* the sender's reputation */
    struct pm_suppressed sup;   /* the probed recipient's suppression entry */
    enum pm_incident_state inc_state;
    struct pm_incident inc; /* the incident (sender unset), when inc_state is not NONE */
    int refs_known;         /* the request's references: -1 none asked, 0 none the sender
                             * sent, 1 one at least names a message the sender sent */
};

/* --- the administrator's operations (postmeterctl, the metrics refresher) --- */

/* A sender's plan override, as the store holds it. */
struct pm_override {
    char plan[128];    /* the plan it names; "" none */
    long long ttl;     /* seconds it is kept yet; -1 none */
    char unknown[128]; /* the override a running postmeter reported, within a day, it
                        * cannot apply (its plan table lacks it); "" none */
};

/* One grant of credits ("stamps"). */
struct pm_grant {
    long long id;
    long long msgs, rcpts;     /* left */
    long long expires;         /* store time; 0 never */
    long long g_msgs, g_rcpts; /* granted */
    long long at;              /* store time of the grant */
};

/* One movement of a sender's credits. */
struct pm_credit_move {
    long long time, msgs, rcpts, expires;
    char event[16]; /* "grant", "revoke", "spend" */
    char note[320];
};

/* A sender's credits: the grants (by id) and the movements (newest first). */
struct pm_credits {
    struct pm_grant *grant;
    size_t n_grant;
    struct pm_credit_move *move;
    size_t n_move;
};

#define PM_CREDIT_MAX_GRANTS 100 /* live grants a sender may hold */

/* A grant to add. */
struct pm_grant_req {
    long long msgs, rcpts;
    int relative;      /* 1: expires counts seconds from the store's now */
    long long expires; /* else a store time; 0 never */
    const char *note;  /* the movement's note (no tab or line break) */
};

/* What adding or revoking a grant did. */
struct pm_grant_res {
    long long result;      /* add: the new id, 0 expiry past, -1 PM_CREDIT_MAX_GRANTS live
                            * grants already; revoke: 1, or 0 no such grant */
    long long now;         /* store time */
    long long expires;     /* the grant's expiry */
    long long msgs, rcpts; /* add: granted; revoke: what was left */
};

/* A warm-up to reset or skip: a sender's, or a domain's company-wide one. */
struct pm_warmup_set {
    const char *sender; /* or NULL and ... */
    const char *domain;
    long long stage;      /* -1: reset (delete the state); else the stage to be at today */
    long long keep;       /* seconds the state is kept (dormant_days + 1 days) */
    long long day_offset; /* the time zone's offset: warm-up days are local days */
};

/* Where a recipient stands as a contact: the UTC day last seen, or -1, in the
 * sender's contacts (mailed), the sender's learned contacts (who wrote to the
 * sender) and the company's contacts. */
struct pm_contact_days {
    long long sender, learned, company;
};

#define PM_SEED_MAX 1000 /* contacts one seed request carries at most */

/* Contacts of one sender learned from Postfix's logs (postmeterctl learn):
 * the keyed hash of each recipient and the UTC day of the last delivery. */
struct pm_seed_req {
    const char *sender;
    const char *domain;        /* the company's contacts too (contacts.company_wide), or NULL */
    const char *const *hashes; /* n keyed hashes (16 hex digits) */
    const long long *days;     /* n UTC days */
    size_t n;                  /* at most PM_SEED_MAX */
    int ttl_days;              /* contacts.ttl_days: an older day is not written */
    long long max;             /* contacts.max_per_sender */
};

/* What a seed request wrote into the sender's contacts. */
struct pm_seed_res {
    long long now;   /* store time */
    long long added; /* contacts the sender did not have */
    long long newer; /* contacts whose day moved forward */
    long long old;   /* pairs not written: known as recently already, or too old */
};

/* What a move of the keys to the current layout did (postmeterctl migrate). */
struct pm_migrate_res {
    char before[8];    /* the layout before: "1", "2m" (a move under way or cut short), "2" */
    long long moved;   /* keys renamed to their new names */
    long long both;    /* keys left because their new name was taken */
    long long merged;  /* global indexes added into the companies' and deleted */
    long long entries; /* their entries */
    long long dropped; /* keys deleted (the old stream of suppression changes, heartbeats) */
    long long left;    /* old keys left: entries of the layout before companies */
};

/* --- each daemon's heartbeat (milter/watch.c; postmeterctl servers) -------- */

#define PM_SERVER_BEAT 60  /* a daemon writes its heartbeat about this often (seconds) */
#define PM_SERVER_KEEP 600 /* and the store keeps it this long */
#define PM_SERVERS_MAX 1000

/* A daemon's heartbeat, as it measured it: ages are seconds before now, on
 * its own clock; the store turns them into store time. */
struct pm_server_beat {
    const char *host;      /* the host name */
    const char *socket;    /* milter.socket */
    const char *version;   /* postmeter's */
    long long pid;         /* the daemon's process (the one the pid file names) */
    long long up;          /* seconds since it started */
    long long conns;       /* milter connections since it started */
    long long conn_ago;    /* seconds since the last one; -1 none */
    int postfix;           /* enum pm_postfix (watch.h): does Postfix's master run */
    long long postfix_pid; /* 0 unknown */
    long long idle_alarm;  /* postfix.idle_alarm (0 off) */
    long long quiet;       /* seconds without a connection while Postfix runs; -1 not running */
    long long alarm_ago;   /* seconds since the no-connection alarm was raised; -1 none */
};

/* A daemon as the store holds it; times are store time, 0 none. */
struct pm_server {
    char host[256];
    char socket[512];
    char version[32];
    long long pid, started, beat, conns, last_conn;
    int postfix; /* enum pm_postfix */
    long long postfix_pid, idle_alarm, quiet_since;
    int alarm; /* 1: raised */
    long long alarm_at;
};

/* --- incidents (incident.h): postmeterctl incident, the metrics refresher ---- */

#define PM_INCIDENTS_MAX 10000 /* senders an incident list reads at most */

/* An incident opened by hand (signal "admin"). */
struct pm_incident_open {
    const char *by;   /* "admin:USER" */
    const char *note; /* "" none (no tab or line break) */
    long long secs;   /* seconds until it ends by itself; 0: until released */
    int force;        /* 1: replace an open incident */
};

struct pm_store_ops {
    /* Answer req into res; PM_STORE_OK, or a failure (err says why). */
    int (*meter)(void *impl, const struct pm_meter_req *req, struct pm_meter_res *res, char *err,
                 size_t errlen);
    /* Release impl. */
    void (*free)(void *impl);
    /* Record what one incoming message says (out: one result per failure of a
     * bounce, else one); PM_STORE_OK or a failure. NULL: not supported. */
    int (*feedback)(void *impl, const struct pm_feedback_req *req, enum pm_feedback_kind *out,
                    char *err, size_t errlen);
    /* The suppression list: each entry of company (NULL: of every company),
     * of rcpt (NULL: every address), passed to each (which returns 0 to go on);
     * PM_STORE_OK or a failure. */
    int (*suppress_list)(void *impl, const char *company, const char *rcpt,
                         int (*each)(void *arg, const char *company, const char *rcpt,
                                     const struct pm_suppressed *e),
                         void *arg, char *err, size_t errlen);
    /* Add (status, by: "admin:USER", days) or, with status NULL, remove an entry. */
    int (*suppress_set)(void *impl, const char *company, const char *rcpt, const char *status,
                        const char *by, int days, char *err, size_t errlen);
    /* Move entries of the layout before companies ("<prefix>:v1:sup:<address>")
     * to the company of their sender (an administrator's entry: to each of
     * companies); *moved counts them. */
    int (*suppress_migrate)(void *impl, const char *const *companies, size_t n, long long *moved,
                            char *err, size_t errlen);
    /* The store's clock (Redis time, as the scripts reckon it). */
    int (*now)(void *impl, long long *now, char *err, size_t errlen);
    /* A daemon's copy of the suppression lists: the stream of changes' last
     * id into last (its start: "0-0" when there is none), the notes of the
     * stream up to it of a short while before to note, oldest first (so
     * that the intents still open at the load are known), then every entry
     * to each (expires: store time, 0 never); *now: store time, set before
     * the first entry is passed and again with each page of them (their
     * expiry reckoned by it). stop (NULL: none) is asked before
     * each page of entries: when it says 1, the load ends, a failure. */
    int (*sup_snapshot)(void *impl, char *last, size_t lastlen,
                        void (*note)(void *arg, enum pm_sup_op op, const char *company,
                                     const char *rcpt, long long expires),
                        void (*each)(void *arg, const char *company, const char *rcpt,
                                     long long expires),
                        void *arg, int (*stop)(void), long long *now, char *err, size_t errlen);
    /* Wait up to block_ms for changes after last, pass each (op: an
     * intent, then its entry added, removed, or left) and move last on;
     * with now, then read the store's clock (and the stream's last id:
     * below last, it was made anew). PM_STORE_OK (none, or some),
     * PM_STORE_GAP when changes after last may be lost (the stream was
     * trimmed past it or made anew, the primary moved): load again; or a
     * failure. Both run on a connection of the store's one follower alone
     * (never the pool's): one thread calls them. */
    int (*sup_follow)(void *impl, char *last, size_t lastlen, int block_ms,
                      void (*each)(void *arg, enum pm_sup_op op, const char *company,
                                   const char *rcpt, long long expires),
                      void *arg, long long *now, char *err, size_t errlen);
    /* A sender's plan override. */
    int (*plan_get)(void *impl, const char *sender, struct pm_override *o, char *err,
                    size_t errlen);
    /* Set (plan) or, with plan NULL, clear a sender's override, kept keep seconds; *had:
     * there was one to clear. Either forgets a daemon's report that it lacks a plan. */
    int (*plan_set)(void *impl, const char *sender, const char *plan, long long keep, int *had,
                    char *err, size_t errlen);
    /* A sender's credits (free them with pm_credits_free). */
    int (*credits)(void *impl, const char *sender, struct pm_credits *out, char *err,
                   size_t errlen);
    /* Add a grant (g) or, with g NULL, revoke grant id (note: the movement's note). */
    int (*credit_set)(void *impl, const char *sender, const struct pm_grant_req *g, long long id,
                      const char *note, struct pm_grant_res *res, char *err, size_t errlen);
    /* Reset or skip a warm-up; *had: it had a state; *day: the warm-up day. */
    int (*warmup_set)(void *impl, const struct pm_warmup_set *w, int *had, long long *day,
                      char *err, size_t errlen);
    /* Where the recipient of keyed contact hash stands for sender (company: its domain). */
    int (*contact_days)(void *impl, const char *sender, const char *company, const char *hash,
                        struct pm_contact_days *out, char *err, size_t errlen);
    /* The senders of the daily top index of the last days days (today first), at
     * most limit per day (0: all), passed to each (0 to go on); *now: store time. */
    int (*top)(void *impl, int days, int limit, int (*each)(void *arg, const char *sender),
               void *arg, long long *now, char *err, size_t errlen);
    /* The installation's learning start (store time, 0: none) and *now; with
     * record, now becomes the start unless one is kept, and the start is kept
     * keep seconds more. */
    int (*learning)(void *impl, int record, long long keep, long long *start, long long *now,
                    char *err, size_t errlen);
    /* Write contacts learned from logs where they are newer than the stored ones. */
    int (*seed)(void *impl, const struct pm_seed_req *req, struct pm_seed_res *res, char *err,
                size_t errlen);
    /* Write a daemon's heartbeat, kept PM_SERVER_KEEP seconds. */
    int (*server_beat)(void *impl, const struct pm_server_beat *b, char *err, size_t errlen);
    /* The daemons whose heartbeat is at most PM_SERVER_KEEP seconds old (at most
     * PM_SERVERS_MAX, the latest first), passed to each (0 to go on); *now: store time. */
    int (*servers)(void *impl, int (*each)(void *arg, const struct pm_server *s), void *arg,
                   long long *now, char *err, size_t errlen);
    /* Delete every key of the store's prefix; *deleted counts them. */
    int (*forget_all)(void *impl, long long *deleted, char *err, size_t errlen);
    /* Move the keys to the current key layout, live (doc/redis-keys.md). */
    int (*migrate)(void *impl, struct pm_migrate_res *res, char *err, size_t errlen);
    /* A sender's incident (inc->open 0: none in force); *now: store time. */
    int (*incident_get)(void *impl, const char *sender, struct pm_incident *inc, long long *now,
                        char *err, size_t errlen);
    /* The senders in incident (at most PM_INCIDENTS_MAX, the latest opened first),
     * passed to each (0 to go on); stale index entries are dropped; *now: store time. */
    int (*incident_list)(void *impl, int (*each)(void *arg, const struct pm_incident *inc),
                         void *arg, long long *now, char *err, size_t errlen);
    /* Open an incident by hand: *opened 1 and inc the new one, or 0 and inc the
     * incident already open (kept unless o->force). */
    int (*incident_open)(void *impl, const char *sender, const struct pm_incident_open *o,
                         int *opened, struct pm_incident *inc, char *err, size_t errlen);
    /* End a sender's incident on every server (its hash and its index entry, at
     * once); was: what it was (was->open 0: none was in force). */
    int (*incident_release)(void *impl, const char *sender, struct pm_incident *was, char *err,
                            size_t errlen);
    /* The daily digest: claim the digest of UTC day day for holder (*won: this call
     * did; exactly one caller per day does: SET "<prefix>:v2:{@}:digest:<day>" NX
     * EX 3 days), and pass each refusal count of that day's record, the hashes
     * "<prefix>:v2:{C}:hits:<day>" of every company ("<sender>|<limit>" ->
     * refusals, written by the meter script), to each (0 to go on). */
    int (*digest_elect)(void *impl, long long day, const char *holder, int *won, char *err,
                        size_t errlen);
    /* Give up the claim of day's digest (sending it failed): the next claim wins. */
    int (*digest_unclaim)(void *impl, long long day, char *err, size_t errlen);
    int (*digest_hits)(void *impl, long long day,
                       int (*each)(void *arg, const char *sender, const char *limit, long long n),
                       void *arg, char *err, size_t errlen);
    /* The digest's silent senders: of the senders of the last 7 days' top index,
     * each that mailed at least min_first first contacts in the last 30 UTC days
     * ("{s:S}:rr") of which none replied, with its first contacts, to each (0 to
     * go on). Reads only. */
    int (*digest_silent)(void *impl, long long min_first,
                         int (*each)(void *arg, const char *sender, long long first), void *arg,
                         char *err, size_t errlen);
    /* Announce companies (each a sender's company: the part of its address
     * after the last "@", or the whole sender) to the company registry the
     * readers that go over every company use (n 0: only look); *born (NULL:
     * not asked): the store time the registry was made, -1 none, -2 the
     * store keeps none now; PM_STORE_OK or a failure. */
    int (*announce)(void *impl, const char *const *companies, size_t n, long long *born, char *err,
                    size_t errlen);
};

struct pm_store {
    const struct pm_store_ops *ops;
    void *impl;
};

/* Wrap an implementation; NULL on allocation failure. */
struct pm_store *pm_store_new(const struct pm_store_ops *ops, void *impl);

/* Ask the store; PM_STORE_OK, or a failure (err says why). */
int pm_store_meter(struct pm_store *st, const struct pm_meter_req *req, struct pm_meter_res *res,
                   char *err, size_t errlen);

/* Record what one incoming message says; PM_STORE_OK, or a failure (err says why). */
int pm_store_feedback(struct pm_store *st, const struct pm_feedback_req *req,
                      enum pm_feedback_kind *out, char *err, size_t errlen);

/* The suppression list (see struct pm_store_ops); PM_STORE_OK, or a failure. */
int pm_store_suppress_list(struct pm_store *st, const char *company, const char *rcpt,
                           int (*each)(void *arg, const char *company, const char *rcpt,
                                       const struct pm_suppressed *e),
                           void *arg, char *err, size_t errlen);
int pm_store_suppress_set(struct pm_store *st, const char *company, const char *rcpt,
                          const char *status, const char *by, int days, char *err, size_t errlen);
int pm_store_suppress_migrate(struct pm_store *st, const char *const *companies, size_t n,
                              long long *moved, char *err, size_t errlen);

/* The store's clock; PM_STORE_OK, or a failure (err says why). */
int pm_store_now(struct pm_store *st, long long *now, char *err, size_t errlen);

/* The copy of the suppression lists (see struct pm_store_ops). */
int pm_store_sup_snapshot(struct pm_store *st, char *last, size_t lastlen,
                          void (*note)(void *arg, enum pm_sup_op op, const char *company,
                                       const char *rcpt, long long expires),
                          void (*each)(void *arg, const char *company, const char *rcpt,
                                       long long expires),
                          void *arg, int (*stop)(void), long long *now, char *err, size_t errlen);
int pm_store_sup_follow(struct pm_store *st, char *last, size_t lastlen, int block_ms,
                        void (*each)(void *arg, enum pm_sup_op op, const char *company,
                                     const char *rcpt, long long expires),
                        void *arg, long long *now, char *err, size_t errlen);

/* The administrator's operations (see struct pm_store_ops); PM_STORE_OK, or a failure
 * (err says why). */
int pm_store_plan_get(struct pm_store *st, const char *sender, struct pm_override *o, char *err,
                      size_t errlen);
int pm_store_plan_set(struct pm_store *st, const char *sender, const char *plan, long long keep,
                      int *had, char *err, size_t errlen);
int pm_store_credits(struct pm_store *st, const char *sender, struct pm_credits *out, char *err,
                     size_t errlen);
void pm_credits_free(struct pm_credits *c);
int pm_store_credit_add(struct pm_store *st, const char *sender, const struct pm_grant_req *g,
                        struct pm_grant_res *res, char *err, size_t errlen);
int pm_store_credit_revoke(struct pm_store *st, const char *sender, long long id, const char *note,
                           struct pm_grant_res *res, char *err, size_t errlen);
int pm_store_warmup_set(struct pm_store *st, const struct pm_warmup_set *w, int *had,
                        long long *day, char *err, size_t errlen);
int pm_store_contact_days(struct pm_store *st, const char *sender, const char *company,
                          const char *hash, struct pm_contact_days *out, char *err, size_t errlen);
int pm_store_top(struct pm_store *st, int days, int limit,
                 int (*each)(void *arg, const char *sender), void *arg, long long *now, char *err,
                 size_t errlen);

int pm_store_learning(struct pm_store *st, int record, long long keep, long long *start,
                      long long *now, char *err, size_t errlen);
int pm_store_seed(struct pm_store *st, const struct pm_seed_req *req, struct pm_seed_res *res,
                  char *err, size_t errlen);
int pm_store_server_beat(struct pm_store *st, const struct pm_server_beat *b, char *err,
                         size_t errlen);
int pm_store_servers(struct pm_store *st, int (*each)(void *arg, const struct pm_server *s),
                     void *arg, long long *now, char *err, size_t errlen);
int pm_store_forget_all(struct pm_store *st, long long *deleted, char *err, size_t errlen);
int pm_store_migrate(struct pm_store *st, struct pm_migrate_res *res, char *err, size_t errlen);

/* Announce companies to the company registry (see struct pm_store_ops). */
int pm_store_announce(struct pm_store *st, const char *const *companies, size_t n, long long *born,
                      char *err, size_t errlen);
int pm_store_incident_get(struct pm_store *st, const char *sender, struct pm_incident *inc,
                          long long *now, char *err, size_t errlen);
int pm_store_incident_list(struct pm_store *st,
                           int (*each)(void *arg, const struct pm_incident *inc), void *arg,
                           long long *now, char *err, size_t errlen);
int pm_store_incident_open(struct pm_store *st, const char *sender,
                           const struct pm_incident_open *o, int *opened, struct pm_incident *inc,
                           char *err, size_t errlen);
int pm_store_incident_release(struct pm_store *st, const char *sender, struct pm_incident *was,
                              char *err, size_t errlen);

/* The name of a feedback result ("hard_bounce", "unmatched", ...). */
const char *pm_feedback_name(enum pm_feedback_kind k);

/* Release a store and its implementation. */
void pm_store_free(struct pm_store *st);

/* The configuration key's name for a counter ("messages_per_hour"). */
const char *pm_counter_name(enum pm_counter c);

/* The daily digest (see struct pm_store_ops); PM_STORE_OK, or a failure. */
int pm_store_digest_unclaim(struct pm_store *st, long long day, char *err, size_t errlen);
int pm_store_digest_elect(struct pm_store *st, long long day, const char *holder, int *won,
                          char *err, size_t errlen);
int pm_store_digest_hits(struct pm_store *st, long long day,
                         int (*each)(void *arg, const char *sender, const char *limit, long long n),
                         void *arg, char *err, size_t errlen);
int pm_store_digest_silent(struct pm_store *st, long long min_first,
                           int (*each)(void *arg, const char *sender, long long first), void *arg,
                           char *err, size_t errlen);

#endif
