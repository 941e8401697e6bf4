/*
 * test_policy.c - the engine's orchestration with an in-memory fake store:
 * direction, early refusal at RCPT, the end-of-message check-and-count,
 * over-limit actions, dry run, learning mode, store errors and the decision
 * log line.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "learning.h"
#include "policy.h"

#define NOW 1795699200LL

/* The fake store: plain counters per scope id, no windows. */
struct fake {
    char ids[8][PM_ADDR_MAX];
    long long count[8][PM_C_COUNT];
    int n;
    int fail;  /* answer with a store error */
    int calls; /* requests seen */
    enum pm_meter_mode last_mode;
    long long last_rcpts;
    int last_wu_learn;
    long long shift;       /* seconds the fake store's clock is ahead of NOW */
    long long learn_start; /* the learning start it keeps (0: none) */
};

/* The counters of an id, created on first use. */
static long long *
fake_counts(struct fake *f, const char *id)
{
    int i;

    for (i = 0; i < f->n; i++)
        if (strcmp(f->ids[i], id) == 0)
            return f->count[i];
    snprintf(f->ids[f->n], PM_ADDR_MAX, "%s", id);
    return f->count[f->n++];
}

/* The fake store's meter operation: like the real one, a commit counts unless
 * a limit of a scope that is not soft is over, and that limit is reported. */
static int
fake_meter(void *impl, const struct pm_meter_req *req, struct pm_meter_res *res, char *err,
           size_t errlen)
{
    struct fake *f = impl;
    long long add[PM_C_COUNT] = {req->msgs, req->msgs,     req->rcpts,   req->rcpts,
                                 0,         req->internal, req->internal};
    int s, c, hard = 0;

    f->calls++;
    f->last_mode = req->mode;
    f->last_rcpts = req->rcpts;
    f->last_wu_learn = req->wu_learn;
    if (f->fail) {
        snprintf(err, errlen, "fake store down");
        return -1;
    }
    res->fits = 1;
    res->now = NOW + f->shift;
    for (s = 0; s < PM_SCOPE_COUNT; s++) {
        long long *cnt;

        if (!req->scope[s].id)
            continue;
        cnt = fake_counts(f, req->scope[s].id);
        for (c = 0; c < PM_C_COUNT; c++) {
            long long lim = req->scope[s].limit[c];

            res->used[s][c] = cnt[c];
            if (lim && cnt[c] + add[c] > lim && (res->fits || (!req->scope[s].soft && !hard))) {
                res->fits = 0;
                hard |= !req->scope[s].soft;
                res->over_scope = s;
                res->over_counter = c;
                res->over_limit = lim;
                res->over_used = cnt[c];
                res->retry_at = add[c] > lim ? -1 : NOW + 600;
            }
        }
    }
    if (req->mode == PM_METER_FORCE || (req->mode == PM_METER_COMMIT && !hard)) {
        res->counted = 1;
        for (s = 0; s < PM_SCOPE_COUNT; s++)
            if (req->scope[s].id)
                for (c = 0; c < PM_C_COUNT; c++)
                    res->used[s][c] = fake_counts(f, req->scope[s].id)[c] += add[c];
    }
    return 0;
}

/* The fake store's learning start: recorded once, as learning.lua does. */
static int
fake_learning(void *impl, int record, long long keep, long long *start, long long *now, char *err,
              size_t errlen)
{
    struct fake *f = impl;

    (void)keep;
    (void)err;
    (void)errlen;
    *now = NOW + f->shift;
    if (record && !f->learn_start)
        f->learn_start = *now;
    *start = f->learn_start;
    return 0;
}

static const struct pm_store_ops fake_ops = {.meter = fake_meter, .learning = fake_learning};
static struct fake fake;
static struct pm_store store = {&fake_ops, &fake};
static char *local_domains[] = {"example.com"};
static struct pm_cidr nets[1];
static struct pm_plan plans[3];
static struct pm_assign drules[1];
static struct pm_conf conf;

