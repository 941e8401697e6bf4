/*
 * NAME
 *   milterclient - the MTA side of the milter protocol, for the test and bench tools
 *
 * DESCRIPTION
 *   Command framing, replies, negotiation and the connect and HELO steps of
 *   one milter connection; see milterclient.h. Every read and write has the
 *   socket timeout given to mc_start, so a tool never hangs on a milter.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "milterclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

const char *mc_progname = "milterclient";

/* Set up a closed connection with its buffers (queued: keep commands until a reply is due). */
int
mc_init(struct mc_conn *c, int id, int queued)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->fd = -1;
    c->buf = malloc(MC_BUF_SIZE);
    c->rbuf = malloc(MC_MAX_REPLY);
    c->obuf = queued ? malloc(MC_OBUF_SIZE) : NULL;
    return c->buf && c->rbuf && (c->obuf || !queued) ? 0 : -1;
}

/* Free a connection's buffers. */
void
mc_free(struct mc_conn *c)
{
    free(c->buf);
    free(c->rbuf);
    free(c->obuf);
    c->buf = c->rbuf = c->obuf = NULL;
}

/* Print a diagnostic about one connection on stderr. */
void
mc_warn(const struct mc_conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "%s: conn %d: ", mc_progname, c->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Start building a command's data (after the 4-byte length and the command byte). */
void
mc_begin(struct mc_conn *c)
{
    c->len = 5;
}

/* Append bytes to the command being built (cut at the buffer's end). */
void
mc_put(struct mc_conn *c, const void *p, size_t n)
{
    if (c->len + n > MC_BUF_SIZE)
        n = MC_BUF_SIZE - c->len;
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

/* Append a NUL-terminated string to the command being built. */
void
mc_str(struct mc_conn *c, const char *s)
{
    mc_put(c, s, strlen(s) + 1);
}

/* Write n bytes, honouring the socket's send timeout; what failed goes in the diagnostic. */
static int
write_full(struct mc_conn *c, const unsigned char *p, size_t n, const char *what)
{
    size_t off = 0;

    while (off < n) {
        ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            mc_warn(c, "%s: %s", what, w < 0 ? strerror(errno) : "closed");
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Write out the queued commands; 0 or -1. */
int
mc_flush(struct mc_conn *c)
{
    int r = c->olen ? write_full(c, c->obuf, c->olen, "write") : 0;

    c->olen = 0;
    return r;
}

/* Frame the command built so far and write it (or queue it); 0 or -1. */
int
mc_send(struct mc_conn *c, char cmd)
{
    uint32_t n = htonl((uint32_t)(c->len - 4));
    char what[32];

    memcpy(c->buf, &n, 4);
    c->buf[4] = (unsigned char)cmd;
    if (c->obuf == NULL) {
        snprintf(what, sizeof(what), "write of command '%c'", cmd);
        return write_full(c, c->buf, c->len, what);
    }
    if (c->olen + c->len > MC_OBUF_SIZE && mc_flush(c) < 0)
        return -1;
    memcpy(c->obuf + c->olen, c->buf, c->len);
    c->olen += c->len;
    return 0;
}

/* Read exactly n bytes, honouring the socket's receive timeout. */
static int
read_full(struct mc_conn *c, void *p, size_t n)
{
    size_t off = 0;

    while (off < n) {
        ssize_t r = recv(c->fd, (char *)p + off, n - off, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            mc_warn(c, "read: %s",
                    r == 0                                      ? "connection closed"
                    : (errno == EAGAIN || errno == EWOULDBLOCK) ? "timeout"
                                                                : strerror(errno));
            return -1;
        }
        off += (size_t)r;
    }
    return 0;
}

/* Write what is queued, then read one reply packet into c->rbuf; its command or -1. */
static int
read_pkt(struct mc_conn *c, size_t *dlen)
{
    uint32_t n;
    unsigned char cmd;

    if (mc_flush(c) < 0 || read_full(c, &n, 4) < 0)
        return -1;
    n = ntohl(n);
    if (n == 0 || n > MC_MAX_REPLY) {
        mc_warn(c, "bad reply length %u", n);
        return -1;
    }
    if (read_full(c, &cmd, 1) < 0 || read_full(c, c->rbuf, n - 1) < 0)
        return -1;
    c->rbuf[n - 1] = '\0';
    *dlen = n - 1;
    return cmd;
}

/* Pass a refusal's text to the caller's note_text, if any. */
static void
note(struct mc_conn *c, const char *text)
{
    if (c->note_text)
        c->note_text(text);
}

/* Read replies until a final one; notes header additions, quarantine and refusal texts. */
enum mc_outcome
mc_await(struct mc_conn *c, const char *step)
{
    for (;;) {
        size_t dlen;
        int cmd = read_pkt(c, &dlen);

        if (cmd < 0)
            return MC_ERROR;
        if (c->verbose)
            fprintf(stderr, "conn %d %s: '%c' %s\n", c->id, step, cmd,
                    cmd == SMFIR_REPLYCODE || cmd == SMFIR_QUARANTINE ? (char *)c->rbuf : "");
        switch (cmd) {
        case SMFIR_CONTINUE:
            return MC_CONTINUE;
        case SMFIR_ACCEPT:
            return MC_ACCEPT;
        case SMFIR_SKIP:
            return MC_SKIP;
        case SMFIR_REJECT:
            note(c, "(reject)");
            return MC_REJECT;
        case SMFIR_TEMPFAIL:
            note(c, "(tempfail)");
            return MC_TEMPFAIL;
        case SMFIR_DISCARD:
            note(c, "(discard)");
            return MC_DISCARD;
        case SMFIR_REPLYCODE:
            note(c, (char *)c->rbuf);
            if (c->rbuf[0] == '4')
                return MC_TEMPFAIL;
            if (c->rbuf[0] == '5')
                return MC_REJECT;
            mc_warn(c, "%s: bad reply code text '%s'", step, (char *)c->rbuf);
            return MC_ERROR;
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
            mc_warn(c, "%s: unexpected reply '%c'", step, cmd);
            return MC_ERROR;
        }
    }
}

/* Send the built command unless skipped; await a reply unless none is due. */
enum mc_outcome
mc_step(struct mc_conn *c, char cmd, uint32_t skip_flag, uint32_t noreply_flag, const char *name)
{
    if (skip_flag && (c->pflags & skip_flag))
        return MC_CONTINUE;
    if (mc_send(c, cmd) < 0)
        return MC_ERROR;
    if (noreply_flag && (c->pflags & noreply_flag))
        return MC_CONTINUE;
    return mc_await(c, name);
}

/* Send macros (name, value pairs, NULL-terminated) for a stage unless skip_flag was negotiated. */
int
mc_macros(struct mc_conn *c, char stage, uint32_t skip_flag, ...)
{
    va_list ap;
    const char *s;

    if (skip_flag && (c->pflags & skip_flag))
        return 0;
    mc_begin(c);
    mc_put(c, &stage, 1);
    va_start(ap, skip_flag);
    while ((s = va_arg(ap, const char *)) != NULL)
        mc_str(c, s);
    va_end(ap);
    return mc_send(c, SMFIC_MACRO);
}

/* Send one header (name, value). */
enum mc_outcome
mc_header(struct mc_conn *c, const char *name, const char *value)
{
    mc_begin(c);
    mc_str(c, name);
    if (c->pflags & SMFIP_HDR_LEADSPC)
        mc_put(c, " ", 1);
    mc_str(c, value);
    return mc_step(c, SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, "header");
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

/* Connect to the milter (retrying briefly while it is not listening or busy); fd or -1 with errno.
 */
static int
open_socket(const char *spec, int timeout_s, int nodelay)
{
    struct sockaddr_storage ss;
    socklen_t sl = parse_spec(spec, &ss);
    struct timeval tv = {timeout_s, 0};
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
        if (nodelay && ss.ss_family != AF_UNIX)
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

/* Negotiate protocol version 6, offering all actions and steps; 0 or -1. */
static int
negotiate(struct mc_conn *c)
{
    uint32_t v[3] = {htonl(SMFI_PROT_VERSION), htonl(SMFI_CURR_ACTS), htonl(SMFI_CURR_PROT)};
    uint32_t got[3];
    size_t dlen;
    int cmd;

    mc_begin(c);
    mc_put(c, v, sizeof(v));
    if (mc_send(c, SMFIC_OPTNEG) < 0 || (cmd = read_pkt(c, &dlen)) < 0)
        return -1;
    if (cmd != SMFIC_OPTNEG || dlen < sizeof(got)) {
        mc_warn(c, "bad negotiation reply '%c' (%zu bytes)", cmd, dlen);
        return -1;
    }
    memcpy(got, c->rbuf, sizeof(got));
    if (ntohl(got[0]) < 2 || ntohl(got[0]) > SMFI_PROT_VERSION ||
        (ntohl(got[1]) & ~SMFI_CURR_ACTS) != 0 ||
        (ntohl(got[2]) & ~(SMFI_CURR_PROT | SMFI_INTERNAL)) != 0) {
        mc_warn(c, "milter asked for version %u actions 0x%x protocol 0x%x", ntohl(got[0]),
                ntohl(got[1]), ntohl(got[2]));
        return -1;
    }
    c->pflags = ntohl(got[2]);
    if (c->verbose)
        fprintf(stderr, "conn %d negotiated version %u actions 0x%x protocol 0x%x\n", c->id,
                ntohl(got[0]), ntohl(got[1]), c->pflags);
    return 0;
}

/* Connect to unix:PATH, inet:PORT@ADDR or inet6:PORT@ADDR, negotiate, send connect and HELO. */
enum mc_outcome
mc_start(struct mc_conn *c, const char *spec, int timeout_s, int nodelay, const char *daemon,
         const char *client)
{
    char port[8], host[64];
    char family = strchr(client, ':') ? SMFIA_INET6 : SMFIA_INET;
    uint16_t p = htons((uint16_t)(10000 + c->id));
    enum mc_outcome r;

    if ((c->fd = open_socket(spec, timeout_s, nodelay)) < 0) {
        mc_warn(c, "cannot connect to %s: %s", spec, strerror(errno));
        return MC_ERROR;
    }
    if (negotiate(c) < 0)
        return MC_ERROR;
    snprintf(port, sizeof(port), "%u", 10000u + (unsigned)c->id);
    snprintf(host, sizeof(host), "client%d.example", c->id);
    if (mc_macros(c, SMFIC_CONNECT, SMFIP_NOCONNECT, "{daemon_name}", daemon, "{client_addr}",
                  client, "{client_port}", port, "j", "mx.example", NULL) < 0)
        return MC_ERROR;
    mc_begin(c);
    mc_str(c, host);
    mc_put(c, &family, 1);
    mc_put(c, &p, 2);
    mc_str(c, client);
    if ((r = mc_step(c, SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, "connect")) != MC_CONTINUE)
        return r;
    mc_begin(c);
    mc_str(c, host);
    return mc_step(c, SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, "helo");
}

/* Close the connection (QUIT first unless it broke). */
void
mc_close(struct mc_conn *c, int broken)
{
    if (c->fd < 0)
        return;
    if (!broken) {
        mc_begin(c);
        if (mc_send(c, SMFIC_QUIT) == 0)
            mc_flush(c);
    }
    c->olen = 0;
    close(c->fd);
    c->fd = -1;
}
