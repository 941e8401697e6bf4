/*
 * incident.c - postmeterctl incident list|show|open|release: senders whose
 * outgoing mail postmeter stopped (incident.h).
 *
 * An incident lives in the store, so every server sees it at once: opened
 * by the meter script when a signal trips, or here by hand ("open": a
 * stolen password reported by phone), and ended here ("release") on every
 * server. The mail it held lives in each server's own hold queue: release
 * --requeue delivers this server's held messages of the sender, --drop
 * deletes them (incident_queue.c, through Postfix's postqueue and
 * postsuper), and the administrator runs the same command on each server.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "incident_queue.h"

#define HOURS_MAX 8760 /* open --hours: a year at most */
#define NOTE_MAX 200   /* open --note: characters */

/* The incidents gathered from the store. */
struct inc_list {
    struct pm_incident *v;
    size_t n, cap;
};

/* Gather one incident (pm_store_incident_list callback); 0 to go on. */
static int
gather(void *arg, const struct pm_incident *inc)
{
    struct inc_list *l = arg;
    struct pm_incident *grown;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        if (!(grown = realloc(l->v, l->cap * sizeof(*l->v))))
            return 1;
        l->v = grown;
    }
    l->v[l->n++] = *inc;
    return 0;
}

/* Print an incident as a JSON object. */
static void
inc_json(const struct pm_incident *inc)
{
    const char *p = inc->ids, *end;
    char id[sizeof(inc->ids)];
    int first = 1;

    fputs("{\"sender\":", stdout);
    out_json_str(stdout, inc->sender);
    printf(",\"at\":%lld,\"signal\":", inc->at);
    out_json_str(stdout, inc->signal);
    fputs(",\"figures\":", stdout);
    out_json_str(stdout, inc->figures);
    fputs(",\"by\":", stdout);
    out_json_str(stdout, inc->by);
    fputs(",\"note\":", stdout);
    out_json_str(stdout, inc->note);
    printf(",\"until\":%lld,\"held\":%lld,\"ids\":[", inc->until, inc->held);
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        end = strchr(p, ' ');
        if (!end)
            end = p + strlen(p);
        snprintf(id, sizeof(id), "%.*s", (int)(end - p), p);
        fputs(first ? "" : ",", stdout);
        out_json_str(stdout, id);
        first = 0;
        p = end;
    }
    fputs("]}", stdout);
}

/* "2026-12-06 05:50 UTC" for store time t. */
static const char *
when(long long t, char *buf, size_t len)
{
    out_time(buf, len, t);
    return buf;
}

/* Print an incident as indented lines of text after a heading line. */
static void
inc_text(const struct pm_incident *inc, const char *heading)
{
    char at[64], until[64];

    printf("%s%s%s: in incident since %s\n", heading, *heading ? " " : "", inc->sender,
           when(inc->at, at, sizeof(at)));
    printf("  signal:  %s (opened by %s)\n", inc->signal, inc->by);
    if (inc->figures[0])
        printf("  figures: %s\n", inc->figures);
    if (inc->note[0])
        printf("  note:    %s\n", inc->note);
    if (inc->until > 0)
        printf("  ends:    %s by itself, or when released\n",
               when(inc->until, until, sizeof(until)));
    else
        printf("  ends:    when released\n");
    printf("  held:    %lld message%s%s%s\n", inc->held, out_s(inc->held),
           inc->ids[0] ? "; first queue ids: " : "", inc->ids);
}

/* Read a sender's incident; CTL_OK or CTL_ERR. */
static int
inc_get(struct ctl *c, const char *sender, struct pm_incident *inc)
{
    struct pm_store *st;
    char err[512];
    long long now;
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_incident_get(st, sender, inc, &now, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    return CTL_OK;
}

/* incident list */
static int
inc_list(struct ctl *c)
{
    struct inc_list l = {NULL, 0, 0};
    struct pm_store *st;
    char err[512], at[64];
    long long now;
    size_t i;
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_incident_list(st, gather, &l, &now, err, sizeof(err))) < 0) {
        free(l.v);
        return ctl_store_fail(rc, err);
    }
    if (c->json) {
        printf("{\"now\":%lld,\"total\":%zu,\"incidents\":[", now, l.n);
        for (i = 0; i < l.n; i++) {
            fputs(i ? "," : "", stdout);
            inc_json(&l.v[i]);
        }
        fputs("]}\n", stdout);
    } else if (!l.n) {
        printf("no sender in incident\n");
    } else {
        printf("%zu sender%s in incident (latest first)\n", l.n, out_s((long long)l.n));
        printf("%-32s %-21s %-20s %6s  %s\n", "SENDER", "SINCE", "SIGNAL", "HELD", "BY");
        for (i = 0; i < l.n; i++)
            printf("%-32s %-21s %-20s %6lld  %s\n", l.v[i].sender, when(l.v[i].at, at, sizeof(at)),
                   l.v[i].signal, l.v[i].held, l.v[i].by);
    }
    free(l.v);
    return CTL_OK;
}

