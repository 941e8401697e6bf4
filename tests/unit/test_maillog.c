/*
 * test_maillog.c - table-driven tests of postmeterctl learn's reading of
 * Postfix log lines (ctl/maillog.c): which lines say what, their queue ids,
 * addresses, logins and delivery status, broken lines, and the time of a
 * line (syslog timestamps in the logs' zone with the year of the file,
 * RFC 3339 timestamps with their own offset).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "maillog.h"

/* One line and what it says. */
struct row {
    const char *line;
    int kind;
    const char *qid, *addr, *login;
    int sent;
};

/* Lines of every kind, as Postfix 3.7 writes them, and broken ones. */
static void
test_parse(void **state)
{
    static const struct row rows[] = {
        {"Dec  6 10:00:01 mx postfix/submission/smtpd[11]: 3CDDAA7A252: client=unknown[127.0.0.1], "
         "sasl_method=PLAIN, sasl_username=alice@example.com",
         ML_CLIENT, "3CDDAA7A252", "127.0.0.1", "alice@example.com", 0},
        {"Dec 06 10:00:01 mx postfix/smtpd[11]: 4Lq9Xk0vTpz9sJK: client=h[192.0.2.1], "
         "sasl_method=LOGIN, sasl_username=bob, sasl_sender=x@y",
         ML_CLIENT, "4Lq9Xk0vTpz9sJK", "192.0.2.1", "bob", 0},
        {"Dec  6 10:00:01 mx postfix/smtpd[11]: 6B010A7A265: client=unknown[127.0.0.1]", ML_CLIENT,
         "6B010A7A265", "127.0.0.1", NULL, 0},
        {"Dec  6 10:00:01 mx postfix/smtpd[11]: 6B010A7A266: client=h6[2001:db8::1]", ML_CLIENT,
         "6B010A7A266", "2001:db8::1", NULL, 0},
        {"Dec  6 10:00:01 mx postfix/pickup[12]: 7C020A7A270: uid=1000 from=<dave>", ML_LOCAL,
         "7C020A7A270", NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/pickup[12]: 7C020A7A270: other", ML_OTHER, NULL, NULL, NULL,
         0},
        {"Dec  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: from=<alice@example.com>, size=424, "
         "nrcpt=1 (queue active)",
         ML_FROM, "3CDDAA7A252", "alice@example.com", NULL, 0},
        {"Dec  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: from=<>, size=424, nrcpt=1 (queue "
         "active)",
         ML_FROM, "3CDDAA7A252", "", NULL, 0},
        {"Dec  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: from=<\"a>b\"@example.com>, size=1",
         ML_FROM, "3CDDAA7A252", "\"a>b\"@example.com", NULL, 0},
        {"Dec  6 10:00:02 mx postfix/smtp[14]: 3CDDAA7A252: to=<bob@example.org>, "
         "relay=127.0.0.1[127.0.0.1]:44791, delay=0.07, delays=0.01/0.03/0.01/0.02, dsn=2.0.0, "
         "status=sent (250 2.0.0 Ok)",
         ML_TO, "3CDDAA7A252", "bob@example.org", NULL, 1},
        {"Dec  6 10:00:02 mx postfix/lmtp[14]: 3CDDAA7A252: to=<c@example.com>, orig_to=<d@x>, "
         "relay=dovecot, delay=0.1, dsn=2.0.0, status=sent (250 2.0.0 Saved)",
         ML_TO, "3CDDAA7A252", "c@example.com", NULL, 1},
        {"Dec  6 10:00:02 mx postfix/smtp[14]: 3CDDAA7A252: to=<e@example.org>, relay=none, "
         "delay=30, dsn=4.4.1, status=deferred (connect to x: Connection refused)",
         ML_TO, "3CDDAA7A252", "e@example.org", NULL, 0},
        {"Dec  6 10:00:02 mx postfix/smtp[14]: 3CDDAA7A252: to=<f@example.org>, relay=mx, "
         "dsn=5.1.1, "
         "status=bounced (host said: 550 status=sent)",
         ML_TO, "3CDDAA7A252", "f@example.org", NULL, 0},
        {"Dec  6 10:00:02 mx postfix/smtp[14]: 3CDDAA7A252: to=<g@example.org>, status=sentinel",
         ML_TO, "3CDDAA7A252", "g@example.org", NULL, 0},
        {"2026-12-06T10:00:02.123456+01:00 mx postfix-out/relay/smtp[14]: 3CDDAA7A252: "
         "to=<h@example.org>, relay=mx, dsn=2.0.0, status=sent (250 ok)",
         ML_TO, "3CDDAA7A252", "h@example.org", NULL, 1},
        {"Dec  6 10:00:02 mx postfix/qmgr[13]: 3CDDAA7A252: removed", ML_REMOVED, "3CDDAA7A252",
         NULL, NULL, 0},
        /* lines of no interest */
        {"Dec  6 10:00:01 mx postfix/smtpd[11]: connect from unknown[127.0.0.1]", ML_OTHER, NULL,
         NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/smtpd[11]: NOQUEUE: reject: RCPT from x[192.0.2.9]: 554 "
         "5.7.1 <a@b>: Relay access denied; from=<s@x> to=<a@b> proto=ESMTP helo=<x>",
         ML_OTHER, NULL, NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/cleanup[12]: 3CDDAA7A252: message-id=<1@x>", ML_OTHER, NULL,
         NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/pickup[12]: 3CDDAA7A252: uid=0 from=<root>", ML_LOCAL,
         "3CDDAA7A252", NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: to=<a@b>, status=sent", ML_OTHER, NULL,
         NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/smtp[14]: 3CDDAA7A252: from=<a@b>, status=sent", ML_OTHER,
         NULL, NULL, NULL, 0},
        {"Dec  6 10:00:01 mx dovecot: lmtp(c@example.com): saved mail to INBOX", ML_OTHER, NULL,
         NULL, NULL, 0},
        {"Dec  6 10:00:01 mx kernel[1]: 3CDDAA7A252: to=<a@b>, status=sent", ML_OTHER, NULL, NULL,
         NULL, 0},
        {"Dec  6 10:00:01 mx -- MARK --", ML_OTHER, NULL, NULL, NULL, 0},
        {"Dec  6 10:00:01 mx", ML_OTHER, NULL, NULL, NULL, 0},
        /* broken lines */
        {"", -1, NULL, NULL, NULL, 0},
        {"garbage", -1, NULL, NULL, NULL, 0},
        {"Foo  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: removed", -1, NULL, NULL, NULL, 0},
        {"Dec 32 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: removed", -1, NULL, NULL, NULL, 0},
        {"Dec  6 24:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: removed", -1, NULL, NULL, NULL, 0},
        {"Dec  6 10:00:01", -1, NULL, NULL, NULL, 0},
        {"2026-12-06T10:00:02 mx postfix/qmgr[13]: 3CDDAA7A252: removed", -1, NULL, NULL, NULL, 0},
        {"2026-13-06T10:00:02Z mx postfix/qmgr[13]: 3CDDAA7A252: removed", -1, NULL, NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: from=<a@example.com, size=1", -1, NULL,
         NULL, NULL, 0},
        {"Dec  6 10:00:01 mx postfix/qmgr[13]: 3CDDAA7A252: from=<\"a>@example.com, size=1", -1,
         NULL, NULL, NULL, 0},
        {"Dec  6 10:00:02 mx postfix/smtp[14]: 3CDDAA7A252: to=<b@example.org>, relay=x", -1, NULL,
         NULL, NULL, 0},
        {"Dec  6 10:00:02 mx postfix/qmgr[13]: 0123456789012345678901234567890123: removed", -1,
         NULL, NULL, NULL, 0},
    };
    struct ml_event ev;
    size_t i;
    int k;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];

        k = ml_parse(r->line, strlen(r->line), &ev);
        if (k != r->kind)
            print_error("row %zu: %s\n", i, r->line);
        assert_int_equal(k, r->kind);
        if (k <= ML_OTHER)
            continue;
        assert_string_equal(ev.qid, r->qid);
        if (r->addr) {
            assert_int_equal(ev.addr_len, strlen(r->addr));
            assert_memory_equal(ev.addr, r->addr, ev.addr_len);
        }
        if (r->login) {
            assert_non_null(ev.login);
            assert_int_equal(ev.login_len, strlen(r->login));
            assert_memory_equal(ev.login, r->login, ev.login_len);
        } else {
            assert_null(ev.login);
        }
        assert_int_equal(ev.sent, r->sent);
    }
}

