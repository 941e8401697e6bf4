/*
 * test_scan_place.c - where a link is: body_links, signature_links and
 * quoted_links of the content scan, for each mail client's signature and
 * quote markers, in plain text and HTML, encoded or not; every message is
 * scanned whole and in 1- and 7-byte chunks, which must agree.
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

#include "scan.h"
#include "slurp.h"

#define SCAN_DIR PM_TEST_SRCDIR "/scan"
#define CORPUS_DIR PM_TEST_SRCDIR "/../../shared/corpus/mime"

#define PLAIN "Content-Type: text/plain; charset=utf-8\n\n"
#define HTML "Content-Type: text/html; charset=utf-8\n\n"

/* A message and its links by place. */
struct place_row {
    const char *what;
    const char *msg;
    unsigned body, sig, quoted;
};

static const struct place_row rows[] = {
    /* plain text */
    {"plain body link", PLAIN "Hi, see https://a.example/x\nBob\n", 1, 0, 0},
    {"plain -- signature", PLAIN "Hi\n\n-- \nBob\nhttps://bob.example/\n", 0, 1, 0},
    {"plain CRLF -- signature", PLAIN "Hi\r\nhttps://a.example/\r\n-- \r\nhttps://bob.example/\r\n",
     1, 1, 0},
    {"plain -- without space is text", PLAIN "Hi\n--\nhttps://bob.example/\n", 1, 0, 0},
    {"plain > quote", PLAIN "Sure.\n\n> see https://q.example/\n", 0, 0, 1},
    {"plain quote to the end", PLAIN "Sure.\n> quoted\nnew https://n.example/\n", 0, 0, 1},
    {"plain On ... wrote:",
     PLAIN "Yes https://a.example/\n\nOn Mon, 7 Dec 2026 at 10:00, Ann <ann@x.example> "
           "wrote:\nhttps://q.example/\n",
     1, 0, 1},
    {"plain Gmail attribution wrapped",
     PLAIN "Yes\n\nOn Mon, Dec 7, 2026 at 10:00 AM Ann Smith <\nann@x.example> wrote:\n\n"
           "https://q.example/\n",
     0, 0, 1},
    {"plain wrote: without On is text", PLAIN "My colleague wrote:\nhttps://a.example/\n", 1, 0, 0},
    {"plain Outlook From/Sent",
     PLAIN "Fine.\n________________________________\nFrom: Ann <ann@x.example>\nSent: Monday, "
           "December 7, 2026 10:00\nTo: Bob\nhttps://q.example/\n",
     0, 0, 1},
    {"plain From: alone is text", PLAIN "From: the team\nhttps://a.example/\n", 1, 0, 0},
    {"plain Original Message", PLAIN "See below\n-----Original Message-----\nhttps://q.example/\n",
     0, 0, 1},
    {"plain Gmail forward",
     PLAIN "FYI https://a.example/\n\n---------- Forwarded message ---------\nFrom: Ann\n"
           "https://q.example/\n",
     1, 0, 1},
    {"plain Apple forward", PLAIN "FYI\n\nBegin forwarded message:\n\nhttps://q.example/\n", 0, 0,
     1},
    {"plain QQ 原始邮件",
     PLAIN "好的\n------------------ 原始邮件 ------------------\n发件人: \"Ann\"\n"
           "https://q.example/\n",
     0, 0, 1},
    {"plain 发件人：", PLAIN "好的\n发件人：Ann\nhttps://q.example/\n", 0, 0, 1},
    {"plain NetEase 写道：",
     PLAIN "好的 https://a.example/\n在 2026-12-07 10:00:00，\"Ann\" <ann@163.example> "
           "写道：\nhttps://q.example/\n",
     1, 0, 1},
    {"plain QQ Mail English Original",
     PLAIN "OK https://a.example/\n------------------ Original ------------------\n"
           "https://q.example/\n",
     1, 0, 1},
    {"plain -- Original without its dashes is text",
     PLAIN "Hi\n-- Original idea: https://a.example/\n", 1, 0, 0},
    {"plain NetEase At ... wrote:",
     PLAIN "OK https://a.example/\nAt 2026-12-07 09:00:00, \"Ann\" <ann@163.example> wrote:\n"
           "https://q.example/\n",
     1, 0, 1},
    {"plain At without wrote: is text", PLAIN "At the fair we spoke:\nhttps://a.example/\n", 1, 0,
     0},
    {"plain Mail Master Replied Message",
     PLAIN "OK\n\n---- Replied Message ----\n| From | Ann<ann@x.example> |\nhttps://q.example/\n",
     0, 0, 1},
    {"plain Mail Master 回复的原邮件",
     PLAIN "好的\n\n---- 回复的原邮件 ----\n| 发件人 | Ann<ann@x.example> |\nhttps://q.example/\n",
     0, 0, 1},
    {"plain signature then quote",
     PLAIN "Hi https://a.example/\n-- \nhttps://bob.example/\n\nOn Mon, Ann wrote:\n> "
           "https://q.example/\n",
     1, 1, 1},
    {"plain -- inside a quote stays quoted", PLAIN "> hi\n-- \nhttps://q.example/\n", 0, 0, 1},
    {"same URL: body first",
     PLAIN "https://a.example/\n-- \nhttps://a.example/\n> https://a.example/\n", 1, 0, 0},
    {"same URL: signature first", PLAIN "Hi\n-- \nhttps://a.example/\n> https://a.example/\n", 0, 1,
     0},
    {"same URL: quoted first, then in the body of another part",
     "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
     "> https://a.example/\n--b\nContent-Type: text/plain\n\nhttps://a.example/\n--b--\n",
     1, 0, 0},
    {"plain base64 signature",
     "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
     "SGkgaHR0cHM6Ly9hLmV4YW1wbGUvCi0tIApodHRwczovL2JvYi5leGFtcGxlLwo=\n",
     1, 1, 0},
    {"plain quoted-printable soft break in the separator",
     "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n"
     "Hi\n-=\n-=20\nhttps://bob.example/\n",
     0, 1, 0},
    {"plain latin-1 signature",
     "Content-Type: text/plain; charset=iso-8859-1\n\nGr\xfc\xdf\x65\n-- \nhttps://bob.example/\n",
     0, 1, 0},
    {"each part starts in the body",
     "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nHi\n-- \n"
     "https://bob.example/\n--b\nContent-Type: text/plain\n\nhttps://a.example/\n--b--\n",
     1, 1, 0},
    {"boundary never found: the preamble's places",
     "Content-Type: multipart/mixed; boundary=never\n\nHi https://a.example/\n-- \n"
     "https://bob.example/\n",
     1, 1, 0},
    /* HTML: Gmail */
    {"Gmail signature and quote",
     HTML "<div dir=\"ltr\">Hi <a href=\"https://a.example/\">here</a><br clear=\"all\"><div><br>"
          "</div><span class=\"gmail_signature_prefix\">-- </span><br><div dir=\"ltr\" "
          "class=\"gmail_signature\" data-smartmail=\"gmail_signature\"><a "
          "href=\"https://bob.example/\">Bob</a></div></div><br><div class=\"gmail_quote\">"
          "<div dir=\"ltr\" class=\"gmail_attr\">On Mon, Ann &lt;ann@x.example&gt; wrote:<br>"
          "</div><blockquote class=\"gmail_quote\" style=\"margin:0px\">"
          "https://q.example/</blockquote></div>\n",
     1, 1, 1},
    {"Gmail signature only",
     HTML "<div dir=\"ltr\">Hello<br><div dir=\"ltr\" class=\"gmail_signature\">Bob "
          "https://bob.example/</div></div>\n",
     0, 1, 0},
    /* Thunderbird */
    {"Thunderbird signature and cite",
     HTML "<p>Hi https://a.example/</p><pre class=\"moz-signature\" cols=\"72\">-- \nBob "
          "https://bob.example/</pre><div class=\"moz-cite-prefix\">On 07/12/2026 10:00, Ann "
          "wrote:<br></div><blockquote type=\"cite\" cite=\"mid:1@x.example\">"
          "<a href=\"https://q.example/\">q</a></blockquote>\n",
     1, 1, 1},
    {"Thunderbird new text in moz-cite-prefix",
     HTML "<div class=\"moz-cite-prefix\">Hi Ann:</div>\n    <div class=\"moz-cite-prefix\">see "
          "<a\n        href=\"https://a.example/\">https://a.example/</a></div>\n    <div "
          "class=\"moz-cite-prefix\">On 5/7/2019 11:44 AM, Ann\n      &lt;ann@x.example&gt; "
          "wrote:<br>\n    </div>\n    <blockquote type=\"cite\">https://q.example/</blockquote>\n",
     1, 0, 1},
    {"HTML From: and Sent: across source lines",
     HTML
     "<p>OK</p><p><b>From:</b>\n Ann<br>\n<b>Sent:</b>\n Monday</p><p>https://q.example/</p>\n",
     0, 0, 1},
    {"Thunderbird forward",
     HTML "<p>FYI</p><div class=\"moz-forward-container\">-------- Forwarded Message --------"
          "<a href=\"https://q.example/\">q</a></div>\n",
     0, 0, 1},
    /* Outlook */
    {"Outlook on the web signature and reply",
     HTML "<div>Hi <a href=\"https://a.example/\">x</a></div><div id=\"Signature\"><a "
          "href=\"https://bob.example/\">Bob</a></div><div id=\"appendonsend\"></div><hr>"
          "<div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> Ann</div>"
          "<div>https://q.example/</div>\n",
     1, 1, 1},
    {"Outlook mobile signature",
     HTML "<div>Hi</div><div id=\"ms-outlook-mobile-signature\">https://bob.example/</div>\n", 0, 1,
     0},
    {"Outlook desktop From/Sent block",
     HTML "<p class=\"MsoNormal\">OK https://a.example/</p>\n<div style=\"border:none;"
          "border-top:solid #E1E1E1 1.0pt\"><p class=\"MsoNormal\"><b>From:</b> Ann<br>\n"
          "<b>Sent:</b> Monday<br><b>To:</b> Bob</p></div>"
          "<p>https://q.example/</p>\n",
     1, 0, 1},
    {"Outlook mobile reference container",
     HTML "<div>OK https://a.example/</div><div id=\"ms-outlook-mobile-signature\">"
          "https://bob.example/</div><div id=\"mail-editor-reference-message-container\" "
          "class=\"ms-outlook-mobile-reference-message\"><hr><div>https://q.example/</div></div>\n",
     1, 1, 1},
    {"an a name that is no marker", HTML "<p><a name=\"top\">Hi</a></p><p>https://a.example/</p>\n",
     1, 0, 0},
    /* Apple Mail */
    {"Apple Mail reply",
     HTML "<div dir=\"auto\">Yes https://a.example/</div><div dir=\"ltr\"><br><blockquote "
          "type=\"cite\">On 7 Dec 2026, at 10:00, Ann wrote:<br><br></blockquote></div>"
          "<blockquote type=\"cite\"><div dir=\"ltr\">https://q.example/</div></blockquote>\n",
     1, 0, 1},
    /* QQ Mail / Foxmail */
    {"QQ Mail reply",
     HTML "<div>好的 https://a.example/</div><div><includetail><div style=\"font-size: 12px;\">"
          "------------------&nbsp;原始邮件&nbsp;------------------</div><div>"
          "https://q.example/</div></includetail></div>\n",
     1, 0, 1},
    {"QQ text marker without includetail",
     HTML "<div>好的</div><div style=\"font-size: 12px;\">------------------&nbsp;原始邮件&nbsp;"
          "------------------</div><div><b>发件人:</b> Ann</div><a href=\"https://q.example/\">"
          "q</a>\n",
     0, 0, 1},
    /* NetEase 163/126 */
    {"NetEase signature and reply",
     HTML "<div>好的 https://a.example/</div><div id=\"spnEditorSign\"><a "
          "href=\"https://bob.example/\">Bob</a></div><div id=\"isReplyContent\">"
          "https://q.example/</div>\n",
     1, 1, 1},
    {"NetEase forward",
     HTML "<div>FYI</div><div id=\"isForwardContent\">https://q.example/</div>\n", 0, 0, 1},
    {"NetEase Mail Master signature class",
     HTML "<div>Hi</div><div class=\"ntes-signature\">https://bob.example/</div>\n", 0, 1, 0},
    /* <pre>: its line ends are line ends, and only its own */
    {"HTML <pre> lines", HTML "<pre>Hi https://a.example/\n-- \nhttps://bob.example/</pre>\n", 1, 1,
     0},
    {"HTML <pre> CRLF lines", HTML "<pre>Hi\r\n-- \r\nhttps://bob.example/\r\n</pre>\n", 0, 1, 0},
    {"HTML line ends after </pre> are blanks",
     HTML "<pre>a</pre><div>-- \nhttps://a.example/</div>\n", 1, 0, 0},
    /* encodings and alternatives */
    {"HTML quoted-printable marker across a soft break",
     "Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n"
     "<div>Hi</div><div class=3D\"gmail_sig=\nnature\">https://bob.example/</div>\n",
     0, 1, 0},
    {"alternative: a signature in both",
     "Content-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\n"
     "Hi\n-- \nhttps://bob.example/\n--a\nContent-Type: text/html\n\n<div>Hi</div><div "
     "class=\"gmail_signature\"><a href=\"https://bob.example/\">Bob</a></div>\n--a--\n",
     0, 1, 0},
    {"alternative: the HTML part decides (plain signature without -- )",
     "Content-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\n"
     "Hi\nAlice\nAcme Inc. https://acme.example/\n--a\nContent-Type: text/html\n\n<div>Hi</div>"
     "<div class=\"gmail_signature\">Alice<br>Acme Inc. <a href=\"https://acme.example/\">"
     "acme</a></div>\n--a--\n",
     0, 1, 0},
    {"alternative: HTML body link, quoted in plain",
     "Content-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain\n\n"
     "> https://q.example/\n--a\nContent-Type: text/html\n\n<div><a "
     "href=\"https://q.example/\">see</a></div>\n--a--\n",
     1, 0, 0},
    {"an attached text part is not scanned",
     "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nHi\n--b\n"
     "Content-Type: text/plain; name=\"notes.txt\"\nContent-Disposition: attachment\n\n"
     "https://a.example/\n--b--\n",
     0, 0, 0},
    {"HTML > at a line start is quoted", HTML "<div>Sure</div><div>&gt; https://q.example/</div>\n",
     0, 0, 1},
    {"a class that is no marker",
     HTML "<div class=\"content\">https://a.example/</div><div id=\"footer\">"
          "https://b.example/</div>\n",
     2, 0, 0},
};

