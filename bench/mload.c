/*
 * NAME
 *   mload - milter protocol load generator with per-stage latency figures
 *
 * SYNOPSIS
 *   mload -S unix:PATH | inet:PORT@ADDR [-c conns] [-m msgs] [-k per_conn]
 *         [-R rcpts] [-b body_bytes] [-A] [-q rate] [-f sender] [-t timeout_s]
 *         [-W ready_file -H hold_file]
 *
 * DESCRIPTION
 *   Plays the MTA side of milter protocol version 6, as Postfix does, without
 *   libmilter. Each of the conns threads sends msgs messages (macros, MAIL,
 *   rcpts RCPTs, DATA, two headers, end of headers, body, end of message),
 *   opening a fresh milter connection every per_conn messages (default: one
 *   connection for all of them). Steps the milter skipped at negotiation are
 *   not sent; steps it asked not to answer are not awaited. As in Postfix,
 *   commands are queued and written together when a reply is awaited, so a
 *   milter on TCP sees the same segments it would see from Postfix (no
 *   TCP_NODELAY either). -A shapes the body as a MIME message with a base64
 *   attachment instead of plain text. -q paces the whole run at about rate
 *   messages per second (0: as fast as possible).
 *   With -W and -H, every connection stays open after its messages; the last
 *   one to finish creates ready_file, then all wait (at most timeout_s) for
 *   hold_file before closing, so a caller can sample the milter meanwhile.
 *   Without -k, all connections open before the first message is sent, and
 *   the clock for msgs_per_s starts when they have. The protocol itself is
 *   spoken by tests/tools/milterclient.c, in its queued mode.
 *
 *   Prints one summary line (conns, messages, accepted, refused, errors,
 *   seconds, msgs_per_s), then one line per stage: connect (socket connect to
 *   the HELO reply), mail, rcpt, eom (end of message to its final reply) and
 *   message (MAIL to the end-of-message reply), each with its count and its
 *   p50, p99 and max latency in microseconds.
 *
 * DIAGNOSTICS
 *   Exit 0 when no protocol or I/O error occurred, 1 otherwise, 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milterclient.h"

/* The timed stages. */
enum stage { ST_CONNECT, ST_MAIL, ST_RCPT, ST_EOM, ST_MESSAGE, ST_COUNT };

static const char *stage_names[ST_COUNT] = {"connect", "mail", "rcpt", "eom", "message"};

/* A growing list of latencies in microseconds. */
struct lat {
    uint32_t *v;
    size_t n, cap;
};

/* One load thread, its milter connection and its figures. */
struct conn {
    struct mc_conn m;
    long accepted, refused, errors;
    struct lat lat[ST_COUNT];
};

/* How a step ended. */
enum outcome { OUT_CONTINUE, OUT_ACCEPT, OUT_REFUSED, OUT_ERROR };

static const char *opt_socket, *opt_ready, *opt_hold;
static const char *opt_sender = "alice@example.com";
static int opt_conns = 1, opt_msgs = 100, opt_per_conn, opt_rcpts = 1, opt_timeout = 30;
static int opt_attach;
static long opt_body = 2048;
static double opt_rate;

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t go_barrier;
static double t_go;
static int done_count;

/* Seconds on the monotonic clock. */
static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Record one latency (seconds) in a list; memory exhaustion drops the sample. */
static void
lat_add(struct lat *l, double secs)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint32_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (uint32_t)(secs * 1e6 + 0.5);
}

/* mload's view of how a step ended: every refusal is one kind; SKIP is not expected. */
static enum outcome
outcome_of(struct conn *c, enum mc_outcome r, const char *name)
{
    switch (r) {
    case MC_CONTINUE:
        return OUT_CONTINUE;
    case MC_ACCEPT:
        return OUT_ACCEPT;
    case MC_REJECT:
    case MC_TEMPFAIL:
    case MC_DISCARD:
        return OUT_REFUSED;
    case MC_SKIP:
        mc_warn(&c->m, "%s: unexpected reply '%c'", name, SMFIR_SKIP);
        return OUT_ERROR;
    default:
        return OUT_ERROR;
    }
}

/* Send the built command unless skipped; await a reply unless none is due. */
static enum outcome
step(struct conn *c, char cmd, uint32_t skip_flag, uint32_t noreply_flag, const char *name)
{
    return outcome_of(c, mc_step(&c->m, cmd, skip_flag, noreply_flag, name), name);
}

