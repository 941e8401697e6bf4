/*
 * dsn.h - bounce (delivery status notification) parser.
 *
 * SYNOPSIS
 *	struct pm_bounce b;
 *	pm_bounce_parse(msg, len, PM_ENV_NULL, &b);
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
 *	What counts. A bounce comes back with the null envelope sender
 *	(RFC 5321; Postfix's own bounces too). With PM_ENV_SENDER (a non-null
 *	envelope sender) a message is never a bounce, whatever it quotes. With
 *	PM_ENV_UNKNOWN (a file) the top-level Return-Path decides when present:
 *	a null one ("<>", empty, or no address at all such as "<MAILER-DAEMON>",
 *	or one whose local part is MAILER-DAEMON, as Sendmail and others write
 *	the null sender) counts as PM_ENV_NULL, any other address as
 *	PM_ENV_SENDER. Then, for PM_ENV_NULL and PM_ENV_UNKNOWN alike, a
 *	message whose report is a MIME part of its own (message/delivery-status
 *	or message/global-delivery-status, which only mail systems write) is a
 *	bounce; otherwise a bounce text (below) is not one when it is quoted or
 *	forwarded by a person or a list: the From is a person's (not a mail
 *	system's, see pm_automail_daemon()), a mail program's forwarding
 *	marker comes before the bounce's own words, or the message carries
 *	mailing-list fields and no words only bounce generators write
 *	(List-Id alone decides nothing: Exchange copies it into its reports).
 *	A report forwarded inside another message (the first message/rfc822
 *	part, as a gateway wraps it) is read as the bounce only with a null
 *	envelope (PM_ENV_NULL, or a null Return-Path) and when the outer
 *	message is not a person's forward. Such held-back messages, and one
 *	that reads as a bounce but came with a sender's envelope or
 *	Return-Path, set quoted (is_bounce 0, no recipients).
 *
 *	Formats. It reads RFC 3464 reports (multipart/report with a
 *	message/delivery-status or message/global-delivery-status part, as
 *	Postfix, Sendmail, Exchange and most MTAs write them: Final-Recipient,
 *	Original-Recipient, Action, Status and Diagnostic-Code per recipient,
 *	folded or not, with or without "rfc822;" and angle brackets, in any
 *	case), and the common plain-text bounces (qmail, Exim, Sendmail
 *	transcripts, Exchange and Office 365, Gmail, hMailServer, MDaemon, AOL,
 *	QQ-style Chinese text, and the like). Parts in base64 or
 *	quoted-printable are decoded, text in other charsets (GB2312,
 *	ISO-2022-JP ...) is read as UTF-8. When no recipient is named,
 *	X-Failed-Recipients or the returned message's only To address is taken
 *	(not when the returned message is a list post: its To is the list).
 *	Neither the bounce's own addresses nor the sender named in "A message
 *	sent by <...>" is a failed recipient. When a report carries only a
 *	generic status (X.0.0) or none, a code is taken from the remote text
 *	or its human-readable part, or derived from the SMTP reply and its
 *	words ("550 ... User unknown" gives 5.1.1).
 *
 *	The original sender is the report's X-Postfix-Sender or
 *	X-Original-Sender; else the address the bounce is addressed to (To)
 *	when the returned message's From or Return-Path is that address, or
 *	when that Return-Path is a relay's VERP address (Amazon SES style);
 *	else the returned message's Return-Path, then its From; else the
 *	bounce's To (hMailServer and others return no message), unless it is
 *	a mail system's or bounce address; else the address the text names
 *	in "sent by <...>". A message that is no bounce has none.
 *
 *	Classes. The hard set is 5.1.1, 5.1.2, 5.1.3, 5.1.6
 *	and 5.1.10. A specific code decides: in the hard set it is hard
 *	("554 5.1.1" too), outside it and outside 5.7.x it is what the code
 *	says whatever the words ("550 5.2.1 User unknown" is other, 5.4.4
 *	"domain not found" is other, 4.x.x soft or full). 5.7.x is many
 *	servers' catch-all for "rejected": it is a block unless an explicit
 *	invalid-address phrase stands beside it ("user unknown", "no such
 *	user", "does not accept mail" ...), then hard. A generic code (X.Y.0)
 *	or none: the phrases of the text decide ("Unrouteable address" is a
 *	routing failure, other). The stage: a failure given at MAIL FROM is
 *	about the sender, never hard. A failure given at end of DATA is hard
 *	when a specific code of the hard set says so (an LMTP server names
 *	unknown users there); when only the words say "no such user" after
 *	the content (a generic code, none, or 5.7.x beside the phrase) it is a
 *	block (a content filter's answer, as mobile carriers' domain filters
 *	give it).
 *
 *	Addresses are returned in lower case. A message may be cut short (the
 *	milter keeps a bounded prefix): whatever was read is returned. Every
 *	loop and buffer is bounded; NUL bytes and broken MIME are tolerated.
 *	Abuse reports (ARF) and auto-replies are not bounces (is_bounce 0,
 *	no recipients) but are automatic (is_auto 1). A message is automatic
 *	when a top-level field sets a PM_AUTO_* flag (automail.h), it has a
 *	null envelope, or it is a bounce, an abuse report or a read receipt.
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

/* How the message arrived: what its envelope sender was. */
enum pm_envelope {
    PM_ENV_UNKNOWN = 0, /* not known (a file): the Return-Path field decides when present */
    PM_ENV_NULL,        /* the null sender <> (or Postfix's own bounce) */
    PM_ENV_SENDER       /* a non-null sender: never a bounce */
};

/* What a failed recipient means for the sender. */
enum pm_bounce_class {
    PM_BOUNCE_NONE,  /* not a failure: delivered, relayed, expanded, or unknown */
    PM_BOUNCE_HARD,  /* invalid address: 5.1.1, 5.1.2, 5.1.3, 5.1.6, 5.1.10 (or said in
                        words; 5.7.x with an explicit invalid-address phrase) */
    PM_BOUNCE_BLOCK, /* policy block: 5.7.x, spam, blacklisted; "no such user" in
                        words only, at end of DATA (a content filter's refusal) */
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
    int is_auto;               /* a PM_AUTO_* field, a null envelope, a bounce, an abuse
                                  report or an auto-reply */
    int quoted;                /* holds a bounce that is not taken as one: a sender's
                                  envelope, or quoted or forwarded by a person or list */
    char original_sender[320]; /* sender of the returned message when known, else "" */
    size_t n;                  /* recipients in rcpt[] */
    struct pm_bounce_rcpt rcpt[PM_BOUNCE_MAX_RCPTS];
};

/* Parse the message msg[0..len), which arrived with envelope env, into
 * *out; returns out->is_bounce. */
int pm_bounce_parse(const unsigned char *msg, size_t len, enum pm_envelope env,
                    struct pm_bounce *out);

/*
 * The class of a failure from its enhanced status code ("5.1.1"; NULL or ""
 * when none) and the remote text (NULL when none), as the Classes paragraph
 * above says: a specific code decides (5.7.x beside an explicit
 * invalid-address phrase is hard); a generic one (X.Y.0) or none is read
 * from the words of the text, then from an SMTP reply code in it. An
 * invalid address said only in words after the content ("in reply to end
 * of DATA command", "after end of data") is a block.
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
