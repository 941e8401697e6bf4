/*
 * verdict.c - the policy engine's answer and the texts people read.
 *
 * Quota refusals are 451 4.7.1 (tempfail) or 550 5.7.1 (reject) and name the
 * sender, the limit and the time to retry, e.g.
 *   451 4.7.1 <alice@example.com>: hourly sending limit reached
 *   (100 messages per hour); try again after 14:05 UTC
 * A reject is permanent: it says to ask the administrator instead.
 * Too many recipients is 452, with 4.5.3 only at 100 recipients or more
 * (RFC 5321 lets a client expect 100 recipients per message).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "identity.h"
#include "log.h"
#include "buf.h"
#include "verdict.h"
#include "zone.h"

/* What a permanent quota refusal tells the sender to do. */
#define REJECT_ADVICE "not sent: ask your administrator"

/* Set the reply codes of v. */
static void
verdict_codes(struct pm_verdict *v, const char *rcode, const char *xcode)
{
    snprintf(v->rcode, sizeof(v->rcode), "%s", rcode);
    snprintf(v->xcode, sizeof(v->xcode), "%s", xcode);
}

/* An accept verdict. */
void
pm_verdict_accept(struct pm_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->action = PM_ACT_ACCEPT;
    memcpy(v->reason, "ok", 3);
}

/* "6.4" for 64599 ppm: one decimal, rounded down. */
void
pm_verdict_format_rate(long long ppm, char *buf, size_t len)
{
    if (ppm < 0)
        ppm = 0;
    snprintf(buf, len, "%lld.%lld", ppm / 10000, ppm / 1000 % 10);
}

/* "14:05 UTC" on now's date, else "2026-11-27 14:05 UTC", in the configured
 * zone ("22:05 UTC+8"); rounded up to the minute. */
void
pm_verdict_format_retry(long long now, long long t, char *buf, size_t len)
{
    long long up = (t + 59) / 60 * 60;
    struct tm a, b;

    pm_zone_tm(now, &a);
    pm_zone_tm(up, &b);
    pm_zone_format(up,
                   a.tm_year == b.tm_year && a.tm_yday == b.tm_yday ? "%H:%M" : "%Y-%m-%d %H:%M", 1,
                   buf, len);
}

/* The name of counter c in a reply ("hourly sending limit", company-wide for
 * the domain scope) into what, and its unit for limit ("messages per hour",
 * singular for 1); fills the reason ("msgs_hour", "domain_msgs_hour"). */
static const char *
limit_words(struct pm_verdict *v, enum pm_scope scope, enum pm_counter c, const char *domain,
            long long limit, char *what, size_t len)
{
    static const char *name[PM_C_COUNT] = {"hourly sending limit",
                                           "daily sending limit",
                                           "hourly recipient limit",
                                           "daily recipient limit",
                                           "daily limit of new recipients",
                                           "hourly limit of internal messages",
                                           "daily limit of internal messages"};
    static const char *unit[2][PM_C_COUNT] = {
        {"messages per hour", "messages per 24 hours", "external recipients per hour",
         "external recipients per 24 hours", "first-contact recipients per 24 hours",
         "messages to colleagues per hour", "messages to colleagues per 24 hours"},
        {"message per hour", "message per 24 hours", "external recipient per hour",
         "external recipient per 24 hours", "first-contact recipient per 24 hours",
         "message to colleagues per hour", "message to colleagues per 24 hours"}};
    static const char *word[PM_C_COUNT] = {"msgs_hour",   "msgs_day",      "rcpts_hour",
                                           "rcpts_day",   "new_rcpts_day", "int_msgs_hour",
                                           "int_msgs_day"};
    unsigned ci = (unsigned)c < PM_C_COUNT ? (unsigned)c : 0;

    snprintf(v->reason, sizeof(v->reason), "%s%s", scope == PM_SCOPE_DOMAIN ? "domain_" : "",
             word[ci]);
    if (scope == PM_SCOPE_DOMAIN)
        snprintf(what, len, "company-wide %s for %s", name[ci], domain ? domain : "");
    else
        snprintf(what, len, "%s", name[ci]);
    return unit[limit == 1][ci];
}

