/*
 * automail.c - is a message written by a machine or a list, not a person?
 *
 * One header field at a time gives PM_AUTO_* flags (automail.h). Words are
 * compared case-insensitively; a From is read as its display name and the
 * local part of its address (the domain is left out, so "bob@postmaster.org"
 * stays a person), with punctuation taken as blanks ("Mail.Delivery.System",
 * "MAILER-DAEMON" and "mailer_daemon" all read "mailer daemon").
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "automail.h"

#define WORDS_MAX 512 /* bytes of a From kept for the word test */

/* Header fields a mailing list adds. */
static const char *const list_fields[] = {
    "List-Id",    "List-Post",    "List-Help",    "List-Subscribe", "List-Unsubscribe",
    "List-Owner", "List-Archive", "Mailing-List", "X-Mailing-List",
};

/* Header fields auto-responders add. */
static const char *const reply_fields[] = {"X-Autoreply", "X-Autorespond", "X-Auto-Reply"};

/* How auto-responders' Subjects start (compared case-insensitively). */
static const char *const reply_subjects[] = {
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "out of office",
    "out of the office",
    "auto:",
    "abwesenheitsnotiz",
    "automatische antwort",
    "r\xc3\xa9ponse automatique",
    "respuesta autom\xc3\xa1tica",
    "risposta automatica",
    "automatisch antwoord",
    "autosvar",
};

/* Words of a mail system's From (display name or local part), each
 * matched as whole words of the blank-separated lower-case text. */
static const char *const daemon_words[] = {
    "mailer daemon",
    "mailerdaemon",
    "mail daemon",
    "maildaemon",
    "mdaemon",
    "postmaster",
    "post master",
    "mail delivery",
    "delivery subsystem",
    "mail system",
    "mail subsystem",
    "mail administrator",
    "system administrator",
    "sysadmin",
    "double bounce",
    "no reply",
    "noreply",
    "do not reply",
    "donotreply",
    "ndr",
    "microsoft outlook",
    "the post office",
    "mail gateway",
    "returned mail",
};

/* Local-part prefixes and suffixes of list robots and bounce handlers. */
static const char *const robot_suffixes[] = {"-admin", "-owner", "-request", "-bounces", "-bounce"};
static const char *const robot_prefixes[] = {"owner-",  "bounce-",  "bounces-",
                                             "bounce+", "bounces+", "microsoftexchange"};

/* Is name one of the n names (case-insensitive)? */
static int
one_of(const char *name, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

/* Copy the first token of v (up to a blank, ';', ',' or '(') in lower case;
 * leading blanks and one leading comment are skipped. */
static void
first_token(const char *v, char *out, size_t outlen)
{
    size_t n = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '(') {
        const char *close = strchr(v, ')');

        v = close ? close + 1 : v + strlen(v);
        while (*v == ' ' || *v == '\t')
            v++;
    }
    while (v[n] != '\0' && v[n] != ' ' && v[n] != '\t' && v[n] != ';' && v[n] != ',' &&
           v[n] != '(' && n + 1 < outlen) {
        out[n] = (char)tolower((unsigned char)v[n]);
        n++;
    }
    out[n] = '\0';
}

/* Skip list tags ("[users] ") and blanks at the start of a Subject. */
static const char *
skip_tags(const char *s)
{
    int i;

    for (i = 0; i < 4; i++) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s != '[')
            break;
        {
            const char *close = strchr(s, ']');

            if (close == NULL || close - s > 64)
                break;
            s = close + 1;
        }
    }
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Does the Subject start like an auto-responder's? */
static int
reply_subject(const char *v)
{
    const char *s = skip_tags(v);
    size_t i;

    for (i = 0; i < sizeof(reply_subjects) / sizeof(reply_subjects[0]); i++)
        if (strncasecmp(s, reply_subjects[i], strlen(reply_subjects[i])) == 0)
            return 1;
    return 0;
}

/* Write the From value without the domain of its address, lower case,
 * with every run of other characters than letters and digits one blank,
 * and a blank at both ends, into out. */
