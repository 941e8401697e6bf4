/*
 * learn.c - postmeterctl learn --maillog FILE...: start from what is normal.
 *
 * SYNOPSIS
 *   postmeterctl learn --maillog FILE... [--state FILE] [--checkpoint N] [--dry-run]
 *
 * DESCRIPTION
 *   Reads Postfix's own logs (plain, or compressed FILE.gz), oldest first
 *   (the rotations' numbers, mail.log.4.gz ... mail.log.1, then mail.log,
 *   else the files' times), and seeds the store with the company's history:
 *   each sender's external recipients become its known contacts, with the
 *   day of the last delivery to them, and a sender with enough history
 *   (learning.established_days active days, the last within
 *   warmup.dormant_days) is established: its warm-up ends.
 *
 *   The mail is the company's when the milter would take it as outgoing
 *   (its client authenticated, smtpd's sasl_username; or its client's
 *   address lies in networks; or pickup took it, submitted on this host) or
 *   its envelope sender is in local_domains; its sender is
 *   the one the milter meters (pm_policy_sender: the login, else the
 *   envelope sender, normalised); a recipient counts when it is external
 *   (pm_is_external) and its delivery by smtp or lmtp says status=sent. The
 *   lines are joined by queue id (maillog.c, learn_tab.c).
 *
 *   Every --checkpoint lines (default 100000) and at the end of each file,
 *   what was read is written (learn_store.c) and then the state file
 *   (learn_state.c, default learn.state beside the configuration), so that
 *   a run that is interrupted goes on from there, and a run again reads only
 *   what is new; the store's writes never make a day older, so reading a
 *   line twice changes nothing. --dry-run reads and reports, and writes
 *   nothing (it needs no Redis). Progress goes to standard error: a line
 *   rewritten in place on a terminal, else one line per checkpoint.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "learn.h"
#include "maillog.h"
#include "policy.h"
#include "siphash.h"
#include "zone.h"

#define CHECKPOINT_DEFAULT 100000
#define CHECKPOINT_MIN 1000
#define CHECKPOINT_MAX 100000000

/* A file named on the command line. */
struct learn_arg {
    const char *name;
    long long rotation; /* N of NAME.N or NAME.N.gz; 0 none (the newest) */
    long long mtime;
};

/* Counts of a run. */
struct learn_counts {
    long long files, files_done, files_failed, lines, broken, messages, deliveries;
    long long unmatched; /* deliveries of a queue id without its from= line */
    long long too_old;   /* deliveries older than contacts.ttl_days */
};

/* One run. */
struct learn_run {
    struct ctl *c;
    int dry, tty;
    long long checkpoint, since_checkpoint;
    long long now, today_utc, today_local;
    struct learn_tab t;
    struct learn_state st;
    struct learn_counts n;
    struct learn_written w;
    struct ml_clock clk;
    long long zone_hour, zone_offset; /* cache: the configured zone's offset, per UTC hour */
    struct timespec shown;            /* when progress was last shown on a terminal */
};

/* The rotation number of a name: N of NAME.N or NAME.N.gz, else 0. */
static long long
rotation_of(const char *name)
{
    size_t n = strlen(name), end;
    long long v = 0, scale = 1;

    if (n > 3 && strcmp(name + n - 3, ".gz") == 0)
        n -= 3;
    end = n;
    while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9' && end - n < 9) {
        v += (name[n - 1] - '0') * scale;
        scale *= 10;
        n--;
    }
    return n < end && n > 0 && name[n - 1] == '.' ? v : 0;
}

