/*
 * test_dsn.c - table-driven tests of the bounce parser.
 *
 * Every message under tests/dsn has its exact reading in a table
 * (recipients, statuses, actions, classes, flags, original sender); each
 * is parsed as written and with CRLF line ends, which must agree. Every
 * prefix of a Postfix bounce is parsed (a message cut short), and
 * generated inputs cover huge lines, deep nesting, NUL bytes and more
 * recipients than are kept. pm_bounce_classify and
 * pm_bounce_status_from_text are checked on a table of codes and texts.
 * When the shared corpus is present (../shared/corpus), the agreement
 * with bounces/expected.tsv must not fall below the measured floor, the
 * two not-a-bounce samples must read as such, every CRLF copy must read
 * as its LF twin, and exactly the known bounces of the MIME corpus may
 * read as bounces. Without the corpus those tests are skipped.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "dsn.h"
#include "slurp.h"

#define DSN_DIR PM_TEST_SRCDIR "/dsn"
#define BOUNCE_DIR PM_TEST_SRCDIR "/../../shared/corpus/bounces"
#define MIME_DIR PM_TEST_SRCDIR "/../../shared/corpus/mime"

/* One expected recipient. */
struct want_rcpt {
    const char *rcpt, *status, *action;
    enum pm_bounce_class cls;
};

/* The expected reading of one message file. */
struct want {
    const char *file;
    int is_bounce, is_auto;
    const char *sender;
    size_t n;
    struct want_rcpt r[3];
};

#define HARD PM_BOUNCE_HARD
#define BLOCK PM_BOUNCE_BLOCK
#define FULL PM_BOUNCE_FULL
#define SOFT PM_BOUNCE_SOFT

/* tests/dsn: one file per format, plus malformed ones. */
static const struct want table[] = {
    {"postfix.eml",
     1,
     1,
     "alice@example.net",
     2,
     {{"nobody@example.org", "5.1.1", "failed", HARD},
      {"carol@example.com", "5.7.1", "failed", BLOCK}}},
    {"delayed.eml",
     1,
     1,
     "alice@example.net",
     2,
     {{"dave@slow.example.org", "4.4.1", "delayed", SOFT},
      {"erin@full.example.org", "4.2.2", "delayed", FULL}}},
    {"folded.eml",
     1,
     1,
     "bob@example.net",
     3,
     {{"gone@example.org", "5.1.1", "failed", HARD},
      {"frank@example.org", "5.1.1", "failed", HARD},
      {"spam-trap@example.com", "5.7.1", "failed", BLOCK}}},
    {"global.eml",
     1,
     1,
     "grace@example.net",
     1,
     {{"j\xc3\xb6rg@example.de", "5.2.2", "failed", FULL}}},
    {"office365.eml",
     1,
     1,
     "uma@contoso.example",
     2,
     {{"zed@fabrikam.example", "5.1.10", "failed", HARD},
      {"yara@tailspin.example", "5.7.606", "failed", BLOCK}}},
    {"qmail.eml",
     1,
     1,
     "heidi@example.net",
     2,
     {{"ivan@example.org", "5.1.1", "failed", HARD},
      {"judy@example.com", "5.7.1", "failed", BLOCK}}},
    {"exim.eml",
     1,
     1,
     "mallory@example.net",
     2,
     {{"niaj@example.org", "5.1.1", "failed", HARD},
      {"olivia@example.com", "5.2.2", "failed", FULL}}},
    {"sendmail.eml",
     1,
     1,
     "peggy@example.net",
     1,
     {{"rupert@example.org", "5.1.1", "failed", HARD}}},
    {"exchange.eml",
     1,
     1,
     "sybil@corp.example.net",
     1,
     {{"trent@example.org", "5.1.1", "failed", HARD}}},
    {"gmail.eml",
     1,
     1,
     "victor@gmail.example",
     1,
     {{"walter@example.org", "5.7.1", "failed", BLOCK}}},
    {"qq.eml",
     1,
     1,
     "zhang@example.net",
     2,
     {{"xiaoming@qq.example", "5.2.2", "failed", FULL},
      {"lihua@qq.example", "5.1.1", "failed", HARD}}},
    {"truncated.eml",
     1,
     1,
     "alice@example.net",
     2,
     {{"nobody@example.org", "5.1.1", "failed", HARD},
      {"carol@example.com", "5.7.1", "failed", BLOCK}}},
    {"no-boundary.eml",
     1,
     1,
     "alice@example.net",
     2,
     {{"nobody@example.org", "5.1.1", "failed", HARD},
      {"carol@example.com", "5.7.1", "failed", BLOCK}}},
    {"nul-bytes.eml",
     1,
     1,
     "heidi@example.net",
     2,
     {{"ivan@example.org", "5.1.1", "failed", HARD},
      {"judy@example.com", "5.7.1", "failed", BLOCK}}},
    {"vacation.eml", 0, 1, "", 0, {{NULL, NULL, NULL, 0}}},
    {"arf.eml", 0, 1, "", 0, {{NULL, NULL, NULL, 0}}},
    {"list.eml", 0, 1, "", 0, {{NULL, NULL, NULL, 0}}},
    {"not-bounce.eml", 0, 0, "", 0, {{NULL, NULL, NULL, 0}}},
};

