/*
 * conf_rules.c - the configuration's contacts group and content rules.
 *
 *   contacts: { secret_file = "/etc/postmeter/contacts.key"; ttl_days = 365;
 *               max_per_sender = 50000; company_wide = false; };
 *   rules = (
 *     { name = "cold-attachment"; when = { first_contact = true; attachments = "> 0"; };
 *       action = "tempfail"; reply = "..."; },
 *     { name = "cold-rich-content"; when = { first_contact = true; };
 *       any = { images = "> 0"; remote_images = "> 0"; links = "> 2"; shortener_links = "> 0"; };
 *       action = "tag"; reply = "..."; dry_run = false; },
 *     { name = "cold-body-link"; when = { first_contact = true; body_links = "> 0"; };
 *       action = "tag"; reply = "..."; }
 *   );
 * Without a rules list the two rules above, cold-fake-reply (fake_reply,
 * tempfail), cold-shouting-subject (subject_caps > 70 or
 * subject_exclamations > 1, tag) and cold-body-link (body_links > 0, tag),
 * the shipped defaults, apply.
 * A list holds at most PM_RULES_MAX rules; a rule's name is at most
 * PM_RULE_NAME_MAX characters of A-Z a-z 0-9 _ . -, its reply at most
 * PM_RULE_REPLY_MAX characters and no control character, a condition's
 * value 0 to PM_LIMIT_MAX: beyond, the file is refused with its file:line.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_int.h"
#include "scan.h"
#include "siphash.h"

static const char *const contacts_keys[] = {"secret_file", "ttl_days", "max_per_sender",
                                            "company_wide", NULL};
static const char *const rule_keys[] = {"name", "when", "any", "action", "reply", "dry_run", NULL};

/* A built-in rule: the shipped defaults, used when the file has no rules list. */
struct default_rule {
    const char *name;
    struct pm_cond all[2];
    size_t n_all;
    struct pm_cond any[4];
    size_t n_any;
    int action;
    const char *reply;
};

static const struct default_rule default_rules[] = {
    {"cold-attachment",
     {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}, {PM_F_ATTACHMENTS, PM_OP_GT, 0}},
     2,
     {{0, 0, 0}},
     0,
     PM_ACT_TEMPFAIL,
     "a first message to a new contact should not carry attachments: send a short introduction "
     "first and share files by link"},
    {"cold-rich-content",
     {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}},
     1,
     {{PM_F_IMAGES, PM_OP_GT, 0},
      {PM_F_REMOTE_IMAGES, PM_OP_GT, 0},
      {PM_F_LINKS, PM_OP_GT, 2},
      {PM_F_SHORTENER_LINKS, PM_OP_GT, 0}},
     4,
     PM_ACT_TAG,
     "first contact with images, a tracking pixel, more than 2 links or a link shortener"},
    {"cold-fake-reply",
     {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}, {PM_F_FAKE_REPLY, PM_OP_EQ, 1}},
     2,
     {{0, 0, 0}},
     0,
     PM_ACT_TEMPFAIL,
     "a first message to a new contact must not pretend to be a reply (\"Re:\" or \"Fwd:\" "
     "without an earlier message); send it without the prefix"},
    {"cold-shouting-subject",
     {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}},
     1,
     {{PM_F_SUBJECT_CAPS, PM_OP_GT, 70}, {PM_F_SUBJECT_EXCLAMATIONS, PM_OP_GT, 1}},
     2,
     PM_ACT_TAG,
     "first contact with a subject mostly in capitals or with more than one \"!\""},
    {"cold-body-link",
     {{PM_F_FIRST_CONTACT, PM_OP_EQ, 1}, {PM_F_BODY_LINKS, PM_OP_GT, 0}},
     2,
     {{0, 0, 0}},
     0,
     PM_ACT_TAG,
     "first contact with a link in the new text (links in a signature or a quote do not count)"},
};

/* One subject spam word: 1 to PM_SUBJECT_WORD_MAX bytes, no control character. */
int
pm_conf_check_spam_word(const char *v, char *why, size_t whylen)
{
    const unsigned char *p;

    if (!*v || strlen(v) > PM_SUBJECT_WORD_MAX) {
        snprintf(why, whylen, "\"%.80s\" must be 1 to %d bytes", v, PM_SUBJECT_WORD_MAX);
        return -1;
    }
    for (p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(why, whylen, "a word must not hold a control character");
            return -1;
        }
    return 0;
}

/* Fold a word's full-width ASCII (U+FF01-U+FF5E) to ASCII, lower case, in
 * place, as the scan folds the subject: "ＦＲＥＥ" finds "free". */
