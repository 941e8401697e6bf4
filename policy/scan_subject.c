/*
 * scan_subject.c - what a message's Subject says: decoded from RFC 2047
 * (the decoder scan_mime.c uses for file names, each word converted from its
 * charset to UTF-8 by iconv, so GB2312, GBK, GB18030, Big5, Shift_JIS,
 * ISO-8859-x, windows-125x... all end up as UTF-8), then counted:
 *
 *   subject_length        characters (UTF-8 code points; a byte that is
 *                         not valid UTF-8, as in a raw 8-bit subject in a
 *                         legacy charset, counts as one character)
 *   subject_caps          upper-case letters among the cased letters
 *                         (Latin, Greek, Cyrillic, full-width Latin), in
 *                         percent, rounded down; 0 when fewer than 10
 *                         cased letters (ideographs have no case)
 *   subject_exclamations  "!" and full-width "！" (U+FF01)
 *   subject_spam_words    entries of the word list found in the subject
 *                         (each at most once), ASCII case ignored and
 *                         full-width ASCII (ＦＲＥＥ) read as ASCII; an
 *                         entry beginning or ending with a letter or digit
 *                         matches there only at a word boundary ("free"
 *                         not in "freedom"); a Chinese entry anywhere
 *   reply_prefix          the subject starts with a reply or forward prefix
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <string.h>

#include "scan_int.h"

/* The built-in spam words: phrases of cold sales and scam mail. */
const char *const pm_scan_default_spam_words[] = {
    "free",
    "100% free",
    "winner",
    "you have won",
    "congratulations",
    "urgent",
    "act now",
    "limited time",
    "guaranteed",
    "risk-free",
    "no obligation",
    "cash",
    "earn money",
    "make money",
    "double your",
    "click here",
    "buy now",
    "order now",
    "lowest price",
    "best price",
    "special promotion",
    "discount",
    "100% off",
    "crypto",
    "bitcoin",
    "viagra",
    "casino",
    "lottery",
    "\xe5\x85\x8d\xe8\xb4\xb9",                         /* 免费 free */
    "\xe4\xbc\x98\xe6\x83\xa0",                         /* 优惠 discount */
    "\xe4\xbf\x83\xe9\x94\x80",                         /* 促销 promotion */
    "\xe4\xb8\xad\xe5\xa5\x96",                         /* 中奖 win a prize */
    "\xe9\x99\x90\xe6\x97\xb6",                         /* 限时 limited time */
    "\xe7\x89\xb9\xe4\xbb\xb7",                         /* 特价 special price */
    "\xe6\x8a\x98\xe6\x89\xa3",                         /* 折扣 discount */
    "\xe4\xbb\xa3\xe5\xbc\x80\xe5\x8f\x91\xe7\xa5\xa8", /* 代开发票 invoices issued */
    "\xe8\xb5\x9a\xe9\x92\xb1",                         /* 赚钱 make money */
    "\xe6\x81\xad\xe5\x96\x9c",                         /* 恭喜 congratulations */
    "\xe7\xb4\xa7\xe6\x80\xa5",                         /* 紧急 urgent */
    "\xe5\x8f\x91\xe8\xb4\xa2",                         /* 发财 get rich */
    NULL,
};
const size_t pm_scan_default_n_spam_words =
    sizeof(pm_scan_default_spam_words) / sizeof(pm_scan_default_spam_words[0]) - 1;

/* Decode a Subject value into out; see scan.h. */
size_t
pm_subject_decode(const char *value, char *out, size_t cap)
{
    char flat[PM_SUBJECT_MAX];
    size_t n = 0, o, b = 0;
    const char *p;

    if (cap == 0)
        return 0;
    for (p = value; *p && n + 1 < sizeof(flat); p++) /* unfold: line ends go */
        if (*p != '\r' && *p != '\n')
            flat[n++] = *p;
    while (b < n && (flat[b] == ' ' || flat[b] == '\t'))
        b++;
    o = pm_scan_rfc2047_decode(flat + b, n - b, out, cap, 1);
    while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
        o--;
    out[o] = '\0';
    return o;
}

/* The next character of a UTF-8 string (an invalid byte is itself); *len its bytes. */
static unsigned long
next_char(const unsigned char *p, size_t *len)
{
    unsigned long c = p[0];
    size_t n, i;

    if (c < 0x80) {
        *len = 1;
        return c;
    }
    n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (c >= 0xf5)
        n = 0;
    c &= n == 4 ? 0x07 : n == 3 ? 0x0f : 0x1f;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            break;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (n == 0 || i < n) {
        *len = 1;
        return 0xfffd; /* not UTF-8: one character per byte */
    }
    *len = n;
    return c;
}

