/*
 * test_conf.c - unit tests of the configuration loader (policy/conf.c).
 *
 * The sample etc/postmeter.conf and an empty file must give the documented
 * defaults; tests/conf/good.conf exercises every key with other values; bad
 * files are generated into a temporary directory from a table of rows, each
 * asserting the exact "file:line: message" of its error.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define SAMPLE PM_TEST_SRCDIR "/../etc/postmeter.conf"
#define CONF_DIR PM_TEST_SRCDIR "/conf"

/* The temporary directory shared by the tests of the group. */
static char tmpdir[] = "/tmp/pm-test-conf.XXXXXX";

/* Write text into the file name of tmpdir; its path goes into path. */
static void
write_file(const char *name, const char *text, char *path, size_t len)
{
    FILE *fp;

    snprintf(path, len, "%s/%s", tmpdir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Copy the file src into the file name of tmpdir (mode 0600: see group_setup). */
static void
copy_file(const char *src, const char *name)
{
    char text[8192], path[512];
    FILE *fp = fopen(src, "r");
    size_t n;

    assert_non_null(fp);
    n = fread(text, 1, sizeof(text) - 1, fp);
    assert_int_equal(fclose(fp), 0);
    assert_true(n < sizeof(text) - 1);
    text[n] = '\0';
    write_file(name, text, path, sizeof(path));
}

/* Remove the file name of tmpdir, if it is there. */
static void
remove_file(const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
}

/* Copy text into out, replacing each "$D" with tmpdir. */
static void
expand(const char *text, char *out, size_t len)
{
    size_t used = 0;

    for (; *text && used + 1 < len; text++) {
        if (text[0] == '$' && text[1] == 'D') {
            used += (size_t)snprintf(out + used, len - used, "%s", tmpdir);
            text++;
        } else {
            out[used++] = *text;
        }
    }
    out[used < len ? used : len - 1] = '\0';
}

/* Assert that c holds every documented default. */
static void
assert_defaults(const struct pm_conf *c)
{
    const struct pm_plan *p;

    assert_string_equal(c->milter_socket, "unix:/var/spool/postfix/postmeter/postmeter.sock");
    assert_int_equal(c->socket_mode, 0660);
    assert_int_equal(c->milter_timeout, 30);
    assert_int_equal(c->warmup_dormant_days, 30);
    assert_true(c->warmup_hourly_share == 0.25);
    assert_true(c->warmup_max_bounce_rate == 0.03);
    assert_int_equal(c->plans[0].warmup.n, 9); /* 500 is the plan's own daily limit */
    assert_int_equal(c->plans[0].warmup.cap[0], 20);
    assert_int_equal(c->plans[0].warmup.cap[8], 400);
    assert_int_equal(c->plans[0].warmup_hour[0], 5);
    assert_int_equal(c->plans[0].warmup_hour[8], 100);
    assert_string_equal(c->user, "postmeter");
    assert_string_equal(c->group, "");
    assert_string_equal(c->pidfile, "");
    assert_int_equal(c->log_level, PM_LOG_INFO);
    assert_string_equal(c->log_facility, "mail");
    assert_string_equal(c->redis_host, "127.0.0.1");
    assert_int_equal(c->redis_port, 6379);
    assert_string_equal(c->redis_socket, "");
    assert_string_equal(c->redis_password_file, "");
    assert_null(c->redis_user);
    assert_null(c->redis_password);
    assert_int_equal(c->redis_db, 0);
    assert_int_equal(c->redis_network_encrypted, 0);
    assert_int_equal(c->n_warnings, 0);
    assert_int_equal(c->connect_timeout_ms, 200);
    assert_int_equal(c->command_timeout_ms, 500);
    assert_int_equal(c->retry_min_ms, 100);
    assert_int_equal(c->retry_max_ms, 5000);
    assert_int_equal(c->pool_size, 16);
    assert_string_equal(c->key_prefix, "pm");
    assert_string_equal(c->metrics_listen, "");
    assert_int_equal(c->metrics_top_senders, 50);
    assert_int_equal(c->metrics_refresh_seconds, 30);
    assert_string_equal(c->postfix_queue_directory, "/var/spool/postfix");
    assert_int_equal(c->postfix_idle_alarm, 600);
    assert_int_equal(c->n_notify_admin, 0);
    assert_int_equal(c->notify_sender, 0);
    assert_string_equal(c->notify_from, "");
    assert_string_equal(c->notify_sendmail, "/usr/sbin/sendmail");
    assert_string_equal(c->notify_postfix_config_dir, "");
    assert_int_equal(c->notify_timeout, 30);
    assert_string_equal(c->notify_webhook_url, "");
    assert_int_equal(c->notify_webhook_timeout_ms, 3000);
    assert_int_equal(c->notify_digest, 0);
    assert_int_equal(c->notify_digest_hour, 7);
    assert_int_equal(c->on_store_error, PM_ONERR_ACCEPT);
    assert_int_equal(c->dry_run, 0);
    assert_int_equal(c->learning_established_days, 3);
    assert_string_equal(c->header_name, "X-Postmeter");
    assert_string_equal(c->login_domain, "");
    assert_int_equal(c->n_local_domains, 0);
    assert_int_equal(c->n_daemon_names, 1);
    assert_string_equal(c->daemon_names[0], "ORIGINATING");
    assert_int_equal(c->n_networks, 2);
    assert_int_equal(c->networks[0].family, AF_INET);
    assert_int_equal(c->networks[0].prefix, 8);
    assert_int_equal(c->networks[0].addr[0], 127);
    assert_int_equal(c->networks[1].family, AF_INET6);
    assert_int_equal(c->networks[1].prefix, 128);
    assert_int_equal(c->networks[1].addr[15], 1);
    assert_int_equal(c->hour_bucket, 60);
    assert_int_equal(c->day_bucket, 600);
    assert_int_equal(c->n_plans, 1);
    assert_int_equal(c->default_plan, 0);
    p = &c->plans[0];
    assert_string_equal(p->name, "default");
    assert_int_equal(p->lim.msgs_hour, 100);
    assert_int_equal(p->lim.msgs_day, 500);
    assert_int_equal(p->lim.rcpts_hour, 0);
    assert_int_equal(p->lim.rcpts_day, 1000);
    assert_int_equal(p->lim.new_rcpts_day, 100);
    assert_int_equal(p->lim.rcpts_per_msg, 100);
    assert_int_equal(p->action, PM_ACT_TEMPFAIL);
    assert_int_equal(c->n_assign, 0);
    assert_int_equal(c->n_domain_assign, 0);
    assert_int_equal(c->inc_enabled, 1);
    assert_int_equal(c->inc_action, PM_ACT_HOLD);
    assert_int_equal(c->inc_max_hours, 0);
    assert_int_equal(c->inc_burst_floor, 50);
    assert_int_equal(c->inc_burst_multiple, 10);
    assert_int_equal(c->inc_fanout, 40);
    assert_int_equal(c->inc_retry, 50);
    assert_int_equal(c->inc_bounce, 20);
    assert_int_equal(c->inc_nn_days, 30);
    assert_true(c->inc_nn_factor == 0.5);
}

/* Load path, asserting success. */
static struct pm_conf *
load_ok(const char *path)
{
    struct pm_conf *c = NULL;
    char err[512] = "";
    int rc = pm_conf_load(path, &c, err, sizeof(err));

    if (rc != 0)
        print_error("unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(c);
    assert_string_equal(c->file, path);
    return c;
}

/* The sample configuration gives exactly the documented defaults. */
static void
test_sample(void **state)
{
    struct pm_conf *c = load_ok(SAMPLE);

    (void)state;
    assert_defaults(c);
    /* the one value the sample sets apart from its default: a new
     * installation learns for 7 days; without the key, none */
    assert_int_equal(c->learning_days, 7);
    /* and the notices by SMTP to the local Postfix: the shipped unit's
     * NoNewPrivileges= stops sendmail; without the key, sendmail */
    assert_string_equal(c->notify_smtp, "127.0.0.1:25");
    pm_conf_free(c);
}

/* Every load is a new generation, even when it reuses the address of a
 * configuration freed before it (what the sender knowledge is keyed by). */
static void
test_generation(void **state)
{
    struct pm_conf *a = load_ok(CONF_DIR "/empty.conf"), *b;
    unsigned long long gen = a->generation;

    (void)state;
    assert_true(gen > 0);
    pm_conf_free(a);
    b = load_ok(CONF_DIR "/empty.conf");
    assert_true(b->generation > gen);
    pm_conf_free(b);
}

/* An empty file gives the same defaults, with the built-in plan "default". */
static void
test_empty(void **state)
{
    struct pm_conf *c = load_ok(CONF_DIR "/empty.conf");

    (void)state;
    assert_defaults(c);
    assert_int_equal(c->learning_days, 0);
    assert_string_equal(c->notify_smtp, "");
    pm_conf_free(c);
}

/* One expected assignment rule. */
struct rule_row {
    enum pm_match_kind kind;
    const char *pattern;
    const char *plan;
    int line;
};

/* Assert that rules a[0..n) are the rows of want. */
static void
assert_rules(const struct pm_conf *c, const struct pm_assign *a, size_t n,
             const struct rule_row *want, size_t nwant)
{
    size_t i;

    assert_int_equal(n, nwant);
    for (i = 0; i < n; i++) {
        assert_int_equal(a[i].kind, want[i].kind);
        assert_string_equal(a[i].pattern, want[i].pattern);
        assert_int_equal(a[i].plan, pm_conf_plan_index(c, want[i].plan));
        assert_int_equal(a[i].line, want[i].line);
    }
}

/* tests/conf/good.conf: every key with a value other than its default. */
static void
test_good(void **state)
{
    static const struct rule_row assign[] = {
        {PM_MATCH_ADDRESS, "alice@example.com", "gold", 49},
        {PM_MATCH_DOMAIN, "sales.example.com", "news_letter-2", 50},
        {PM_MATCH_GLOB, "sales-*@example.com", "held", 51},
        {PM_MATCH_LOGIN, "Bob.Smith", "gold", 52},
        {PM_MATCH_GLOB, "*@*.example.net", "basic", 53},
    };
    static const struct rule_row domains[] = {
        {PM_MATCH_DOMAIN, "example.com", "gold", 56},
        {PM_MATCH_GLOB, "*.example.org", "basic", 57},
    };
    static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8};
    struct pm_conf *c;
    const struct pm_plan *p;
    char cwd[4096];

    (void)state;
    /* password_file = "good.password" is relative to the working directory;
     * copies, for a secret file must not be readable by others (a checkout
     * leaves it 0644). */
    copy_file(CONF_DIR "/good.conf", "good.conf");
    copy_file(CONF_DIR "/good.password", "good.password");
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tmpdir), 0);
    c = load_ok("good.conf");
    assert_int_equal(chdir(cwd), 0);
    remove_file("good.conf");
    remove_file("good.password");
    assert_string_equal(c->milter_socket, "inet:8890@127.0.0.1");
    assert_int_equal(c->socket_mode, 0640);
    assert_int_equal(c->milter_timeout, 120);
    assert_string_equal(c->user, "pm");
    assert_string_equal(c->group, "postfix");
    assert_string_equal(c->pidfile, "/run/postmeter/postmeter.pid");
    assert_string_equal(c->log_facility, "local3");
    assert_int_equal(c->log_level, PM_LOG_DEBUG);
    assert_string_equal(c->redis_host, "::1");
    assert_int_equal(c->redis_port, 6380);
    assert_string_equal(c->redis_socket, "/run/redis/redis.sock");
    assert_string_equal(c->redis_password_file, "good.password");
    assert_string_equal(c->redis_user, "meter");
    assert_string_equal(c->redis_password, "s3cr et");
    assert_int_equal(c->redis_db, 15);
    assert_int_equal(c->connect_timeout_ms, 10);
    assert_int_equal(c->command_timeout_ms, 10000);
    assert_int_equal(c->retry_min_ms, 250);
    assert_int_equal(c->retry_max_ms, 250);
    assert_int_equal(c->pool_size, 1024);
    assert_string_equal(c->key_prefix, "meter.test-1_a");
    assert_string_equal(c->metrics_listen, "[::1]:9465");
    assert_int_equal(c->metrics_top_senders, 0);
    assert_int_equal(c->metrics_refresh_seconds, 3600);
    assert_string_equal(c->postfix_queue_directory, "/srv/postfix/spool");
    assert_int_equal(c->postfix_idle_alarm, 5);
    assert_int_equal(c->on_store_error, PM_ONERR_TEMPFAIL);
    assert_int_equal(c->dry_run, 1);
    assert_int_equal(c->learning_days, 90);
    assert_int_equal(c->learning_established_days, 60);
    assert_string_equal(c->header_name, "X-Meter-Verdict");
    assert_int_equal(c->n_local_domains, 2);
    assert_string_equal(c->local_domains[0], "example.com");
    assert_string_equal(c->local_domains[1], "mail.example.org");
    assert_int_equal(c->n_daemon_names, 2);
    assert_string_equal(c->daemon_names[0], "ORIGINATING");
    assert_string_equal(c->daemon_names[1], "Submission");
    assert_int_equal(c->n_networks, 3);
    assert_int_equal(c->networks[0].family, AF_INET);
    assert_int_equal(c->networks[0].prefix, 8);
    assert_int_equal(c->networks[1].family, AF_INET);
    assert_int_equal(c->networks[1].prefix, 32);
    assert_memory_equal(c->networks[1].addr, "\xc0\x00\x02\x07", 4);
    assert_int_equal(c->networks[2].family, AF_INET6);
    assert_int_equal(c->networks[2].prefix, 32);
    assert_memory_equal(c->networks[2].addr, v6, 16);
    assert_int_equal(pm_cidr_match(&c->networks[2], "2001:db8::25"), 1);
    assert_int_equal(c->hour_bucket, 30);
    assert_int_equal(c->day_bucket, 900);

    assert_int_equal(c->n_plans, 4);
    assert_int_equal(pm_conf_plan_index(c, "basic"), 0);
    assert_int_equal(pm_conf_plan_index(c, "gold"), 1);
    assert_int_equal(pm_conf_plan_index(c, "news_letter-2"), 2);
    assert_int_equal(pm_conf_plan_index(c, "held"), 3);
    assert_int_equal(pm_conf_plan_index(c, "default"), -1);
    assert_int_equal(c->default_plan, 0);
    p = &c->plans[0]; /* basic: all defaults */
    assert_int_equal(p->lim.msgs_hour, 100);
    assert_int_equal(p->lim.msgs_day, 500);
    assert_int_equal(p->lim.rcpts_hour, 0);
    assert_int_equal(p->lim.rcpts_day, 1000);
    assert_int_equal(p->lim.new_rcpts_day, 100);
    assert_int_equal(p->lim.rcpts_per_msg, 100);
    assert_int_equal(p->action, PM_ACT_TEMPFAIL);
    p = &c->plans[1]; /* gold: every key given */
    assert_int_equal(p->lim.msgs_hour, 1000);
    assert_int_equal(p->lim.msgs_day, 1000000000);
    assert_int_equal(p->lim.rcpts_hour, 5000);
    assert_int_equal(p->lim.rcpts_day, 0);
    assert_int_equal(p->lim.new_rcpts_day, 250);
    assert_int_equal(p->lim.rcpts_per_msg, 500);
    assert_int_equal(p->action, PM_ACT_REJECT);
    p = &c->plans[2]; /* news_letter-2: two keys given */
    assert_int_equal(p->lim.msgs_hour, 100);
    assert_int_equal(p->lim.msgs_day, 0);
    assert_int_equal(p->lim.rcpts_day, 1000);
    assert_int_equal(p->action, PM_ACT_TAG);
    assert_int_equal(c->plans[3].action, PM_ACT_HOLD);

    assert_rules(c, c->assign, c->n_assign, assign, sizeof(assign) / sizeof(assign[0]));
    assert_rules(c, c->domain_assign, c->n_domain_assign, domains,
                 sizeof(domains) / sizeof(domains[0]));
    assert_int_equal(c->inc_enabled, 0);
    assert_int_equal(c->inc_action, PM_ACT_TEMPFAIL);
    assert_int_equal(c->inc_max_hours, 8760);
    assert_int_equal(c->inc_burst_floor, 7);
    assert_int_equal(c->inc_burst_multiple, 3);
    assert_int_equal(c->inc_fanout, 0); /* its group is off */
    assert_int_equal(c->inc_retry, 11);
    assert_int_equal(c->inc_bounce, 13);
    assert_int_equal(c->inc_nn_days, 365);
    assert_true(c->inc_nn_factor == 0.25);
    pm_conf_free(c);
}