/* Send one header. */
static enum outcome
send_header(struct conn *c, const char *name, const char *value)
{
    return outcome_of(c, mc_header(&c->m, name, value), "header");
}

/* Fill n bytes of body at offset off: plain text lines, or a base64 attachment. */
static void
fill_body(unsigned char *p, size_t n, long off)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i < n; i++) {
        long k = (off + (long)i) % 78;
        if (k == 76)
            p[i] = '\r';
        else if (k == 77)
            p[i] = '\n';
        else
            p[i] = opt_attach ? (unsigned char)b64[(off + (long)i) % 64]
                              : (unsigned char)(k % 13 == 12 ? ' ' : 'a' + k % 26);
    }
}

/* Send the body in chunks (with a MIME frame when -A). */
static enum outcome
send_body(struct conn *c)
{
    static const char head[] = "--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
                               "--b\r\nContent-Type: application/octet-stream\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\n";
    static const char tail[] = "\r\n--b--\r\n";
    enum outcome r = OUT_CONTINUE;
    long left, off = 0;

    if (c->m.pflags & SMFIP_NOBODY)
        return OUT_CONTINUE;
    if (opt_attach) {
        mc_begin(&c->m);
        mc_put(&c->m, head, sizeof(head) - 1);
        if ((r = step(c, SMFIC_BODY, 0, SMFIP_NR_BODY, "body")) != OUT_CONTINUE)
            return r;
    }
    for (left = opt_body; left > 0;) {
        size_t chunk = left > MILTER_CHUNK_SIZE ? MILTER_CHUNK_SIZE : (size_t)left;

        mc_begin(&c->m);
        fill_body(c->m.buf + c->m.len, chunk, off);
        c->m.len += chunk;
        left -= (long)chunk;
        off += (long)chunk;
        if ((r = step(c, SMFIC_BODY, 0, SMFIP_NR_BODY, "body")) != OUT_CONTINUE)
            return r;
    }
    if (opt_attach) {
        mc_begin(&c->m);
        mc_put(&c->m, tail, sizeof(tail) - 1);
        r = step(c, SMFIC_BODY, 0, SMFIP_NR_BODY, "body");
    }
    return r;
}

/* DATA, headers, end of headers, body and end of message. */
static enum outcome
send_content(struct conn *c, const char *qid, int n)
{
    char subject[64];
    enum outcome r;
    double t0;

    if (mc_macros(&c->m, SMFIC_DATA, SMFIP_NODATA, "i", qid, NULL) < 0)
        return OUT_ERROR;
    mc_begin(&c->m);
    if ((r = step(c, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, "data")) != OUT_CONTINUE)
        return r;
    snprintf(subject, sizeof(subject), "mload message %d.%d", c->m.id, n);
    if ((r = send_header(c, "From", opt_sender)) != OUT_CONTINUE ||
        (r = send_header(c, "Subject", subject)) != OUT_CONTINUE ||
        (opt_attach &&
         (r = send_header(c, "Content-Type", "multipart/mixed; boundary=\"b\"")) != OUT_CONTINUE))
        return r;
    mc_begin(&c->m);
    if ((r = step(c, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, "eoh")) != OUT_CONTINUE)
        return r;
    if ((r = send_body(c)) != OUT_CONTINUE)
        return r;
    t0 = now_s();
    if (mc_macros(&c->m, SMFIC_BODYEOB, 0, "i", qid, NULL) < 0)
        return OUT_ERROR;
    mc_begin(&c->m);
    r = step(c, SMFIC_BODYEOB, 0, 0, "eom");
    if (r == OUT_CONTINUE || r == OUT_ACCEPT || r == OUT_REFUSED)
        lat_add(&c->lat[ST_EOM], now_s() - t0);
    return r == OUT_CONTINUE ? OUT_ACCEPT : r;
}