/* The message with every bare LF turned into CRLF (caller frees). */
static unsigned char *
to_crlf(const unsigned char *buf, size_t len, size_t *outlen)
{
    unsigned char *out = malloc(2 * len + 1);
    size_t i, o = 0;

    assert_non_null(out);
    for (i = 0; i < len; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            out[o++] = '\r';
        out[o++] = buf[i];
    }
    *outlen = o;
    return out;
}

/* Compare the readings of two parses, field by field except the remote text. */
static void
same_reading(const char *name, const struct pm_bounce *a, const struct pm_bounce *b)
{
    size_t i;

    if (a->is_bounce != b->is_bounce || a->is_auto != b->is_auto || a->n != b->n ||
        strcmp(a->original_sender, b->original_sender) != 0)
        fail_msg("%s: readings differ (bounce %d/%d, n %zu/%zu)", name, a->is_bounce, b->is_bounce,
                 a->n, b->n);
    for (i = 0; i < a->n; i++)
        if (strcmp(a->rcpt[i].rcpt, b->rcpt[i].rcpt) != 0 ||
            strcmp(a->rcpt[i].status, b->rcpt[i].status) != 0 ||
            strcmp(a->rcpt[i].action, b->rcpt[i].action) != 0 || a->rcpt[i].cls != b->rcpt[i].cls)
            fail_msg("%s: recipient %zu differs: %s %s / %s %s", name, i, a->rcpt[i].rcpt,
                     a->rcpt[i].status, b->rcpt[i].rcpt, b->rcpt[i].status);
}

/* Every file of tests/dsn reads exactly as its table row says, LF or CRLF. */
static void
test_files(void **state)
{
    size_t t, i;

    (void)state;
    for (t = 0; t < sizeof(table) / sizeof(table[0]); t++) {
        const struct want *w = &table[t];
        char path[512];
        size_t len, clen;
        unsigned char *buf, *crlf;
        struct pm_bounce *b = calloc(1, sizeof(*b)), *c = calloc(1, sizeof(*c));

        assert_non_null(b);
        assert_non_null(c);
        snprintf(path, sizeof(path), "%s/%s", DSN_DIR, w->file);
        buf = slurp(path, &len);
        if (buf == NULL)
            fail_msg("cannot read %s", path);
        assert_int_equal(pm_bounce_parse(buf, len, b), w->is_bounce);
        if (b->is_bounce != w->is_bounce || b->is_auto != w->is_auto || b->n != w->n)
            fail_msg("%s: bounce %d auto %d n %zu", w->file, b->is_bounce, b->is_auto, b->n);
        assert_string_equal(b->original_sender, w->sender);
        for (i = 0; i < w->n; i++) {
            const struct pm_bounce_rcpt *r = &b->rcpt[i];

            if (strcmp(r->rcpt, w->r[i].rcpt) != 0 || strcmp(r->status, w->r[i].status) != 0 ||
                strcmp(r->action, w->r[i].action) != 0 || r->cls != w->r[i].cls)
                fail_msg("%s: recipient %zu: got %s %s %s %s, want %s %s %s %s", w->file, i,
                         r->rcpt, r->status, r->action, pm_bounce_class_name(r->cls), w->r[i].rcpt,
                         w->r[i].status, w->r[i].action, pm_bounce_class_name(w->r[i].cls));
        }
        crlf = to_crlf(buf, len, &clen);
        pm_bounce_parse(crlf, clen, c);
        same_reading(w->file, b, c);
        free(crlf);
        free(buf);
        free(b);
        free(c);
    }
}