/* One bad file: its text, an optional second file, and the exact error. */
struct bad_row {
    const char *text;     /* "$D" here and in want stands for the temporary directory */
    const char *aux_name; /* a second file written next to it, or NULL */
    const char *aux_text;
    const char *want;
};

static const struct bad_row bad_rows[] = {
    /* a Redis Cluster: seeds checked, nothing it excludes, db 0, login_domain */
    {"login_domain = \"a.org\";\nredis: {\n  cluster = [ \"127.0.0.1:7000\", \"nohost\" ];\n};\n",
     NULL, NULL, "$D/bad.conf:3: redis.cluster[1]: \"nohost\" is not host:port"},
    {"login_domain = \"a.org\";\nredis: {\n  socket = \"/run/redis.sock\";\n  cluster = [ "
     "\"127.0.0.1:7000\" ];\n};\n",
     NULL, NULL,
     "$D/bad.conf:4: redis.cluster and redis.socket ($D/bad.conf:3) exclude each other"},
    {"login_domain = \"a.org\";\nredis: {\n  sentinels = [ \"127.0.0.1:26379\" ];\n  cluster = [ "
     "\"127.0.0.1:7000\" ];\n};\n",
     NULL, NULL,
     "$D/bad.conf:4: redis.cluster and redis.sentinels ($D/bad.conf:3) exclude each other"},
    {"login_domain = \"a.org\";\nredis: {\n  db = 2;\n  cluster = [ \"127.0.0.1:7000\" ];\n};\n",
     NULL, NULL, "$D/bad.conf:4: redis.cluster: redis.db ($D/bad.conf:3) must be 0 with a cluster"},
    {"redis: {\n  cluster = [ \"127.0.0.1:7000\" ];\n};\n", NULL, NULL,
     "$D/bad.conf:2: redis.cluster needs login_domain: the keys of a login without '@' would not "
     "share its company's slot"},
    {"login_domain = \"a.org\";\nredis: {\n  cluster = [ \"127.0.0.1:7000\" ];\n  "
     "cluster_retry_ms = 20;\n};\n",
     NULL, NULL, "$D/bad.conf:4: redis.cluster_retry_ms: 20 is out of range (50-10000)"},
    /* libconfig's own parse errors */
    {"redis: {\n  port = ;\n};\n", NULL, NULL, "$D/bad.conf:2: syntax error"},
    {"user = \"a\";\nuser = \"b\";\n", NULL, NULL, "$D/bad.conf:2: duplicate setting name"},
    /* unknown keys */
    {"user = \"pm\";\nfrobnicate = 1;\n", NULL, NULL, "$D/bad.conf:2: unknown key \"frobnicate\""},
    {"redis: {\n  host = \"h\";\n  hots = \"x\";\n};\n", NULL, NULL,
     "$D/bad.conf:3: unknown key \"redis.hots\""},
    {"plans: {\n  default: {\n    messages_per_hour = 5;\n    messages_per_minute = 1;\n  };\n};\n",
     NULL, NULL, "$D/bad.conf:4: unknown key \"plans.default.messages_per_minute\""},
    {"assign = (\n  { sender = \"a@b.c\"; plan = \"default\";\n    prio = 1; }\n);\n", NULL, NULL,
     "$D/bad.conf:3: unknown key \"assign[0].prio\""},
    {"domains = (\n  { domain = \"b.c\"; plan = \"default\"; },\n  { sender = \"b.c\"; plan = "
     "\"default\"; }\n);\n",
     NULL, NULL, "$D/bad.conf:3: unknown key \"domains[1].sender\""},
    /* wrong types */
    {"redis: {\n  port = \"6379\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: redis.port: expected an integer, not a string"},
    {"milter: { timeout = 1.5; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.timeout: expected an integer, not a float"},
    {"dry_run = 1;\n", NULL, NULL,
     "$D/bad.conf:1: dry_run: expected true or false, not an integer"},
    {"\nuser = 5;\n", NULL, NULL, "$D/bad.conf:2: user: expected a string, not an integer"},
    {"redis = 5;\n", NULL, NULL, "$D/bad.conf:1: redis: expected a group { ... }, not an integer"},
    {"local_domains = \"example.com\";\n", NULL, NULL,
     "$D/bad.conf:1: local_domains: expected a list of strings [ \"...\" ], not a string"},
    {"plans: {\n  gold = 5;\n};\n", NULL, NULL,
     "$D/bad.conf:2: plans.gold: expected a group { ... }, not an integer"},
    {"assign = { sender = \"a@b.c\"; };\n", NULL, NULL,
     "$D/bad.conf:1: assign: expected a list of rules ( { ... }, ... ), not a group"},
    /* integers out of range */
    {"redis: {\n  port = 70000;\n};\n", NULL, NULL,
     "$D/bad.conf:2: redis.port: 70000 is out of range (1-65535)"},
    {"redis: { db = 16; };\n", NULL, NULL, "$D/bad.conf:1: redis.db: 16 is out of range (0-15)"},
    {"learning: {\n  days = 91; };\n", NULL, NULL,
     "$D/bad.conf:2: learning.days: 91 is out of range (0-90)"},
    {"learning: { established_days = 0; };\n", NULL, NULL,
     "$D/bad.conf:1: learning.established_days: 0 is out of range (1-60)"},
    {"learning: { days = -1; };\n", NULL, NULL,
     "$D/bad.conf:1: learning.days: -1 is out of range (0-90)"},
    {"learning: { weeks = 1; };\n", NULL, NULL, "$D/bad.conf:1: unknown key \"learning.weeks\""},
    /* the reply-rate brake: a share, and a bounded number of first contacts */
    {"reputation: {\n  min_reply_rate = 1.5; };\n", NULL, NULL,
     "$D/bad.conf:2: reputation.min_reply_rate: 1.5 is out of range (0-1)"},
    {"reputation: { min_first_contacts = 0; };\n", NULL, NULL,
     "$D/bad.conf:1: reputation.min_first_contacts: 0 is out of range (1-1000000000)"},
    {"redis: { pool_size = 0; };\n", NULL, NULL,
     "$D/bad.conf:1: redis.pool_size: 0 is out of range (1-1024)"},
    {"redis: { command_timeout_ms = 10001; };\n", NULL, NULL,
     "$D/bad.conf:1: redis.command_timeout_ms: 10001 is out of range (10-10000)"},
    {"redis: {\n  retry_min_ms = 200;\n  retry_max_ms = 100;\n};\n", NULL, NULL,
     "$D/bad.conf:3: redis.retry_max_ms: 100 is less than redis.retry_min_ms (200)"},
    {"redis: {\n  retry_min_ms = 6000;\n};\n", NULL, NULL,
     "$D/bad.conf:2: redis.retry_max_ms: 5000 is less than redis.retry_min_ms (6000)"},
    {"milter: { timeout = 0; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.timeout: 0 is out of range (1-3600)"},
    {"milter: { socket_mode = 0680; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.socket_mode: 0680 is not an octal mode"},
    {"milter: { socket_mode = 01000; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.socket_mode: 01000 is out of range (0-0777)"},
    {"plans: {\n  default: { messages_per_day = -5; };\n};\n", NULL, NULL,
     "$D/bad.conf:2: plans.default.messages_per_day: -5 is out of range (0-1000000000)"},
    {"plans: {\n  default: { messages_per_hour = 10000000000; };\n};\n", NULL, NULL,
     "$D/bad.conf:2: 10000000000 is too large (at most 2147483647 without an L suffix)"},
    {"# 5000000000 in a comment is fine\nuser = \"9999999999\";\nplans: {\n  default: {\n"
     "    recipients_per_day = 4294967396; };\n};\n",
     NULL, NULL, "$D/bad.conf:5: 4294967396 is too large (at most 2147483647 without an L suffix)"},
    {"plans: {\n  default: { messages_per_hour = 10000000000L; };\n};\n", NULL, NULL,
     "$D/bad.conf:2: plans.default.messages_per_hour: 10000000000 is out of range "
     "(0-1000000000)"},
    {"redis: { port = 0x100000000; };\n", NULL, NULL,
     "$D/bad.conf:1: 0x100000000 is too large (at most 2147483647 without an L suffix)"},
    {"windows: {\n  hour_bucket = 7;\n};\n", NULL, NULL,
     "$D/bad.conf:2: windows.hour_bucket: 7 does not divide 3600 (the hour must hold a whole "
     "number of buckets)"},
    {"windows: {\n  day_bucket = 7000;\n};\n", NULL, NULL,
     "$D/bad.conf:2: windows.day_bucket: 7000 does not divide 86400 (the day must hold a whole "
     "number of buckets)"},
    {"windows: {\n  day_bucket = 172800;\n};\n", NULL, NULL,
     "$D/bad.conf:2: windows.day_bucket: 172800 is out of range (1-86400)"},
    /* names and strings */
    {"plans: {\n  default: { action = \"accept\"; };\n};\n", NULL, NULL,
     "$D/bad.conf:2: plans.default.action: \"accept\" is not one of tempfail, reject, hold or tag"},
    {"on_store_error = \"drop\";\n", NULL, NULL,
     "$D/bad.conf:1: on_store_error: \"drop\" is not one of accept or tempfail"},
    {"log: { level = \"verbose\"; };\n", NULL, NULL,
     "$D/bad.conf:1: log.level: \"verbose\" is not one of err, warning, notice, info or debug"},
    {"log: { facility = \"kern\"; };\n", NULL, NULL,
     "$D/bad.conf:1: log.facility: \"kern\" is not one of mail, daemon, user, local0 ... local7"},
    {"milter: { socket = \"tcp:1234\"; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.socket: \"tcp:1234\" must start with unix:, local:, inet: or inet6:"},
    {"milter: { socket = \"inet:@127.0.0.1\"; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.socket: \"inet:@127.0.0.1\" needs a port from 1 to 65535 "
     "(inet:PORT@HOST)"},
    {"milter: { socket = \"unix:\"; };\n", NULL, NULL,
     "$D/bad.conf:1: milter.socket: \"unix:\" has no path"},
    {"redis: { key_prefix = \"pm:x\"; };\n", NULL, NULL,
     "$D/bad.conf:1: redis.key_prefix: \"pm:x\" must be 1 to 64 characters of A-Z a-z 0-9 _ . -"},
    {"redis: { host = \"\"; };\n", NULL, NULL, "$D/bad.conf:1: redis.host: must not be empty"},
    {"header_name = \"X Bad\";\n", NULL, NULL,
     "$D/bad.conf:1: header_name: \"X Bad\" is not a header field name (printable, no colon or "
     "space)"},
    {"\nlogin_domain = \"carol@example.com\";\n", NULL, NULL,
     "$D/bad.conf:2: login_domain: \"carol@example.com\" is not a domain (no '@', not empty)"},
    {"local_domains = [\n  \"a.example\",\n  \"Bob@B.example\" ];\n", NULL, NULL,
     "$D/bad.conf:3: local_domains[1]: \"bob@b.example\" is not a domain (no '@', not empty)"},
    {"outbound: {\n  networks = [\n    \"10.0.0.0/8\",\n    \"10.0.0.0/33\",\n    \"::1\"\n  "
     "];\n};\n",
     NULL, NULL,
     "$D/bad.conf:4: outbound.networks[1]: \"10.0.0.0/33\" is not a network (address or "
     "address/prefix)"},
    /* plans and rules */
    {"default_plan = \"gold\";\n", NULL, NULL,
     "$D/bad.conf:1: default_plan: no plan named \"gold\""},
    {"\nplans: {\n  gold: { };\n};\n", NULL, NULL,
     "$D/bad.conf:2: default_plan: no plan named \"default\""},
    {"plans: {\n  go*ld: { };\n};\n", NULL, NULL,
     "$D/bad.conf:2: plans.go*ld: a plan name is 1 to 64 characters of A-Z a-z 0-9 _ -"},
    {"plans: {\n  p12345678901234567890123456789012345678901234567890123456789012345: { };\n};\n",
     NULL, NULL,
     "$D/bad.conf:2: plans.p12345678901234567890123456789012345678901234567890123456789012345: a "
     "plan name is 1 to 64 characters of A-Z a-z 0-9 _ -"},
    {"rules = (\n  { name = \"my rule\"; when = { links = \"> 2\"; }; action = \"tag\"; }\n);\n",
     NULL, NULL,
     "$D/bad.conf:2: rules[0].name: \"my rule\" is not 1 to 64 characters of A-Z a-z 0-9 _ . -"},
    {"rules = (\n  { name = "
     "\"r1234567890123456789012345678901234567890123456789012345678901234\";\n"
     "    when = { links = \"> 2\"; }; action = \"tag\"; }\n);\n",
     NULL, NULL,
     "$D/bad.conf:2: rules[0].name: "
     "\"r1234567890123456789012345678901234567890123456789012345678901234\" is not 1 to 64 "
     "characters of A-Z a-z 0-9 _ . -"},
    {"rules = (\n  { when = { links = \"> 2\"; }; action = \"tag\";\n    reply = \""
     "01234567890123456789012345678901234567890123456789"
     "01234567890123456789012345678901234567890123456789"
     "01234567890123456789012345678901234567890123456789"
     "01234567890123456789012345678901234567890123456789"
     "0\"; }\n);\n",
     NULL, NULL, "$D/bad.conf:3: rules[0].reply: 201 characters, at most 200"},
    {"rules = (\n  { when = { links = \"> 2\"; }; action = \"tag\";\n"
     "    reply = \"two\\nlines\"; }\n);\n",
     NULL, NULL, "$D/bad.conf:3: rules[0].reply: holds a control character"},
    {"rules = (\n  { action = \"tag\";\n    when = { links = -1; }; }\n);\n", NULL, NULL,
     "$D/bad.conf:3: when.links: -1 is out of range (0-1000000000)"},
    {"rules = (\n  { action = \"tag\";\n    any = { size = 1000000001; }; }\n);\n", NULL, NULL,
     "$D/bad.conf:3: any.size: 1000000001 is out of range (0-1000000000)"},
    {"rules = (\n  { action = \"tag\";\n    when = { size = \"> 99999999999999999999\"; }; }\n);\n",
     NULL, NULL,
     "$D/bad.conf:3: when.size: \"> 99999999999999999999\" is out of range (0-1000000000)"},
    {"assign = (\n  { sender = \"a@b.c\"; plan = \"default\"; },\n  { sender = \"a@b.c\";\n    "
     "plan = \"gold\"; }\n);\n",
     NULL, NULL, "$D/bad.conf:4: assign[1].plan: no plan named \"gold\""},
    {"assign = (\n  { sender = \"a@b.c\"; login = \"a\"; plan = \"default\"; }\n);\n", NULL, NULL,
     "$D/bad.conf:2: assign[0]: give one of sender or login, not both"},
    {"assign = (\n  { plan = \"default\"; }\n);\n", NULL, NULL,
     "$D/bad.conf:2: assign[0]: needs sender = \"...\" or login = \"...\""},
    {"assign = (\n  { sender = \"a@b.c\"; }\n);\n", NULL, NULL,
     "$D/bad.conf:2: assign[0]: needs plan = \"NAME\""},
    {"assign = (\n  { sender = \"\"; plan = \"default\"; }\n);\n", NULL, NULL,
     "$D/bad.conf:2: assign[0].sender: must not be empty"},
    {"domains = (\n  { domain = \"a@b.c\"; plan = \"default\"; }\n);\n", NULL, NULL,
     "$D/bad.conf:2: domains[0].domain: \"a@b.c\" is a domain, without '@'"},
    /* the password file */
    {"redis: {\n  password_file = \"/nonexistent/pm-test.pw\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: redis.password_file: cannot open /nonexistent/pm-test.pw: No such file or "
     "directory"},
    {"redis: {\n  password_file = \"$D/empty.pw\";\n};\n", "empty.pw", "",
     "$D/bad.conf:2: redis.password_file: $D/empty.pw is empty"},
    {"redis: {\n  password_file = \"$D/empty.pw\";\n};\n", "empty.pw", "\r\n",
     "$D/bad.conf:2: redis.password_file: $D/empty.pw is empty"},
    {"redis: {\n  password_file = \"$D/empty.pw\";\n};\n", "empty.pw", "s3cret\nmore\n",
     "$D/bad.conf:2: redis.password_file: $D/empty.pw must hold one line"},
    {"redis: {\n  password_file = \"$D/empty.pw\";\n};\n", "empty.pw", " s3cret\n",
     "$D/bad.conf:2: redis.password_file: $D/empty.pw must hold \"password\" or \"user "
     "password\""},
    /* warm-up */
    {"warmup: { hourly_share = 0; };\n", NULL, NULL,
     "$D/bad.conf:1: warmup.hourly_share: 0 is out of range (0.01-1)"},
    {"warmup: {\n  max_bounce_rate = \"low\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: warmup.max_bounce_rate: expected a number, not a string"},
    {"plans: { p: {\n  warmup = [20, 40, 30]; }; };\ndefault_plan = \"p\";\n", NULL, NULL,
     "$D/bad.conf:2: plans.p.warmup: stages must be positive and increasing (30)"},
    {"plans: { default: {\n  warmup = [20];\n  warmup_start = 5; warmup_growth = 2.0; }; };\n",
     NULL, NULL,
     "$D/bad.conf:2: plans.default.warmup: give either a list or warmup_start and warmup_growth"},
    {"plans: { default: {\n  warmup_start = 5; }; };\n", NULL, NULL,
     "$D/bad.conf:2: plans.default.warmup_start and warmup_growth go together"},
    {"plans: { default: {\n  warmup_start = 5;\n  warmup_growth = 1.0; }; };\n", NULL, NULL,
     "$D/bad.conf:3: plans.default.warmup_growth: 1 is out of range (above 1, at most 10)"},
    {"plans: { default: {\n  warmup_start = 5;\n  warmup_growth = 10.01; }; };\n", NULL, NULL,
     "$D/bad.conf:3: plans.default.warmup_growth: 10.01 is out of range (above 1, at most 10)"},
    {"plans: { default: {\n  warmup_start = 1000000001;\n  warmup_growth = 2; }; };\n", NULL, NULL,
     "$D/bad.conf:2: plans.default.warmup_start: 1000000001 is out of range (1-1000000000)"},
    {"plans: { default: {\n  messages_per_day = 0;\n  warmup = [ 20, 1000000001 ]; }; };\n", NULL,
     NULL, "$D/bad.conf:3: plans.default.warmup[1]: 1000000001 is out of range (1-1000000000)"},
    {"plans: { default: {\n  messages_per_day = 0;\n"
     "  warmup = [ 999999999999999998L, 999999999999999999L ]; }; };\n",
     NULL, NULL,
     "$D/bad.conf:3: plans.default.warmup[0]: 999999999999999998 is out of range "
     "(1-1000000000)"},
    /* metrics */
    {"metrics: {\n  listen = \"localhost:9465\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: metrics.listen: \"localhost:9465\" is not a numeric address:port"},
    {"metrics: { listen = \"::1:9465\"; };\n", NULL, NULL,
     "$D/bad.conf:1: metrics.listen: \"::1:9465\" is not a numeric address:port"},
    {"metrics: { listen = \"127.0.0.1:0\"; };\n", NULL, NULL,
     "$D/bad.conf:1: metrics.listen: \"127.0.0.1:0\" has no valid port"},
    {"metrics: { top_senders = 1001; };\n", NULL, NULL,
     "$D/bad.conf:1: metrics.top_senders: 1001 is out of range (0-1000)"},
    {"metrics: {\n  refresh_seconds = 4;\n};\n", NULL, NULL,
     "$D/bad.conf:2: metrics.refresh_seconds: 4 is out of range (5-3600)"},
    /* postfix */
    {"postfix: {\n  idle_alarm = 4;\n};\n", NULL, NULL,
     "$D/bad.conf:2: postfix.idle_alarm: 4 must be 0 (off) or from 5 to 86400 seconds"},
    {"postfix: { idle_alarm = 86401; };\n", NULL, NULL,
     "$D/bad.conf:1: postfix.idle_alarm: 86401 is out of range (0-86400)"},
    {"postfix: {\n  queue_directory = \"spool/postfix\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: postfix.queue_directory: \"spool/postfix\" is not an absolute path"},
    /* notify */
    {"notify: {\n  admin = [ \"ops@example.com\", \"-x@example.com\" ];\n};\n", NULL, NULL,
     "$D/bad.conf:2: notify.admin[1]: \"-x@example.com\" is not an address like "
     "postmaster@example.com"},
    {"notify: { from = \"a b@example.com\"; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.from: \"a b@example.com\" is not an address like "
     "postmaster@example.com"},
    {"notify: { webhook_url = \"http://\"; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.webhook_url: \"http://\" must have a host and at most 1024 "
     "characters"},
    {"notify: { webhook_url = \"https://x.example/a b\"; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.webhook_url: \"https://x.example/a b\" must not hold spaces or "
     "control characters"},
    {"notify: { webhook_timeout_ms = 99; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.webhook_timeout_ms: 99 is out of range (100-60000)"},
    {"notify: { timeout_seconds = 601; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.timeout_seconds: 601 is out of range (1-600)"},
    {"notify: { digest_hour = -1; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.digest_hour: -1 is out of range (0-23)"},
    {"notify: {\n  sender = true;\n};\n", NULL, NULL,
     "$D/bad.conf:2: notify.sender: needs notify.admin (the sender is told to contact them)"},
    {"notify: { postfix_config_dir = \"etc/postfix\"; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.postfix_config_dir: \"etc/postfix\" is not an absolute path"},
    {"notify: { smtp = \"mail.example.com:25\"; };\n", NULL, NULL,
     "$D/bad.conf:1: notify.smtp: \"mail.example.com:25\" must be an IP address and a port, "
     "like 127.0.0.1:25 or [::1]:25"},
    {"notify: {\n  smtp = \"[::1]:0\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: notify.smtp: \"[::1]:0\" must be an IP address and a port, like "
     "127.0.0.1:25 or [::1]:25"},
    {"notify: { frobnicate = 1; };\n", NULL, NULL,
     "$D/bad.conf:1: unknown key \"notify.frobnicate\""},
    /* incidents */
    {"incidents: {\n  action = \"reject\";\n};\n", NULL, NULL,
     "$D/bad.conf:2: incidents.action: \"reject\" is not one of hold or tempfail"},
    {"incidents: { max_hours = 8761; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.max_hours: 8761 is out of range (0-8760)"},
    {"incidents: {\n  burst: { floor = 0; };\n};\n", NULL, NULL,
     "$D/bad.conf:2: incidents.burst.floor: 0 is out of range (1-1000000)"},
    {"incidents: {\n  burst: {\n    multiple = 1001;\n  };\n};\n", NULL, NULL,
     "$D/bad.conf:3: incidents.burst.multiple: 1001 is out of range (1-1000)"},
    {"incidents: { fanout: { domains = 0; }; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.fanout.domains: 0 is out of range (1-100000)"},
    {"incidents: { retry_storm: { refusals = 1000001; }; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.retry_storm.refusals: 1000001 is out of range (1-1000000)"},
    {"incidents: { bounce_spike: { hard_bounces = -1; }; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.bounce_spike.hard_bounces: -1 is out of range (1-1000000)"},
    {"incidents: { new_network: { days = 366; }; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.new_network.days: 366 is out of range (1-365)"},
    {"incidents: { new_network: { factor = 0.01; }; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.new_network.factor: 0.01 is out of range (0.05-1)"},
    {"incidents: {\n  burst: { flor = 5; };\n};\n", NULL, NULL,
     "$D/bad.conf:2: unknown key \"incidents.burst.flor\""},
    {"incidents: { treshold = 5; };\n", NULL, NULL,
     "$D/bad.conf:1: unknown key \"incidents.treshold\""},
    {"incidents: { burst = 5; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.burst: expected a group { ... }, not an integer"},
    {"incidents: { enabled = 1; };\n", NULL, NULL,
     "$D/bad.conf:1: incidents.enabled: expected true or false, not an integer"},
    /* @include: errors name the included file */
    {"user = \"pm\";\n@include \"$D/part.inc\"\n", "part.inc", "group = \"\";\nfrobnicate = 1;\n",
     "$D/part.inc:2: unknown key \"frobnicate\""},
    {"user = \"pm\";\n@include \"$D/part.inc\"\n", "part.inc", "redis: {\n  port = ;\n};\n",
     "$D/part.inc:2: syntax error"},
};

