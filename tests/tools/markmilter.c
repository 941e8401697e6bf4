/*
 * NAME
 *   markmilter - a milter that adds one header to every message: a stand-in
 *   for another milter of the site (OpenDKIM signing, Rspamd) in the tests
 *
 * SYNOPSIS
 *   markmilter -s unix:PATH | inet:PORT@ADDR -H "Name: value"
 *
 * DESCRIPTION
 *   Built from the same libmilter as postmeter. At the end of each message it
 *   adds the header given with -H, as OpenDKIM adds its DKIM-Signature, so a
 *   test can see at the smtp-sink that this milter saw the message; every
 *   other step answers "continue". Stops on SIGTERM or SIGINT.
 *
 * DIAGNOSTICS
 *   Exit 0 on a clean stop, 1 when the socket cannot be opened, 2 on bad
 *   usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#define NAME_MAX_LEN 128
#define VALUE_MAX_LEN 512

static char hdr_name[NAME_MAX_LEN], hdr_value[VALUE_MAX_LEN];

/* End of message: add the header; continue. */
static sfsistat
mm_eom(SMFICTX *ctx)
{
    if (smfi_addheader(ctx, hdr_name, hdr_value) != MI_SUCCESS)
        fprintf(stderr, "markmilter: smfi_addheader failed\n");
    return SMFIS_CONTINUE;
}

/* Split "Name: value" into hdr_name and hdr_value; 0 or -1. */
static int
parse_header(const char *spec)
{
    const char *colon = strchr(spec, ':'), *v;
    size_t n;

    if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(hdr_name))
        return -1;
    for (n = 0; spec + n < colon; n++)
        if (spec[n] <= ' ' || spec[n] > '~')
            return -1;
    memcpy(hdr_name, spec, n);
    hdr_name[n] = '\0';
    for (v = colon + 1; *v == ' '; v++)
        ;
    if (strlen(v) >= sizeof(hdr_value))
        return -1;
    strcpy(hdr_value, v);
    return 0;
}

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr, "usage: markmilter -s socket -H \"Name: value\"\n");
    exit(2);
}

/* Parse options, register and serve. */
int
main(int argc, char **argv)
{
    struct smfiDesc desc = {
        .xxfi_name = "markmilter",
        .xxfi_version = SMFI_VERSION,
        .xxfi_flags = SMFIF_ADDHDRS,
        .xxfi_eom = mm_eom,
    };
    const char *sock = NULL, *header = NULL;
    int ch;

    while ((ch = getopt(argc, argv, "s:H:")) != -1) {
        switch (ch) {
        case 's':
            sock = optarg;
            break;
        case 'H':
            header = optarg;
            break;
        default:
            usage();
        }
    }
    if (!sock || !header || optind != argc || parse_header(header) < 0)
        usage();
    if (strncmp(sock, "unix:", 5) == 0)
        unlink(sock + 5);
    umask(0); /* the socket is the test's, below its private directory: anyone may connect */
    if (smfi_setconn((char *)sock) == MI_FAILURE || smfi_register(desc) == MI_FAILURE ||
        smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "markmilter: cannot open %s\n", sock);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
