/*
 * test_incident_queue.c - table-driven tests of postmeterctl incident's
 * reader of postqueue -j lines (ctl/incident_queue.c): the top-level string
 * fields queue_name, queue_id and sender, unescaped, whatever else the
 * object holds (nested arrays and objects, numbers, literals, the same names
 * inside the recipients), and lines that are not one JSON object: what
 * each leaves in the fields, always a string within its buffer.
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

#include "incident_queue.h"

/* One line and what it says (rc -1: not one JSON object). */
struct row {
    const char *line;
    int rc;
    const char *queue, *id, *sender;
};

/* Lines as Postfix 3.7 writes them, and broken ones. */
static void
test_parse(void **state)
{
    static const struct row rows[] = {
        {"{\"queue_name\": \"hold\", \"queue_id\": \"4Lq9Xk0vTpz9sJK\", \"arrival_time\": "
         "1796536415, \"message_size\": 431, \"forced_expire\": false, \"sender\": "
         "\"mallory@example.org\", \"recipients\": [{\"address\": \"a@example.net\"}]}\n",
         0, "hold", "4Lq9Xk0vTpz9sJK", "mallory@example.org"},
        /* the names inside a recipient are not the message's */
        {"{\"recipients\": [{\"address\": \"x\", \"queue_name\": \"no\", \"sender\": \"no\", "
         "\"delay_reason\": \"connect to h[1.2.3.4]:25: \\\"refused\\\"\"}], \"queue_name\": "
         "\"deferred\", \"queue_id\": \"A1\", \"sender\": \"\"}",
         0, "deferred", "A1", ""},
        /* escapes: \", \\, \/, \u00e9 (UTF-8), a surrogate pair */
        {"{\"queue_name\":\"hold\",\"queue_id\":\"B2\",\"sender\":\"j\\u00e9r\\\"o\\\\m\\/e"
         "\\ud83d\\ude00@example.org\"}",
         0, "hold", "B2", "j\xc3\xa9r\"o\\m/e\xf0\x9f\x98\x80@example.org"},
        {"  {}  ", 0, "", "", ""},
        {"{\"queue_name\": null, \"queue_id\": 12, \"sender\": true, \"x\": -1.5e3}", 0, "", "",
         ""},
        {"", -1, "", "", ""},
        {"{", -1, "", "", ""},
        {"{\"queue_name\": \"hold\"", -1, "hold", "", ""},
        {"{\"queue_name\": \"hold\",}", -1, "hold", "", ""},
        {"{\"queue_name\": \"hold\"} {}", -1, "hold", "", ""},
        {"{\"queue_name\": \"ho\tld\"}", -1, "", "", ""},
        {"{\"queue_name\": \"\\x41\"}", -1, "", "", ""},
        {"{\"queue_name\": \"\\ud83d\"}", -1, "", "", ""},
        {"{\"a\": tru}", -1, "", "", ""},
        {"[\"hold\"]", -1, "", "", ""},
        /* a value cut off past the buffer's end: "", never a part without its end */
        {"{\"queue_id\": \"ABCD\", \"queue_name\": \"0123456789012345678901234567890123456789", -1,
         "", "ABCD", ""},
        {"{\"a\": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", -1, "", "", ""},
    };
    char queue[32], id[IQ_ID_MAX], sender[320];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc;

        memset(queue, 'X', sizeof(queue)); /* what a caller's buffer held before */
        memset(id, 'X', sizeof(id));
        memset(sender, 'X', sizeof(sender));
        rc = iq_parse_line(rows[i].line, queue, sizeof(queue), id, sizeof(id), sender,
                           sizeof(sender));

        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d, expected %d", i, rc, rows[i].rc);
        /* every field is a string within its buffer, whatever the line */
        assert_true(strnlen(queue, sizeof(queue)) < sizeof(queue));
        assert_true(strnlen(id, sizeof(id)) < sizeof(id));
        assert_true(strnlen(sender, sizeof(sender)) < sizeof(sender));
        assert_string_equal(queue, rows[i].queue);
        assert_string_equal(id, rows[i].id);
        assert_string_equal(sender, rows[i].sender);
    }
}

/* A value too long for its buffer reads as "" (never a truncated queue id). */
static void
test_too_long(void **state)
{
    char queue[8], id[4], sender[320];

    (void)state;
    assert_int_equal(iq_parse_line("{\"queue_name\":\"deferred\",\"queue_id\":\"ABCD\"}", queue,
                                   sizeof(queue), id, sizeof(id), sender, sizeof(sender)),
                     0);
    assert_string_equal(queue, "");
    assert_string_equal(id, "");
}

/* An incident's ids: split at spaces, each once, one too long for a queue id left out. */
static void
test_split(void **state)
{
    struct iq_ids ids = {NULL, 0, 0};

    (void)state;
    assert_int_equal(
        iq_split("  4XyZ1 4XyZ2  4XyZ1 "
                 "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX 4XyZ3 ",
                 &ids),
        0);
    assert_int_equal(ids.n, 3);
    assert_string_equal(ids.id[0], "4XyZ1");
    assert_string_equal(ids.id[1], "4XyZ2");
    assert_string_equal(ids.id[2], "4XyZ3");
    assert_int_equal(iq_split("", &ids), 0);
    assert_int_equal(iq_split("   ", &ids), 0);
    assert_int_equal(ids.n, 3);
    iq_free(&ids);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_split),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
