/*
 * conf.c - load and validate postmeter's configuration.
 *
 * SYNOPSIS
 *     pm_conf_load(path, &conf, err, sizeof(err)); ... pm_conf_free(conf);
 *
 * DESCRIPTION
 *     One table, conf_keys, names every key of the file with its type,
 *     default and bounds; plan_keys (conf_plan.c) does the same for the keys
 *     of a plan.
 *     Loading walks the libconfig tree against these tables: unknown keys,
 *     wrong types and values out of bounds are errors. The result is one
 *     struct pm_conf that is never modified afterwards.
 *
 *     libconfig 1.5 has no octal literals: "socket_mode = 0660" reads as 660,
 *     so the decimal digits of a mode are taken as octal digits (a hex literal
 *     is taken as it is). It also truncates integers beyond 32 bits that lack
 *     an L suffix, so the files it read are scanned for such literals. Paths
 *     (@include, redis.password_file) are used as given: relative ones are
 *     relative to the working directory, as libconfig does for @include.
 *
 *     Groups with their own shape are read in their own files: contacts and
 *     content rules (conf_rules.c), the assign and domains rules
 *     (conf_assign.c), the plans (conf_plan.c), declared in conf_int.h.
 *     Below them, declared in conf_load.h: reading one key of a table and
 *     the "file:line: ..." errors (conf_load.c), value checks and the
 *     integer scan (conf_check.c), and the opening of secret files (the
 *     Redis password file, the contacts key) that nobody else may read or
 *     replace (conf_secret.c), which call nothing above them. Calls
 *     only go down: this file calls the parts and the machinery, a part
 *     calls the machinery (and conf_assign.c the plan lookup of
 *     conf_plan.c), never this file. Above this file, conf_user.c switches
 *     to the daemon's user and loads a file again as that user.
 *
 * DIAGNOSTICS
 *     One line "file:line: what is wrong", naming an @include'd file when
 *     the fault is there. The Redis password never appears in a message.
 *     What loads but deserves a word (a Redis or Sentinel reached in clear
 *     over the network) is kept in conf->warnings as "file:line: warning:
 *     ..." lines, for postmeter -n, postmeterctl check-config and the log.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_int.h"
#include "log.h"
#include "scan.h"
#include "zone.h"

_Static_assert(sizeof(enum pm_action) == sizeof(int), "actions are stored as int");
_Static_assert(sizeof(enum pm_on_error) == sizeof(int), "on_store_error is stored as int");

#define PM_PASSWORD_MAX 4096

static const struct choice log_levels[] = {
    {"err", PM_LOG_ERR},   {"warning", PM_LOG_WARNING}, {"notice", PM_LOG_NOTICE},
    {"info", PM_LOG_INFO}, {"debug", PM_LOG_DEBUG},     {NULL, 0},
};

static const struct choice on_errors[] = {
    {"accept", PM_ONERR_ACCEPT},
    {"tempfail", PM_ONERR_TEMPFAIL},
    {NULL, 0},
};

static const char *const default_daemon_names[] = {"ORIGINATING", NULL};
static const char *const default_networks[] = {"127.0.0.0/8", "::1/128", NULL};
static const char *const no_strings[] = {NULL};
static const char *const default_shorteners[] = {
    "bit.ly",  "t.co",   "tinyurl.com", "goo.gl",  "ow.ly",       "is.gd", "buff.ly",
    "t.ly",    "s.id",   "rebrand.ly",  "cutt.ly", "shorturl.at", "rb.gy", "tiny.cc",
    "lnkd.in", "bl.ink", "short.io",    "dwz.cn",  "url.cn",      "t.cn",  NULL};

static int check_retry(struct loader *ld, const config_setting_t *s, const char *kname);
static int load_password(struct loader *ld, const config_setting_t *s, const char *kname);

/*
 * Row makers of the key tables: G group (NULL = top level), N name, F field,
 * D default, LO..HI bounds, CHK extra check, H hook, CH choices, CNT count field.
 */
/* clang-format off */
#define C(f) offsetof(struct pm_conf, f)
#define K_INT(G, N, F, D, LO, HI, CHK, H) {.group = G, .name = N, .type = KT_INT, .off = C(F), \
    .def = D, .min = LO, .max = HI, .int_check = CHK, .hook = H}
