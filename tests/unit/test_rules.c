/*
 * test_rules.c - content rules: condition parsing, matching "when" and "any"
 * groups, the verdict of several matching rules, and rule configuration
 * errors quoting file:line.
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
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "verdict.h"

/* Condition values: operators, spaces, bad text. */
static void
test_cond_parse(void **state)
{
    static const struct {
        const char *text;
        int rc;
        enum pm_op op;
        long long v;
    } rows[] = {
        {"> 2", 0, PM_OP_GT, 2},   {">=1", 0, PM_OP_GE, 1},    {"= 0", 0, PM_OP_EQ, 0},
        {"==5", 0, PM_OP_EQ, 5},   {"!= 3", 0, PM_OP_NE, 3},   {"< 10", 0, PM_OP_LT, 10},
        {"<= 4 ", 0, PM_OP_LE, 4}, {"7", 0, PM_OP_EQ, 7},      {"> two", -1, PM_OP_EQ, 0},
        {"", -1, PM_OP_EQ, 0},     {"> 2 3", -1, PM_OP_EQ, 0}, {"=> 2", -1, PM_OP_EQ, 0},
    };
    enum pm_op op;
    long long v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_int_equal(pm_cond_parse(rows[i].text, &op, &v), rows[i].rc);
        if (rows[i].rc == 0) {
            assert_int_equal(op, rows[i].op);
            assert_int_equal(v, rows[i].v);
        }
    }
}

/* Load the sample configuration's rules. */
static struct pm_conf *
sample(void)
{
    struct pm_conf *c = NULL;
    char err[512];

    assert_int_equal(pm_conf_load(PM_TEST_SRCDIR "/../etc/postmeter.conf", &c, err, sizeof(err)),
                     0);
    return c;
}

/* The default rules: cold + attachment refuses; cold + rich content tags. */
static void
test_default_rules(void **state)
{
    static const struct {
        long long first, attachments, images, remote, links, shorteners;
        int m0, m1;
        enum pm_action act;
    } rows[] = {
        {0, 1, 0, 0, 0, 0, 0, 0, PM_ACT_ACCEPT},   {1, 0, 0, 0, 2, 0, 0, 0, PM_ACT_ACCEPT},
        {1, 1, 0, 0, 0, 0, 1, 0, PM_ACT_TEMPFAIL}, {1, 0, 1, 0, 0, 0, 0, 1, PM_ACT_TAG},
        {1, 0, 0, 1, 0, 0, 0, 1, PM_ACT_TAG},      {1, 0, 0, 0, 3, 0, 0, 1, PM_ACT_TAG},
        {1, 0, 0, 0, 0, 1, 0, 1, PM_ACT_TAG},      {1, 2, 1, 0, 5, 0, 1, 1, PM_ACT_TEMPFAIL},
        {0, 2, 1, 1, 9, 1, 0, 0, PM_ACT_ACCEPT},
    };
    struct pm_conf *c = sample();
    struct pm_verdict v;
    long long f[PM_F_COUNT];
    int matched[2];
    size_t i;

    (void)state;
    assert_int_equal(c->n_rules, 5);
    assert_int_equal(c->n_shorteners, 20);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(f, 0, sizeof(f));
        f[PM_F_FIRST_CONTACT] = rows[i].first;
        f[PM_F_ATTACHMENTS] = rows[i].attachments;
        f[PM_F_IMAGES] = rows[i].images;
        f[PM_F_REMOTE_IMAGES] = rows[i].remote;
        f[PM_F_LINKS] = rows[i].links;
        f[PM_F_SHORTENER_LINKS] = rows[i].shorteners;
        matched[0] = pm_rule_match(&c->rules[0], f);
        matched[1] = pm_rule_match(&c->rules[1], f);
        assert_int_equal(matched[0], rows[i].m0);
        assert_int_equal(matched[1], rows[i].m1);
        pm_verdict_rules(&v, c->rules, matched, 2, 0, "alice@example.com");
        assert_int_equal(v.action, rows[i].act);
    }
    /* both match: the refusal wins, both are named */
    assert_string_equal(v.reason, "ok");
    matched[0] = matched[1] = 1;
    pm_verdict_rules(&v, c->rules, matched, 2, 0, "alice@example.com");
    assert_string_equal(v.reason, "rule:cold-attachment,rule:cold-rich-content");
    assert_string_equal(v.rcode, "451");
    assert_string_equal(v.xcode, "4.7.1");
    assert_string_equal(v.text, "<alice@example.com>: a first message to a new contact should not "
                                "carry attachments: send a short introduction first and share "
                                "files by link");
    matched[0] = 0;
    pm_verdict_rules(&v, c->rules, matched, 2, 0, "alice@example.com");
    assert_int_equal(v.action, PM_ACT_TAG);
    assert_string_equal(v.text, "cold-rich-content: first contact with images, a tracking pixel, "
                                "more than 2 links or a link shortener");
    /* cold-body-link (the fifth): a first contact with a link in the new text only */
    memset(f, 0, sizeof(f));
    f[PM_F_FIRST_CONTACT] = 1;
    f[PM_F_LINKS] = f[PM_F_SIGNATURE_LINKS] = 1;
    assert_int_equal(pm_rule_match(&c->rules[4], f), 0);
    f[PM_F_LINKS] = 2;
    f[PM_F_BODY_LINKS] = 1;
    assert_int_equal(pm_rule_match(&c->rules[4], f), 1);
    f[PM_F_FIRST_CONTACT] = 0;
    assert_int_equal(pm_rule_match(&c->rules[4], f), 0);
    assert_string_equal(c->rules[4].name, "cold-body-link");
    assert_int_equal(c->rules[4].action, PM_ACT_TAG);
    pm_conf_free(c);
}

