/*
 * pf_conf.c - Postfix's configuration as postconf(1) prints it.
 *
 * SYNOPSIS
 *   pf_conf_load(dir, &pc, err, sizeof(err)); ... pf_conf_free(&pc);
 *
 * DESCRIPTION
 *   Runs postconf three times (with "-c dir" when a directory is given):
 *   "-x NAME..." for the main.cf values check-postfix needs, defaults and
 *   $name expansion included; "-M" for the services of master.cf; "-Px" for
 *   their -o overrides, expanded. Postfix's own parser thus decides what the
 *   files mean. Each run is bounded: PF_OUTPUT_MAX bytes of output, 30
 *   seconds, PF_SERVICES_MAX services and PF_OVERRIDES_MAX overrides.
 *
 * DIAGNOSTICS
 *   A postconf that cannot run, fails or says too much: -1, with its own
 *   words in err (the first line it wrote on stderr and the last, joined by
 *   "; ").
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf.h"
#include "pf_run.h"

#define RUN_SECONDS 30

/* The main.cf parameters check-postfix reads. */
static const char *const main_names[] = {"config_directory",
                                         "queue_directory",
                                         "mail_owner",
                                         "smtpd_milters",
                                         "non_smtpd_milters",
                                         "milter_default_action",
                                         "internal_mail_filter_classes",
                                         "smtpd_sasl_auth_enable",
                                         "smtpd_tls_security_level",
                                         "smtpd_tls_wrappermode",
                                         "smtpd_tls_auth_only",
                                         "smtpd_enforce_tls",
                                         "smtpd_use_tls",
                                         NULL};

/* Append n bytes to a growing buffer, at most max; 0, or -1 when full. */
static int
append(char **buf, size_t *len, size_t *cap, const char *data, size_t n, size_t max)
{
    char *grown;

    if (*len + n + 1 > max)
        return -1;
    if (*len + n + 1 > *cap) {
        *cap = *cap ? *cap : 8192;
        while (*len + n + 1 > *cap)
            *cap *= 2;
        if (!(grown = realloc(*buf, *cap)))
            return -1;
        *buf = grown;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* postconf's output as it comes (pf_run's out): into a buffer, bounded. */
struct printed {
    char *buf;
    size_t len, cap;
};

/* Take n bytes of postconf's output; 0, or -1 when it says too much. */
static int
take(void *arg, const char *data, size_t n, char *err, size_t errlen)
{
    struct printed *p = arg;

    if (append(&p->buf, &p->len, &p->cap, data, n, PF_OUTPUT_MAX) < 0) {
        snprintf(err, errlen, "postconf printed more than %d bytes", PF_OUTPUT_MAX);
        return -1;
    }
    return 0;
}

/* Run postconf [-c dir] args...; its standard output in *out (free it), 0;
 * or -1 with why in err. */
static int
run_postconf(const char *dir, const char *const *args, char **out, char *err)
{
    struct printed p = {NULL, 0, 0};
    struct pf_run r = {.name = "postconf",
                       .what = "postconf",
                       .dir = dir,
                       .args = args,
                       .seconds = RUN_SECONDS,
                       .out = take,
                       .arg = &p,
                       .keep_stderr = 1};

    while (args[r.nargs])
        r.nargs++;
    *out = NULL;
    if (pf_run(&r, err, PF_ERR_MAX) < 0) {
        free(p.buf);
        return -1;
    }
    if (!p.buf && append(&p.buf, &p.len, &p.cap, "", 0, PF_OUTPUT_MAX) < 0) {
        snprintf(err, PF_ERR_MAX, "out of memory");
        return -1;
    }
    *out = p.buf;
    return 0;
}

/* Keep one "name = value" line (service: NULL, or the override's service). */
static int
add_param(struct pf_conf *pc, char *service, const char *name, size_t nlen, const char *value)
{
    struct pf_param *grown, *p;

    if (pc->n_params >= PF_OVERRIDES_MAX + sizeof(main_names) / sizeof(main_names[0]))
        return -1;
    if (!(grown = realloc(pc->params, (pc->n_params + 1) * sizeof(*grown))))
        return -1;
    pc->params = grown;
    p = &pc->params[pc->n_params];
    p->service = service;
    p->name = strndup(name, nlen);
    p->value = strdup(value);
    if (!p->name || !p->value) {
        free(p->name);
        free(p->value);
        return -1;
    }
    pc->n_params++;
    return 0;
}

/* Read "name = value" lines (with overrides: "service/type/name = value"). */
static int
parse_params(struct pf_conf *pc, char *text, int overrides, char *err)
{
    char *line, *save = NULL, *eq, *name, *slash, *svc;

    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!(eq = strstr(line, " =")))
            continue;
        *eq = '\0';
        name = line;
        svc = NULL;
        if (overrides) {
            if (!(slash = strrchr(line, '/')))
                continue;
            name = slash + 1;
            if (!(svc = strndup(line, (size_t)(slash - line))))
                goto fail;
        }
        eq += 2;
        if (*eq == ' ')
            eq++;
        if (add_param(pc, svc, name, strlen(name), eq) < 0) {
            free(svc);
            goto fail;
        }
    }
    return 0;