#define K_MODE(G, N, F, D, LO, HI) {.group = G, .name = N, .type = KT_MODE, .off = C(F), \
    .def = D, .min = LO, .max = HI}
#define K_DOUBLE(G, N, F, D, LO, HI) {.group = G, .name = N, .type = KT_DOUBLE, \
    .off = C(F), .ddef = D, .dmin = LO, .dmax = HI}
#define K_BOOL(G, N, F, D) {.group = G, .name = N, .type = KT_BOOL, .off = C(F), .def = D}
#define K_STR(G, N, F, D, CHK, H) {.group = G, .name = N, .type = KT_STR, .off = C(F), \
    .sdef = D, .str_check = CHK, .hook = H}
#define K_CHOICE(G, N, F, D, CH) {.group = G, .name = N, .type = KT_CHOICE, .off = C(F), \
    .sdef = D, .choices = CH}
#define K_STRS(G, N, F, CNT, D, LOWER, CHK) {.group = G, .name = N, .type = KT_STRS, \
    .off = C(F), .count_off = C(CNT), .ldef = D, .lower = LOWER, .str_check = CHK}
#define K_NETS(G, N, F, CNT, D) {.group = G, .name = N, .type = KT_NETS, .off = C(F), \
    .count_off = C(CNT), .ldef = D}
#define K_SPECIAL(N, H) {.name = N, .type = KT_SPECIAL, .hook = H}