/* Scan msg whole and in 1- and 7-byte chunks with conf; they must agree. */
static void
scan_three(const char *what, const struct pm_scan_conf *conf, const char *msg,
           struct pm_features *f)
{
    const unsigned char *b = (const unsigned char *)msg;
    struct pm_features f1, f7;
    char x[1024], y[1024];

    assert_int_equal(pm_scan_message(conf, b, strlen(msg), f), 0);
    assert_int_equal(pm_scan_message_chunked(conf, b, strlen(msg), 1, &f1), 0);
    assert_int_equal(pm_scan_message_chunked(conf, b, strlen(msg), 7, &f7), 0);
    if (memcmp(f, &f1, sizeof(*f)) != 0 || memcmp(f, &f7, sizeof(*f)) != 0) {
        pm_features_text(f, x, sizeof(x));
        pm_features_text(memcmp(f, &f1, sizeof(*f)) != 0 ? &f1 : &f7, y, sizeof(y));
        fail_msg("%s: chunked scan differs:\n  whole: %s\n  chunk: %s", what, x, y);
    }
}

/* Every row: its places, which add up to links. */
static void
test_places(void **state)
{
    struct pm_features f;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        scan_three(rows[i].what, NULL, rows[i].msg, &f);
        if (f.body_links != rows[i].body || f.signature_links != rows[i].sig ||
            f.quoted_links != rows[i].quoted)
            fail_msg("%s: body %u signature %u quoted %u, want %u %u %u", rows[i].what,
                     f.body_links, f.signature_links, f.quoted_links, rows[i].body, rows[i].sig,
                     rows[i].quoted);
        assert_int_equal(f.body_links + f.signature_links + f.quoted_links, f.links);
    }
}

