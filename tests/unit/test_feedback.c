/*
 * test_feedback.c - what incoming mail is taken for (policy/feedback.c),
 * with a fake store that records what it is asked: a bounce only with the
 * null sender and only its hard and blocked failures, for each local
 * mailbox; a person's message with its author and the Message-IDs it refers
 * to; automatic mail, quoted bounces and mail a trusted server failed teach
 * nothing. Whether a failure matches mail really sent is the store's script,
 * tested against a real Redis in tests/integration/feedback.sh.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "feedback.h"
#include "siphash.h"

#define MAX_CALLS 8

/* One request the fake store was asked. */
struct call {
    char sender[320], company[320];
    size_t n_fail, n_refs;
    char fail[8][320], status[8][16];
    int hard[8];
    char author_hash[17];
    char refs[PM_FEEDBACK_MAX_REFS][17];
};

static struct call calls[MAX_CALLS];
static int n_calls;

/* The fake store's feedback operation: record the request, answer "learned"
 * or "hard"/"block" as asked. */
static int
fake_feedback(void *impl, const struct pm_feedback_req *req, enum pm_feedback_kind *out, char *err,
              size_t errlen)
{
    struct call *c = &calls[n_calls < MAX_CALLS ? n_calls++ : MAX_CALLS - 1];
    size_t i;

    (void)impl;
    (void)err;
    (void)errlen;
    memset(c, 0, sizeof(*c));
    snprintf(c->sender, sizeof(c->sender), "%s", req->sender);
    snprintf(c->company, sizeof(c->company), "%s", req->company);
    c->n_fail = req->n_fail;
    for (i = 0; i < req->n_fail && i < 8; i++) {
        snprintf(c->fail[i], sizeof(c->fail[i]), "%s", req->fail[i].rcpt);
        snprintf(c->status[i], sizeof(c->status[i]), "%s", req->fail[i].status);
        c->hard[i] = req->fail[i].hard;
        out[i] = req->fail[i].hard ? PM_FB_HARD : PM_FB_BLOCK;
    }
    if (!req->n_fail) {
        snprintf(c->author_hash, sizeof(c->author_hash), "%s", req->author_hash);
        c->n_refs = req->n_refs;
        for (i = 0; i < req->n_refs; i++)
            memcpy(c->refs[i], req->ref_hashes[i], 17);
        out[0] = PM_FB_LEARNED;
    }
    return 0;
}

static const struct pm_store_ops fake_ops = {.feedback = fake_feedback};
static struct pm_store store = {&fake_ops, NULL};
static char *local_domains[] = {"example.com", "other.example"};
static struct pm_conf conf;

/* A fresh configuration and no calls for each test. */
static int
setup(void **state)
{
    (void)state;
    memset(&conf, 0, sizeof(conf));
    memset(conf.contacts_key, 7, sizeof(conf.contacts_key));
    conf.local_domains = local_domains;
    conf.n_local_domains = 2;
    conf.feedback_authserv_id = "mx.example.com";
    n_calls = 0;
    return 0;
}

/* Feed one message: envelope, recipients, then "Name: value\n" headers (a
 * line starting with a blank continues the one before), a blank line and the
 * body, as the milter would. */
static void
feed(const char *envfrom, const char *const *rcpts, const char *msg)
{
    struct pm_feedback f;
    const char *p = msg, *nl;
    char line[4096] = "";

    memset(&f, 0, sizeof(f));
    pm_feedback_start(&f, envfrom);
    for (; *rcpts; rcpts++)
        pm_feedback_rcpt(&f, &conf, *rcpts);
    for (; (nl = strchr(p, '\n')) != NULL && nl != p; p = nl + 1) {
        size_t n = strlen(line);
        char *colon;

        if ((*p == ' ' || *p == '\t') && n) {
            snprintf(line + n, sizeof(line) - n, "\r\n%.*s", (int)(nl - p), p);
            continue;
        }
        if (n) {
            colon = strchr(line, ':');
            assert_non_null(colon);
            *colon = '\0';
            pm_feedback_header(&f, &conf, line, colon + 2);
        }
        snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
    }
    if (line[0]) {
        char *colon = strchr(line, ':');

        assert_non_null(colon);
        *colon = '\0';
        pm_feedback_header(&f, &conf, line, colon + 2);
    }
    if (*p == '\n')
        p++;
    if (pm_feedback_wants_body(&f))
        pm_feedback_body(&f, (const unsigned char *)p, strlen(p));
    pm_feedback_finish(&f, &conf, &store, "TEST");
}

