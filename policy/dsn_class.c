/*
 * dsn_class.c - status codes and classes of bounced recipients.
 *
 * An enhanced status code (RFC 3463) decides the class when it is
 * specific: 5.1.1, 5.1.2, 5.1.3, 5.1.6 and 5.1.10 are invalid addresses,
 * 4.2.2 and 5.2.2 full mailboxes, other 4.x.x temporary, any other 5.x.x
 * other, whatever the words say; 5.7.x is a policy block unless an
 * explicit invalid-address phrase stands beside it (servers use 5.7.x as
 * a catch-all for "rejected"). When the code is generic (X.Y.0) or
 * missing, the remote text is read as a postmaster reads it: a phrase
 * table gives the subject and detail ("no such user" is 1.1, "over quota"
 * 2.2, "spam" 7.1), the SMTP reply code (or the code's first digit) the
 * class. An invalid address is never read from a refusal at MAIL FROM
 * (the sender's side), nor from words alone after DATA (a filter), nor
 * from a refusal whose stated reason is something else ("Recipient
 * address rejected: Greylisted").
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dsn_util.h"

/* One phrase of the remote text and the code detail it means. */
struct phrase {
    const char *text; /* matched case-insensitively anywhere */
    const char *sd;   /* "1.1": subject.detail of the enhanced code */
    int transient;    /* 1: the class is 4 unless a reply code says otherwise */
};

/*
 * Checked in order; the first match wins, so words about the sender,
 * policy and content come before the broad "does not exist" kind.
 */