/* Oldest first: the higher rotation, then the older file, then by name. */
static int
arg_cmp(const void *a, const void *b)
{
    const struct learn_arg *x = a, *y = b;

    if (x->rotation != y->rotation)
        return x->rotation > y->rotation ? -1 : 1;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The configured zone's offset at t (cached per hour). */
static long long
zone_offset(struct learn_run *r, long long t)
{
    long long h = t >= 0 ? t / 3600 : (t - 3599) / 3600;

    if (h != r->zone_hour) {
        r->zone_hour = h;
        r->zone_offset = pm_zone_offset(h * 3600);
    }
    return r->zone_offset;
}

/* Floor division by a day. */
static long long
day_of(long long t)
{
    return t >= 0 ? t / CTL_DAY : (t - CTL_DAY + 1) / CTL_DAY;
}

/* Copy an address field into out (NUL-terminated); 0, or -1 when too long. */
static int
addr_copy(const char *p, size_t len, char *out, size_t outlen)
{
    if (len + 3 > outlen)
        return -1;
    out[0] = '<';
    memcpy(out + 1, p, len);
    out[len + 1] = '>';
    out[len + 2] = '\0';
    return memchr(p, '\0', len) ? -1 : 0;
}

/* 1 when a client line's address lies in the networks the milter takes as
 * outgoing (the configuration's networks). */
static int
client_in_networks(const struct pm_conf *conf, const struct ml_event *ev)
{
    char addr[64];
    size_t i;

    if (!ev->addr || ev->addr_len == 0 || ev->addr_len >= sizeof(addr))
        return 0;
    memcpy(addr, ev->addr, ev->addr_len);
    addr[ev->addr_len] = '\0';
    for (i = 0; i < conf->n_networks; i++)
        if (pm_cidr_match(&conf->networks[i], addr))
            return 1;
    return 0;
}

/* qmgr's from=: who sent the message, when it is the company's. */
static void
on_from(struct learn_run *r, const struct ml_event *ev)
{
    char env[PM_ADDR_MAX + 3], sender[PM_ADDR_MAX], domain[PM_ADDR_MAX];
    struct learn_queue *q = learn_queue(&r->t, ev->qid, 1);
    int rc, company;

    if (!q)
        return;
    q->from_seen = 1;
    q->sender = NULL;
    if (addr_copy(ev->addr, ev->addr_len, env, sizeof(env)) < 0) {
        r->n.broken++;
        return;
    }
    rc = pm_policy_sender(r->c->conf, q->login, env, sender, domain);
    if (rc < 0)
        r->n.broken++;
    if (rc != 0)
        return; /* the null sender, or an address that cannot be read */
    company = (q->login && *q->login) || q->outgoing ||
              (strchr(sender, '@') && !pm_is_external(r->c->conf, sender));
    if (company)
        q->sender = learn_sender(&r->t, sender, domain);
}

/* A delivery: a contact of its sender, and an active day. */
static int
on_to(struct learn_run *r, const struct ml_event *ev)
{
    const struct pm_conf *conf = r->c->conf;
    char env[PM_ADDR_MAX + 3], rcpt[PM_ADDR_MAX], hash[17];
    struct learn_queue *q;
    struct learn_sender *s;
    long long t, day, lday;

    if (!ev->sent)
        return CTL_OK;
    if (!(q = learn_queue(&r->t, ev->qid, 0)) || !q->from_seen) {
        r->n.unmatched++;
        return CTL_OK;
    }
    if (!(s = q->sender))
        return CTL_OK; /* not the company's mail */
    if (addr_copy(ev->addr, ev->addr_len, env, sizeof(env)) < 0 ||
        pm_addr_normalise(env, rcpt, sizeof(rcpt)) != 0 || (t = ml_time(&r->clk, ev)) < 0) {
        r->n.broken++;
        return CTL_OK;
    }
    if (!strchr(rcpt, '@') || !pm_is_external(conf, rcpt))
        return CTL_OK; /* a colleague: never a first contact */
    day = day_of(t);
    lday = day_of(t + zone_offset(r, t));
    if (day > r->today_utc)
        day = r->today_utc; /* a clock ahead: at most today */
    if (lday > r->today_local)
        lday = r->today_local;
    r->n.deliveries++;
    if (!q->counted) {
        q->counted = 1;
        r->n.messages++;
    }
    s->active = 1;
    learn_sender_day(s, lday);
    if (r->today_utc - day >= conf->contacts_ttl_days) {
        r->n.too_old++;
        return CTL_OK;
    }
    pm_siphash_hex(conf->contacts_key, rcpt, strlen(rcpt), hash);
    if (learn_contact(&r->t, s, hash, day) < 0)
        return ctl_fail(CTL_ERR, "out of memory");
    if ((long long)s->pending.n >= conf->contacts_max)
        return learn_flush_sender(r->c, &r->t, s, r->dry, &r->w);
    return CTL_OK;
}

/* One line. */
static int
on_line(struct learn_run *r, const char *line, size_t len)
{
    struct ml_event ev;
    struct learn_queue *q;

    switch (ml_parse(line, len, &ev)) {
    case -1:
        r->n.broken++;
        break;
    case ML_CLIENT:
        if (!(q = learn_queue(&r->t, ev.qid, 1)))
            break;
        q->outgoing = client_in_networks(r->c->conf, &ev);
        if (ev.login && ev.login_len < PM_ADDR_MAX && !memchr(ev.login, '\0', ev.login_len)) {
            free(q->login);
            q->login = strndup(ev.login, ev.login_len);
        }
        break;
    case ML_LOCAL:
        if ((q = learn_queue(&r->t, ev.qid, 1)) != NULL)
            q->outgoing = 1; /* sendmail, postdrop: outgoing, as the milter takes it */
        break;
    case ML_FROM:
        on_from(r, &ev);
        break;
    case ML_TO:
        return on_to(r, &ev);
    case ML_REMOVED:
        learn_queue_done(&r->t, ev.qid);
        break;
    }
    return CTL_OK;
}

/* Show progress: in place on a terminal (at most 4 times a second), else a
 * line (at checkpoints: force). */
static void
progress(struct learn_run *r, const char *name, int force)
{
    struct timespec now;

    if (r->c->json && !r->tty)
        return;
    if (r->tty) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!force &&
            (now.tv_sec - r->shown.tv_sec) * 1000 + (now.tv_nsec - r->shown.tv_nsec) / 1000000 <
                250)
            return;
        r->shown = now;
        fprintf(stderr, "\r%s: %lld lines, %lld messages  ", name, r->n.lines, r->n.messages);
    } else if (force) {
        fprintf(stderr, "postmeterctl learn: %s: %lld lines, %lld messages\n", name, r->n.lines,
                r->n.messages);
    }
}