/* Every row of bad_rows fails with exactly its message. */
static void
test_bad(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
        const struct bad_row *r = &bad_rows[i];
        struct pm_conf *c = (struct pm_conf *)1;
        char path[512], aux[512], text[1024], want[512], err[512];

        expand(r->text, text, sizeof(text));
        write_file("bad.conf", text, path, sizeof(path));
        if (r->aux_name)
            write_file(r->aux_name, r->aux_text, aux, sizeof(aux));
        expand(r->want, want, sizeof(want));
        memset(err, 'x', sizeof(err));
        if (pm_conf_load(path, &c, err, sizeof(err)) != -1)
            print_error("row %zu: loaded, want %s\n", i, want);
        assert_null(c);
        if (strcmp(err, want) != 0)
            print_error("row %zu: got  %s\n        want %s\n", i, err, want);
        assert_string_equal(err, want);
        assert_null(strstr(err, "s3cret"));
        remove_file("bad.conf");
        if (r->aux_name)
            remove_file(r->aux_name);
    }
}

/* A missing file and a tiny error buffer. */
static void
test_missing(void **state)
{
    struct pm_conf *c = NULL;
    char err[512], small[8];

    (void)state;
    assert_int_equal(pm_conf_load("/nonexistent/postmeter.conf", &c, err, sizeof(err)), -1);
    assert_null(c);
    assert_string_equal(err,
                        "/nonexistent/postmeter.conf:0: cannot open: No such file or directory");
    assert_int_equal(pm_conf_load("/nonexistent/postmeter.conf", &c, small, sizeof(small)), -1);
    assert_string_equal(small, "/nonexi");
}

