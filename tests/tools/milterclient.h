/*
 * NAME
 *   milterclient - the MTA side of the milter protocol, for the test and bench tools
 *
 * SYNOPSIS
 *   #include "milterclient.h"
 *
 * DESCRIPTION
 *   One connection to a milter (struct mc_conn), spoken without libmilter:
 *   command framing, macros, replies, the version 6 negotiation (offering
 *   every action and protocol step) and the connect and HELO steps. Steps the
 *   milter skipped at negotiation are not sent; replies it asked not to give
 *   are not awaited. A connection either writes each command as soon as it is
 *   framed, or (queued) keeps commands until it awaits a reply and then writes
 *   them together, as Postfix does. Used by tests/tools/pmdrive and bench/mload.
 *
 * DIAGNOSTICS
 *   Failures are printed on stderr as "PROG: conn ID: ..." (PROG is
 *   mc_progname) and reported to the caller as -1 or MC_ERROR.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef MILTERCLIENT_H
#define MILTERCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <libmilter/mfdef.h>

#define MC_BUF_SIZE (MILTER_CHUNK_SIZE + 16)
#define MC_OBUF_SIZE (2 * MC_BUF_SIZE)
#define MC_MAX_REPLY (1024 * 1024)

/* How one step ended, from the milter's final reply. */
enum mc_outcome { MC_CONTINUE, MC_ACCEPT, MC_REJECT, MC_TEMPFAIL, MC_DISCARD, MC_SKIP, MC_ERROR };

/* One milter connection. */
struct mc_conn {
    int id;                              /* connection number, in diagnostics */
    int fd;                              /* -1 when closed */
    int verbose;                         /* print every reply on stderr */
    uint32_t pflags;                     /* protocol flags the milter negotiated */
    unsigned char *buf;                  /* the command being built */
    size_t len;                          /* bytes in buf, the 5-byte frame included */
    unsigned char *obuf;                 /* queued commands; NULL: write each at once */
    size_t olen;                         /* bytes in obuf */
    unsigned char *rbuf;                 /* the last reply's data, NUL-terminated */
    int tagged, quarantined;             /* a header added / quarantine asked (caller resets) */
    void (*note_text)(const char *text); /* called with each refusal's text, or NULL */
};

/* The program name that starts every diagnostic. */
extern const char *mc_progname;

/* Set up a closed connection with its buffers (queued: keep commands until a reply is due). */
int mc_init(struct mc_conn *c, int id, int queued);

/* Free a connection's buffers. */
void mc_free(struct mc_conn *c);

/* Print a diagnostic about one connection on stderr. */
__attribute__((format(printf, 2, 3))) void mc_warn(const struct mc_conn *c, const char *fmt, ...);

/* Start building a command's data. */
void mc_begin(struct mc_conn *c);

/* Append bytes to the command being built (cut at the buffer's end). */
void mc_put(struct mc_conn *c, const void *p, size_t n);

/* Append a NUL-terminated string to the command being built. */
void mc_str(struct mc_conn *c, const char *s);

/* Frame the command built so far and write it (or queue it); 0 or -1. */
int mc_send(struct mc_conn *c, char cmd);

/* Write out the queued commands; 0 or -1. */
int mc_flush(struct mc_conn *c);

/* Read replies until a final one; notes header additions, quarantine and refusal texts. */
enum mc_outcome mc_await(struct mc_conn *c, const char *step);

/* Send the built command unless skipped; await a reply unless none is due. */
enum mc_outcome mc_step(struct mc_conn *c, char cmd, uint32_t skip_flag, uint32_t noreply_flag,
                        const char *name);

/* Send macros (name, value pairs, NULL-terminated) for a stage unless skip_flag was negotiated. */
int mc_macros(struct mc_conn *c, char stage, uint32_t skip_flag, ...);

/* Send one header (name, value). */
enum mc_outcome mc_header(struct mc_conn *c, const char *name, const char *value);

/* Connect to unix:PATH, inet:PORT@ADDR or inet6:PORT@ADDR, negotiate, send connect and HELO. */
enum mc_outcome mc_start(struct mc_conn *c, const char *spec, int timeout_s, int nodelay,
                         const char *daemon, const char *client);

/* Close the connection (QUIT first unless it broke). */
void mc_close(struct mc_conn *c, int broken);

#endif