/* incident show SENDER */
static int
inc_show(struct ctl *c, const char *sender)
{
    struct pm_incident inc;
    int rc;

    if ((rc = inc_get(c, sender, &inc)) != CTL_OK)
        return rc;
    if (!inc.open)
        return ctl_fail(CTL_NOTFOUND, "%s is not in incident", sender);
    if (c->json) {
        inc_json(&inc);
        fputs("\n", stdout);
        return CTL_OK;
    }
    inc_text(&inc, "");
    printf("  review:  postqueue -p (the hold queue: lines with '!'), postcat -q ID, on each mail "
           "server\n");
    printf("  release: postmeterctl incident release %s --requeue   (the mail was legitimate)\n",
           sender);
    printf("           postmeterctl incident release %s --drop      (it was spam)\n", sender);
    return CTL_OK;
}

/* incident open SENDER [--note TEXT] [--hours N] [--force] */
static int
inc_open(struct ctl *c, const char *sender, const char *note, const char *hours, int force)
{
    struct pm_incident_open o = {NULL, note ? note : "", 0, force};
    struct pm_incident inc;
    struct pm_store *st;
    char by[128], err[512], at[64];
    long long h = 0;
    const char *p;
    int rc, opened;

    if (hours && (ctl_number(hours, HOURS_MAX, &h) < 0 || h < 1))
        return ctl_fail(CTL_USAGE, "incident open: bad number of hours \"%s\" (1 to %d)", hours,
                        HOURS_MAX);
    for (p = o.note; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            return ctl_fail(CTL_USAGE, "incident open: the note holds a control character");
    if (strlen(o.note) > NOTE_MAX)
        return ctl_fail(CTL_USAGE, "incident open: the note is longer than %d characters",
                        NOTE_MAX);
    snprintf(by, sizeof(by), "admin:%s", ctl_who());
    o.by = by;
    o.secs = h * 3600;
    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_incident_open(st, sender, &o, &opened, &inc, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (!opened)
        return ctl_fail(CTL_ERR,
                        "%s is in incident already (since %s, signal %s, by %s): kept; "
                        "add --force to replace it",
                        sender, when(inc.at, at, sizeof(at)), inc.signal, inc.by);
    if (c->json) {
        fputs("{\"opened\":true,\"incident\":", stdout);
        inc_json(&inc);
        fputs("}\n", stdout);
        return CTL_OK;
    }
    inc_text(&inc, "opened:");
    printf("its outgoing mail is stopped on every server until released: postmeterctl "
           "incident release %s\n",
           sender);
    return CTL_OK;
}

/* The held messages of sender that are still on hold among ids, into left;
 * 0 or -1 (err set). */
static int
still_held(const char *dir, const char *sender, const struct iq_ids *ids, size_t *left, char *err,
           size_t errlen)
{
    struct iq_ids now = {NULL, 0, 0};
    size_t i;

    if (iq_held(dir, sender, ids, &now, err, errlen) < 0) {
        iq_free(&now);
        return -1;
    }
    for (*left = 0, i = 0; i < ids->n; i++)
        *left += iq_has(&now, ids->id[i]);
    iq_free(&now);
    return 0;
}

/* Requeue (drop 0) or delete (drop 1) this server's held mail of sender:
 * its envelope sender's, and the queue ids the incident was recorded
 * (recorded, from was: a stolen login may send with another MAIL FROM);
 * ids: those found. CTL_OK or CTL_ERR. */
static int
inc_queue(const char *dir, const char *sender, const char *recorded, int drop, struct iq_ids *ids)
{
    struct iq_ids also = {NULL, 0, 0};
    char err[512];
    size_t left;
    int rc;

    if (iq_split(recorded, &also) < 0) {
        iq_free(&also);
        return ctl_fail(CTL_ERR, "out of memory");
    }
    rc = iq_held(dir, sender, &also, ids, err, sizeof(err));
    iq_free(&also);
    if (rc < 0)
        return ctl_fail(CTL_ERR, "cannot list the held mail of %s: %s", sender, err);
    if (!ids->n)
        return CTL_OK;
    if ((drop ? iq_drop(dir, ids, err, sizeof(err)) : iq_requeue(dir, ids, err, sizeof(err))) < 0)
        return ctl_fail(CTL_ERR, "cannot %s the held mail of %s: %s", drop ? "delete" : "requeue",
                        sender, err);
    if (still_held(dir, sender, ids, &left, err, sizeof(err)) < 0)
        return ctl_fail(CTL_ERR, "cannot list the held mail of %s: %s", sender, err);
    if (left)
        return ctl_fail(CTL_ERR, "%zu of the %zu held messages of %s are still on hold", left,
                        ids->n, sender);
    return CTL_OK;
}

/* Print what release did. */
static void
release_report(const struct ctl *c, const char *sender, const struct pm_incident *was,
               const char *action, const struct iq_ids *ids)
{
    size_t i;

    if (c->json) {
        printf("{\"sender\":");
        out_json_str(stdout, sender);
        printf(",\"released\":%s,\"incident\":", was->open ? "true" : "false");
        if (was->open)
            inc_json(was);
        else
            fputs("null", stdout);
        fputs(",\"queue\":", stdout);
        if (action) {
            printf("{\"action\":\"%s\",\"messages\":%zu,\"ids\":[", action, ids->n);
            for (i = 0; i < ids->n; i++) {
                fputs(i ? "," : "", stdout);
                out_json_str(stdout, ids->id[i]);
            }
            fputs("]}", stdout);
        } else {
            fputs("null", stdout);
        }
        fputs("}\n", stdout);
        return;
    }
    if (was->open) {
        inc_text(was, "released:");
        printf("its outgoing mail goes out again on every server\n");
    } else {
        printf("%s was not in incident (released already?)\n", sender);
    }
    if (!action) {
        printf("held mail stays on hold: review it on each mail server (postqueue -p, postcat -q "
               "ID), then run there: postmeterctl incident release %s --requeue (or --drop)\n",
               sender);
        return;
    }
    if (!ids->n)
        printf("no held message of %s on this server\n", sender);
    else {
        printf("%s %zu held message%s of %s on this server:", action, ids->n,
               out_s((long long)ids->n), sender);
        for (i = 0; i < ids->n; i++)
            printf(" %s", ids->id[i]);
        printf("\n");
    }
    printf("held mail lives on each mail server: run the same command on each of them\n");
}

/* incident release SENDER [--requeue | --drop] [--config-dir DIR] */
static int
inc_release(struct ctl *c, const char *sender, int requeue, int drop, const char *dir)
{
    struct iq_ids ids = {NULL, 0, 0};
    struct pm_incident was;
    struct pm_store *st;
    char err[512];
    int rc;

    if ((rc = ctl_store(c, &st)) != CTL_OK)
        return rc;
    if ((rc = pm_store_incident_release(st, sender, &was, err, sizeof(err))) < 0)
        return ctl_store_fail(rc, err);
    if (!was.open && !requeue && !drop)
        return ctl_fail(CTL_NOTFOUND, "%s is not in incident", sender);
    if ((requeue || drop) &&
        (rc = inc_queue(dir, sender, was.open ? was.ids : "", drop, &ids)) != CTL_OK) {
        iq_free(&ids);
        return ctl_fail(rc, "%s: %s; run the command again once Postfix answers", sender,
                        was.open ? "its incident was released on every server"
                                 : "it was not in incident");
    }
    release_report(c, sender, &was, requeue ? "requeued" : drop ? "deleted" : NULL, &ids);
    iq_free(&ids);
    return CTL_OK;
}

/* Take the flags (options without a value) out of argv; how many are left. */
static int
take_flags(int argc, char **argv, int *requeue, int *drop, int *force)
{
    int i, n = 0;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--requeue") == 0)
            *requeue = 1;
        else if (strcmp(argv[i], "--drop") == 0)
            *drop = 1;
        else if (strcmp(argv[i], "--force") == 0)
            *force = 1;
        else
            argv[n++] = argv[i];
    }
    return n;
}

/* incident list | show SENDER | open SENDER [...] | release SENDER [...] */
int
cmd_incident(struct ctl *c, int argc, char **argv)
{
    static const char *const names[] = {"--note", "--hours", "--config-dir", NULL};
    static const char usage[] =
        "usage: incident list | incident show SENDER | incident open SENDER [--note TEXT] "
        "[--hours N] [--force] | incident release SENDER [--requeue | --drop] [--config-dir DIR]";
    struct ctl_opts o = {names, {0}, {0}, 0};
    const char *sub = argc > 0 ? argv[0] : "";
    int list = strcmp(sub, "list") == 0, show = strcmp(sub, "show") == 0;
    int open = strcmp(sub, "open") == 0, release = strcmp(sub, "release") == 0;
    int requeue = 0, drop = 0, force = 0, n, rc;
    char sender[PM_ADDR_MAX];

    if (!list && !show && !open && !release)
        return ctl_fail(CTL_USAGE, "%s", usage);
    n = take_flags(argc - 1, argv + 1, &requeue, &drop, &force);
    if ((rc = ctl_getopts("incident", n, argv + 1, &o)) != CTL_OK)
        return rc;
    if (o.npos != (list ? 0 : 1) || (!open && (o.value[0] || o.value[1] || force)) ||
        (!release && (requeue || drop || o.value[2])) || (requeue && drop))
        return ctl_fail(CTL_USAGE, "%s", usage);
    if (list)
        return inc_list(c);
    if ((rc = ctl_sender(o.pos[0], sender, sizeof(sender))) != CTL_OK)
        return rc;
    if (show)
        return inc_show(c, sender);
    if (open)
        return inc_open(c, sender, o.value[0], o.value[1], force);
    return inc_release(c, sender, requeue, drop, o.value[2]);
}
