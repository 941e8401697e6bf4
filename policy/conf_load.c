/*
 * conf_load.c - the configuration loader's machinery: read one key of a key
 * table by its type, default and bounds, check a group's members against a
 * table, find a setting, and report "file:line: ..." errors.
 *
 * The key tables themselves live above: conf_keys in conf.c, plan_keys in
 * conf_plan.c; the groups with their own shape (conf_rules.c,
 * conf_assign.c, conf_plan.c) use the same helpers. Nothing here calls
 * into those files.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <ctype.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_load.h"

/* The file and line of s or its nearest parent that has one. */
static const char *
where(struct loader *ld, const config_setting_t *s, unsigned int *line)
{
    *line = 0;
    for (; s; s = config_setting_parent(s)) {
        if (config_setting_source_line(s) > 0) {
            *line = config_setting_source_line(s);
            return config_setting_source_file(s) ? config_setting_source_file(s) : ld->path;
        }
    }
    return ld->path;
}

/* Make buf one line, whatever the quoted values hold. */
static void
one_line(char *buf)
{
    for (; *buf; buf++)
        if ((unsigned char)*buf < 0x20 || *buf == 0x7f)
            *buf = '?';
}

/* Format "file:line: message" into the caller's buffer; always returns -1. */
int
pm_conf_fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
    char msg[512];
    const char *file;
    unsigned int line;
    va_list ap;

    file = where(ld, s, &line);
    if (ld->errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->errlen, "%s:%u: %s", file, line, msg);
    one_line(ld->err);
    return -1;
}

/* Add "file:line: warning: message" to the configuration's warnings. */
int
pm_conf_warn(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
    struct pm_conf *c = ld->conf;
    char msg[768], *text = NULL, **grown;
    const char *file;
    unsigned int line;
    size_t len;
    va_list ap;

    file = where(ld, s, &line);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    len = strlen(file) + strlen(msg) + 32;
    if (!(text = malloc(len)) ||
        !(grown = realloc(c->warnings, (c->n_warnings + 1) * sizeof(*grown)))) {
        free(text);
        return pm_conf_fail(ld, s, "out of memory");
    }
    snprintf(text, len, "%s:%u: warning: %s", file, line, msg);
    one_line(text);
    c->warnings = grown;
    c->warnings[c->n_warnings++] = text;
    return 0;
}

/* "a string", "an integer"...: the type of s, for messages. */
const char *
pm_conf_type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

/* Lower-case s in place. */
void
pm_conf_lower_case(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The string value of s, or NULL after an error naming kname. */
const char *
pm_conf_get_string(struct loader *ld, const config_setting_t *s, const char *kname)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        pm_conf_fail(ld, s, "%s: expected a string, not %s", kname, pm_conf_type_name(s));
        return NULL;
    }
    return config_setting_get_string(s);
}

/* The integer value of s into *v; -1 after an error naming kname. */
int
pm_conf_get_integer(struct loader *ld, const config_setting_t *s, const char *kname, long long *v)
{
    int t = config_setting_type(s);

    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return pm_conf_fail(ld, s, "%s: expected an integer, not %s", kname, pm_conf_type_name(s));
    *v = config_setting_get_int64(s);
    return 0;
}

/* Write "a, b or c" from a choice list into buf. */
static void
choice_list(const struct choice *c, char *buf, size_t len)
{
    size_t n, i, used = 0;

    for (n = 0; c[n].name; n++)
        ;
    buf[0] = '\0';
    for (i = 0; i < n && used < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + used, len - used, "%s%s", sep, c[i].name);

        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* Find the value of name in a choice list; -1 when absent. */
static int
choice_find(const struct choice *c, const char *name, int *value)
{
    for (; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            *value = c->value;
            return 0;
        }
    }
    return -1;
}

/* Read decimal digits as octal digits (0660 read as 660 -> 0660); -1 on 8 or 9. */
static int
mode_from_digits(long long v, long long *mode)
{
    long long out = 0, scale = 1;

    if (v < 0)
        return -1;
    while (v > 0) {
        if (v % 10 > 7)
            return -1;
        out += (v % 10) * scale;
        scale *= 8;
        v /= 10;
    }
    *mode = out;
    return 0;
}

