/*
 * NAME
 *   noticecli - drive postmeter's notices (milter/notice*.c) from the command line (tests)
 *
 * SYNOPSIS
 *   noticecli -c CONF incident SENDER SIGNAL FIGURES ACTION HELD IDS NOTE AT
 *   noticecli -c CONF flood N SENDER SIGNAL FIGURES ACTION HELD IDS NOTE AT
 *   noticecli -c CONF text admin|sender|json SENDER SIGNAL FIGURES ACTION HELD IDS NOTE AT
 *   noticecli -c CONF bounce SENDER SIGNAL FIGURES ACTION HELD IDS NOTE AT
 *   noticecli -c CONF digest-text DAY SENDER LIMIT N [SENDER LIMIT N]...
 *   noticecli -c CONF elect DAY HOLDER
 *   noticecli -c CONF digest DAY
 *   noticecli -c CONF send FILE RCPT...
 *
 * DESCRIPTION
 *   Loads CONF with pm_conf_load() (its notify group, timezone and redis),
 *   then:
 *   incident     starts the notices (pm_notice_start), queues the incident
 *                (pm_notice_incident) and prints "queued_ms=N" (how long the
 *                call took), waits for the notifier to finish (at most 60 s),
 *                prints the postmeter_notices_total lines of the metrics
 *                exposition and stops. The notices' log lines go to stderr.
 *   flood        queues the incident once, waits (at most 10 s) until the
 *                file $NOTICECLI_BUSY exists (the notifier's sendmail made
 *                it: the notifier is busy), queues it N - 1 times more, prints "queued_ms=N"
 *                (the N calls), stops at once (pm_notice_stop drops what
 *                waits) and prints the counters.
 *   text         prints the admin notice, the sender's notice or the webhook's
 *                JSON of the incident, as they are sent (Date: fixed at AT).
 *   bounce       prints "is_bounce=B is_auto=A" of postmeter's own bounce
 *                parser for the admin notice arriving from the null sender.
 *   digest-text  prints the digest of UTC day DAY from the rows given.
 *   elect        claims the digest of DAY in the store (digest_elect) and
 *                prints "won=0" or "won=1".
 *   digest       claims and, when won, sends the digest of DAY as the notifier
 *                does (notice_digest.c), then prints the counters.
 *   send         submits the message in FILE (lines ended by LF) to the RCPTs
 *                as every notice goes (by SMTP with notify.smtp, else by
 *                sendmail) and prints "rc=N" and, unless sent, "why=TEXT".
 *
 * DIAGNOSTICS
 *   Exit 0, 1 on a failure (a store error, the notifier not done), 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "dsn.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "notice.h"
#include "notice_int.h"
#include "store.h"
#include "store_redis.h"
#include "zone.h"

/* The whole file at path (NUL-terminated, its length in *len), or NULL. */
static char *
slurp_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(65537);

    if (!f || !buf) {
        if (f)
            fclose(f);
        free(buf);
        fprintf(stderr, "cannot read %s\n", path);
        return NULL;
    }
    *len = fread(buf, 1, 65536, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: noticecli -c CONF incident|text KIND|bounce|digest-text|elect ...\n");
    exit(2);
}

/* Fill inc from SENDER SIGNAL FIGURES ACTION HELD IDS NOTE AT; the action into *action. */
static void
read_incident(char **a, struct pm_incident *inc, const char **action)
{
    memset(inc, 0, sizeof(*inc));
    inc->open = 1;
    snprintf(inc->sender, sizeof(inc->sender), "%s", a[0]);
    snprintf(inc->signal, sizeof(inc->signal), "%s", a[1]);
    snprintf(inc->figures, sizeof(inc->figures), "%s", a[2]);
    *action = a[3];
    inc->held = atoll(a[4]);
    snprintf(inc->ids, sizeof(inc->ids), "%s", a[5]);
    snprintf(inc->note, sizeof(inc->note), "%s", a[6]);
    inc->at = atoll(a[7]);
    snprintf(inc->by, sizeof(inc->by), "postmeter");
}

/* Settings as the notifier copies them, without a store. */
static void
settings(const struct pm_conf *conf, struct notice_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->admin = conf->notify_admin;
    c->n_admin = conf->n_notify_admin;
    c->sender = conf->notify_sender;
    snprintf(c->host, sizeof(c->host), "host.test");
    snprintf(c->from, sizeof(c->from), "%s",
             *conf->notify_from ? conf->notify_from : "postmeter@host.test");
    c->min_first = conf->rep_min_first;
}