/* 1 upper case, 2 lower case, 0 not a cased letter (Latin, Greek, Cyrillic, full-width). */
static int
letter_case(unsigned long c)
{
    if (c >= 'A' && c <= 'Z')
        return 1;
    if (c >= 'a' && c <= 'z')
        return 2;
    if (c >= 0xc0 && c <= 0xde && c != 0xd7)
        return 1;
    if (c >= 0xdf && c <= 0xff && c != 0xf7)
        return 2;
    if (c >= 0x100 && c <= 0x17f) /* Latin Extended-A: pairs, mostly upper first */
        return ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) ? (c & 1 ? 1 : 2)
                                                                          : (c & 1 ? 2 : 1);
    if (c >= 0x391 && c <= 0x3a9)
        return 1;
    if (c >= 0x3b1 && c <= 0x3c9)
        return 2;
    if (c >= 0x400 && c <= 0x42f)
        return 1;
    if (c >= 0x430 && c <= 0x45f)
        return 2;
    if (c >= 0xff21 && c <= 0xff3a)
        return 1;
    if (c >= 0xff41 && c <= 0xff5a)
        return 2;
    return 0;
}

/* 1 for an ASCII letter or digit. */
static int
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* 1 when word (lower case) occurs in low (the subject, ASCII lower-cased). */
static int
has_word(const char *low, size_t n, const char *word)
{
    size_t wl = strlen(word), i;
    int b0, b1;

    if (wl == 0 || wl > n)
        return 0;
    b0 = is_alnum((unsigned char)word[0]);
    b1 = is_alnum((unsigned char)word[wl - 1]);
    for (i = 0; i + wl <= n; i++)
        if (memcmp(low + i, word, wl) == 0 &&
            !(b0 && i > 0 && is_alnum((unsigned char)low[i - 1])) &&
            !(b1 && i + wl < n && is_alnum((unsigned char)low[i + wl])))
            return 1;
    return 0;
}

/* Fill f's subject facts from a decoded subject; see scan.h. */
void
pm_subject_facts(const char *subject, const char *const *words, size_t n_words,
                 struct pm_features *f)
{
    const unsigned char *p = (const unsigned char *)subject;
    char low[PM_SUBJECT_MAX];
    unsigned upper = 0, letters = 0;
    size_t n = 0, len, i;

    f->subject_length = f->subject_exclamations = f->subject_caps = f->subject_spam_words = 0;
    while (*p) {
        unsigned long c = next_char(p, &len);
        int k = letter_case(c);

        f->subject_length++;
        letters += k != 0;
        upper += k == 1;
        f->subject_exclamations += c == '!' || c == 0xff01;
        if (c >= 0xff01 && c <= 0xff5e && n + 1 < sizeof(low)) { /* full-width ASCII */
            c -= 0xfee0;
            low[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else {
            for (i = 0; i < len && n + 1 < sizeof(low); i++, n++)
                low[n] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
        }
        p += len;
    }
    low[n] = '\0';
    if (letters >= 10)
        f->subject_caps = upper * 100 / letters;
    if (!words) {
        words = pm_scan_default_spam_words;
        n_words = pm_scan_default_n_spam_words;
    }
    for (i = 0; i < n_words; i++)
        f->subject_spam_words += has_word(low, n, words[i]);
    f->reply_prefix = pm_subject_reply_prefix(subject) > 0;
}

/* The length of the reply or forward prefix the subject starts with; see scan.h. */
size_t
pm_subject_reply_prefix(const char *subject)
{
    static const char *const prefixes[] = {
        "re",
        "aw",
        "sv",
        "fwd",
        "fw",
        "vs",
        "wg",
        "tr",
        "\xe5\x9b\x9e\xe5\xa4\x8d", /* 回复 */
        "\xe7\xad\x94\xe5\xa4\x8d", /* 答复 */
        "\xe8\xbd\xac\xe5\x8f\x91", /* 转发 */
        "\xe5\x9b\x9e\xe8\xa6\x86", /* 回覆 */
        "\xe7\xad\x94\xe8\xa6\x86", /* 答覆 */
        "\xe8\xbd\x89\xe7\x99\xbc", /* 轉發 */
        "\xe8\xbd\x89\xe5\xaf\x84", /* 轉寄 */
    };
    const char *s = subject, *p;
    size_t i, k;

    while (*s == ' ' || *s == '\t')
        s++;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);

        for (k = 0; k < pl; k++) {
            unsigned char c = (unsigned char)s[k];

            if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != (unsigned char)prefixes[i][k])
                break;
        }
        if (k < pl)
            continue;
        p = s + pl;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ':')
            return (size_t)(p + 1 - subject);
        if (strncmp(p, "\xef\xbc\x9a", 3) == 0) /* full-width colon */
            return (size_t)(p + 3 - subject);
    }
    return 0;
}
