/*
 * check_postfix.c - postmeterctl check-postfix: does Postfix use postmeter
 * as the snippets intend, without breaking anything else?
 *
 * SYNOPSIS
 *   postmeterctl [-c postmeter.conf] [--json] check-postfix [--config-dir DIR]
 *
 * DESCRIPTION
 *   Reads Postfix's configuration through postconf (pf_conf.c; DIR is passed
 *   as "postconf -c DIR") and postmeter's milter socket from postmeter.conf,
 *   and reports, one line each with a severity and the fix:
 *     - a submission service (an smtpd on 587 or 465, or any other than port
 *       25 that offers AUTH) without postmeter among its milters, or whose
 *       smtpd_milters override drops postmeter or other milters of main.cf;
 *     - no submission service at all;
 *     - a service that offers AUTH without TLS;
 *     - port 25 without postmeter (it learns from bounces and replies there),
 *       or with a default action other than accept for it (postmeter down
 *       would stop incoming mail);
 *     - postmeter missing from non_smtpd_milters, bounce missing from
 *       internal_mail_filter_classes;
 *     - a milter address naming postmeter that does not lead to the socket
 *       postmeter.conf names (pf_milter.c);
 *     - a socket the postfix user cannot reach (check_postfix_socket.c).
 *   check_postfix_out.c keeps and prints the findings.
 *
 * DIAGNOSTICS
 *   Exit 0 when nothing was found, 1 when something was (or postconf
 *   failed), 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "check_postfix.h"

#define SNIPPET_SUBMISSION                                                                         \
    "-o smtpd_milters=$site_milters,{$postmeter_milter,default_action=tempfail}"

/* 1 when a Postfix boolean says yes. */
static int
yes(const char *v)
{
    return strcasecmp(v, "yes") == 0;
}

/* 1 when the port of an inet service name ("127.0.0.1:submission") is one of ports. */
static int
port_in(const struct pf_service *s, const char *const *ports)
{
    const char *colon = strrchr(s->name, ':'), *port = colon ? colon + 1 : s->name;

    for (; *ports; ports++)
        if (strcmp(port, *ports) == 0)
            return 1;
    return 0;
}

/* 1 for the smtpd that takes port 25's mail (behind postscreen: the "pass" one). */
static int
is_port25(const struct pf_service *s)
{
    static const char *const p25[] = {"smtp", "25", NULL};

    return strcmp(s->type, "pass") == 0 || port_in(s, p25);
}

/* Split a list into k's scratch entries; their number, or -1 (a finding). */
static int
milters(struct cp *k, const char *list, const char *where, struct pf_milter *m)
{
    int n = pf_milter_parse(list, m, PF_MILTERS_MAX);

    if (n < 0)
        cp_add(k, 1, where, "shorten the list",
               "a milter list has more than %d entries or one too long", PF_MILTERS_MAX);
    return n;
}

/* 1 when an address names postmeter: it leads to its socket, or its path
 * says so (pf_milter_named_pm; a wrong path is reported by check_paths()). */
static int
is_pm(const struct cp *k, const struct pf_milter *m, int chroot)
{
    char here[PF_ADDR_MAX];

    pf_milter_where(m->addr, chroot, k->queue, here, sizeof(here));
    return pf_milter_same(here, k->pm) || pf_milter_named_pm(m->addr);
}

/* The index of postmeter's entry among m[0..n), or -1. */
static int
find_pm(const struct cp *k, const struct pf_milter *m, int n, int chroot)
{
    int i;

    for (i = 0; i < n; i++)
        if (is_pm(k, &m[i], chroot))
            return i;
    return -1;
}

/* How a service of this chroot should name postmeter's socket, into out. */
static void
pm_address(const struct cp *k, int chroot, char *out, size_t len)
{
    size_t q = strlen(k->queue);

    if (strncmp(k->pm, "inet:", 5) == 0)
        snprintf(out, len, "name it %s", k->pm);
    else if (!chroot)
        snprintf(out, len, "name it unix:%s", k->pm);
    else if (strncmp(k->pm, k->queue, q) == 0 && k->pm[q] == '/')
        snprintf(out, len, "name it unix:%s", k->pm + q);
    else
        snprintf(out, len,
                 "move milter.socket below the queue directory %s, which a chrooted "
                 "service cannot leave",
                 k->queue);
}

