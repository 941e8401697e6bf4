/*
 * test_notice_smtp.c - table-driven tests of the SMTP submission's pieces:
 * the reply reader (milter/notice_smtp.c: one-line and multi-line replies,
 * incomplete and malformed ones, what follows a reply), notify.smtp's
 * address and port (policy/conf_notify.c) and the no_new_privs check of
 * /proc/self/status's text.
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

#include "notice_int.h"

/* One reply buffer and what the reader says of it. */
struct reply_row {
    const char *buf;
    int rc, code;
    size_t used;
};

/* Replies whole, in parts, with LF only, followed by more, and broken. */
static void
test_reply(void **state)
{
    static const struct reply_row rows[] = {
        {"220 mx ESMTP\r\n", 1, 220, 14},
        {"250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n", 1, 250, 38},
        {"250\r\n", 1, 250, 5},
        {"354 go\n", 1, 354, 7},
        {"250-mx\r\n250 ok\r\n221 bye\r\n", 1, 250, 16},
        {"554-5.3.2 busy\r\n554 5.3.2 later\r\n", 1, 554, 33},
        {"250-mx\r\n250-PIPE", 0, 0, 0},
        {"250 ok", 0, 0, 0},
        {"", 0, 0, 0},
        {"250-mx\r\n", 0, 0, 0},
        {"250-mx\r\n251 ok\r\n", -1, 0, 0},
        {"HTTP/1.1 400 Bad\r\n", -1, 0, 0},
        {"25\r\n", -1, 0, 0},
        {"250x\r\n", -1, 0, 0},
        {"650 no\r\n", -1, 0, 0},
        {"1a0 no\r\n", -1, 0, 0},
    };
    size_t i, used;
    int code, rc;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        code = 0;
        used = 0;
        rc = pm_notice_smtp_reply(rows[i].buf, strlen(rows[i].buf), &code, &used);
        if (rc != rows[i].rc)
            fail_msg("row %zu \"%s\": rc %d, want %d", i, rows[i].buf, rc, rows[i].rc);
        if (rc == 1) {
            assert_int_equal(code, rows[i].code);
            assert_int_equal(used, rows[i].used);
        }
    }
}

/* One notify.smtp value and what it splits into (host NULL: refused). */
struct addr_row {
    const char *v, *host;
    int port;
};

/* IPv4 and bracketed IPv6 with a port; names, missing or bad parts refused. */
static void
test_split(void **state)
{
    static const struct addr_row rows[] = {
        {"127.0.0.1:25", "127.0.0.1", 25},
        {"[::1]:587", "::1", 587},
        {"[2001:db8::25]:65535", "2001:db8::25", 65535},
        {"10.0.0.1:1", "10.0.0.1", 1},
        {"localhost:25", NULL, 0},
        {"127.0.0.1", NULL, 0},
        {"127.0.0.1:", NULL, 0},
        {"127.0.0.1:0", NULL, 0},
        {"127.0.0.1:65536", NULL, 0},
        {"127.0.0.1:025000", NULL, 0},
        {"127.0.0.1:-1", NULL, 0},
        {"127.0.0.1:25 ", NULL, 0},
        {"::1:25", NULL, 0},
        {"[::1]25", NULL, 0},
        {"[::1:25", NULL, 0},
        {"[127.0.0.1]:25", NULL, 0},
        {":25", NULL, 0},
        {"[]:25", NULL, 0},
        {"1.2.3.4.5:25", NULL, 0},
        {"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:25", NULL, 0},
    };
    char host[64], why[256];
    size_t i;
    int port, rc;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        port = 0;
        why[0] = '\0';
        rc = pm_notify_smtp_split(rows[i].v, host, sizeof(host), &port, why, sizeof(why));
        if (rows[i].host) {
            if (rc != 0)
                fail_msg("\"%s\" refused: %s", rows[i].v, why);
            assert_string_equal(host, rows[i].host);
            assert_int_equal(port, rows[i].port);
        } else {
            if (rc != -1)
                fail_msg("\"%s\" taken as %s port %d", rows[i].v, host, port);
            assert_non_null(strstr(why, "must be an IP address and a port"));
        }
    }
}

/* The NoNewPrivs line of /proc/self/status, set or not, or missing. */
static void
test_nnp(void **state)
{
    (void)state;
    assert_int_equal(pm_notice_nnp_text("Name:\tpostmeter\nUmask:\t0022\nNoNewPrivs:\t1\n"
                                        "Seccomp:\t2\n"),
                     1);
    assert_int_equal(pm_notice_nnp_text("Name:\tpostmeter\nNoNewPrivs:\t0\nSeccomp:\t0\n"), 0);
    assert_int_equal(pm_notice_nnp_text("NoNewPrivs: 1"), 1);
    assert_int_equal(pm_notice_nnp_text("Name:\tNoNewPrivs:\t1\n"), 0);
    assert_int_equal(pm_notice_nnp_text("Name:\tpostmeter\n"), 0);
    assert_int_equal(pm_notice_nnp_text(""), 0);
    assert_int_equal(pm_notice_nnp("/nonexistent/status"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_nnp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