/* Read an integer key (KT_INT, KT_LLONG, KT_MODE) into its field. */
static int
load_integer(struct loader *ld, const struct conf_key *k, const config_setting_t *s,
             const char *kname, void *base)
{
    long long v = k->def;
    char why[256];

    if (s) {
        if (pm_conf_get_integer(ld, s, kname, &v) < 0)
            return -1;
        if (k->type == KT_MODE && config_setting_get_format(s) != CONFIG_FORMAT_HEX &&
            mode_from_digits(v, &v) < 0)
            return pm_conf_fail(ld, s, "%s: 0%lld is not an octal mode", kname,
                                config_setting_get_int64(s));
        if (v < k->min || v > k->max) {
            if (k->type == KT_MODE)
                return pm_conf_fail(ld, s, "%s: %#llo is out of range (%#llo-%#llo)", kname, v,
                                    k->min, k->max);
            return pm_conf_fail(ld, s, "%s: %lld is out of range (%lld-%lld)", kname, v, k->min,
                                k->max);
        }
        if (k->int_check && k->int_check(v, why, sizeof(why)) < 0)
            return pm_conf_fail(ld, s, "%s: %s", kname, why);
    }
    if (k->type == KT_LLONG)
        *(long long *)((char *)base + k->off) = v;
    else
        *(int *)((char *)base + k->off) = (int)v;
    return 0;
}

/* Read a number key (KT_DOUBLE) into its field. */
static int
load_double(struct loader *ld, const struct conf_key *k, const config_setting_t *s,
            const char *kname, void *base)
{
    double v = k->ddef;
    int t;

    if (s) {
        t = config_setting_type(s);
        if (t == CONFIG_TYPE_FLOAT)
            v = config_setting_get_float(s);
        else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
            v = (double)config_setting_get_int64(s);
        else
            return pm_conf_fail(ld, s, "%s: expected a number, not %s", kname,
                                pm_conf_type_name(s));
        if (!(v >= k->dmin && v <= k->dmax))
            return pm_conf_fail(ld, s, "%s: %g is out of range (%g-%g)", kname, v, k->dmin,
                                k->dmax);
    }
    *(double *)((char *)base + k->off) = v;
    return 0;
}

/* Read a string key (KT_STR) into its field. */
static int
load_string(struct loader *ld, const struct conf_key *k, const config_setting_t *s,
            const char *kname, void *base)
{
    const char *v = k->sdef;
    char why[256];
    char **field = (char **)((char *)base + k->off);

    if (s) {
        if (!(v = pm_conf_get_string(ld, s, kname)))
            return -1;
        if (k->str_check && k->str_check(v, why, sizeof(why)) < 0)
            return pm_conf_fail(ld, s, "%s: %s", kname, why);
    }
    if (!(*field = strdup(v)))
        return pm_conf_fail(ld, s, "%s: out of memory", kname);
    return 0;
}

/* Read a KT_CHOICE, KT_ACTION or KT_BOOL key into its int field. */
static int
load_choice(struct loader *ld, const struct conf_key *k, const config_setting_t *s,
            const char *kname, void *base)
{
    int *field = (int *)((char *)base + k->off);
    const struct choice *choices = k->choices;
    struct choice acts[PM_ACT_REJECT + 2];
    const char *v;
    char names[256];
    size_t i;

    if (k->type == KT_BOOL) {
        *field = (int)k->def;
        if (!s)
            return 0;
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return pm_conf_fail(ld, s, "%s: expected true or false, not %s", kname,
                                pm_conf_type_name(s));
        *field = config_setting_get_bool(s);
        return 0;
    }
    if (k->type == KT_ACTION) { /* the actions' names, from the one table of them */
        for (i = 0; k->acts[i] >= 0 && i + 1 < sizeof(acts) / sizeof(acts[0]); i++)
            acts[i] = (struct choice){pm_action_name((enum pm_action)k->acts[i]), k->acts[i]};
        acts[i] = (struct choice){NULL, 0};
        choices = acts;
        *field = (int)k->def;
        if (!s)
            return 0;
    } else if (!s) {
        return choice_find(choices, k->sdef, field);
    }
    if (!(v = pm_conf_get_string(ld, s, kname)))
        return -1;
    if (choice_find(choices, v, field) < 0) {
        choice_list(choices, names, sizeof(names));
        return pm_conf_fail(ld, s, "%s: \"%s\" is not one of %s", kname, v, names);
    }
    return 0;
}

