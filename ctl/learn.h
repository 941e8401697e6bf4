/*
 * learn.h - postmeterctl learn --maillog: what its files share.
 *
 * learn.c runs the command (files in order, checkpoints, progress, summary);
 * learn_read.c reads a log file, plain or through gzip -dc, line by line with
 * byte offsets; learn_tab.c keeps the tables (senders with their active days
 * and pending contacts, messages in flight by queue id); learn_state.c
 * saves and loads the progress that makes a run resumable; learn_store.c
 * writes what was learned through the store (contacts, warm-up ends).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_LEARN_H
#define PM_LEARN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl.h"

#define LEARN_LINE_MAX 16384      /* a longer line is broken */
#define LEARN_DAYS_KEPT 64        /* active days kept per sender (established_days <= 60) */
#define LEARN_SENDERS_MAX 100000  /* senders kept; more are counted and left out */
#define LEARN_QUEUE_MAX 200000    /* messages in flight kept; the older half goes past it */
#define LEARN_PENDING_MAX 1000000 /* contacts held before they are written */
#define LEARN_FILES_MAX 10000     /* files remembered in the state */

/* --- learn_tab.c: a map of strings ------------------------------------------ */

struct lmap_ent {
    struct lmap_ent *next;
    uint64_t hash;
    void *val;     /* the owner's */
    long long num; /* the owner's */
    size_t len;
    char key[]; /* len bytes and a NUL */
};

struct lmap {
    struct lmap_ent **b;
    size_t nb, n;
};

/* The entry of key (len bytes), or NULL. */
struct lmap_ent *lmap_get(const struct lmap *m, const char *key, size_t len);

/* The entry of key, made (val NULL, num 0, *made 1) when absent; NULL out of memory. */
struct lmap_ent *lmap_put(struct lmap *m, const char *key, size_t len, int *made);

/* Remove and free an entry of m (its val is the caller's). */
void lmap_del(struct lmap *m, struct lmap_ent *e);

/* Free every entry (each val passed to freeval, when given) and the buckets. */
void lmap_clear(struct lmap *m, void (*freeval)(void *));

/* Call fn for each entry (fn may remove the entry it is given, and no other). */
void lmap_each(const struct lmap *m, void (*fn)(void *arg, struct lmap_ent *e), void *arg);

/* --- learn_tab.c: senders and messages in flight ------------------------- */

/* A sender of the company seen in the logs. */
struct learn_sender {
    char *addr;                      /* the metered identity */
    char *domain;                    /* its company domain ("" none) */
    long long days[LEARN_DAYS_KEPT]; /* distinct local days it sent on, ascending */
    int ndays;                       /* (the newest LEARN_DAYS_KEPT) */
    int established;                 /* handled: warm-up ended, or found over */
    int active;                      /* it sent in this run */
    struct lmap pending;             /* contact hash -> UTC day (num), not yet written */
};

/* A message in flight, by queue id (lmap entry's val). */
struct learn_queue {
    struct learn_sender *sender; /* company mail: its sender; NULL: not, or no from= yet */
    char *login;                 /* smtpd's sasl_username, or NULL */
    int outgoing;  /* the milter would take it as outgoing: a client of networks, or pickup */
    long long seq; /* when it was last touched (for the bound) */
    int from_seen; /* qmgr's from= was read */
    int counted;   /* a delivery of it was counted as a message */
};

/* Everything a run keeps. */
struct learn_tab {
    struct lmap senders; /* address -> struct learn_sender */
    struct lmap queue;   /* queue id -> struct learn_queue */
    size_t pending;      /* contacts held in all senders */
    long long seq;       /* a counter for struct learn_queue.seq */
    long long senders_dropped, queue_dropped;
};

/* The sender of address addr (domain: its company), made when absent;
 * NULL past LEARN_SENDERS_MAX (counted) or out of memory. */
struct learn_sender *learn_sender(struct learn_tab *t, const char *addr, const char *domain);

/* Add a local day to a sender's active days. */
void learn_sender_day(struct learn_sender *s, long long day);