/* One password file and what it yields. */
struct password_row {
    const char *text;
    const char *user; /* NULL: no user */
    const char *password;
};

/* A password file holds "password" or "user password". */
static void
test_password(void **state)
{
    static const struct password_row rows[] = {
        {"s3cret\n", NULL, "s3cret"},
        {"s3cret", NULL, "s3cret"},
        {"s3cret\r\n\n", NULL, "s3cret"},
        {"meter s3cret\n", "meter", "s3cret"},
        {"meter \t s3cr et \r\n", "meter", "s3cr et "},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[512], pw[512], text[600];
        struct pm_conf *c;

        write_file("pw", rows[i].text, pw, sizeof(pw));
        snprintf(text, sizeof(text), "redis: { password_file = \"%s\"; };\n", pw);
        write_file("pw.conf", text, path, sizeof(path));
        c = load_ok(path);
        assert_string_equal(c->redis_password_file, pw);
        if (rows[i].user)
            assert_string_equal(c->redis_user, rows[i].user);
        else
            assert_null(c->redis_user);
        assert_string_equal(c->redis_password, rows[i].password);
        pm_conf_free(c);
        remove_file("pw");
        remove_file("pw.conf");
    }
}

/* A Redis or a Sentinel that is not on a loopback address is a warning (the
 * link would be in clear), unless the network is said to be encrypted. */
