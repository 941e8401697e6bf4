/*
 * NAME
 *   pmdrive - milter protocol load driver for postmeter's tests
 *
 * SYNOPSIS
 *   pmdrive -S unix:PATH | inet:PORT@ADDR | inet6:PORT@ADDR [-c conns] [-m msgs]
 *           [-f sender] [-r rcpt]... [-R n] [-a login] [-d daemon_name]
 *           [-i client_addr] [-b body_bytes] [-D message_file] [-t timeout_s]
 *           [-w file] [-W file] [-v]
 *
 * DESCRIPTION
 *   Plays the MTA side of milter protocol version 6, without libmilter. Each
 *   of the conns threads opens its own milter connection, negotiates (offering
 *   every action and protocol step and honouring the steps the milter skips or
 *   does not answer), and sends msgs messages one after the other: macros,
 *   MAIL, RCPTs, DATA, headers, end of headers, body, end of message. Every
 *   read has a timeout, so the driver never hangs. A "%d" in the sender is
 *   replaced by the message's number over all connections (1, 2, ...), so
 *   that every message has a sender of its own. With -D, every message's
 *   headers and body are those of message_file (headers up to the first
 *   empty line, continuation lines joined; CRLF or LF) instead of a From, a
 *   Subject and body_bytes of filler. With -w, each connection
 *   waits (at most timeout_s) after HELO until the file exists, so a test can
 *   change the world while milter sessions are open. With -W, each message
 *   creates file.wait after its body and waits (as long) for file before its
 *   end of message, so a test can act between RCPT TO and end of message.
 *
 *   Prints one summary line of key=value counts, then one "reply COUNT TEXT"
 *   line per distinct refusal text seen (a bare reply code is shown as
 *   "(tempfail)", "(reject)" or "(discard)"). -v prints every reply on stderr.
 *   The protocol itself is spoken by milterclient.c; every command is
 *   written as soon as it is framed.
 *
 * DIAGNOSTICS
 *   Exit 0 when no protocol or I/O error occurred, 1 otherwise, 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milterclient.h"

#define MAX_RCPTS 1024
#define MAX_TEXTS 64

/* Counts of one thread, summed at the end. */
struct stats {
    long messages, accepted, tempfail, reject, discard, quarantined, tagged, errors, rcpt_refused;
};

/* One milter connection (one thread) and its counts. */
struct conn {
    struct mc_conn m;
    struct stats st;
};

static const char *opt_socket;
static int opt_conns = 1, opt_msgs = 1, opt_timeout = 30, opt_verbose;
static const char *opt_sender = "alice@example.com";
static const char *opt_login, *opt_daemon = "pmdrive", *opt_client = "127.0.0.1", *opt_wait;
static const char *opt_wait_eom; /* -W */
static const char *opt_rcpts[MAX_RCPTS];
static int opt_nrcpts;
static long opt_body = 512;
static char *opt_data;      /* -D: the message file's text */
static size_t opt_data_len; /* its length */
static long seq;            /* messages started, for "%d" in the sender */

static pthread_mutex_t texts_lock = PTHREAD_MUTEX_INITIALIZER;
static char *texts[MAX_TEXTS];
static long text_counts[MAX_TEXTS];
static long texts_other;

/* Count one refusal text in the shared table. */
static void
note_text(const char *text)
{
    int i;

    pthread_mutex_lock(&texts_lock);
    for (i = 0; i < MAX_TEXTS && texts[i] != NULL; i++)
        if (strcmp(texts[i], text) == 0)
            break;
    if (i < MAX_TEXTS && texts[i] == NULL)
        texts[i] = strdup(text);
    if (i < MAX_TEXTS && texts[i] != NULL)
        text_counts[i]++;
    else
        texts_other++;
    pthread_mutex_unlock(&texts_lock);
}

/* Strip angle brackets: copy the bare address of s into out. */
static void
bare_addr(char *out, size_t n, const char *s)
{
    size_t l = strlen(s);

    if (l >= 2 && s[0] == '<' && s[l - 1] == '>')
        snprintf(out, n, "%.*s", (int)(l - 2), s + 1);
    else
        snprintf(out, n, "%s", s);
}

static enum mc_outcome wait_file(struct mc_conn *m, const char *file, int announce);

