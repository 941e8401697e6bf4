/*
 * learn_state.c - the progress of postmeterctl learn --maillog, kept in a
 * file so that a run that was interrupted goes on where it stopped and a
 * later run reads only what was added since.
 *
 * FORMAT (text, one record a line, fields separated by one space; a field
 * holds no blank: '%', blanks, control bytes and a lone "-" are written as
 * %XX, and "-" stands for none):
 *   postmeterctl-learn 1
 *   target HASH                     the store and contacts secret it is for
 *   file ID OFFSET WHOLE NAME       per log file read
 *   sender ADDRESS DOMAIN ESTABLISHED DAY,DAY,...
 *   queue QID SENDER LOGIN FROM_SEEN COUNTED
 * A file is known by its first line (ID: a hash of it and its length), not
 * by its name or inode, so mail.log read up to OFFSET and rotated to
 * mail.log.1, then compressed to mail.log.2.gz, is still the same file and
 * is read on from OFFSET (bytes of its uncompressed text, through the last
 * line whose contacts were written). WHOLE: a compressed file read to its
 * end (it will not grow). The senders keep their active days (for the
 * established rule over several runs) and whether they were handled; the
 * messages in flight keep a delivery logged after the offset tied to its
 * sender. The file is written whole to FILE.tmp and renamed over FILE, only
 * after everything before its offsets was written to the store.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn.h"
#include "siphash.h"

#define STATE_MAGIC "postmeterctl-learn 1"
#define STATE_LINE_MAX 4096

/* The identity of a file from its first line. */
void
learn_file_id(const char *line, size_t len, char out[24])
{
    static const unsigned char key[16] = "postmeter-learn";
    char hex[17];

    pm_siphash_hex(key, line, len, hex);
    snprintf(out, 24, "%.16s-%zu", hex, len > 99999 ? (size_t)99999 : len);
}

/* The fingerprint of the store and contacts secret a state belongs to. */
void
learn_state_target(const struct pm_conf *conf, char out[17])
{
    char where[2048];
    size_t i, n;

    n = (size_t)snprintf(
        where, sizeof(where), "%s|%d|%s|%d|%s|%s|", conf->redis_host ? conf->redis_host : "",
        conf->redis_port, conf->redis_socket ? conf->redis_socket : "", conf->redis_db,
        conf->n_sentinels ? conf->sentinel_master : "", conf->key_prefix ? conf->key_prefix : "");
    for (i = 0; i < conf->n_sentinels && n < sizeof(where); i++)
        n += (size_t)snprintf(where + n, sizeof(where) - n, "%s,", conf->sentinels[i]);
    pm_siphash_hex(conf->contacts_key, where, strlen(where), out);
}

/* Write a field, escaped (NULL or "": "-"). */
static void
put_field(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (!s || !*s) {
        fputc('-', f);
        return;
    }
    if (strcmp(s, "-") == 0) {
        fputs("%2D", f);
        return;
    }
    for (; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '%')
            fprintf(f, "%%%02X", *p);
        else
            fputc(*p, f);
}

/* Undo put_field in place ("-": ""); 0, or -1 when malformed. */
static int
get_field(char *s)
{
    char *o = s, hex[3] = {0};
    unsigned long v;

    if (strcmp(s, "-") == 0) {
        *s = '\0';
        return 0;
    }
    for (; *s; s++) {
        if (*s != '%') {
            *o++ = *s;
            continue;
        }
        if (!s[1] || !s[2])
            return -1;
        hex[0] = s[1];
        hex[1] = s[2];
        v = strtoul(hex, NULL, 16);
        if (v == 0 || strspn(hex, "0123456789ABCDEFabcdef") != 2)
            return -1;
        *o++ = (char)v;
        s += 2;
    }
    *o = '\0';
    return 0;
}

/* The progress of file id. */
struct learn_done *
learn_state_file(struct learn_state *st, const char *id, int make)
{
    struct learn_done *d;
    size_t i;

    for (i = 0; i < st->n_done; i++)
        if (strcmp(st->done[i].id, id) == 0)
            return &st->done[i];
    if (!make || st->n_done >= LEARN_FILES_MAX)
        return NULL;
    if (!(d = realloc(st->done, (st->n_done + 1) * sizeof(*d))))
        return NULL;
    st->done = d;
    d = &st->done[st->n_done++];
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", id);
    return d;
}

/* Split a line into at most max fields; their number. */
static int
split(char *line, char **field, int max)
{
    int n = 0;
    char *save = NULL, *tok;

    for (tok = strtok_r(line, " \n", &save); tok && n < max; tok = strtok_r(NULL, " \n", &save))
        field[n++] = tok;
    return tok ? max + 1 : n;
}

/* A number field within [0, max]; 0 or -1. */
static int
num_field(const char *s, long long max, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno || *end || *out < 0 || *out > max ? -1 : 0;
}

