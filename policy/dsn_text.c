/*
 * dsn_text.c - plain-text bounces (qmail, Exim, Sendmail, Exchange,
 * Gmail and the like).
 *
 * The human-readable text of a bounce is read up to the copy of the
 * returned message ("--- Below this line is a copy of the message.",
 * "------ This is a copy of the message", "----- Original message -----",
 * a header block ...). In it, a recipient is named by a line that is
 * only an address (Exim, Gmail, Office 365: "  user@example.com",
 * Exchange: "user@example.com on <date>"), by "<user@example.com>:"
 * (qmail, Postfix) or by "user@example.com... User unknown" (Sendmail).
 * The lines that follow, up to the next recipient, are its remote text,
 * from which the status code and class are read (dsn_class.c). A line
 * that names an address only as who sent the message ("A message sent by
 * <...>", "from <...>") does not name a recipient by it. Also: where the
 * words only bounce generators write, and where a mail program's
 * forwarding marker, first occur in the text (dsn.c judges with them).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsn_int.h"

#define MAX_LINES 4000   /* lines of text read */
#define DIAG_LINES 12    /* lines of remote text kept per recipient */
#define GLOBAL_LINES 400 /* lines searched for a reason shared by all recipients */

/* Lines that start the returned message (matched anywhere in the line). */
static const char *const cut_marks[] = {
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "original message --",
    "- original message",
    "-original message",
    "original message headers",
    "header of the original message",
    "headers of the original message",
    "unsent message below",
    "unsent message follows", /* Sendmail V5 */
    "message headers follow",
    "original message header",
    "returned message follows",
    "the original message was:",
    "-- original mail --",
    "original mail follows",
    "rfc822 headers follow",
    "content-type: message/rfc822",
    "first part of the original message",
    "message text follows",
    "your message reads",
    "original message:",
    "\xe5\x8e\x9f\xe5\xa7\x8b\xe9\x82\xae\xe4\xbb\xb6", /* zh "original mail" */
};

/* Words only bounce generators write. */
static const char *const bounce_marks[] = {
    "this is the qmail-send program",
    "created automatically by mail delivery software",
    "transcript of session follows",
    "delivery has failed to these recipients",
    "delivery to the following recipient",
    "did not reach the following recipient",
    "following addresses had permanent fatal errors",
    "following addresses had delivery errors",
    "following addresses had delivery problems",
    "this is the mail system at host",
    "could not be delivered to one or more recipients",
    "there was an error delivering your mail",
    "unable to deliver message to",
    "message could not be delivered",
    "could not be delivered to:",
    "did not reach some or all of the intended recipients", /* Exchange, hMailServer */
    "following recipient(s) could not be reached",
    "permanent fatal delivery errors",             /* MDaemon */
    "following recipients could not be delivered", /* AOL */
    "delivery to the following recipients failed",
};

/* A mail program's forwarding markers (Gmail, Thunderbird, Yahoo, Lotus
 * and localised ones), on a line that starts with dashes. */
static const char *const forward_marks[] = {
    "forwarded message",         "forwarded by",
    "weitergeleitete nachricht", "message transf\xc3\xa9r\xc3\xa9",
    "mensaje reenviado",         "messaggio inoltrato",
    "doorgestuurd bericht",
};

/* Words in a bounce's From (narrower than pm_automail_daemon(): a
 * no-reply notification is automatic but no bounce). */
static const char *const from_marks[] = {
    "mailer-daemon", "postmaster", "post_master", "mail delivery", "mail administrator",
};

/* Words in a bounce's Subject. */
static const char *const subject_marks[] = {
    "undeliver",         "returned mail",        "delivery status",        "delivery failure",
    "failure notice",    "mail delivery failed", "delivery notification",  "non remis",
    "nicht zustellbar",  "delivery problem",     "could not be delivered", "delivery has failed",
    "mail system error",
};

/* Words saying the failure is permanent or temporary. */
static const char *const permanent_marks[] = {
    "permanent error", "failed permanently", "permanent fatal", "permanent failure", "given up",
};
static const char *const temporary_marks[] = {
    "temporary error",   "will continue trying",
    "still trying",      "not yet been delivered",
    "still undelivered", "delayed",
    "will be retried",   "transient",
};

/* Does hay[0..n) contain any of the marks? */
static int
any(const char *hay, size_t n, const char *const *marks, size_t nmarks)
{
    size_t i;

    for (i = 0; i < nmarks; i++)
        if (pm_dsn_memcasestr(hay, n, marks[i]) != NULL)
            return 1;
    return 0;
}