static const struct phrase phrases[] = {
    /* the sender's own address or domain: not the recipient's fault */
    {"sender address rejected", "1.8", 0},
    {"sender verify failed", "1.8", 0},
    {"sender domain", "1.8", 0},
    {"domain of sender", "1.8", 0},
    /* the sending server's own name: a block of it */
    {"my name was rejected", "7.1", 0},
    {"helo command rejected", "7.1", 0},
    {"invalid helo", "7.1", 0},
    /* mailbox full */
    {"mailbox full", "2.2", 0},
    {"mailbox is full", "2.2", 0},
    {"mailbox is over", "2.2", 0},
    {"mail box full", "2.2", 0},
    {"mailbox size limit", "2.2", 0},
    {"over quota", "2.2", 0},
    {"overquota", "2.2", 0},
    {"quota exceeded", "2.2", 0},
    {"exceeded storage", "2.2", 0},
    {"exceeds the quota", "2.2", 0},
    {"exceed the quota", "2.2", 0},
    {"insufficient storage", "2.2", 0},
    {"insufficient disk", "2.2", 0},
    {"quota", "2.2", 0},
    {"mailbox has exceeded", "2.2", 0},
    {"user is over", "2.2", 0},
    {"\xe9\x82\xae\xe7\xae\xb1\xe5\xb7\xb2\xe6\xbb\xa1", "2.2", 0}, /* UTF-8 "mailbox full" (zh) */
    {"\xe7\xa9\xba\xe9\x97\xb4\xe4\xb8\x8d\xe8\xb6\xb3", "2.2", 0}, /* "not enough space" (zh) */
    /* disabled or suspended accounts */
    {"account disabled", "2.1", 0},
    {"account has been disabled", "2.1", 0},
    {"account is disabled", "2.1", 0},
    {"mailbox disabled", "2.1", 0},
    {"mailbox is disabled", "2.1", 0},
    {"is inactive", "2.1", 0},
    {"account suspended", "2.1", 0},
    {"has been suspended", "2.1", 0},
    {"is suspended", "2.1", 0},
    {"deactivated", "2.1", 0},
    /* size */
    {"message size exceeds", "3.4", 0},
    {"message too large", "3.4", 0},
    {"message too big", "3.4", 0},
    {"message is too large", "3.4", 0},
    {"size limit", "3.4", 0},
    /* policy, spam and authentication */
    {"not accepting mail from", "7.1", 0}, /* the recipient refuses this sender (AOL) */
    {"relay access denied", "7.1", 0},
    {"relaying denied", "7.1", 0},
    {"relay not permitted", "7.1", 0},
    {"not permitted to relay", "7.1", 0},
    {"spam", "7.1", 0},
    {"\xe5\x9e\x83\xe5\x9c\xbe\xe9\x82\xae\xe4\xbb\xb6", "7.1", 0}, /* "junk mail" (zh) */
    {"blacklist", "7.1", 0},
    {"blocklist", "7.1", 0},
    {"block list", "7.1", 0},
    {"blocked", "7.1", 0},
    {"spamhaus", "7.1", 0},
    {"dnsbl", "7.1", 0},
    {"rbl", "7.1", 0},
    {"reputation", "7.1", 0},
    {"virus", "7.1", 0},
    {"recipient address rejected: access denied", "1.1",
     0}, /* Exchange Online: no such recipient */
    {"access denied", "7.1", 0},
    {"refused", "7.1", 0},
    {"policy", "7.1", 0},
    {"not authorized", "7.1", 0},
    {"unauthorized", "7.1", 0},
    {"reverse dns", "7.1", 0},
    {"ptr record", "7.1", 0},
    {"spf", "7.23", 0},
    {"dmarc", "7.1", 0},
    {"dkim", "7.1", 0},
    /* the recipient's domain */
    {"host not found, try again", "4.3", 1}, /* Postfix: a DNS lookup that failed for now */
    {"host unknown", "1.2", 0},
    {"unknown host", "1.2", 0},
    {"host not found", "1.2", 0},
    {"domain not found", "1.2", 0},
    {"no such domain", "1.2", 0},
    {"unknown domain", "1.2", 0},
    {"domain does not exist", "1.2", 0},
    {"domain name not found", "1.2", 0},
    {"domain is not reachable", "1.2", 0}, /* Outlook.com: "... please check the domain" */
    {"name or service not known", "1.2", 0},
    {"unrouteable address", "4.4", 0}, /* Exim: no route, not proof of a bad domain */
    {"no mx record", "1.2", 0},
    {"domain is not valid", "1.2", 0},
    {"unresolvable", "1.2", 0},
    {"invalid domain", "1.2", 0},
    {"find a mail exchanger", "1.2", 0}, /* qmail: "couldn't find a mail exchanger or IP" */
    {"no smtp service", "1.10", 0},      /* a null MX (RFC 7505): accepts no mail */
    {"does not accept mail", "1.10", 0},
    {"accepts no mail", "1.10", 0},
    /* the recipient's mailbox */
    {"user unknown", "1.1", 0},
    {"unknown user", "1.1", 0},
    {"no such user", "1.1", 0},
    {"no such recipient", "1.1", 0},
    {"no such mailbox", "1.1", 0},
    {"no such account", "1.1", 0},
    {"no such address", "1.1", 0},
    {"no such person", "1.1", 0},
    {"user not found", "1.1", 0},
    {"user does not exist", "1.1", 0},
    {"user doesn't exist", "1.1", 0},
    {"recipient not found", "1.1", 0},
    {"recipientnotfound", "1.10", 0},
    {"recipient unknown", "1.1", 0},
    {"unknown recipient", "1.1", 0},
    {"invalid recipient", "1.1", 0},
    {"invalid mailbox", "1.1", 0},
    {"invalid address", "1.1", 0},
    {"address not found", "1.1", 0},
    {"address unknown", "1.1", 0},
    {"unknown address", "1.1", 0},
    {"mailbox not found", "1.1", 0},
    {"mailbox unavailable", "1.1", 0},
    {"mailbox does not exist", "1.1", 0},
    {"mailbox is unavailable", "1.1", 0},
    {"no mailbox", "1.1", 0},
    {"not a valid mailbox", "1.1", 0},
    {"unknown or illegal alias", "1.1", 0},
    {"name is not recognized", "1.1", 0},
    {"wasn't found at", "1.1", 0},
    {"was not found", "1.1", 0},
    {"may not exist", "0.0", 0}, /* a guess, not a fact */
    {"does not exist", "1.1", 0},
    {"doesn't exist", "1.1", 0},
    {"not exist", "1.1", 0},
    {"no longer", "1.1", 0},
    {"not our customer", "1.1", 0},
    {"not listed in", "1.1", 0},
    {"nosuchuser", "1.1", 0},
    {"unknown e-mail address", "1.1", 0},
    {"unknown email address", "1.1", 0},
    {"no valid recipient", "1.1", 0},
    {"doesn't have a", "1.1", 0},
    {"does not have a", "1.1", 0},
    {"bad recipient", "1.1", 0},
    {"address syntax", "1.3", 0},
    {"\xe7\x94\xa8\xe6\x88\xb7\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8", "1.1",
     0}, /* "user does not exist" (zh) */
    {"\xe5\x9c\xb0\xe5\x9d\x80\xe4\xb8\x8d\xe5\xad\x98\xe5\x9c\xa8", "1.1",
     0}, /* "address does not exist" */
    {"unknown local part", "1.1", 0},
    {"not a known user", "1.1", 0},
    {"no mail box", "1.1", 0},
    {"bad_recipient", "1.1", 0},
    {"not an active address", "1.1", 0},
    /* transient trouble */
    {"too many connections", "4.5", 1},
    {"try again later", "0.0", 1},
    {"temporarily", "0.0", 1},
    {"timed out", "4.1", 1},
    {"timeout", "4.1", 1},
    {"connection refused", "4.1", 1},
    {"greylist", "7.1", 1},
    {"graylist", "7.1", 1},
    {"rate limit", "7.1", 1},
    {"too many recipients", "5.3", 0},
    /* a refusal at RCPT TO whose reason no phrase above names (Postfix's
     * "Recipient address rejected: <reason>"; a restriction, a filter):
     * not proof that the address is invalid; without a reason it is */
    {"address rejected:", "0.0", 0},
    {"address rejected", "1.1", 0},
};

