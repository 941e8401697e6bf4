/*
 * dsn.h - bounce (delivery status notification) parser.
 *
 * SYNOPSIS
 *	struct pm_bounce b;
 *	pm_bounce_parse(msg, len, &b);
 *	for (i = 0; i < b.n; i++)
 *		if (b.rcpt[i].cls == PM_BOUNCE_HARD) ... suppress b.rcpt[i].rcpt
 *	pm_bounce_text(&b, buf, sizeof(buf));
 *
 * DESCRIPTION
 *	pm_bounce_parse() reads one whole message (headers, blank line, body;
 *	CRLF or LF line ends) held in memory and says whether it is a bounce,
 *	which recipients it reports, with their Action, enhanced status code
 *	and class, and who sent the returned message.
 *
 *	It reads RFC 3464 reports (multipart/report with a
 *	message/delivery-status or message/global-delivery-status part, as
 *	Postfix, Sendmail, Exchange and most MTAs write them: Final-Recipient,
 *	Original-Recipient, Action, Status and Diagnostic-Code per recipient,
 *	folded or not, with or without "rfc822;" and angle brackets, in any
 *	case), and the common plain-text bounces (qmail, Exim, Sendmail
 *	transcripts, Exchange and Office 365, Gmail, QQ-style Chinese text,
 *	and the like). Parts in base64 or quoted-printable are decoded, text
 *	in other charsets (GB2312, ISO-2022-JP ...) is read as UTF-8. When
 *	no recipient is named, X-Failed-Recipients or the returned message's
 *	only To address is taken. When a report carries only a
 *	generic status (X.0.0) or none, a code is derived from the SMTP reply
 *	and its text ("550 ... User unknown" gives 5.1.1).
 *
 *	Addresses are returned in lower case. A message may be cut short (the
 *	milter keeps a bounded prefix): whatever was read is returned. Every
 *	loop and buffer is bounded; NUL bytes and broken MIME are tolerated.
 *	Abuse reports (ARF) and auto-replies are not bounces (is_bounce 0,
 *	no recipients) but are automatic (is_auto 1). A message is automatic
 *	when Auto-Submitted is present and not "no", Precedence is bulk, list
 *	or junk, it has List-Id or X-Autoreply, its Return-Path is <>, its
 *	Subject starts like an out-of-office reply ("Automatic reply:", "Out
 *	of Office"), or it is a bounce, an abuse report or a read receipt.
 *
 *	The library never logs and needs no libmilter, Redis or syslog.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_DSN_H
#define PM_DSN_H

#include <stddef.h>

/* Most recipients kept from one bounce; further ones are dropped. */
#define PM_BOUNCE_MAX_RCPTS 64

/* What a failed recipient means for the sender. */
enum pm_bounce_class {
    PM_BOUNCE_NONE,  /* not a failure: delivered, relayed, expanded, or unknown */
    PM_BOUNCE_HARD,  /* invalid address: 5.1.1, 5.1.2, 5.1.3, 5.1.10 (or said in words) */
    PM_BOUNCE_BLOCK, /* policy block: 5.7.x, spam, blacklisted; "no such user"
                        given only at end of DATA (a content filter's refusal) */
    PM_BOUNCE_FULL,  /* mailbox full: 4.2.2, 5.2.2, over quota */
    PM_BOUNCE_SOFT,  /* any other temporary failure: 4.x.x */
    PM_BOUNCE_OTHER  /* any other permanent failure */
};

/* One recipient reported by a bounce. */
struct pm_bounce_rcpt {
    char rcpt[320];  /* the address, lower case, no brackets */
    char status[16]; /* enhanced status code, e.g. "5.1.1"; "" when none */
    char action[16]; /* failed, delayed, delivered, relayed, expanded */
    enum pm_bounce_class cls;
    char diag[256]; /* remote SMTP text, whitespace collapsed, cut to fit */
};

/* What one message says as a bounce. */
struct pm_bounce {
    int is_bounce;             /* an RFC 3464 report or a recognisable plain-text bounce */
    int is_auto;               /* Auto-Submitted (not "no"), Precedence bulk/list/junk,
                                  List-Id, a bounce, an abuse report or an auto-reply */
    char original_sender[320]; /* sender of the returned message when known, else "" */
    size_t n;                  /* recipients in rcpt[] */
    struct pm_bounce_rcpt rcpt[PM_BOUNCE_MAX_RCPTS];
};

/* Parse the message msg[0..len) into *out; returns out->is_bounce. */
int pm_bounce_parse(const unsigned char *msg, size_t len, struct pm_bounce *out);

/*
 * The class of a failure from its enhanced status code ("5.1.1"; NULL or ""
 * when none) and the remote text (NULL when none). A specific code decides;
 * a generic one (X.0.0 and other codes that say little) or none is refined
 * from the words of the text, then from an SMTP reply code in it. An
 * invalid address refused only at end of DATA ("in reply to end of DATA
 * command", "after end of data") is a block: servers refuse unknown users
 * at RCPT TO, filters (mobile carriers' domain filters) after the content.
 */
enum pm_bounce_class pm_bounce_classify(const char *status, const char *diag);

/* The status code an experienced postmaster would read from a reply text
 * ("550 Requested action not taken: mailbox unavailable" gives "5.1.1"),
 * written to out (at least 16 bytes); returns 0, or -1 (out "") when the
 * text says nothing usable. */
int pm_bounce_status_from_text(const char *diag, char *out, size_t outlen);

/* "hard", "block", "full", "soft", "other" or "none". */
const char *pm_bounce_class_name(enum pm_bounce_class c);

/* Human-readable summary: the flags, the sender, one line per recipient. */
void pm_bounce_text(const struct pm_bounce *b, char *buf, size_t len);

/* The same as one JSON object. */
void pm_bounce_json(const struct pm_bounce *b, char *buf, size_t len);

#endif
