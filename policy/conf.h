/*
 * conf.h - postmeter's configuration: one validated, immutable struct.
 *
 * pm_conf_load() reads a libconfig file, checks every key against one table
 * (type, default, bounds; unknown keys are errors) and returns a struct that
 * is never modified afterwards, so threads may share it without locks.
 * Errors quote "file:line: what is wrong".
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CONF_H
#define PM_CONF_H

#include <stddef.h>

#include "cidr.h"
#include "rules.h"
#include "curve.h"

/* Actions, from mild to severe: a larger value is more severe. */
enum pm_action {
    PM_ACT_ACCEPT = 0,
    PM_ACT_TAG,
    PM_ACT_HOLD,
    PM_ACT_TEMPFAIL,
    PM_ACT_REJECT,
};

#define PM_NOTIFY_ADMIN_MAX 20 /* notify.admin: addresses */
#define PM_CONF_LIST_MAX 10000 /* entries of a list without a bound of its own */
#define PM_NOTIFY_ADDR_MAX 254 /* an address of notify.admin or notify.from */
#define PM_NOTIFY_URL_MAX 1024 /* notify.webhook_url */
#define PM_NOTIFY_SMTP_MAX 64  /* notify.smtp: "[v6addr]:port" */

/* What to answer when Redis cannot be reached in time. */
enum pm_on_error {
    PM_ONERR_ACCEPT = 0,
    PM_ONERR_TEMPFAIL,
};

/* One plan's limits; 0 means "no limit". */
struct pm_limits {
    long long msgs_hour;     /* messages per rolling hour */
    long long msgs_day;      /* messages per rolling 24 hours */
    long long rcpts_hour;    /* external recipients per rolling hour */
    long long rcpts_day;     /* external recipients per rolling 24 hours */
    long long new_rcpts_day; /* first-contact recipients per 24 h (cold-contact issue) */
    long long rcpts_per_msg; /* recipients per message (all recipients) */
    long long int_msgs_hour; /* internal messages (every recipient local) per rolling hour */
    long long int_msgs_day;  /* internal messages per rolling 24 hours */
};

/* A named plan. */
struct pm_plan {
    char *name;
    struct pm_limits lim;
    enum pm_action action;  /* over a limit: tempfail (default), reject, hold or tag */
    struct pm_curve warmup; /* daily caps of the warm-up stages (n = 0: no warm-up) */
    long long warmup_hour[PM_WARMUP_MAX_STAGES]; /* the hourly cap of each stage */
    int warmup_set; /* the plan names its curve (a domain plan warms up only then) */
};

/* How an assignment rule matches. */
enum pm_match_kind {
    PM_MATCH_ADDRESS, /* "alice@example.com": the exact sender */
    PM_MATCH_DOMAIN,  /* "*@example.com": every sender of the domain */
    PM_MATCH_GLOB,    /* "sales-*@example.com": fnmatch(3) on the sender */
    PM_MATCH_LOGIN,   /* login = "bob": the SASL login, as given by Postfix */
};

/* One ordered assignment rule: sender (or domain) -> plan. */
struct pm_assign {
    enum pm_match_kind kind;
    char *pattern; /* lower-cased */
    int plan;      /* index into pm_conf.plans */
    int line;      /* where it was defined, for messages */
};

struct pm_conf {
    char *file;      /* the file this came from */
    char **warnings; /* "file:line: warning: ..." lines: loaded, but worth saying */
    size_t n_warnings;

    /* milter */
    char *milter_socket; /* "unix:/path" or "inet:port@host" / "inet6:..." */
    int socket_mode;     /* mode of a unix socket, e.g. 0660 */
    char *socket_group;  /* group of a unix socket ("" = the daemon's group) */
    int milter_timeout;  /* seconds libmilter waits on the MTA */
    char *user;          /* drop privileges to this user ("" = stay) */
    char *group;         /* and group ("" = the user's primary group) */
    char *pidfile;       /* "" = none */
    int log_level;       /* PM_LOG_* */
    char *log_facility;  /* syslog facility name, default "mail" */

    /* redis */
    char *redis_host;          /* default "127.0.0.1" */
    int redis_port;            /* default 6379 */
    char *redis_socket;        /* unix socket path; wins over host/port when set */
    char *redis_password_file; /* "" = no AUTH; file holds "password" or "user password" */
    char *redis_user;          /* ACL user read from the password file, or NULL */
    char *redis_password;      /* read from redis_password_file at load time, or NULL */
    int redis_db;              /* SELECT this database, default 0 */
    int connect_timeout_ms;    /* default 200 */
    int command_timeout_ms;    /* default 500 */
    int retry_min_ms;          /* first reconnect backoff, default 100 */
    int retry_max_ms;          /* reconnect backoff cap, default 5000 */
    int pool_size;             /* at most this many Redis connections, default 16 */
    char *key_prefix;          /* default "pm" */
    char **sentinels;          /* "host:port" of Redis Sentinels; empty: host/port above */
    size_t n_sentinels;
    char *sentinel_master; /* the primary's name in Sentinel, default "mymaster" */
    char **cluster;        /* "host:port" seeds of a Redis Cluster; empty: none */
    size_t n_cluster;
    int cluster_retry_ms;        /* a call's budget for redirects, TRYAGAIN, CLUSTERDOWN: 1000 */
    int redis_test_clock;        /* honour the test clock key <prefix>:v2:{@}:clock (tests only) */
    int redis_network_encrypted; /* the network to a non-local Redis is encrypted below us */