/* Send the headers of the -D file; *body is where its body starts. */
static enum mc_outcome
send_file_headers(struct mc_conn *m, size_t *body)
{
    char name[256], value[MILTER_CHUNK_SIZE];
    const char *p = opt_data, *end = opt_data + opt_data_len;
    enum mc_outcome r = MC_CONTINUE;
    size_t nl = 0, vl = 0;

    while (p < end && *p != '\r' && *p != '\n') {
        const char *e = memchr(p, '\n', (size_t)(end - p)), *colon;
        size_t len = (e ? (size_t)(e - p) : (size_t)(end - p));

        if (len && p[len - 1] == '\r')
            len--;
        if ((*p == ' ' || *p == '\t') && nl) {
            /* a continuation line: joined to the header's value */
            if (vl + len + 2 < sizeof(value)) {
                memcpy(value + vl, "\r\n", 2);
                memcpy(value + vl + 2, p, len);
                vl += len + 2;
            }
        } else if ((colon = memchr(p, ':', len)) != NULL) {
            if (nl && (r = mc_header(m, name, value)) != MC_CONTINUE)
                return r;
            nl = (size_t)(colon - p) < sizeof(name) - 1 ? (size_t)(colon - p) : sizeof(name) - 1;
            memcpy(name, p, nl);
            name[nl] = '\0';
            colon++;
            while (colon < p + len && (*colon == ' ' || *colon == '\t'))
                colon++;
            vl = (size_t)(p + len - colon) < sizeof(value) - 1 ? (size_t)(p + len - colon)
                                                               : sizeof(value) - 1;
            memcpy(value, colon, vl);
        }
        value[vl] = '\0';
        p = e ? e + 1 : end;
    }
    if (nl && (r = mc_header(m, name, value)) != MC_CONTINUE)
        return r;
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n')
        p++;
    *body = (size_t)(p - opt_data);
    return r;
}