/* Print the postmeter_notices_total lines of the exposition. */
static void
print_counters(void)
{
    size_t len;
    char *text = pm_metrics_render(&len), *line, *save = NULL;

    for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "postmeter_notices_total{", 24) == 0)
            printf("%s\n", line);
    free(text);
}

/* incident: queue it through the real module and wait. */
static int
run_incident(const struct pm_conf *conf, char **a)
{
    struct pm_incident inc;
    const char *action;
    char err[256];
    long long t0;
    int rc;

    read_incident(a, &inc, &action);
    if (pm_notice_start(conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    t0 = pm_mono_ms();
    pm_notice_incident(&inc, action, !pm_is_external(conf, inc.sender));
    printf("queued_ms=%lld\n", pm_mono_ms() - t0);
    fflush(stdout);
    rc = pm_notice_drain(60000);
    print_counters();
    pm_notice_stop();
    return rc == 0 ? 0 : 1;
}

/* flood: fill the queue beyond its bound, then stop. */
static int
run_flood(const struct pm_conf *conf, int n, char **a)
{
    const char *busy = getenv("NOTICECLI_BUSY"); /* the file sendmail creates as it starts */
    struct pm_incident inc;
    const char *action;
    char err[256];
    long long t0, spent;
    int i;

    read_incident(a, &inc, &action);
    if (n < 1 || pm_notice_start(conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", n < 1 ? "flood: N must be at least 1" : err);
        return 1;
    }
    t0 = pm_mono_ms();
    pm_notice_incident(&inc, action, !pm_is_external(conf, inc.sender));
    spent = pm_mono_ms() - t0;
    /* the notifier has taken it once its sendmail has started: then N-1 fill the queue */
    for (i = 0; busy && i < 1000 && access(busy, F_OK) != 0; i++)
        usleep(10000);
    if (!busy || i == 1000) {
        fprintf(stderr, "flood: the notifier did not start sendmail (%s)\n",
                busy ? busy : "set NOTICECLI_BUSY");
        pm_notice_stop();
        return 1;
    }
    t0 = pm_mono_ms();
    for (i = 1; i < n; i++)
        pm_notice_incident(&inc, action, !pm_is_external(conf, inc.sender));
    printf("queued_ms=%lld\n", spent + pm_mono_ms() - t0);
    fflush(stdout);
    pm_notice_stop();
    print_counters();
    return 0;
}

/* text / bounce: the texts as sent. */
static int
run_text(const struct pm_conf *conf, const char *kind, char **a)
{
    struct notice_cfg c;
    struct pm_incident inc;
    struct pm_bounce *bo;
    const char *action;
    struct pm_buf b;
    char *text;

    settings(conf, &c);
    read_incident(a, &inc, &action);
    pm_buf_growing(&b);
    if (strcmp(kind, "sender") == 0)
        pm_notice_sender_text(&b, &c, &inc, action, inc.at, 1);
    else if (strcmp(kind, "json") == 0)
        pm_notice_hook_json(&b, &inc, action);
    else
        pm_notice_admin_text(&b, &c, &inc, action, inc.at, 1);
    if (!(text = pm_buf_take(&b)))
        return 1;
    if (strcmp(kind, "bounce") == 0 && (bo = calloc(1, sizeof(*bo))) != NULL) {
        pm_bounce_parse((const unsigned char *)text, strlen(text), PM_ENV_NULL, bo);
        printf("is_bounce=%d is_auto=%d\n", bo->is_bounce, bo->is_auto);
        free(bo);
    } else {
        fputs(text, stdout);
    }
    free(text);
    return 0;
}

/* digest-text: the digest of rows given as arguments. */
static int
run_digest_text(const struct pm_conf *conf, int argc, char **a)
{
    struct notice_cfg c;
    struct notice_hit *rows;
    struct pm_buf b;
    size_t n = (size_t)(argc - 1) / 3, i;
    char *text;

    settings(conf, &c);
    if (!(rows = calloc(n ? n : 1, sizeof(*rows))))
        return 1;
    for (i = 0; i < n; i++) {
        snprintf(rows[i].sender, sizeof(rows[i].sender), "%s", a[1 + 3 * i]);
        snprintf(rows[i].limit, sizeof(rows[i].limit), "%s", a[2 + 3 * i]);
        rows[i].n = atoll(a[3 + 3 * i]);
    }
    pm_buf_growing(&b);
    pm_notice_digest_text(&b, &c, atoll(a[0]), rows, n, NULL, 0,
                          atoll(a[0]) * 86400 + 86400 + 7 * 3600, 1);
    if ((text = pm_buf_take(&b)) != NULL)
        fputs(text, stdout);
    free(text);
    free(rows);
    return 0;
}

/* elect: claim a day's digest. */
static int
run_elect(const struct pm_conf *conf, char **a)
{
    struct pm_store *st = pm_store_redis_new(conf);
    char err[256];
    int won = 0, rc;

    if (!st)
        return 1;
    rc = pm_store_digest_elect(st, atoll(a[0]), a[1], &won, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "error: %s\n", err);
    else
        printf("won=%d\n", won);
    pm_store_free(st);
    return rc < 0;
}

/* digest: claim and send a day's digest as the notifier does. */
static int
run_digest(const struct pm_conf *conf, char **a)
{
    struct notice_cfg c;
    int rc;

    settings(conf, &c);
    snprintf(c.sendmail, sizeof(c.sendmail), "%s", conf->notify_sendmail);
    snprintf(c.config_dir, sizeof(c.config_dir), "%s", conf->notify_postfix_config_dir);
    c.timeout_s = conf->notify_timeout;
    snprintf(c.smtp, sizeof(c.smtp), "%s", conf->notify_smtp);
    c.digest = 1;
    if (!(c.store = pm_store_redis_new(conf)))
        return 1;
    rc = pm_notice_digest_day(&c, atoll(a[0]), atoll(a[0]) * 86400 + 86400 + 7 * 3600);
    print_counters();
    pm_store_free(c.store);
    return rc < 0;
}

/* send: submit the message in a file to rcpts as the notices go. */
static int
run_send(const struct pm_conf *conf, const char *file, int n, char **rcpts)
{
    struct notice_cfg c;
    char *msg, why[512] = "";
    size_t len;
    int rc;

    if (!(msg = slurp_file(file, &len)))
        return 1;
    settings(conf, &c);
    snprintf(c.sendmail, sizeof(c.sendmail), "%s", conf->notify_sendmail);
    snprintf(c.config_dir, sizeof(c.config_dir), "%s", conf->notify_postfix_config_dir);
    snprintf(c.smtp, sizeof(c.smtp), "%s", conf->notify_smtp);
    c.timeout_s = conf->notify_timeout;
    rc = pm_notice_submit(&c, (const char *const *)rcpts, (size_t)n, msg, len, why, sizeof(why));
    printf("rc=%d\n", rc);
    if (*why)
        printf("why=%s\n", why);
    free(msg);
    return 0;
}

/* Entry point. */
int
main(int argc, char **argv)
{
    struct pm_conf *conf;
    char err[1024];
    int rc;

    if (argc < 4 || strcmp(argv[1], "-c") != 0)
        usage();
    if (pm_conf_load(argv[2], &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* as the daemon: a sendmail that exits early is EPIPE */
    pm_zone_set(conf->timezone);
    pm_log_set_level(PM_LOG_DEBUG);
    if (strcmp(argv[3], "incident") == 0 && argc == 12)
        rc = run_incident(conf, argv + 4);
    else if (strcmp(argv[3], "flood") == 0 && argc == 13)
        rc = run_flood(conf, atoi(argv[4]), argv + 5);
    else if (strcmp(argv[3], "text") == 0 && argc == 13)
        rc = run_text(conf, argv[4], argv + 5);
    else if (strcmp(argv[3], "bounce") == 0 && argc == 12)
        rc = run_text(conf, "bounce", argv + 4);
    else if (strcmp(argv[3], "digest-text") == 0 && argc >= 5 && (argc - 5) % 3 == 0)
        rc = run_digest_text(conf, argc - 4, argv + 4);
    else if (strcmp(argv[3], "digest") == 0 && argc == 5)
        rc = run_digest(conf, argv + 4);
    else if (strcmp(argv[3], "send") == 0 && argc >= 6)
        rc = run_send(conf, argv[4], argc - 5, argv + 5);
    else if (strcmp(argv[3], "elect") == 0 && argc == 6)
        rc = run_elect(conf, argv + 4);
    else
        usage();
    pm_conf_free(conf);
    return rc;
}
