/*
 * conf_load.h - the configuration loader's machinery, shared by conf.c and
 * the files of the groups with their own shape (conf_int.h): the state of
 * one load, the key tables' types, the helpers that read values and report
 * "file:line: ..." errors (conf_load.c), the checks of single values
 * (conf_check.c) and the opening of secret files (conf_secret.c). Nothing declared here calls into
 * the files above it. Not part of the policy library's interface.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CONF_LOAD_H
#define PM_CONF_LOAD_H

#include <libconfig.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

/* The state of one pm_conf_load() call. */
struct loader {
    const char *path;
    config_t cf;
    struct pm_conf *conf;
    char *err;
    size_t errlen;
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

/* How a key's value is read. */
enum key_type {
    KT_INT,     /* int field: an integer within [min, max] */
    KT_LLONG,   /* long long field: an integer within [min, max] */
    KT_MODE,    /* int field: a file mode, decimal digits read as octal */
    KT_BOOL,    /* int field: true or false */
    KT_DOUBLE,  /* double field: a number within [dmin, dmax] */
    KT_STR,     /* char * field: a string */
    KT_CHOICE,  /* int field: one of the names in choices */
    KT_ACTION,  /* int field: an enum pm_action of acts, by its name (pm_action_name) */
    KT_STRS,    /* char ** field and size_t count: a list of strings */
    KT_NETS,    /* struct pm_cidr * field and size_t count: a list of networks */
    KT_SPECIAL, /* read by hook alone */
};

/* A name allowed for a KT_CHOICE key and the value stored for it. */
struct choice {
    const char *name;
    int value;
};

/* Extra check of a string; fills why and returns -1 when the value is bad. */
typedef int (*str_check_fn)(const char *value, char *why, size_t whylen);

/* Extra check of an integer; fills why and returns -1 when the value is bad. */
typedef int (*int_check_fn)(long long value, char *why, size_t whylen);

/* KT_SPECIAL: reads the key; others: runs after the value is stored. */
typedef int (*hook_fn)(struct loader *ld, const config_setting_t *s, const char *kname);

/* One key: where it lives, its type, default and bounds. */
struct conf_key {
    const char *group; /* enclosing group, NULL at the top level */
    const char *name;
    enum key_type type;
    size_t off;                   /* the field */
    size_t count_off;             /* KT_STRS, KT_NETS: the count field */
    long long def;                /* KT_INT, KT_LLONG, KT_MODE, KT_BOOL, KT_ACTION */
    const char *sdef;             /* KT_STR, KT_CHOICE */
    const char *const *ldef;      /* KT_STRS, KT_NETS: NULL-terminated */
    long long min, max;           /* KT_INT, KT_LLONG, KT_MODE; max: KT_STRS, KT_NETS entries
                                   * (0: PM_CONF_LIST_MAX) */
    double ddef, dmin, dmax;      /* KT_DOUBLE */
    const struct choice *choices; /* KT_CHOICE: NULL-terminated */
    const int *acts;              /* KT_ACTION: the actions allowed, as an error names them,
                                   * -1 last; def: the default */
    int lower;                    /* KT_STRS: lower-case each element */
    str_check_fn str_check;       /* KT_STR, KT_STRS: each value */
    int_check_fn int_check;       /* KT_INT */
    hook_fn hook;
};

/* Read one key of any type into base + k->off, then run its hook. */
int pm_conf_load_key(struct loader *ld, const struct conf_key *k, const config_setting_t *s,
                     const char *kname, void *base);

/* The entry of table (n entries) for group.name (group NULL: the top level), or NULL. */
const struct conf_key *pm_conf_find_key(const struct conf_key *table, size_t n, const char *group,
                                        const char *name);

/* Check that every member of grp is a key of table in group; prefix names them. */
int pm_conf_check_members(struct loader *ld, const config_setting_t *grp,
                          const struct conf_key *table, size_t n, const char *group,
                          const char *prefix);

/* The setting group.name of the file (group NULL: the top level), or NULL. */
const config_setting_t *pm_conf_find_setting(struct loader *ld, const char *group,
                                             const char *name);

/* Format "file:line: message" (the line of s or its nearest parent); returns -1. */
int pm_conf_fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add "file:line: warning: message" to the configuration's warnings; 0, or -1
 * (out of memory, as an error). */
int pm_conf_warn(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a string", "an integer"...: the type of s, for messages. */
const char *pm_conf_type_name(const config_setting_t *s);

/* The string value of s, or NULL after an error naming kname. */
const char *pm_conf_get_string(struct loader *ld, const config_setting_t *s, const char *kname);

/* The integer value of s into *v; -1 after an error naming kname. */
int pm_conf_get_integer(struct loader *ld, const config_setting_t *s, const char *kname,
                        long long *v);

/* Lower-case s in place. */
void pm_conf_lower_case(char *s);

/* Value checks (conf_check.c): 0 when v is good, else -1 with why filled. */
int pm_conf_check_socket(const char *v, char *why, size_t whylen);
int pm_conf_check_nonempty(const char *v, char *why, size_t whylen);
int pm_conf_check_hostport(const char *v, char *why, size_t whylen);
int pm_conf_check_facility(const char *v, char *why, size_t whylen);
int pm_conf_check_listen(const char *v, char *why, size_t whylen);
int pm_conf_check_key_prefix(const char *v, char *why, size_t whylen);
int pm_conf_check_header_name(const char *v, char *why, size_t whylen);
int pm_conf_check_domain(const char *v, char *why, size_t whylen);
int pm_conf_check_login_domain(const char *v, char *why, size_t whylen);
int pm_conf_check_hour_bucket(long long v, char *why, size_t whylen);
int pm_conf_check_day_bucket(long long v, char *why, size_t whylen);
int pm_conf_check_abs_path(const char *v, char *why, size_t whylen);
int pm_conf_check_idle_alarm(long long v, char *why, size_t whylen);

/* Open a secret file (conf_secret.c) once nobody but root, the daemon's user
 * and the user reading it can read or replace it; its descriptor, or -1
 * after an error naming kname, with the commands that fix it. */
int pm_conf_open_secret(struct loader *ld, const config_setting_t *s, const char *kname,
                        const char *path);

/* The name of uid into buf ("uid N" when unknown); buf. */
const char *pm_conf_user_name(uid_t uid, char *buf, size_t len);

/* Refuse integer literals of the file text that libconfig 1.5 truncates (conf_check.c);
 * -1 after an error. */
int pm_conf_scan_integers(struct loader *ld, const char *name, const char *text);

#endif
