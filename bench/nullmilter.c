/*
 * NAME
 *   nullmilter - a milter that accepts everything: the floor any milter pays
 *
 * SYNOPSIS
 *   nullmilter -s unix:PATH | inet:PORT@ADDR [-n env | content | default] [-D]
 *              [-r HOST:PORT | -e HOST:PORT] [-w N]
 *
 * DESCRIPTION
 *   Built from the same libmilter as postmeter, with callbacks that only
 *   answer "continue". -n chooses the negotiation:
 *
 *     env      (default) postmeter's style for the envelope only: connect,
 *              MAIL, RCPT and end of message; HELO, DATA, headers, end of
 *              headers, body and unknown commands skipped; a reply asked for
 *              every step sent (no SMFIP_NR_* flags); postmeter's macros
 *              (connect: {daemon_name} {client_addr}; MAIL: {auth_authen} i;
 *              RCPT: i; end of message: i).
 *     content  as env, but also takes every header and body chunk, each with
 *              a reply, as postmeter does for its content scan.
 *     default  no xxfi_negotiate: libmilter's own negotiation for the
 *              envelope callbacks, which lets the MTA skip replies.
 *
 *   -D also takes the DATA event, with a reply (env and content).
 *
 *   -r makes one blocking Redis round trip at each RCPT and one at end of
 *   message, as postmeter does: an EVALSHA of a script loaded at start that
 *   does nothing ("return 1", one key named after the sender, one argument),
 *   so the milter pays the round trip and a script call but no script work.
 *   -e makes the same round trip at end of message only: one per message,
 *   the least a milter that counts messages in Redis can make.
 *   -w N gives the script work instead: a Lua loop of N additions per call
 *   (N = 15000 costs about what postmeter's meter script does inside Redis),
 *   so the milter pays the round trip and a script of that cost, without
 *   postmeter's own work.
 *   Each libmilter worker thread has its own connection, opened at its first
 *   use and again after an error. A failed call still answers "continue".
 *   Stops on SIGTERM or SIGINT.
 *
 * DIAGNOSTICS
 *   The first Redis errors are printed on stderr ("nullmilter: redis: ..."),
 *   and their total at exit. Exit 0 on a clean stop, 1 when the socket cannot
 *   be opened or the script cannot be loaded, 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <libmilter/mfapi.h>

#define REDIS_ERRORS_SHOWN 10

static int want_content, want_data;

/* With -r: where Redis is, the script's SHA1, each thread's connection, the error count. */
static char redis_host[256];
static int redis_port;
static char script_sha[41];
static pthread_key_t redis_key;
static long redis_errors;
static char script_work[24] = "1"; /* the script's argument; with -w, its loop's length */
static int script_loops;           /* -w given */

/* Ask for postmeter's events and macros, with a reply for each step. */
static sfsistat
nm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    unsigned long skip = SMFIP_NOHELO | SMFIP_NOEOH | SMFIP_NOUNKNOWN;

    (void)f2;
    (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
    if (!want_data)
        skip |= SMFIP_NODATA;
    if (!want_content)
        skip |= SMFIP_NOHDRS | SMFIP_NOBODY;
    *pf1 = f1 & skip;
    *pf2 = 0;
    *pf3 = 0;
    if (f0 & SMFIF_SETSYMLIST) {
        smfi_setsymlist(ctx, SMFIM_CONNECT, "{daemon_name} {client_addr}");
        smfi_setsymlist(ctx, SMFIM_ENVFROM, "{auth_authen} i");
        smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
        smfi_setsymlist(ctx, SMFIM_EOM, "i");
    }
    return SMFIS_CONTINUE;
}

/* A new connection: continue. */
static sfsistat
nm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
    (void)ctx;
    (void)host;
    (void)sa;
    return SMFIS_CONTINUE;
}

/* MAIL FROM or RCPT TO: continue. */
static sfsistat
nm_addr(SMFICTX *ctx, char **argv)
{
    (void)ctx;
    (void)argv;
    return SMFIS_CONTINUE;
}

/* A header: continue. */
static sfsistat
nm_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx;
    (void)name;
    (void)value;
    return SMFIS_CONTINUE;
}

/* A body chunk: continue. */
static sfsistat
nm_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx;
    (void)chunk;
    (void)len;
    return SMFIS_CONTINUE;
}

/* DATA, end of message, abort or close: continue. */
static sfsistat
nm_event(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

/* Count one Redis error; print the first few. */
static void
redis_error(const char *what)
{
    long n = __atomic_add_fetch(&redis_errors, 1, __ATOMIC_RELAXED);

    if (n <= REDIS_ERRORS_SHOWN)
        fprintf(stderr, "nullmilter: redis: %s%s\n", what,
                n == REDIS_ERRORS_SHOWN ? " (no more shown)" : "");
}

/* Free a worker thread's Redis connection when the thread ends. */
static void
redis_drop(void *rc)
{
    redisFree(rc);
}

/* This thread's Redis connection, opened on first use; NULL (counted) when it cannot be. */
static redisContext *
redis_conn(void)
{
    struct timeval tv = {1, 0};
    redisContext *rc = pthread_getspecific(redis_key);

    if (rc)
        return rc;
    rc = redisConnectWithTimeout(redis_host, redis_port, tv);
    if (!rc || rc->err) {
        redis_error(rc ? rc->errstr : "cannot allocate a connection");
        redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv);
    pthread_setspecific(redis_key, rc);
    return rc;
}

/* One blocking round trip: EVALSHA of the trivial script with the sender's key. */
static void
redis_round_trip(SMFICTX *ctx)
{
    const char *sender = smfi_getpriv(ctx);
    redisContext *rc = redis_conn();
    redisReply *reply;

    if (!rc)
        return;
    reply = redisCommand(rc, "EVALSHA %s 1 pmbench:null:{s:%s} %s", script_sha,
                         sender ? sender : "", script_work);
    if (!reply) {
        /* a transport error: this connection is dead, the next call opens another */
        redis_error(rc->errstr);
        redisFree(rc);
        pthread_setspecific(redis_key, NULL);
        return;
    }
    if (reply->type != REDIS_REPLY_INTEGER)
        redis_error(reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    freeReplyObject(reply);
}

/* MAIL FROM with -r: keep the sender for the key; continue. */
static sfsistat
nr_envfrom(SMFICTX *ctx, char **argv)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, argv[0] ? strdup(argv[0]) : NULL);
    return SMFIS_CONTINUE;
}