/*
 * Explicit invalid-address phrases: beside a 5.7.x code (a catch-all for
 * "rejected") they make the failure hard. Vaguer words ("address
 * rejected", "access denied", "no longer", "was not found") do not.
 */
static const char *const explicit_invalid[] = {
    "user unknown",
    "unknown user",
    "no such user",
    "no such recipient",
    "no such mailbox",
    "no such account",
    "no such address",
    "no such person",
    "no such domain",
    "user not found",
    "user does not exist",
    "user doesn't exist",
    "recipient not found",
    "recipientnotfound",
    "recipient unknown",
    "unknown recipient",
    "invalid recipient",
    "invalid mailbox",
    "mailbox not found",
    "mailbox does not exist",
    "not a valid mailbox",
    "address does not exist",
    "nosuchuser",
    "unknown local part",
    "not a known user",
    "no mail box",
    "no mailbox",
    "bad_recipient",
    "bad recipient",
    "not an active address",
    "domain does not exist",
    "does not accept mail",
    "accepts no mail",
    "no smtp service",
    "recipient address rejected: access denied",
};

/* The phrase of the text that tells the cause, or NULL (the text is read
 * lower-cased, up to its first 2 KB). */
static const struct phrase *
phrase_of(const char *diag)
{
    char low[2048];
    size_t i, n;

    if (diag == NULL)
        return NULL;
    for (n = 0; diag[n] != '\0' && n < sizeof(low) - 1; n++)
        low[n] = (char)tolower((unsigned char)diag[n]);
    low[n] = '\0';
    for (i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
        if (strstr(low, phrases[i].text) != NULL)
            return &phrases[i];
    return NULL;
}

/* The status code a postmaster reads from a reply text; 0 or -1. */
int
pm_bounce_status_from_text(const char *diag, char *out, size_t outlen)
{
    const struct phrase *ph;
    int reply;
    char c;

    if (outlen < 16)
        return -1;
    out[0] = '\0';
    if (diag == NULL)
        return -1;
    ph = phrase_of(diag);
    reply = pm_dsn_find_reply(diag);
    if (ph == NULL && reply == 0)
        return -1;
    c = reply ? (char)('0' + reply / 100) : ph->transient ? '4' : '5';
    snprintf(out, outlen, "%c.%s", c, ph != NULL ? ph->sd : "0.0");
    return 0;
}

/* Split "c.s.d" into numbers; 0 or -1. */
static int
split_status(const char *st, int *c, int *s, int *d)
{
    char buf[16];

    if (st == NULL || pm_dsn_find_status(st, buf, sizeof(buf)) != 0)
        return -1;
    return sscanf(buf, "%d.%d.%d", c, s, d) == 3 ? 0 : -1;
}

/* The class of a specific code, or PM_BOUNCE_NONE when the code is generic. */
static enum pm_bounce_class
class_of_code(int c, int s, int d)
{
    if (c == 2)
        return PM_BOUNCE_NONE;
    if (c == 4)
        return s == 2 && d == 2 ? PM_BOUNCE_FULL : PM_BOUNCE_SOFT;
    if (s == 1 && (d == 1 || d == 2 || d == 3 || d == 6 || d == 10))
        return PM_BOUNCE_HARD;
    if (s == 7)
        return PM_BOUNCE_BLOCK;
    if (s == 2 && d == 2)
        return PM_BOUNCE_FULL;
    return PM_BOUNCE_OTHER;
}

/* Is "c.s.d" a generic code (X.0.x, X.s.0) that says little about the cause? */
static int
generic(int s, int d)
{
    return s == 0 || d == 0;
}

/* Does the text hold an explicit invalid-address phrase? */
static int
says_invalid(const char *diag)
{
    size_t i, n;

    if (diag == NULL)
        return 0;
    n = strlen(diag);
    for (i = 0; i < sizeof(explicit_invalid) / sizeof(explicit_invalid[0]); i++)
        if (pm_dsn_memcasestr(diag, n, explicit_invalid[i]) != NULL)
            return 1;
    return 0;
}

/* The class of a failure from its status code and remote text, whatever
 * the stage; *decided is set when a specific code the server wrote did it. */
static enum pm_bounce_class
classify(const char *status, const char *diag, int by_code, int *decided)
{
    int c, s, d, tc, ts, td;
    char derived[16];

    *decided = 0;
    if (split_status(status, &c, &s, &d) != 0 && split_status(diag, &c, &s, &d) == 0) {
        status = diag; /* no code given, but the remote text carries one */
        by_code = 1;
    }
    if (split_status(status, &c, &s, &d) != 0) {
        if (pm_bounce_status_from_text(diag, derived, sizeof(derived)) != 0)
            return PM_BOUNCE_NONE;
        if (split_status(derived, &c, &s, &d) != 0)
            return PM_BOUNCE_NONE;
        return class_of_code(c, s, d);
    }
    if (c == 2)
        return PM_BOUNCE_NONE;
    if (!generic(s, d)) {
        *decided = by_code;
        if (c == 5 && s == 7 && says_invalid(diag)) {
            *decided = 0; /* the words, not the code, say the address is invalid */
            return PM_BOUNCE_HARD;
        }
        return class_of_code(c, s, d);
    }
    if (c == 4) {
        if (pm_bounce_status_from_text(diag, derived, sizeof(derived)) == 0 &&
            split_status(derived, &tc, &ts, &td) == 0 && ts == 2 && td == 2)
            return PM_BOUNCE_FULL;
        return PM_BOUNCE_SOFT;
    }
    /* a generic permanent code: the words decide */
    if (pm_bounce_status_from_text(diag, derived, sizeof(derived)) == 0 &&
        split_status(derived, &tc, &ts, &td) == 0 && !generic(ts, td))
        return class_of_code(5, ts, td);
    return PM_BOUNCE_OTHER;
}

/* Was the failure given at MAIL FROM (the sender's address or server was
 * refused, before any recipient was named)? */
static int
at_mail_from(const char *diag)
{
    size_t n = strlen(diag);

    return pm_dsn_memcasestr(diag, n, "rcpt to") == NULL &&
           (pm_dsn_memcasestr(diag, n, "after mail from") != NULL ||
            pm_dsn_memcasestr(diag, n, "in reply to mail from") != NULL);
}

/* The class of a failure; by_code: the status is a code the server wrote. */
enum pm_bounce_class
pm_dsn_classify(const char *status, const char *diag, int by_code, int *decided)
{
    int code_decided;
    enum pm_bounce_class cls = classify(status, diag, by_code, &code_decided);

    if (decided != NULL)
        *decided = code_decided;
    if (cls == PM_BOUNCE_HARD && diag != NULL && at_mail_from(diag))
        return PM_BOUNCE_OTHER; /* the sender's side was refused, not the recipient */
    if (cls == PM_BOUNCE_HARD && !code_decided && diag != NULL && pm_dsn_after_data(diag))
        return PM_BOUNCE_BLOCK; /* words of no such user after the content: a filter */
    return cls;
}

/* The class of a failure from its status code and remote text. */
enum pm_bounce_class
pm_bounce_classify(const char *status, const char *diag)
{
    return pm_dsn_classify(status, diag, 1, NULL);
}

/* "hard", "block", "full", "soft", "other" or "none". */
const char *
pm_bounce_class_name(enum pm_bounce_class c)
{
    switch (c) {
    case PM_BOUNCE_HARD:
        return "hard";
    case PM_BOUNCE_BLOCK:
        return "block";
    case PM_BOUNCE_FULL:
        return "full";
    case PM_BOUNCE_SOFT:
        return "soft";
    case PM_BOUNCE_OTHER:
        return "other";
    case PM_BOUNCE_NONE:
        break;
    }
    return "none";
}

/*
 * Fill in status (when generic or missing) and class of r from its diag.
 * permanent_hint: 1 the bounce says the failure is permanent, 0 it says
 * temporary, -1 nothing known. Returns 1 when a code the server wrote
 * (the status given, or one in the remote text) decided the class.
 */
int
pm_dsn_finish_rcpt(struct pm_bounce_rcpt *r, int permanent_hint)
{
    char found[16], derived[16];
    int c = 0, s = 0, d = 0, fc, fs, fd, decided = 0;
    int have = split_status(r->status, &c, &s, &d) == 0, by_code = have;

    if (have && pm_dsn_find_status(r->status, found, sizeof(found)) == 0)
        memcpy(r->status, found, sizeof(found));
    /* a more specific code of the same class in the remote text */
    if ((!have || (s == 0 && d == 0)) && pm_dsn_find_status(r->diag, found, sizeof(found)) == 0 &&
        split_status(found, &fc, &fs, &fd) == 0 && (!have || fc == c) && fc != 2 &&
        (!generic(fs, fd) || !have)) {
        memcpy(r->status, found, sizeof(found));
        have = by_code = 1;
        c = fc, s = fs, d = fd;
    }
    if ((!have || generic(s, d)) && r->diag[0] != '\0' &&
        pm_bounce_status_from_text(r->diag, derived, sizeof(derived)) == 0 &&
        split_status(derived, &fc, &fs, &fd) == 0) {
        if (!have && permanent_hint >= 0 && pm_dsn_find_reply(r->diag) == 0)
            derived[0] = permanent_hint ? '5' : '4', fc = derived[0] - '0';
        if (!have || (fc == c && s == 0 && d == 0 && !generic(fs, fd))) {
            memcpy(r->status, derived, sizeof(derived));
            have = 1;
            by_code = 0; /* read from the words */
        }
    }
    if (!have)
        snprintf(r->status, sizeof(r->status), "%c.0.0", permanent_hint ? '5' : '4');
    if (r->action[0] == '\0' && r->status[0] != '\0')
        snprintf(r->action, sizeof(r->action), "%s",
                 r->status[0] == '2'   ? "delivered"
                 : r->status[0] == '4' ? "delayed"
                                       : "failed");
    r->cls = r->status[0] != '\0' || r->diag[0] != '\0'
                 ? pm_dsn_classify(r->status[0] ? r->status : NULL, r->diag, by_code, &decided)
                 : PM_BOUNCE_NONE;
    if (strcmp(r->action, "delivered") == 0 || strcmp(r->action, "relayed") == 0 ||
        strcmp(r->action, "expanded") == 0)
        r->cls = PM_BOUNCE_NONE;
    return decided;
}

/*
 * Was the failure given after the message was sent (at end of DATA)? A
 * server that knows its users refuses an unknown one at RCPT TO; "no such
 * user" after the content is a filter's refusal (mobile carriers' domain
 * filters answer so), not proof that the address is invalid.
 */
int
pm_dsn_after_data(const char *diag)
{
    static const char *const marks[] = {"end of data", "after data", "command data",
                                        "in reply to data"};
    size_t i, n = strlen(diag);

    if (pm_dsn_memcasestr(diag, n, "recipient address rejected") != NULL ||
        pm_dsn_memcasestr(diag, n, "rcpt to") != NULL)
        return 0; /* words of the RCPT stage, whatever a relaying filter says */
    for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (pm_dsn_memcasestr(diag, n, marks[i]) != NULL)
            return 1;
    return 0;
}
