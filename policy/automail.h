/*
 * automail.h - is a message written by a machine or a list, not a person?
 *
 * SYNOPSIS
 *	unsigned flags = 0;
 *	for each header field of the message:
 *		flags |= pm_automail_header(name, value);
 *	if (!(flags & PM_AUTO_NOT_PERSON)) ... a person wrote it
 *
 * DESCRIPTION
 *	pm_automail_header() says what one header field (name without the
 *	colon, value unfolded) tells about its message, as PM_AUTO_* flags:
 *
 *	PM_AUTO_SUBMITTED  Auto-Submitted whose first token is not "no"
 *	                   (RFC 3834: auto-generated, auto-replied,
 *	                   auto-notified, anything else; an empty value too).
 *	PM_AUTO_BULK       Precedence: bulk, list or junk (the first token).
 *	PM_AUTO_LIST       a mailing list's field: List-Id, List-Post,
 *	                   List-Help, List-Subscribe, List-Unsubscribe,
 *	                   List-Owner, List-Archive (RFC 2369, 2919),
 *	                   Mailing-List (ezmlm), X-Mailing-List.
 *	PM_AUTO_REPLY      an auto-responder: X-Autoreply, X-Autorespond,
 *	                   X-Auto-Reply, or a Subject that starts like one
 *	                   ("Automatic reply:", "Auto reply", "Auto-Reply",
 *	                   "Autoreply", "Auto Response", "Out of Office",
 *	                   "Auto:", "Abwesenheitsnotiz", "R\xc3\xa9ponse
 *	                   automatique", ...), after list tags ("[users]")
 *	                   but not after "Re:" or "Fwd:" (a person's reply).
 *	PM_AUTO_DAEMON     a From of a mail system, not a person: its address
 *	                   or display name says mailer-daemon, postmaster,
 *	                   mail delivery system/subsystem/service, mail
 *	                   administrator, no-reply, double-bounce, NDR, a
 *	                   list robot (-admin, -owner, -request, -bounces) and
 *	                   the like; an empty From ("<>") too.
 *	PM_AUTO_REPORT     Content-Type multipart/report (a delivery status
 *	                   notification, a read receipt, an abuse report).
 *
 *	A message is a person's when none of PM_AUTO_NOT_PERSON is set. The
 *	bounce parser and the feedback path both use this one predicate.
 *	Encoded words (RFC 2047) in a Subject or display name are not decoded.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_AUTOMAIL_H
#define PM_AUTOMAIL_H

#define PM_AUTO_SUBMITTED 0x01u /* Auto-Submitted, not "no" */
#define PM_AUTO_BULK 0x02u      /* Precedence bulk, list or junk */
#define PM_AUTO_LIST 0x04u      /* List-* fields, Mailing-List */
#define PM_AUTO_REPLY 0x08u     /* an auto-responder's field or Subject */
#define PM_AUTO_DAEMON 0x10u    /* From a mail system (mailer-daemon, postmaster, ...) */
#define PM_AUTO_REPORT 0x20u    /* Content-Type multipart/report */

/* Any of these: not a message a person wrote. */
#define PM_AUTO_NOT_PERSON                                                                         \
    (PM_AUTO_SUBMITTED | PM_AUTO_BULK | PM_AUTO_LIST | PM_AUTO_REPLY | PM_AUTO_DAEMON |            \
     PM_AUTO_REPORT)

/* What one header says about the message: PM_AUTO_* flags, 0 for nothing. */
unsigned pm_automail_header(const char *name, const char *value);

/* Does a From value name a mail system rather than a person? 1 or 0. */
int pm_automail_daemon(const char *from);

#endif