static void
fold_word(char *w)
{
    unsigned char *p = (unsigned char *)w, *o = p;
    unsigned c;

    while (*p) {
        if (p[0] == 0xef && (p[1] == 0xbc || p[1] == 0xbd) && p[2] >= 0x80 && p[2] <= 0xbf &&
            (c = ((p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)) + 0xf000u) >= 0xff01 && c <= 0xff5e) {
            c -= 0xfee0;
            *o++ = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
}

/* The subject spam words, folded as the subject is (their count is bounded by the key). */
int
pm_conf_check_spam_words(struct loader *ld, const config_setting_t *s, const char *kname)
{
    size_t i;

    (void)s;
    (void)kname;
    for (i = 0; i < ld->conf->n_subject_spam_words; i++)
        fold_word(ld->conf->subject_spam_words[i]);
    return 0;
}

/* 1 when name is one of the NULL-terminated keys. */
static int
known_key(const char *const *keys, const char *name)
{
    for (; *keys; keys++)
        if (strcmp(*keys, name) == 0)
            return 1;
    return 0;
}

/* Reject members of grp not in keys; -1 after an error. */
static int
check_keys(struct loader *ld, const config_setting_t *grp, const char *const *keys,
           const char *prefix)
{
    int i, n = config_setting_length(grp);

    for (i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);

        if (!known_key(keys, config_setting_name(m)))
            return pm_conf_fail(ld, m, "unknown key \"%s%s\"", prefix, config_setting_name(m));
    }
    return 0;
}

/* Read the contact key: 16 bytes or more from the secret file, hashed down. */
static int
load_secret(struct loader *ld, const config_setting_t *s, const char *path)
{
    static const unsigned char k0[16] = "postmeter/cntct";
    unsigned char buf[4096];
    ssize_t n;
    uint64_t a, b;
    int fd = pm_conf_open_secret(ld, s, "contacts.secret_file", path);

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 16)
        return pm_conf_fail(ld, s, "contacts.secret_file: %s must hold at least 16 bytes", path);
    a = pm_siphash(k0, buf, (size_t)n);
    buf[0] ^= 0x5a;
    b = pm_siphash(k0, buf, (size_t)n);
    memcpy(ld->conf->contacts_key, &a, 8);
    memcpy(ld->conf->contacts_key + 8, &b, 8);
    memset(buf, 0, sizeof(buf));
    ld->conf->contacts_keyed = 1;
    return 0;
}

/* An integer member of grp within bounds, or def when absent. */
static int
member_int(struct loader *ld, const config_setting_t *grp, const char *name, long long def,
           long long lo, long long hi, long long *out)
{
    const config_setting_t *m = grp ? config_setting_get_member(grp, name) : NULL;

    *out = def;
    if (!m)
        return 0;
    if (pm_conf_get_integer(ld, m, name, out) < 0)
        return -1;
    if (*out < lo || *out > hi)
        return pm_conf_fail(ld, m, "contacts.%s: %lld is out of range (%lld-%lld)", name, *out, lo,
                            hi);
    return 0;
}

/* Read the contacts group (or its defaults). */
int
pm_conf_load_contacts(struct loader *ld, const config_setting_t *s, const char *kname)
{
    struct pm_conf *c = ld->conf;
    const config_setting_t *m;
    const char *v = "";
    long long n;

    (void)kname;
    memcpy(c->contacts_key, "postmeter-contct", 16);
    if (s && !config_setting_is_group(s))
        return pm_conf_fail(ld, s, "contacts: expected a group { ... }, not %s",
                            pm_conf_type_name(s));
    if (s && check_keys(ld, s, contacts_keys, "contacts.") < 0)
        return -1;
    if (member_int(ld, s, "ttl_days", 365, 1, 3650, &n) < 0)
        return -1;
    c->contacts_ttl_days = (int)n;
    if (member_int(ld, s, "max_per_sender", 50000, 100, 10000000, &c->contacts_max) < 0)
        return -1;
    if (s && (m = config_setting_get_member(s, "company_wide")) != NULL) {
        if (config_setting_type(m) != CONFIG_TYPE_BOOL)
            return pm_conf_fail(ld, m, "contacts.company_wide: expected true or false, not %s",
                                pm_conf_type_name(m));
        c->contacts_company_wide = config_setting_get_bool(m);
    }
    if (s && (m = config_setting_get_member(s, "secret_file")) != NULL &&
        !(v = pm_conf_get_string(ld, m, "contacts.secret_file")))
        return -1;
    if (!(c->contacts_secret_file = strdup(v)))
        return pm_conf_fail(ld, s, "out of memory");
    return *v ? load_secret(ld, m, v) : 0;
}