/* A fresh configuration and store for each test. */
static int
setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof(fake));
    memset(&conf, 0, sizeof(conf));
    memset(plans, 0, sizeof(plans));
    plans[0] = (struct pm_plan){
        .name = "default", .lim = {3, 500, 0, 1000, 100, 4}, .action = PM_ACT_TEMPFAIL};
    plans[1] = (struct pm_plan){.name = "tagged", .lim = {2, 0, 0, 0, 0, 0}, .action = PM_ACT_TAG};
    plans[2] =
        (struct pm_plan){.name = "company", .lim = {5, 0, 0, 0, 0, 0}, .action = PM_ACT_REJECT};
    assert_int_equal(pm_cidr_parse("127.0.0.0/8", &nets[0]), 0);
    conf.local_domains = local_domains;
    conf.n_local_domains = 1;
    conf.networks = nets;
    conf.n_networks = 1;
    conf.plans = plans;
    conf.n_plans = 3;
    conf.hour_bucket = 60;
    conf.day_bucket = 600;
    conf.header_name = "X-Postmeter";
    return 0;
}

/* Start a message from an origin. */
static void
start(struct pm_msg *m, const char *addr, const char *login, const char *from)
{
    struct pm_origin o = {addr, NULL, login, 0};

    pm_policy_mail(&conf, &o, from, m);
}

/* Incoming mail and the null sender are never metered and never stored. */
static void
test_not_metered(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    start(&m, "198.51.100.1", NULL, "<stranger@example.org>");
    assert_int_equal(m.outgoing, 0);
    assert_int_equal(m.metered, 0);
    start(&m, "127.0.0.1", NULL, "<>");
    assert_int_equal(m.outgoing, 1);
    assert_int_equal(m.metered, 0);
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_int_equal(fake.calls, 0);
}

/* With a limit of 3, exactly 3 messages pass; the 4th is refused at RCPT. */
static void
test_limit_exact(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i, accepted = 0;

    (void)state;
    for (i = 0; i < 5; i++) {
        start(&m, "127.0.0.1", "Alice@Example.com", "<whatever@example.com>");
        assert_string_equal(m.sender, "alice@example.com");
        pm_policy_rcpt(&conf, &store, &m, "<bob@example.org>", &v);
        if (v.action != PM_ACT_ACCEPT) {
            assert_int_equal(v.action, PM_ACT_TEMPFAIL);
            assert_string_equal(v.reason, "msgs_hour");
            assert_string_equal(v.text, "<alice@example.com>: hourly sending limit reached (3 "
                                        "messages per hour); try again after 13:30 UTC");
            assert_int_equal(m.nrcpt, 0);
            continue;
        }
        pm_policy_eom(&conf, &store, &m, &v);
        assert_int_equal(fake.last_mode, PM_METER_COMMIT);
        if (v.action == PM_ACT_ACCEPT)
            accepted++;
    }
    assert_int_equal(accepted, 3);
    assert_int_equal(fake_counts(&fake, "alice@example.com")[PM_C_MSGS_HOUR], 3);
    assert_int_equal(fake_counts(&fake, "alice@example.com")[PM_C_RCPTS_DAY], 3);
}

/* Internal recipients do not count as external, a repeated one counts once;
 * recipients per message. */
static void
test_recipients(void **state)
{
    static const char *rcpts[] = {"<a@example.com>", "<b@example.org>", "<B@Example.org>",
                                  "<C@EXAMPLE.COM>", "<d@example.net>", "<e@example.net>"};
    struct pm_msg m;
    struct pm_verdict v;
    size_t i;

    (void)state;
    start(&m, "127.0.0.1", NULL, "<alice+x@example.com>");
    for (i = 0; i < 6; i++) {
        pm_policy_rcpt(&conf, &store, &m, rcpts[i], &v);
        if (i < 5)
            assert_int_equal(v.action, PM_ACT_ACCEPT);
    }
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.rcode, "452");
    assert_string_equal(v.reason, "rcpts_per_msg");
    assert_int_equal(m.nrcpt, 4);
    assert_int_equal(m.next, 2);
    assert_int_equal(m.nrefused, 1);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_int_equal(fake.last_rcpts, 2);
}