/* Beyond max_links_tracked the places still add up to links. */
static void
test_places_over(void **state)
{
    static const char msg[] = PLAIN "https://a.example/ https://b.example/ https://a.example/\n"
                                    "-- \nhttps://c.example/ https://c.example/\n"
                                    "> https://d.example/\n";
    struct pm_scan_conf conf = {pm_scan_default_shorteners, pm_scan_default_n_shorteners, 1, NULL,
                                0};
    struct pm_features f;

    (void)state;
    scan_three("over", &conf, msg, &f);
    /* a is remembered (its repeat is not counted); b, c twice and d are counted
     * without de-duplication */
    assert_int_equal(f.links, 5);
    assert_int_equal(f.body_links, 2);
    assert_int_equal(f.signature_links, 2);
    assert_int_equal(f.quoted_links, 1);
    scan_three("default", NULL, msg, &f);
    assert_int_equal(f.links, 4);
    assert_int_equal(f.body_links, 2);
    assert_int_equal(f.signature_links, 1);
    assert_int_equal(f.quoted_links, 1);
}

/* tests/scan's replies of each client, written after the structure of real
 * messages (the README's rules section names them): their links by place. */
static const struct place_row files[] = {
    {"Outlook on the web", "outlook-web-reply.eml", 1, 1, 1},
    {"Outlook desktop", "outlook-desktop-reply.eml", 1, 1, 1},
    {"QQ Mail", "qq-mail-reply.eml", 1, 0, 1},
    {"QQ Mail, English, signature", "qq-mail-signature.eml", 1, 1, 1},
    {"Foxmail", "foxmail-reply.eml", 1, 0, 1},
    {"NetEase webmail", "netease-reply.eml", 1, 1, 1},
    {"NetEase webmail, <pre> quote", "netease-pre-quote.eml", 1, 0, 1},
    {"NetEase Mail Master", "netease-mailmaster-reply.eml", 1, 1, 1},
};

