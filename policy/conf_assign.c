/*
 * conf_assign.c - the configuration's plan assignment: which plan a sender
 * gets, and which company-wide plan a sender domain shares.
 *
 *   assign = ( { sender = "sales-*@example.com"; plan = "outreach"; },
 *              { login = "bob"; plan = "trusted"; } );
 *   domains = ( { domain = "new-brand.example"; plan = "brand"; } );
 *
 * Rules are tried in order; a sender is an address, a "*@domain" or a glob;
 * a login is matched as given, everything else case-insensitively.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"

/* The keys of an assign rule and of a domains rule. */
static const char *const assign_rule_keys[] = {"sender", "login", "plan", NULL};
static const char *const domain_rule_keys[] = {"domain", "plan", NULL};

/* Check that every member of rule is one of keys. */
static int
check_rule_keys(struct loader *ld, const config_setting_t *rule, const char *const *keys,
                const char *rname)
{
    int i, len = config_setting_length(rule);
    size_t j;

    for (i = 0; i < len; i++) {
        const config_setting_t *m = config_setting_get_elem(rule, (unsigned int)i);
        const char *name = config_setting_name(m);

        for (j = 0; keys[j] && strcmp(keys[j], name) != 0; j++)
            ;
        if (!keys[j])
            return pm_conf_fail(ld, m, "unknown key \"%s.%s\"", rname, name);
    }
    return 0;
}

/* The string member key of rule, NULL when absent; *bad set after an error. */
static const char *
rule_string(struct loader *ld, const config_setting_t *rule, const char *rname, const char *key,
            int *bad)
{
    const config_setting_t *m = config_setting_get_member(rule, key);
    char kname[160];
    const char *v;

    if (!m)
        return NULL;
    snprintf(kname, sizeof(kname), "%s.%s", rname, key);
    if (!(v = pm_conf_get_string(ld, m, kname)))
        *bad = 1;
    else if (!*v)
        *bad = pm_conf_fail(ld, m, "%s: must not be empty", kname) != 0;
    return *bad ? NULL : v;
}

/* 1 when s holds a glob character. */
static int
has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Fill rule a from text: a sender (hint ADDRESS), a login (LOGIN) or a domain (DOMAIN). */
static int
classify_rule(struct pm_assign *a, const char *text, enum pm_match_kind hint)
{
    const char *pat = text;

    if (hint == PM_MATCH_LOGIN) {
        a->kind = PM_MATCH_LOGIN;
    } else if (hint == PM_MATCH_DOMAIN) {
        a->kind = has_glob(text) ? PM_MATCH_GLOB : PM_MATCH_DOMAIN;
    } else if (strncmp(text, "*@", 2) == 0 && text[2] && !has_glob(text + 2)) {
        a->kind = PM_MATCH_DOMAIN;
        pat = text + 2;
    } else {
        a->kind = has_glob(text) ? PM_MATCH_GLOB : PM_MATCH_ADDRESS;
    }
    if (!(a->pattern = strdup(pat)))
        return -1;
    if (a->kind != PM_MATCH_LOGIN)
        pm_conf_lower_case(a->pattern);
    return 0;
}

/* Read one rule of assign (domains == 0) or of domains (domains == 1). */
static int
load_rule(struct loader *ld, const config_setting_t *rule, const char *rname, int domains,
          struct pm_assign *a)
{
    const char *sender, *login, *domain = NULL, *plan;
    int bad = 0, rc;

    if (!config_setting_is_group(rule))
        return pm_conf_fail(ld, rule, "%s: expected a group { ... }, not %s", rname,
                            pm_conf_type_name(rule));
    if (check_rule_keys(ld, rule, domains ? domain_rule_keys : assign_rule_keys, rname) < 0)
        return -1;
    a->line = (int)config_setting_source_line(rule);
    sender = rule_string(ld, rule, rname, domains ? "domain" : "sender", &bad);
    login = bad || domains ? NULL : rule_string(ld, rule, rname, "login", &bad);
    plan = bad ? NULL : rule_string(ld, rule, rname, "plan", &bad);
    if (bad)
        return -1;
    if (domains) {
        domain = sender;
        sender = NULL;
        if (!domain)
            return pm_conf_fail(ld, rule, "%s: needs domain = \"...\"", rname);
        if (strchr(domain, '@'))
            return pm_conf_fail(ld, config_setting_get_member(rule, "domain"),
                                "%s.domain: \"%s\" is a domain, without '@'", rname, domain);
    } else if (sender && login) {
        return pm_conf_fail(ld, rule, "%s: give one of sender or login, not both", rname);
    } else if (!sender && !login) {
        return pm_conf_fail(ld, rule, "%s: needs sender = \"...\" or login = \"...\"", rname);
    }
    if (!plan)
        return pm_conf_fail(ld, rule, "%s: needs plan = \"NAME\"", rname);
    if ((a->plan = pm_conf_plan_index(ld->conf, plan)) < 0)
        return pm_conf_fail(ld, config_setting_get_member(rule, "plan"),
                            "%s.plan: no plan named \"%s\"", rname, plan);
    if (domain)
        rc = classify_rule(a, domain, PM_MATCH_DOMAIN);
    else if (sender)
        rc = classify_rule(a, sender, PM_MATCH_ADDRESS);
    else
        rc = classify_rule(a, login, PM_MATCH_LOGIN);
    if (rc < 0)
        return pm_conf_fail(ld, rule, "%s: out of memory", rname);
    return 0;
}

/* Read an ordered list of rules into *out and *n. */
static int
load_rules(struct loader *ld, const config_setting_t *s, const char *kname, int domains,
           struct pm_assign **out, size_t *n)
{
    size_t i, len;
    char rname[160];

    if (!s)
        return 0;
    len = (size_t)config_setting_length(s);
    if (!config_setting_is_list(s) && !(config_setting_is_array(s) && len == 0))
        return pm_conf_fail(ld, s, "%s: expected a list of rules ( { ... }, ... ), not %s", kname,
                            pm_conf_type_name(s));
    if (!(*out = calloc(len ? len : 1, sizeof(**out))))
        return pm_conf_fail(ld, s, "%s: out of memory", kname);
    for (i = 0; i < len; i++) {
        snprintf(rname, sizeof(rname), "%s[%zu]", kname, i);
        *n = i + 1;
        if (load_rule(ld, config_setting_get_elem(s, (unsigned int)i), rname, domains, &(*out)[i]) <
            0)
            return -1;
    }
    return 0;
}

/* assign: ordered sender/login -> plan rules. */
int
pm_conf_load_assign(struct loader *ld, const config_setting_t *s, const char *kname)
{
    return load_rules(ld, s, kname, 0, &ld->conf->assign, &ld->conf->n_assign);
}

/* domains: ordered sender domain -> company-wide plan rules. */
int
pm_conf_load_domains(struct loader *ld, const config_setting_t *s, const char *kname)
{
    return load_rules(ld, s, kname, 1, &ld->conf->domain_assign, &ld->conf->n_domain_assign);
}

/* Free an array of n rules. */
static void
free_rules(struct pm_assign *a, size_t n)
{
    size_t i;

    if (!a)
        return;
    for (i = 0; i < n; i++)
        free(a[i].pattern);
    free(a);
}

/* Free what pm_conf_load_assign() and pm_conf_load_domains() allocated. */
void
pm_conf_free_assign(struct pm_conf *conf)
{
    free_rules(conf->assign, conf->n_assign);
    free_rules(conf->domain_assign, conf->n_domain_assign);
}
