/*
 * NAME
 *   nullmilter - a milter that accepts everything: the floor any milter pays
 *
 * SYNOPSIS
 *   nullmilter -s unix:PATH | inet:PORT@ADDR [-n env | content | default] [-D]
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
 *   Stops on SIGTERM or SIGINT.
 *
 * DIAGNOSTICS
 *   Exit 0 on a clean stop, 1 when the socket cannot be opened, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static int want_content, want_data;

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

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: nullmilter -s socket [-n env|content|default] [-D]\n");
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
    const char *sock = NULL, *mode = "env";
    int ch;

    while ((ch = getopt(argc, argv, "s:n:D")) != -1) {
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
        default:
            usage();
        }
    }
    if (!sock || optind != argc)
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
    umask(0);
    if (smfi_register(desc) == MI_FAILURE || smfi_setconn((char *)sock) == MI_FAILURE ||
        smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "nullmilter: cannot open %s\n", sock);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