/* Every key of the file, in the order it is read (plans before what names them). */
static const struct conf_key conf_keys[] = {
    K_STR("milter", "socket", milter_socket,
          "unix:/var/spool/postfix/postmeter/postmeter.sock",              pm_conf_check_socket, NULL),
    K_MODE("milter", "socket_mode", socket_mode, 0660, 0, 0777),
    K_STR("milter", "socket_group", socket_group, "",                        NULL, NULL),
    K_INT("milter", "timeout", milter_timeout, 30, 1, 3600,                  NULL, NULL),
    K_STR(NULL, "user", user, "postmeter",                                   NULL, NULL),
    K_STR(NULL, "group", group, "",                                          NULL, NULL),
    K_STR(NULL, "pidfile", pidfile, "",                                      NULL, NULL),
    K_STR("log", "facility", log_facility, "mail",                           pm_conf_check_facility, NULL),
    K_CHOICE("log", "level", log_level, "info",                              log_levels),
    K_STR("redis", "host", redis_host, "127.0.0.1",                          pm_conf_check_nonempty, NULL),
    K_INT("redis", "port", redis_port, 6379, 1, 65535,                       NULL, NULL),
    K_STR("redis", "socket", redis_socket, "",                               NULL, NULL),
    K_STR("redis", "password_file", redis_password_file, "",                 NULL, load_password),
    K_INT("redis", "db", redis_db, 0, 0, 15,                                 NULL, NULL),
    K_INT("redis", "connect_timeout_ms", connect_timeout_ms, 200, 10, 10000, NULL, NULL),
    K_INT("redis", "command_timeout_ms", command_timeout_ms, 500, 10, 10000, NULL, NULL),
    K_INT("redis", "retry_min_ms", retry_min_ms, 100, 10, 60000,             NULL, NULL),
    K_INT("redis", "retry_max_ms", retry_max_ms, 5000, 10, 600000,           NULL, check_retry),
    K_INT("redis", "pool_size", pool_size, 16, 1, 1024,                      NULL, NULL),
    K_STR("redis", "key_prefix", key_prefix, "pm",                           pm_conf_check_key_prefix, NULL),
    K_STRS("redis", "sentinels", sentinels, n_sentinels, no_strings, 0, pm_conf_check_hostport),
    K_STR("redis", "sentinel_master", sentinel_master, "mymaster",           pm_conf_check_nonempty, NULL),
    {.group = "redis", .name = "cluster", .type = KT_STRS, .off = C(cluster), .count_off = C(n_cluster),
     .ldef = no_strings, .max = 32, .str_check = pm_conf_check_hostport},
    K_INT("redis", "cluster_retry_ms", cluster_retry_ms, 1000, 50, 10000,    NULL, NULL),
    K_BOOL("redis", "test_clock", redis_test_clock, 0),
    K_BOOL("redis", "network_encrypted", redis_network_encrypted, 0),
    K_CHOICE(NULL, "on_store_error", on_store_error, "accept",               on_errors),
    K_BOOL(NULL, "dry_run", dry_run, 0),
    K_INT("learning", "days", learning_days, 0, 0, 90,                       NULL, NULL),
    K_INT("learning", "established_days", learning_established_days, 3, 1, 60, NULL, NULL),
    K_STR(NULL, "header_name", header_name, "X-Postmeter",                   pm_conf_check_header_name, NULL),
    K_STR(NULL, "timezone", timezone, "UTC",                                 pm_zone_check, NULL),
    K_STRS(NULL, "local_domains", local_domains, n_local_domains, no_strings, 1, pm_conf_check_domain),
    K_STR(NULL, "login_domain", login_domain, "",                            pm_conf_check_login_domain, NULL),
    K_STRS("outbound", "daemon_names", daemon_names, n_daemon_names,
           default_daemon_names, 0, NULL),
    K_NETS("outbound", "networks", networks, n_networks, default_networks),
    K_INT("windows", "hour_bucket", hour_bucket, 60, 1, 3600,                pm_conf_check_hour_bucket, NULL),
    K_INT("windows", "day_bucket", day_bucket, 600, 1, 86400,                pm_conf_check_day_bucket, NULL),
    K_INT("rcpt_check", "fresh_seconds", rcpt_fresh, 5, 0, 60,              NULL, NULL),
    K_INT("rcpt_check", "margin", rcpt_margin, 2, 0, 1000000,                NULL, NULL),
    K_INT("warmup", "dormant_days", warmup_dormant_days, 30, 1, 3650,     NULL, NULL),
    K_DOUBLE("warmup", "hourly_share", warmup_hourly_share, 0.25, 0.01, 1.0),
    K_DOUBLE("warmup", "max_bounce_rate", warmup_max_bounce_rate, 0.03, 0.0, 1.0),
    K_SPECIAL("plans", pm_conf_load_plans),
    K_SPECIAL("default_plan", pm_conf_load_default_plan),
    K_SPECIAL("assign", pm_conf_load_assign),
    K_SPECIAL("domains", pm_conf_load_domains),
    K_SPECIAL("contacts", pm_conf_load_contacts),
    K_STRS("scan", "shorteners", shorteners, n_shorteners, default_shorteners, 1, pm_conf_check_domain),
    {.group = "scan", .name = "subject_spam_words", .type = KT_STRS, .off = C(subject_spam_words),
     .count_off = C(n_subject_spam_words), .ldef = pm_scan_default_spam_words, .lower = 1, .max = PM_SUBJECT_WORDS_MAX,
     .str_check = pm_conf_check_spam_word, .hook = pm_conf_check_spam_words},
    K_SPECIAL("rules", pm_conf_load_rules),
    K_BOOL("feedback", "enabled", feedback_enabled, 1),
    K_INT("feedback", "bounce_window_days", feedback_bounce_window_days, 14, 1, 365, NULL, NULL),
    K_INT("feedback", "learned_contacts_per_day", feedback_learned_per_day, 20, 0, 10000, NULL, NULL),
    K_INT("feedback", "replies_per_day", feedback_replies_per_day, 200, 0, 100000, NULL, NULL),
    K_STR("feedback", "authserv_id", feedback_authserv_id, "",                pm_conf_check_login_domain, NULL),
    K_INT("feedback", "message_ids_days", msgid_days, 90, 1, 3650,            NULL, NULL),
    K_INT("feedback", "message_ids_max", msgid_max, 20000, 100, 1000000,      NULL, NULL),
    K_INT("reputation", "min_sends", rep_min_sends, 50, 0, 1000000000,       NULL, NULL),
    K_DOUBLE("reputation", "warn", rep_warn, 0.02, 0.0, 1.0),
    K_DOUBLE("reputation", "halve_limits", rep_halve, 0.03, 0.0, 1.0),
    K_DOUBLE("reputation", "refuse_first_contact", rep_refuse_cold, 0.05, 0.0, 1.0),
    K_DOUBLE("reputation", "refuse_all", rep_refuse_all, 0.10, 0.0, 1.0),
    K_DOUBLE("reputation", "min_reply_rate", rep_min_reply_rate, 0.0, 0.0, 1.0),
    K_INT("reputation", "min_first_contacts", rep_min_first, 50, 1, 1000000000, NULL, NULL),
    K_SPECIAL("incidents", pm_conf_load_incidents),
    K_INT("suppression", "days", suppress_days, 180, 1, 3650,                NULL, NULL),
    K_INT("suppression", "local_max", suppress_local_max, 1000000, 0, 100000000, NULL, NULL),
    K_STR("metrics", "listen", metrics_listen, "",                           pm_conf_check_listen, NULL),
    K_INT("metrics", "top_senders", metrics_top_senders, 50, 0, 1000,       NULL, NULL),
    K_INT("metrics", "refresh_seconds", metrics_refresh_seconds, 30, 5, 3600, NULL, NULL),
    K_STR("postfix", "queue_directory", postfix_queue_directory, "/var/spool/postfix",
          pm_conf_check_abs_path, NULL),
    K_INT("postfix", "idle_alarm", postfix_idle_alarm, 600, 0, 86400,      pm_conf_check_idle_alarm, NULL),
    K_STRS("notify", "admin", notify_admin, n_notify_admin, no_strings, 1, pm_conf_check_notify_address),
    K_BOOL("notify", "sender", notify_sender, 0),
    K_STR("notify", "from", notify_from, "",                                 pm_conf_check_notify_from, NULL),
    K_STR("notify", "sendmail", notify_sendmail, "/usr/sbin/sendmail",       pm_conf_check_notify_command, NULL),
    K_STR("notify", "postfix_config_dir", notify_postfix_config_dir, "",     pm_conf_check_abs_path, NULL),
    K_INT("notify", "timeout_seconds", notify_timeout, 30, 1, 600,           NULL, NULL),
    K_STR("notify", "smtp", notify_smtp, "",                                 pm_conf_check_notify_smtp, NULL),
    K_STR("notify", "webhook_url", notify_webhook_url, "",                   pm_conf_check_webhook_url, NULL),
    K_INT("notify", "webhook_timeout_ms", notify_webhook_timeout_ms, 3000, 100, 60000, NULL, NULL),
    K_BOOL("notify", "digest", notify_digest, 0),
    K_INT("notify", "digest_hour", notify_digest_hour, 7, 0, 23,             NULL, pm_conf_check_notify),
};

