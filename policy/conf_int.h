/*
 * conf_int.h - the parts of the configuration loader that conf.c calls: the
 * groups with their own shape, each read by a KT_SPECIAL hook of conf_keys
 * and freed by pm_conf_free(). They read values with the machinery of
 * conf_load.h and call nothing in conf.c.
 * Not part of the policy library's interface.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CONF_INT_H
#define PM_CONF_INT_H

#include <libconfig.h>

#include "conf.h"
#include "conf_load.h"

/* The greatest limit of a plan, warm-up cap or start, and rule condition value. */
#define PM_LIMIT_MAX 1000000000LL

/* The longest plan name. */
#define PM_PLAN_NAME_MAX 64

/* plans and default_plan (conf_plan.c): the named plans, absent one "default";
 * the name of an existing plan. -1 after an error. */
int pm_conf_load_plans(struct loader *ld, const config_setting_t *s, const char *kname);
int pm_conf_load_default_plan(struct loader *ld, const config_setting_t *s, const char *kname);

/* Read the contacts group (secret file, TTL, bounds); -1 after an error. */
int pm_conf_load_contacts(struct loader *ld, const config_setting_t *s, const char *kname);

/* Read the incidents group (conf_incidents.c); -1 after an error. */
int pm_conf_load_incidents(struct loader *ld, const config_setting_t *s, const char *kname);

/* Read the ordered content rules; -1 after an error. */
int pm_conf_load_rules(struct loader *ld, const config_setting_t *s, const char *kname);

/* Free what pm_conf_load_rules() allocated. */
void pm_conf_free_rules(struct pm_conf *conf);

/* Read the assign rules (conf_assign.c): sender or login -> plan; -1 after an error. */
int pm_conf_load_assign(struct loader *ld, const config_setting_t *s, const char *kname);

/* Read the domains rules: sender domain -> company-wide plan; -1 after an error. */
int pm_conf_load_domains(struct loader *ld, const config_setting_t *s, const char *kname);

/* scan.subject_spam_words (conf_rules.c): one word (1 to PM_SUBJECT_WORD_MAX
 * bytes, no control character), and the list, folded as the subject is. */
int pm_conf_check_spam_word(const char *v, char *why, size_t whylen);
int pm_conf_check_spam_words(struct loader *ld, const config_setting_t *s, const char *kname);

/* Free what pm_conf_load_assign() and pm_conf_load_domains() allocated. */
void pm_conf_free_assign(struct pm_conf *conf);

/* The notify group (conf_notify.c): value checks, and the group as a whole. */
int pm_conf_check_notify_address(const char *v, char *why, size_t whylen);
int pm_conf_check_notify_from(const char *v, char *why, size_t whylen);
int pm_conf_check_notify_command(const char *v, char *why, size_t whylen);
int pm_conf_check_webhook_url(const char *v, char *why, size_t whylen);
int pm_conf_check_notify_smtp(const char *v, char *why, size_t whylen);
int pm_conf_check_notify(struct loader *ld, const config_setting_t *s, const char *kname);

#endif