/* The remote text is kept, collapsed: the Postfix report's Diagnostic-Code. */
static void
test_diag(void **state)
{
    size_t len;
    unsigned char *buf = slurp(DSN_DIR "/postfix.eml", &len);
    struct pm_bounce *b = calloc(1, sizeof(*b));

    (void)state;
    assert_non_null(buf);
    assert_non_null(b);
    pm_bounce_parse(buf, len, b);
    assert_string_equal(b->rcpt[0].diag, "550 5.1.1 <nobody@example.org>: Recipient address "
                                         "rejected: User unknown in virtual mailbox table");
    free(buf);
    free(b);
}

/* Every prefix of a bounce parses; a recipient once read keeps its reading. */
static void
test_prefixes(void **state)
{
    size_t len, cut, seen_full = 0;
    unsigned char *buf = slurp(DSN_DIR "/postfix.eml", &len);
    struct pm_bounce *b = calloc(1, sizeof(*b));

    (void)state;
    assert_non_null(buf);
    assert_non_null(b);
    for (cut = 0; cut <= len; cut++) {
        unsigned char *copy = malloc(cut + 1); /* exact size: reads past it are caught */

        assert_non_null(copy);
        memcpy(copy, buf, cut);
        pm_bounce_parse(copy, cut, b);
        free(copy);
        assert_true(b->n <= 2);
        if (b->n == 2 && strcmp(b->rcpt[1].status, "5.7.1") == 0)
            seen_full++;
    }
    /* from the end of the Carol paragraph of the text part on, both are read */
    assert_true(seen_full > len / 2);
    assert_int_equal(b->n, 2);
    free(buf);
    free(b);
}

