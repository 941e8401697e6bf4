/*
 * classify.c - postmeterctl classify FILE: why a message was treated so.
 *
 * Reads a message file, runs the content scan the milter runs (with the
 * configured shorteners) and the configured content rules over the facts,
 * once as a first contact and once as a message to a known contact, and
 * prints the features, each rule's match and the resulting action (the most
 * severe). It also prints what the bounce parser reads in the file: whether
 * it is a bounce, each failed recipient with its status and class, and the
 * original sender. A file has no envelope: the bounce parser goes by its
 * Return-Path field when there is one. fake_reply goes by the headers alone:
 * a reply prefix with In-Reply-To or References is taken to refer to a
 * message the sender sent (the milter asks the store).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dsn.h"
#include "rules.h"
#include "scan.h"
#include "verdict.h"

#define FILE_MAX (64LL * 1024 * 1024)
#define BOUNCE_TEXT 65536

/* What classify works out for one case (first contact or known contact). */
struct outcome {
    long long facts[PM_F_COUNT];
    int matched[PM_RULES_MAX];
    struct pm_verdict v;
};

/* Read a whole file into memory; CTL_OK, CTL_USAGE (cannot open) or CTL_ERR. */
static int
read_file(const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t cap = 65536, n;
    unsigned char *b = NULL, *grown;

    if (!f)
        return ctl_fail(CTL_USAGE, "classify: cannot open %s: %s", path, strerror(errno));
    *len = 0;
    for (;;) {
        if (!b || *len == cap) {
            if (b)
                cap *= 2;
            if (cap > FILE_MAX || !(grown = realloc(b, cap))) {
                free(b);
                if (f != stdin)
                    fclose(f);
                return ctl_fail(CTL_ERR, "classify: %s is too large", path);
            }
            b = grown;
        }
        n = fread(b + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        free(b);
        if (f != stdin)
            fclose(f);
        return ctl_fail(CTL_ERR, "classify: cannot read %s", path);
    }
    if (f != stdin)
        fclose(f);
    *buf = b;
    return CTL_OK;
}

/* The facts the rules see, from the scan and the recipient figures. */
static void
facts_fill(long long *x, const struct pm_features *f, long long rcpts, long long ext,
           long long cold, int first)
{
    memset(x, 0, PM_F_COUNT * sizeof(*x));
    x[PM_F_ATTACHMENTS] = f->attachments;
    x[PM_F_ATTACHED_IMAGES] = f->attached_images;
    x[PM_F_INLINE_IMAGES] = f->inline_images;
    x[PM_F_IMAGES] = (long long)f->attached_images + f->inline_images;
    x[PM_F_REMOTE_IMAGES] = f->remote_images;
    x[PM_F_LINKS] = f->links;
    x[PM_F_SHORTENER_LINKS] = f->shortener_links;
    x[PM_F_BODY_LINKS] = f->body_links;
    x[PM_F_SIGNATURE_LINKS] = f->signature_links;
    x[PM_F_QUOTED_LINKS] = f->quoted_links;
    x[PM_F_SIZE] = (long long)f->size;
    x[PM_F_INCOMPLETE] = !f->complete;
    x[PM_F_RECIPIENTS] = rcpts;
    x[PM_F_EXTERNAL_RECIPIENTS] = ext;
    x[PM_F_FIRST_CONTACT] = first;
    x[PM_F_COLD_RECIPIENTS] = first ? (cold > 0 ? cold : 1) : 0;
    x[PM_F_SUBJECT_CAPS] = f->subject_caps;
    x[PM_F_SUBJECT_EXCLAMATIONS] = f->subject_exclamations;
    x[PM_F_SUBJECT_SPAM_WORDS] = f->subject_spam_words;
    x[PM_F_SUBJECT_LENGTH] = f->subject_length;
    /* without the store: references are taken to name a message the sender sent */
    x[PM_F_FAKE_REPLY] = first && f->reply_prefix && f->references == 0;
}

/* Run the rules over one case. */
static void
outcome_eval(const struct pm_conf *conf, struct outcome *o)
{
    size_t i, n = conf->n_rules < PM_RULES_MAX ? conf->n_rules : PM_RULES_MAX;

    for (i = 0; i < n; i++)
        o->matched[i] = pm_rule_match(&conf->rules[i], o->facts);
    pm_verdict_rules(&o->v, conf->rules, o->matched, n, conf->dry_run, "SENDER");
}

/* One case's decision as JSON. */
static void
outcome_json(const struct outcome *o)
{
    printf("{\"action\":\"%s\",\"dry_run\":%s,\"reasons\":", pm_action_name(o->v.action),
           o->v.dry_run ? "true" : "false");
    out_json_str(stdout, o->v.reason);
    fputs(",\"reply\":", stdout);
    if (o->v.action >= PM_ACT_TEMPFAIL) {
        char reply[512];

        snprintf(reply, sizeof(reply), "%s %s %s", o->v.rcode, o->v.xcode, o->v.text);
        out_json_str(stdout, reply);
    } else {
        fputs("null", stdout);
    }
    fputs("}", stdout);
}

/* One case's decision as text. */
static void
outcome_text(const char *label, const struct outcome *o)
{
    printf("  %-15s %s%s", label, pm_action_name(o->v.action), o->v.dry_run ? " (dry run)" : "");
    if (strcmp(o->v.reason, "ok") != 0)
        printf(" (%s)", o->v.reason);
    printf("\n");
    char reply[512];

    if (o->v.action >= PM_ACT_TEMPFAIL) {
        snprintf(reply, sizeof(reply), "%s %s %s", o->v.rcode, o->v.xcode, o->v.text);
        out_wrap(stdout, reply, 18);
    } else if (o->v.action > PM_ACT_ACCEPT) {
        out_wrap(stdout, o->v.text, 18);
    }
}

/* What the bounce parser reads in the message, as text or JSON. */
static int
classify_bounce(const struct ctl *c, const unsigned char *buf, size_t len)
{
    struct pm_bounce *b = calloc(1, sizeof(*b));
    char *out = malloc(BOUNCE_TEXT), *line, *save = NULL;

    if (!b || !out) {
        free(b);
        free(out);
        return ctl_fail(CTL_ERR, "out of memory");
    }
    pm_bounce_parse(buf, len, PM_ENV_UNKNOWN, b); /* a file: its Return-Path tells, if any */
    if (c->json) {
        pm_bounce_json(b, out, BOUNCE_TEXT);
        printf(",\"bounce\":%s", out);
    } else {
        pm_bounce_text(b, out, BOUNCE_TEXT);
        printf("bounce\n");
        for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            printf("  %s\n", line);
    }
    free(b);
    free(out);
    return CTL_OK;
}

/* What fake_reply means here for a subject with a reply prefix (NULL without one):
 * without the store, references are taken to name a message the sender sent. */
static const char *
fake_reply_note(const struct pm_features *f)
{
    if (!f->reply_prefix)
        return NULL;
    return f->references ? "a reply prefix with references: taken to name a message the "
                           "sender sent (the store is not asked)"
                         : "a reply prefix without In-Reply-To or References";
}

/* Print everything as text. */
static void
classify_text(const struct ctl *c, const char *path, const struct pm_features *f,
              const struct outcome *cold, const struct outcome *known)
{
    size_t i, n = c->conf->n_rules < PM_RULES_MAX ? c->conf->n_rules : PM_RULES_MAX;
    int k;

    printf("%s\n", path);
    printf("features\n");
    for (k = 0; k < PM_F_COUNT; k++)
        if (k != PM_F_FIRST_CONTACT && k != PM_F_COLD_RECIPIENTS && k != PM_F_WARMING_UP)
            printf("  %-21s %lld\n", pm_feature_name((enum pm_feature)k), cold->facts[k]);
    if (!f->complete)
        printf("  %-21s %s\n", "problems", f->problems);
    if (f->reply_prefix)
        printf("  %-21s %s\n", "fake_reply_note", fake_reply_note(f));
    printf("rules %-25s %-15s %s\n", "", "first contact", "known contact");
    if (n == 0)
        printf("  (no content rules configured)\n");
    for (i = 0; i < n; i++)
        printf("  %-29.29s %-15s %s   -> %s%s\n", c->conf->rules[i].name,
               cold->matched[i] ? "match" : "-", known->matched[i] ? "match" : "-",
               pm_action_name((enum pm_action)c->conf->rules[i].action),
               c->conf->rules[i].dry_run ? " (dry run)" : "");
    printf("decision\n");
    outcome_text("first contact", cold);
    outcome_text("known contact", known);
}

/* Print everything as JSON (without the closing brace). */
static void
classify_json(const struct ctl *c, const char *path, const struct pm_features *f,
              const struct outcome *cold, const struct outcome *known)
{
    char feat[4096];
    size_t i, n = c->conf->n_rules < PM_RULES_MAX ? c->conf->n_rules : PM_RULES_MAX;
    int k;

    pm_features_json(f, feat, sizeof(feat));
    fputs("{\"file\":", stdout);
    out_json_str(stdout, path);
    printf(",\"features\":%s,\"facts\":{", feat);
    for (k = 0; k < PM_F_COUNT; k++)
        printf("%s\"%s\":%lld", k ? "," : "", pm_feature_name((enum pm_feature)k), cold->facts[k]);
    fputs("},\"fake_reply_note\":", stdout);
    if (f->reply_prefix)
        out_json_str(stdout, fake_reply_note(f));
    else
        fputs("null", stdout);
    fputs(",\"rules\":[", stdout);
    for (i = 0; i < n; i++) {
        printf("%s{\"name\":", i ? "," : "");
        out_json_str(stdout, c->conf->rules[i].name);
        printf(",\"action\":\"%s\",\"dry_run\":%s,\"first_contact\":%s,\"known_contact\":%s}",
               pm_action_name((enum pm_action)c->conf->rules[i].action),
               c->conf->rules[i].dry_run ? "true" : "false", cold->matched[i] ? "true" : "false",
               known->matched[i] ? "true" : "false");
    }
    fputs("],\"first_contact\":", stdout);
    outcome_json(cold);
    fputs(",\"known_contact\":", stdout);
    outcome_json(known);
}

/* classify FILE [--recipients N] [--external N] [--cold N] */
int
cmd_classify(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--recipients", "--external", "--cold", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    struct pm_scan_conf sc = {(const char *const *)c->conf->shorteners, c->conf->n_shorteners, 0,
                              (const char *const *)c->conf->subject_spam_words,
                              c->conf->n_subject_spam_words};
    long long fig[3] = {1, 1, 1};
    struct outcome *cold, *known;
    struct pm_features f;
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc, i;

    if ((rc = ctl_getopts("classify", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos != 1)
        return ctl_fail(CTL_USAGE, "usage: classify FILE [--recipients N] [--external N] "
                                   "[--cold N]");
    for (i = 0; i < 3; i++)
        if (o.value[i] && ctl_number(o.value[i], 1000000, &fig[i]) < 0)
            return ctl_fail(CTL_USAGE, "classify: bad number for %s: \"%s\"", names[i], o.value[i]);
    if ((rc = read_file(o.pos[0], &buf, &len)) != CTL_OK)
        return rc;
    cold = calloc(1, sizeof(*cold));
    known = calloc(1, sizeof(*known));
    if (!cold || !known || pm_scan_message(&sc, buf, len, &f) != 0) {
        free(cold);
        free(known);
        free(buf);
        return ctl_fail(CTL_ERR, "out of memory");
    }
    facts_fill(cold->facts, &f, fig[0], fig[1], fig[2], 1);
    facts_fill(known->facts, &f, fig[0], fig[1], fig[2], 0);
    outcome_eval(c->conf, cold);
    outcome_eval(c->conf, known);
    if (c->json)
        classify_json(c, o.pos[0], &f, cold, known);
    else
        classify_text(c, o.pos[0], &f, cold, known);
    rc = classify_bounce(c, buf, len);
    if (c->json)
        printf("}\n");
    free(cold);
    free(known);
    free(buf);
    return rc;
}