    enum pm_on_error on_store_error; /* default accept */
    int dry_run;                     /* log what would happen, accept everything */
    int learning_days;               /* learning mode: days from the first start during which
                                      * everything is counted and nothing refused; 0: none */
    int learning_established_days;   /* active sending days that make a sender established
                                      * (warm-up over): in learning mode and in learn --maillog */
    char *header_name;               /* tag header, default "X-Postmeter" */
    char *timezone; /* IANA zone of replies, postmeterctl and warm-up days, default "UTC" */

    /* identity */
    char *login_domain;   /* qualifies a SASL login without '@' ("" = none) */
    char **local_domains; /* lower-cased; a recipient here is not external */
    size_t n_local_domains;
    char **daemon_names; /* {daemon_name} values that mean outgoing */
    size_t n_daemon_names;
    struct pm_cidr *networks; /* client addresses that mean outgoing */
    size_t n_networks;

    /* warm-up */
    int warmup_dormant_days;       /* silence that restarts a warm-up, default 30 */
    double warmup_hourly_share;    /* share of a stage's day cap per rolling hour, 0.25 */
    double warmup_max_bounce_rate; /* the stage holds above this bounce rate, 0.03 */

    /* contacts (first-contact detection) */
    unsigned char contacts_key[16]; /* key of the contact hashes */
    int contacts_keyed;             /* 1 when read from contacts.secret_file */
    char *contacts_secret_file;     /* "" = a fixed key (the sample config says to set one) */
    int contacts_ttl_days;          /* a contact stays known this long, default 365 */
    long long contacts_max;         /* contacts remembered per sender, default 50000 */
    int contacts_company_wide;      /* known to any sender of the domain = not cold */

    /* feedback: bounces, replies, reputation, suppression */
    int feedback_enabled;            /* read incoming mail for bounces and replies */
    int feedback_bounce_window_days; /* a failure counts for a recipient mailed this recently */
    int feedback_learned_per_day;    /* new contacts learned from non-replies, per mailbox/day */
    int feedback_replies_per_day;    /* replies counted per mailbox and day */
    char *feedback_authserv_id;      /* the Authentication-Results server id to trust, "" none */
    int msgid_days;                  /* Message-IDs of sent mail are kept this long ... */
    int msgid_max;                   /* ... and this many per sender */
    int rep_min_sends;               /* act on reputation from this many recipients in 7 days */
    double rep_min_reply_rate;       /* the reply-rate brake: a share of first contacts; 0 off */
    int rep_min_first;               /* the brake acts from this many first contacts in 30 days */
    double rep_warn;                 /* hard-bounce rate that is logged and tagged, 0.02 */
    double rep_halve;                /* ... that halves the limits and freezes warm-up, 0.03 */
    double rep_refuse_cold;          /* ... that refuses first-contact mail, 0.05 */
    double rep_refuse_all;           /* ... that refuses all external mail, 0.10 */
    int suppress_days;               /* a hard-bounced address stays suppressed this long */
    int suppress_local_max;          /* entries of this server's copy of the lists (0: no copy) */

    /* content */
    struct pm_rule *rules; /* ordered; all matching rules apply */
    size_t n_rules;
    char **shorteners; /* URL shortener host names */
    size_t n_shorteners;
    char **subject_spam_words; /* scan.subject_spam_words, lower case */
    size_t n_subject_spam_words;

    /* metrics: the Prometheus endpoint (milter/metrics_http.c) */
    char *metrics_listen;        /* "127.0.0.1:9465" or "[::1]:9465"; "" = off */
    int metrics_top_senders;     /* quota gauges for this many top senders, default 50 */
    int metrics_refresh_seconds; /* how often the quota gauges are read, default 30 */

    /* postfix: does Postfix reach the milter socket? (policy/watch.c, milter/watch.c) */
    char *postfix_queue_directory; /* Postfix's queue_directory: pid/master.pid; "" = no check */
    int postfix_idle_alarm;        /* seconds without a connection while Postfix runs; 0 off */

