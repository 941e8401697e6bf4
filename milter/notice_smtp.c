/*
 * notice_smtp.c - the notices submitted by SMTP to the local Postfix (when
 * notify.smtp is set, or when no_new_privs keeps sendmail from working).
 *
 * DESCRIPTION
 *     One short session per message: connect, EHLO (HELO when EHLO is
 *     refused), MAIL FROM:<> (the null sender, as the sendmail path), RCPT
 *     TO each recipient (one refused: the others still get it, and the
 *     refusal is reported; none accepted: a failure), DATA with the message's
 *     lines ended by CRLF and dot-stuffed, QUIT. The whole session, connect
 *     included, is bounded by notify.timeout_seconds. Any reply not expected
 *     is a failure whose text quotes the server's reply.
 *
 *     Why not sendmail: Postfix's sendmail hands the message to postdrop,
 *     which is set-group-id; under no_new_privs (systemd's NoNewPrivileges=,
 *     as in the shipped unit) that bit is ignored and postdrop cannot write
 *     the maildrop. pm_notice_nnp() tells when that is so.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE /* MSG_NOSIGNAL */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "notice_int.h"

#define REPLY_MAX 4096 /* one whole reply, all its lines */

/* One session: the socket, its deadline, the reply read. */
struct sess {
    int fd;
    long long deadline;
    int timeout_s; /* for the message when it passes */
    char in[REPLY_MAX + 1];
    size_t have;
    int code;
    char text[512]; /* the last reply, its lines joined by " / " */
};

/* Parse one reply at the start of buf; 1 with *code and *used, 0 incomplete, -1 malformed. */
int
pm_notice_smtp_reply(const char *buf, size_t len, int *code, size_t *used)
{
    size_t pos = 0;
    int first = -1;

    while (pos < len) {
        const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll;
        int c;

        if (!nl)
            return 0;
        ll = (size_t)(nl - line);
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
            line[2] < '0' || line[2] > '9' || (ll > 3 && line[3] != ' ' && line[3] != '-'))
            return -1;
        c = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (first >= 0 && c != first)
            return -1;
        first = c;
        pos = (size_t)(nl - buf) + 1;
        if (ll == 3 || line[3] == ' ') {
            *code = c;
            *used = pos;
            return 1;
        }
    }
    return 0;
}

/* The reply's lines in text, CR/LF made " / " and control characters spaces. */
static void
reply_text(struct sess *s, size_t used)
{
    size_t i, o = 0;

    for (i = 0; i < used && o + 4 < sizeof(s->text); i++) {
        char ch = s->in[i];

        if (ch == '\r')
            continue;
        if (ch == '\n') {
            if (i + 1 < used) {
                memcpy(s->text + o, " / ", 3);
                o += 3;
            }
            continue;
        }
        s->text[o++] = ((unsigned char)ch < 0x20 || ch == 0x7f) ? ' ' : ch;
    }
    s->text[o] = '\0';
}

/* Wait for fd to be ready for events before the deadline; 0, or -1 (timeout). */
static int
wait_fd(struct sess *s, short events)
{
    struct pollfd p = {.fd = s->fd, .events = events};
    long long left;
    int r;

    for (;;) {
        if ((left = s->deadline - pm_mono_ms()) <= 0)
            return -1;
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r == 0 || errno != EINTR)
            return -1;
    }
}

/* Read one whole reply into s (code and text); 0, or -1 with why set. */
static int
read_reply(struct sess *s, const char *step, char *why, size_t whylen)
{
    size_t used;
    ssize_t n;
    int r;

    for (;;) {
        r = pm_notice_smtp_reply(s->in, s->have, &s->code, &used);
        if (r < 0 || (r == 0 && s->have == REPLY_MAX)) {
            s->in[s->have] = '\0';
            reply_text(s, s->have);
            snprintf(why, whylen, "%s: not an SMTP reply: %.200s", step, s->text);
            return -1;
        }
        if (r == 1)
            break;
        if (wait_fd(s, POLLIN) != 0) {
            snprintf(why, whylen, "%s: no reply within %d s", step, s->timeout_s);
            return -1;
        }
        n = recv(s->fd, s->in + s->have, REPLY_MAX - s->have, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            snprintf(why, whylen, "%s: connection closed%s%s", step, n < 0 ? ": " : "",
                     n < 0 ? strerror(errno) : "");
            return -1;
        }
        s->have += (size_t)n;
    }
    reply_text(s, used);
    memmove(s->in, s->in + used, s->have - used);
    s->have -= used;
    return 0;
}