/* Append s to a growing buffer. */
static void
cat(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

#define CAT(s) cat(&m, &len, &cap, (s), strlen(s))

/* A report with 100 recipients keeps the first 64. */
static void
test_many_recipients(void **state)
{
    char *m = NULL, line[256];
    size_t len = 0, cap = 0, i;
    struct pm_bounce *b = calloc(1, sizeof(*b));

    (void)state;
    assert_non_null(b);
    CAT("From: MAILER-DAEMON@example.net\nContent-Type: multipart/report; "
        "report-type=delivery-status; boundary=B\n\n--B\nContent-Type: "
        "message/delivery-status\n\nReporting-MTA: dns; example.net\n\n");
    for (i = 0; i < 100; i++) {
        snprintf(line, sizeof(line),
                 "Final-Recipient: rfc822; user%zu@example.org\nAction: failed\nStatus: 5.1.1\n\n",
                 i);
        CAT(line);
    }
    CAT("--B--\n");
    assert_int_equal(pm_bounce_parse((unsigned char *)m, len, b), 1);
    assert_int_equal(b->n, PM_BOUNCE_MAX_RCPTS);
    assert_string_equal(b->rcpt[63].rcpt, "user63@example.org");
    assert_int_equal(b->rcpt[63].cls, PM_BOUNCE_HARD);
    free(m);
    free(b);
}

/* Huge lines, deep nesting, NULs only, nothing at all: bounded and calm. */
static void
test_hostile(void **state)
{
    char *m = NULL;
    size_t len = 0, cap = 0, i;
    struct pm_bounce *b = calloc(1, sizeof(*b));
    unsigned char *zeros = calloc(1, 100000);

    (void)state;
    assert_non_null(b);
    assert_non_null(zeros);
    /* a 1 MB header line and a 1 MB body line with an address at the end */
    CAT("From: MAILER-DAEMON@example.net\nSubject: ");
    for (i = 0; i < 1000000; i++)
        cat(&m, &len, &cap, "x", 1);
    CAT("\n\n");
    for (i = 0; i < 1000000; i++)
        cat(&m, &len, &cap, "y", 1);
    CAT(" <lost@example.org>: 550 5.1.1 no such user\n");
    pm_bounce_parse((unsigned char *)m, len, b);
    assert_true(b->n <= 1);
    /* 200 nested multiparts, the report at the bottom is past the depth bound */
    len = 0;
    CAT("From: MAILER-DAEMON@example.net\nContent-Type: multipart/report; boundary=b0\n\n");
    for (i = 0; i < 200; i++) {
        char l[128];

        snprintf(l, sizeof(l), "--b%zu\nContent-Type: multipart/mixed; boundary=b%zu\n\n", i,
                 i + 1);
        CAT(l);
    }
    CAT("--b200\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; "
        "deep@example.org\nAction: failed\nStatus: 5.1.1\n");
    assert_int_equal(pm_bounce_parse((unsigned char *)m, len, b), 0);
    assert_int_equal(b->n, 0);
    /* parts a little larger than the buffers they are decoded into, ending
     * the message exactly (an exact-size copy: reading past it is caught) */
    len = 0;
    CAT("From: MAILER-DAEMON@example.net\nContent-Type: multipart/report; boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\n<big@example.org>: 550 5.1.1 no such user\n");
    for (i = 0; i < 80000; i++)
        cat(&m, &len, &cap, i % 64 == 63 ? "\n" : "t", 1);
    CAT("\n--B\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; "
        "big@example.org\nAction: failed\nStatus: 5.1.1\n");
    for (i = 0; i < 40000; i++)
        cat(&m, &len, &cap, i % 64 == 63 ? "\n" : "r", 1);
    {
        unsigned char *exact = malloc(len);

        assert_non_null(exact);
        memcpy(exact, m, len);
        assert_int_equal(pm_bounce_parse(exact, len, b), 1);
        assert_int_equal(b->n, 1);
        assert_string_equal(b->rcpt[0].rcpt, "big@example.org");
        assert_int_equal(b->rcpt[0].cls, PM_BOUNCE_HARD);
        free(exact);
    }
    /* NUL bytes only, nothing, no message */
    assert_int_equal(pm_bounce_parse(zeros, 100000, b), 0);
    assert_int_equal(pm_bounce_parse((const unsigned char *)"", 0, b), 0);
    assert_int_equal(pm_bounce_parse(NULL, 10, b), 0);
    assert_int_equal(b->n, 0);
    free(zeros);
    free(m);
    free(b);
}

/* A base64 report, a quoted local part and a 2.x.x delivery. */
static void
test_report_variants(void **state)
{
    static const char b64[] =
        "From: MAILER-DAEMON@example.net\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=Q\n\n"
        "--Q\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        /* "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.2\n" */
        "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGFAZXhhbXBsZS5vcmcKQWN0aW9uOiBmYWlsZWQKU3Rh\n"
        "dHVzOiA1LjEuMgo=\n--Q--\n";
    static const char quoted[] =
        "From: MAILER-DAEMON@example.net\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=Q\n\n"
        "--Q\nContent-Type: message/delivery-status\n\n"
        "Final-Recipient: rfc822; \"John..Doe\"@Example.org\nAction: failed\n"
        "Status: 5.1.1\n--Q--\n";
    static const char delivered[] =
        "From: MAILER-DAEMON@example.net\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=Q\n\n"
        "--Q\nContent-Type: message/delivery-status\n\n"
        "Final-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0\n--Q--\n";
    struct pm_bounce *b = calloc(1, sizeof(*b));

    (void)state;
    assert_non_null(b);
    assert_int_equal(pm_bounce_parse((const unsigned char *)b64, sizeof(b64) - 1, b), 1);
    assert_int_equal(b->n, 1);
    assert_string_equal(b->rcpt[0].rcpt, "a@example.org");
    assert_string_equal(b->rcpt[0].status, "5.1.2");
    assert_int_equal(b->rcpt[0].cls, PM_BOUNCE_HARD);
    assert_int_equal(pm_bounce_parse((const unsigned char *)quoted, sizeof(quoted) - 1, b), 1);
    assert_string_equal(b->rcpt[0].rcpt, "\"john..doe\"@example.org");
    assert_int_equal(pm_bounce_parse((const unsigned char *)delivered, sizeof(delivered) - 1, b),
                     1);
    assert_string_equal(b->rcpt[0].action, "delivered");
    assert_int_equal(b->rcpt[0].cls, PM_BOUNCE_NONE);
    free(b);
}

/* One row of the automatic-message table. */
struct auto_row {
    const char *headers; /* header block; the body is one line of text */
    int is_auto;
};

static const struct auto_row auto_table[] = {
    {"From: a@example.org\nSubject: hello\n", 0},
    {"From: a@example.org\nAuto-Submitted: no\n", 0},
    {"From: a@example.org\nAuto-Submitted: auto-generated\n", 1},
    {"From: a@example.org\nAuto-Submitted: auto-replied (vacation)\n", 1},
    {"From: a@example.org\nPrecedence: junk\n", 1},
    {"From: a@example.org\nPrecedence: bulk\n", 1},
    {"From: a@example.org\nList-Id: <l.example.org>\n", 1},
    {"From: a@example.org\nReturn-Path: <>\n", 1},
    {"From: a@example.org\nX-Autoreply: yes\n", 1},
    {"From: a@example.org\nSubject: Out of Office: back Monday\n", 1},
    {"From: a@example.org\nSubject: Automatic reply: Plans\n", 1},
    {"From: a@example.org\nSubject: Re: Out of office\n", 0},
    {"From: a@example.org\nContent-Type: multipart/report; "
     "report-type=disposition-notification; boundary=x\n",
     1},
    {"From: a@example.org\nSubject: Re: Undelivered Mail Returned to Sender\n", 0},
};

/* Automatic messages are told from people's replies; none is a bounce. */
static void
test_auto(void **state)
{
    struct pm_bounce *b = calloc(1, sizeof(*b));
    char msg[512];
    size_t i;

    (void)state;
    assert_non_null(b);
    for (i = 0; i < sizeof(auto_table) / sizeof(auto_table[0]); i++) {
        int n = snprintf(msg, sizeof(msg), "%s\nI will answer soon, bob@example.net.\n",
                         auto_table[i].headers);

        assert_int_equal(pm_bounce_parse((unsigned char *)msg, (size_t)n, b), 0);
        if (b->is_auto != auto_table[i].is_auto)
            fail_msg("row %zu: is_auto %d", i, b->is_auto);
    }
    free(b);
}

/* One row of the classification table. */
struct class_row {
    const char *status, *diag;
    enum pm_bounce_class cls;
    const char *derived; /* pm_bounce_status_from_text(diag), "" when none */
};

static const struct class_row class_table[] = {
    {"5.1.1", NULL, PM_BOUNCE_HARD, ""},
    {"5.1.2", "", PM_BOUNCE_HARD, ""},
    {"5.1.3", "bad address syntax", PM_BOUNCE_HARD, "5.1.3"},
    {"5.1.10", "RESOLVER.ADR.RecipientNotFound", PM_BOUNCE_HARD, "5.1.10"},
    {"5.7.1", "Service unavailable; blocked using zen.spamhaus.org", PM_BOUNCE_BLOCK, "5.7.1"},
    {"5.7.26", "DMARC policy", PM_BOUNCE_BLOCK, "5.7.1"},
    {"5.2.2", NULL, PM_BOUNCE_FULL, ""},
    {"4.2.2", "452 4.2.2 Mailbox full", PM_BOUNCE_FULL, "4.2.2"},
    {"4.0.0", "452 Mailbox over quota", PM_BOUNCE_FULL, "4.2.2"},
    {"4.4.1", "connect to mx: Connection timed out", PM_BOUNCE_SOFT, "4.4.1"},
    {"4.1.1", "450 user unknown", PM_BOUNCE_SOFT, "4.1.1"},
    {"5.3.4", "552 message size exceeds fixed limit", PM_BOUNCE_OTHER, "5.3.4"},
    {"5.1.8", "553 sender address does not exist", PM_BOUNCE_OTHER, "5.1.1"},
    {"5.1.6", "mailbox has moved", PM_BOUNCE_OTHER, ""},
    {"2.0.0", "250 ok", PM_BOUNCE_NONE, ""},
    /* generic codes: the words decide */
    {"5.0.0", "550 User unknown", PM_BOUNCE_HARD, "5.1.1"},
    {"5.0.0", "550 Requested action not taken: mailbox unavailable", PM_BOUNCE_HARD, "5.1.1"},
    {"5.0.0", "Host or domain name not found", PM_BOUNCE_HARD, "5.1.2"},
    {"5.0.0", "554 rejected as spam", PM_BOUNCE_BLOCK, "5.7.1"},
    {"5.0.0", "552 mailbox full", PM_BOUNCE_FULL, "5.2.2"},
    {"5.0.0", "554 transaction failed", PM_BOUNCE_OTHER, "5.0.0"},
    {"5.5.0", "550 No such user here", PM_BOUNCE_HARD, "5.1.1"},
    {"5.2.1", "550 5.2.1 <a@example.org>... User Unknown", PM_BOUNCE_HARD, "5.1.1"},
    {"5.2.1", "550 5.2.1 account disabled", PM_BOUNCE_OTHER, "5.2.1"},
    {"5.4.1", "550 5.4.1 Recipient address rejected: Access denied", PM_BOUNCE_HARD, "5.1.1"},
    /* "no such user" only after the content: a filter, not an invalid address */
    {"5.1.1", "550 5.1.1 User unknown (in reply to end of DATA command)", PM_BOUNCE_BLOCK, "5.1.1"},
    {NULL, "SMTP error from remote mail server after end of data: 550 Unknown user",
     PM_BOUNCE_BLOCK, "5.1.1"},
    {"5.1.1", "Recipient address rejected: User unknown (in reply to end of DATA command)",
     PM_BOUNCE_HARD, "5.1.1"},
    {"5.2.2", "552 5.2.2 over quota (in reply to end of DATA command)", PM_BOUNCE_FULL, "5.2.2"},
    /* no code at all: reply code and words */
    {NULL, "550 5.1.1 <x@example.org>: Recipient address rejected", PM_BOUNCE_HARD, "5.1.1"},
    {NULL, "550 user unknown", PM_BOUNCE_HARD, "5.1.1"},
    {"", "no such user", PM_BOUNCE_HARD, "5.1.1"},
    {NULL, "does not exist", PM_BOUNCE_HARD, "5.1.1"},
    /* a refusal at RCPT TO for a reason no phrase names: not an invalid address */
    {NULL, "Recipient address rejected", PM_BOUNCE_HARD, "5.1.1"},
    {NULL, "550 #5.1.0 Address rejected.", PM_BOUNCE_HARD, "5.1.1"},
    {"5.6.0", "550 5.6.0 <a@example.org>: Recipient address rejected: Media error", PM_BOUNCE_OTHER,
     "5.0.0"},
    {"5.0.0", "550 5.0.0 <a@example.org>: Recipient address rejected: Greylisted", PM_BOUNCE_BLOCK,
     "5.7.1"},
    {"5.0.0", "550 <a@example.org>: Recipient address rejected: Rate limit exceeded",
     PM_BOUNCE_BLOCK, "5.7.1"},
    {NULL, "450 4.7.1 <a@example.org>: Recipient address rejected: Greylisted", PM_BOUNCE_SOFT,
     "4.7.1"},
    {"5.5.0", "550 5.5.0 Too many recipients", PM_BOUNCE_OTHER, "5.5.3"},
    /* refused at MAIL FROM: the sender's side, whatever the words say of a name */
    {"5.1.0",
     "SMTP error from remote mail server after MAIL FROM:<s@example.com>: 553 5.1.0 "
     "example.com does not exist",
     PM_BOUNCE_OTHER, "5.1.1"},
    /* a DNS lookup that failed for now */
    {"5.0.944", "Name service error for domain example.com: Host not found, try again",
     PM_BOUNCE_OTHER, "4.4.3"},
    {NULL, "421 too many connections", PM_BOUNCE_SOFT, "4.4.5"},
    {NULL, "451 mailbox unavailable, try again later", PM_BOUNCE_SOFT, "4.1.1"},
    {NULL, "554 blocked", PM_BOUNCE_BLOCK, "5.7.1"},
    {NULL, "quota exceeded", PM_BOUNCE_FULL, "5.2.2"},
    {NULL, "550 something else", PM_BOUNCE_OTHER, "5.0.0"},
    {NULL, "hello", PM_BOUNCE_NONE, ""},
    {NULL, NULL, PM_BOUNCE_NONE, ""},
};

/* pm_bounce_classify and pm_bounce_status_from_text on the table. */
static void
test_classify(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(class_table) / sizeof(class_table[0]); i++) {
        const struct class_row *c = &class_table[i];
        enum pm_bounce_class got = pm_bounce_classify(c->status, c->diag);
        char derived[16];

        if (got != c->cls)
            fail_msg("classify(%s, %s) = %s, want %s", c->status ? c->status : "NULL",
                     c->diag ? c->diag : "NULL", pm_bounce_class_name(got),
                     pm_bounce_class_name(c->cls));
        pm_bounce_status_from_text(c->diag, derived, sizeof(derived));
        if (strcmp(derived, c->derived) != 0)
            fail_msg("status_from_text(%s) = \"%s\", want \"%s\"", c->diag ? c->diag : "NULL",
                     derived, c->derived);
    }
    assert_string_equal(pm_bounce_class_name(PM_BOUNCE_HARD), "hard");
    assert_string_equal(pm_bounce_class_name(PM_BOUNCE_BLOCK), "block");
    assert_string_equal(pm_bounce_class_name(PM_BOUNCE_FULL), "full");
    assert_string_equal(pm_bounce_class_name(PM_BOUNCE_SOFT), "soft");
    assert_string_equal(pm_bounce_class_name(PM_BOUNCE_OTHER), "other");
    assert_string_equal(pm_bounce_class_name(PM_BOUNCE_NONE), "none");
}