/* Read one group of conditions ("when" or "any") into *out. */
static int
load_conds(struct loader *ld, const config_setting_t *grp, const char *prefix, struct pm_cond **out,
           size_t *n)
{
    int i, len;

    if (!config_setting_is_group(grp))
        return pm_conf_fail(ld, grp, "%s: expected a group { ... }, not %s", prefix,
                            pm_conf_type_name(grp));
    len = config_setting_length(grp);
    if (len == 0)
        return pm_conf_fail(ld, grp, "%s: no conditions", prefix);
    if (!(*out = calloc((size_t)len, sizeof(**out))))
        return pm_conf_fail(ld, grp, "out of memory");
    for (i = 0; i < len; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(m), *text;
        struct pm_cond *c = &(*out)[i];
        long long v;

        if (pm_feature_parse(name, &c->feature) < 0)
            return pm_conf_fail(ld, m, "%s: unknown feature \"%s\"", prefix, name);
        if (config_setting_type(m) == CONFIG_TYPE_BOOL) {
            if (!pm_feature_is_bool(c->feature))
                return pm_conf_fail(ld, m, "%s.%s: expected a comparison such as \"> 2\"", prefix,
                                    name);
            c->op = PM_OP_EQ;
            c->value = config_setting_get_bool(m);
        } else if (config_setting_type(m) == CONFIG_TYPE_INT ||
                   config_setting_type(m) == CONFIG_TYPE_INT64) {
            pm_conf_get_integer(ld, m, name, &v);
            if (v < 0 || v > PM_LIMIT_MAX)
                return pm_conf_fail(ld, m, "%s.%s: %lld is out of range (0-%lld)", prefix, name, v,
                                    PM_LIMIT_MAX);
            c->op = PM_OP_EQ;
            c->value = v;
        } else if ((text = pm_conf_get_string(ld, m, name)) != NULL) {
            if (pm_cond_parse(text, &c->op, &c->value) < 0)
                return pm_conf_fail(ld, m, "%s.%s: \"%s\" is not a comparison such as \"> 2\"",
                                    prefix, name, text);
            if (c->value < 0 || c->value > PM_LIMIT_MAX) /* strtoll stops at LLONG_MAX */
                return pm_conf_fail(ld, m, "%s.%s: \"%s\" is out of range (0-%lld)", prefix, name,
                                    text, PM_LIMIT_MAX);
        } else {
            return -1;
        }
        (*n)++;
    }
    return 0;
}

/* Check a rule's name (is_name) or reply as written at m: at most max
 * characters, no control character, a name only of A-Z a-z 0-9 _ . -. */