static void
test_link_warnings(void **state)
{
    static const char host_warning[] =
        ":2: warning: redis.host \"10.0.0.5\" is not a loopback address: hiredis has no TLS, "
        "so the Redis password and every counter cross the network in clear; reach Redis "
        "through a tunnel on 127.0.0.1 (README: Protecting the link to Redis), or set "
        "redis.network_encrypted = true if the network itself is encrypted (WireGuard, IPsec)";
    static const char sentinel_warning[] =
        ":3: warning: redis.sentinels[1] \"sentinel-b.example:26379\" is not a loopback "
        "address: hiredis has no TLS, so the Redis password and every counter cross the network "
        "in clear, to the Sentinels and to the primary they name; encrypt the network itself "
        "(WireGuard, IPsec) and set redis.network_encrypted = true (README: Protecting the link "
        "to Redis)";
    static const char cluster_warning[] =
        ":5: warning: redis.cluster[1] \"10.0.0.12:6379\" is not a loopback address: hiredis "
        "has no TLS, so the Redis password and every counter cross the network in clear, to "
        "every node of the cluster; encrypt the network itself (WireGuard, IPsec) and set "
        "redis.network_encrypted = true (README: Protecting the link to Redis)";
    static const struct {
        const char *text, *want; /* want: NULL for no warning */
    } rows[] = {
        {"redis: {\n  host = \"10.0.0.5\"; };\n", host_warning},
        {"redis: {\n  host = \"10.0.0.5\";\n  network_encrypted = true; };\n", NULL},
        {"redis: {\n  host = \"10.0.0.5\";\n  socket = \"/run/redis/redis.sock\"; };\n", NULL},
        {"redis: {\n  host = \"127.0.0.2\"; };\n", NULL},
        {"redis: {\n  host = \"::1\"; };\n", NULL},
        {"redis: {\n  host = \"localhost\"; };\n", NULL},
        {"redis: {\n  sentinels = [ \"127.0.0.1:26379\",\n    \"sentinel-b.example:26379\", "
         "\"10.0.0.7:26379\" ]; };\n",
         sentinel_warning},
        {"redis: {\n  host = \"10.0.0.5\";\n  sentinels = [ \"[::1]:26379\", "
         "\"localhost:26380\" ]; };\n",
         NULL},
        {"redis: {\n  network_encrypted = true;\n  sentinels = [ \"10.0.0.7:26379\" ]; };\n", NULL},
        {"login_domain = \"a.org\";\nredis: {\n  host = \"10.0.0.5\";\n  cluster = [ "
         "\"127.0.0.1:7000\",\n    \"10.0.0.12:6379\" ]; };\n",
         cluster_warning},
        {"login_domain = \"a.org\";\nredis: {\n  network_encrypted = true;\n  cluster = [ "
         "\"10.0.0.12:6379\" ]; };\n",
         NULL},
    };
    char path[512], want[1024];
    struct pm_conf *c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        write_file("link.conf", rows[i].text, path, sizeof(path));
        c = load_ok(path);
        if (!rows[i].want) {
            if (c->n_warnings != 0)
                print_error("row %zu: %s\n", i, c->warnings[0]);
            assert_int_equal(c->n_warnings, 0);
        } else {
            snprintf(want, sizeof(want), "%s%s", path, rows[i].want);
            assert_int_equal(c->n_warnings, 1);
            assert_string_equal(c->warnings[0], want);
        }
        pm_conf_free(c);
    }
    remove_file("link.conf");
}