/* Run one message transaction; *early is set when it ended before end of message. */
static enum outcome
do_message(struct conn *c, int n, int *early)
{
    char qid[32], arg[520], raddr[64];
    enum outcome r;
    double t0 = now_s(), t1;
    int i, ok = 0;

    *early = 1;
    snprintf(qid, sizeof(qid), "%05X%03X%05X", (unsigned)getpid() & 0xFFFFF,
             (unsigned)c->m.id & 0xFFF, (unsigned)n & 0xFFFFF);
    snprintf(arg, sizeof(arg), "<%s>", opt_sender);
    if (mc_macros(&c->m, SMFIC_MAIL, SMFIP_NOMAIL, "i", qid, "{mail_addr}", opt_sender, NULL) < 0)
        return OUT_ERROR;
    mc_begin(&c->m);
    mc_str(&c->m, arg);
    if ((r = step(c, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, "mail")) != OUT_CONTINUE)
        return r;
    lat_add(&c->lat[ST_MAIL], now_s() - t0);
    for (i = 1; i <= opt_rcpts; i++) {
        t1 = now_s();
        snprintf(raddr, sizeof(raddr), "rcpt%d@ext.example", i);
        snprintf(arg, sizeof(arg), "<%s>", raddr);
        if (mc_macros(&c->m, SMFIC_RCPT, SMFIP_NORCPT, "{rcpt_addr}", raddr, NULL) < 0)
            return OUT_ERROR;
        mc_begin(&c->m);
        mc_str(&c->m, arg);
        r = step(c, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, "rcpt");
        if (r == OUT_ERROR || r == OUT_ACCEPT)
            return r;
        lat_add(&c->lat[ST_RCPT], now_s() - t1);
        ok += r == OUT_CONTINUE;
    }
    if (ok == 0)
        return OUT_REFUSED;
    r = send_content(c, qid, n);
    if (r != OUT_ERROR)
        *early = 0;
    if (r == OUT_ACCEPT)
        lat_add(&c->lat[ST_MESSAGE], now_s() - t0);
    return r;
}

/* Open a connection and send connect and HELO; OUT_CONTINUE when the milter goes on. */
static enum outcome
start_conn(struct conn *c)
{
    double t0 = now_s();
    enum outcome r =
        outcome_of(c, mc_start(&c->m, opt_socket, opt_timeout, 0, "mload", "127.0.0.1"), "connect");

    if (r == OUT_CONTINUE)
        lat_add(&c->lat[ST_CONNECT], now_s() - t0);
    return r;
}

/* With -W/-H: the last thread creates the ready file; all wait for the hold file. */
static void
hold(struct conn *c)
{
    int i, last, fd;

    if (!opt_ready || !opt_hold)
        return;
    pthread_mutex_lock(&done_lock);
    last = ++done_count == opt_conns;
    pthread_mutex_unlock(&done_lock);
    if (last && (fd = open(opt_ready, O_WRONLY | O_CREAT, 0644)) >= 0)
        close(fd);
    for (i = 0; access(opt_hold, F_OK) != 0; i++) {
        if (i >= opt_timeout * 100) {
            mc_warn(&c->m, "%s did not appear", opt_hold);
            return;
        }
        usleep(10000);
    }
}

/* Thread body: send this connection's share of messages. */
static void *
run_conn(void *arg)
{
    struct conn *c = arg;
    double start, gap = opt_rate > 0 ? opt_conns / opt_rate : 0;
    int i, early, sent_here = 0;
    enum outcome r;

    /* with one connection for all messages, every connection opens before any message */
    if (opt_per_conn == 0 && opt_msgs > 0 && (r = start_conn(c)) != OUT_CONTINUE) {
        c->errors++;
        mc_close(&c->m, 1);
    }
    if (pthread_barrier_wait(&go_barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
        t_go = now_s();
    start = now_s();
    for (i = 0; i < opt_msgs; i++) {
        if (gap > 0) {
            double wait = start + gap * i + gap * (c->m.id - 1) / opt_conns - now_s();
            if (wait > 0)
                usleep((useconds_t)(wait * 1e6));
        }
        if (c->m.fd < 0) {
            if ((r = start_conn(c)) != OUT_CONTINUE) {
                c->errors++;
                mc_close(&c->m, 1);
                continue;
            }
            sent_here = 0;
        }
        r = do_message(c, i + 1, &early);
        c->accepted += r == OUT_ACCEPT;
        c->refused += r == OUT_REFUSED;
        c->errors += r == OUT_ERROR || r == OUT_CONTINUE;
        if (r == OUT_ERROR) {
            mc_close(&c->m, 1);
            continue;
        }
        if (early) {
            mc_begin(&c->m);
            mc_send(&c->m, SMFIC_ABORT);
        }
        if (opt_per_conn > 0 && ++sent_here >= opt_per_conn && i + 1 < opt_msgs)
            mc_close(&c->m, 0);
    }
    hold(c);
    mc_close(&c->m, 0);
    return NULL;
}

/* Compare two latencies for qsort. */
static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted list. */
static uint32_t
pct(const struct lat *l, double p)
{
    size_t k = (size_t)(p * (double)l->n + 0.999999);

    return l->n == 0 ? 0 : l->v[k == 0 ? 0 : k - 1];
}

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: mload -S socket [-c conns] [-m msgs] [-k per_conn] [-R rcpts] "
                    "[-b body_bytes] [-A] [-q rate] [-f sender] [-t timeout_s] "
                    "[-W ready_file -H hold_file]\n");
    exit(2);
}