/* Write what was read and then where reading got to (d: the current file). */
static int
checkpoint(struct learn_run *r, struct learn_done *d, const struct learn_file *f)
{
    int rc;

    r->since_checkpoint = 0;
    if (r->dry)
        return CTL_OK;
    if ((rc = learn_flush(r->c, &r->t, r->today_local, 0, &r->w)) != CTL_OK)
        return rc;
    if (d)
        d->off = f->off;
    if ((rc = learn_state_save(&r->st, &r->t)) != CTL_OK)
        return rc;
    progress(r, f->name, 1);
    return CTL_OK;
}

/* Read the lines of an open file from where its state says. */
static int
read_lines(struct learn_run *r, struct learn_file *f, struct learn_done *d)
{
    const char *line;
    size_t len;
    int got, toolong, rc;

    while ((got = learn_line(f, &line, &len, &toolong)) == 1) {
        r->n.lines++;
        if (toolong)
            r->n.broken++;
        else if ((rc = on_line(r, line, len)) != CTL_OK)
            return rc;
        if (++r->since_checkpoint >= r->checkpoint ||
            (r->t.pending >= LEARN_PENDING_MAX && !r->dry)) {
            if ((rc = checkpoint(r, d, f)) != CTL_OK)
                return rc;
        } else if (r->dry && r->t.pending >= LEARN_PENDING_MAX) {
            if ((rc = learn_flush(r->c, &r->t, r->today_local, 1, &r->w)) != CTL_OK)
                return rc;
        }
        if (r->tty && (r->n.lines & 4095) == 0)
            progress(r, f->name, 0);
    }
    if (got < 0)
        return ctl_fail(CTL_ERR, "%s: %s", f->name, strerror(f->err));
    return CTL_OK;
}

