/*
 * rules.c - content rules: matching conditions against the facts of a
 * message. Which rules apply and which action wins is decided in policy.c.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* clang-format off */
static const char *const feature_names[PM_F_COUNT] = {
    [PM_F_FIRST_CONTACT] = "first_contact",     [PM_F_WARMING_UP] = "warming_up",
    [PM_F_ATTACHMENTS] = "attachments",         [PM_F_ATTACHED_IMAGES] = "attached_images",
    [PM_F_INLINE_IMAGES] = "inline_images",     [PM_F_IMAGES] = "images",
    [PM_F_REMOTE_IMAGES] = "remote_images",     [PM_F_LINKS] = "links",
    [PM_F_SHORTENER_LINKS] = "shortener_links", [PM_F_SIZE] = "size",
    [PM_F_RECIPIENTS] = "recipients",           [PM_F_EXTERNAL_RECIPIENTS] = "external_recipients",
    [PM_F_COLD_RECIPIENTS] = "cold_recipients", [PM_F_INCOMPLETE] = "incomplete",
    [PM_F_SUBJECT_CAPS] = "subject_caps",       [PM_F_SUBJECT_LENGTH] = "subject_length",
    [PM_F_SUBJECT_EXCLAMATIONS] = "subject_exclamations",
    [PM_F_SUBJECT_SPAM_WORDS] = "subject_spam_words",
    [PM_F_FAKE_REPLY] = "fake_reply",
    [PM_F_BODY_LINKS] = "body_links",           [PM_F_SIGNATURE_LINKS] = "signature_links",
    [PM_F_QUOTED_LINKS] = "quoted_links",
};
/* clang-format on */

/* The configuration name of a feature, or "?". */
const char *
pm_feature_name(enum pm_feature f)
{
    return (unsigned)f < PM_F_COUNT ? feature_names[f] : "?";
}

/* Parse a feature name. */
int
pm_feature_parse(const char *name, enum pm_feature *out)
{
    int i;

    for (i = 0; i < PM_F_COUNT; i++)
        if (strcmp(feature_names[i], name) == 0) {
            *out = (enum pm_feature)i;
            return 0;
        }
    return -1;
}

/* 1 when a feature is a yes/no value. */
int
pm_feature_is_bool(enum pm_feature f)
{
    return f == PM_F_FIRST_CONTACT || f == PM_F_WARMING_UP || f == PM_F_INCOMPLETE ||
           f == PM_F_FAKE_REPLY;
}

/* Parse a condition value such as "> 2". */
int
pm_cond_parse(const char *text, enum pm_op *op, long long *value)
{
    const char *p = text;
    char *end;

    while (isspace((unsigned char)*p))
        p++;
    if (p[0] == '<' && p[1] == '=')
        *op = PM_OP_LE, p += 2;
    else if (p[0] == '>' && p[1] == '=')
        *op = PM_OP_GE, p += 2;
    else if (p[0] == '!' && p[1] == '=')
        *op = PM_OP_NE, p += 2;
    else if (p[0] == '=' && p[1] == '=')
        *op = PM_OP_EQ, p += 2;
    else if (*p == '<')
        *op = PM_OP_LT, p++;
    else if (*p == '>')
        *op = PM_OP_GT, p++;
    else if (*p == '=')
        *op = PM_OP_EQ, p++;
    else
        *op = PM_OP_EQ;
    while (isspace((unsigned char)*p))
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    *value = strtoll(p, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    return *end == '\0' ? 0 : -1;
}

/* 1 when fact op value holds. */
static int
cond_true(const struct pm_cond *c, const long long *facts)
{
    long long f = facts[c->feature];

    switch (c->op) {
    case PM_OP_LT:
        return f < c->value;
    case PM_OP_LE:
        return f <= c->value;
    case PM_OP_EQ:
        return f == c->value;
    case PM_OP_NE:
        return f != c->value;
    case PM_OP_GE:
        return f >= c->value;
    case PM_OP_GT:
        return f > c->value;
    }
    return 0;
}

/* 1 when the rule matches the facts. */
int
pm_rule_match(const struct pm_rule *rule, const long long *facts)
{
    size_t i;

    for (i = 0; i < rule->n_all; i++)
        if (!cond_true(&rule->all[i], facts))
            return 0;
    if (rule->n_any == 0)
        return 1;
    for (i = 0; i < rule->n_any; i++)
        if (cond_true(&rule->any[i], facts))
            return 1;
    return 0;
}