/* Every client's reply file: its places, which add up to links. */
static void
test_places_files(void **state)
{
    char path[1024];
    struct pm_features f;
    unsigned char *buf;
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", SCAN_DIR, files[i].msg);
        len = 0;
        buf = slurp(path, &len);
        if (buf == NULL)
            fail_msg("cannot read %s", path);
        buf[len - 1] = '\0'; /* the last byte is a line end */
        scan_three(files[i].what, NULL, (const char *)buf, &f);
        free(buf);
        if (f.body_links != files[i].body || f.signature_links != files[i].sig ||
            f.quoted_links != files[i].quoted)
            fail_msg("%s (%s): body %u signature %u quoted %u, want %u %u %u", files[i].what,
                     files[i].msg, f.body_links, f.signature_links, f.quoted_links, files[i].body,
                     files[i].sig, files[i].quoted);
        assert_int_equal(f.body_links + f.signature_links + f.quoted_links, f.links);
    }
}

/* A real Thunderbird reply to a list (the shared corpus, when present): the
 * plain alternative's new text holds one link, its "> " quote two. */
static void
test_places_corpus(void **state)
{
    struct pm_features f;
    unsigned char *buf;
    size_t len = 0;

    (void)state;
    buf = slurp(CORPUS_DIR "/rspamd/ham.eml", &len);
    if (buf == NULL) {
        print_message("corpus not found at %s: skipped\n", CORPUS_DIR);
        skip();
    }
    buf[len - 1] = '\0'; /* the last byte is a line end */
    scan_three("rspamd/ham.eml", NULL, (const char *)buf, &f);
    free(buf);
    assert_int_equal(f.links, 3);
    assert_int_equal(f.body_links, 1);
    assert_int_equal(f.signature_links, 0);
    assert_int_equal(f.quoted_links, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_places),
        cmocka_unit_test(test_places_over),
        cmocka_unit_test(test_places_files),
        cmocka_unit_test(test_places_corpus),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
