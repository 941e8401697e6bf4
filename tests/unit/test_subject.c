/*
 * test_subject.c - the Subject's facts: RFC 2047 decoding (B and Q, UTF-8,
 * GB2312, GBK, GB18030, Big5, Shift_JIS, ISO-8859-1, an unknown charset, raw
 * 8-bit bytes), subject_caps, subject_exclamations, subject_spam_words,
 * subject_length, the reply and forward prefixes, the references count, the
 * same facts whatever the chunking, and the spam word list's bounds.
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
#include "scan.h"

/* One Subject value and what it must give. */
struct row {
    const char *raw;     /* the header value as libmilter hands it */
    const char *decoded; /* UTF-8 */
    unsigned length, caps, excl, spam;
    int prefix;
};

static const struct row rows[] = {
    {"=?utf-8?B?5Zue5aSNOiDmiqXku7fljZU=?=",
     "\xe5\x9b\x9e\xe5\xa4\x8d: \xe6\x8a\xa5\xe4\xbb\xb7\xe5\x8d\x95", 7, 0, 0, 0,
     1}, /* 回复: 报价单 */
    {"=?gb2312?B?u9i4tKO6w+K30dH5xrc=?=",
     "\xe5\x9b\x9e\xe5\xa4\x8d\xef\xbc\x9a\xe5\x85\x8d\xe8\xb4\xb9\xe6\xa0\xb7\xe5\x93\x81", 7, 0,
     0, 1, 1}, /* 回复：免费样品 */
    {"=?gbk?Q?=D7=AA=B7=A2:_=B4=FA=BF=AA=B7=A2=C6=B1?=",
     "\xe8\xbd\xac\xe5\x8f\x91: \xe4\xbb\xa3\xe5\xbc\x80\xe5\x8f\x91\xe7\xa5\xa8", 8, 0, 0, 1,
     1}, /* 转发: 代开发票 */
    {"=?big5?B?pl7C0Dogs/i7+Q==?=", "\xe5\x9b\x9e\xe8\xa6\x86: \xe5\xa0\xb1\xe5\x83\xb9", 6, 0, 0,
     0, 1}, /* 回覆: 報價 */
    {"=?iso-8859-1?Q?=DCBER_ANGEBOT!!?=",
     "\xc3\x9c"
     "BER ANGEBOT!!",
     14, 100, 2, 0, 0},
    {"=?gb18030?B?tPC4tKO6z97KsdPFu92joaOh?=",
     "\xe7\xad\x94\xe5\xa4\x8d\xef\xbc\x9a\xe9\x99\x90\xe6\x97\xb6\xe4\xbc\x98\xe6\x83\xa0\xef\xbc"
     "\x81\xef\xbc\x81",
     9, 0, 2, 2, 1}, /* 答复：限时优惠！！ */
    {"=?utf-8?Q?FW:_Gr=C3=B6=C3=9Fe?=",
     "FW: Gr\xc3\xb6\xc3\x9f"
     "e",
     9, 0, 0, 0, 1},
    {"=?shift_jis?B?UmU6IIypkM+C4ILo?=", "Re: \xe8\xa6\x8b\xe7\xa9\x8d\xe3\x82\x82\xe3\x82\x8a", 8,
     0, 0, 0, 1}, /* Re: 見積もり */
    {"=?utf-8?B?77ym77yy77yl77ylIO+8r++8pu+8pu+8pe+8siDvvK7vvK/vvLfvvIE=?=",
     "\xef\xbc\xa6\xef\xbc\xb2\xef\xbc\xa5\xef\xbc\xa5 \xef\xbc\xaf\xef\xbc\xa6\xef\xbc\xa6\xef\xbc"
     "\xa5\xef\xbc\xb2 \xef\xbc\xae\xef\xbc\xaf\xef\xbc\xb7\xef\xbc\x81",
     15, 100, 1, 1, 0}, /* full-width FREE OFFER NOW! */
    {"URGENT: CLAIM YOUR FREE PRIZE NOW!!!", "URGENT: CLAIM YOUR FREE PRIZE NOW!!!", 36, 100, 3, 2,
     0},
    {"Quick question about your Q3 plans", "Quick question about your Q3 plans", 34, 7, 0, 0, 0},
    {"Freedom of choice", "Freedom of choice", 17, 6, 0, 0, 0},
    {"Act Now: limited time, 100% FREE", "Act Now: limited time, 100% FREE", 32, 28, 0, 4, 0},
    {"HI BOB!", "HI BOB!", 7, 0, 1, 0, 0},
    {" =?utf-8?Q?Re:_hello?=\r\n =?utf-8?Q?_world?= ", "Re: hello world", 15, 8, 0, 0, 1},
    {"=?x-unknown?Q?caf=E9?=", "caf\xe9", 4, 0, 0, 0, 0},
    {"\xc3\xe2\xb7\xd1", "\xc3\xe2\xb7\xd1", 4, 0, 0, 0, 0}, /* raw GBK 免费: a character a byte */
    {"", "", 0, 0, 0, 0, 0},
};

