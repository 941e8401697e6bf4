/*
 * contact.c - postmeterctl contact check SENDER RCPT: known or cold.
 *
 * Contacts are stored as keyed hashes (pm_siphash_hex under the configured
 * secret, 16 hex digits) of the normalised recipient, exactly as the milter
 * computes them; the store gives the UTC day of the last counted message, or
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
    char sender[PM_ADDR_MAX], rcpt[PM_ADDR_MAX], hash[17], err[512];
    struct pm_contact_days d;
    struct pm_store *st;
    long long now, today, day, ttl = 0;
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
    if ((rc = ctl_now(c, &now)) || (rc = ctl_store(c, &st)))
        return rc;
    if ((rc = pm_store_contact_days(st, sender, pm_addr_domain(sender), hash, &d, err,
                                    sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (!c->conf->contacts_company_wide)
        d.company = -1; /* the company's contacts count only company-wide */
    today = now / CTL_DAY;
    ttl = c->conf->contacts_ttl_days;
    day = d.sender;
    if (d.sender >= 0 && today - d.sender < ttl)
        via = "sender";
    else if (d.learned >= 0 && today - d.learned < ttl) {
        via = "correspondent";
        day = d.learned;
    } else if (d.company >= 0 && today - d.company < ttl) {
        via = "company";
        day = d.company;
    }
    if (day < 0 && d.company >= 0)
        day = d.company;
    contact_print(c, sender, rcpt, via ? "known" : "cold", via, day, day >= 0 ? day + ttl : -1);
    return CTL_OK;
}
