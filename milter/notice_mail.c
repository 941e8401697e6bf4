/*
 * notice_mail.c - the notices as mail: their texts, and the run of Postfix's
 * sendmail that submits them.
 *
 * DESCRIPTION
 *     A notice is plain text in UTF-8, in the style of postmeter's replies:
 *     who, what happened (the signal and its figures), since when, what
 *     happens to the mail, how much of it and which queue ids, and what to
 *     do. Everything taken from the store (sender, signal, figures, note,
 *     queue ids) has its control characters made spaces, so that it cannot
 *     start a header line of its own.
 *
 *     sendmail runs without a shell: "sendmail [-C DIR] -i -f <> -- RCPT...",
 *     with the message on its standard input and a small fixed environment.
 *     The envelope sender is the null sender: postmeter never meters the null
 *     sender, so a notice cannot count towards a limit or open an incident of
 *     its own, and a notice that cannot be delivered makes no bounce. The run
 *     is bounded by notify.timeout_seconds: past it sendmail is killed. A
 *     non-zero exit status is a failure. With notify.smtp set (or under
 *     no_new_privs, where sendmail cannot queue) the same message goes by
 *     SMTP instead (notice_smtp.c).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#define _GNU_SOURCE /* pipe2, closefrom */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "notice_int.h"
#include "zone.h"