/* Every row decodes and counts exactly. */
static void
test_rows(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct pm_features f;
        char out[PM_SUBJECT_MAX];

        memset(&f, 0, sizeof(f));
        pm_subject_decode(r->raw, out, sizeof(out));
        if (strcmp(out, r->decoded) != 0)
            print_error("row %zu: decoded \"%s\"\n", i, out);
        assert_string_equal(out, r->decoded);
        pm_subject_facts(out, NULL, 0, &f);
        if (f.subject_length != r->length || f.subject_caps != r->caps ||
            f.subject_exclamations != r->excl || f.subject_spam_words != r->spam ||
            f.reply_prefix != r->prefix)
            print_error("row %zu: length %u caps %u excl %u spam %u prefix %d\n", i,
                        f.subject_length, f.subject_caps, f.subject_exclamations,
                        f.subject_spam_words, f.reply_prefix);
        assert_int_equal(f.subject_length, r->length);
        assert_int_equal(f.subject_caps, r->caps);
        assert_int_equal(f.subject_exclamations, r->excl);
        assert_int_equal(f.subject_spam_words, r->spam);
        assert_int_equal(f.reply_prefix, r->prefix);
    }
}

/* Every listed prefix form, and look-alikes that are none. */
static void
test_prefixes(void **state)
{
    static const struct {
        const char *s;
        size_t len;
    } t[] = {
        {"Re: x", 3},
        {"RE: x", 3},
        {"re:x", 3},
        {"rE :x", 4},
        {"  Re:  x", 5},
        {"AW: x", 3},
        {"aw: x", 3},
        {"SV: x", 3},
        {"Fwd: x", 4},
        {"FWD: x", 4},
        {"FW: x", 3},
        {"fw : x", 4},
        {"Re\xef\xbc\x9ax", 5},                        /* full-width colon */
        {"\xe5\x9b\x9e\xe5\xa4\x8d: x", 7},            /* 回复: */
        {"\xe5\x9b\x9e\xe5\xa4\x8d\xef\xbc\x9ax", 9},  /* 回复： */
        {"\xe7\xad\x94\xe5\xa4\x8d : x", 8},           /* 答复 : */
        {"\xe8\xbd\xac\xe5\x8f\x91\xef\xbc\x9a x", 9}, /* 转发： */
        {"Re x", 0},
        {"Regarding: x", 0},
        {"Reply: x", 0},
        {"Fwdx: x", 0},
        {"Sv", 0},
        {"Re", 0},
        {"x Re: y", 0},
        {"\xe5\x9b\x9e\xe5\xa4\x8d x", 0}, /* 回复 without a colon */
        {"", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (pm_subject_reply_prefix(t[i].s) != t[i].len)
            print_error("\"%s\": %zu\n", t[i].s, pm_subject_reply_prefix(t[i].s));
        assert_int_equal(pm_subject_reply_prefix(t[i].s), t[i].len);
    }
}

/* A configured list replaces the built-in one; ASCII case is ignored. */
static void
test_words(void **state)
{
    static const char *const words[] = {"quote", "act now", "\xe6\x8a\xa5\xe4\xbb\xb7"};
    struct pm_features f;

    (void)state;
    memset(&f, 0, sizeof(f));
    pm_subject_facts("Your QUOTE - ACT NOW (\xe6\x8a\xa5\xe4\xbb\xb7)", words, 3, &f);
    assert_int_equal(f.subject_spam_words, 3);
    pm_subject_facts("quotes, free", words, 3, &f); /* word boundary; "free" is not listed */
    assert_int_equal(f.subject_spam_words, 0);
    pm_subject_facts("free", words, 0, &f); /* an empty list: nothing */
    assert_int_equal(f.subject_spam_words, 0);
}

/* Through the scan: the first Subject counts, references are counted (an
 * empty "<>" is not one, as the milter reads them), and
 * chunks of 1 and 7 bytes give the same features as the whole message. */
static void
test_message(void **state)
{
    static const char msg[] = "From: a@example.com\r\n"
                              "Subject: =?utf-8?B?5Zue5aSNOiDmiqXku7fljZU=?=\r\n"
                              "Subject: SECOND SUBJECT IGNORED!!\r\n"
                              "In-Reply-To: <1@example.com>\r\n"
                              "References: <0@example.com>\r\n <1@example.com> <> < >\r\n"
                              "Content-Type: text/plain\r\n"
                              "\r\n"
                              "Hello!!!\r\n";
    struct pm_features whole, one, seven;

    (void)state;
    assert_int_equal(
        pm_scan_message_chunked(NULL, (const unsigned char *)msg, strlen(msg), 0, &whole), 0);
    assert_int_equal(whole.subject_length, 7);
    assert_int_equal(whole.subject_exclamations, 0);
    assert_int_equal(whole.subject_caps, 0);
    assert_int_equal(whole.reply_prefix, 1);
    assert_int_equal(whole.references, 3);
    assert_int_equal(
        pm_scan_message_chunked(NULL, (const unsigned char *)msg, strlen(msg), 1, &one), 0);
    assert_int_equal(
        pm_scan_message_chunked(NULL, (const unsigned char *)msg, strlen(msg), 7, &seven), 0);
    assert_memory_equal(&whole, &one, sizeof(whole));
    assert_memory_equal(&whole, &seven, sizeof(whole));
}

/* Load a configuration text; 0 and *c, or -1 and err. */
static int
load(const char *text, struct pm_conf **c, char *err, size_t errlen)
{
    char path[] = "/tmp/test_subject.XXXXXX";
    int fd = mkstemp(path), rc;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    rc = pm_conf_load(path, c, err, errlen);
    if (rc < 0 && (strstr(err, path) == err))
        memmove(err, err + strlen(path), strlen(err + strlen(path)) + 1); /* ":N: ..." */
    unlink(path);
    return rc;
}

/* scan.subject_spam_words: defaults, a list, and its bounds with file:line. */
static void
test_conf(void **state)
{
    struct pm_conf *c = NULL;
    char err[512], text[32768];
    size_t off, i;

    (void)state;
    assert_int_equal(load("user = \"\";\n", &c, err, sizeof(err)), 0);
    assert_int_equal(c->n_subject_spam_words, pm_scan_default_n_spam_words);
    pm_conf_free(c);
    assert_int_equal(load("scan: {\n  subject_spam_words = [ \"Quote\", \"act now\" ];\n};\n", &c,
                          err, sizeof(err)),
                     0);
    assert_int_equal(c->n_subject_spam_words, 2);
    assert_string_equal(c->subject_spam_words[0], "quote"); /* lower case */
    pm_conf_free(c);
    /* full-width ASCII is folded as the subject's is: "ＦＲＥＥ Ｇｉｆｔ！" finds "Free Gift!" */
    assert_int_equal(load("scan: {\n  subject_spam_words = [ \"\xef\xbc\xa6\xef\xbc\xb2\xef\xbc"
                          "\xa5\xef\xbc\xa5 \xef\xbc\xa7\xef\xbd\x89\xef\xbd\x86\xef\xbd\x94"
                          "\xef\xbc\x81\" ];\n};\n",
                          &c, err, sizeof(err)),
                     0);
    assert_string_equal(c->subject_spam_words[0], "free gift!");
    {
        struct pm_features f;

        memset(&f, 0, sizeof(f));
        pm_subject_facts("Free Gift! inside", (const char *const *)c->subject_spam_words,
                         c->n_subject_spam_words, &f);
        assert_int_equal(f.subject_spam_words, 1);
    }
    pm_conf_free(c);
    assert_int_equal(
        load("scan: {\n  subject_spam_words = [\n \"\" ];\n};\n", &c, err, sizeof(err)), -1);
    assert_string_equal(err, ":3: scan.subject_spam_words[0]: \"\" must be 1 to 64 bytes");
    assert_int_equal(
        load("scan: {\n  subject_spam_words = [ \"a\\tb\" ];\n};\n", &c, err, sizeof(err)), -1);
    assert_string_equal(err,
                        ":2: scan.subject_spam_words[0]: a word must not hold a control character");
    assert_int_equal(load("scan: {\n  subject_spam_words = [ "
                          "\"12345678901234567890123456789012345678901234567890123456789012345\" ];"
                          "\n};\n",
                          &c, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, ":2: scan.subject_spam_words[0]: \"1234"));
    off = (size_t)snprintf(text, sizeof(text), "scan: {\n  subject_spam_words = [");
    for (i = 0; i < PM_SUBJECT_WORDS_MAX + 1; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%s\"w%zu\"", i ? ", " : "", i);
    snprintf(text + off, sizeof(text) - off, " ];\n};\n");
    assert_int_equal(load(text, &c, err, sizeof(err)), -1);
    assert_string_equal(err, ":2: scan.subject_spam_words: 257 entries, at most 256");
    /* any list is bounded before its entries are read */
    {
        size_t len = 16 * (PM_CONF_LIST_MAX + 2);
        char *big = malloc(len);

        assert_non_null(big);
        off = (size_t)snprintf(big, len, "local_domains = [");
        for (i = 0; i < PM_CONF_LIST_MAX + 1; i++)
            off += (size_t)snprintf(big + off, len - off, "%s\"d%zu.test\"", i ? "," : "", i);
        snprintf(big + off, len - off, " ];\n");
        assert_int_equal(load(big, &c, err, sizeof(err)), -1);
        assert_string_equal(err, ":1: local_domains: 10001 entries, at most 10000");
        free(big);
    }
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),  cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_words), cmocka_unit_test(test_message),
        cmocka_unit_test(test_conf),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