static struct pm_assign carol_tagged = {PM_MATCH_ADDRESS, "carol@example.com", 1, 1};

/* One message from carol (on the "tagged" plan) to one recipient: the RCPT
 * verdict in rv, the end-of-message verdict in v. */
static void
carol_message(struct pm_msg *m, struct pm_verdict *rv, struct pm_verdict *v)
{
    conf.assign = &carol_tagged;
    conf.n_assign = 1;
    start(m, "127.0.0.1", NULL, "<carol@example.com>");
    pm_policy_rcpt(&conf, &store, m, "<x@example.org>", rv);
    pm_policy_eom(&conf, &store, m, v);
}

/* A tag plan lets mail through over the limit and counts it (a soft scope). */
static void
test_tag_action(void **state)
{
    struct pm_msg m;
    struct pm_verdict rv, v;
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        carol_message(&m, &rv, &v);
        assert_int_equal(rv.action, PM_ACT_ACCEPT);
        assert_int_equal(fake.last_mode, PM_METER_COMMIT);
        assert_int_equal(v.action, i < 2 ? PM_ACT_ACCEPT : PM_ACT_TAG);
    }
    assert_int_equal(fake_counts(&fake, "carol@example.com")[PM_C_MSGS_HOUR], 3);
    /* one probe per recipient and one check-and-count per message */
    assert_int_equal(fake.calls, 6);
}

/* A tag of the quota and a tag of a rule: the header lists both. */
static void
test_tag_both(void **state)
{
    struct pm_rule tag = {.name = "always", .action = PM_ACT_TAG, .reply = "a rule that tags"};
    struct pm_msg m;
    struct pm_verdict rv, v;
    int i;

    (void)state;
    conf.rules = &tag;
    conf.n_rules = 1;
    for (i = 0; i < 3; i++) {
        carol_message(&m, &rv, &v);
        assert_int_equal(v.action, PM_ACT_TAG);
    }
    assert_string_equal(v.reason, "msgs_hour,rule:always");
    assert_string_equal(v.text, "<carol@example.com>: hourly sending limit reached (2 messages per "
                                "hour); try again after 13:30 UTC; always: a rule that tags");
}