    /* notify: the notices of incidents and the daily digest (milter/notice.c) */
    char **notify_admin;             /* the administrators' addresses; empty: no mail notices */
    size_t n_notify_admin;           /* at most PM_NOTIFY_ADMIN_MAX */
    int notify_sender;               /* also tell the sender in incident */
    char *notify_from;               /* the notices' From:; "" = postmeter@ the host's name */
    char *notify_sendmail;           /* Postfix's sendmail, run without a shell */
    char *notify_postfix_config_dir; /* sendmail -C DIR for a non-default instance; "" none */
    int notify_timeout;              /* seconds sendmail may take, then it is killed */
    char *notify_smtp;               /* "host:port" to submit by SMTP to; "" = sendmail */
    char *notify_webhook_url;        /* "" = no webhook */
    int notify_webhook_timeout_ms;   /* the whole webhook request */
    int notify_digest;               /* mail the daily digest of refusals */
    int notify_digest_hour;          /* the hour (timezone) after which it is sent */
    /* incidents (conf_incidents.c): a mailbox gone bad is held or tempfailed */
    int inc_enabled;              /* the signals open incidents (default true) */
    enum pm_action inc_action;    /* PM_ACT_HOLD (default) or PM_ACT_TEMPFAIL */
    int inc_max_hours;            /* an incident ends by itself after this long; 0: when released */
    long long inc_burst_floor;    /* burst: messages in 10 minutes, 50 (0: the signal is off) */
    long long inc_burst_multiple; /* ... and times the sender's usual rate, 10 */
    long long inc_fanout;         /* fanout: new recipient domains in an hour, 40 (0: off) */
    long long inc_retry;          /* retry_storm: refusals in 10 minutes, 50 (0: off) */
    long long inc_bounce;         /* bounce_spike: hard bounces in 24 hours, 20 (0: off) */
    int inc_nn_days;              /* new_network: a network unused this long is new, 30 (0: off) */
    double inc_nn_factor;         /* ... and lowers the other thresholds by this factor, 0.5 */

    /* windows */
    int hour_bucket; /* seconds per bucket of the rolling hour, default 60 */
    int day_bucket;  /* seconds per bucket of the rolling day, default 600 */

    /* RCPT stage: what this server knows of a sender decides without the store */
    int rcpt_fresh;  /* knowledge this many seconds old decides; 0: always ask, default 5 */
    int rcpt_margin; /* headroom kept below every limit, default 2 */

    /* which load this is: every pm_conf_load() gives a new one (never 0), so
     * what was learnt under one configuration is not taken for another's,
     * even when a reload reuses the address of a freed one */
    unsigned long long generation;

    /* plans and assignment */
    struct pm_plan *plans;
    size_t n_plans;
    int default_plan;         /* index of the plan named by default_plan (default "default") */
    struct pm_assign *assign; /* sender -> plan, first match wins */
    size_t n_assign;
    struct pm_assign *domain_assign; /* sender domain -> company-wide plan */
    size_t n_domain_assign;
};

/*
 * Load and validate path. On success returns 0 and sets *out. On failure
 * returns -1 and writes "file:line: what is wrong" into err.
 */
int pm_conf_load(const char *path, struct pm_conf **out, char *err, size_t errlen);

/* Free a configuration returned by pm_conf_load(). */
void pm_conf_free(struct pm_conf *conf);

/*
 * Make the calling process the user and group of the "user" and "group"
 * keys (conf_user.c): 1 when it switched, 0 when there was nothing to do
 * (no user, or already that user), -1 with err set ("cannot switch to user
 * postmeter: ...").
 */
int pm_conf_switch_user(const struct pm_conf *conf, char *err, size_t errlen);

/* What pm_conf_check_as_user() found. */
enum pm_conf_user_check {
    PM_CONF_USER_OK = 0, /* path loads as that user too */
    PM_CONF_USER_SAME,   /* no user, or this process is that user: nothing more to check */
    PM_CONF_USER_CANNOT, /* not root: cannot switch; err says so */
};

/*
 * Load path again, in a child process that switched to the user postmeter
 * runs as (conf was loaded from path), so that every file it names is read
 * as the daemon will read it (conf_user.c). A PM_CONF_USER_* value, or -1
 * with err holding the child's "file:line: ..." error.
 */
int pm_conf_check_as_user(const char *path, const struct pm_conf *conf, char *err, size_t errlen);

/* Index of the plan named name, or -1 (conf_plan.c). */
int pm_conf_plan_index(const struct pm_conf *conf, const char *name);

/* The name of an action ("tempfail"), or "?" (action.c). */
const char *pm_action_name(enum pm_action act);

/* Parse an action name; returns 0 and sets *out, or -1 (action.c). */
int pm_action_parse(const char *name, enum pm_action *out);

/* Split notify.smtp ("127.0.0.1:25", "[::1]:25": an IP address, no name) into
 * the address and the port; 0, or -1 with why set (conf_notify.c). */
int pm_notify_smtp_split(const char *v, char *host, size_t hostlen, int *port, char *why,
                         size_t whylen);

#endif