/* Read one file from where its state says; CTL_OK, or CTL_ERR when the run
 * must stop (a store error); a file that cannot be read is counted. */
static int
learn_one(struct learn_run *r, const struct learn_arg *a)
{
    struct learn_file f;
    struct learn_done *d;
    const char *line;
    char err[512], id[24];
    size_t len;
    int got, toolong, rc, gz;

    if (learn_open(&f, a->name, err, sizeof(err)) < 0) {
        r->n.files_failed++;
        return ctl_fail(CTL_OK, "%s", err);
    }
    r->n.files++;
    gz = f.gzip > 0;
    ml_clock_file(&r->clk, f.mtime);
    got = learn_line(&f, &line, &len, &toolong);
    if (got <= 0 || toolong) {
        if (got < 0 || toolong)
            r->n.files_failed++;
        learn_close(&f, 0, err, sizeof(err));
        if (got < 0 || toolong)
            ctl_fail(CTL_OK, "%s: %s", a->name, got < 0 ? strerror(f.err) : "not a log file");
        return CTL_OK; /* empty, or no whole line yet */
    }
    learn_file_id(line, len, id);
    if ((d = learn_state_file(&r->st, id, 0)) != NULL) {
        if (d->whole || (f.regular && f.size <= d->off)) {
            r->n.files_done++;
            learn_close(&f, 0, err, sizeof(err));
            return CTL_OK; /* read before, and nothing new */
        }
        if (learn_skip(&f, d->off) < 0) {
            r->n.files_failed++;
            learn_close(&f, 0, err, sizeof(err));
            return ctl_fail(CTL_OK, "%s: shorter than when it was read (%lld bytes): left out",
                            a->name, d->off);
        }
    } else {
        if (!(d = learn_state_file(&r->st, id, 1))) {
            learn_close(&f, 0, err, sizeof(err));
            return ctl_fail(CTL_ERR, "too many files in %s", r->st.path ? r->st.path : "the run");
        }
        r->n.lines++;
        r->since_checkpoint++;
        if ((rc = on_line(r, line, len)) != CTL_OK) {
            learn_close(&f, 0, err, sizeof(err));
            return rc;
        }
    }
    snprintf(d->name, sizeof(d->name), "%s", a->name);
    rc = read_lines(r, &f, d);
    if (learn_close(&f, rc == CTL_OK, err, sizeof(err)) < 0) {
        r->n.files_failed++;
        ctl_fail(CTL_OK, "%s", err);
        gz = 0; /* not whole: read again next time */
    }
    if (rc != CTL_OK)
        return rc;
    d->whole = gz;
    return checkpoint(r, d, &f);
}

/* The count of senders that sent in this run. */
static void
count_active(void *arg, struct lmap_ent *e)
{
    if (((struct learn_sender *)e->val)->active)
        ++*(long long *)arg;
}