/* clang-format on */

/* 1 when some key of the main table lives in a group called name. */
static int
is_group_name(const char *name)
{
    size_t i;

    for (i = 0; i < NKEYS(conf_keys); i++)
        if (conf_keys[i].group && strcmp(conf_keys[i].group, name) == 0)
            return 1;
    return 0;
}

/* Check the top level: every key known, every group a group of known keys. */
static int
check_top(struct loader *ld)
{
    const config_setting_t *root = config_root_setting(&ld->cf);
    int i, len = config_setting_length(root);
    char prefix[128];

    for (i = 0; i < len; i++) {
        const config_setting_t *m = config_setting_get_elem(root, (unsigned int)i);
        const char *name = config_setting_name(m);

        if (pm_conf_find_key(conf_keys, NKEYS(conf_keys), NULL, name))
            continue;
        if (!is_group_name(name))
            return pm_conf_fail(ld, m, "unknown key \"%s\"", name);
        if (!config_setting_is_group(m))
            return pm_conf_fail(ld, m, "%s: expected a group { ... }, not %s", name,
                                pm_conf_type_name(m));
        snprintf(prefix, sizeof(prefix), "%s.", name);
        if (pm_conf_check_members(ld, m, conf_keys, NKEYS(conf_keys), name, prefix) < 0)
            return -1;
    }
    return 0;
}