static void
from_words(const char *v, char *out, size_t outlen)
{
    const char *at = strrchr(v, '@');
    size_t n = 0;
    int blank = 1;

    out[n++] = ' ';
    for (; *v != '\0' && n + 2 < outlen; v++) {
        unsigned char c = (unsigned char)*v;

        if (at != NULL && v == at) {
            /* skip the domain: up to '>', a blank or a comment */
            while (v[1] != '\0' && v[1] != '>' && v[1] != ' ' && v[1] != '\t' && v[1] != '(')
                v++;
            if (!blank)
                out[n++] = ' ';
            blank = 1;
            continue;
        }
        if (isalnum(c) || c >= 0x80) {
            out[n++] = (char)tolower(c);
            blank = 0;
        } else if (!blank) {
            out[n++] = ' ';
            blank = 1;
        }
    }
    if (!blank)
        out[n++] = ' ';
    out[n] = '\0';
}

/* The local part of the address in a From value, lower case, into out; 0 or -1. */
static int
local_part(const char *v, char *out, size_t outlen)
{
    const char *at = strrchr(v, '@'), *b;
    size_t n, i;

    if (at == NULL)
        return -1;
    b = at;
    while (b > v && b[-1] != '<' && b[-1] != ' ' && b[-1] != '\t' && b[-1] != '"' && b[-1] != ',' &&
           b[-1] != ':')
        b--;
    n = (size_t)(at - b);
    if (n == 0 || n >= outlen)
        return -1;
    for (i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)b[i]);
    out[n] = '\0';
    return 0;
}

/* Does a From value name a mail system rather than a person? 1 or 0. */
int
pm_automail_daemon(const char *from)
{
    char words[WORDS_MAX], lp[128], pat[64];
    size_t i, n;

    if (from == NULL)
        return 0;
    while (*from == ' ' || *from == '\t')
        from++;
    if (*from == '\0' || strstr(from, "<>") != NULL)
        return 1; /* no address at all: the null sender's notices */
    from_words(from, words, sizeof(words));
    for (i = 0; i < sizeof(daemon_words) / sizeof(daemon_words[0]); i++) {
        snprintf(pat, sizeof(pat), " %s ", daemon_words[i]);
        if (strstr(words, pat) != NULL)
            return 1;
    }
    if (local_part(from, lp, sizeof(lp)) != 0)
        return 0;
    n = strlen(lp);
    for (i = 0; i < sizeof(robot_suffixes) / sizeof(robot_suffixes[0]); i++) {
        size_t sl = strlen(robot_suffixes[i]);

        if (n > sl && strcmp(lp + n - sl, robot_suffixes[i]) == 0)
            return 1;
    }
    for (i = 0; i < sizeof(robot_prefixes) / sizeof(robot_prefixes[0]); i++)
        if (strncmp(lp, robot_prefixes[i], strlen(robot_prefixes[i])) == 0)
            return 1;
    return 0;
}

/* What one header says about the message: PM_AUTO_* flags, 0 for nothing. */
unsigned
pm_automail_header(const char *name, const char *value)
{
    char tok[32];

    if (name == NULL)
        return 0;
    if (value == NULL)
        value = "";
    if (strcasecmp(name, "Auto-Submitted") == 0) {
        first_token(value, tok, sizeof(tok));
        return strcmp(tok, "no") == 0 ? 0 : PM_AUTO_SUBMITTED;
    }
    if (strcasecmp(name, "Precedence") == 0) {
        first_token(value, tok, sizeof(tok));
        return strcmp(tok, "bulk") == 0 || strcmp(tok, "list") == 0 || strcmp(tok, "junk") == 0
                   ? PM_AUTO_BULK
                   : 0;
    }
    if (one_of(name, list_fields, sizeof(list_fields) / sizeof(list_fields[0])))
        return PM_AUTO_LIST;
    if (one_of(name, reply_fields, sizeof(reply_fields) / sizeof(reply_fields[0])))
        return PM_AUTO_REPLY;
    if (strcasecmp(name, "Subject") == 0)
        return reply_subject(value) ? PM_AUTO_REPLY : 0;
    if (strcasecmp(name, "From") == 0)
        return pm_automail_daemon(value) ? PM_AUTO_DAEMON : 0;
    if (strcasecmp(name, "Content-Type") == 0) {
        first_token(value, tok, sizeof(tok));
        return strcmp(tok, "multipart/report") == 0 ? PM_AUTO_REPORT : 0;
    }
    return 0;
}