/* Print the summary. */
static void
summary(struct learn_run *r)
{
    const struct learn_counts *n = &r->n;
    const struct learn_written *w = &r->w;
    long long senders = 0;

    lmap_each(&r->t.senders, count_active, &senders);
    if (r->tty)
        fputc('\n', stderr); /* after the progress line */
    if (r->c->json) {
        printf("{\"dry_run\":%s,\"files\":%lld,\"files_done_before\":%lld,\"files_failed\":%lld,"
               "\"lines\":%lld,\"broken_lines\":%lld,\"messages\":%lld,\"senders\":%lld,"
               "\"deliveries\":%lld,\"unmatched_deliveries\":%lld,\"too_old\":%lld,"
               "\"contacts_new\":%lld,\"contacts_newer\":%lld,\"contacts_unchanged\":%lld,"
               "\"established\":%lld,\"warmups_ended\":%lld,\"senders_left_out\":%lld,"
               "\"queue_ids_forgotten\":%lld}\n",
               r->dry ? "true" : "false", n->files, n->files_done, n->files_failed, n->lines,
               n->broken, n->messages, senders, n->deliveries, n->unmatched, n->too_old, w->added,
               w->newer, w->old, w->established, w->ended, r->t.senders_dropped,
               r->t.queue_dropped);
        return;
    }
    if (r->dry)
        printf("dry run: nothing was written\n");
    printf("files: %lld (%lld with nothing new since the last run, %lld failed); lines read: %lld "
           "(%lld broken)\n",
           n->files, n->files_done, n->files_failed, n->lines, n->broken);
    printf("messages: %lld from %lld sender%s of the company; deliveries to external recipients: "
           "%lld (%lld without their sender's line, %lld older than contacts.ttl_days)\n",
           n->messages, senders, out_s(senders), n->deliveries, n->unmatched, n->too_old);
    if (r->dry)
        printf("contacts: %lld found\nestablished senders: %lld\n", w->added, w->established);
    else
        printf("contacts: %lld new, %lld with a later day, %lld unchanged\n"
               "established senders: %lld (warm-up ended for %lld)\n",
               w->added, w->newer, w->old, w->established, w->ended);
    if (r->t.senders_dropped || r->t.queue_dropped)
        printf("left out: %lld sender%s past %d, %lld queue id%s past %d in flight\n",
               r->t.senders_dropped, out_s(r->t.senders_dropped), LEARN_SENDERS_MAX,
               r->t.queue_dropped, out_s(r->t.queue_dropped), LEARN_QUEUE_MAX);
}

/* Parse the command's arguments into r and files; CTL_OK or CTL_USAGE. */
static int
learn_args(struct learn_run *r, int argc, char **argv, struct learn_arg *files, size_t *nfiles,
           const char **state)
{
    int i, maillog = 0;
    long long v;

    *nfiles = 0;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;

        if (strcmp(a, "--maillog") == 0) {
            maillog = 1;
        } else if (strcmp(a, "--dry-run") == 0) {
            r->dry = 1;
        } else if (strncmp(a, "--state", 7) == 0 || strncmp(a, "--checkpoint", 12) == 0) {
            int is_state = a[2] == 's';
            size_t k = is_state ? 7 : 12;

            if (a[k] == '=')
                val = a + k + 1;
            else if (a[k] == '\0' && i + 1 < argc)
                val = argv[++i];
            else
                return ctl_fail(CTL_USAGE, "learn: option %s needs a value", a);
            if (is_state)
                *state = val;
            else if (ctl_number(val, CHECKPOINT_MAX, &v) < 0 || v < CHECKPOINT_MIN)
                return ctl_fail(CTL_USAGE, "learn: bad --checkpoint \"%s\" (%d to %d lines)", val,
                                CHECKPOINT_MIN, CHECKPOINT_MAX);
            else
                r->checkpoint = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return ctl_fail(CTL_USAGE, "learn: unknown option %s", a);
        } else if (!maillog) {
            return ctl_fail(CTL_USAGE, "learn: files come after --maillog");
        } else {
            files[(*nfiles)++].name = a;
        }
    }
    if (*nfiles == 0)
        return ctl_fail(CTL_USAGE, "usage: learn --maillog FILE... [--state FILE] "
                                   "[--checkpoint N] [--dry-run]");
    return CTL_OK;
}

