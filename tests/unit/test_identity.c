/*
 * test_identity.c - table-driven tests of direction, sender identity,
 * address normalisation, external recipients and CIDR matching.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "identity.h"

static char *local_domains[] = {"example.com", "corp.example"};
static char *daemon_names[] = {"ORIGINATING"};
static struct pm_cidr nets[2];
static struct pm_conf conf;

/* Build the configuration the tests share. */
static int
setup(void **state)
{
    (void)state;
    memset(&conf, 0, sizeof(conf));
    conf.local_domains = local_domains;
    conf.n_local_domains = 2;
    conf.daemon_names = daemon_names;
    conf.n_daemon_names = 1;
    assert_int_equal(pm_cidr_parse("192.0.2.0/24", &nets[0]), 0);
    assert_int_equal(pm_cidr_parse("2001:db8::/32", &nets[1]), 0);
    conf.networks = nets;
    conf.n_networks = 2;
    return 0;
}

/* Address normalisation: brackets, case, extensions, quotes, domain dot, null sender, bad input. */
static void
test_normalise(void **state)
{
    static const struct {
        const char *in, *out;
        int rc;
    } rows[] = {
        {"<Alice@Example.COM>", "alice@example.com", 0},
        {"alice+news@example.com", "alice@example.com", 0},
        {"<alice+a+b@example.com>", "alice@example.com", 0},
        {" <bob@example.com> ", "bob@example.com", 0},
        {"<@relay.example,@b.example:carol@example.com>", "carol@example.com", 0},
        {"<+tag@example.com>", "+tag@example.com", 0},
        {"<>", "", 1},
        {"", "", 1},
        {"<a\001b@example.com>", NULL, -1},
        {"<a b@example.com>", NULL, -1},
        {"<\"John Doe\"@Example.com>", "\"john doe\"@example.com", 0},
        {"<\"a+b c\"@example.com>", "\"a+b c\"@example.com", 0},
        {"<\"a\\\" b\"@example.com>", "\"a\\\" b\"@example.com", 0},
        {"<\"a\" b@example.com>", NULL, -1},
        /* one mailbox, one string: every spelling below is alice@example.com */
        {"<\"alice\"@example.com>", "alice@example.com", 0},
        {"<\"Alice\"@Example.COM>", "alice@example.com", 0},
        {"<alice@example.com.>", "alice@example.com", 0},
        {"<\"alice\"@EXAMPLE.com.>", "alice@example.com", 0},
        {"<\"al\\ice\"@example.com>", "alice@example.com", 0},
        {"<\"alice+news\"@example.com>", "alice@example.com", 0},
        {"<@relay.example:\"alice\"@example.com.>", "alice@example.com", 0},
        {"<@a.example,@b.example:Alice@Example.com>", "alice@example.com", 0},
        {"< alice@example.com >", "alice@example.com", 0},
        {"<<alice@example.com>>", "alice@example.com", 0},
        {"\"alice\"", "alice", 0},
        {"<\"bob\"@customer.example>", "bob@customer.example", 0},
        {"<\"first\".last@example.com>", "first.last@example.com", 0},
        /* quotes that are needed stay, with only the escapes that are needed */
        {"<\"john\\ doe\"@example.com>", "\"john doe\"@example.com", 0},
        {"<\"john\".\" doe\"@example.com>", "\"john. doe\"@example.com", 0},
        {"<\"a..b\"@example.com>", "\"a..b\"@example.com", 0},
        {"<\".alice\"@example.com>", "\".alice\"@example.com", 0},
        {"<\"a@b\"@example.com>", "\"a@b\"@example.com", 0},
        {"<\"a\\\\b\"@example.com>", "\"a\\\\b\"@example.com", 0},
        {"<\"\"@example.com>", "\"\"@example.com", 0},
        /* what is not folded: a domain literal, an empty label, a bare dot */
        {"<bob@[192.0.2.1]>", "bob@[192.0.2.1]", 0},
        {"<bob@[IPv6:2001:DB8::1]>", "bob@[ipv6:2001:db8::1]", 0},
        {"<bob@example.com..>", "bob@example.com..", 0},
        {"<bob@.>", "bob@.", 0},
        {"<bob.@example.com>", "bob.@example.com", 0},
        /* an unterminated quote is kept as written (as before), still an address */
        {"<\"Bob@Example.com.>", "\"bob@example.com", 0},
        {"<\"bob\\\"@example.com>", "\"bob\\\"@example.com", 0},
        {"<a\"b+c@example.com>", "a\"b+c@example.com", 0},
    };
    char out[PM_ADDR_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = pm_addr_normalise(rows[i].in, out, sizeof(out));

        assert_int_equal(rc, rows[i].rc);
        if (rows[i].out)
            assert_string_equal(out, rows[i].out);
        if (rc == 0) { /* the metering form is its own metering form */
            char again[PM_ADDR_MAX];

            assert_int_equal(pm_addr_normalise(out, again, sizeof(again)), 0);
            assert_string_equal(again, out);
        }
    }
    assert_int_equal(pm_addr_normalise("<alice@example.com>", out, 8), -1);
    assert_int_equal(pm_addr_normalise("<\"alice\"@example.com.>", out, 18), 0);
    assert_string_equal(out, "alice@example.com");
}