/* The keyed hash of text, as the feedback path computes it. */
static const char *
hash_of(const char *text)
{
    static char h[17];

    pm_siphash_hex(conf.contacts_key, text, strlen(text), h);
    return h;
}

static const char report[] =
    "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
    "To: alice@example.com\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n"
    "\n"
    "--B\n"
    "Content-Type: text/plain\n"
    "\n"
    "This is the mail system at host mx.example.org.\n"
    "--B\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.org\n"
    "\n"
    "Final-Recipient: rfc822; bob@example.org\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: User unknown\n"
    "\n"
    "Final-Recipient: rfc822; carol@example.org\n"
    "Action: failed\n"
    "Status: 5.7.1\n"
    "Diagnostic-Code: smtp; 550 5.7.1 Message rejected as spam\n"
    "\n"
    "Final-Recipient: rfc822; dave@example.org\n"
    "Action: delayed\n"
    "Status: 4.4.1\n"
    "\n"
    "--B--\n";

/* A report with the null sender: one request per local mailbox, with the
 * hard failure and the block, not the delay; relayed recipients are not ours. */
static void
test_bounce(void **state)
{
    const char *rcpts[] = {"<alice@example.com>", "<zed@other.example>", "<x@elsewhere.example>",
                           NULL};

    (void)state;
    feed("<>", rcpts, report);
    assert_int_equal(n_calls, 2);
    assert_string_equal(calls[0].sender, "alice@example.com");
    assert_string_equal(calls[0].company, "example.com");
    assert_string_equal(calls[1].sender, "zed@other.example");
    assert_string_equal(calls[1].company, "other.example");
    assert_int_equal(calls[0].n_fail, 2);
    assert_string_equal(calls[0].fail[0], "bob@example.org");
    assert_string_equal(calls[0].status[0], "5.1.1");
    assert_int_equal(calls[0].hard[0], 1);
    assert_string_equal(calls[0].fail[1], "carol@example.org");
    assert_string_equal(calls[0].status[1], "5.7.1");
    assert_int_equal(calls[0].hard[1], 0);
}

/* The same report with a sender is never a bounce; its From is a mail system,
 * so it teaches no contact either. */
static void
test_report_with_sender(void **state)
{
    const char *rcpts[] = {"<alice@example.com>", NULL};

    (void)state;
    feed("<forger@example.net>", rcpts, report);
    assert_int_equal(n_calls, 0);
}

/* A person forwarding a bounce: a person's message (its author may become a
 * contact), never a bounce. */
static void
test_forwarded_bounce(void **state)
{
    const char *rcpts[] = {"<alice@example.com>", NULL};

    (void)state;
    feed("<pat@example.net>", rcpts,
         "From: Pat <pat@example.net>\n"
         "To: alice@example.com\n"
         "Subject: Fwd: Undelivered Mail Returned to Sender\n"
         "\n"
         "---------- Forwarded message ---------\n"
         "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
         "<bob@example.org>: host mx.example.org said: 550 5.1.1 User unknown\n");
    assert_int_equal(n_calls, 1);
    assert_int_equal(calls[0].n_fail, 0);
    assert_string_equal(calls[0].author_hash, hash_of("pat@example.net"));
}

/* A reply: the ids of In-Reply-To and References (the latest 16) reach the store. */
static void
test_reply_refs(void **state)
{
    const char *rcpts[] = {"<alice@example.com>", "<alice@example.com>", NULL};
    char msg[8192], refs[4096] = "";
    size_t i, off = 0;

    (void)state;
    for (i = 1; i <= 20; i++)
        off += (size_t)snprintf(refs + off, sizeof(refs) - off, " <id%zu@example.com>", i);
    snprintf(msg, sizeof(msg),
             "From: dan@example.net\nTo: alice@example.com\nSubject: Re: catalogue\n"
             "In-Reply-To: < id20@example.com >\nReferences:%s\n\nYes, please.\n",
             refs);
    feed("<Dan+x@Example.NET>", rcpts, msg);
    assert_int_equal(n_calls, 1); /* alice named twice: one mailbox */
    assert_string_equal(calls[0].author_hash, hash_of("dan@example.net"));
    assert_int_equal(calls[0].n_refs, PM_FEEDBACK_MAX_REFS);
    /* a ring of the latest 16: ids 20 (In-Reply-To), then 5 .. 20 of References */
    for (i = 0; i < PM_FEEDBACK_MAX_REFS; i++) {
        char id[64];
        size_t j;
        int found = 0;

        snprintf(id, sizeof(id), "id%zu@example.com", i + 5);
        for (j = 0; j < calls[0].n_refs; j++)
            found |= strcmp(calls[0].refs[j], hash_of(id)) == 0;
        assert_true(found);
    }
}

