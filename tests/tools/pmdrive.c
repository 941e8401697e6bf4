/*
 * NAME
 *   pmdrive - milter protocol load driver for postmeter's tests
 *
 * SYNOPSIS
 *   pmdrive -S unix:PATH | inet:PORT@ADDR | inet6:PORT@ADDR [-c conns] [-m msgs]
 *           [-f sender] [-r rcpt]... [-R n] [-a login] [-d daemon_name]
 *           [-i client_addr] [-b body_bytes] [-t timeout_s] [-w file] [-v]
 *
 * DESCRIPTION
 *   Plays the MTA side of milter protocol version 6, without libmilter. Each
 *   of the conns threads opens its own milter connection, negotiates (offering
 *   every action and protocol step and honouring the steps the milter skips or
 *   does not answer), and sends msgs messages one after the other: macros,
 *   MAIL, RCPTs, DATA, headers, end of headers, body, end of message. Every
 *   read has a timeout, so the driver never hangs. With -w, each connection
 *   waits (at most timeout_s) after HELO until the file exists, so a test can
 *   change the world while milter sessions are open.
 *
 *   Prints one summary line of key=value counts, then one "reply COUNT TEXT"
 *   line per distinct refusal text seen (a bare reply code is shown as
 *   "(tempfail)", "(reject)" or "(discard)"). -v prints every reply on stderr.
 *
 * DIAGNOSTICS
 *   Exit 0 when no protocol or I/O error occurred, 1 otherwise, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#define MAX_RCPTS 1024
#define MAX_TEXTS 64
#define BUF_SIZE (MILTER_CHUNK_SIZE + 16)
#define MAX_REPLY (1024 * 1024)

/* How one step or one message ended. */
enum outcome {
    OUT_CONTINUE,
    OUT_ACCEPT,
    OUT_REJECT,
    OUT_TEMPFAIL,
    OUT_DISCARD,
    OUT_SKIP,
    OUT_ERROR
};

/* Counts of one thread, summed at the end. */
struct stats {
    long messages, accepted, tempfail, reject, discard, quarantined, tagged, errors, rcpt_refused;
};

/* One milter connection (one thread). */
struct conn {
    int id;
    int fd;
    uint32_t pflags;
    unsigned char *buf;
    size_t len;
    unsigned char *rbuf;
    int tagged, quarantined;
    struct stats st;
};

static const char *opt_socket;
static int opt_conns = 1, opt_msgs = 1, opt_timeout = 30, opt_verbose;
static const char *opt_sender = "alice@example.com";
static const char *opt_login, *opt_daemon = "pmdrive", *opt_client = "127.0.0.1", *opt_wait;
static const char *opt_rcpts[MAX_RCPTS];
static int opt_nrcpts;
static long opt_body = 512;

static pthread_mutex_t texts_lock = PTHREAD_MUTEX_INITIALIZER;
static char *texts[MAX_TEXTS];
static long text_counts[MAX_TEXTS];
static long texts_other;