static int
check_rule_text(struct loader *ld, const config_setting_t *m, const char *prefix, const char *key,
                const char *v, size_t max, int is_name)
{
    static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789_.-";
    size_t n = strlen(v), i;

    if (is_name && (n > max || strspn(v, name_chars) != n))
        return pm_conf_fail(ld, m,
                            "%s%s: \"%.80s\" is not 1 to %zu characters of A-Z a-z 0-9 _ . -",
                            prefix, key, v, max);
    if (n > max)
        return pm_conf_fail(ld, m, "%s%s: %zu characters, at most %zu", prefix, key, n, max);
    for (i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return pm_conf_fail(ld, m, "%s%s: holds a control character", prefix, key);
    return 0;
}

/* A string member of a rule, or NULL after an error; def when absent. */
static int
rule_string(struct loader *ld, const config_setting_t *rule, const char *key, const char *prefix,
            const char *def, char **out)
{
    const config_setting_t *m = config_setting_get_member(rule, key);
    const char *v = def;
    int is_name = strcmp(key, "name") == 0;

    if (m && !(v = pm_conf_get_string(ld, m, key)))
        return -1;
    if (m && !*v)
        return pm_conf_fail(ld, m, "%s%s: must not be empty", prefix, key);
    if (m && check_rule_text(ld, m, prefix, key, v, is_name ? PM_RULE_NAME_MAX : PM_RULE_REPLY_MAX,
                             is_name) < 0)
        return -1;
    if (v && !(*out = strdup(v)))
        return pm_conf_fail(ld, rule, "out of memory");
    return 0;
}

/* Read one rule. */
static int
load_rule(struct loader *ld, const config_setting_t *s, int idx, struct pm_rule *r)
{
    const config_setting_t *m;
    char prefix[64], dname[32];
    int act;

    snprintf(prefix, sizeof(prefix), "rules[%d].", idx);
    snprintf(dname, sizeof(dname), "rule-%d", idx + 1);
    r->line = (int)config_setting_source_line(s);
    if (!config_setting_is_group(s))
        return pm_conf_fail(ld, s, "rules[%d]: expected a group { ... }, not %s", idx,
                            pm_conf_type_name(s));
    if (check_keys(ld, s, rule_keys, prefix) < 0 ||
        rule_string(ld, s, "name", prefix, dname, &r->name) < 0 ||
        rule_string(ld, s, "reply", prefix, "message refused by a content rule", &r->reply) < 0)
        return -1;
    if (!(m = config_setting_get_member(s, "action")))
        return pm_conf_fail(ld, s, "%saction: missing (tag, hold, tempfail or reject)", prefix);
    if (!pm_conf_get_string(ld, m, "action"))
        return -1;
    if (pm_action_parse(config_setting_get_string(m), (enum pm_action *)&act) < 0 ||
        act == PM_ACT_ACCEPT)
        return pm_conf_fail(ld, m, "%saction: \"%s\" is not one of tag, hold, tempfail, reject",
                            prefix, config_setting_get_string(m));
    r->action = act;
    if ((m = config_setting_get_member(s, "dry_run")) != NULL) {
        if (config_setting_type(m) != CONFIG_TYPE_BOOL)
            return pm_conf_fail(ld, m, "%sdry_run: expected true or false, not %s", prefix,
                                pm_conf_type_name(m));
        r->dry_run = config_setting_get_bool(m);
    }
    if ((m = config_setting_get_member(s, "when")) != NULL &&
        load_conds(ld, m, "when", &r->all, &r->n_all) < 0)
        return -1;
    if ((m = config_setting_get_member(s, "any")) != NULL &&
        load_conds(ld, m, "any", &r->any, &r->n_any) < 0)
        return -1;
    if (r->n_all + r->n_any == 0)
        return pm_conf_fail(ld, s, "%s: a rule needs a when or an any group", r->name);
    return 0;
}

/* Copy the built-in default rules. */
static int
load_default_rules(struct loader *ld)
{
    struct pm_conf *c = ld->conf;
    size_t i, n = sizeof(default_rules) / sizeof(default_rules[0]);

    if (!(c->rules = calloc(n, sizeof(*c->rules))))
        return pm_conf_fail(ld, NULL, "out of memory");
    for (i = 0; i < n; i++) {
        const struct default_rule *d = &default_rules[i];
        struct pm_rule *r = &c->rules[i];

        c->n_rules++;
        r->name = strdup(d->name);
        r->reply = strdup(d->reply);
        r->all = calloc(d->n_all ? d->n_all : 1, sizeof(*r->all));
        r->any = calloc(d->n_any ? d->n_any : 1, sizeof(*r->any));
        if (!r->name || !r->reply || !r->all || !r->any)
            return pm_conf_fail(ld, NULL, "out of memory");
        memcpy(r->all, d->all, d->n_all * sizeof(*r->all));
        memcpy(r->any, d->any, d->n_any * sizeof(*r->any));
        r->n_all = d->n_all;
        r->n_any = d->n_any;
        r->action = d->action;
    }
    return 0;
}

/* Read the ordered content rules. */
int
pm_conf_load_rules(struct loader *ld, const config_setting_t *s, const char *kname)
{
    struct pm_conf *c = ld->conf;
    int i, n;

    (void)kname;
    if (!s)
        return load_default_rules(ld);
    if (!config_setting_is_list(s))
        return pm_conf_fail(ld, s, "rules: expected a list ( ... ), not %s", pm_conf_type_name(s));
    n = config_setting_length(s);
    if (n > PM_RULES_MAX)
        return pm_conf_fail(ld, config_setting_get_elem(s, PM_RULES_MAX),
                            "rules[%d]: at most %d rules (this list has %d)", PM_RULES_MAX,
                            PM_RULES_MAX, n);
    if (n && !(c->rules = calloc((size_t)n, sizeof(*c->rules))))
        return pm_conf_fail(ld, s, "out of memory");
    for (i = 0; i < n; i++) {
        c->n_rules++;
        if (load_rule(ld, config_setting_get_elem(s, (unsigned)i), i, &c->rules[i]) < 0)
            return -1;
    }
    return 0;
}

/* Free what pm_conf_load_rules() allocated. */
void
pm_conf_free_rules(struct pm_conf *c)
{
    size_t i;

    for (i = 0; i < c->n_rules; i++) {
        free(c->rules[i].name);
        free(c->rules[i].reply);
        free(c->rules[i].all);
        free(c->rules[i].any);
    }
    free(c->rules);
    free(c->contacts_secret_file);
}