/* Send len bytes of data before the deadline; 0, or -1 with why set. */
static int
send_all(struct sess *s, const char *data, size_t len, const char *step, char *why, size_t whylen)
{
    ssize_t n;

    while (len > 0) {
        if (wait_fd(s, POLLOUT) != 0) {
            snprintf(why, whylen, "%s: timed out sending", step);
            return -1;
        }
        n = send(s->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            snprintf(why, whylen, "%s: %s", step, strerror(errno));
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Send a command line and read its reply; the reply's code, or -1 with why set. */
static int
command(struct sess *s, const char *line, const char *step, char *why, size_t whylen)
{
    char out[600];
    int n = snprintf(out, sizeof(out), "%s\r\n", line);

    if (n < 0 || (size_t)n >= sizeof(out)) {
        snprintf(why, whylen, "%s: command too long", step);
        return -1;
    }
    if (send_all(s, out, (size_t)n, step, why, whylen) != 0 ||
        read_reply(s, step, why, whylen) != 0)
        return -1;
    return s->code;
}

/* The message with CRLF line ends, dot-stuffed, then "." (the DATA); NULL when out of memory. */
static char *
data_of(const char *msg, size_t len, size_t *outlen)
{
    struct pm_buf b;
    size_t i, start = 0;
    char *out;

    pm_buf_growing(&b);
    for (i = 0; i <= len; i++) {
        if (i < len && msg[i] != '\n')
            continue;
        if (i == len && start == len)
            break;
        if (start < len && msg[start] == '.')
            pm_buf_add(&b, ".", 1);
        pm_buf_add(&b, msg + start, i - start - (i > start && msg[i - 1] == '\r'));
        pm_buf_add(&b, "\r\n", 2);
        start = i + 1;
    }
    pm_buf_add(&b, ".\r\n", 3);
    if (!(out = pm_buf_take(&b)))
        return NULL;
    *outlen = strlen(out);
    return out;
}

/* Connect to addr:port before the deadline; the socket, or -1 with why set. */
static int
dial(const char *addr, int port, long long deadline, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    struct sess s = {.deadline = deadline};
    socklen_t sl, el = sizeof(int);
    int err = 0;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((unsigned short)port);
        sl = sizeof(*v4);
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((unsigned short)port);
        sl = sizeof(*v6);
    } else {
        snprintf(why, whylen, "not an IP address");
        return -1;
    }
    if ((s.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        snprintf(why, whylen, "cannot make a socket: %s", strerror(errno));
        return -1;
    }
    if (connect(s.fd, (struct sockaddr *)&ss, sl) != 0) {
        if (errno != EINPROGRESS)
            err = errno;
        else if (wait_fd(&s, POLLOUT) != 0)
            err = ETIMEDOUT;
        else if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
    }
    if (err) {
        snprintf(why, whylen, "cannot connect: %s", strerror(err));
        close(s.fd);
        return -1;
    }
    return s.fd;
}

/* The session itself on s; 0 sent, 1 sent with some recipients refused (in why), -1 failed. */
static int
session(struct sess *s, const struct notice_cfg *c, const char *const *rcpts, size_t n,
        const char *msg, size_t len, char *why, size_t whylen)
{
    char line[600], refused[400] = "";
    size_t i, ok = 0, dlen;
    char *data;
    int code, rc, mime8;

    if (read_reply(s, "greeting", why, whylen) != 0)
        return -1;
    if (s->code != 220) {
        snprintf(why, whylen, "greeting: %.300s", s->text);
        return -1;
    }
    snprintf(line, sizeof(line), "EHLO %s", c->host);
    if ((code = command(s, line, "EHLO", why, whylen)) < 0)
        return -1;
    mime8 = code == 250 && strstr(s->text, "8BITMIME") != NULL; /* the notices are 8bit */
    if (code != 250) {
        snprintf(line, sizeof(line), "HELO %s", c->host);
        if ((code = command(s, line, "HELO", why, whylen)) < 0)
            return -1;
        if (code != 250) {
            snprintf(why, whylen, "HELO: %.300s", s->text);
            return -1;
        }
    }
    if ((code = command(s, mime8 ? "MAIL FROM:<> BODY=8BITMIME" : "MAIL FROM:<>", "MAIL FROM", why,
                        whylen)) < 0)
        return -1;
    if (code != 250) {
        snprintf(why, whylen, "MAIL FROM:<>: %.300s", s->text);
        return -1;
    }
    for (i = 0; i < n; i++) {
        snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpts[i]);
        if ((code = command(s, line, "RCPT TO", why, whylen)) < 0)
            return -1;
        if (code == 250 || code == 251) {
            ok++;
        } else {
            size_t have = strlen(refused);

            snprintf(refused + have, sizeof(refused) - have, "%s<%.100s>: %.200s", have ? "; " : "",
                     rcpts[i], s->text);
        }
    }
    if (ok == 0) {
        snprintf(why, whylen, "no recipient accepted: %.400s", refused);
        return -1;
    }
    if ((code = command(s, "DATA", "DATA", why, whylen)) < 0)
        return -1;
    if (code != 354) {
        snprintf(why, whylen, "DATA: %.300s", s->text);
        return -1;
    }
    if (!(data = data_of(msg, len, &dlen))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    rc = send_all(s, data, dlen, "message", why, whylen);
    free(data);
    if (rc != 0 || read_reply(s, "end of data", why, whylen) != 0)
        return -1;
    if (s->code != 250) {
        snprintf(why, whylen, "end of data: %.300s", s->text);
        return -1;
    }
    (void)send_all(s, "QUIT\r\n", 6, "QUIT", line, sizeof(line)); /* the mail is queued */
    if (*refused) {
        snprintf(why, whylen, "recipients refused: %.400s", refused);
        return 1;
    }
    return 0;
}

/* Submit msg by SMTP to c->smtp, to rcpts, from the null sender. */
int
pm_notice_smtp(const struct notice_cfg *c, const char *const *rcpts, size_t n, const char *msg,
               size_t len, char *why, size_t whylen)
{
    struct sess *s = calloc(1, sizeof(*s));
    char host[64], err[480];
    int port, rc = -1;

    if (!s) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    s->fd = -1;
    s->timeout_s = c->timeout_s;
    s->deadline = pm_mono_ms() + (long long)c->timeout_s * 1000;
    if (pm_notify_smtp_split(c->smtp, host, sizeof(host), &port, err, sizeof(err)) != 0)
        ;
    else if ((s->fd = dial(host, port, s->deadline, err, sizeof(err))) >= 0)
        rc = session(s, c, rcpts, n, msg, len, err, sizeof(err));
    if (rc != 0)
        snprintf(why, whylen, "SMTP to %s: %s", c->smtp, err);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return rc;
}

/* 1 when the text of /proc/self/status says NoNewPrivs is set. */
int
pm_notice_nnp_text(const char *status)
{
    const char *p = status;

    while (p && *p) {
        if (strncmp(p, "NoNewPrivs:", 11) == 0) {
            p += 11;
            while (*p == ' ' || *p == '\t')
                p++;
            return *p == '1';
        }
        if ((p = strchr(p, '\n')))
            p++;
    }
    return 0;
}

/* 1 when the status file at path (/proc/self/status) says NoNewPrivs is set; 0 when not or unread.
 */
int
pm_notice_nnp(const char *path)
{
    char buf[8192];
    size_t n;
    FILE *f = fopen(path, "re");

    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return pm_notice_nnp_text(buf);
}
