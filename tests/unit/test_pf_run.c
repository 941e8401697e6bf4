/*
 * test_pf_run.c - unit tests of postmeterctl's runner of Postfix's tools
 * (ctl/pf_run.c), with /bin/sh standing in for the tool: its output piece
 * by piece, its exit status, its words on stderr, a signal, a tool that
 * hangs (killed at the bound), an output refused, a tool that cannot run.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pf_run.h"

/* What a run printed, as its out received it. */
struct got {
    char text[256];
    size_t len;
    int refuse; /* 1: refuse the first piece */
};

/* Keep a run's output (pf_run's out). */
static int
keep(void *arg, const char *data, size_t n, char *err, size_t errlen)
{
    struct got *g = arg;

    if (g->refuse) {
        snprintf(err, errlen, "refused %zu bytes", n);
        return -1;
    }
    if (g->len + n < sizeof(g->text)) {
        memcpy(g->text + g->len, data, n);
        g->len += n;
        g->text[g->len] = '\0';
    }
    return 0;
}

/* Run /bin/sh -c script for at most seconds; pf_run's result, err filled. */
static int
sh(const char *script, int seconds, struct got *g, int keep_stderr, char *err, size_t errlen)
{
    const char *args[2] = {"-c", script};
    struct pf_run r = {.name = "/bin/sh",
                       .what = "the tool",
                       .args = args,
                       .nargs = 2,
                       .seconds = seconds,
                       .out = g ? keep : NULL,
                       .arg = g,
                       .keep_stderr = keep_stderr};

    err[0] = '\0';
    return pf_run(&r, err, errlen);
}

/* Its whole output, then 0 for exit status 0; stdin is /dev/null. */
static void
test_output(void **state)
{
    struct got g = {"", 0, 0};
    char err[256];

    (void)state;
    assert_int_equal(sh("printf 'a\\nb'; cat; echo ' done'", 5, &g, 1, err, sizeof(err)), 0);
    assert_string_equal(g.text, "a\nb done\n");
    assert_string_equal(err, "");
}

/* A failure: the exit status, else the first and last lines it said, or a signal. */
static void
test_failures(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(sh("exit 3", 5, NULL, 0, err, sizeof(err)), -1);
    assert_string_equal(err, "the tool failed (exit status 3)");
    assert_int_equal(
        sh("echo one >&2; echo two >&2; printf three >&2; exit 1", 5, NULL, 1, err, sizeof(err)),
        -1);
    assert_string_equal(err, "one; three");
    assert_int_equal(sh("echo warned >&2; exit 0", 5, NULL, 1, err, sizeof(err)), 0);
    assert_int_equal(sh("kill -TERM $$", 5, NULL, 0, err, sizeof(err)), -1);
    assert_string_equal(err, "the tool was killed by signal 15");
}

/* A tool that hangs is killed at the bound, with a pipe open or none. */
static void
test_hang(void **state)
{
    struct got g = {"", 0, 0};
    char err[256];

    (void)state;
    assert_int_equal(sh("echo started; exec sleep 20", 1, &g, 1, err, sizeof(err)), -1);
    assert_string_equal(err, "the tool did not finish in 1 seconds");
    assert_string_equal(g.text, "started\n");
    assert_int_equal(sh("exec sleep 20", 1, NULL, 0, err, sizeof(err)), -1);
    assert_string_equal(err, "the tool did not finish in 1 seconds");
}

/* An output refused ends the run with the refusal; a tool that cannot run says so. */
static void
test_refused_missing(void **state)
{
    struct got g = {"", 0, 1};
    const char *args[1] = {"-j"};
    struct pf_run r = {.name = "/nonexistent/postqueue",
                       .what = "postqueue -j",
                       .args = args,
                       .nargs = 1,
                       .seconds = 5,
                       .keep_stderr = 1};
    char err[256];

    (void)state;
    assert_int_equal(sh("echo hello; exec sleep 20", 5, &g, 0, err, sizeof(err)), -1);
    assert_string_equal(err, "refused 6 bytes");
    assert_int_equal(pf_run(&r, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot run /nonexistent/postqueue: No such file or directory");
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_hang),
        cmocka_unit_test(test_refused_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