/* Values at the edges of their bounds, hex modes, and an @include that is fine. */
static void
test_edges(void **state)
{
    char path[512], part[512], text[1024];
    struct pm_conf *c;

    (void)state;
    write_file("part.inc", "plans: { solo: { messages_per_hour = 0; action = \"tag\"; }; };\n",
               part, sizeof(part));
    expand("milter: { socket = \"inet6:8890@[::1]\"; socket_mode = 0x1b0; timeout = 3600; };\n"
           "redis: { port = 1; db = 0; retry_min_ms = 60000; retry_max_ms = 600000; };\n"
           "windows: { hour_bucket = 3600; day_bucket = 1; };\n"
           "local_domains = ( \"A.Example\" );\n"
           "outbound: { daemon_names = [ ]; networks = [ ]; };\n"
           "default_plan = \"solo\";\n"
           "assign = [ ];\n"
           "@include \"$D/part.inc\"\n",
           text, sizeof(text));
    write_file("edge.conf", text, path, sizeof(path));
    c = load_ok(path);
    assert_string_equal(c->milter_socket, "inet6:8890@[::1]");
    assert_int_equal(c->socket_mode, 0660);
    assert_int_equal(c->milter_timeout, 3600);
    assert_int_equal(c->redis_port, 1);
    assert_int_equal(c->retry_min_ms, 60000);
    assert_int_equal(c->retry_max_ms, 600000);
    assert_int_equal(c->hour_bucket, 3600);
    assert_int_equal(c->day_bucket, 1);
    assert_int_equal(c->n_local_domains, 1);
    assert_string_equal(c->local_domains[0], "a.example");
    assert_int_equal(c->n_daemon_names, 0);
    assert_int_equal(c->n_networks, 0);
    assert_int_equal(c->n_plans, 1);
    assert_int_equal(c->default_plan, 0);
    assert_string_equal(c->plans[0].name, "solo");
    assert_int_equal(c->plans[0].lim.msgs_hour, 0);
    assert_int_equal(c->plans[0].lim.msgs_day, 500);
    assert_int_equal(c->plans[0].action, PM_ACT_TAG);
    assert_int_equal(c->n_assign, 0);
    pm_conf_free(c);
    remove_file("edge.conf");
    remove_file("part.inc");
}