/* Print a diagnostic about one connection on stderr. */
__attribute__((format(printf, 2, 3))) static void
warnc(const struct conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "pmdrive: conn %d: ", c->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

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

/* Start building a command's data. */
static void
pkt_begin(struct conn *c)
{
    c->len = 5;
}

/* Append bytes to the command being built. */
static void
pkt_put(struct conn *c, const void *p, size_t n)
{
    if (c->len + n > BUF_SIZE)
        n = BUF_SIZE - c->len;
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

/* Append a NUL-terminated string to the command being built. */
static void
pkt_str(struct conn *c, const char *s)
{
    pkt_put(c, s, strlen(s) + 1);
}

/* Frame the command built so far (length, command byte) and write it. */
static int
pkt_send(struct conn *c, char cmd)
{
    uint32_t n = htonl((uint32_t)(c->len - 4));
    size_t off = 0;

    memcpy(c->buf, &n, 4);
    c->buf[4] = (unsigned char)cmd;
    while (off < c->len) {
        ssize_t w = send(c->fd, c->buf + off, c->len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            warnc(c, "write of command '%c': %s", cmd, w < 0 ? strerror(errno) : "closed");
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Read exactly n bytes, honouring the socket's receive timeout. */
static int
read_full(struct conn *c, void *p, size_t n)
{
    size_t off = 0;

    while (off < n) {
        ssize_t r = recv(c->fd, (char *)p + off, n - off, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            warnc(c, "read: %s",
                  r == 0                                      ? "connection closed"
                  : (errno == EAGAIN || errno == EWOULDBLOCK) ? "timeout"
                                                              : strerror(errno));
            return -1;
        }
        off += (size_t)r;
    }
    return 0;
}

/* Read one reply packet into c->rbuf (NUL-terminated); returns its command or -1. */
static int
read_pkt(struct conn *c, size_t *dlen)
{
    uint32_t n;
    unsigned char cmd;

    if (read_full(c, &n, 4) < 0)
        return -1;
    n = ntohl(n);
    if (n == 0 || n > MAX_REPLY) {
        warnc(c, "bad reply length %u", n);
        return -1;
    }
    if (read_full(c, &cmd, 1) < 0 || read_full(c, c->rbuf, n - 1) < 0)
        return -1;
    c->rbuf[n - 1] = '\0';
    *dlen = n - 1;
    return cmd;
}

/* Read replies until a final one; records header adds and quarantine. */
static enum outcome
await_reply(struct conn *c, const char *step)
{
    for (;;) {
        size_t dlen;
        int cmd = read_pkt(c, &dlen);

        if (cmd < 0)
            return OUT_ERROR;
        if (opt_verbose)
            fprintf(stderr, "conn %d %s: '%c' %s\n", c->id, step, cmd,
                    cmd == SMFIR_REPLYCODE || cmd == SMFIR_QUARANTINE ? (char *)c->rbuf : "");
        switch (cmd) {
        case SMFIR_CONTINUE:
            return OUT_CONTINUE;
        case SMFIR_ACCEPT:
            return OUT_ACCEPT;
        case SMFIR_SKIP:
            return OUT_SKIP;
        case SMFIR_REJECT:
            note_text("(reject)");
            return OUT_REJECT;
        case SMFIR_TEMPFAIL:
            note_text("(tempfail)");
            return OUT_TEMPFAIL;
        case SMFIR_DISCARD:
            note_text("(discard)");
            return OUT_DISCARD;
        case SMFIR_REPLYCODE:
            note_text((char *)c->rbuf);
            if (c->rbuf[0] == '4')
                return OUT_TEMPFAIL;
            if (c->rbuf[0] == '5')
                return OUT_REJECT;
            warnc(c, "%s: bad reply code text '%s'", step, (char *)c->rbuf);
            return OUT_ERROR;
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
            c->tagged = 1;
            break;
        case SMFIR_QUARANTINE:
            c->quarantined = 1;
            break;
        case SMFIR_PROGRESS:
        case SMFIR_CHGHEADER:
        case SMFIR_ADDRCPT:
        case SMFIR_DELRCPT:
        case SMFIR_ADDRCPT_PAR:
        case SMFIR_REPLBODY:
        case SMFIR_CHGFROM:
            break;
        default:
            warnc(c, "%s: unexpected reply '%c'", step, cmd);
            return OUT_ERROR;
        }
    }
}

/* Send the built command unless the milter skips it; await a reply if it gives one. */
static enum outcome
step(struct conn *c, char cmd, uint32_t skip_flag, uint32_t noreply_flag, const char *name)
{
    if (skip_flag && (c->pflags & skip_flag))
        return OUT_CONTINUE;
    if (pkt_send(c, cmd) < 0)
        return OUT_ERROR;
    if (noreply_flag && (c->pflags & noreply_flag))
        return OUT_CONTINUE;
    return await_reply(c, name);
}

/* Send macros (name, value pairs, NULL-terminated) for a protocol stage. */
static int
send_macros(struct conn *c, char stage, ...)
{
    va_list ap;
    const char *s;

    pkt_begin(c);
    pkt_put(c, &stage, 1);
    va_start(ap, stage);
    while ((s = va_arg(ap, const char *)) != NULL)
        pkt_str(c, s);
    va_end(ap);
    return pkt_send(c, SMFIC_MACRO);
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

/* Build and send one header (command data: name, value). */
static enum outcome
send_header(struct conn *c, const char *name, const char *value)
{
    pkt_begin(c);
    pkt_str(c, name);
    if (c->pflags & SMFIP_HDR_LEADSPC)
        pkt_put(c, " ", 1);
    pkt_str(c, value);
    return step(c, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, "header");
}

/* Send DATA, headers, EOH, body and end of message; *early stays set unless EOB was answered. */
static enum outcome
send_content(struct conn *c, const char *qid, int n, int *early)
{
    char from[512], subject[64];
    enum outcome r = OUT_CONTINUE;
    long left;

    if (!(c->pflags & SMFIP_NODATA) && send_macros(c, SMFIC_DATA, "i", qid, NULL) < 0)
        return OUT_ERROR;
    pkt_begin(c);
    if ((r = step(c, SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, "data")) != OUT_CONTINUE)
        return r;
    snprintf(from, sizeof(from), "<%s>", opt_sender);
    snprintf(subject, sizeof(subject), "pmdrive message %d.%d", c->id, n);
    if ((r = send_header(c, "From", from)) != OUT_CONTINUE ||
        (r = send_header(c, "Subject", subject)) != OUT_CONTINUE)
        return r;
    pkt_begin(c);
    if ((r = step(c, SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, "eoh")) != OUT_CONTINUE)
        return r;
    for (left = opt_body; left > 0;) {
        size_t chunk = left > MILTER_CHUNK_SIZE ? MILTER_CHUNK_SIZE : (size_t)left;
        size_t i;

        pkt_begin(c);
        for (i = 0; i < chunk; i++)
            c->buf[c->len + i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'a' + i % 26;
        c->len += chunk;
        left -= (long)chunk;
        r = step(c, SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, "body");
        if (r == OUT_SKIP)
            break;
        if (r != OUT_CONTINUE)
            return r;
    }
    if (send_macros(c, SMFIC_BODYEOB, "i", qid, NULL) < 0)
        return OUT_ERROR;
    pkt_begin(c);
    r = step(c, SMFIC_BODYEOB, 0, 0, "eob");
    if (r == OUT_ERROR || r == OUT_SKIP)
        return OUT_ERROR;
    *early = 0;
    return r == OUT_CONTINUE ? OUT_ACCEPT : r;
}

/* Run one message transaction; *early is set when it ended before end of message. */
static enum outcome
do_message(struct conn *c, int n, int *early)
{
    char qid[32], addr[512], arg[520];
    enum outcome r;
    int i, ok = 0, soft = 0;

    *early = 1;
    c->tagged = c->quarantined = 0;
    snprintf(qid, sizeof(qid), "%04X%03X%04X", (unsigned)getpid() & 0xFFFF, (unsigned)c->id & 0xFFF,
             (unsigned)n & 0xFFFF);
    bare_addr(addr, sizeof(addr), opt_sender);
    snprintf(arg, sizeof(arg), "<%s>", addr);
    if (!(c->pflags & SMFIP_NOMAIL) &&
        (opt_login ? send_macros(c, SMFIC_MAIL, "i", qid, "{mail_addr}", addr, "{auth_type}",
                                 "PLAIN", "{auth_authen}", opt_login, NULL)
                   : send_macros(c, SMFIC_MAIL, "i", qid, "{mail_addr}", addr, NULL)) < 0)
        return OUT_ERROR;
    pkt_begin(c);
    pkt_str(c, arg);
    if ((r = step(c, SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, "mail")) != OUT_CONTINUE)
        return r;
    for (i = 0; i < opt_nrcpts; i++) {
        bare_addr(addr, sizeof(addr), opt_rcpts[i]);
        snprintf(arg, sizeof(arg), "<%s>", addr);
        if (!(c->pflags & SMFIP_NORCPT) &&
            send_macros(c, SMFIC_RCPT, "{rcpt_addr}", addr, NULL) < 0)
            return OUT_ERROR;
        pkt_begin(c);
        pkt_str(c, arg);
        r = step(c, SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, "rcpt");
        if (r == OUT_CONTINUE) {
            ok++;
        } else if (r == OUT_TEMPFAIL || r == OUT_REJECT) {
            c->st.rcpt_refused++;
            soft |= r == OUT_TEMPFAIL;
        } else {
            return r;
        }
    }
    if (ok == 0)
        return soft ? OUT_TEMPFAIL : OUT_REJECT;
    return send_content(c, qid, n, early);
}

/* Count a message's outcome. */
static void
count(struct conn *c, enum outcome r)
{
    c->st.messages++;
    switch (r) {
    case OUT_CONTINUE:
    case OUT_ACCEPT:
        c->st.accepted++;
        c->st.tagged += c->tagged;
        c->st.quarantined += c->quarantined;
        break;
    case OUT_TEMPFAIL:
        c->st.tempfail++;
        break;
    case OUT_REJECT:
        c->st.reject++;
        break;
    case OUT_DISCARD:
        c->st.discard++;
        break;
    default:
        c->st.errors++;
        break;
    }
}

/* Parse unix:PATH, inet:PORT@ADDR or inet6:PORT@ADDR into a socket address; length or 0. */
static socklen_t
parse_spec(const char *spec, struct sockaddr_storage *ss)
{
    const char *at = strchr(spec, '@');

    memset(ss, 0, sizeof(*ss));
    if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
        struct sockaddr_un *su = (struct sockaddr_un *)ss;
        const char *path = strchr(spec, ':') + 1;
        if (strlen(path) >= sizeof(su->sun_path))
            return 0;
        su->sun_family = AF_UNIX;
        strcpy(su->sun_path, path);
        return sizeof(*su);
    }
    if (strncmp(spec, "inet:", 5) == 0 && at != NULL) {
        struct sockaddr_in *si = (struct sockaddr_in *)ss;
        si->sin_family = AF_INET;
        si->sin_port = htons((uint16_t)atoi(spec + 5));
        return inet_pton(AF_INET, at + 1, &si->sin_addr) == 1 ? sizeof(*si) : 0;
    }
    if (strncmp(spec, "inet6:", 6) == 0 && at != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        char host[64];
        snprintf(host, sizeof(host), "%s", at + 1 + (at[1] == '['));
        host[strcspn(host, "]")] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)atoi(spec + 6));
        return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? sizeof(*s6) : 0;
    }
    return 0;
}

/* Connect to the milter (retrying briefly while it is not listening); fd or -1 with errno. */
static int
open_socket(const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t sl = parse_spec(spec, &ss);
    struct timeval tv = {opt_timeout, 0};
    int fd, one = 1, tries, err;

    if (sl == 0) {
        errno = EINVAL;
        return -1;
    }
    for (tries = 0; tries < 50; tries++) {
        if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (ss.ss_family != AF_UNIX)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
            return fd;
        err = errno;
        close(fd);
        errno = err;
        if (err != EAGAIN && err != ECONNREFUSED && err != EINTR)
            return -1;
        usleep(20000);
    }
    return -1;
}

/* Negotiate protocol version 6, offering all actions and steps. */
static int
negotiate(struct conn *c)
{
    uint32_t v[3] = {htonl(SMFI_PROT_VERSION), htonl(SMFI_CURR_ACTS), htonl(SMFI_CURR_PROT)};
    uint32_t got[3];
    size_t dlen;
    int cmd;

    pkt_begin(c);
    pkt_put(c, v, sizeof(v));
    if (pkt_send(c, SMFIC_OPTNEG) < 0)
        return -1;
    if ((cmd = read_pkt(c, &dlen)) < 0)
        return -1;
    if (cmd != SMFIC_OPTNEG || dlen < sizeof(got)) {
        warnc(c, "bad negotiation reply '%c' (%zu bytes)", cmd, dlen);
        return -1;
    }
    memcpy(got, c->rbuf, sizeof(got));
    if (ntohl(got[0]) < 2 || ntohl(got[0]) > SMFI_PROT_VERSION ||
        (ntohl(got[1]) & ~SMFI_CURR_ACTS) != 0 ||
        (ntohl(got[2]) & ~(SMFI_CURR_PROT | SMFI_INTERNAL)) != 0) {
        warnc(c, "milter asked for version %u actions 0x%x protocol 0x%x", ntohl(got[0]),
              ntohl(got[1]), ntohl(got[2]));
        return -1;
    }
    c->pflags = ntohl(got[2]);
    if (opt_verbose)
        fprintf(stderr, "conn %d negotiated version %u actions 0x%x protocol 0x%x\n", c->id,
                ntohl(got[0]), ntohl(got[1]), c->pflags);
    return 0;
}

/* Open the connection and send connect and HELO; returns how the milter answered. */
static enum outcome
start_conn(struct conn *c)
{
    char port[8], host[64];
    const char *client = opt_client;
    char family = strchr(client, ':') ? SMFIA_INET6 : SMFIA_INET;
    uint16_t p = htons((uint16_t)(10000 + c->id));
    enum outcome r;

    if ((c->fd = open_socket(opt_socket)) < 0) {
        warnc(c, "cannot connect to %s: %s", opt_socket, strerror(errno));
        return OUT_ERROR;
    }
    if (negotiate(c) < 0)
        return OUT_ERROR;
    snprintf(port, sizeof(port), "%u", 10000u + (unsigned)c->id);
    snprintf(host, sizeof(host), "client%d.example", c->id);
    if (!(c->pflags & SMFIP_NOCONNECT) &&
        send_macros(c, SMFIC_CONNECT, "{daemon_name}", opt_daemon, "{client_addr}", client,
                    "{client_port}", port, "j", "mx.example", NULL) < 0)
        return OUT_ERROR;
    pkt_begin(c);
    pkt_str(c, host);
    pkt_put(c, &family, 1);
    pkt_put(c, &p, 2);
    pkt_str(c, client);
    if ((r = step(c, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, "connect")) != OUT_CONTINUE)
        return r;
    pkt_begin(c);
    pkt_str(c, host);
    return step(c, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, "helo");
}

/* Wait (at most the timeout) until the -w file exists. */
static enum outcome
wait_go(struct conn *c)
{
    int i;

    for (i = 0; opt_wait != NULL && access(opt_wait, F_OK) != 0; i++) {
        if (i >= opt_timeout * 100) {
            warnc(c, "%s did not appear", opt_wait);
            return OUT_ERROR;
        }
        usleep(10000);
    }
    return OUT_CONTINUE;
}

/* Thread body: one milter connection sending its messages. */
static void *
run_conn(void *arg)
{
    struct conn *c = arg;
    enum outcome r;
    int i, early;

    c->fd = -1;
    r = start_conn(c);
    if (r == OUT_CONTINUE)
        r = wait_go(c);
    for (i = 0; i < opt_msgs; i++) {
        if (r != OUT_CONTINUE) {
            /* The connection was refused or accepted as a whole, or it broke. */
            c->tagged = c->quarantined = 0;
            count(c, r == OUT_SKIP ? OUT_ERROR : r);
            continue;
        }
        enum outcome m = do_message(c, i + 1, &early);
        count(c, m);
        if (m == OUT_ERROR || m == OUT_SKIP)
            r = OUT_ERROR;
        else if (early) {
            pkt_begin(c);
            if (pkt_send(c, SMFIC_ABORT) < 0)
                r = OUT_ERROR;
        }
    }
    if (c->fd >= 0) {
        if (r != OUT_ERROR) {
            pkt_begin(c);
            pkt_send(c, SMFIC_QUIT);
        }
        close(c->fd);
    }
    if (r == OUT_ERROR && opt_msgs == 0)
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

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: pmdrive -S socket [-c conns] [-m msgs] [-f sender] [-r rcpt]... "
                    "[-R n] [-a login] [-d daemon_name] [-i client_addr] [-b body_bytes] "
                    "[-t timeout_s] [-w file] [-v]\n");
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

    while ((ch = getopt(argc, argv, "S:c:m:f:r:R:a:d:i:b:t:w:v")) != -1) {
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
        case 'b':
            opt_body = atol(optarg);
            break;
        case 't':
            opt_timeout = atoi(optarg);
            break;
        case 'w':
            opt_wait = optarg;
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

    conns = calloc((size_t)opt_conns, sizeof(*conns));
    tids = calloc((size_t)opt_conns, sizeof(*tids));
    for (i = 0; i < opt_conns; i++) {
        conns[i].id = i + 1;
        conns[i].buf = malloc(BUF_SIZE);
        conns[i].rbuf = malloc(MAX_REPLY);
        if (conns[i].buf == NULL || conns[i].rbuf == NULL ||
            pthread_create(&tids[i], NULL, run_conn, &conns[i]) != 0) {
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
    for (i = 0; i < opt_conns; i++) {
        free(conns[i].buf);
        free(conns[i].rbuf);
    }
    free(conns);
    free(tids);
    for (i = 0; i < MAX_TEXTS && texts[i] != NULL; i++)
        free(texts[i]);
    for (i = opt_nrcpts - gen; i < opt_nrcpts; i++)
        if (gen > 0)
            free((char *)opt_rcpts[i]);
    return t.errors == 0 ? 0 : 1;
}
