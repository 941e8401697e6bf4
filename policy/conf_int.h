/*
 * conf_int.h - what the configuration loader's files share: the state of one
 * load and the helpers that read values and report "file:line: ..." errors.
 * Not part of the policy library's interface.
 */
#ifndef PM_CONF_INT_H
#define PM_CONF_INT_H

#include <libconfig.h>
#include <stddef.h>

#include "conf.h"

#define PM_LIMIT_MAX 1000000000LL

/* The state of one pm_conf_load() call. */
struct loader {
    const char *path;
    config_t cf;
    struct pm_conf *conf;
    char *err;
    size_t errlen;
};

/* Format "file:line: message" (the line of s or its nearest parent); returns -1. */
int pm_conf_fail(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
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
int pm_conf_check_hour_bucket(long long v, char *why, size_t whylen);
int pm_conf_check_day_bucket(long long v, char *why, size_t whylen);

/* Refuse integer literals of the file text that libconfig 1.5 truncates; -1 after an error. */
int pm_conf_scan_integers(struct loader *ld, const char *name, const char *text);

/* Read the contacts group (secret file, TTL, bounds); -1 after an error. */
int pm_conf_load_contacts(struct loader *ld, const config_setting_t *s, const char *kname);

/* Read the ordered content rules; -1 after an error. */
int pm_conf_load_rules(struct loader *ld, const config_setting_t *s, const char *kname);

/* Free what pm_conf_load_rules() allocated. */
void pm_conf_free_rules(struct pm_conf *conf);

/* Read the assign rules (conf_assign.c): sender or login -> plan; -1 after an error. */
int pm_conf_load_assign(struct loader *ld, const config_setting_t *s, const char *kname);

/* Read the domains rules: sender domain -> company-wide plan; -1 after an error. */
int pm_conf_load_domains(struct loader *ld, const config_setting_t *s, const char *kname);

/* 1 when name is a valid plan name: [A-Za-z0-9_-]+. */
int pm_conf_plan_name_ok(const char *name);

/* Read a plan's warm-up (conf_plan.c): an explicit list, or start and growth;
 * neither: the default curve. prefix ("plans.NAME.") names the keys. */
int pm_conf_load_plan_warmup(struct loader *ld, const config_setting_t *grp, const char *prefix,
                             struct pm_plan *plan);

/* Free what pm_conf_load_assign() and pm_conf_load_domains() allocated. */
void pm_conf_free_assign(struct pm_conf *conf);

#endif