/* Merge every thread's figures for stage s into all, sorted. */
static void
merge(struct conn *conns, enum stage s, struct lat *all)
{
    int i;

    memset(all, 0, sizeof(*all));
    for (i = 0; i < opt_conns; i++) {
        size_t j;
        for (j = 0; j < conns[i].lat[s].n; j++)
            lat_add(all, conns[i].lat[s].v[j] / 1e6);
    }
    if (all->n)
        qsort(all->v, all->n, sizeof(*all->v), cmp_u32);
}

/* Parse options, run the connections in parallel, print the figures. */
int
main(int argc, char **argv)
{
    long accepted = 0, refused = 0, errors = 0;
    struct conn *conns;
    pthread_t *tids;
    double t0, secs;
    int ch, i, s;

    while ((ch = getopt(argc, argv, "S:c:m:k:R:b:Aq:f:t:W:H:")) != -1) {
        switch (ch) {
        case 'S':
            opt_socket = optarg;
            break;
        case 'c':
            opt_conns = atoi(optarg);
            break;
        case 'm':
            opt_msgs = atoi(optarg);
            break;
        case 'k':
            opt_per_conn = atoi(optarg);
            break;
        case 'R':
            opt_rcpts = atoi(optarg);
            break;
        case 'b':
            opt_body = atol(optarg);
            break;
        case 'A':
            opt_attach = 1;
            break;
        case 'q':
            opt_rate = atof(optarg);
            break;
        case 'f':
            opt_sender = optarg;
            break;
        case 't':
            opt_timeout = atoi(optarg);
            break;
        case 'W':
            opt_ready = optarg;
            break;
        case 'H':
            opt_hold = optarg;
            break;
        default:
            usage();
        }
    }
    if (!opt_socket || optind != argc || opt_conns < 1 || opt_conns > 4096 || opt_msgs < 0 ||
        opt_per_conn < 0 || opt_rcpts < 1 || opt_rcpts > 1000 || opt_body < 0 || opt_timeout < 1 ||
        opt_rate < 0 || strlen(opt_sender) > 400 || !opt_ready != !opt_hold)
        usage();
    signal(SIGPIPE, SIG_IGN);
    mc_progname = "mload";
    conns = calloc((size_t)opt_conns, sizeof(*conns));
    tids = calloc((size_t)opt_conns, sizeof(*tids));
    if (!conns || !tids)
        return 1;
    if (pthread_barrier_init(&go_barrier, NULL, (unsigned)opt_conns) != 0)
        return 1;
    t0 = now_s();
    for (i = 0; i < opt_conns; i++) {
        if (mc_init(&conns[i].m, i + 1, 1) < 0 ||
            pthread_create(&tids[i], NULL, run_conn, &conns[i]) != 0) {
            fprintf(stderr, "mload: cannot start connection %d\n", i + 1);
            return 1;
        }
    }
    for (i = 0; i < opt_conns; i++) {
        pthread_join(tids[i], NULL);
        accepted += conns[i].accepted;
        refused += conns[i].refused;
        errors += conns[i].errors;
    }
    secs = now_s() - (t_go > 0 ? t_go : t0);
    printf("conns=%d messages=%ld accepted=%ld refused=%ld errors=%ld seconds=%.3f "
           "msgs_per_s=%.1f\n",
           opt_conns, (long)opt_conns * opt_msgs, accepted, refused, errors, secs,
           secs > 0 ? accepted / secs : 0.0);
    for (s = 0; s < ST_COUNT; s++) {
        struct lat all;
        merge(conns, (enum stage)s, &all);
        printf("stage=%s n=%zu p50_us=%u p99_us=%u max_us=%u\n", stage_names[s], all.n,
               pct(&all, 0.50), pct(&all, 0.99), all.n ? all.v[all.n - 1] : 0);
        free(all.v);
    }
    return errors == 0 ? 0 : 1;
}