/* Read every key of the main table. */
static int
load_all(struct loader *ld)
{
    size_t i;
    char kname[128];

    for (i = 0; i < NKEYS(conf_keys); i++) {
        const struct conf_key *k = &conf_keys[i];

        if (k->group)
            snprintf(kname, sizeof(kname), "%s.%s", k->group, k->name);
        else
            snprintf(kname, sizeof(kname), "%s", k->name);
        if (pm_conf_load_key(ld, k, pm_conf_find_setting(ld, k->group, k->name), kname, ld->conf) <
            0)
            return -1;
    }
    return 0;
}

/* redis.retry_max_ms is not below redis.retry_min_ms. */
static int
check_retry(struct loader *ld, const config_setting_t *s, const char *kname)
{
    const struct pm_conf *c = ld->conf;

    if (c->retry_max_ms >= c->retry_min_ms)
        return 0;
    if (!s)
        s = pm_conf_find_setting(ld, "redis", "retry_min_ms");
    return pm_conf_fail(ld, s, "%s: %d is less than redis.retry_min_ms (%d)", kname,
                        c->retry_max_ms, c->retry_min_ms);
}

/* Split the one line of a password file into user and password; -1 if malformed. */
static int
split_password(struct pm_conf *c, char *line)
{
    size_t n = strcspn(line, " \t");
    char *pw = line + n;

    if (*pw == '\0')
        return (c->redis_password = strdup(line)) ? 0 : -1;
    if (n == 0)
        return -1;
    *pw++ = '\0';
    pw += strspn(pw, " \t");
    if (*pw == '\0')
        return -1;
    if (!(c->redis_user = strdup(line)) || !(c->redis_password = strdup(pw)))
        return -1;
    return 0;
}

