/*
 * identity.h - direction of a message and the identity of its sender.
 *
 * A message is outgoing when its client authenticated, came through
 * a Postfix service named in outbound.daemon_names, or connected from
 * outbound.networks. The sender is the SASL login when authenticated, else
 * the envelope sender; lower-cased, without an address extension.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_IDENTITY_H
#define PM_IDENTITY_H

#include <stddef.h>

#include "conf.h"

#define PM_ADDR_MAX 320 /* RFC 5321: 64 + 1 + 255, with room to spare */

/* What the connection tells us about a message's origin. */
struct pm_origin {
    const char *client_addr; /* textual IP address, or NULL */
    const char *daemon_name; /* Postfix {daemon_name}, or NULL */
    const char *auth_login;  /* {auth_authen}, or NULL/"" when not authenticated */
    int local;               /* 1: injected locally (sendmail(1), not SMTP) */
};

/* 1 when a message from this origin is outgoing (metered). */
int pm_is_outgoing(const struct pm_conf *conf, const struct pm_origin *o);

/*
 * Reduce an SMTP address ("<Alice+news@Example.COM>") to its metering form
 * ("alice@example.com"), so that every spelling of one mailbox gives one
 * string: strip angle brackets and surrounding blanks, drop a source route
 * (<@a,@b:user@dom>), decode a quoted local part and quote it again only when
 * it needs quotes ("alice"@ is alice@, "john doe"@ stays quoted), drop the
 * trailing dot of a domain, lower-case, and remove a "+extension" from an
 * unquoted local part (an unterminated quote is kept as written). Returns 1
 * for the null sender "<>" (out is ""), 0 otherwise, -1 when the result
 * would not fit in outlen or the address holds control characters or a
 * blank outside quotes.
 */
int pm_addr_normalise(const char *addr, char *out, size_t outlen);

/*
 * The sender identity of a message: the SASL login when present (normalised
 * the same way; a login without '@' is kept as the login), else the envelope
 * sender. Returns 1 when the message must not be metered (null sender
 * without login), 0 when out holds the sender, -1 on a malformed address.
 */
int pm_sender_identity(const char *auth_login, const char *envfrom, char *out, size_t outlen);

/* The domain part of a normalised address (after the last '@'), or "". */
const char *pm_addr_domain(const char *addr);

/* 1 when s is a plain "local@domain" address of at most max bytes, one a
 * notice may go to: printable, no blank, quote or bracket, one '@' neither
 * first nor last, a '.' in the domain, not starting with '-'. */
int pm_addr_plain(const char *s, size_t max);

/* 1 when a recipient's domain is not one of local_domains. */
int pm_is_external(const struct pm_conf *conf, const char *rcpt);

#endif
