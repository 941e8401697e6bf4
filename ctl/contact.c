/*
 * contact.c - postmeterctl contact check SENDER RCPT: known or cold.
 *
 * Contacts are stored as keyed hashes (SipHash-2-4 under the configured
 * secret, 16 hex digits) of the normalised recipient, exactly as the milter
 * computes them; the value is the UTC day of the last counted message, or
 * of the last mail from the contact that taught it (a reply, or a person's
 * message within the day's cap). A contact stays known for contacts.ttl_days;
 * with contacts.company_wide a contact of any sender of the domain counts too.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "siphash.h"

/* The day stored for hash in the contacts hash kind ("ct": mailed, "lc":
 * learned from incoming mail) of a sender (tag 's') or a domain ('d'), or -1. */
static int
contact_day(struct ctl *c, char tag, const char *id, const char *kind, const char *hash,
            long long *day)
{
    char key[PM_ADDR_MAX + 64];
    redisReply *r;

    if (tag == 'd')
        ctl_domain_key(c, id, kind, key, sizeof(key));
    else
        ctl_key(c, id, kind, key, sizeof(key));
    if (!(r = ctl_cmd(c, "HGET %s %s", key, hash)))
        return CTL_ERR;
    *day = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
    freeReplyObject(r);
    return CTL_OK;
}

/* Print the answer. */
static void
contact_print(const struct ctl *c, const char *sender, const char *rcpt, const char *state,
              const char *via, long long day, long long until)
{
    char d[64] = "", u[64] = "";

    if (c->json) {
        fputs("{\"sender\":", stdout);
        out_json_str(stdout, sender);
        fputs(",\"recipient\":", stdout);
        out_json_str(stdout, rcpt);
        printf(",\"state\":\"%s\",\"known\":%s,\"via\":", state,
               strcmp(state, "known") == 0 ? "true" : "false");
        if (via)
            out_json_str(stdout, via);
        else
            fputs("null", stdout);
        printf(",\"last_day\":%lld,\"known_until_day\":%lld}\n", day, until);
        return;
    }
    if (strcmp(state, "internal") == 0) {
        printf("%s -> %s: internal recipient (never a first contact)\n", sender, rcpt);
        return;
    }
    if (day >= 0) {
        out_time(d, sizeof(d), day * CTL_DAY);
        out_time(u, sizeof(u), until * CTL_DAY);
        d[10] = u[10] = '\0';
    }
    if (strcmp(state, "known") == 0 && strcmp(via, "correspondent") == 0)
        printf("%s -> %s: known\n  wrote to the sender on %s, known until %s\n", sender, rcpt, d,
               u);
    else if (strcmp(state, "known") == 0)
        printf("%s -> %s: known\n  a contact of the %s: last message on %s, known until %s\n",
               sender, rcpt, via, d, u);
    else if (day >= 0)
        printf("%s -> %s: cold\n  last message on %s, no longer known since %s\n", sender, rcpt, d,
               u);
    else
        printf("%s -> %s: cold (never written to)\n", sender, rcpt);
}

/* contact check SENDER RCPT */
int
cmd_contact(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char sender[PM_ADDR_MAX], rcpt[PM_ADDR_MAX], hash[17];
    long long now, today, day = -1, dday = -1, lday = -1, ttl = 0;
    const char *via = NULL;
    int rc;

    if (argc < 1 || strcmp(argv[0], "check") != 0)
        return ctl_fail(CTL_USAGE, "usage: contact check SENDER RCPT");
    if ((rc = ctl_getopts("contact check", argc - 1, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != 2)
        return ctl_fail(CTL_USAGE, "usage: contact check SENDER RCPT");
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (pm_addr_normalise(o.pos[1], rcpt, sizeof(rcpt)) != 0 || !strchr(rcpt, '@'))
        return ctl_fail(CTL_USAGE, "not a recipient address: \"%s\"", o.pos[1]);
    if (!pm_is_external(c->conf, rcpt)) {
        contact_print(c, sender, rcpt, "internal", NULL, -1, -1);
        return CTL_OK;
    }
    pm_siphash_hex(c->conf->contacts_key, rcpt, strlen(rcpt), hash);
    if ((rc = ctl_now(c, &now)) || (rc = contact_day(c, 's', sender, "ct", hash, &day)) ||
        (rc = contact_day(c, 's', sender, "lc", hash, &lday)))
        return rc;
    today = now / CTL_DAY;
    ttl = c->conf->contacts_ttl_days;
    if (day >= 0 && today - day < ttl)
        via = "sender";
    else if (lday >= 0 && today - lday < ttl) {
        via = "correspondent";
        day = lday;
    }
    if (!via && c->conf->contacts_company_wide) {
        if ((rc = contact_day(c, 'd', pm_addr_domain(sender), "ct", hash, &dday)))
            return rc;
        if (dday >= 0 && today - dday < ttl) {
            via = "company";
            day = dday;
        }
    }
    if (day < 0 && dday >= 0)
        day = dday;
    contact_print(c, sender, rcpt, via ? "known" : "cold", via, day, day >= 0 ? day + ttl : -1);
    return CTL_OK;
}