/* tests/conf/bounds.conf: curves, limits and rule texts at their bounds. */
static void
test_bounds(void **state)
{
    static const long long tens[] = {1,      10,      100,      1000,      10000,
                                     100000, 1000000, 10000000, 100000000, 1000000000};
    static const long long tens_hour[] = {1,     3,      25,      250,      2500,
                                          25000, 250000, 2500000, 25000000, 250000000};
    struct pm_conf *c = load_ok(CONF_DIR "/bounds.conf");
    const struct pm_plan *p;
    size_t i;

    (void)state;
    assert_int_equal(c->n_plans, 6);
    p = &c->plans[0]; /* default: 1, 10, ... 1000000000 and no stage above */
    assert_int_equal(p->warmup.n, 10);
    for (i = 0; i < 10; i++) {
        assert_int_equal(p->warmup.cap[i], tens[i]);
        assert_int_equal(p->warmup_hour[i], tens_hour[i]);
    }
    p = &c->plans[1]; /* top: one stage */
    assert_int_equal(p->warmup.n, 1);
    assert_int_equal(p->warmup.cap[0], 1000000000);
    assert_int_equal(p->warmup_hour[0], 250000000);
    p = &c->plans[2]; /* list */
    assert_int_equal(p->warmup.n, 2);
    assert_int_equal(p->warmup.cap[1], 1000000000);
    assert_int_equal(p->warmup_hour[1], 250000000);
    p = &c->plans[3]; /* grow: 20 * 2^25 is the last stage within 1000000000 */
    assert_int_equal(p->warmup.n, 26);
    assert_int_equal(p->warmup.cap[25], 671088640);
    assert_int_equal(p->warmup_hour[25], 167772160);
    p = &c->plans[4]; /* cut: the start is at the plan's daily limit */
    assert_int_equal(p->warmup.n, 0);
    p = &c->plans[5]; /* every limit at its bound, a 64-character name */
    assert_int_equal(strlen(p->name), 64);
    assert_int_equal(p->lim.msgs_hour, 1000000000);
    assert_int_equal(p->lim.int_msgs_day, 1000000000);
    assert_int_equal(p->warmup.n, 1);
    assert_int_equal(p->warmup.cap[0], 999999999);
    assert_int_equal(c->n_rules, 1);
    assert_int_equal(strlen(c->rules[0].name), 64);
    assert_int_equal(strlen(c->rules[0].reply), 200);
    assert_int_equal(c->rules[0].all[0].value, 1000000000);
    assert_int_equal(c->rules[0].all[1].value, 1000000000);
    pm_conf_free(c);
}