/* "try again after 14:05 UTC" for retry time t. */
static void
verdict_retry(long long now, long long t, char *buf, size_t len)
{
    char when[40];

    pm_verdict_format_retry(now, t, when, sizeof(when));
    snprintf(buf, len, "try again after %s", when);
}

/* Over a counter of a scope; see verdict.h. */
void
pm_verdict_limit(struct pm_verdict *v, enum pm_action act, const char *who, const char *domain,
                 enum pm_scope scope, enum pm_counter c, long long limit, long long now,
                 long long retry_at)
{
    char when[64], what[300];
    const char *unit;

    memset(v, 0, sizeof(*v));
    v->kind = PM_R_LIMIT;
    v->action = act;
    unit = limit_words(v, scope, c, domain, limit, what, sizeof(what));
    if (retry_at < 0) {
        /* the message alone is larger than the limit: retrying cannot help */
        if (act == PM_ACT_TEMPFAIL)
            v->action = act = PM_ACT_REJECT;
        snprintf(v->text, sizeof(v->text),
                 "<%s>: this message exceeds the %s (%lld %s); send it to fewer recipients", who,
                 what, limit, unit);
    } else {
        /* a permanent refusal does not tell the sender to wait */
        if (act == PM_ACT_REJECT)
            snprintf(when, sizeof(when), "%s", REJECT_ADVICE);
        else
            verdict_retry(now, retry_at, when, sizeof(when));
        snprintf(v->text, sizeof(v->text), "<%s>: %s reached (%lld %s); %s", who, what, limit, unit,
                 when);
    }
    if (act == PM_ACT_REJECT)
        verdict_codes(v, "550", "5.7.1");
    else
        verdict_codes(v, "451", "4.7.1");
}

/* Say in a limit's reply that the bounce rate halved the limit. */
void
pm_verdict_halved(struct pm_verdict *v, long long ppm)
{
    char rate[48], text[sizeof(v->text)];
    const char *colon = strstr(v->text, ">: "), *close;

    if (!colon || !(close = strchr(colon, ')')))
        return;
    pm_verdict_format_rate(ppm, rate, sizeof(rate));
    if (snprintf(text, sizeof(text), "%.*s, halved: %s%% of your recent mail bounced%s",
                 (int)(close - v->text), v->text, rate, close) < (int)sizeof(text))
        memcpy(v->text, text, sizeof(text));
}

/* Say in a new-recipient limit's reply that too few first contacts replied. */
void
pm_verdict_reply_brake(struct pm_verdict *v, long long first, long long replied, long long want_ppm)
{
    char rate[48], want[48], text[sizeof(v->text)];
    const char *colon = strstr(v->text, ">: "), *close;

    if (!colon || !(close = strchr(colon, ')')) || first <= 0)
        return;
    pm_verdict_format_rate(replied * 1000000 / first, rate, sizeof(rate));
    pm_verdict_format_rate(want_ppm, want, sizeof(want));
    if (snprintf(text, sizeof(text),
                 "%.*s, first-contact limit halved: %s%% of %lld new contacts replied in 30 days "
                 "(at least %s%% wanted)%s",
                 (int)(close - v->text), v->text, rate, first, want, close) < (int)sizeof(text))
        memcpy(v->text, text, sizeof(text));
}

/* One recipient more than a recipient limit can take in one message; see verdict.h. */
void
pm_verdict_rcpt_limit(struct pm_verdict *v, enum pm_action act, const char *who, const char *domain,
                      enum pm_scope scope, enum pm_counter c, long long limit)
{
    char what[300];
    const char *unit;

    memset(v, 0, sizeof(*v));
    v->kind = PM_R_LIMIT;
    v->action = act;
    unit = limit_words(v, scope, c, domain, limit, what, sizeof(what));
    snprintf(v->text, sizeof(v->text),
             "<%s>: too many recipients for the %s (%lld %s); send to the others in another "
             "message later",
             who, what, limit, unit);
    if (act == PM_ACT_REJECT)
        verdict_codes(v, "550", "5.7.1");
    else
        verdict_codes(v, "452", limit >= 100 ? "4.5.3" : "4.7.1");
}

