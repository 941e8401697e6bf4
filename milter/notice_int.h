/*
 * notice_int.h - what the parts of the notices share: the settings copied
 * from the configuration (notice.c), the texts and the sendmail run
 * (notice_mail.c), the webhook (notice_hook.c) and the daily digest
 * (notice_digest.c). Nothing outside milter/notice*.c includes this but
 * tests/tools/noticecli.c, which prints the texts and drives the digest.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_NOTICE_INT_H
#define PM_NOTICE_INT_H

#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "incident.h"
#include "store.h"

/* The notify settings of one configuration, copied (a reload may free it). */
struct notice_cfg {
    char **admin; /* the administrators */
    size_t n_admin;
    int sender;                        /* also tell the sender */
    char from[PM_NOTIFY_ADDR_MAX + 1]; /* the From: address */
    char host[256];                    /* this host's name (Message-ID) */
    char sendmail[1024];               /* the command */
    char config_dir[1024];             /* sendmail -C DIR; "" none */
    int timeout_s;                     /* sendmail's bounded run, or the SMTP session's */
    char smtp[PM_NOTIFY_SMTP_MAX + 1]; /* "host:port" to submit to by SMTP; "" = sendmail */
    int smtp_auto;                     /* smtp chosen because of no_new_privs */
    char url[PM_NOTIFY_URL_MAX + 1];   /* the webhook; "" none */
    int hook_ms;                       /* the webhook's bounded request */
    int digest, digest_hour;           /* the daily digest */
    long long min_first;    /* the digest's silent senders: this many first contacts (30 days) */
    struct pm_store *store; /* the digest's store (NULL: no digest) */
    int refs;               /* guarded by the notice lock */
};

/* Copy s into out (len bytes) with every control character (CR, LF, tab,
 * DEL...) made a space: text from the store cannot start a header line. */
void pm_notice_clean(const char *s, char *out, size_t len);

/* The whole admin notice (headers, blank line, body) of inc into b; now:
 * the time it is written (Date:), seq: a number unique in this process. */
void pm_notice_admin_text(struct pm_buf *b, const struct notice_cfg *c,
                          const struct pm_incident *inc, const char *action, long long now,
                          unsigned seq);

/* The whole sender's notice of inc into b. */
void pm_notice_sender_text(struct pm_buf *b, const struct notice_cfg *c,
                           const struct pm_incident *inc, const char *action, long long now,
                           unsigned seq);

/* The headers every notice starts with: Date, Message-ID, From, To (n
 * addresses), Subject, Auto-Submitted, MIME; then the blank line. */
void pm_notice_headers(struct pm_buf *b, const struct notice_cfg *c, const char *const *to,
                       size_t n, const char *subject, long long now, unsigned seq);

/* Run sendmail with msg on its standard input, to the n rcpts, from the null
 * sender; 0 sent, or -1 with why set (exit status, timeout, cannot run). */
int pm_notice_sendmail(const struct notice_cfg *c, const char *const *rcpts, size_t n,
                       const char *msg, size_t len, char *why, size_t whylen);

/* Submit msg by SMTP to c->smtp (notice_smtp.c), to the n rcpts, from the
 * null sender; 0 sent, 1 sent but some recipients refused (why says which),
 * or -1 with why set (quoting the server's reply). */
int pm_notice_smtp(const struct notice_cfg *c, const char *const *rcpts, size_t n, const char *msg,
                   size_t len, char *why, size_t whylen);

/* Parse one SMTP reply (its lines "DDD-..." then "DDD ...") at the start of
 * buf: 1 with *code and *used (its bytes), 0 when incomplete, -1 malformed. */
int pm_notice_smtp_reply(const char *buf, size_t len, int *code, size_t *used);

/* 1 when the text of /proc/self/status (pm_notice_nnp_text) or the file at
 * path (pm_notice_nnp) says "NoNewPrivs: 1": then sendmail cannot queue. */
int pm_notice_nnp_text(const char *status);
int pm_notice_nnp(const char *path);

/* The address notices go to by SMTP when no_new_privs stops sendmail. */
#define PM_NOTICE_SMTP_NNP "127.0.0.1:25"

/* Send msg by SMTP when c->smtp is set, else by sendmail; as pm_notice_smtp. */
int pm_notice_submit(const struct notice_cfg *c, const char *const *rcpts, size_t n,
                     const char *msg, size_t len, char *why, size_t whylen);

/* The webhook's JSON body of inc into b. */
void pm_notice_hook_json(struct pm_buf *b, const struct pm_incident *inc, const char *action);

/* Post body to the webhook; 0 on a 2xx answer, else -1 with why set. */
int pm_notice_hook_post(const struct notice_cfg *c, const char *body, char *why, size_t whylen);

/* Start and stop libcurl (once per process, before and after any thread uses it). */
int pm_notice_hook_init(void);
void pm_notice_hook_done(void);

/* Send the digest of the previous day when it is due and this server wins
 * it; *done_day remembers the last day handled by this process. */
void pm_notice_digest_tick(const struct notice_cfg *c, long long *done_day);

/* Claim the digest of UTC day day and, when this call won it, send it
 * (nothing when nothing was refused); 0, or -1 when the store failed. */
int pm_notice_digest_day(const struct notice_cfg *c, long long day, long long now);

/* The digest's text of day from n rows (sender, limit, refusals) into b;
 * rows are sorted here, by refusals, most first; then the ns silent senders
 * (many first contacts, no reply in 30 days; limit unused), sorted here, most
 * first contacts first. */
struct notice_hit {
    char sender[320];
    char limit[64];
    long long n;
};
void pm_notice_digest_text(struct pm_buf *b, const struct notice_cfg *c, long long day,
                           struct notice_hit *rows, size_t n, struct notice_hit *silent, size_t ns,
                           long long now, unsigned seq);

/* Wait until the queue is empty and the notifier idle, at most ms; 0, or -1
 * when it is not (tests wait with it). */
int pm_notice_drain(int ms);

/* Send a whole message to the administrators (kind counted and logged by the caller). */
int pm_notice_mail_admins(const struct notice_cfg *c, const char *msg, size_t len, char *why,
                          size_t whylen);

/* A number unique in this process for Message-IDs. */
unsigned pm_notice_seq(void);

#endif
