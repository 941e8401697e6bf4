/*
 * scan.h - streaming content scan of a message.
 *
 * SYNOPSIS
 *	s = pm_scan_new(&conf);
 *	pm_scan_header(s, "Content-Type", "multipart/mixed; boundary=x");
 *	pm_scan_body(s, chunk, len);            (any number of times)
 *	pm_scan_finish(s, &features);
 *	pm_scan_free(s);
 *
 * DESCRIPTION
 *	The scanner is fed the top-level headers one call each (the value
 *	without the name and colon, folded or not, as libmilter gives it) and
 *	then the body bytes in chunks of any size, with CRLF or LF line ends.
 *	It never keeps the message: memory is bounded whatever the message
 *	size (one line buffer, one header buffer, a bounded multipart stack,
 *	a bounded set of URL hashes, small decoder states). The same message
 *	fed in chunks of any sizes gives the same features.
 *
 *	What counts: a missing or invalid Content-Type is
 *	text/plain; an unknown multipart subtype is multipart/mixed; a
 *	multipart whose boundary never occurs is one text/plain part; preamble
 *	and epilogue are ignored. A message part is one attachment and its
 *	inside is not counted. Signature parts are not attachments. An image
 *	part referenced by cid: from the HTML body is an inline image;
 *	otherwise a part with disposition attachment or a file name is an
 *	attachment (an attached image when it is an image); a text/plain or
 *	text/html part without either is body text; another alternative of a
 *	multipart/alternative is ignored; anything else is an attachment.
 *	Links are distinct http(s) URLs in the decoded plain text and in the
 *	HTML body's <a href> values and visible text; remote images are
 *	distinct http(s) <img src> values. URLs are remembered as 64-bit
 *	hashes, at most max_links_tracked of them: beyond that, every further
 *	URL not among those counts (the figures are then upper bounds).
 *	Each link is also counted in one place (see scan_place.c): the
 *	sender's new text (body_links), a signature (signature_links) or quoted
 *	and forwarded text (quoted_links), the best it was seen in (an HTML
 *	part's over a plain one's; then body, signature, quote); the three add
 *	up to links.
 *
 *	The library never logs and needs no libmilter, Redis or syslog.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SCAN_H
#define PM_SCAN_H

#include <stddef.h>

/* Default number of distinct URLs remembered for de-duplication. */
#define PM_SCAN_DEFAULT_LINKS 1024
/* Bound on max_links_tracked (larger values are cut to this). */
#define PM_SCAN_MAX_LINKS 65536
/* Deepest multipart nesting followed; deeper parts are skipped. */
#define PM_SCAN_MAX_DEPTH 32

/* Scanner settings; the strings must outlive every scan made with them. */
struct pm_scan_conf {
    const char *const *shorteners; /* host names; a subdomain matches too */
    size_t n_shorteners;
    size_t max_links_tracked;      /* 0: PM_SCAN_DEFAULT_LINKS */
    const char *const *spam_words; /* lower case; NULL: pm_scan_default_spam_words */
    size_t n_spam_words;
};

/* Bounds on the subject's spam word list (the configuration refuses more). */
#define PM_SUBJECT_WORDS_MAX 256
#define PM_SUBJECT_WORD_MAX 64 /* bytes of one word */
/* Bytes of the decoded subject looked at (a longer one is cut). */
#define PM_SUBJECT_MAX 2048

/* The built-in subject spam words (English and Chinese, lower case UTF-8;
 * NULL-terminated, the count without the NULL). */
extern const char *const pm_scan_default_spam_words[];
extern const size_t pm_scan_default_n_spam_words;

/* The built-in shortener hosts (bit.ly, t.co, tinyurl.com, ...). */
extern const char *const pm_scan_default_shorteners[];
extern const size_t pm_scan_default_n_shorteners;