/* Over a warm-up cap; see verdict.h. */
void
pm_verdict_warmup(struct pm_verdict *v, enum pm_action act, const char *who, const char *domain,
                  enum pm_scope scope, int hourly, long long stage, long long limit, long long now,
                  long long retry_at)
{
    char when[64], what[300];

    memset(v, 0, sizeof(*v));
    v->kind = PM_R_WARMUP;
    v->action = act;
    snprintf(v->reason, sizeof(v->reason), "%swarmup_%s", scope == PM_SCOPE_DOMAIN ? "domain_" : "",
             hourly ? "hour" : "day");
    if (scope == PM_SCOPE_DOMAIN)
        snprintf(what, sizeof(what), "company-wide warm-up limit for %s", domain ? domain : "");
    else
        snprintf(what, sizeof(what), "warm-up limit");
    if (retry_at < 0) {
        if (act == PM_ACT_TEMPFAIL)
            v->action = act = PM_ACT_REJECT;
        snprintf(v->text, sizeof(v->text),
                 "<%s>: this message exceeds the %s (day %lld of warm-up)", who, what, stage + 1);
    } else {
        if (act == PM_ACT_REJECT)
            snprintf(when, sizeof(when), "%s", REJECT_ADVICE);
        else
            verdict_retry(now, retry_at, when, sizeof(when));
        if (snprintf(v->text, sizeof(v->text),
                     "<%s>: %s reached (day %lld of warm-up: %lld message%s %s); %s", who, what,
                     stage + 1, limit, limit == 1 ? "" : "s", hourly ? "per hour" : "today",
                     when) >= (int)sizeof(v->text))
            pm_log(PM_LOG_DEBUG, "reply text cut to %zu bytes", sizeof(v->text) - 1);
    }
    if (act == PM_ACT_REJECT)
        verdict_codes(v, "550", "5.7.1");
    else
        verdict_codes(v, "451", "4.7.1");
}

/* Append text to the string in buf (len bytes), after sep when it is not empty. */
static void
append(char *buf, size_t len, const char *sep, const char *text)
{
    struct pm_buf b;

    pm_buf_resume(&b, buf, len);
    if (b.len)
        pm_buf_str(&b, sep);
    pm_buf_str(&b, text);
}

/* 1 when rule r looks at first contacts (first_contact, cold_recipients). */
static int
rule_is_cold(const struct pm_rule *r)
{
    size_t i;

    for (i = 0; i < r->n_all; i++)
        if (r->all[i].feature == PM_F_FIRST_CONTACT || r->all[i].feature == PM_F_COLD_RECIPIENTS)
            return 1;
    for (i = 0; i < r->n_any; i++)
        if (r->any[i].feature == PM_F_FIRST_CONTACT || r->any[i].feature == PM_F_COLD_RECIPIENTS)
            return 1;
    return 0;
}

/* "<bob@example.org>" for an address as given, with or without its brackets. */
static void
quote_addr(const char *addr, char *buf, size_t len)
{
    size_t n = strlen(addr);

    if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
        snprintf(buf, len, "%s", addr);
    else
        snprintf(buf, len, "<%s>", addr);
}

/* The verdict of the content rules that matched; see verdict.h. */
void
pm_verdict_rules(struct pm_verdict *v, const struct pm_rule *rules, const int *matched, size_t n,
                 int dry_run_all, const char *who)
{
    pm_verdict_rules_to(v, rules, matched, n, dry_run_all, who, NULL, 0);
}