/* One "sender" record; 0 or -1. */
static int
load_sender(struct learn_tab *t, char **f)
{
    struct learn_sender *s;
    long long est, day;
    char *save = NULL, *tok;

    if (get_field(f[1]) < 0 || get_field(f[2]) < 0 || !*f[1] || num_field(f[3], 1, &est) < 0 ||
        !(s = learn_sender(t, f[1], f[2])))
        return -1;
    s->established = (int)est;
    if (strcmp(f[4], "-") == 0)
        return 0;
    for (tok = strtok_r(f[4], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (num_field(tok, 10000000, &day) < 0)
            return -1;
        learn_sender_day(s, day);
    }
    return 0;
}

/* One "queue" record; 0 or -1. */
static int
load_queue(struct learn_tab *t, char **f, int n)
{
    struct learn_queue *q;
    struct lmap_ent *e;
    long long from, counted, outgoing = 0;

    if (strlen(f[1]) > 31 || get_field(f[2]) < 0 || get_field(f[3]) < 0 ||
        num_field(f[4], 1, &from) < 0 || num_field(f[5], 1, &counted) < 0 ||
        (n == 7 && num_field(f[6], 1, &outgoing) < 0) || !(q = learn_queue(t, f[1], 1)))
        return -1;
    q->outgoing = (int)outgoing;
    if (*f[2]) {
        if (!(e = lmap_get(&t->senders, f[2], strlen(f[2]))))
            return -1;
        q->sender = e->val;
    }
    if (*f[3] && !(q->login = strdup(f[3])))
        return -1;
    q->from_seen = (int)from;
    q->counted = (int)counted;
    return 0;
}

/* One record of a state file; 0 or -1. */
static int
load_record(struct learn_state *st, struct learn_tab *t, char *line, int first)
{
    char *f[8], target[17];
    struct learn_done *d;
    long long v;
    int n;

    if (first)
        return strcmp(line, STATE_MAGIC "\n") == 0 ? 0 : -1;
    n = split(line, f, 7);
    if (n == 2 && strcmp(f[0], "target") == 0) {
        snprintf(target, sizeof(target), "%s", f[1]);
        return strcmp(target, st->target) == 0 ? 0 : -2;
    }
    if (n == 5 && strcmp(f[0], "file") == 0) {
        if (strlen(f[1]) >= sizeof(d->id) || !(d = learn_state_file(st, f[1], 1)) ||
            num_field(f[2], (long long)1 << 60, &d->off) < 0 || num_field(f[3], 1, &v) < 0 ||
            get_field(f[4]) < 0)
            return -1;
        d->whole = (int)v;
        snprintf(d->name, sizeof(d->name), "%s", f[4]);
        return 0;
    }
    if (n == 5 && strcmp(f[0], "sender") == 0)
        return load_sender(t, f);
    if ((n == 6 || n == 7) && strcmp(f[0], "queue") == 0) /* 6: before "outgoing" */
        return load_queue(t, f, n);
    return -1;
}

/* Load a state (absent: empty). */
int
learn_state_load(struct learn_state *st, struct learn_tab *t)
{
    char line[STATE_LINE_MAX];
    int lineno = 0, rc = 0;
    FILE *f;

    if (!st->path || !(f = fopen(st->path, "r"))) {
        if (st->path && errno != ENOENT)
            return ctl_fail(CTL_ERR, "cannot read %s: %s", st->path, strerror(errno));
        return CTL_OK;
    }
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        if (!strchr(line, '\n'))
            rc = -1;
        else
            rc = load_record(st, t, line, lineno == 0);
        lineno++;
    }
    fclose(f);
    if (rc == -2)
        return ctl_fail(CTL_ERR,
                        "%s was written for another Redis, key prefix or contacts secret: give "
                        "another --state, or delete it to learn again",
                        st->path);
    if (rc < 0 || lineno == 0)
        return ctl_fail(CTL_ERR,
                        "%s:%d: not a state of postmeterctl learn; delete it to learn again",
                        st->path, lineno ? lineno : 1);
    return CTL_OK;
}

/* Write one sender record. */
static void
save_sender(void *arg, struct lmap_ent *e)
{
    struct learn_sender *s = e->val;
    FILE *f = arg;
    int i;

    fputs("sender ", f);
    put_field(f, s->addr);
    fputc(' ', f);
    put_field(f, s->domain);
    fprintf(f, " %d ", s->established ? 1 : 0);
    if (!s->ndays)
        fputc('-', f);
    for (i = 0; i < s->ndays; i++)
        fprintf(f, "%s%lld", i ? "," : "", s->days[i]);
    fputc('\n', f);
}

/* Write one message in flight. */
static void
save_queue(void *arg, struct lmap_ent *e)
{
    struct learn_queue *q = e->val;
    FILE *f = arg;

    fprintf(f, "queue %s ", e->key);
    put_field(f, q->sender ? q->sender->addr : NULL);
    fputc(' ', f);
    put_field(f, q->login);
    fprintf(f, " %d %d %d\n", q->from_seen ? 1 : 0, q->counted ? 1 : 0, q->outgoing ? 1 : 0);
}

/* Write the state atomically. */
int
learn_state_save(const struct learn_state *st, const struct learn_tab *t)
{
    size_t n = strlen(st->path) + 8, i;
    char *tmp = malloc(n);
    FILE *f = NULL;
    int fd = -1, ok;

    if (!tmp)
        return ctl_fail(CTL_ERR, "out of memory");
    snprintf(tmp, n, "%s.tmp", st->path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        !(f = fdopen(fd, "w"))) {
        ctl_fail(CTL_ERR, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(tmp);
        return CTL_ERR;
    }
    fprintf(f, "%s\ntarget %s\n", STATE_MAGIC, st->target);
    for (i = 0; i < st->n_done; i++) {
        fprintf(f, "file %s %lld %d ", st->done[i].id, st->done[i].off, st->done[i].whole);
        put_field(f, st->done[i].name);
        fputc('\n', f);
    }
    lmap_each(&t->senders, save_sender, f);
    lmap_each(&t->queue, save_queue, f);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, st->path) != 0) {
        ctl_fail(CTL_ERR, "cannot write %s: %s", st->path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return CTL_ERR;
    }
    free(tmp);
    return CTL_OK;
}