/* Copy s into out with control characters made spaces. */
void
pm_notice_clean(const char *s, char *out, size_t len)
{
    size_t i;

    if (len == 0)
        return;
    for (i = 0; s && s[i] && i + 1 < len; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
    out[i] = '\0';
}

/* The headers every notice starts with, then the blank line. */
void
pm_notice_headers(struct pm_buf *b, const struct notice_cfg *c, const char *const *to, size_t n,
                  const char *subject, long long now, unsigned seq)
{
    time_t t = (time_t)now;
    struct tm tm;
    char date[64];
    size_t i;

    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    pm_buf_printf(b, "Date: %s\n", date);
    pm_buf_printf(b, "Message-ID: <postmeter.%lld.%ld.%u@%s>\n", now, (long)getpid(), seq, c->host);
    pm_buf_printf(b, "From: postmeter <%s>\n", c->from);
    pm_buf_str(b, "To: ");
    for (i = 0; i < n; i++)
        pm_buf_printf(b, "%s%s", i ? ",\n    " : "", to[i]);
    pm_buf_printf(b, "\nSubject: %s\n", subject);
    pm_buf_str(b, "Auto-Submitted: auto-generated\n"
                  "MIME-Version: 1.0\n"
                  "Content-Type: text/plain; charset=utf-8\n"
                  "Content-Transfer-Encoding: 8bit\n\n");
}

/* The cleaned fields of an incident. */
struct clean {
    char sender[320], signal[48], figures[256], by[160], note[256], ids[PM_INCIDENT_IDS * 20];
    char since[64], until[64];
};

/* Clean the fields of inc into k. */
static void
clean_incident(const struct pm_incident *inc, struct clean *k)
{
    pm_notice_clean(inc->sender, k->sender, sizeof(k->sender));
    pm_notice_clean(inc->signal, k->signal, sizeof(k->signal));
    pm_notice_clean(inc->figures, k->figures, sizeof(k->figures));
    pm_notice_clean(inc->by, k->by, sizeof(k->by));
    pm_notice_clean(inc->note, k->note, sizeof(k->note));
    pm_notice_clean(inc->ids, k->ids, sizeof(k->ids));
    pm_zone_format(inc->at, "%Y-%m-%d %H:%M", 1, k->since, sizeof(k->since));
    k->until[0] = '\0';
    if (inc->until > 0)
        pm_zone_format(inc->until, "%Y-%m-%d %H:%M", 1, k->until, sizeof(k->until));
}

/* 1 when action means the mail is held (else it is tempfailed). */
static int
is_held(const char *action)
{
    return strcmp(action, "held") == 0;
}

/* The admin notice of inc. */
void
pm_notice_admin_text(struct pm_buf *b, const struct notice_cfg *c, const struct pm_incident *inc,
                     const char *action, long long now, unsigned seq)
{
    struct clean k;
    char subject[512];
    int held = is_held(action);

    clean_incident(inc, &k);
    snprintf(subject, sizeof(subject), "postmeter: outgoing mail of %s %s: %s", k.sender,
             held ? "held" : "tempfailed", k.signal);
    pm_notice_headers(b, c, (const char *const *)c->admin, c->n_admin, subject, now, seq);
    pm_buf_printf(b, "<%s>: outgoing mail %s since %s: %s", k.sender, held ? "held" : "tempfailed",
                  k.since, k.signal);
    pm_buf_printf(b, "%s%s%s\n\n", *k.figures ? " (" : "", k.figures, *k.figures ? ")" : "");
    pm_buf_printf(b, "Opened by %s.%s%s\n", k.by, *k.note ? " Note: " : "", k.note);
    if (held)
        pm_buf_str(b, "Its mail goes to Postfix's hold queue: nothing is lost, and nothing\n"
                      "leaves until the incident is released.\n");
    else
        pm_buf_str(b, "Its mail is refused with a temporary error (451 4.7.1): the sending\n"
                      "program keeps it and tries again later.\n");
    pm_buf_printf(b, "Messages %s so far: %lld%s%s%s\n", held ? "held" : "refused", inc->held,
                  *k.ids ? " (queue ids: " : "", k.ids, *k.ids ? ")" : "");
    if (*k.until)
        pm_buf_printf(b, "The incident ends by itself at %s.\n", k.until);
    pm_buf_printf(b,
                  "\nIf the mailbox may have been taken over, change the mailbox's password\n"
                  "first. Then, on each mail server:\n\n"
                  "  postmeterctl incident show %s\n"
                  "  postmeterctl incident release %s --requeue\n"
                  "      (the mail is legitimate: send it)\n"
                  "  postmeterctl incident release %s --drop\n"
                  "      (the mail is spam: delete it)\n",
                  k.sender, k.sender, k.sender);
}

/* The sender's notice of inc. */
void
pm_notice_sender_text(struct pm_buf *b, const struct notice_cfg *c, const struct pm_incident *inc,
                      const char *action, long long now, unsigned seq)
{
    struct clean k;
    const char *to[1];
    size_t i;
    int held = is_held(action);

    clean_incident(inc, &k);
    to[0] = k.sender;
    pm_notice_headers(b, c, to, 1,
                      held ? "Your outgoing mail is held" : "Your outgoing mail is paused", now,
                      seq);
    pm_buf_printf(b, "<%s>: your outgoing mail is %s since %s: %s", k.sender,
                  held ? "held" : "paused", k.since, k.signal);
    pm_buf_printf(b, "%s%s%s\n\n", *k.figures ? " (" : "", k.figures, *k.figures ? ")" : "");
    if (held)
        pm_buf_str(b, "What you send now is kept on the mail server and not delivered until\n"
                      "an administrator has looked at it.\n");
    else
        pm_buf_str(b, "What you send now is refused for the moment; your mail program keeps\n"
                      "it and tries again later.\n");
    pm_buf_str(b, "If you did not send this mail, someone else may know your password.\n\n"
                  "Please contact your administrator:\n");
    for (i = 0; i < c->n_admin; i++)
        pm_buf_printf(b, "  %s\n", c->admin[i]);
}

/* Write all of msg to fd before deadline (ms); 0 or -1. */
static int
write_all(int fd, const char *msg, size_t len, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    ssize_t w;

    while (len > 0) {
        long long left = deadline - pm_mono_ms();

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        if ((w = write(fd, msg, len)) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        msg += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read the child's output (its first line kept in out) until EOF or deadline; 0 at EOF. */
static int
read_output(int fd, char *out, size_t outlen, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    size_t have = 0;
    char buf[512];
    ssize_t n;

    out[0] = '\0';
    for (;;) {
        long long left = deadline - pm_mono_ms();

        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        if ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (have + 1 < outlen) {
            size_t take = (size_t)n < outlen - 1 - have ? (size_t)n : outlen - 1 - have;

            memcpy(out + have, buf, take);
            have += take;
            out[have] = '\0';
        }
    }
}

/* Wait for pid until deadline, killing it then; its wait status, or -1 after a kill. */
static int
reap(pid_t pid, long long deadline)
{
    int status;
    pid_t r;

    for (;;) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (pm_mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        usleep(10000);
    }
}

/* Run sendmail with msg on its standard input, to rcpts, from the null sender. */
int
pm_notice_sendmail(const struct notice_cfg *c, const char *const *rcpts, size_t n, const char *msg,
                   size_t len, char *why, size_t whylen)
{
    const char **argv = calloc(n + 8, sizeof(*argv));
    char env_cfg[1100], out[256], *nl;
    const char *envp[3] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL, NULL};
    long long deadline = pm_mono_ms() + (long long)c->timeout_s * 1000;
    int in[2] = {-1, -1}, err[2] = {-1, -1}, status, wrote, rc = -1;
    size_t a = 0, i;
    pid_t pid;

    if (!argv) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    argv[a++] = c->sendmail;
    if (*c->config_dir) {
        argv[a++] = "-C";
        argv[a++] = c->config_dir;
        snprintf(env_cfg, sizeof(env_cfg), "MAIL_CONFIG=%s", c->config_dir);
        envp[1] = env_cfg;
    }
    argv[a++] = "-i";
    argv[a++] = "-f";
    argv[a++] = "<>";
    argv[a++] = "--";
    for (i = 0; i < n; i++)
        argv[a++] = rcpts[i];
    argv[a] = NULL;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "cannot make a pipe: %s", strerror(errno));
        goto out;
    }
    if ((pid = fork()) < 0) {
        snprintf(why, whylen, "cannot fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) { /* the child: async-signal-safe calls only */
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (dup2(in[0], 0) < 0 || dup2(err[1], 1) < 0 || dup2(err[1], 2) < 0)
            _exit(127);
        closefrom(3);
        execve(c->sendmail, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(in[0]);
    close(err[1]);
    in[0] = err[1] = -1;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    wrote = write_all(in[1], msg, len, deadline);
    close(in[1]);
    in[1] = -1;
    read_output(err[0], out, sizeof(out), deadline);
    if ((nl = strchr(out, '\n')) != NULL)
        *nl = '\0';
    status = reap(pid, deadline);
    if (status < 0)
        snprintf(why, whylen, "%s killed after %d s", c->sendmail, c->timeout_s);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*out)
        snprintf(why, whylen, "cannot run %s", c->sendmail);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        snprintf(why, whylen, "%s exited with status %d%s%.200s", c->sendmail,
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), *out ? ": " : "",
                 out);
    else if (wrote < 0)
        snprintf(why, whylen, "%s did not read the whole message", c->sendmail);
    else
        rc = 0;
out:
    for (i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    free(argv);
    return rc;
}

/* Send msg by SMTP when c->smtp is set, else by sendmail. */
int
pm_notice_submit(const struct notice_cfg *c, const char *const *rcpts, size_t n, const char *msg,
                 size_t len, char *why, size_t whylen)
{
    if (*c->smtp)
        return pm_notice_smtp(c, rcpts, n, msg, len, why, whylen);
    return pm_notice_sendmail(c, rcpts, n, msg, len, why, whylen);
}

/* Send a whole message to the administrators. */
int
pm_notice_mail_admins(const struct notice_cfg *c, const char *msg, size_t len, char *why,
                      size_t whylen)
{
    return pm_notice_submit(c, (const char *const *)c->admin, c->n_admin, msg, len, why, whylen);
}
