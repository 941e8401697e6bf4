/*
 * test_charset.c - unit tests of the conversion of text to UTF-8
 * (policy/charset.c): a conversion, a bad byte skipped or marked, an
 * incomplete sequence at the end, a full output, an unknown charset.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "charset.h"

/* One row: in (n bytes) from cs into cap bytes with bad; want, or NULL for -1. */
struct row {
    const char *cs, *in;
    size_t n, cap;
    char bad;
    const char *want;
};

static const struct row rows[] = {
    {"ISO-8859-1", "caf\xe9", 4, 64, '\0', "caf\xc3\xa9"},
    {"ISO-8859-1", "caf\xe9", 4, 64, '?', "caf\xc3\xa9"},
    {"US-ASCII",
     "a\xff"
     "b\xfe"
     "c",
     5, 64, '\0', "abc"},
    {"US-ASCII",
     "a\xff"
     "b\xfe"
     "c",
     5, 64, '?', "a?b?c"},
    {"UTF-16LE", "h\0i\0!", 5, 64, '\0', "hi"}, /* an odd byte at the end */
    {"UTF-16LE", "h\0i\0!", 5, 64, '?', "hi?"},
    {"ISO-8859-1", "\xe9\xe9\xe9", 3, 5, '\0', "\xc3\xa9\xc3\xa9"}, /* no half character */
    {"US-ASCII", "ab\xff", 3, 2, '?', "ab"},                        /* full before the mark */
    {"NO-SUCH-CHARSET", "abc", 3, 64, '?', NULL},
};

/* Each row converts to exactly its want. */
static void
test_rows(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char out[64];
        long n;

        memset(out, 'x', sizeof(out));
        n = pm_charset_to_utf8(rows[i].cs, rows[i].in, rows[i].n, out, rows[i].cap, rows[i].bad);
        if (!rows[i].want) {
            assert_int_equal(n, -1);
            assert_int_equal(out[0], 'x'); /* untouched */
            continue;
        }
        assert_int_equal(n, (long)strlen(rows[i].want));
        assert_memory_equal(out, rows[i].want, (size_t)n);
    }
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
