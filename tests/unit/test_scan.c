/*
 * test_scan.c - table-driven tests of the streaming content scan.
 *
 * Every message under tests/scan has its exact features in a table; each
 * is scanned whole and in chunks of 1 and 7 bytes, which must agree.
 * Generated inputs cover deep nesting, huge headers, a full URL set and
 * libmilter-style folded headers. When the shared MIME corpus is present
 * (../shared/corpus/mime), every message in it and in the bounce corpus
 * is scanned with the same chunk check, a hand-checked subset has its counts asserted, and
 * disagreements with INDEX.tsv (a rough, differently defined summary) are
 * reported, not asserted.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scan.h"
#include "slurp.h"

#define SCAN_DIR PM_TEST_SRCDIR "/scan"
#define CORPUS_DIR PM_TEST_SRCDIR "/../../shared/corpus/mime"
#define BOUNCE_DIR PM_TEST_SRCDIR "/../../shared/corpus/bounces"

/* Expected features of one message file. */
struct expect {
    const char *file;
    const char *problems;
    unsigned parts, depth, attachments, attached_images, inline_images, remote_images, links,
        shortener_links;
    int has_html, has_calendar, has_tnef, is_signed, is_encrypted;
};

/* tests/scan: every structure named in the scanner's requirements. */
static const struct expect scan_table[] = {
    /* file                     problems  parts dep att aimg inl rimg links short html cal tnef sig
       enc */
    {"plain-links.eml", "", 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0},
    {"nested.eml", "", 4, 3, 1, 0, 1, 1, 2, 0, 1, 0, 0, 0, 0},
    {"rfc822.eml", "", 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"rfc2231.eml", "", 3, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"rfc2047.eml", "", 3, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0},
    {"smime-signed.eml", "", 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
    {"pgp-signed.eml", "", 2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0},
    {"tnef.eml", "", 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    {"calendar-alternative.eml", "", 3, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0},
    {"calendar-attached.eml", "", 3, 2, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
    {"alternative-image.eml", "", 4, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"amp-alternative.eml", "", 3, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
    {"missing-boundary.eml", "missing_boundary", 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    {"boundary-never.eml", "boundary_not_found", 1, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
    {"nested-boundary-never.eml", "boundary_not_found", 2, 2, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
    {"missing-end.eml", "missing_end_boundary", 2, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    {"truncated-base64.eml", "truncated_base64", 2, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    {"nul-bytes.eml", "nul_bytes", 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
    {"gbk-base64.eml", "", 1, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0},
    {"big5-qp.eml", "", 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0},
    {"iso2022jp.eml", "", 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    {"sjis-html.eml", "", 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0},
    {"latin1-qp.eml", "", 1, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0},
    {"qp-softbreak.eml", "", 2, 1, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0},
    {"tracking-pixel.eml", "", 1, 0, 0, 0, 0, 1, 2, 0, 1, 0, 0, 0, 0},
    {"cid-before.eml", "", 2, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0},
    {"cid-after.eml", "", 4, 2, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 0},
    {"shorteners.eml", "", 1, 0, 0, 0, 0, 0, 5, 3, 0, 0, 0, 0, 0},
    {"duplicate-links.eml", "", 2, 1, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0},
    {"unknown-subtype.eml", "", 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"no-content-type.eml", "", 3, 1, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
    {"digest.eml", "", 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"encrypted.eml", "", 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    /* a 4 KB tracking link in the text part (QP, twice) and in the HTML part
       (QP soft breaks inside it, &amp; in href and text): one link */
    {"long-link-alternative.eml", "", 2, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0},
    /* two 4 KB links that differ in their last byte, one of them twice */
    {"long-links-differ.eml", "", 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0},
    /* replies of each mail client (test_scan_place reads where their links are) */
    {"outlook-web-reply.eml", "", 2, 1, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0},
    {"outlook-desktop-reply.eml", "", 1, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0},
    {"qq-mail-reply.eml", "", 2, 1, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0},
    {"qq-mail-signature.eml", "", 1, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0},
    {"foxmail-reply.eml", "", 2, 1, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0},
    {"netease-reply.eml", "", 2, 1, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0},
    {"netease-pre-quote.eml", "", 1, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0},
    {"netease-mailmaster-reply.eml", "", 1, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0},
};

/* Corpus messages whose counts were checked by reading them. */
static const struct expect corpus_table[] = {
    {"enmime/mail/html-mime-inline.raw", "", 3, 2, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0},
    {"enmime/mail/mime-signed.raw", "", 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
    {"mikel-mail/attachment_emails/attachment_message_rfc822.eml", "", 2, 1, 1, 0, 0, 0, 0, 0, 0, 0,
     0, 0, 0},
    {"mimekit/tnef/ukr.eml", "", 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
    {"mimetools/multi-badnames.msg", "", 3, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    {"rspamd/alternative-related.eml", "", 4, 2, 3, 2, 0, 0, 1, 0, 1, 0, 0, 0, 0},
    {"rspamd/bad_message.eml", "", 26, 2, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0, 0},
    {"rspamd/url_query_nesting.eml", "", 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0},
    {"enmime/low-quality/bad-final-boundary.raw", "missing_end_boundary", 3, 1, 1, 0, 0, 0, 0, 0, 0,
     0, 0, 0, 0},
    {"enmime/mail/header-only.raw", "boundary_not_found", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

/* Scan buf whole and in 1- and 7-byte chunks; they must agree. */
static void
scan_three(const char *name, const unsigned char *buf, size_t len, struct pm_features *f)
{
    struct pm_features f1, f7;
    char a[1024], b[1024];

    assert_int_equal(pm_scan_message(NULL, buf, len, f), 0);
    assert_int_equal(pm_scan_message_chunked(NULL, buf, len, 1, &f1), 0);
    assert_int_equal(pm_scan_message_chunked(NULL, buf, len, 7, &f7), 0);
    if (memcmp(f, &f1, sizeof(*f)) != 0 || memcmp(f, &f7, sizeof(*f)) != 0) {
        pm_features_text(f, a, sizeof(a));
        pm_features_text(memcmp(f, &f1, sizeof(*f)) != 0 ? &f1 : &f7, b, sizeof(b));
        fail_msg("%s: chunked scan differs:\n  whole: %s\n  chunk: %s", name, a, b);
    }
}

/* Compare f with the expected row. */
static void
check_row(const struct expect *e, const struct pm_features *f)
{
    char t[1024];

    pm_features_text(f, t, sizeof(t));
    print_message("%s: %s\n", e->file, t);
    assert_string_equal(f->problems, e->problems);
    assert_int_equal(f->complete, e->problems[0] == '\0');
    assert_int_equal(f->parts, e->parts);
    assert_int_equal(f->depth, e->depth);
    assert_int_equal(f->attachments, e->attachments);
    assert_int_equal(f->attached_images, e->attached_images);
    assert_int_equal(f->inline_images, e->inline_images);
    assert_int_equal(f->remote_images, e->remote_images);
    assert_int_equal(f->links, e->links);
    assert_int_equal(f->shortener_links, e->shortener_links);
    assert_int_equal(f->has_html, e->has_html);
    assert_int_equal(f->has_calendar, e->has_calendar);
    assert_int_equal(f->has_tnef, e->has_tnef);
    assert_int_equal(f->is_signed, e->is_signed);
    assert_int_equal(f->is_encrypted, e->is_encrypted);
}

/* Whether every line of buf ends with CRLF. */
static int
crlf_only(const unsigned char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            return 0;
    return len > 0;
}

/* Scan one file of a table and check it. */
static void
check_file(const char *dir, const struct expect *e)
{
    char path[1024];
    unsigned char *buf;
    size_t len = 0;
    struct pm_features f;

    snprintf(path, sizeof(path), "%s/%s", dir, e->file);
    buf = slurp(path, &len);
    if (buf == NULL)
        fail_msg("cannot read %s", path);
    scan_three(e->file, buf, len, &f);
    /* with CRLF line ends and "Name: value" headers, size is the file size */
    if (crlf_only(buf, len) && strcmp(dir, SCAN_DIR) == 0)
        assert_int_equal(f.size, len);
    check_row(e, &f);
    free(buf);
}

/* Every committed test message, and no message without its row. */
static void
test_messages(void **state)
{
    size_t i, n = sizeof(scan_table) / sizeof(scan_table[0]), files = 0;
    DIR *d = opendir(SCAN_DIR);
    struct dirent *e;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        files += strlen(e->d_name) > 4 && strcmp(e->d_name + strlen(e->d_name) - 4, ".eml") == 0;
    closedir(d);
    assert_int_equal(files, n);
    for (i = 0; i < n; i++)
        check_file(SCAN_DIR, &scan_table[i]);
}

/* Headers fed one call each as libmilter gives them, body in odd chunks. */
static void
test_streaming_api(void **state)
{
    static const char body[] =
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
        "\r\nPGEgaHJlZj0iaHR0cDovL3N0cmVhbS5leGFtcGxlLmNvbS8iPng8L2E+PGltZyBzcmM9ImNpZDpp\r\n"
        "MSI+\r\n--b1\r\nContent-Type: image/gif\r\nContent-ID: <i1>\r\n\r\nR0lGODlh\r\n"
        "--b1\r\nContent-Type: application/zip;\r\n\tname=\"a.zip\"\r\n\r\nPK\r\n--b1--\r\n";
    struct pm_scan *s = pm_scan_new(NULL);
    struct pm_features f;
    size_t i, k;

    (void)state;
    assert_non_null(s);
    pm_scan_header(s, "From", "a@example.org");
    pm_scan_header(s, "Content-Type", "multipart/related;\r\n\tboundary=\"b1\"");
    for (i = 0; i < sizeof(body) - 1; i += k) {
        k = (i * 7 + 3) % 64 + 1;
        if (k > sizeof(body) - 1 - i)
            k = sizeof(body) - 1 - i;
        pm_scan_body(s, (const unsigned char *)body + i, k);
    }
    pm_scan_finish(s, &f);
    pm_scan_free(s);
    assert_int_equal(f.complete, 1);
    assert_int_equal(f.parts, 3);
    assert_int_equal(f.links, 1);
    assert_int_equal(f.inline_images, 1);
    assert_int_equal(f.attachments, 1);
    assert_int_equal(f.attached_images, 0);
    /* "From: a@example.org\r\n" + "Content-Type: ...\r\n" + blank line + body */
    assert_int_equal(f.size, (4 + 13 + 4) + (12 + 34 + 4) + 2 + sizeof(body) - 1);
}

/* Build a message nested n multiparts deep with a link at the bottom. */
static char *
deep_message(int n)
{
    size_t cap = (size_t)n * 120 + 256, o = 0;
    char *m = malloc(cap);
    int i;

    assert_non_null(m);
    o += (size_t)snprintf(m + o, cap - o, "Content-Type: multipart/mixed; boundary=\"d0\"\n\n");
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(
            m + o, cap - o, "--d%d\nContent-Type: multipart/mixed; boundary=\"d%d\"\n\n", i, i + 1);
    o += (size_t)snprintf(m + o, cap - o, "--d%d\n\nhttp://deep.example.com/\n--d%d--\n", n, n);
    for (i = n - 1; i >= 0; i--)
        o += (size_t)snprintf(m + o, cap - o, "--d%d--\n", i);
    return m;
}

/* Nesting within the limit is followed; beyond it, skipped and reported. */
static void
test_depth(void **state)
{
    struct pm_features f;
    char *m;

    (void)state;
    m = deep_message(PM_SCAN_MAX_DEPTH - 2);
    scan_three("depth 31", (unsigned char *)m, strlen(m), &f);
    assert_string_equal(f.problems, "");
    assert_int_equal(f.depth, PM_SCAN_MAX_DEPTH - 1);
    assert_int_equal(f.parts, 1);
    assert_int_equal(f.links, 1);
    free(m);
    m = deep_message(200);
    scan_three("depth 201", (unsigned char *)m, strlen(m), &f);
    assert_string_equal(f.problems, "depth_limit");
    assert_int_equal(f.complete, 0);
    assert_int_equal(f.depth, PM_SCAN_MAX_DEPTH);
    assert_int_equal(f.parts, 0);
    assert_int_equal(f.links, 0);
    free(m);
}

/* A huge header and a huge body line are bounded and reported. */
static void
test_huge(void **state)
{
    size_t n = 200000, o;
    char *m = malloc(2 * n + 256);
    struct pm_features f;

    (void)state;
    assert_non_null(m);
    o = (size_t)sprintf(m, "Content-Type: text/plain; x=\"");
    memset(m + o, 'a', n);
    o += n;
    o += (size_t)sprintf(m + o, "\"\n\nhttp://huge.example.com/");
    memset(m + o, 'b', n);
    o += n;
    o += (size_t)sprintf(m + o, " http://huge.example.com/x\n");
    scan_three("huge", (unsigned char *)m, o, &f);
    assert_string_equal(f.problems, "header_too_long");
    assert_int_equal(f.parts, 1);
    /* both URLs are compared whole: the first is 200 KB long */
    assert_int_equal(f.links, 2);
    assert_int_equal(f.size, o + 2);
    free(m);
}

/* Beyond max_links_tracked, new links still count; custom shorteners. */
static void
test_conf(void **state)
{
    static const char *const sh[] = {"example.net"};
    static const char msg[] =
        "Content-Type: text/plain\n\n"
        "http://a.example.net/1 http://b.example.org/2 http://c.example.org/3 "
        "http://example.net/4 http://d.example.org/5 http://e.example.org/6\n";
    struct pm_scan_conf conf = {sh, 1, 4, NULL, 0};
    struct pm_features f;

    (void)state;
    assert_int_equal(pm_scan_message(&conf, (const unsigned char *)msg, sizeof(msg) - 1, &f), 0);
    assert_int_equal(f.links, 6);
    assert_int_equal(f.shortener_links, 2);
    conf.max_links_tracked = 0;
    assert_int_equal(pm_scan_message(&conf, (const unsigned char *)msg, sizeof(msg) - 1, &f), 0);
    assert_int_equal(f.links, 6);
}

/* Comments end where a browser ends them ("<!-->", "<!--->", "--!>"), so
 * links after them are seen; a link inside a comment is not. */
static void
test_html_comments(void **state)
{
    static const struct {
        const char *html;
        unsigned links, remote_images;
    } rows[] = {
        {"<body><!--><a href=\"http://one.example/\">x</a><img src=\"http://px.example/p.gif\">", 1,
         1},
        {"<!---><a href=\"http://two.example/\">x</a>", 1, 0},
        {"<!-- http://hidden.example/ --!><a href=\"http://three.example/\">x</a>", 1, 0},
        {"<!-- -> http://hidden.example/ --><a href=http://four.example/>x</a>", 1, 0},
        {"<!----><a href=\"http://five.example/\">x</a><!-- http://hidden.example/ -->", 1, 0},
        {"<!-- a --!x http://hidden.example/ -->http://six.example/", 1, 0},
    };
    char msg[512];
    struct pm_features f;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(msg, sizeof(msg), "Content-Type: text/html\n\n%s\n", rows[i].html);
        scan_three(rows[i].html, (const unsigned char *)msg, strlen(msg), &f);
        if (f.links != rows[i].links || f.remote_images != rows[i].remote_images)
            fail_msg("%s: links %u, remote images %u", rows[i].html, f.links, f.remote_images);
    }
}

/* A percent-encoded host is the host it decodes to. */
static void
test_url_percent_host(void **state)
{
    static const char msg[] = "Content-Type: text/html\n\n"
                              "<a href=\"https://%62it.ly/abc\">a</a>"
                              "<a href=\"https://BIT.LY/abc\">b</a>"
                              "<a href=\"http://%33%36%30.example/\">c</a>\n";
    struct pm_features f;

    (void)state;
    scan_three("percent host", (const unsigned char *)msg, sizeof(msg) - 1, &f);
    assert_int_equal(f.links, 2);
    assert_int_equal(f.shortener_links, 1);
}

/* Links of any length compare whole: a long path given in text, in href
 * (with &amp;) and in img src; a shortener host before a long path. */
static void
test_long_urls(void **state)
{
    static const struct {
        const char *fmt; /* %s: the long path */
        unsigned links, shortener_links, remote_images;
    } rows[] = {
        {"Content-Type: text/html\n\nhttps://t.example/c?%s&a=1 "
         "<a href=\"https://T.Example/c?%s&amp;a=1\">x</a>\n",
         1, 0, 0},
        {"Content-Type: text/html\n\n<a href=\"https://t.example/c?%s&amp;a=1\">x</a>"
         "<a href=\"https://t.example/c?%s&amp;a=2\">y</a>\n",
         2, 0, 0},
        {"Content-Type: text/plain\n\n(see https://bit.ly/%s) and https://BIT.LY/%s.\n", 1, 1, 0},
        {"Content-Type: text/html\n\n<img src=\"http://px.example/%s\">"
         "<a href=\" http://px.example/%s \">http://px.example/%s</a>\n",
         1, 0, 1},
    };
    static char path[6001], msg[20000];
    struct pm_features f;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(path) - 1; i++)
        path[i] = "abcdefghijklmnopqrstuvwxyz0123456789-_"[i * 7 % 38];
    path[sizeof(path) - 1] = '\0';
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(msg, sizeof(msg), rows[i].fmt, path, path, path);
        scan_three(rows[i].fmt, (const unsigned char *)msg, strlen(msg), &f);
        if (f.links != rows[i].links || f.shortener_links != rows[i].shortener_links ||
            f.remote_images != rows[i].remote_images)
            fail_msg("%s: links %u, shortener links %u, remote images %u", rows[i].fmt, f.links,
                     f.shortener_links, f.remote_images);
    }
}

/* A boundary longer than RFC 2046's 70 characters (mail clients accept one)
 * still splits the parts: an attachment behind it is counted. */
static void
test_long_boundary(void **state)
{
    char b[301], msg[2048];
    struct pm_features f;

    (void)state;
    memset(b, 'q', 300);
    b[300] = '\0';
    snprintf(msg, sizeof(msg),
             "Content-Type: multipart/mixed; boundary=\"%s\"\n\n--%s\nContent-Type: text/plain\n\n"
             "hello\n--%s\nContent-Type: application/pdf; name=\"offer.pdf\"\n"
             "Content-Disposition: attachment\n\nJVBERi0=\n--%s--\n",
             b, b, b, b);
    scan_three("long boundary", (const unsigned char *)msg, strlen(msg), &f);
    assert_int_equal(f.attachments, 1);
    assert_int_equal(f.parts, 2);
    assert_string_equal(f.problems, "");
}

/* Empty, header-only and garbage inputs. */
static void
test_edges(void **state)
{
    static const char *const inputs[] = {
        "",
        "\n",
        "Subject: x",
        "Content-Type: multipart/mixed; boundary=x\n\n--x",
        "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n\n<a href=",
        "Content-Type: text/html\n\n<!-- http://a.example.com/ --",
        "Content-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: base64\n\n//5oAGgA",
    };
    static const char *const problems[] = {
        "", "", "", "missing_end_boundary", "missing_end_boundary", "", "",
    };
    static const unsigned parts[] = {1, 1, 1, 1, 1, 1, 1};
    struct pm_features f;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        scan_three(inputs[i], (const unsigned char *)inputs[i], strlen(inputs[i]), &f);
        assert_string_equal(f.problems, problems[i]);
        assert_int_equal(f.parts, parts[i]);
        assert_int_equal(f.links, 0);
    }
}

/* The text and JSON renderings. */
static void
test_render(void **state)
{
    static const char msg[] = "Content-Type: multipart/mixed; boundary=x\n\n--x\n\n"
                              "http://r.example.com/\n";
    struct pm_features f;
    char buf[1024];

    (void)state;
    assert_int_equal(pm_scan_message(NULL, (const unsigned char *)msg, sizeof(msg) - 1, &f), 0);
    pm_features_text(&f, buf, sizeof(buf));
    assert_string_equal(buf, "complete=0 size=72 parts=1 depth=1 attachments=0 attached_images=0 "
                             "inline_images=0 remote_images=0 links=1 shortener_links=0 "
                             "cid_refs=0 has_html=0 has_calendar=0 has_tnef=0 is_signed=0 "
                             "is_encrypted=0 body_links=1 signature_links=0 quoted_links=0 "
                             "problems=missing_end_boundary");
    pm_features_json(&f, buf, sizeof(buf));
    assert_string_equal(buf, "{\"complete\":0,\"size\":72,\"parts\":1,\"depth\":1,"
                             "\"attachments\":0,\"attached_images\":0,\"inline_images\":0,"
                             "\"remote_images\":0,\"links\":1,\"shortener_links\":0,"
                             "\"cid_refs\":0,\"has_html\":0,\"has_calendar\":0,\"has_tnef\":0,"
                             "\"is_signed\":0,\"is_encrypted\":0,\"body_links\":1,"
                             "\"signature_links\":0,\"quoted_links\":0,"
                             "\"problems\":[\"missing_end_boundary\"]}");
    pm_features_text(&f, buf, 10);
    assert_int_equal(strlen(buf), 9);
}

/* Corpus walk state. */
static const char *corpus_root;
static int corpus_indexed; /* compare with INDEX.tsv */
static unsigned corpus_files, corpus_index_diff;
static char corpus_index[64 * 1024 * 4];

/* Scan one corpus file: no crash, chunk equivalence, INDEX.tsv comparison. */
static int
corpus_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    const char *rel = path + strlen(corpus_root) + 1, *row;
    unsigned char *buf;
    size_t len = 0;
    struct pm_features f;
    char key[1100];
    unsigned att, cid;
    int col;

    (void)st;
    (void)ftw;
    if (flag != FTW_F || strcmp(rel, "INDEX.tsv") == 0 || strcmp(rel, "LICENSE") == 0 ||
        strcmp(rel, "expected.tsv") == 0)
        return 0;
    buf = slurp(path, &len);
    assert_non_null(buf);
    scan_three(rel, buf, len, &f);
    free(buf);
    corpus_files++;
    snprintf(key, sizeof(key), "\n%s\t", rel);
    if (!corpus_indexed || (row = strstr(corpus_index, key)) == NULL)
        return 0;
    /* columns: file source upstream_path bytes top_type leaf_parts attachments cid_images */
    for (row++, col = 0; col < 6 && (row = strchr(row, '\t')) != NULL; col++)
        row++;
    if (row != NULL && sscanf(row, "%u\t%u", &att, &cid) == 2 &&
        (att != f.attachments || cid != f.inline_images)) {
        corpus_index_diff++;
        print_message("index differs: %s attachments %u/%u inline %u/%u\n", rel, f.attachments, att,
                      f.inline_images, cid);
    }
    return 0;
}

/* The shared MIME corpus, when present. */
static void
test_corpus(void **state)
{
    unsigned char *idx;
    size_t len = 0, i;

    (void)state;
    idx = slurp(CORPUS_DIR "/INDEX.tsv", &len);
    if (idx == NULL) {
        print_message("corpus not found at %s: skipped\n", CORPUS_DIR);
        skip();
    }
    corpus_index[0] = '\n';
    if (len > sizeof(corpus_index) - 2)
        len = sizeof(corpus_index) - 2;
    memcpy(corpus_index + 1, idx, len);
    corpus_index[len + 1] = '\0';
    free(idx);
    corpus_root = CORPUS_DIR;
    corpus_indexed = 1;
    assert_int_equal(nftw(CORPUS_DIR, corpus_one, 16, FTW_PHYS), 0);
    print_message("corpus: %u messages scanned, %u differ from INDEX.tsv (reported only)\n",
                  corpus_files, corpus_index_diff);
    assert_int_equal(corpus_files, 298);
    /* the bounces: no crash and chunk equivalence only */
    corpus_root = BOUNCE_DIR;
    corpus_indexed = 0;
    corpus_files = 0;
    assert_int_equal(nftw(BOUNCE_DIR, corpus_one, 16, FTW_PHYS), 0);
    print_message("bounces: %u messages scanned\n", corpus_files);
    assert_int_equal(corpus_files, 383);
    for (i = 0; i < sizeof(corpus_table) / sizeof(corpus_table[0]); i++)
        check_file(CORPUS_DIR, &corpus_table[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),      cmocka_unit_test(test_streaming_api),
        cmocka_unit_test(test_depth),         cmocka_unit_test(test_huge),
        cmocka_unit_test(test_conf),          cmocka_unit_test(test_edges),
        cmocka_unit_test(test_html_comments), cmocka_unit_test(test_url_percent_host),
        cmocka_unit_test(test_long_boundary), cmocka_unit_test(test_long_urls),
        cmocka_unit_test(test_render),        cmocka_unit_test(test_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