/* The sender is the SASL login when present, else the envelope sender. */
static void
test_sender_identity(void **state)
{
    char out[PM_ADDR_MAX];

    (void)state;
    assert_int_equal(pm_sender_identity("Alice@Example.com", "<bob@example.com>", out, sizeof(out)),
                     0);
    assert_string_equal(out, "alice@example.com");
    assert_int_equal(pm_sender_identity("alice", "<bob@example.com>", out, sizeof(out)), 0);
    assert_string_equal(out, "alice");
    assert_int_equal(pm_sender_identity(NULL, "<Bob+x@Example.com>", out, sizeof(out)), 0);
    assert_string_equal(out, "bob@example.com");
    assert_int_equal(pm_sender_identity("", "<>", out, sizeof(out)), 1);
    assert_int_equal(pm_sender_identity("alice@example.com", "<>", out, sizeof(out)), 0);
    assert_string_equal(pm_addr_domain("alice@example.com"), "example.com");
    assert_string_equal(pm_addr_domain("alice"), "");
}

/* Direction: authenticated, daemon name, client network, local injection, or incoming. */
static void
test_outgoing(void **state)
{
    static const struct {
        const char *addr, *daemon, *login;
        int local, out;
    } rows[] = {
        {"198.51.100.7", NULL, "alice", 0, 1},
        {"198.51.100.7", "ORIGINATING", NULL, 0, 1},
        {"198.51.100.7", "originating", NULL, 0, 0},
        {"198.51.100.7", NULL, "", 0, 0},
        {"192.0.2.200", NULL, NULL, 0, 1},
        {"192.0.3.1", NULL, NULL, 0, 0},
        {"::ffff:192.0.2.9", NULL, NULL, 0, 1},
        {"2001:db8:1::25", NULL, NULL, 0, 1},
        {"[2001:db8::1]", NULL, NULL, 0, 1},
        {"IPv6:2001:db8::1", NULL, NULL, 0, 1},
        {"2001:db9::1", NULL, NULL, 0, 0},
        {NULL, NULL, NULL, 0, 0},
        {"not-an-address", NULL, NULL, 0, 0},
        {"192.0.3.1", NULL, NULL, 1, 1},
        {NULL, NULL, NULL, 1, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct pm_origin o = {rows[i].addr, rows[i].daemon, rows[i].login, rows[i].local};

        assert_int_equal(pm_is_outgoing(&conf, &o), rows[i].out);
    }
}

/* External recipients: any domain not in local_domains. */
static void
test_external(void **state)
{
    (void)state;
    assert_int_equal(pm_is_external(&conf, "bob@example.com"), 0);
    assert_int_equal(pm_is_external(&conf, "bob@Corp.Example"), 0);
    assert_int_equal(pm_is_external(&conf, "bob@sub.example.com"), 1);
    assert_int_equal(pm_is_external(&conf, "bob@example.org"), 1);
}

/* CIDR parsing and bounds. */
/* Plain addresses, those a notice may go to, and those it may not. */
static void
test_plain(void **state)
{
    static const char *const yes[] = {"alice@example.com", "a.b+c@mx.example.co.uk",
                                      "o'neil@example.org"};
    static const char *const no[] = {"",
                                     "alice",
                                     "@example.com",
                                     "alice@",
                                     "alice@localhost",
                                     "-x@example.com",
                                     "a@b@example.com",
                                     "al ice@example.com",
                                     "\"al\"@example.com",
                                     "al<x>@example.com",
                                     "al\r\nBcc:@example.com",
                                     "a;b@example.com"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!pm_addr_plain(yes[i], 254))
            fail_msg("%s: not plain", yes[i]);
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (pm_addr_plain(no[i], 254))
            fail_msg("%s: plain", no[i]);
    assert_int_equal(pm_addr_plain("alice@example.com", 17), 1); /* 17 bytes: the bound */
    assert_int_equal(pm_addr_plain("alice@example.com", 16), 0);
}

static void
test_cidr(void **state)
{
    static const struct {
        const char *net, *addr;
        int parse, match;
    } rows[] = {
        {"10.0.0.0/8", "10.255.1.2", 0, 1}, {"10.0.0.0/8", "11.0.0.1", 0, 0},
        {"10.1.2.3", "10.1.2.3", 0, 1},     {"10.1.2.3", "10.1.2.4", 0, 0},
        {"0.0.0.0/0", "203.0.113.5", 0, 1}, {"10.1.2.3/31", "10.1.2.2", 0, 1},
        {"::1/128", "::1", 0, 1},           {"::1/128", "127.0.0.1", 0, 0},
        {"fe80::/10", "febf::1", 0, 1},     {"fe80::/10", "fec0::1", 0, 0},
        {"10.0.0.0/33", NULL, -1, 0},       {"::/129", NULL, -1, 0},
        {"10.0.0.0/", NULL, -1, 0},         {"10.0.0.0/x", NULL, -1, 0},
        {"example.com", NULL, -1, 0},
    };
    struct pm_cidr n;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(pm_cidr_parse(rows[i].net, &n), rows[i].parse);
        if (rows[i].parse == 0)
            assert_int_equal(pm_cidr_match(&n, rows[i].addr), rows[i].match);
    }
}

/* Which Redis hosts are this machine's loopback (no warning about a link in clear). */
static void
test_loopback(void **state)
{
    static const struct {
        const char *host;
        int loopback;
    } rows[] = {
        {"127.0.0.1", 1},
        {"127.1.2.3", 1},
        {"::1", 1},
        {"[::1]", 1},
        {"::ffff:127.0.0.1", 1},
        {"localhost", 1},
        {"LocalHost.", 1},
        {"128.0.0.1", 0},
        {"10.0.0.5", 0},
        {"::2", 0},
        {"redis.example.com", 0},
        {"localhost.example", 0},
        {"0.0.0.0", 0},
        {"", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (pm_cidr_is_loopback(rows[i].host) != rows[i].loopback)
            fail_msg("%s: want %d", rows[i].host, rows[i].loopback);
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise), cmocka_unit_test(test_sender_identity),
        cmocka_unit_test(test_outgoing),  cmocka_unit_test(test_external),
        cmocka_unit_test(test_cidr),      cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_plain),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