/* The same, naming the first-contact recipients; see verdict.h. */
void
pm_verdict_rules_to(struct pm_verdict *v, const struct pm_rule *rules, const int *matched, size_t n,
                    int dry_run_all, const char *who, const char *cold_rcpt, long long ncold)
{
    const struct pm_rule *worst = NULL;
    char item[300], to[PM_ADDR_MAX + 64] = "", rcpt[PM_ADDR_MAX + 3];
    size_t i;
    int acts = 0;

    pm_verdict_accept(v);
    v->reason[0] = '\0';
    for (i = 0; i < n; i++) {
        if (!matched[i])
            continue;
        if (snprintf(item, sizeof(item), "rule:%s%s", rules[i].name, rules[i].dry_run ? "?" : "") <
            0)
            continue;
        append(v->reason, sizeof(v->reason), ",", item);
        if (rules[i].dry_run)
            continue;
        acts = 1;
        if (!worst || rules[i].action > worst->action)
            worst = &rules[i];
    }
    if (v->reason[0])
        v->kind = PM_R_RULE;
    else
        snprintf(v->reason, sizeof(v->reason), "ok");
    if (!acts)
        return;
    v->action = (enum pm_action)worst->action;
    v->dry_run = dry_run_all;
    if (v->action >= PM_ACT_TEMPFAIL) {
        verdict_codes(v, v->action == PM_ACT_REJECT ? "550" : "451",
                      v->action == PM_ACT_REJECT ? "5.7.1" : "4.7.1");
        if (cold_rcpt && *cold_rcpt && ncold > 0 && rule_is_cold(worst)) {
            /* which recipient is new: the sender may have written to several */
            quote_addr(cold_rcpt, rcpt, sizeof(rcpt));
            if (ncold > 1)
                snprintf(to, sizeof(to), " to %s and %lld other new contact%s", rcpt, ncold - 1,
                         ncold - 1 == 1 ? "" : "s");
            else
                snprintf(to, sizeof(to), " to %s", rcpt);
        }
        if (snprintf(v->text, sizeof(v->text), "<%s>%s: %s", who, to, worst->reply) < 0)
            v->text[0] = '\0';
        return;
    }
    for (i = 0; i < n; i++) {
        if (!matched[i] || rules[i].dry_run)
            continue;
        if (snprintf(item, sizeof(item), "%s: %s", rules[i].name, rules[i].reply) >= 0)
            append(v->text, sizeof(v->text), "; ", item);
    }
}

/* The tag header's value: the content rules that act in v; see verdict.h. */
void
pm_verdict_header(const struct pm_verdict *v, char *buf, size_t len)
{
    const char *p = v->reason, *end;
    size_t n, full = strlen(v->reason) + 1 >= sizeof(v->reason);
    char item[sizeof(v->reason) + 8];

    if (len == 0)
        return;
    buf[0] = '\0';
    for (; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        n = (size_t)(end - p);
        /* a rule's code; not one in dry run ("?"), nor one the reason's end may have cut */
        if (n <= 5 || strncmp(p, "rule:", 5) != 0 || p[n - 1] == '?' || (full && !*end))
            continue;
        snprintf(item, sizeof(item), "rule=%.*s", (int)(n - 5), p + 5);
        append(buf, len, ", ", item);
    }
}

/* "2026-11-20" for a store time. */
static void
day_text(long long t, char *buf, size_t len)
{
    pm_zone_format(t, "%Y-%m-%d", 0, buf, len);
}

/* A recipient on the suppression list. */
void
pm_verdict_suppressed(struct pm_verdict *v, const char *rcpt, const struct pm_suppressed *e)
{
    char a[16], b[16], to[PM_ADDR_MAX + 3];
    int admin = strncmp(e->sender, "admin:", 6) == 0;

    memset(v, 0, sizeof(*v));
    v->kind = PM_R_SUPPRESSED;
    v->action = PM_ACT_REJECT;
    snprintf(v->reason, sizeof(v->reason), "suppressed");
    verdict_codes(v, "550", "5.1.1");
    day_text(e->since, a, sizeof(a));
    day_text(e->until, b, sizeof(b));
    quote_addr(rcpt, to, sizeof(to));
    if (snprintf(v->text, sizeof(v->text), "%s: %s %s (%s); postmeter will not send to it %s%s", to,
                 admin ? "this address was put on the suppression list by an administrator on"
                       : "this address bounced as invalid on",
                 a, e->status[0] ? e->status : "5.1.1", e->until > 0 ? "before " : "again",
                 e->until > 0 ? b : "") < 0)
        v->text[0] = '\0';
}