/* Report entries that name postmeter but lead elsewhere (once per address). */
static void
check_paths(struct cp *k, const char *where, const char *param, const struct pf_milter *m, int n,
            int chroot)
{
    char here[PF_ADDR_MAX], fix[CP_FIX_MAX];
    int i;
    size_t j;

    for (i = 0; i < n; i++) {
        pf_milter_where(m[i].addr, chroot, k->queue, here, sizeof(here));
        if (pf_milter_same(here, k->pm) || !pf_milter_named_pm(m[i].addr))
            continue;
        for (j = 0; j < k->n_seen; j++)
            if (strcmp(k->seen[j], m[i].addr) == 0)
                break;
        if (j < k->n_seen)
            continue;
        if (k->n_seen < CP_SEEN_MAX)
            snprintf(k->seen[k->n_seen++], sizeof(k->seen[0]), "%s", m[i].addr);
        pm_address(k, chroot, fix, sizeof(fix));
        cp_add(k, 1, where, fix,
               "%s names %s, which %s service reaches as %s, but postmeter listens on %s "
               "(milter.socket in postmeter.conf)",
               param, m[i].addr, chroot ? "a chrooted" : "this", here, k->pm);
    }
}

/* 1 when AUTH on this service needs TLS first (or is never offered without it). */
static int
auth_needs_tls(const struct pf_conf *pc, const struct pf_service *s)
{
    const char *level = pf_conf_service_get(pc, s, "smtpd_tls_security_level", NULL);

    if (yes(pf_conf_service_get(pc, s, "smtpd_tls_wrappermode", NULL)) ||
        yes(pf_conf_service_get(pc, s, "smtpd_tls_auth_only", NULL)))
        return 1;
    if (!*level)
        return yes(pf_conf_service_get(pc, s, "smtpd_enforce_tls", NULL));
    return strcasecmp(level, "encrypt") == 0;
}

/* What postmeter down means for incoming mail under this default action. */
static const char *
down_means(const char *action)
{
    if (strcasecmp(action, "tempfail") == 0)
        return "refused (451 4.7.1 Service unavailable, at CONNECT)";
    if (strcasecmp(action, "reject") == 0)
        return "refused for good (5xx)";
    if (strcasecmp(action, "quarantine") == 0)
        return "put on hold";
    return "not accepted";
}

/* Port 25: postmeter should be there, with accept when it is down. */
static void
check_port25(struct cp *k, const struct pf_service *s, const struct pf_milter *m, int n)
{
    int i = find_pm(k, m, n, s->chroot), over;
    const char *action;

    if (i < 0) {
        cp_add(k, 0, s->key,
               "smtpd_milters = $site_milters, $postmeter_milter in main.cf, with "
               "milter_default_action = accept",
               "postmeter is not among its milters: it never learns from incoming bounces and "
               "replies (suppression list, bounce rate, contacts)");
        return;
    }
    if (m[i].action[0]) {
        if (strcasecmp(m[i].action, "accept") != 0)
            cp_add(
                k, 0, s->key, "default_action=accept in postmeter's { } entry",
                "postmeter's entry says default_action=%s: when postmeter is down, incoming mail "
                "is %s",
                m[i].action, down_means(m[i].action));
        return;
    }
    action = pf_conf_service_get(&k->pc, s, "milter_default_action", &over);
    if (strcasecmp(action, "accept") != 0)
        cp_add(
            k, 0, s->key,
            over ? "-o milter_default_action=accept on this service"
                 : "milter_default_action = accept in main.cf (or -o milter_default_action=accept "
                   "on this service)",
            "milter_default_action is %s: when postmeter is down, incoming mail is %s", action,
            down_means(action));
}

/* A submission service: postmeter among its milters, main.cf's others kept. */
static void
check_submission(struct cp *k, const struct pf_service *s, const struct pf_milter *m, int n,
                 int overridden)
{
    struct pf_milter main_m[PF_MILTERS_MAX];
    char dropped[1024] = "";
    size_t len = 0;
    int nm, i, j;

    nm = pf_milter_parse(pf_conf_get(&k->pc, "smtpd_milters"), main_m, PF_MILTERS_MAX);
    if (find_pm(k, m, n, s->chroot) < 0)
        cp_add(k, 1, s->key, SNIPPET_SUBMISSION,
               overridden && nm > 0 && find_pm(k, main_m, nm, s->chroot) >= 0
                   ? "its smtpd_milters override drops postmeter: mail submitted here leaves "
                     "unmetered"
                   : "postmeter is not among its milters: mail submitted here leaves unmetered");
    if (!overridden || nm <= 0)
        return;
    for (i = 0; i < nm; i++) {
        if (is_pm(k, &main_m[i], s->chroot))
            continue;
        for (j = 0; j < n && strcmp(m[j].addr, main_m[i].addr) != 0; j++)
            ;
        if (j == n && len + strlen(main_m[i].addr) + 3 < sizeof(dropped))
            len += (size_t)snprintf(dropped + len, sizeof(dropped) - len, "%s%s", len ? ", " : "",
                                    main_m[i].addr);
    }
    if (len)
        cp_add(k, 0, s->key, "name main.cf's milters in site_milters and write " SNIPPET_SUBMISSION,
               "its smtpd_milters override drops main.cf's %s: mail submitted here bypasses them "
               "(an OpenDKIM there no longer signs it)",
               dropped);
}