/* Write a file of n rules, one a line from line 2; its path goes into path. */
static void
write_rules(size_t n, char *path, size_t len)
{
    char *text = NULL;
    size_t size = 0, i;
    FILE *mem = open_memstream(&text, &size);

    assert_non_null(mem);
    fputs("rules = (\n", mem);
    for (i = 0; i < n; i++)
        fprintf(mem, "  { name = \"r%zu\"; when = { links = \"> %zu\"; }; action = \"tag\"; }%s\n",
                i + 1, i, i + 1 < n ? "," : "");
    fputs(");\n", mem);
    assert_int_equal(fclose(mem), 0);
    write_file("rules.conf", text, path, len);
    free(text);
}

/* PM_RULES_MAX rules load, each of them kept; one more is refused where it is. */
static void
test_rule_count(void **state)
{
    struct pm_conf *c = (struct pm_conf *)1;
    char path[256], err[512], want[512];

    (void)state;
    assert_int_equal(PM_RULES_MAX, 64);
    write_rules(64, path, sizeof(path));
    c = load_ok(path);
    assert_int_equal(c->n_rules, 64);
    assert_string_equal(c->rules[63].name, "r64");
    assert_int_equal(c->rules[63].line, 65);
    assert_int_equal(c->rules[63].all[0].value, 63);
    pm_conf_free(c);
    write_rules(65, path, sizeof(path));
    assert_int_equal(pm_conf_load(path, &c, err, sizeof(err)), -1);
    assert_null(c);
    snprintf(want, sizeof(want), "%s:66: rules[64]: at most 64 rules (this list has 65)", path);
    assert_string_equal(err, want);
    write_rules(1000, path, sizeof(path));
    assert_int_equal(pm_conf_load(path, &c, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s:66: rules[64]: at most 64 rules (this list has 1000)", path);
    assert_string_equal(err, want);
    remove_file("rules.conf");
}

/* Action names and their parsing, both ways. */
static void
test_actions(void **state)
{
    static const struct {
        enum pm_action act;
        const char *name;
    } rows[] = {
        {PM_ACT_ACCEPT, "accept"},     {PM_ACT_TAG, "tag"},       {PM_ACT_HOLD, "hold"},
        {PM_ACT_TEMPFAIL, "tempfail"}, {PM_ACT_REJECT, "reject"},
    };
    enum pm_action act;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_string_equal(pm_action_name(rows[i].act), rows[i].name);
        act = (enum pm_action)99;
        assert_int_equal(pm_action_parse(rows[i].name, &act), 0);
        assert_int_equal(act, rows[i].act);
    }
    assert_string_equal(pm_action_name((enum pm_action)99), "?");
    assert_int_equal(pm_action_parse("Reject", &act), -1);
    assert_int_equal(pm_action_parse("", &act), -1);
    assert_true(PM_ACT_REJECT > PM_ACT_TEMPFAIL && PM_ACT_TEMPFAIL > PM_ACT_HOLD &&
                PM_ACT_HOLD > PM_ACT_TAG && PM_ACT_TAG > PM_ACT_ACCEPT);
}

/* Make the temporary directory; the files written there are 0600, as a
 * password file must be. */
static int
group_setup(void **state)
{
    (void)state;
    umask(077);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Remove the temporary directory (its files are removed by each test). */
static int
group_teardown(void **state)
{
    static const char *const names[] = {"bad.conf",  "empty.pw",     "part.inc",   "pw",
                                        "pw.conf",   "edge.conf",    "rules.conf", "good.conf",
                                        "link.conf", "good.password"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        remove_file(names[i]);
    return rmdir(tmpdir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample),     cmocka_unit_test(test_empty),
        cmocka_unit_test(test_generation), cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_password),   cmocka_unit_test(test_edges),
        cmocka_unit_test(test_actions),    cmocka_unit_test(test_link_warnings),
        cmocka_unit_test(test_bounds),     cmocka_unit_test(test_rule_count),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