/* Read a list of strings or networks (KT_STRS, KT_NETS) into its field and count. */
static int
load_list(struct loader *ld, const struct conf_key *k, const config_setting_t *s, const char *kname,
          void *base)
{
    size_t *count = (size_t *)((char *)base + k->count_off);
    size_t n = 0, i, max = k->max > 0 ? (size_t)k->max : PM_CONF_LIST_MAX;
    char why[256];

    if (s) {
        if (!config_setting_is_array(s) && !config_setting_is_list(s))
            return pm_conf_fail(ld, s, "%s: expected a list of strings [ \"...\" ], not %s", kname,
                                pm_conf_type_name(s));
        n = (size_t)config_setting_length(s);
        if (n > max) /* before anything is allocated for it */
            return pm_conf_fail(ld, s, "%s: %zu entries, at most %zu", kname, n, max);
    } else {
        while (k->ldef[n])
            n++;
    }
    if (k->type == KT_NETS) {
        struct pm_cidr **nets = (struct pm_cidr **)((char *)base + k->off);

        if (!(*nets = calloc(n ? n : 1, sizeof(**nets))))
            return pm_conf_fail(ld, s, "%s: out of memory", kname);
    } else {
        char ***strs = (char ***)((char *)base + k->off);

        if (!(*strs = calloc(n ? n : 1, sizeof(**strs))))
            return pm_conf_fail(ld, s, "%s: out of memory", kname);
    }
    for (i = 0; i < n; i++) {
        const config_setting_t *e = s ? config_setting_get_elem(s, (unsigned int)i) : NULL;
        const char *v;
        char ename[128];

        snprintf(ename, sizeof(ename), "%s[%zu]", kname, i);
        if (e) {
            if (!(v = pm_conf_get_string(ld, e, ename)))
                return -1;
        } else {
            v = k->ldef[i];
        }
        if (k->type == KT_NETS) {
            struct pm_cidr *nets = *(struct pm_cidr **)((char *)base + k->off);

            if (pm_cidr_parse(v, &nets[i]) < 0)
                return pm_conf_fail(ld, e ? e : s,
                                    "%s: \"%s\" is not a network (address or address/prefix)",
                                    ename, v);
        } else {
            char **strs = *(char ***)((char *)base + k->off);

            if (!(strs[i] = strdup(v)))
                return pm_conf_fail(ld, e ? e : s, "%s: out of memory", ename);
            *count = i + 1; /* owned by the struct from here on */
            if (k->lower)
                pm_conf_lower_case(strs[i]);
            if (k->str_check && k->str_check(strs[i], why, sizeof(why)) < 0)
                return pm_conf_fail(ld, e ? e : s, "%s: %s", ename, why);
        }
        *count = i + 1;
    }
    return 0;
}

/* Read one key of any type, then run its hook. */
int
pm_conf_load_key(struct loader *ld, const struct conf_key *k, const config_setting_t *s,
                 const char *kname, void *base)
{
    int rc = 0;

    switch (k->type) {
    case KT_INT:
    case KT_LLONG:
    case KT_MODE:
        rc = load_integer(ld, k, s, kname, base);
        break;
    case KT_BOOL:
    case KT_CHOICE:
    case KT_ACTION:
        rc = load_choice(ld, k, s, kname, base);
        break;
    case KT_STR:
        rc = load_string(ld, k, s, kname, base);
        break;
    case KT_DOUBLE:
        rc = load_double(ld, k, s, kname, base);
        break;
    case KT_STRS:
    case KT_NETS:
        rc = load_list(ld, k, s, kname, base);
        break;
    case KT_SPECIAL:
        break;
    }
    if (rc == 0 && k->hook)
        rc = k->hook(ld, s, kname);
    return rc;
}

/* The table entry of group.name, or NULL. */
const struct conf_key *
pm_conf_find_key(const struct conf_key *table, size_t n, const char *group, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *g = table[i].group;

        if (strcmp(table[i].name, name) == 0 &&
            (g == NULL ? group == NULL : group != NULL && strcmp(g, group) == 0))
            return &table[i];
    }
    return NULL;
}

/* Check that every member of grp is a key of table in group; prefix names them. */
int
pm_conf_check_members(struct loader *ld, const config_setting_t *grp, const struct conf_key *table,
                      size_t n, const char *group, const char *prefix)
{
    int i, len = config_setting_length(grp);

    for (i = 0; i < len; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned int)i);
        const char *name = config_setting_name(m);

        if (!pm_conf_find_key(table, n, group, name))
            return pm_conf_fail(ld, m, "unknown key \"%s%s\"", prefix, name);
    }
    return 0;
}

/* The setting group.name of the file, or NULL. */
const config_setting_t *
pm_conf_find_setting(struct loader *ld, const char *group, const char *name)
{
    const config_setting_t *g = config_root_setting(&ld->cf);

    if (group && !(g = config_setting_get_member(g, group)))
        return NULL;
    return config_setting_get_member(g, name);
}
