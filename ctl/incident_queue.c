/*
 * incident_queue.c - a sender's held mail on this server, through Postfix's
 * own tools: postqueue -j lists the queue (one JSON object per line: we
 * read the top-level strings queue_name, queue_id and sender with a small
 * strict reader, skipping every other value), postsuper -H releases from
 * hold and postqueue -i delivers, postsuper -d deletes. Each runs with
 * "-c DIR" for a Postfix instance other than the default, without a shell
 * (pf_run.c), for RUN_SECONDS at most; what they print on stderr goes to
 * ours.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "incident.h"
#include "incident_queue.h"
#include "pf_run.h"

#define JSON_DEPTH 16    /* nesting the reader follows */
#define ARGS_PER_RUN 500 /* queue ids per postsuper run */
#define RUN_SECONDS 120  /* the longest a run of postqueue or postsuper may take */

/* A cursor over one line of JSON. */
struct js {
    const char *p;
};

static int js_value(struct js *j, int depth);

/* Skip blanks. */
static void
js_ws(struct js *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')
        j->p++;
}

/* Append the UTF-8 of code point c to out (len, *n used); 0, or -1 when full. */
static int
js_put(char *out, size_t len, size_t *n, unsigned long c)
{
    char b[4];
    size_t k = 0, i;

    if (c < 0x80) {
        b[k++] = (char)c;
    } else if (c < 0x800) {
        b[k++] = (char)(0xc0 | (c >> 6));
        b[k++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        b[k++] = (char)(0xe0 | (c >> 12));
        b[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
        b[k++] = (char)(0x80 | (c & 0x3f));
    } else {
        b[k++] = (char)(0xf0 | (c >> 18));
        b[k++] = (char)(0x80 | ((c >> 12) & 0x3f));
        b[k++] = (char)(0x80 | ((c >> 6) & 0x3f));
        b[k++] = (char)(0x80 | (c & 0x3f));
    }
    if (!out)
        return 0;
    if (*n + k >= len)
        return -1;
    for (i = 0; i < k; i++)
        out[(*n)++] = b[i];
    return 0;
}

/* Four hex digits after "\u"; the value, or -1. */
static long
js_hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* A string at the cursor, unescaped into out (NULL: skipped); 0, or -1 when
 * malformed. A value too long for out, or malformed, leaves out "". */
static int
js_string(struct js *j, char *out, size_t len)
{
    static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
    size_t n = 0;
    int full = 0;
    long c, lo;

    if (*j->p++ != '"')
        return -1;
    while (*j->p != '"') {
        if ((unsigned char)*j->p < 0x20)
            goto bad; /* the line ended, or a raw control character */
        if (*j->p != '\\') {
            c = (unsigned char)*j->p++;
            if (out && !full && n + 1 < len)
                out[n++] = (char)c;
            else
                full = 1;
            continue;
        }
        j->p++;
        if (*j->p == 'u') {
            if ((c = js_hex4(j->p + 1)) < 0)
                goto bad;
            j->p += 5;
            if (c >= 0xd800 && c < 0xdc00) { /* a surrogate pair */
                if (j->p[0] != '\\' || j->p[1] != 'u' || (lo = js_hex4(j->p + 2)) < 0xdc00 ||
                    lo > 0xdfff)
                    goto bad;
                j->p += 6;
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
            } else if (c >= 0xdc00 && c < 0xe000) {
                goto bad;
            }
        } else if (*j->p && strchr(esc_in, *j->p)) {
            c = (unsigned char)esc_out[strchr(esc_in, *j->p) - esc_in];
            j->p++;
        } else {
            goto bad;
        }
        if (!full && js_put(out, len, &n, (unsigned long)c) < 0)
            full = 1;
    }
    j->p++;
    if (out)
        out[full ? 0 : n] = '\0';
    return 0;
bad:
    if (out)
        out[0] = '\0'; /* never a part without its end */
    return -1;
}

/* A number at the cursor (skipped); 0 or -1. */
static int
js_number(struct js *j)
{
    const char *start = j->p;

    if (*j->p == '-')
        j->p++;
    if (*j->p < '0' || *j->p > '9')
        return -1;
    while ((*j->p >= '0' && *j->p <= '9') || *j->p == '.' || *j->p == 'e' || *j->p == 'E' ||
           *j->p == '+' || *j->p == '-')
        j->p++;
    return j->p > start ? 0 : -1;
}

/* An object at the cursor; its top-level string fields named in names go
 * into outs (lens), others are skipped. 0 or -1. */
static int
js_object(struct js *j, int depth, const char *const *names, char **outs, const size_t *lens)
{
    char key[32];
    size_t i;

    if (depth > JSON_DEPTH || *j->p++ != '{')
        return -1;
    js_ws(j);
    if (*j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        js_ws(j);
        if (js_string(j, key, sizeof(key)) < 0)
            return -1;
        js_ws(j);
        if (*j->p++ != ':')
            return -1;
        js_ws(j);
        for (i = 0; names && names[i]; i++)
            if (strcmp(key, names[i]) == 0)
                break;
        if (names && names[i] && *j->p == '"') {
            if (js_string(j, outs[i], lens[i]) < 0)
                return -1;
        } else if (js_value(j, depth + 1) < 0) {
            return -1;
        }
        js_ws(j);
        if (*j->p == '}') {
            j->p++;
            return 0;
        }
        if (*j->p++ != ',')
            return -1;
    }
}

/* An array at the cursor (skipped); 0 or -1. */
static int
js_array(struct js *j, int depth)
{
    if (depth > JSON_DEPTH || *j->p++ != '[')
        return -1;
    js_ws(j);
    if (*j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        js_ws(j);
        if (js_value(j, depth + 1) < 0)
            return -1;
        js_ws(j);
        if (*j->p == ']') {
            j->p++;
            return 0;
        }
        if (*j->p++ != ',')
            return -1;
    }
}

/* Any value at the cursor (skipped); 0 or -1. */
static int
js_value(struct js *j, int depth)
{
    static const char *const words[] = {"true", "false", "null"};
    size_t i;

    switch (*j->p) {
    case '"':
        return js_string(j, NULL, 0);
    case '{':
        return js_object(j, depth, NULL, NULL, NULL);
    case '[':
        return js_array(j, depth);
    }
    for (i = 0; i < 3; i++)
        if (strncmp(j->p, words[i], strlen(words[i])) == 0) {
            j->p += strlen(words[i]);
            return 0;
        }
    return js_number(j);
}

/* Read one line of postqueue -j (see incident_queue.h). */
int
iq_parse_line(const char *line, char *queue, size_t qlen, char *id, size_t idlen, char *sender,
              size_t slen)
{
    static const char *const names[] = {"queue_name", "queue_id", "sender", NULL};
    char *outs[3] = {queue, id, sender};
    const size_t lens[3] = {qlen, idlen, slen};
    struct js j = {line};

    queue[0] = id[0] = sender[0] = '\0';
    js_ws(&j);
    if (js_object(&j, 0, names, outs, lens) < 0)
        return -1;
    js_ws(&j);
    return *j.p ? -1 : 0;
}

/* 1 when id is among ids. */
int
iq_has(const struct iq_ids *ids, const char *id)
{
    size_t i;

    for (i = 0; i < ids->n; i++)
        if (strcmp(ids->id[i], id) == 0)
            return 1;
    return 0;
}

/* Append an id; 0, or -1 when full or out of memory. */
static int
iq_add(struct iq_ids *ids, const char *id)
{
    char(*grown)[IQ_ID_MAX];

    if (ids->n == ids->cap) {
        if (ids->cap >= IQ_MAX)
            return -1;
        ids->cap = ids->cap ? ids->cap * 2 : 16;
        if (!(grown = realloc(ids->id, ids->cap * sizeof(*ids->id))))
            return -1;
        ids->id = grown;
    }
    snprintf(ids->id[ids->n++], IQ_ID_MAX, "%s", id);
    return 0;
}

/* Free the ids. */
void
iq_free(struct iq_ids *ids)
{
    free(ids->id);
    memset(ids, 0, sizeof(*ids));
}

/* Order queue ids. */
static int
by_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The space-separated ids of s (see incident_queue.h). */
int
iq_split(const char *s, struct iq_ids *ids)
{
    char id[IQ_ID_MAX];
    const char *p;
    size_t n;

    while ((p = pm_incident_id_next(&s, &n)) != NULL) {
        if (n < sizeof(id)) {
            memcpy(id, p, n);
            id[n] = '\0';
            if (!iq_has(ids, id) && iq_add(ids, id) < 0)
                return -1;
        }
    }
    return 0;
}

/* What iq_held reads postqueue -j's lines with. */
struct held {
    const char *sender;
    const struct iq_ids *also;
    struct iq_ids *ids;
    char *line; /* the line so far, at most IQ_LINE_MAX bytes and a NUL */
    size_t len, lineno;
};

/* One whole line of postqueue -j: its id into h->ids when it is held mail of
 * the sender or among also; 0, or -1 with err set. */
static int
held_line(struct held *h, char *err, size_t errlen)
{
    char queue[32], id[IQ_ID_MAX], from[PM_ADDR_MAX], norm[PM_ADDR_MAX];

    h->lineno++;
    h->line[h->len] = '\0';
    h->len = 0;
    if (iq_parse_line(h->line, queue, sizeof(queue), id, sizeof(id), from, sizeof(from)) < 0) {
        snprintf(err, errlen, "postqueue -j: line %zu is not one JSON object", h->lineno);
        return -1;
    }
    if (strcmp(queue, "hold") == 0 && id[0] &&
        ((h->also && iq_has(h->also, id)) ||
         (pm_addr_normalise(from, norm, sizeof(norm)) == 0 && strcmp(norm, h->sender) == 0)) &&
        !iq_has(h->ids, id) && iq_add(h->ids, id) < 0) {
        snprintf(err, errlen, "more than %d held messages", IQ_MAX);
        return -1;
    }
    return 0;
}

/* postqueue -j's output as it comes (pf_run's out): line by line. */
static int
held_take(void *arg, const char *data, size_t n, char *err, size_t errlen)
{
    struct held *h = arg;
    size_t i;

    for (i = 0; i < n; i++) {
        if (h->len == IQ_LINE_MAX) {
            snprintf(err, errlen, "postqueue -j: line %zu is not one JSON object", h->lineno + 1);
            return -1;
        }
        h->line[h->len++] = data[i];
        if (data[i] == '\n' && held_line(h, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The held messages of sender, or among also (see incident_queue.h). */
int
iq_held(const char *dir, const char *sender, const struct iq_ids *also, struct iq_ids *ids,
        char *err, size_t errlen)
{
    static const char *const args[] = {"-j"};
    struct held h = {sender, also, ids, malloc(IQ_LINE_MAX + 1), 0, 0};
    struct pf_run r = {.name = "postqueue",
                       .what = "postqueue -j",
                       .dir = dir,
                       .args = args,
                       .nargs = 1,
                       .seconds = RUN_SECONDS,
                       .out = held_take,
                       .arg = &h};
    int rc;

    if (!h.line) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rc = pf_run(&r, err, errlen);
    if (rc == 0 && h.len > 0) /* a last line without its newline */
        rc = held_line(&h, err, errlen);
    free(h.line);
    if (ids->n > 1)
        qsort(ids->id, ids->n, sizeof(*ids->id), by_id);
    return rc;
}

/* Run Postfix's tool name [-c dir] with args, what it prints ours; 0, or -1. */
static int
run_tool(const char *name, const char *what, const char *dir, const char *const *args, size_t nargs,
         char *err, size_t errlen)
{
    struct pf_run r = {.name = name,
                       .what = what,
                       .dir = dir,
                       .args = args,
                       .nargs = nargs,
                       .seconds = RUN_SECONDS};

    return pf_run(&r, err, errlen);
}

/* Run postsuper [-c dir] with opt before each of ids, then tail (NULL none),
 * ARGS_PER_RUN ids at a time; 0, or -1 with err set. */
static int
postsuper_ids(const char *dir, const char *opt, const struct iq_ids *ids, const char *tail,
              char *err, size_t errlen)
{
    const char **args = calloc(2 * ARGS_PER_RUN + 1, sizeof(*args));
    size_t i, n;
    int rc = 0;

    if (!args) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < ids->n && rc == 0;) {
        for (n = 0; i < ids->n && n < 2 * ARGS_PER_RUN; i++) {
            args[n++] = opt;
            args[n++] = ids->id[i];
        }
        if (tail)
            args[n++] = tail;
        if (run_tool("postsuper", "postsuper", dir, args, n, err, errlen) < 0)
            rc = -1;
    }
    free(args);
    return rc;
}

/* Release ids from hold and deliver them now. */
int
iq_requeue(const char *dir, const struct iq_ids *ids, char *err, size_t errlen)
{
    const char *args[2] = {"-i", NULL};
    size_t i;

    if (postsuper_ids(dir, "-H", ids, NULL, err, errlen) < 0)
        return -1;
    for (i = 0; i < ids->n; i++) {
        args[1] = ids->id[i];
        if (run_tool("postqueue", "postqueue -i", dir, args, 2, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Delete ids from the hold queue. */
int
iq_drop(const char *dir, const struct iq_ids *ids, char *err, size_t errlen)
{
    return postsuper_ids(dir, "-d", ids, "hold", err, errlen);
}
