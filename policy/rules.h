/*
 * rules.h - content rules: conditions over what a message carries and who it
 * goes to, and the action each rule takes.
 *
 * All matching rules apply; the most severe action wins; every matching
 * rule's name is reported. Evaluation is a pure function of the facts.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_RULES_H
#define PM_RULES_H

#include <stddef.h>

/* The most content rules a configuration may hold: the loader refuses more,
 * and every array indexed by rule (matches, per-rule results) has this size. */
#define PM_RULES_MAX 64

/* The longest rule name and reply text (characters); the loader refuses longer. */
#define PM_RULE_NAME_MAX 64
#define PM_RULE_REPLY_MAX 200

/* What a condition can look at. */
enum pm_feature {
    PM_F_FIRST_CONTACT = 0, /* 1 when any external recipient is cold */
    PM_F_WARMING_UP,        /* 1 while the sender is warming up */
    PM_F_ATTACHMENTS,
    PM_F_ATTACHED_IMAGES,
    PM_F_INLINE_IMAGES,
    PM_F_IMAGES, /* attached + inline images */
    PM_F_REMOTE_IMAGES,
    PM_F_LINKS,
    PM_F_SHORTENER_LINKS,
    PM_F_SIZE,
    PM_F_RECIPIENTS,
    PM_F_EXTERNAL_RECIPIENTS,
    PM_F_COLD_RECIPIENTS,
    PM_F_INCOMPLETE, /* 1 when the MIME structure could not be parsed whole */
    /* the Subject, RFC 2047 decoded (scan_subject.c) */
    PM_F_SUBJECT_CAPS,         /* upper-case share of its letters, percent (0 under 10 letters) */
    PM_F_SUBJECT_EXCLAMATIONS, /* "!" and "！" */
    PM_F_SUBJECT_SPAM_WORDS,   /* scan.subject_spam_words entries found */
    PM_F_SUBJECT_LENGTH,       /* characters */
    PM_F_FAKE_REPLY,           /* 1: a reply prefix to a first contact without an earlier message */
    PM_F_BODY_LINKS,           /* links in the sender's new text */
    PM_F_SIGNATURE_LINKS,      /* links in a signature */
    PM_F_QUOTED_LINKS,         /* links in quoted or forwarded text */
    PM_F_COUNT
};

/* Comparison operators. */
enum pm_op { PM_OP_LT, PM_OP_LE, PM_OP_EQ, PM_OP_NE, PM_OP_GE, PM_OP_GT };

/* One condition: feature op value. */
struct pm_cond {
    enum pm_feature feature;
    enum pm_op op;
    long long value;
};

/* One rule: every "all" condition and (when there are any) one "any" condition. */
struct pm_rule {
    char *name;
    struct pm_cond *all;
    size_t n_all;
    struct pm_cond *any;
    size_t n_any;
    int action;  /* enum pm_action */
    char *reply; /* reply text of a tempfail/reject rule, or the reason of a tag/hold */
    int dry_run; /* only log what this rule would do */
    int line;
};

/* The configuration name of a feature ("first_contact"), or "?". */
const char *pm_feature_name(enum pm_feature f);

/* Parse a feature name; 0 and *out, or -1. */
int pm_feature_parse(const char *name, enum pm_feature *out);

/* 1 when a feature is a yes/no value (first_contact, warming_up, incomplete, fake_reply). */
int pm_feature_is_bool(enum pm_feature f);

/* Parse a condition value: "> 2", ">=1", "= 0", "!= 3", "< 10" or "7" (equals). */
int pm_cond_parse(const char *text, enum pm_op *op, long long *value);

/* 1 when the rule matches the facts (an array of PM_F_COUNT values). */
int pm_rule_match(const struct pm_rule *rule, const long long *facts);

#endif