/* The sender's bounce rate stops first-contact or all external mail, or warns. */
void
pm_verdict_reputation(struct pm_verdict *v, enum pm_action act, const char *who, int cold,
                      long long ppm, long long sent)
{
    char num[32], rate[40];

    memset(v, 0, sizeof(*v));
    v->kind = PM_R_REPUTATION;
    v->action = act;
    pm_verdict_format_rate(ppm, num, sizeof(num));
    snprintf(rate, sizeof(rate), "%s%%", num);
    if (act == PM_ACT_TAG) {
        snprintf(v->reason, sizeof(v->reason), "bounce_rate_warning");
        snprintf(v->text, sizeof(v->text),
                 "bounce rate warning: %s of %lld recent external recipients bounced as invalid",
                 rate, sent);
        return;
    }
    snprintf(v->reason, sizeof(v->reason), "%s",
             cold ? "bounce_rate_first_contact" : "bounce_rate_stop");
    verdict_codes(v, act == PM_ACT_REJECT ? "550" : "451",
                  act == PM_ACT_REJECT ? "5.7.1" : "4.7.1");
    if (snprintf(v->text, sizeof(v->text),
                 cold
                     ? "<%s>: first-contact mail paused: %s of your recent mail bounced as invalid "
                       "addresses; write only to known contacts and ask your administrator"
                     : "<%s>: sending paused: %s of your recent mail bounced as invalid addresses; "
                       "ask your administrator",
                 who, rate) < 0)
        v->text[0] = '\0';
}

/* Too many recipients in one message. */
void
pm_verdict_rcpts_per_msg(struct pm_verdict *v, const char *who, long long limit)
{
    memset(v, 0, sizeof(*v));
    v->kind = PM_R_RCPTS_PER_MSG;
    v->action = PM_ACT_TEMPFAIL;
    snprintf(v->reason, sizeof(v->reason), "rcpts_per_msg");
    verdict_codes(v, "452", limit >= 100 ? "4.5.3" : "4.7.1");
    snprintf(v->text, sizeof(v->text),
             "<%s>: too many recipients in one message (%lld per message); send the rest in "
             "another message",
             who, limit);
}

/* The sender is in incident: hold or tempfail, saying why and whom to ask. */
void
pm_verdict_incident(struct pm_verdict *v, enum pm_action act, const char *who,
                    const struct pm_incident *inc)
{
    char sig[sizeof(inc->signal)], why[320];
    size_t n = strcspn(inc->signal, "+");
    int by_admin = strncmp(inc->by, "admin", 5) == 0 || strcmp(inc->signal, "admin") == 0;

    memset(v, 0, sizeof(*v));
    v->kind = PM_R_INCIDENT;
    v->action = act == PM_ACT_TEMPFAIL ? PM_ACT_TEMPFAIL : PM_ACT_HOLD;
    snprintf(sig, sizeof(sig), "%.*s", (int)n, inc->signal);
    snprintf(v->reason, sizeof(v->reason), "incident:%s", sig[0] ? sig : "admin");
    if (by_admin)
        snprintf(why, sizeof(why), "locked by your mail administrator");
    else
        snprintf(why, sizeof(why), "unusual activity (%s: %.*s)", sig,
                 (int)strcspn(inc->figures, ";"), inc->figures);
    if (v->action == PM_ACT_HOLD) {
        if (snprintf(v->text, sizeof(v->text),
                     "<%s>: sending paused: %s; message held for your mail administrator", who,
                     why) < 0)
            v->text[0] = '\0';
        return;
    }
    verdict_codes(v, "451", "4.7.1");
    if (snprintf(v->text, sizeof(v->text),
                 "<%s>: sending paused: %s; contact your mail administrator", who, why) < 0)
        v->text[0] = '\0';
}

/* The store could not answer: accept or tempfail as configured. */
void
pm_verdict_store_error(struct pm_verdict *v, enum pm_on_error on_error, const char *who)
{
    memset(v, 0, sizeof(*v));
    v->kind = PM_R_STORE_ERROR;
    snprintf(v->reason, sizeof(v->reason), "store_error");
    if (on_error == PM_ONERR_ACCEPT) {
        v->action = PM_ACT_ACCEPT;
        return;
    }
    v->action = PM_ACT_TEMPFAIL;
    verdict_codes(v, "451", "4.3.0");
    snprintf(v->text, sizeof(v->text),
             "<%s>: sending quota cannot be checked right now; try again in a few minutes", who);
}

/* A recipient's refusal given for the whole message (local submission): one
 * Postfix would have the client retry in another message (452) cannot be
 * cured by waiting, so it becomes permanent (550 5.x.x). */
void
pm_verdict_whole_message(struct pm_verdict *v)
{
    if (strcmp(v->rcode, "452") == 0) {
        v->action = PM_ACT_REJECT;
        memcpy(v->rcode, "550", 4);
        v->xcode[0] = '5';
    }
}