/* The subject rules: cold + fake reply refuses with its text; cold + a
 * shouting subject (caps > 70 or more than one "!") tags. */
static void
test_subject_rules(void **state)
{
    static const struct {
        long long first, fake, caps, excl;
        int m2, m3;
        enum pm_action act;
    } rows[] = {
        {1, 1, 0, 0, 1, 0, PM_ACT_TEMPFAIL},   {0, 1, 0, 0, 0, 0, PM_ACT_ACCEPT},
        {1, 0, 71, 0, 0, 1, PM_ACT_TAG},       {1, 0, 70, 1, 0, 0, PM_ACT_ACCEPT},
        {1, 0, 0, 2, 0, 1, PM_ACT_TAG},        {0, 0, 100, 5, 0, 0, PM_ACT_ACCEPT},
        {1, 1, 100, 3, 1, 1, PM_ACT_TEMPFAIL},
    };
    struct pm_conf *c = sample();
    struct pm_verdict v;
    long long f[PM_F_COUNT];
    int matched[4];
    size_t i;

    (void)state;
    assert_string_equal(c->rules[2].name, "cold-fake-reply");
    assert_string_equal(c->rules[3].name, "cold-shouting-subject");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(f, 0, sizeof(f));
        f[PM_F_FIRST_CONTACT] = rows[i].first;
        f[PM_F_FAKE_REPLY] = rows[i].fake;
        f[PM_F_SUBJECT_CAPS] = rows[i].caps;
        f[PM_F_SUBJECT_EXCLAMATIONS] = rows[i].excl;
        matched[0] = matched[1] = 0;
        matched[2] = pm_rule_match(&c->rules[2], f);
        matched[3] = pm_rule_match(&c->rules[3], f);
        assert_int_equal(matched[2], rows[i].m2);
        assert_int_equal(matched[3], rows[i].m3);
        pm_verdict_rules(&v, c->rules, matched, 4, 0, "alice@example.com");
        assert_int_equal(v.action, rows[i].act);
    }
    assert_string_equal(v.text, "<alice@example.com>: a first message to a new contact must not "
                                "pretend to be a reply (\"Re:\" or \"Fwd:\" without an earlier "
                                "message); send it without the prefix");
    pm_conf_free(c);
}

/* A rule in dry run is named with "?" and does not act. */
static void
test_dry_run_rule(void **state)
{
    struct pm_conf *c = sample();
    struct pm_verdict v;
    int matched[2] = {1, 0};

    (void)state;
    c->rules[0].dry_run = 1;
    pm_verdict_rules(&v, c->rules, matched, 2, 0, "alice@example.com");
    assert_int_equal(v.action, PM_ACT_ACCEPT);
    assert_string_equal(v.reason, "rule:cold-attachment?");
    pm_conf_free(c);
}

/* Write text to a temporary file and load it; return the error text. */
static const char *
load_text(const char *text, char *err, size_t len)
{
    char path[] = "/tmp/pm-rules-XXXXXX";
    struct pm_conf *c = NULL;
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    int rc;

    fputs(text, f);
    fclose(f);
    rc = pm_conf_load(path, &c, err, len);
    unlink(path);
    pm_conf_free(c);
    if (rc == 0)
        return "";
    /* drop the temporary path: keep ":LINE: message" */
    return strchr(err, ':');
}

/* Rule configuration errors quote the line. */
static void
test_rule_errors(void **state)
{
    static const struct {
        const char *text, *want;
    } rows[] = {
        {"rules = (\n { name = \"x\"; when = { links = \"> 2\"; }; action = \"tag\"; }\n);\n", ""},
        {"rules = (\n { name = \"x\";\n   when = { linkz = \"> 2\"; }; action = \"tag\"; }\n);\n",
         ":3: when: unknown feature \"linkz\""},
        {"rules = (\n { when = { links = \"lots\"; };\n   action = \"tag\"; }\n);\n",
         ":2: when.links: \"lots\" is not a comparison such as \"> 2\""},
        {"rules = (\n { when = { links = true; }; action = \"tag\"; }\n);\n",
         ":2: when.links: expected a comparison such as \"> 2\""},
        {"rules = (\n { when = { links = 3; };\n   action = \"accept\"; }\n);\n",
         ":3: rules[0].action: \"accept\" is not one of tag, hold, tempfail, reject"},
        {"rules = (\n { name = \"x\"; action = \"tag\"; }\n);\n",
         ":2: x: a rule needs a when or an any group"},
        {"rules = (\n { when = { links = 3; }; action = \"tag\";\n   colour = \"red\"; }\n);\n",
         ":3: unknown key \"rules[0].colour\""},
        {"contacts: {\n  ttl_days = 0;\n};\n", ":2: contacts.ttl_days: 0 is out of range (1-3650)"},
        {"contacts: {\n  secret_file = \"/nonexistent/key\";\n};\n",
         ":2: contacts.secret_file: cannot open /nonexistent/key: No such file or directory"},
        {"contacts: {\n  colour = 1;\n};\n", ":2: unknown key \"contacts.colour\""},
    };
    char err[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_string_equal(load_text(rows[i].text, err, sizeof(err)), rows[i].want);
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_parse),    cmocka_unit_test(test_default_rules),
        cmocka_unit_test(test_subject_rules), cmocka_unit_test(test_dry_run_rule),
        cmocka_unit_test(test_rule_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