/* Text and JSON output, exact, and cut to small buffers. */
static void
test_output(void **state)
{
    struct pm_bounce *b = calloc(1, sizeof(*b));
    char buf[1024], tiny[8];

    (void)state;
    assert_non_null(b);
    b->is_bounce = b->is_auto = 1;
    strcpy(b->original_sender, "alice@example.net");
    b->n = 1;
    strcpy(b->rcpt[0].rcpt, "bob@example.org");
    strcpy(b->rcpt[0].status, "5.1.1");
    strcpy(b->rcpt[0].action, "failed");
    b->rcpt[0].cls = PM_BOUNCE_HARD;
    strcpy(b->rcpt[0].diag, "550 \"no\" such\\user");
    pm_bounce_text(b, buf, sizeof(buf));
    assert_string_equal(buf,
                        "bounce: yes\nautomatic: yes\noriginal sender: alice@example.net\n"
                        "recipient: bob@example.org 5.1.1 failed hard 550 \"no\" such\\user\n");
    pm_bounce_json(b, buf, sizeof(buf));
    assert_string_equal(buf, "{\"is_bounce\":true,\"is_auto\":true,"
                             "\"original_sender\":\"alice@example.net\",\"recipients\":["
                             "{\"recipient\":\"bob@example.org\",\"status\":\"5.1.1\","
                             "\"action\":\"failed\",\"class\":\"hard\","
                             "\"diag\":\"550 \\\"no\\\" such\\\\user\"}]}");
    pm_bounce_json(b, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    pm_bounce_text(b, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    memset(b, 0, sizeof(*b));
    pm_bounce_json(b, buf, sizeof(buf));
    assert_string_equal(buf, "{\"is_bounce\":false,\"is_auto\":false,\"original_sender\":\"\","
                             "\"recipients\":[]}");
    free(b);
}

/* Parse a corpus file (relative to dir) into p; 0, or -1 when unreadable. */
static int
parse_file(const char *dir, const char *file, struct pm_bounce *b)
{
    char path[8192];
    size_t len;
    unsigned char *buf;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    buf = slurp(path, &len);
    if (buf == NULL)
        return -1;
    pm_bounce_parse(buf, len, b);
    free(buf);
    return 0;
}

/* Is st one of Sisimai's pseudo-codes [45].0.9NN? */
static int
pseudo(const char *st)
{
    return strlen(st) == 7 && (st[0] == '4' || st[0] == '5') && strncmp(st + 1, ".0.9", 4) == 0;
}

/*
 * Measured on the 417 rows of expected.tsv (365 messages + 16 CRLF
 * copies): recipient and status agree on 366 rows (a pseudo-code
 * [45].0.9NN agrees when the class digit does; a row without a status,
 * feedback, vacation or not-a-bounce, agrees when the message is not read
 * as a bounce), and the hard flag agrees (yes = the recipient read as
 * PM_BOUNCE_HARD) on 364 rows. The floors leave no room: a change that
 * loses one row fails here and must be looked at.
 */
#define FLOOR_STATUS 366
#define FLOOR_HARD 364

/* Agreement with bounces/expected.tsv. */
static void
test_corpus(void **state)
{
    FILE *fp = fopen(BOUNCE_DIR "/expected.tsv", "r");
    char line[2048], last[128] = "";
    struct pm_bounce *b = calloc(1, sizeof(*b));
    unsigned rows = 0, agree = 0, hard_agree = 0, nb_files = 0;

    (void)state;
    assert_non_null(b);
    if (fp == NULL) {
        free(b);
        skip();
    }
    assert_non_null(fgets(line, sizeof(line), fp)); /* header */
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *f[5], *p = line;
        size_t k, i;
        const struct pm_bounce_rcpt *got = NULL;
        int ok;

        for (k = 0; k < 5; k++) {
            f[k] = strsep(&p, "\t");
            assert_non_null(f[k]);
        }
        if (strcmp(f[0], last) != 0) {
            snprintf(last, sizeof(last), "%s", f[0]);
            assert_int_equal(parse_file(BOUNCE_DIR, f[0], b), 0);
            nb_files++;
        }
        rows++;
        for (i = 0; i < b->n; i++)
            if (strcasecmp(b->rcpt[i].rcpt, f[1]) == 0)
                got = &b->rcpt[i];
        if (strcmp(f[2], "-") == 0)
            ok = !b->is_bounce;
        else if (got == NULL)
            ok = 0;
        else if (pseudo(f[2]))
            ok = got->status[0] == f[2][0];
        else
            ok = strcmp(got->status, f[2]) == 0;
        agree += ok;
        hard_agree += (got != NULL && got->cls == PM_BOUNCE_HARD) == (strcmp(f[4], "yes") == 0);
    }
    fclose(fp);
    free(b);
    print_message("expected.tsv: %u rows of %u messages; recipient+status agree on %u, "
                  "hard on %u\n",
                  rows, nb_files, agree, hard_agree);
    assert_int_equal(rows, 417);
    assert_true(agree >= FLOOR_STATUS);
    assert_true(hard_agree >= FLOOR_HARD);
}

/* The two ordinary messages of the corpus are not bounces. */
static void
test_corpus_not_bounce(void **state)
{
    struct pm_bounce *b = calloc(1, sizeof(*b));

    (void)state;
    assert_non_null(b);
    if (parse_file(BOUNCE_DIR, "is-not-bounce-01.eml", b) != 0) {
        free(b);
        skip();
    }
    assert_int_equal(b->is_bounce, 0);
    assert_int_equal(b->n, 0);
    assert_int_equal(parse_file(BOUNCE_DIR, "is-not-bounce-02.eml", b), 0);
    assert_int_equal(b->is_bounce, 0);
    assert_int_equal(b->n, 0);
    free(b);
}

/* Each CRLF copy reads exactly as its LF twin (when the twin is there). */
static void
test_corpus_crlf(void **state)
{
    DIR *dir = opendir(BOUNCE_DIR "/crlf");
    struct dirent *de;
    struct pm_bounce *a = calloc(1, sizeof(*a)), *c = calloc(1, sizeof(*c));
    unsigned compared = 0, bounces = 0;

    (void)state;
    assert_non_null(a);
    assert_non_null(c);
    if (dir == NULL) {
        free(a);
        free(c);
        skip();
    }
    while ((de = readdir(dir)) != NULL) {
        char crlf[512];

        if (strstr(de->d_name, ".eml") == NULL)
            continue;
        snprintf(crlf, sizeof(crlf), "crlf/%s", de->d_name);
        assert_int_equal(parse_file(BOUNCE_DIR, crlf, c), 0);
        if (parse_file(BOUNCE_DIR, de->d_name, a) != 0)
            continue; /* no LF twin in the selection */
        same_reading(de->d_name, a, c);
        compared++;
        bounces += a->is_bounce;
    }
    closedir(dir);
    free(a);
    free(c);
    print_message("CRLF copies compared with their LF twins: %u (%u bounces)\n", compared, bounces);
    assert_int_equal(compared, 14);
    assert_int_equal(bounces, 12); /* all but the ARF report and the auto-reply */
}

/* In the MIME corpus exactly these messages are bounces. */
static const char *const mime_bounces[] = {
    "mikel-mail/mime_emails/raw_email_with_mimepart_without_content_type.eml",
    "mikel-mail/multipart_report_emails/multi_address_bounce1.eml",
    "mikel-mail/multipart_report_emails/multipart_report_multiple_status.eml",
    "mikel-mail/multipart_report_emails/report_422.eml",
    "mikel-mail/multipart_report_emails/report_530.eml",
    "mimekit/jwz/jwz-28.eml",
    "mimekit/messages/bounce.txt",
    "mimekit/messages/delivery-status-multiple-blank-lines.txt",
    "mimekit/messages/delivery-status-no-blank-line.txt",
    "mimekit/messages/delivery-status2.txt",
    "mimetools/badbound.msg",
};

/* No ordinary message of the MIME corpus reads as a bounce. */
static void
test_mime_corpus(void **state)
{
    FILE *fp = fopen(MIME_DIR "/INDEX.tsv", "r");
    char line[4096];
    struct pm_bounce *b = calloc(1, sizeof(*b));
    unsigned files = 0, bounces = 0;

    (void)state;
    assert_non_null(b);
    if (fp == NULL) {
        free(b);
        skip();
    }
    assert_non_null(fgets(line, sizeof(line), fp));
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *tab = strchr(line, '\t');
        size_t i;
        int known = 0;

        if (tab == NULL)
            continue;
        *tab = '\0';
        assert_int_equal(parse_file(MIME_DIR, line, b), 0);
        files++;
        for (i = 0; i < sizeof(mime_bounces) / sizeof(mime_bounces[0]); i++)
            known |= strcmp(line, mime_bounces[i]) == 0;
        if (b->is_bounce != known)
            fail_msg("%s: is_bounce %d", line, b->is_bounce);
        bounces += b->is_bounce;
    }
    fclose(fp);
    free(b);
    assert_int_equal(files, 298);
    assert_int_equal(bounces, sizeof(mime_bounces) / sizeof(mime_bounces[0]));
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_diag),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_many_recipients),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_report_variants),
        cmocka_unit_test(test_auto),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_corpus_not_bounce),
        cmocka_unit_test(test_corpus_crlf),
        cmocka_unit_test(test_mime_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