/* RCPT TO with -r: one round trip; continue. */
static sfsistat
nr_envrcpt(SMFICTX *ctx, char **argv)
{
    (void)argv;
    redis_round_trip(ctx);
    return SMFIS_CONTINUE;
}

/* End of message with -r: one round trip; continue. */
static sfsistat
nr_eom(SMFICTX *ctx)
{
    redis_round_trip(ctx);
    return SMFIS_CONTINUE;
}

/* The connection closes with -r: forget the sender; continue. */
static sfsistat
nr_close(SMFICTX *ctx)
{
    free(smfi_getpriv(ctx));
    smfi_setpriv(ctx, NULL);
    return SMFIS_CONTINUE;
}

/* Parse HOST:PORT, connect once and load the script; 0 or -1 (said on stderr). */
static int
redis_setup(const char *spec)
{
    const char *colon = strrchr(spec, ':');
    struct timeval tv = {2, 0};
    redisContext *rc;
    redisReply *reply;
    int ok;

    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(redis_host) ||
        (redis_port = atoi(colon + 1)) <= 0 || redis_port > 65535) {
        fprintf(stderr, "nullmilter: -r wants HOST:PORT, not %s\n", spec);
        return -1;
    }
    memcpy(redis_host, spec, (size_t)(colon - spec));
    redis_host[colon - spec] = '\0';
    rc = redisConnectWithTimeout(redis_host, redis_port, tv);
    if (!rc || rc->err) {
        fprintf(stderr, "nullmilter: cannot connect to Redis at %s: %s\n", spec,
                rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return -1;
    }
    reply = redisCommand(rc, "SCRIPT LOAD %s",
                         script_loops ? "local x = 0 for i = 1, tonumber(ARGV[1]) do "
                                        "x = x + i end return 1"
                                      : "return 1");
    ok = reply && reply->type == REDIS_REPLY_STRING && reply->len == 40;
    if (ok)
        memcpy(script_sha, reply->str, 41);
    else
        fprintf(stderr, "nullmilter: cannot load the script: %s\n",
                reply ? (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply")
                      : rc->errstr);
    freeReplyObject(reply);
    redisFree(rc);
    return ok && pthread_key_create(&redis_key, redis_drop) == 0 ? 0 : -1;
}

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr,
            "usage: nullmilter -s socket [-n env|content|default] [-D] [-r|-e host:port] [-w N]\n");
    exit(2);
}

/* Parse options, register and serve. */
int
main(int argc, char **argv)
{
    struct smfiDesc desc = {
        .xxfi_name = "nullmilter",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_QUARANTINE,
        .xxfi_connect = nm_connect,
        .xxfi_envfrom = nm_addr,
        .xxfi_envrcpt = nm_addr,
        .xxfi_eom = nm_event,
        .xxfi_abort = nm_event,
        .xxfi_close = nm_event,
        .xxfi_negotiate = nm_negotiate,
    };
    const char *sock = NULL, *mode = "env", *redis = NULL;
    int ch, rc, rcpt_trips = 1;

    while ((ch = getopt(argc, argv, "s:n:Dr:e:w:")) != -1) {
        switch (ch) {
        case 's':
            sock = optarg;
            break;
        case 'n':
            mode = optarg;
            break;
        case 'D':
            want_data = 1;
            break;
        case 'r':
        case 'e':
            if (redis)
                usage();
            redis = optarg;
            rcpt_trips = ch == 'r';
            break;
        case 'w':
            if (atol(optarg) < 1 || strlen(optarg) >= sizeof(script_work))
                usage();
            snprintf(script_work, sizeof(script_work), "%ld", atol(optarg));
            script_loops = 1;
            break;
        default:
            usage();
        }
    }
    if (!sock || optind != argc || (script_loops && !redis))
        usage();
    if (strcmp(mode, "default") == 0) {
        desc.xxfi_negotiate = NULL;
    } else if (strcmp(mode, "content") == 0) {
        want_content = 1;
        desc.xxfi_header = nm_header;
        desc.xxfi_body = nm_body;
    } else if (strcmp(mode, "env") != 0) {
        usage();
    }
    if (want_data)
        desc.xxfi_data = nm_event;
    if (redis) {
        if (redis_setup(redis) < 0)
            return 1;
        desc.xxfi_envfrom = nr_envfrom;
        if (rcpt_trips)
            desc.xxfi_envrcpt = nr_envrcpt;
        desc.xxfi_eom = nr_eom;
        desc.xxfi_close = nr_close;
    }
    umask(0);
    if (smfi_register(desc) == MI_FAILURE || smfi_setconn((char *)sock) == MI_FAILURE ||
        smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "nullmilter: cannot open %s\n", sock);
        return 1;
    }
    rc = smfi_main() == MI_SUCCESS ? 0 : 1;
    if (redis)
        fprintf(stderr, "nullmilter: %ld Redis errors\n", redis_errors);
    return rc;
}