/* A line is read within its length: what follows it is not part of it. */
static void
test_length(void **state)
{
    static const char text[] = "Dec  6 10:00:02 mx postfix/qmgr[13]: 3CDDAA7A252: from=<a@b>, x";
    struct ml_event ev;

    (void)state;
    /* cut inside the address: broken, never read past the cut */
    assert_int_equal(ml_parse(text, strlen(text) - 6, &ev), -1);
    assert_int_equal(ml_parse(text, strlen(text), &ev), ML_FROM);
    /* cut before "removed" is whole */
    assert_int_equal(
        ml_parse("Dec  6 10:00:02 mx postfix/qmgr[13]: 3CDDAA7A252: removedX", 57, &ev),
        ML_REMOVED);
}

/* One timestamp and the Unix time it stands for. */
struct time_row {
    const char *stamp;
    const char *log_tz;   /* the logs' zone */
    long long file_mtime; /* the file's last change */
    long long t;
};

/* Syslog timestamps: the logs' zone, the file's year (or the one before);
 * RFC 3339: their own offset. */
static void
test_time(void **state)
{
    static const struct time_row rows[] = {
        /* 2026-12-06 10:00:02 UTC = 1796551202 */
        {"Dec  6 10:00:02", "UTC", 1796560000, 1796551202},
        {"Dec 06 10:00:02", "UTC", 1796560000, 1796551202},
        /* the same wall time in Shanghai (UTC+8) */
        {"Dec  6 10:00:02", "Asia/Shanghai", 1796560000, 1796551202 - 8 * 3600},
        /* a file changed in January: December is the year before */
        {"Dec 31 23:59:59", "UTC", 1798848000, 1798761599},
        {"Jan  1 00:00:01", "UTC", 1798848000, 1798761601},
        /* a line one day after its file's time is still that year */
        {"Dec  7 10:00:02", "UTC", 1796551202, 1796637602},
        /* RFC 3339 with an offset, Z, and a fraction */
        {"2026-12-06T11:00:02.5+01:00", "UTC", 0, 1796551202},
        {"2026-12-06T10:00:02Z", "Asia/Shanghai", 0, 1796551202},
        {"2026-12-06T05:30:02-04:30", "UTC", 0, 1796551202},
        {"2026-12-06T11:00:02+0100", "UTC", 0, 1796551202},
        /* Feb 30 is no day */
        {"Feb 30 10:00:02", "UTC", 1796560000, -1},
    };
    struct ml_clock clk;
    struct ml_event ev;
    char line[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&clk, 0, sizeof(clk));
        clk.log_tz = rows[i].log_tz;
        clk.tz = ":UTC";
        ml_clock_file(&clk, rows[i].file_mtime);
        snprintf(line, sizeof(line),
                 "%s mx postfix/smtp[1]: 3CDDAA7A252: to=<a@b.example>, status=sent (ok)",
                 rows[i].stamp);
        assert_int_equal(ml_parse(line, strlen(line), &ev), ML_TO);
        if (ml_time(&clk, &ev) != rows[i].t)
            print_error("row %zu: %s: %lld\n", i, rows[i].stamp, ml_time(&clk, &ev));
        assert_true(ml_time(&clk, &ev) == rows[i].t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
