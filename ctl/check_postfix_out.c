/*
 * check_postfix_out.c - postmeterctl check-postfix: the findings, kept and
 * printed on stdout.
 *
 * Text: one line per finding, "SEVERITY: WHERE: PROBLEM; fix: FIX", errors
 * and warnings in the order found; or one line saying nothing was found.
 * JSON: one object, {"config_directory", "postmeter", "ok", "errors",
 * "warnings", "findings": [{"severity", "where", "problem", "fix"}]}.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check_postfix.h"

#define SELF_REFERENCE                                                                             \
    " (a parameter refers to itself, such as -o smtpd_milters=$smtpd_milters,... in master.cf: "   \
    "name main.cf's list in a parameter of its own, such as site_milters, and refer to that)"

/* Add a finding (at most CP_FINDINGS_MAX are kept). */
void
cp_add(struct cp *k, int error, const char *where, const char *fix, const char *fmt, ...)
{
    struct cp_finding *f;
    va_list ap;

    if (k->n == CP_FINDINGS_MAX) {
        k->dropped++;
        return;
    }
    f = &k->f[k->n++];
    f->error = error;
    snprintf(f->where, sizeof(f->where), "%s", where);
    snprintf(f->fix, sizeof(f->fix), "%s", fix);
    va_start(ap, fmt);
    vsnprintf(f->problem, sizeof(f->problem), fmt, ap);
    va_end(ap);
}

/* Print the findings as one JSON object. */
static void
print_json(const struct cp *k, size_t errors)
{
    size_t i;

    fputs("{\"config_directory\":", stdout);
    out_json_str(stdout, pf_conf_get(&k->pc, "config_directory"));
    fputs(",\"postmeter\":", stdout);
    out_json_str(stdout, k->pm);
    printf(",\"ok\":%s,\"errors\":%zu,\"warnings\":%zu,\"findings\":[", k->n ? "false" : "true",
           errors, k->n - errors);
    for (i = 0; i < k->n; i++) {
        printf("%s{\"severity\":\"%s\",\"where\":", i ? "," : "",
               k->f[i].error ? "error" : "warning");
        out_json_str(stdout, k->f[i].where);
        fputs(",\"problem\":", stdout);
        out_json_str(stdout, k->f[i].problem);
        fputs(",\"fix\":", stdout);
        out_json_str(stdout, k->f[i].fix);
        fputc('}', stdout);
    }
    printf("],\"not_shown\":%zu}\n", k->dropped);
}

/* Print the findings (text or JSON); CTL_OK when there are none, else CTL_ERR. */
int
cp_print(const struct ctl *c, const struct cp *k)
{
    size_t i, errors = 0;

    for (i = 0; i < k->n; i++)
        errors += (size_t)k->f[i].error;
    if (c->json) {
        print_json(k, errors);
    } else if (!k->n) {
        printf("%s: no problems found (postmeter at %s)\n", pf_conf_get(&k->pc, "config_directory"),
               k->pm);
    } else {
        for (i = 0; i < k->n; i++)
            printf("%s: %s: %s; fix: %s\n", k->f[i].error ? "error" : "warning", k->f[i].where,
                   k->f[i].problem, k->f[i].fix);
        if (k->dropped)
            printf("warning: %zu more findings not shown\n", k->dropped);
    }
    return k->n ? CTL_ERR : CTL_OK;
}

/* Print why postconf could not be read (dir: --config-dir or NULL); CTL_ERR. */
int
cp_print_failure(const struct ctl *c, const char *dir, const char *err)
{
    const char *hint = strstr(err, "macro call nesting") ? SELF_REFERENCE : "";

    if (c->json) {
        fputs("{\"config_directory\":", stdout);
        if (dir)
            out_json_str(stdout, dir);
        else
            fputs("null", stdout);
        fputs(",\"ok\":false,\"error\":", stdout);
        out_json_str(stdout, err);
        fputs("}\n", stdout);
    }
    return ctl_fail(CTL_ERR, "check-postfix: cannot read Postfix's configuration: %s%s", err, hint);
}