/* Hold a contact (keyed hash, UTC day) of a sender to write; 0 or -1 out of memory. */
int learn_contact(struct learn_tab *t, struct learn_sender *s, const char *hash, long long day);

/* The message in flight of queue id qid, made when make is set; NULL when
 * absent (or out of memory). Past LEARN_QUEUE_MAX the older half goes. */
struct learn_queue *learn_queue(struct learn_tab *t, const char *qid, int make);

/* Forget the message of queue id qid. */
void learn_queue_done(struct learn_tab *t, const char *qid);

/* Free everything. */
void learn_tab_free(struct learn_tab *t);

/* --- learn_read.c: a log file, line by line ------------------------------ */

struct learn_file {
    const char *name;
    int fd;          /* the file, or the pipe from gzip -dc */
    pid_t gzip;      /* gzip -dc's pid, or 0 */
    int regular;     /* a plain regular file (offsets are its own) */
    long long size;  /* a plain regular file's size */
    long long mtime; /* its modification time */
    char *buf;       /* read buffer */
    size_t beg, end; /* unread bytes */
    long long off;   /* the offset of buf[beg] (of the uncompressed text) */
    int eof;         /* nothing more to read */
    int err;         /* a read error (errno) */
};

/* Open a log file (a name ending in .gz: through gzip -dc); 0, or -1 with err. */
int learn_open(struct learn_file *f, const char *name, char *err, size_t errlen);

/* The next whole line (without its newline): 1 with *line, *len (too long:
 * *len 0 and *toolong 1); 0 at the end (an unfinished last line is left);
 * -1 on a read error. */
int learn_line(struct learn_file *f, const char **line, size_t *len, int *toolong);

/* Go on from offset off (past what was read); 0, or -1 when the file ends before. */
int learn_skip(struct learn_file *f, long long off);

/* Close; 0, or -1 when gzip failed on a file read to its end (err says why). */
int learn_close(struct learn_file *f, int read_all, char *err, size_t errlen);

/* --- learn_state.c: where a run got to --------------------------------------- */

/* One file's progress, by its identity (a hash of its first line). */
struct learn_done {
    char id[24];    /* 16 hex digits, '-', the first line's length */
    long long off;  /* bytes of whole lines read and written */
    int whole;      /* read to its end, and it will not grow (compressed) */
    char name[256]; /* the name it had (for people) */
};

struct learn_state {
    char *path;      /* NULL: none kept (--dry-run) */
    char target[17]; /* which store and secret it was written for */
    struct learn_done *done;
    size_t n_done;
};

/* The identity of a file from its first line. */
void learn_file_id(const char *line, size_t len, char out[24]);

/* Load a state (absent: empty) into st and the senders and messages in flight
 * into t; CTL_OK, or CTL_ERR after printing why. */
int learn_state_load(struct learn_state *st, struct learn_tab *t);

/* Write the state atomically; CTL_OK, or CTL_ERR after printing why. */
int learn_state_save(const struct learn_state *st, const struct learn_tab *t);

/* The progress of file id, made when make is set; NULL when absent. */
struct learn_done *learn_state_file(struct learn_state *st, const char *id, int make);

/* The fingerprint of the store and contacts secret a state belongs to. */
void learn_state_target(const struct pm_conf *conf, char out[17]);

/* --- learn_store.c: writing what was learned --------------------------------- */

/* What writing found. */
struct learn_written {
    long long added, newer, old; /* contacts: new, day moved forward, not written */
    long long established;       /* senders found established */
    long long ended;             /* ... whose warm-up this run ended */
};

/* Write every pending contact, then end the warm-up of the senders that are
 * established as of local day today (dry: count only); CTL_OK or CTL_ERR. */
int learn_flush(struct ctl *c, struct learn_tab *t, long long today, int dry,
                struct learn_written *w);

/* Write the pending contacts of one sender (dry: count only); CTL_OK or CTL_ERR. */
int learn_flush_sender(struct ctl *c, struct learn_tab *t, struct learn_sender *s, int dry,
                       struct learn_written *w);

#endif
