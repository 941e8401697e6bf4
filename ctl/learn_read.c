/*
 * learn_read.c - read a log file line by line for postmeterctl learn, with
 * the byte offset of each line in its uncompressed text.
 *
 * A name ending in ".gz" (logrotate's compressed rotations) is read through
 * "gzip -dc", a child process whose output comes through a pipe: gzip is
 * part of every Debian system (Essential: yes), so postmeter needs no
 * compression library, and the decompression runs on another core beside
 * the parsing. Offsets count uncompressed bytes, so mail.log.1 compressed
 * later into mail.log.2.gz keeps its offsets. Any other name is read as it
 * is (a FIFO or a pipe too).
 *
 * A line ends with a newline; an unfinished last line (syslog still writing
 * it) is not returned and its offset is not passed, so a later run reads it
 * whole. A line longer than LEARN_LINE_MAX is returned as too long, and the
 * reading goes on after its newline.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "learn.h"

#define BUF_SIZE (4 * LEARN_LINE_MAX)

/* 1 when name ends in ".gz". */
static int
is_gz(const char *name)
{
    size_t n = strlen(name);

    return n > 3 && strcmp(name + n - 3, ".gz") == 0;
}

/* Start "gzip -dc -- name" with its output on a pipe; 0, or -1 with err. */
static int
open_gzip(struct learn_file *f, char *err, size_t errlen)
{
    int p[2];

    if (pipe(p) != 0) {
        snprintf(err, errlen, "%s: pipe: %s", f->name, strerror(errno));
        return -1;
    }
    if ((f->gzip = fork()) < 0) {
        snprintf(err, errlen, "%s: fork: %s", f->name, strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (f->gzip == 0) {
        signal(SIGPIPE, SIG_DFL); /* postmeterctl ignores it; gzip may die of it quietly */
        close(p[0]);
        if (dup2(p[1], 1) < 0)
            _exit(127);
        close(p[1]);
        execlp("gzip", "gzip", "-dc", "--", f->name, (char *)NULL);
        fprintf(stderr, "postmeterctl: cannot run gzip: %s\n", strerror(errno));
        _exit(127);
    }
    close(p[1]);
    f->fd = p[0];
    fcntl(f->fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Open a log file. */
int
learn_open(struct learn_file *f, const char *name, char *err, size_t errlen)
{
    struct stat sb;

    memset(f, 0, sizeof(*f));
    f->name = name;
    f->fd = -1;
    if (stat(name, &sb) != 0) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return -1;
    }
    f->mtime = (long long)sb.st_mtime;
    if (!(f->buf = malloc(BUF_SIZE))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (is_gz(name)) {
        if (access(name, R_OK) != 0) {
            snprintf(err, errlen, "%s: %s", name, strerror(errno));
        } else if (open_gzip(f, err, errlen) == 0) {
            return 0;
        }
    } else if ((f->fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
    } else {
        f->regular = S_ISREG(sb.st_mode);
        f->size = (long long)sb.st_size;
        return 0;
    }
    free(f->buf);
    f->buf = NULL;
    return -1;
}

/* Read more into the buffer; the bytes read, 0 at the end, -1 on an error. */
static ssize_t
fill(struct learn_file *f)
{
    ssize_t n;

    if (f->eof)
        return 0;
    if (f->beg > 0) {
        memmove(f->buf, f->buf + f->beg, f->end - f->beg);
        f->end -= f->beg;
        f->beg = 0;
    }
    do
        n = read(f->fd, f->buf + f->end, BUF_SIZE - f->end);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        f->err = errno;
        return -1;
    }
    if (n == 0)
        f->eof = 1;
    f->end += (size_t)n;
    return n;
}

/* The next whole line. */
int
learn_line(struct learn_file *f, const char **line, size_t *len, int *toolong)
{
    char *nl;
    size_t n;
    int skipping = 0;

    *toolong = 0;
    for (;;) {
        nl = memchr(f->buf + f->beg, '\n', f->end - f->beg);
        if (nl) {
            n = (size_t)(nl - (f->buf + f->beg));
            *line = f->buf + f->beg;
            *len = skipping ? 0 : n;
            *toolong = skipping || n > LEARN_LINE_MAX;
            if (*toolong)
                *len = 0;
            f->beg += n + 1;
            f->off += (long long)n + 1;
            return 1;
        }
        if (f->end - f->beg > LEARN_LINE_MAX) {
            /* too long: drop what is buffered, and the rest up to its newline */
            f->off += (long long)(f->end - f->beg);
            f->beg = f->end;
            skipping = 1;
        }
        switch (fill(f)) {
        case -1:
            return -1;
        case 0:
            if (skipping) {
                *line = f->buf + f->beg;
                *len = 0;
                *toolong = 1;
                return 1;
            }
            return 0;
        }
    }
}

/* Go on from offset off. */
int
learn_skip(struct learn_file *f, long long off)
{
    size_t n;

    if (off <= f->off)
        return 0;
    if (f->regular && f->gzip == 0) {
        if (off > f->size || lseek(f->fd, (off_t)off, SEEK_SET) != (off_t)off)
            return -1;
        f->beg = f->end = 0;
        f->off = off;
        return 0;
    }
    while (f->off < off) {
        if (f->beg == f->end && fill(f) <= 0)
            return -1;
        n = f->end - f->beg;
        if ((long long)n > off - f->off)
            n = (size_t)(off - f->off);
        f->beg += n;
        f->off += (long long)n;
    }
    return 0;
}

/* Close; report gzip's failure on a file read to its end. */
int
learn_close(struct learn_file *f, int read_all, char *err, size_t errlen)
{
    int status = 0, rc = 0;

    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->gzip > 0) {
        while (waitpid(f->gzip, &status, 0) < 0 && errno == EINTR)
            ;
        if (read_all && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            if (WIFEXITED(status))
                snprintf(err, errlen, "%s: gzip -dc failed (exit %d): the lines before are kept",
                         f->name, WEXITSTATUS(status));
            else
                snprintf(err, errlen, "%s: gzip -dc died (signal %d)", f->name,
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            rc = -1;
        }
        f->gzip = 0;
    }
    free(f->buf);
    f->buf = NULL;
    return rc;
}