/* Every smtpd service: port 25, submission, AUTH without TLS. */
static void
check_services(struct cp *k)
{
    static const char *const sub_ports[] = {"submission", "587", "submissions",
                                            "smtps",      "465", NULL};
    struct pf_milter m[PF_MILTERS_MAX];
    const struct pf_service *s;
    int n, over, auth, subs = 0;
    size_t i;

    for (i = 0; i < k->pc.n_svc; i++) {
        s = &k->pc.svc[i];
        if (strcmp(s->command, "smtpd") != 0 ||
            (strcmp(s->type, "inet") != 0 && strcmp(s->type, "pass") != 0))
            continue;
        n = milters(k, pf_conf_service_get(&k->pc, s, "smtpd_milters", &over), s->key, m);
        if (n < 0)
            continue;
        check_paths(k, over ? s->key : "main.cf", "smtpd_milters", m, n, s->chroot);
        auth = yes(pf_conf_service_get(&k->pc, s, "smtpd_sasl_auth_enable", NULL));
        if (is_port25(s)) {
            check_port25(k, s, m, n);
        } else if (auth || port_in(s, sub_ports)) {
            subs++;
            check_submission(k, s, m, n, over);
        }
        if (auth && !auth_needs_tls(&k->pc, s))
            cp_add(k, 1, s->key,
                   is_port25(s) ? "-o smtpd_tls_auth_only=yes (port 25 itself must not require TLS)"
                                : "-o smtpd_tls_security_level=encrypt (port 587), or "
                                  "-o smtpd_tls_wrappermode=yes (port 465)",
                   "AUTH is offered without TLS: passwords cross the network in clear text");
    }
    if (!subs)
        cp_add(k, 0, "master.cf", "add the services of postfix-master.cf.snippet",
               "no submission service (port 587 or 465): the mail users send should come in "
               "through one, with postmeter");
}

/* main.cf: non_smtpd_milters and internal_mail_filter_classes. */
static void
check_main(struct cp *k)
{
    const struct pf_service *cleanup = pf_conf_service(&k->pc, "cleanup/unix");
    struct pf_milter m[PF_MILTERS_MAX];
    char classes[256], *t, *save = NULL;
    int n, chroot = cleanup ? cleanup->chroot : 0, bounce = 0;

    n = milters(k, pf_conf_get(&k->pc, "non_smtpd_milters"), "main.cf", m);
    if (n >= 0) {
        check_paths(k, "main.cf", "non_smtpd_milters", m, n, chroot);
        if (find_pm(k, m, n, chroot) < 0)
            cp_add(k, 0, "main.cf", "non_smtpd_milters = $site_milters, $postmeter_milter",
                   "postmeter is not in non_smtpd_milters: mail injected locally (sendmail, "
                   "scripts) leaves unmetered");
    }
    snprintf(classes, sizeof(classes), "%s", pf_conf_get(&k->pc, "internal_mail_filter_classes"));
    for (t = strtok_r(classes, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
        bounce |= strcasecmp(t, "bounce") == 0;
    if (!bounce)
        cp_add(k, 0, "main.cf", "internal_mail_filter_classes = bounce",
               "internal_mail_filter_classes does not name bounce: postmeter never sees the "
               "bounces Postfix writes itself");
}

/* check-postfix [--config-dir DIR] */
int
cmd_check_postfix(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--config-dir", NULL};
    struct ctl_opts o = {names, {0}, {0}, 0};
    char err[PF_ERR_MAX];
    struct cp *k;
    int rc;

    if ((rc = ctl_getopts("check-postfix", argc, argv, &o)) != CTL_OK)
        return rc;
    if (o.npos > 0)
        return ctl_fail(CTL_USAGE, "check-postfix: unexpected argument \"%s\"", o.pos[0]);
    if (!(k = calloc(1, sizeof(*k))))
        return ctl_fail(CTL_ERR, "out of memory");
    if (pf_conf_load(o.value[0], &k->pc, err, sizeof(err)) < 0) {
        free(k);
        return cp_print_failure(c, o.value[0], err);
    }
    k->queue = pf_conf_get(&k->pc, "queue_directory");
    pf_milter_where_pm(c->conf->milter_socket, k->pm, sizeof(k->pm));
    check_services(k);
    check_main(k);
    cp_check_socket(k);
    rc = cp_print(c, k);
    pf_conf_free(&k->pc);
    free(k);
    return rc;
}