/* Send DATA, headers, EOH, body and end of message; *early stays set unless EOB was answered. */
static enum mc_outcome
send_content(struct conn *c, const char *qid, const char *sender, int n, int *early)
{
    struct mc_conn *m = &c->m;
    char from[520], subject[64];
    enum mc_outcome r = MC_CONTINUE;
    size_t body = 0;
    long left;

    if (mc_macros(m, SMFIC_DATA, SMFIP_NODATA, "i", qid, NULL) < 0)
        return MC_ERROR;
    mc_begin(m);
    if ((r = mc_step(m, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, "data")) != MC_CONTINUE)
        return r;
    snprintf(from, sizeof(from), "<%s>", sender);
    snprintf(subject, sizeof(subject), "pmdrive message %d.%d", m->id, n);
    if (opt_data) {
        if ((r = send_file_headers(m, &body)) != MC_CONTINUE)
            return r;
    } else if ((r = mc_header(m, "From", from)) != MC_CONTINUE ||
               (r = mc_header(m, "Subject", subject)) != MC_CONTINUE)
        return r;
    mc_begin(m);
    if ((r = mc_step(m, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, "eoh")) != MC_CONTINUE)
        return r;
    for (left = opt_data ? (long)(opt_data_len - body) : opt_body; left > 0;) {
        size_t chunk = left > MILTER_CHUNK_SIZE ? MILTER_CHUNK_SIZE : (size_t)left;
        size_t i;

        mc_begin(m);
        if (opt_data)
            memcpy(m->buf + m->len, opt_data + opt_data_len - left, chunk);
        else
            for (i = 0; i < chunk; i++)
                m->buf[m->len + i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'a' + i % 26;
        m->len += chunk;
        left -= (long)chunk;
        r = mc_step(m, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, "body");
        if (r == MC_SKIP)
            break;
        if (r != MC_CONTINUE)
            return r;
    }
    if (opt_wait_eom && wait_file(m, opt_wait_eom, 1) != MC_CONTINUE)
        return MC_ERROR;
    if (mc_macros(m, SMFIC_BODYEOB, 0, "i", qid, NULL) < 0)
        return MC_ERROR;
    mc_begin(m);
    r = mc_step(m, SMFIC_BODYEOB, 0, 0, "eob");
    if (r == MC_ERROR || r == MC_SKIP)
        return MC_ERROR;
    *early = 0;
    return r == MC_CONTINUE ? MC_ACCEPT : r;
}

/* Run one message transaction; *early is set when it ended before end of message. */
static enum mc_outcome
do_message(struct conn *c, int n, int *early)
{
    struct mc_conn *m = &c->m;
    char qid[32], addr[512], arg[520], sender[512], num[24];
    const char *pct = strstr(opt_sender, "%d");
    enum mc_outcome r;
    int i, ok = 0, soft = 0;

    *early = 1;
    m->tagged = m->quarantined = 0;
    snprintf(qid, sizeof(qid), "%04X%03X%04X", (unsigned)getpid() & 0xFFFF, (unsigned)m->id & 0xFFF,
             (unsigned)n & 0xFFFF);
    snprintf(num, sizeof(num), "%ld", __sync_add_and_fetch(&seq, 1));
    if (pct)
        snprintf(sender, sizeof(sender), "%.*s%s%s", (int)(pct - opt_sender), opt_sender, num,
                 pct + 2);
    else
        snprintf(sender, sizeof(sender), "%s", opt_sender);
    bare_addr(addr, sizeof(addr), sender);
    snprintf(arg, sizeof(arg), "<%s>", addr);
    if ((opt_login
             ? mc_macros(m, SMFIC_MAIL, SMFIP_NOMAIL, "i", qid, "{mail_addr}", addr, "{auth_type}",
                         "PLAIN", "{auth_authen}", opt_login, NULL)
             : mc_macros(m, SMFIC_MAIL, SMFIP_NOMAIL, "i", qid, "{mail_addr}", addr, NULL)) < 0)
        return MC_ERROR;
    mc_begin(m);
    mc_str(m, arg);
    if ((r = mc_step(m, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, "mail")) != MC_CONTINUE)
        return r;
    for (i = 0; i < opt_nrcpts; i++) {
        bare_addr(addr, sizeof(addr), opt_rcpts[i]);
        snprintf(arg, sizeof(arg), "<%s>", addr);
        if (mc_macros(m, SMFIC_RCPT, SMFIP_NORCPT, "{rcpt_addr}", addr, NULL) < 0)
            return MC_ERROR;
        mc_begin(m);
        mc_str(m, arg);
        r = mc_step(m, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, "rcpt");
        if (r == MC_CONTINUE) {
            ok++;
        } else if (r == MC_TEMPFAIL || r == MC_REJECT) {
            c->st.rcpt_refused++;
            soft |= r == MC_TEMPFAIL;
        } else {
            return r;
        }
    }
    if (ok == 0)
        return soft ? MC_TEMPFAIL : MC_REJECT;
    return send_content(c, qid, sender, n, early);
}

/* Count a message's outcome. */
static void
count(struct conn *c, enum mc_outcome r)
{
    c->st.messages++;
    switch (r) {
    case MC_CONTINUE:
    case MC_ACCEPT:
        c->st.accepted++;
        c->st.tagged += c->m.tagged;
        c->st.quarantined += c->m.quarantined;
        break;
    case MC_TEMPFAIL:
        c->st.tempfail++;
        break;
    case MC_REJECT:
        c->st.reject++;
        break;
    case MC_DISCARD:
        c->st.discard++;
        break;
    default:
        c->st.errors++;
        break;
    }
}

/* Wait (at most the timeout) until file exists; with announce, first create
 * "file.wait" to say so. */
static enum mc_outcome
wait_file(struct mc_conn *m, const char *file, int announce)
{
    char ready[4096];
    FILE *f;
    int i;

    if (announce) {
        snprintf(ready, sizeof(ready), "%s.wait", file);
        if ((f = fopen(ready, "w")) != NULL)
            fclose(f);
    }
    for (i = 0; access(file, F_OK) != 0; i++) {
        if (i >= opt_timeout * 100) {
            mc_warn(m, "%s did not appear", file);
            return MC_ERROR;
        }
        usleep(10000);
    }
    return MC_CONTINUE;
}

/* Wait (at most the timeout) until the -w file exists. */
static enum mc_outcome
wait_go(struct conn *c)
{
    return opt_wait ? wait_file(&c->m, opt_wait, 0) : MC_CONTINUE;
}

/* Thread body: one milter connection sending its messages. */
static void *
run_conn(void *arg)
{
    struct conn *c = arg;
    enum mc_outcome r;
    int i, early;

    r = mc_start(&c->m, opt_socket, opt_timeout, 1, opt_daemon, opt_client);
    if (r == MC_CONTINUE)
        r = wait_go(c);
    for (i = 0; i < opt_msgs; i++) {
        if (r != MC_CONTINUE) {
            /* The connection was refused or accepted as a whole, or it broke. */
            c->m.tagged = c->m.quarantined = 0;
            count(c, r == MC_SKIP ? MC_ERROR : r);
            continue;
        }
        enum mc_outcome res = do_message(c, i + 1, &early);
        count(c, res);
        if (res == MC_ERROR || res == MC_SKIP)
            r = MC_ERROR;
        else if (early) {
            mc_begin(&c->m);
            if (mc_send(&c->m, SMFIC_ABORT) < 0)
                r = MC_ERROR;
        }
    }
    mc_close(&c->m, r == MC_ERROR);
    if (r == MC_ERROR && opt_msgs == 0)
        c->st.errors++;
    return NULL;
}

/* Print a reply text with control characters made visible. */
static void
print_text(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < 0x20 ? '?' : *s);
    putchar('\n');
}