/* redis.password_file: read "password" or "user password" from it now. */
static int
load_password(struct loader *ld, const config_setting_t *s, const char *kname)
{
    const char *name = ld->conf->redis_password_file;
    const char *path = name;
    char buf[PM_PASSWORD_MAX + 2], *nl;
    size_t n;
    FILE *fp;
    int fd, rc = 0;

    if (!*name)
        return 0;
    if ((fd = pm_conf_open_secret(ld, s, kname, path)) < 0)
        return -1;
    if (!(fp = fdopen(fd, "r"))) {
        close(fd);
        return pm_conf_fail(ld, s, "%s: cannot read %s: %s", kname, path, strerror(errno));
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    if ((nl = strchr(buf, '\n')) != NULL) {
        *nl++ = '\0';
        if (nl[strspn(nl, " \t\r\n")] != '\0')
            rc = pm_conf_fail(ld, s, "%s: %s must hold one line", kname, path);
    }
    n = strlen(buf);
    while (rc == 0 && n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (rc == 0 && n > PM_PASSWORD_MAX)
        rc = pm_conf_fail(ld, s, "%s: %s is too long", kname, path);
    else if (rc == 0 && (n == 0 || strlen(buf) != n))
        rc = pm_conf_fail(ld, s, "%s: %s is empty", kname, path);
    else if (rc == 0 && split_password(ld->conf, buf) < 0)
        rc = pm_conf_fail(ld, s, "%s: %s must hold \"password\" or \"user password\"", kname, path);
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

/*
 * Warn when Redis or a Sentinel is reached over the network: hiredis 0.14 has
 * no TLS, so the password and every counter would cross it in clear, unless
 * the network itself is encrypted (redis.network_encrypted). A tunnel's
 * endpoint is on 127.0.0.1, so a non-local address is never one. -1 only
 * when out of memory.
 */
static int
check_link(struct loader *ld)
{
    const struct pm_conf *c = ld->conf;
    const config_setting_t *s;
    char host[256];
    size_t i;

    if (c->redis_network_encrypted)
        return 0;
    if (c->n_sentinels == 0 && c->n_cluster == 0 && !*c->redis_socket &&
        !pm_cidr_is_loopback(c->redis_host))
        return pm_conf_warn(ld, pm_conf_find_setting(ld, "redis", "host"),
                            "redis.host \"%s\" is not a loopback address: hiredis has no TLS, "
                            "so the Redis password and every counter cross the network in clear; "
                            "reach Redis through a tunnel on 127.0.0.1 (README: Protecting the "
                            "link to Redis), or set redis.network_encrypted = true if the network "
                            "itself is encrypted (WireGuard, IPsec)",
                            c->redis_host);
    for (i = 0; i < c->n_sentinels; i++) {
        const char *colon = strrchr(c->sentinels[i], ':'); /* checked: "host:port" */

        snprintf(host, sizeof(host), "%.*s", (int)(colon - c->sentinels[i]), c->sentinels[i]);
        if (pm_cidr_is_loopback(host)) /* "[::1]" too */
            continue;
        s = pm_conf_find_setting(ld, "redis", "sentinels");
        return pm_conf_warn(ld, s ? config_setting_get_elem(s, (unsigned int)i) : NULL,
                            "redis.sentinels[%zu] \"%s\" is not a loopback address: hiredis has "
                            "no TLS, so the Redis password and every counter cross the network "
                            "in clear, to the Sentinels and to the primary they name; encrypt the "
                            "network itself (WireGuard, IPsec) and set redis.network_encrypted = "
                            "true (README: Protecting the link to Redis)",
                            i, c->sentinels[i]);
    }
    for (i = 0; i < c->n_cluster; i++) {
        const char *colon = strrchr(c->cluster[i], ':'); /* checked: "host:port" */

        snprintf(host, sizeof(host), "%.*s", (int)(colon - c->cluster[i]), c->cluster[i]);
        if (pm_cidr_is_loopback(host))
            continue;
        s = pm_conf_find_setting(ld, "redis", "cluster");
        return pm_conf_warn(ld, s ? config_setting_get_elem(s, (unsigned int)i) : NULL,
                            "redis.cluster[%zu] \"%s\" is not a loopback address: hiredis has "
                            "no TLS, so the Redis password and every counter cross the network "
                            "in clear, to every node of the cluster; encrypt the network itself "
                            "(WireGuard, IPsec) and set redis.network_encrypted = true (README: "
                            "Protecting the link to Redis)",
                            i, c->cluster[i]);
    }
    return 0;
}

/* "file:line" of setting s (the main file when libconfig does not say). */
static const char *
setting_at(struct loader *ld, const config_setting_t *s, char *buf, size_t len)
{
    const char *f = s && config_setting_source_file(s) ? config_setting_source_file(s) : ld->path;

    snprintf(buf, len, "%s:%u", f, s ? config_setting_source_line(s) : 0);
    return buf;
}

/* A Redis Cluster (redis.cluster) excludes a socket and Sentinels, needs
 * database 0 (a cluster has no other) and login_domain (a bare login's keys
 * would not share its company's slot); -1 with the error. */
static int
check_cluster(struct loader *ld)
{
    const struct pm_conf *c = ld->conf;
    const config_setting_t *s = pm_conf_find_setting(ld, "redis", "cluster");
    char at[300];

    if (c->n_cluster == 0)
        return 0;
    if (*c->redis_socket)
        return pm_conf_fail(
            ld, s, "redis.cluster and redis.socket (%s) exclude each other",
            setting_at(ld, pm_conf_find_setting(ld, "redis", "socket"), at, sizeof(at)));
    if (c->n_sentinels)
        return pm_conf_fail(
            ld, s, "redis.cluster and redis.sentinels (%s) exclude each other",
            setting_at(ld, pm_conf_find_setting(ld, "redis", "sentinels"), at, sizeof(at)));
    if (c->redis_db != 0)
        return pm_conf_fail(
            ld, s, "redis.cluster: redis.db (%s) must be 0 with a cluster",
            setting_at(ld, pm_conf_find_setting(ld, "redis", "db"), at, sizeof(at)));
    if (!*c->login_domain)
        return pm_conf_fail(ld, s,
                            "redis.cluster needs login_domain: the keys of a login without '@' "
                            "would not share its company's slot");
    return 0;
}

/* Scan every file libconfig read for integers it truncated; -1 after an error. */
static int
check_integers(struct loader *ld)
{
    unsigned int i;
    const char *name;
    char *text = NULL;
    size_t len = 0;
    FILE *fp, *mem;
    int rc = 0;

    for (i = 0; rc == 0 && i < ld->cf.num_filenames; i++) {
        name = ld->cf.filenames[i];
        if (!(fp = fopen(name, "r")))
            continue; /* libconfig read it a moment ago; nothing to add */
        if ((mem = open_memstream(&text, &len)) != NULL) {
            char buf[4096];
            size_t n;

            while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
                fwrite(buf, 1, n, mem);
            fclose(mem);
            rc = pm_conf_scan_integers(ld, name, text);
            free(text);
            text = NULL;
        }
        fclose(fp);
    }
    return rc;
}

/* Parse the file into ld->cf; -1 with the parser's message. */
static int
parse_file(struct loader *ld)
{
    FILE *fp;
    const char *file;
    char who[64];

    if (!(fp = fopen(ld->path, "r")) && errno == EACCES)
        return pm_conf_fail(ld, NULL, "cannot open as user %s: %s",
                            pm_conf_user_name(geteuid(), who, sizeof(who)), strerror(EACCES));
    if (!fp)
        return pm_conf_fail(ld, NULL, "cannot open: %s", strerror(errno));
    fclose(fp);
    if (config_read_file(&ld->cf, ld->path))
        return 0;
    file = config_error_file(&ld->cf);
    snprintf(ld->err, ld->errlen, "%s:%d: %s", file ? file : ld->path, config_error_line(&ld->cf),
             config_error_text(&ld->cf));
    return -1;
}

/* The generation of the last configuration loaded. */
static unsigned long long generations;

/* Load and validate path. */
int
pm_conf_load(const char *path, struct pm_conf **out, char *err, size_t errlen)
{
    struct loader ld = {.path = path, .err = err, .errlen = errlen};
    int rc = -1;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    config_init(&ld.cf);
    if (!(ld.conf = calloc(1, sizeof(*ld.conf))) || !(ld.conf->file = strdup(path)))
        pm_conf_fail(&ld, NULL, "out of memory");
    else if (parse_file(&ld) == 0 && check_integers(&ld) == 0 && check_top(&ld) == 0 &&
             load_all(&ld) == 0 && check_cluster(&ld) == 0 && check_link(&ld) == 0)
        rc = 0;
    config_destroy(&ld.cf);
    if (rc < 0) {
        pm_conf_free(ld.conf);
        return -1;
    }
    ld.conf->generation = __atomic_add_fetch(&generations, 1, __ATOMIC_RELAXED);
    *out = ld.conf;
    return 0;
}

/* Free an array of n strings. */
static void
free_strings(char **v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Free a configuration returned by pm_conf_load(). */
void
pm_conf_free(struct pm_conf *conf)
{
    size_t i;

    if (!conf)
        return;
    free_strings(conf->warnings, conf->n_warnings);
    if (conf->redis_password)
        explicit_bzero(conf->redis_password, strlen(conf->redis_password));
    free(conf->redis_password);
    free(conf->redis_user);
    free(conf->file);
    free(conf->milter_socket);
    free(conf->socket_group);
    free(conf->user);
    free(conf->group);
    free(conf->pidfile);
    free(conf->log_facility);
    free(conf->redis_host);
    free(conf->redis_socket);
    free(conf->redis_password_file);
    free(conf->key_prefix);
    free(conf->header_name);
    free(conf->timezone);
    free(conf->login_domain);
    free(conf->metrics_listen);
    free(conf->postfix_queue_directory);
    free(conf->feedback_authserv_id);
    free_strings(conf->notify_admin, conf->n_notify_admin);
    free(conf->notify_from);
    free(conf->notify_sendmail);
    free(conf->notify_postfix_config_dir);
    free(conf->notify_webhook_url);
    free(conf->notify_smtp);
    free_strings(conf->local_domains, conf->n_local_domains);
    free_strings(conf->daemon_names, conf->n_daemon_names);
    free(conf->networks);
    if (conf->plans)
        for (i = 0; i < conf->n_plans; i++)
            free(conf->plans[i].name);
    free(conf->plans);
    pm_conf_free_assign(conf);
    free_strings(conf->shorteners, conf->n_shorteners);
    free_strings(conf->subject_spam_words, conf->n_subject_spam_words);
    free_strings(conf->sentinels, conf->n_sentinels);
    free(conf->sentinel_master);
    free_strings(conf->cluster, conf->n_cluster);
    pm_conf_free_rules(conf);
    free(conf);
}