/* Dry run: the refusal is computed and marked, the message counts. */
static void
test_dry_run(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    conf.dry_run = 1;
    for (i = 0; i < 4; i++) {
        start(&m, "127.0.0.1", NULL, "<dave@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
        assert_int_equal(m.nrcpt, 1);
        pm_policy_eom(&conf, &store, &m, &v);
        assert_int_equal(fake.last_mode, PM_METER_FORCE);
    }
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(fake_counts(&fake, "dave@example.com")[PM_C_MSGS_HOUR], 4);
}

/* Learning mode: like a dry run, every message passes and counts, the
 * refusals are logged as learning, warm-ups end after the established days;
 * once the store's clock is past the days from the recorded start, limits apply. */
static void
test_learning(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    char line[1024];
    int i;

    (void)state;
    conf.learning_days = 7;
    conf.learning_established_days = 3;
    pm_learning_startup(&conf, &store);
    assert_int_equal(fake.learn_start, NOW);
    for (i = 0; i < 4; i++) {
        start(&m, "127.0.0.1", NULL, "<dave@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
        assert_int_equal(m.nrcpt, 1);
        assert_int_equal(fake.last_wu_learn, 3);
        pm_policy_eom(&conf, &store, &m, &v);
        assert_int_equal(fake.last_mode, PM_METER_FORCE);
    }
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 1);
    assert_int_equal(v.learning, 1);
    pm_policy_format(&conf, &m, &v, "eom", line, sizeof(line));
    assert_non_null(strstr(line, "stage=eom action=tempfail learning=yes reason=msgs_hour "));
    assert_int_equal(fake_counts(&fake, "dave@example.com")[PM_C_MSGS_HOUR], 4);
    /* 7 days later, by the store's clock: the limit refuses at RCPT again */
    fake.shift = 7 * 86400;
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_int_equal(v.dry_run, 0);
    assert_int_equal(v.learning, 0);
    assert_int_equal(m.nrcpt, 0);
    /* (that probe was asked as learning: the store's reply told the time) */
    start(&m, "127.0.0.1", NULL, "<dave@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(fake.last_wu_learn, 0);
    /* a restart keeps the start: still over */
    pm_learning_startup(&conf, &store);
    assert_int_equal(fake.learn_start, NOW);
    assert_int_equal(pm_learning_active(&conf, &store), 0);
}

/* Store errors give the configured answer at RCPT and at end of message. */
static void
test_store_error(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;

    (void)state;
    fake.fail = 1;
    start(&m, "127.0.0.1", NULL, "<erin@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_string_equal(v.reason, "store_error");
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    conf.on_store_error = PM_ONERR_TEMPFAIL;
    start(&m, "127.0.0.1", NULL, "<erin@example.com>");
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    assert_int_equal(v.action, PM_ACT_TEMPFAIL);
    assert_string_equal(v.xcode, "4.3.0");
    assert_int_equal(m.nrcpt, 0);
}

/* A company-wide cap refuses with the domain plan's action and text. */
static void
test_domain_scope(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    char line[1024];
    int i;

    (void)state;
    drules[0] = (struct pm_assign){PM_MATCH_DOMAIN, "example.com", 2, 1};
    conf.domain_assign = drules;
    conf.n_domain_assign = 1;
    plans[0].lim.msgs_hour = 0;
    for (i = 0; i < 6; i++) {
        start(&m, "127.0.0.1", NULL, i % 2 ? "<frank@example.com>" : "<gina@example.com>");
        assert_int_equal(m.dplan, 2);
        pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
        if (v.action == PM_ACT_ACCEPT)
            pm_policy_eom(&conf, &store, &m, &v);
    }
    assert_int_equal(v.action, PM_ACT_REJECT);
    assert_string_equal(v.rcode, "550");
    assert_string_equal(v.reason, "domain_msgs_hour");
    assert_int_equal(fake_counts(&fake, "example.com")[PM_C_MSGS_HOUR], 5);
    pm_policy_format(&conf, &m, &v, "rcpt", line, sizeof(line));
    assert_string_equal(
        line, "stage=rcpt action=reject reason=domain_msgs_hour sender=frank@example.com "
              "plan=default rcpts=0 ext=0 msgs_hour=2/0 msgs_day=2/500 rcpts_hour=2/0 "
              "rcpts_day=2/1000 new_rcpts_day=0/100 domain=example.com domain_plan=company "
              "domain_msgs_hour=5/5 domain_msgs_day=5/0 domain_rcpts_hour=5/0 "
              "domain_rcpts_day=5/0 domain_new_rcpts_day=0/0 cold=0 reply=\"550 5.7.1 "
              "<frank@example.com>: company-wide "
              "hourly sending limit for example.com reached (5 messages per hour); not "
              "sent: ask your administrator\"");
}

/* A sender's tempfail plan under a company plan that holds: over both, the
 * sender's limit refuses and nothing counts; over the company's alone, the
 * message is held and counts. */
static void
test_mixed_actions(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    plans[2].action = PM_ACT_HOLD;
    plans[2].lim.msgs_hour = 2;
    drules[0] = (struct pm_assign){PM_MATCH_DOMAIN, "example.com", 2, 1};
    conf.domain_assign = drules;
    conf.n_domain_assign = 1;
    for (i = 0; i < 5; i++) {
        start(&m, "127.0.0.1", NULL, "<hank@example.com>");
        pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
        assert_int_equal(v.action, i < 3 ? PM_ACT_ACCEPT : PM_ACT_TEMPFAIL);
        pm_policy_eom(&conf, &store, &m, &v);
        assert_int_equal(fake.last_mode, PM_METER_COMMIT);
        /* 1, 2 fit; 3 is over the company's 2 alone: held; 4, 5 over both */
        assert_int_equal(v.action, i < 2 ? PM_ACT_ACCEPT : i == 2 ? PM_ACT_HOLD : PM_ACT_TEMPFAIL);
        assert_string_equal(v.reason, i < 2 ? "ok" : i == 2 ? "domain_msgs_hour" : "msgs_hour");
    }
    assert_int_equal(fake_counts(&fake, "hank@example.com")[PM_C_MSGS_HOUR], 3);
    assert_int_equal(fake_counts(&fake, "example.com")[PM_C_MSGS_HOUR], 3);
}

/* A SASL login that is not an address: its company is the envelope sender's
 * domain; with login_domain, the login becomes an address of that domain. */
static void
test_bare_login(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    char line[1024];

    (void)state;
    drules[0] = (struct pm_assign){PM_MATCH_DOMAIN, "example.com", 2, 1};
    conf.domain_assign = drules;
    conf.n_domain_assign = 1;
    start(&m, "198.51.100.7", "Carol", "<carol@example.com>");
    assert_string_equal(m.sender, "carol");
    assert_string_equal(m.domain, "example.com");
    assert_int_equal(m.dplan, 2);
    pm_policy_rcpt(&conf, &store, &m, "<x@example.org>", &v);
    pm_policy_eom(&conf, &store, &m, &v);
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_int_equal(fake_counts(&fake, "example.com")[PM_C_MSGS_HOUR], 1);
    pm_policy_format(&conf, &m, &v, "eom", line, sizeof(line));
    assert_non_null(strstr(line, " domain=example.com domain_plan=company "));
    conf.login_domain = "Example.COM";
    start(&m, "198.51.100.7", "Carol", "<other@example.net>");
    assert_string_equal(m.sender, "carol@example.com");
    assert_string_equal(m.domain, "example.com");
    start(&m, "198.51.100.7", "dave@example.net", "<carol@example.com>");
    assert_string_equal(m.sender, "dave@example.net");
    assert_string_equal(m.domain, "example.net");
    assert_int_equal(m.dplan, -1);
}

/* Recipients per message: the lower of the sender's plan and its company's. */
static void
test_company_rcpts_per_msg(void **state)
{
    struct pm_msg m;
    struct pm_verdict v;
    int i;

    (void)state;
    plans[2].lim.rcpts_per_msg = 2;
    drules[0] = (struct pm_assign){PM_MATCH_DOMAIN, "example.com", 2, 1};
    conf.domain_assign = drules;
    conf.n_domain_assign = 1;
    start(&m, "127.0.0.1", NULL, "<ida@example.com>");
    for (i = 0; i < 3; i++) {
        char rcpt[32];

        snprintf(rcpt, sizeof(rcpt), "<x%d@example.org>", i);
        pm_policy_rcpt(&conf, &store, &m, rcpt, &v);
        assert_int_equal(v.action, i < 2 ? PM_ACT_ACCEPT : PM_ACT_TEMPFAIL);
    }
    assert_string_equal(v.text, "<ida@example.com>: too many recipients in one message (2 per "
                                "message); send the rest in another message");
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_not_metered, setup),
        cmocka_unit_test_setup(test_limit_exact, setup),
        cmocka_unit_test_setup(test_recipients, setup),
        cmocka_unit_test_setup(test_tag_action, setup),
        cmocka_unit_test_setup(test_tag_both, setup),
        cmocka_unit_test_setup(test_dry_run, setup),
        cmocka_unit_test_setup(test_learning, setup),
        cmocka_unit_test_setup(test_store_error, setup),
        cmocka_unit_test_setup(test_domain_scope, setup),
        cmocka_unit_test_setup(test_mixed_actions, setup),
        cmocka_unit_test_setup(test_bare_login, setup),
        cmocka_unit_test_setup(test_company_rcpts_per_msg, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