/* The default state: learn.state beside the configuration file. */
static char *
default_state(const char *conf_path)
{
    const char *slash = strrchr(conf_path, '/');
    size_t n = slash ? (size_t)(slash - conf_path) : 1;
    char *p = malloc(n + 16);

    if (p)
        snprintf(p, n + 16, "%.*s/learn.state", (int)n, slash ? conf_path : ".");
    return p;
}

/* Take the lock of a state (its path with ".lock"); CTL_OK or CTL_ERR. */
static int
lock_state(const char *path)
{
    size_t n = strlen(path) + 8;
    char *lock = malloc(n);
    int fd;

    if (!lock)
        return ctl_fail(CTL_ERR, "out of memory");
    snprintf(lock, n, "%s.lock", path);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        free(lock);
        if (fd >= 0)
            close(fd);
        return ctl_fail(CTL_ERR, "%s: %s", path,
                        e == EWOULDBLOCK ? "another postmeterctl learn uses this state"
                                         : strerror(e));
    }
    free(lock);
    return CTL_OK; /* held until the process ends */
}

/* Stat the files and sort them oldest first; CTL_OK or CTL_ERR. */
static int
order_files(struct learn_arg *files, size_t n)
{
    struct stat sb;
    size_t i;

    for (i = 0; i < n; i++) {
        if (stat(files[i].name, &sb) != 0)
            return ctl_fail(CTL_ERR, "%s: %s", files[i].name, strerror(errno));
        files[i].mtime = (long long)sb.st_mtime;
        files[i].rotation = rotation_of(files[i].name);
    }
    if (n)
        qsort(files, n, sizeof(*files), arg_cmp);
    return CTL_OK;
}

/* learn --maillog FILE... [--state FILE] [--checkpoint N] [--dry-run] */
int
cmd_learn(struct ctl *c, int argc, char **argv)
{
    struct learn_run *r = calloc(1, sizeof(*r));
    struct learn_arg *files = calloc((size_t)argc + 1, sizeof(*files));
    const char *state = NULL, *tz = getenv("TZ");
    char *tzcopy = tz ? strdup(tz) : NULL;
    size_t nfiles = 0, i;
    int rc;

    if (!r || !files || (tz && !tzcopy)) {
        rc = ctl_fail(CTL_ERR, "out of memory");
        goto out;
    }
    r->c = c;
    r->checkpoint = CHECKPOINT_DEFAULT;
    r->zone_hour = -(1LL << 40); /* no hour yet */
    r->tty = isatty(2);
    r->clk.log_tz = c->system_tz;
    r->clk.tz = tzcopy;
    if ((rc = learn_args(r, argc, argv, files, &nfiles, &state)) != CTL_OK ||
        (rc = order_files(files, nfiles)) != CTL_OK)
        goto out;
    r->st.path = state ? strdup(state) : default_state(c->conf_path);
    learn_state_target(c->conf, r->st.target);
    if (!r->st.path) {
        rc = ctl_fail(CTL_ERR, "out of memory");
        goto out;
    }
    if ((!r->dry && (rc = lock_state(r->st.path)) != CTL_OK) ||
        (rc = learn_state_load(&r->st, &r->t)) != CTL_OK)
        goto out;
    if (r->dry)
        r->now = (long long)time(NULL);
    else if ((rc = ctl_now(c, &r->now)) != CTL_OK)
        goto out;
    r->today_utc = day_of(r->now);
    r->today_local = day_of(r->now + pm_zone_offset(r->now));
    for (i = 0; i < nfiles && rc == CTL_OK; i++)
        rc = learn_one(r, &files[i]);
    if (rc == CTL_OK && r->dry)
        rc = learn_flush(c, &r->t, r->today_local, 1, &r->w);
    if (rc == CTL_OK) {
        summary(r);
        rc = r->n.files_failed ? CTL_ERR : CTL_OK;
    }
out:
    if (r) {
        learn_tab_free(&r->t);
        free(r->st.done);
        free(r->st.path);
    }
    free(r);
    free(files);
    free(tzcopy);
    return rc;
}