#define ANY(h, n, m) any((h), (n), (m), sizeof(m) / sizeof((m)[0]))

/* Does the line look like the first field of a header block? */
static int
header_start(const char *l, size_t n)
{
    static const char *const names[] = {"Return-Path:",    "Received:",     "Message-ID:",
                                        "DKIM-Signature:", "Delivered-To:", "X-Received:"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n >= strlen(names[i]) && strncasecmp(l, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* Skip blanks and list bullets. */
static const char *
skip_blank(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t' || *s == '*' || *s == '>' || *s == '-'))
        s++;
    return s;
}

/* Skip what may come before an address on a transcript line:
 * "554 ", "550-5.1.1 ", "<<< ", "Sent <<< RCPT TO:" and the like. */
static const char *
skip_prefix(const char *s, const char *e)
{
    const char *r = pm_dsn_memcasestr(s, (size_t)(e - s), "RCPT TO:");
    int i;

    if (r != NULL) {
        s = r + 8;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        return s;
    }
    for (i = 0; i < 3; i++) {
        s = skip_blank(s, e);
        if (e - s >= 4 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
            isdigit((unsigned char)s[2]) && (s[3] == ' ' || s[3] == '-')) {
            s += 4;
            continue;
        }
        if (e - s >= 6 && (s[0] == '4' || s[0] == '5') && s[1] == '.') {
            const char *q = s;

            while (q < e && (isdigit((unsigned char)*q) || *q == '.'))
                q++;
            if (q < e && *q == ' ') {
                s = q + 1;
                continue;
            }
        }
        if (e - s >= 4 && (strncmp(s, "<<< ", 4) == 0)) {
            s += 4;
            continue;
        }
        break;
    }
    return s;
}

/* Is s a header field of the returned message, quoted in the text? */
static int
quoted_header(const char *s, const char *e)
{
    static const char *const names[] = {
        "message-id:",   "from:",        "to:",         "cc:",          "bcc:",
        "date:",         "subject:",     "references:", "in-reply-to:", "reply-to:",
        "sender:",       "return-path:", "received:",   "x-",           "envelope-",
        "delivered-to:", "list-",        "dkim-",       "arc-",         "authentication-results:"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((size_t)(e - s) >= strlen(names[i]) && strncasecmp(s, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* Does the text give a reason: a reply code, a status code or a known phrase? */
static int
says_why(const char *text)
{
    char code[16];

    return pm_dsn_find_reply(text) >= 400 || pm_dsn_find_status(text, code, sizeof(code)) == 0 ||
           pm_bounce_status_from_text(text, code, sizeof(code)) == 0;
}

/* Does the line speak of a failed delivery (for an address found anywhere in it)? */
static int
about_delivery(const char *l, size_t n)
{
    static const char *const words[] = {
        "recipient", "address", "deliver", "user",
        "mailbox",   "to:",     "rcpt",    "\xe6\x94\xb6\xe4\xbb\xb6" /* zh "recipient" */};
    char line[512], code[16];

    if (ANY(l, n, words))
        return 1;
    pm_dsn_squeeze(line, sizeof(line), l, n);
    return pm_dsn_find_reply(line) >= 400 || pm_dsn_find_status(line, code, sizeof(code)) == 0;
}

/* Does the address at a (on a line starting at s) stand after "sent by",
 * "from" or "sender": the one who sent the message, not a recipient? */
static int
names_sender(const char *s, const char *a)
{
    static const char *const words[] = {"by", "from", "sender"};
    const char *w;
    size_t i, n;

    while (a > s && (a[-1] == '<' || a[-1] == ' ' || a[-1] == '\t' || a[-1] == ':' ||
                     a[-1] == '"' || a[-1] == '('))
        a--;
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        n = strlen(words[i]);
        w = a - n;
        if (w >= s && strncasecmp(w, words[i], n) == 0 &&
            (w == s || !isalnum((unsigned char)w[-1])))
            return 1;
    }
    return 0;
}

/*
 * Does line l[0..n) name a recipient? Copies the address into addr and
 * sets *rest to the text after it on the line. Returns 1 or 0. With
 * loose, any line holding an address does.
 */
static int
rcpt_line(const char *l, size_t n, char *addr, size_t alen, const char **rest, int loose)
{
    const char *e = l + n, *s = skip_prefix(l, e), *a, *p;
    char tmp[400];
    size_t an;

    if (s >= e || memchr(s, '@', (size_t)(e - s)) == NULL)
        return 0;
    if (loose && (quoted_header(s, e) || !about_delivery(l, n)))
        return 0;
    if (loose) {
        const char *at = memchr(s, '@', (size_t)(e - s));

        for (;;) {
            a = at;
            while (a > s && a[-1] != ' ' && a[-1] != '<' && a[-1] != '\t' && a[-1] != '(' &&
                   a[-1] != '"' && a[-1] != ':' && a[-1] != '[' && a[-1] != ',')
                a--;
            if (!names_sender(s, a))
                break;
            at = memchr(at + 1, '@', (size_t)(e - at - 1));
            if (at == NULL)
                return 0; /* only the sender is named */
            s = at;
            while (s > l && s[-1] != ' ' && s[-1] != '<' && s[-1] != '\t')
                s--;
        }
    } else {
        a = *s == '<' || *s == '"' ? s + 1 : s;
    }
    if (strncasecmp(a, "mailto:", 7) == 0)
        a += 7;
    /* the address must come first */
    for (p = a; p < e && *p != '@'; p++)
        if (*p == ' ' || *p == '\t' || *p == ':' || *p == ',' || *p == '(' || *p == '[')
            return 0;
    if (p >= e)
        return 0;
    an = (size_t)(e - a) < sizeof(tmp) - 1 ? (size_t)(e - a) : sizeof(tmp) - 1;
    memcpy(tmp, a, an);
    tmp[an] = '\0';
    if (pm_dsn_addr(tmp, addr, alen) != 0)
        return 0;
    /* past the address and its closing bracket */
    p = pm_dsn_memcasestr(a, (size_t)(e - a), addr);
    if (p == NULL || (!loose && p != a && !(p == a + 1 && (*a == '<' || *a == '"'))))
        return 0; /* a strict line starts with the address */
    p += strlen(addr);
    while (p < e && (*p == '>' || *p == '"'))
        p++;
    *rest = p;
    if (loose)
        return 1;
    /* what may follow: nothing, ":", "...", " on <date>", "<mailto:...>", "[text]", "(text)" */
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= e || *p == ':' || *p == '<' || *p == '[' || *p == '(' || *p == ',' ||
        strncmp(p, "...", 3) == 0 || strncasecmp(p, "on ", 3) == 0 || *p == '-')
        return 1;
    return 0;
}

/* The sender a bounce names in "sent by <address>" in text[0..n), into
 * out; 0 or -1. */
static int
named_sender(const char *text, size_t n, char *out, size_t outlen)
{
    const char *m = pm_dsn_memcasestr(text, n, "sent by ");
    char tmp[400];
    size_t k = 0;

    if (m == NULL)
        return -1;
    m += 8;
    while (m < text + n && (*m == ' ' || *m == '<'))
        m++;
    while (m + k < text + n && k + 1 < sizeof(tmp) && m[k] != '>' && m[k] != ' ' && m[k] != '\n')
        k++;
    memcpy(tmp, m, k);
    tmp[k] = '\0';
    return strchr(tmp, '@') != NULL ? pm_dsn_addr(tmp, out, outlen) : -1;
}

/* Where the address ending at rest starts on the line l (for cutting it out). */
static const char *
at_start(const char *l, const char *rest, const char *addr)
{
    const char *a = rest;
    size_t n = strlen(addr);

    while (a > l && (a[-1] == '>' || a[-1] == '"'))
        a--;
    a = (size_t)(a - l) >= n ? a - n : l;
    while (a > l && (a[-1] == '<' || a[-1] == '"'))
        a--;
    return a;
}

/* Is addr one of the bounce's own addresses (the sender, the daemon)? */
static int
own_addr(const struct pm_dsn *d, const char *addr, const char *sender)
{
    char a[320];

    if (sender[0] != '\0' && strcmp(addr, sender) == 0)
        return 1;
    if (strncmp(addr, "mailer-daemon@", 14) == 0 || strncmp(addr, "postmaster@", 11) == 0)
        return 1;
    if (pm_dsn_addr(d->from, a, sizeof(a)) == 0 && strcmp(a, addr) == 0)
        return 1;
    if (pm_dsn_addr(d->to, a, sizeof(a)) == 0 && strcmp(a, addr) == 0)
        return 1;
    return 0;
}

/* Append the line l[0..n) to a recipient's diag buffer. */
static void
add_diag(char *diag, size_t cap, const char *l, size_t n)
{
    size_t have = strlen(diag);

    if (have + 2 >= cap)
        return;
    if (have > 0)
        diag[have++] = ' ';
    if (n > cap - 1 - have)
        n = cap - 1 - have;
    memcpy(diag + have, l, n);
    diag[have + n] = '\0';
}

/* Per-recipient remote text gathered while reading. */
struct pending {
    char addr[320];
    char diag[1024];
    int lines;
};

/* Store a gathered recipient into out. glob[i] is set while recipient i
 * has only the text's shared reason (the first line that gives one). */
static void
store(struct pm_bounce *out, struct pending *pe, int hint, const char *global, size_t *added,
      unsigned char *glob)
{
    struct pm_bounce_rcpt *r;

    if (pe->addr[0] == '\0')
        return;
    r = pm_dsn_add(out, pe->addr);
    if (r != NULL) {
        char code[16];
        size_t i = (size_t)(r - out->rcpt);

        /* named again with a status code where the first mention had none,
         * or with a reason of its own where it had only the shared one */
        if (r->diag[0] != '\0' && ((pm_dsn_find_status(r->diag, code, sizeof(code)) != 0 &&
                                    pm_dsn_find_status(pe->diag, code, sizeof(code)) == 0) ||
                                   (glob[i] && says_why(pe->diag)))) {
            r->diag[0] = r->status[0] = r->action[0] = '\0';
            r->cls = PM_BOUNCE_NONE;
            glob[i] = 0;
        }
        if (r->diag[0] == '\0')
            pm_dsn_squeeze(r->diag, sizeof(r->diag), pe->diag, strlen(pe->diag));
        if (global[0] != '\0' && !says_why(r->diag)) {
            pm_dsn_squeeze(r->diag, sizeof(r->diag), global, strlen(global));
            glob[i] = 1;
        }
        if (r->status[0] == '\0')
            pm_dsn_finish_rcpt(r, hint);
        (*added)++;
    }
    memset(pe, 0, sizeof(*pe));
}

/* Find where the returned message starts in d->text (sets d->cut). */
void
pm_dsn_text_cut(struct pm_dsn *d)
{
    const char *p, *end = d->text + d->text_len;
    size_t lines;
    int prev_blank = 1;

    d->cut = d->text_len;
    for (p = d->text, lines = 0; p < end && lines < MAX_LINES; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        if (lines > 0 && (ANY(p, n, cut_marks) || (prev_blank && header_start(p, n)))) {
            d->cut = (size_t)(p - d->text);
            d->cut_header = !ANY(p, n, cut_marks);
            return;
        }
        prev_blank = n == 0 || (n == 1 && p[0] == ' ');
        p = nl ? nl + 1 : end;
    }
}

/* Read a plain-text bounce up to d->cut; returns recipients added. */
size_t
pm_dsn_text(struct pm_dsn *d, struct pm_bounce *out)
{
    const char *p, *cut = d->text + d->cut;
    struct pending pe;
    unsigned char glob[PM_BOUNCE_MAX_RCPTS];
    char sender[320], global[512];
    size_t added = 0, lines = 0, glen = 0;
    int hint, loose;

    memset(&pe, 0, sizeof(pe));
    memset(glob, 0, sizeof(glob));
    global[0] = '\0';
    if (pm_dsn_addr(out->original_sender, sender, sizeof(sender)) != 0)
        sender[0] = '\0';
    /* a plain-text bounce gave up unless it says it is only a warning */
    hint = ANY(d->text, (size_t)(cut - d->text), temporary_marks) &&
                   !ANY(d->text, (size_t)(cut - d->text), permanent_marks)
               ? 0
               : 1;
    /* the first line with a reply code or a known phrase: the fallback diag */
    for (p = d->text, lines = 0; p < cut && lines < GLOBAL_LINES && glen == 0; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(cut - p));
        size_t n = (size_t)((nl ? nl : cut) - p);
        char line[512];

        pm_dsn_squeeze(line, sizeof(line), p, n);
        if (says_why(line)) {
            snprintf(global, sizeof(global), "%s", line);
            glen = strlen(global);
        }
        p = nl ? nl + 1 : cut;
    }
    if (sender[0] == '\0' &&
        named_sender(d->text, (size_t)(cut - d->text), sender, sizeof(sender)) == 0)
        snprintf(out->original_sender, sizeof(out->original_sender), "%s", sender);
    for (loose = 0; loose < 2 && added == 0; loose++) {
        int hdr = 0; /* the line continues a quoted header field */

        for (p = d->text, lines = 0; p < cut && lines < MAX_LINES; lines++) {
            const char *nl = memchr(p, '\n', (size_t)(cut - p));
            size_t n = (size_t)((nl ? nl : cut) - p);
            int folded = n > 0 && (p[0] == ' ' || p[0] == '\t');
            char addr[320];
            const char *rest;

            if (!folded)
                hdr = quoted_header(p, p + n);
            if (!(hdr && folded) && rcpt_line(p, n, addr, sizeof(addr), &rest, loose) &&
                !own_addr(d, addr, sender)) {
                if ((size_t)(p - d->text) < d->first_rcpt)
                    d->first_rcpt = (size_t)(p - d->text);
                if (strcmp(addr, pe.addr) != 0) {
                    store(out, &pe, hint, global, &added, glob);
                    snprintf(pe.addr, sizeof(pe.addr), "%s", addr);
                }
                /* the line without the address itself */
                add_diag(pe.diag, sizeof(pe.diag), p, (size_t)(at_start(p, rest, addr) - p));
                add_diag(pe.diag, sizeof(pe.diag), rest, (size_t)(p + n - rest));
            } else if (pe.addr[0] != '\0' && n > 0 && pe.lines < DIAG_LINES) {
                add_diag(pe.diag, sizeof(pe.diag), p, n);
                pe.lines++;
            }
            p = nl ? nl + 1 : cut;
        }
        store(out, &pe, hint, global, &added, glob);
    }
    /* none named in the text: X-Failed-Recipients, else the returned message's only one */
    for (p = d->failed, lines = 0; added == 0 && *p != '\0' && lines < PM_BOUNCE_MAX_RCPTS;
         lines++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[320];

        pm_dsn_squeeze(one, sizeof(one), p, n);
        if (pm_dsn_addr(one, pe.addr, sizeof(pe.addr)) == 0)
            store(out, &pe, hint, global, &added, glob);
        p = comma ? comma + 1 : p + n;
    }
    /* (a list post's To is the list, not the member whose mailbox failed) */
    if (added == 0 && d->ret_to[0] != '\0' && !d->ret_list && strchr(d->ret_to, ',') == NULL &&
        pm_dsn_addr(d->ret_to, pe.addr, sizeof(pe.addr)) == 0 && strcmp(pe.addr, sender) != 0)
        store(out, &pe, hint, global, &added, glob);
    return added;
}

/* Does the message look like a plain-text bounce? */
int
pm_dsn_text_is_bounce(const struct pm_dsn *d)
{
    const char *s = d->subject;

    while (*s == ' ')
        s++;
    if (d->report_type_dsn || ANY(d->from, strlen(d->from), from_marks) ||
        strstr(d->return_path, "<>") != NULL)
        return 1;
    /* a reply or a forward about a bounce is not one */
    if (strncasecmp(s, "re:", 3) != 0 && strncasecmp(s, "fwd:", 4) != 0 &&
        strncasecmp(s, "fw:", 3) != 0 && strncasecmp(s, "aw:", 3) != 0 &&
        ANY(s, strlen(s), subject_marks))
        return 1;
    return ANY(d->text, d->text_len < 8192 ? d->text_len : 8192, bounce_marks);
}

/* Offset of the first words only bounce generators write, or text_len. */
size_t
pm_dsn_text_layout(const struct pm_dsn *d)
{
    size_t i, best = d->text_len;

    for (i = 0; i < sizeof(bounce_marks) / sizeof(bounce_marks[0]); i++) {
        const char *m = pm_dsn_memcasestr(d->text, best, bounce_marks[i]);

        if (m != NULL && (size_t)(m - d->text) < best)
            best = (size_t)(m - d->text);
    }
    return best;
}

/* Offset of the first line that is a mail program's forwarding marker, or text_len. */
size_t
pm_dsn_text_forward(const struct pm_dsn *d)
{
    const char *p = d->text, *end = d->text + d->text_len;
    size_t lines;

    for (lines = 0; p < end && lines < MAX_LINES; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        const char *s = p;

        while (s < p + n && (*s == ' ' || *s == '\t' || *s == '>'))
            s++;
        n -= (size_t)(s - p);
        if ((n >= 23 && strncasecmp(s, "begin forwarded message", 23) == 0) ||
            (n >= 26 && strncasecmp(s, "-----original message-----", 26) == 0) ||
            (n >= 26 && strncasecmp(s, "-------- original message ", 26) == 0) ||
            (n > 0 && *s == '-' && ANY(s, n, forward_marks)))
            return (size_t)(p - d->text);
        p = nl ? nl + 1 : end;
    }
    return d->text_len;
}