/* Automatic mail teaches nothing: each kind of header alone. */
static void
test_automatic(void **state)
{
    static const char *const headers[] = {
        "Auto-Submitted: auto-notified\n",
        "Auto-Submitted: auto-replied\n",
        "Precedence: bulk\n",
        "List-Id: <sales.lists.example.net>\n",
        "List-Unsubscribe: <mailto:u@example.net>\n",
        "X-Autoreply: yes\n",
        "Subject: Automatic reply: catalogue\n",
        "From: MAILER-DAEMON@example.net\n",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=x\n",
    };
    const char *rcpts[] = {"<alice@example.com>", NULL};
    char msg[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        n_calls = 0;
        snprintf(msg, sizeof(msg), "To: alice@example.com\n%s\nhello\n", headers[i]);
        feed("<someone@example.net>", rcpts, msg);
        assert_int_equal(n_calls, 0);
    }
    /* "Auto-Submitted: no" is a person */
    n_calls = 0;
    feed("<someone@example.net>", rcpts, "Auto-Submitted: no\n\nhello\n");
    assert_int_equal(n_calls, 1);
}

/* Authentication-Results: a failure counts only from the trusted server id. */
static void
test_authentication_results(void **state)
{
    const char *rcpts[] = {"<alice@example.com>", NULL};

    (void)state;
    feed("<x@example.net>", rcpts,
         "Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=example.net\n\nhi\n");
    assert_int_equal(n_calls, 0);
    feed("<x@example.net>", rcpts,
         "Authentication-Results: MX.example.com;\n dkim=pass; dmarc=fail (p=none)\n\nhi\n");
    assert_int_equal(n_calls, 0);
    /* another server's word, a softfail, a pass: a person's message */
    feed("<x@example.net>", rcpts,
         "Authentication-Results: mx.example.com.evil.example; spf=fail\n\nhi\n");
    feed("<x@example.net>", rcpts, "Authentication-Results: mx.example.com; spf=softfail\n\nhi\n");
    feed("<x@example.net>", rcpts, "Authentication-Results: mx.example.com; dmarc=pass\n\nhi\n");
    assert_int_equal(n_calls, 3);
    /* without a trusted id, no header is trusted */
    conf.feedback_authserv_id = "";
    n_calls = 0;
    feed("<x@example.net>", rcpts, "Authentication-Results: mx.example.com; spf=fail\n\nhi\n");
    assert_int_equal(n_calls, 1);
}

/* A person writing to herself, and a message with no local recipient, teach nothing. */
static void
test_nothing_to_learn(void **state)
{
    const char *self[] = {"<alice@example.com>", NULL}, *none[] = {"<a@elsewhere.example>", NULL};

    (void)state;
    feed("<alice@example.com>", self, "Subject: note to self\n\nhi\n");
    feed("<bob@example.net>", none, "Subject: hi\n\nhi\n");
    assert_int_equal(n_calls, 0);
}

/* The Message-ID of sent mail is hashed the way references are. */
static void
test_msgid_hash(void **state)
{
    char h[17];

    (void)state;
    assert_int_equal(pm_feedback_msgid_hash(&conf, " <abc@example.com> (comment)", h), 0);
    assert_string_equal(h, hash_of("abc@example.com"));
    assert_int_equal(pm_feedback_msgid_hash(&conf, "no brackets", h), -1);
    assert_int_equal(pm_feedback_msgid_hash(&conf, "<>", h), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_bounce, setup),
        cmocka_unit_test_setup(test_report_with_sender, setup),
        cmocka_unit_test_setup(test_forwarded_bounce, setup),
        cmocka_unit_test_setup(test_reply_refs, setup),
        cmocka_unit_test_setup(test_automatic, setup),
        cmocka_unit_test_setup(test_authentication_results, setup),
        cmocka_unit_test_setup(test_nothing_to_learn, setup),
        cmocka_unit_test_setup(test_msgid_hash, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