/* What a message carries. */
struct pm_features {
    int complete;             /* 1: the whole MIME structure parsed without a problem */
    char problems[256];       /* comma-separated words, "" when complete (see below) */
    unsigned attachments;     /* including attached images, message parts, winmail.dat */
    unsigned attached_images; /* image parts counted as attachments */
    unsigned inline_images;   /* image parts referenced by cid: from the HTML body */
    unsigned remote_images;   /* distinct http(s) <img src> in the HTML body */
    unsigned links;           /* distinct http(s) URLs in visible text and <a href> */
    unsigned shortener_links; /* distinct links whose host is a shortener */
    unsigned body_links;      /* links placed in the sender's new text */
    unsigned signature_links; /* links placed in a signature */
    unsigned quoted_links;    /* links placed in quoted or forwarded text */
    unsigned long long size;  /* bytes fed: "Name: value" CRLF per header, blank line, body */
    unsigned parts;           /* leaf parts seen (a message part is one) */
    unsigned depth;           /* deepest multipart nesting (0: not multipart) */
    unsigned cid_refs;        /* distinct cid: references in the HTML body */
    int has_html;             /* an HTML body part */
    int has_calendar;         /* a text/calendar or application/ics part */
    int has_tnef;             /* a winmail.dat (application/ms-tnef) part */
    int is_signed;            /* an S/MIME or PGP signature part */
    int is_encrypted;         /* S/MIME enveloped data or multipart/encrypted */
    /* the Subject (the first one), RFC 2047 decoded to UTF-8 (scan_subject.c) */
    unsigned subject_caps;         /* upper-case share of its cased letters, percent; 0 under 10 */
    unsigned subject_exclamations; /* "!" and full-width "！" */
    unsigned subject_spam_words;   /* entries of the spam word list found in it */
    unsigned subject_length;       /* characters (not bytes), outer whitespace trimmed */
    int reply_prefix;              /* it starts with a reply or forward prefix (Re:, 回复: ...) */
    unsigned references;           /* Message-IDs in In-Reply-To and References */
};

/*
 * Problem words, in the order they are listed: missing_boundary (multipart
 * without a boundary parameter), boundary_not_found (its boundary never
 * occurs), missing_end_boundary (no close delimiter), bad_header (a part
 * header line that is not a header), header_too_long, truncated_base64,
 * bad_base64 (characters outside the alphabet), nul_bytes, depth_limit,
 * part_limit (too many cid images or references to remember).
 */

struct pm_scan;

/* Start a scan; conf NULL means the defaults. NULL when out of memory. */
struct pm_scan *pm_scan_new(const struct pm_scan_conf *conf);

/* Feed one top-level header (value without the name and colon). */
void pm_scan_header(struct pm_scan *s, const char *name, const char *value);

/* Feed body bytes; chunks may split lines, encodings and tags anywhere. */
void pm_scan_body(struct pm_scan *s, const unsigned char *chunk, size_t len);

/* End of message: fill out. The scan must not be fed afterwards. */
void pm_scan_finish(struct pm_scan *s, struct pm_features *out);

/* Decode a Subject value (RFC 2047 words to UTF-8, unfolded, outer
 * whitespace trimmed) into out (terminated); returns the length. */
size_t pm_subject_decode(const char *value, char *out, size_t cap);

/* The length of the reply or forward prefix a decoded subject starts with
 * (Re:, RE:, AW:, SV:, 回复:, 答复:, Fwd:, FW:, 转发: and the like, any
 * case, spaces and a full-width colon tolerated), 0 when none. */
size_t pm_subject_reply_prefix(const char *subject);

/* Fill f's subject_* facts from a decoded subject and a spam word list
 * (lower case; NULL: the built-in one). */
void pm_subject_facts(const char *subject, const char *const *words, size_t n_words,
                      struct pm_features *f);

/* Release a scan (NULL is fine). */
void pm_scan_free(struct pm_scan *s);

/*
 * Scan a whole RFC 5322 message in memory: split the headers from the body
 * (an mbox "From " line first is skipped) and feed the body in chunks of
 * chunk bytes (0: all at once). 0 on success, -1 when out of memory.
 */
int pm_scan_message_chunked(const struct pm_scan_conf *conf, const unsigned char *buf, size_t len,
                            size_t chunk, struct pm_features *out);

/* Same as pm_scan_message_chunked() with the body in one chunk. */
int pm_scan_message(const struct pm_scan_conf *conf, const unsigned char *buf, size_t len,
                    struct pm_features *out);

/* "complete=1 problems=- size=... attachments=..." on one line. */
void pm_features_text(const struct pm_features *f, char *buf, size_t len);

/* {"complete":1,...,"problems":["..."]}: the same fields as numbers */
void pm_features_json(const struct pm_features *f, char *buf, size_t len);

#endif