/* Read the -D message file whole; 0, or -1. */
static int
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t n;

    if (!f)
        return -1;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        char *grown = realloc(opt_data, opt_data_len + n + 1);

        if (!grown) {
            fclose(f);
            return -1;
        }
        opt_data = grown;
        memcpy(opt_data + opt_data_len, buf, n);
        opt_data_len += n;
    }
    fclose(f);
    return opt_data ? 0 : -1;
}

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: pmdrive -S socket [-c conns] [-m msgs] [-f sender] [-r rcpt]... "
                    "[-R n] [-a login] [-d daemon_name] [-i client_addr] [-b body_bytes] "
                    "[-D message_file] [-t timeout_s] [-w file] [-W file] [-v]\n");
    exit(2);
}

/* Parse options, run the connections in parallel, print the summary. */
int
main(int argc, char **argv)
{
    struct stats t = {0};
    struct conn *conns;
    pthread_t *tids;
    int ch, i, gen = 0;

    while ((ch = getopt(argc, argv, "S:c:m:f:r:R:a:d:i:b:D:t:w:W:v")) != -1) {
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
        case 'f':
            opt_sender = optarg;
            break;
        case 'r':
            if (opt_nrcpts >= MAX_RCPTS)
                usage();
            opt_rcpts[opt_nrcpts++] = optarg;
            break;
        case 'R':
            gen = atoi(optarg);
            break;
        case 'a':
            opt_login = optarg;
            break;
        case 'd':
            opt_daemon = optarg;
            break;
        case 'i':
            opt_client = optarg;
            break;
        case 'D':
            if (read_file(optarg) < 0) {
                fprintf(stderr, "pmdrive: cannot read %s\n", optarg);
                return 2;
            }
            break;
        case 'b':
            opt_body = atol(optarg);
            break;
        case 't':
            opt_timeout = atoi(optarg);
            break;
        case 'w':
            opt_wait = optarg;
            break;
        case 'W':
            opt_wait_eom = optarg;
            break;
        case 'v':
            opt_verbose = 1;
            break;
        default:
            usage();
        }
    }
    if (opt_socket == NULL || optind != argc || opt_conns < 1 || opt_msgs < 0 || gen < 0 ||
        opt_nrcpts + gen > MAX_RCPTS || opt_body < 0 || opt_timeout < 1)
        usage();
    for (i = 1; i <= gen; i++) {
        char *r = malloc(48);
        snprintf(r, 48, "rcpt%d@ext.example", i);
        opt_rcpts[opt_nrcpts++] = r;
    }
    if (opt_nrcpts == 0)
        opt_rcpts[opt_nrcpts++] = "bob@ext.example";
    signal(SIGPIPE, SIG_IGN);
    mc_progname = "pmdrive";

    conns = calloc((size_t)opt_conns, sizeof(*conns));
    tids = calloc((size_t)opt_conns, sizeof(*tids));
    for (i = 0; i < opt_conns; i++) {
        int ok = mc_init(&conns[i].m, i + 1, 0) == 0;

        conns[i].m.verbose = opt_verbose;
        conns[i].m.note_text = note_text;
        if (!ok || pthread_create(&tids[i], NULL, run_conn, &conns[i]) != 0) {
            fprintf(stderr, "pmdrive: cannot start connection %d\n", i + 1);
            return 1;
        }
    }
    for (i = 0; i < opt_conns; i++) {
        struct stats *s = &conns[i].st;
        pthread_join(tids[i], NULL);
        t.messages += s->messages, t.accepted += s->accepted, t.tempfail += s->tempfail;
        t.reject += s->reject, t.discard += s->discard, t.quarantined += s->quarantined;
        t.tagged += s->tagged, t.errors += s->errors, t.rcpt_refused += s->rcpt_refused;
    }
    printf("messages=%ld accepted=%ld tempfail=%ld reject=%ld discard=%ld quarantined=%ld "
           "tagged=%ld errors=%ld rcpt_refused=%ld\n",
           t.messages, t.accepted, t.tempfail, t.reject, t.discard, t.quarantined, t.tagged,
           t.errors, t.rcpt_refused);
    for (i = 0; i < MAX_TEXTS && texts[i] != NULL; i++) {
        printf("reply %ld ", text_counts[i]);
        print_text(texts[i]);
    }
    if (texts_other > 0)
        printf("reply %ld (other texts)\n", texts_other);
    for (i = 0; i < opt_conns; i++)
        mc_free(&conns[i].m);
    free(conns);
    free(tids);
    for (i = 0; i < MAX_TEXTS && texts[i] != NULL; i++)
        free(texts[i]);
    for (i = opt_nrcpts - gen; i < opt_nrcpts; i++)
        if (gen > 0)
            free((char *)opt_rcpts[i]);
    return t.errors == 0 ? 0 : 1;
}