fail:
    snprintf(err, PF_ERR_MAX, "too many parameters, or out of memory");
    return -1;
}

/* Read postconf -M's lines: name type private unpriv chroot wakeup maxproc command. */
static int
parse_services(struct pf_conf *pc, char *text, char *err)
{
    char *line, *save = NULL, *f[8], *fsave;
    struct pf_service *s;
    int i;

    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        fsave = NULL;
        for (i = 0; i < 8; i++)
            if (!(f[i] = strtok_r(i ? NULL : line, " \t", &fsave)))
                break;
        if (i < 8)
            continue;
        if (pc->n_svc == PF_SERVICES_MAX) {
            snprintf(err, PF_ERR_MAX, "master.cf has more than %d services", PF_SERVICES_MAX);
            return -1;
        }
        s = &pc->svc[pc->n_svc];
        s->name = strdup(f[0]);
        s->type = strdup(f[1]);
        s->command = strdup(f[7]);
        s->chroot = strcmp(f[4], "y") == 0;
        s->key = malloc(strlen(f[0]) + strlen(f[1]) + 2);
        if (!s->name || !s->type || !s->command || !s->key) {
            free(s->name);
            free(s->type);
            free(s->command);
            free(s->key);
            snprintf(err, PF_ERR_MAX, "out of memory");
            return -1;
        }
        sprintf(s->key, "%s/%s", f[0], f[1]);
        pc->n_svc++;
    }
    return 0;
}

/* Read the configuration in dir (NULL: Postfix's default) with postconf;
 * 0, or -1 with what postconf said in err. */
int
pf_conf_load(const char *dir, struct pf_conf *pc, char *err, size_t errlen)
{
    static const char *const m_args[] = {"-M", NULL};
    static const char *const p_args[] = {"-Px", NULL};
    const char *x_args[sizeof(main_names) / sizeof(main_names[0]) + 1];
    char why[PF_ERR_MAX] = "", *out = NULL;
    size_t i;
    int rc = -1;

    memset(pc, 0, sizeof(*pc));
    x_args[0] = "-x";
    for (i = 0; main_names[i]; i++)
        x_args[i + 1] = main_names[i];
    x_args[i + 1] = NULL;
    if (!(pc->svc = calloc(PF_SERVICES_MAX, sizeof(*pc->svc)))) {
        snprintf(why, sizeof(why), "out of memory");
        goto out;
    }
    if (run_postconf(dir, x_args, &out, why) < 0 || parse_params(pc, out, 0, why) < 0)
        goto out;
    free(out);
    if (run_postconf(dir, m_args, &out, why) < 0 || parse_services(pc, out, why) < 0)
        goto out;
    free(out);
    if (run_postconf(dir, p_args, &out, why) < 0 || parse_params(pc, out, 1, why) < 0)
        goto out;
    rc = 0;
out:
    free(out);
    if (rc < 0) {
        snprintf(err, errlen, "%s", why);
        pf_conf_free(pc);
    }
    return rc;
}

/* A main.cf value ("" when postconf printed none). */
const char *
pf_conf_get(const struct pf_conf *pc, const char *name)
{
    size_t i;

    for (i = 0; i < pc->n_params; i++)
        if (!pc->params[i].service && strcmp(pc->params[i].name, name) == 0)
            return pc->params[i].value;
    return "";
}

/* A service's value: its -o override, else main.cf's; *overridden says which. */
const char *
pf_conf_service_get(const struct pf_conf *pc, const struct pf_service *s, const char *name,
                    int *overridden)
{
    size_t i;

    for (i = 0; i < pc->n_params; i++) {
        const struct pf_param *p = &pc->params[i];

        if (p->service && strcmp(p->service, s->key) == 0 && strcmp(p->name, name) == 0) {
            if (overridden)
                *overridden = 1;
            return p->value;
        }
    }
    if (overridden)
        *overridden = 0;
    return pf_conf_get(pc, name);
}

/* The service named key ("cleanup/unix"), or NULL. */
const struct pf_service *
pf_conf_service(const struct pf_conf *pc, const char *key)
{
    size_t i;

    for (i = 0; i < pc->n_svc; i++)
        if (strcmp(pc->svc[i].key, key) == 0)
            return &pc->svc[i];
    return NULL;
}

/* Free what pf_conf_load() kept. */
void
pf_conf_free(struct pf_conf *pc)
{
    size_t i;

    for (i = 0; i < pc->n_params; i++) {
        free(pc->params[i].service);
        free(pc->params[i].name);
        free(pc->params[i].value);
    }
    for (i = 0; i < pc->n_svc; i++) {
        free(pc->svc[i].name);
        free(pc->svc[i].type);
        free(pc->svc[i].command);
        free(pc->svc[i].key);
    }
    free(pc->params);
    free(pc->svc);
    memset(pc, 0, sizeof(*pc));
}
