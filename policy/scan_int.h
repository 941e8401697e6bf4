/*
 * scan_int.h - the scanner's internal state, shared by the scan_*.c files.
 *
 * scan.c runs the line splitter and the MIME state machine, scan_msg.c
 * feeds whole messages and prints features, scan_mime.c parses part
 * headers, scan_decode.c decodes transfer encodings and charsets,
 * scan_html.c tokenizes HTML and scan_url.c finds, normalises and
 * remembers URLs, scan_place.c tells where a link is (body, signature,
 * quote). Every buffer here has a fixed size.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SCAN_INT_H
#define PM_SCAN_INT_H

#include <iconv.h>
#include <stdint.h>

#include "scan.h"

#define PM_SCAN_LINE_MAX 4096     /* longer body lines are handled in pieces */
#define PM_SCAN_HDR_MAX 8192      /* one part header field, unfolded */
#define PM_SCAN_BOUNDARY_MAX 1000 /* longest boundary accepted (an SMTP line holds 998 bytes) */
#define PM_SCAN_URL_MAX 2048      /* longest cid: reference kept (URLs are hashed whole) */
#define PM_SCAN_URL_TAIL 64       /* trailing punctuation of a URL held back */
#define PM_SCAN_HOST_KEEP 256     /* end of a URL's host kept for the shortener check */
#define PM_SCAN_CID_MAX 256       /* cid references and cid images remembered */
#define PM_SCAN_TENT_MAX 64       /* URLs of a preamble awaiting its boundary */
#define PM_SCAN_CONV_MAX 1024     /* bytes handed to iconv at a time */
#define PM_SCAN_TYPE_MAX 80
#define PM_SCAN_CHARSET_MAX 48
#define PM_SCAN_FILENAME_MAX 256

/* Problem bits, in the order of their words in scan.c. */
enum {
    PM_P_MISSING_BOUNDARY = 1 << 0,
    PM_P_BOUNDARY_NOT_FOUND = 1 << 1,
    PM_P_MISSING_END = 1 << 2,
    PM_P_BAD_HEADER = 1 << 3,
    PM_P_HEADER_TOO_LONG = 1 << 4,
    PM_P_TRUNCATED_BASE64 = 1 << 5,
    PM_P_BAD_BASE64 = 1 << 6,
    PM_P_NUL = 1 << 7,
    PM_P_DEPTH = 1 << 8,
    PM_P_PART_LIMIT = 1 << 9,
};

enum { PM_CTE_IDENTITY, PM_CTE_QP, PM_CTE_BASE64 };
enum { PM_SINK_NONE, PM_SINK_PLAIN, PM_SINK_HTML };
enum { PM_URL_LINK, PM_URL_SHORT, PM_URL_IMG };
enum { PM_MP_MIXED, PM_MP_ALT, PM_MP_DIGEST };
/* Where text is (scan_place.c): only ever goes up within a part. */
enum { PM_Z_BODY, PM_Z_SIG, PM_Z_QUOTE };
#define PM_SCAN_ZHEAD 48 /* first bytes of a line kept for the markers */
#define PM_SCAN_ZTAIL 16 /* last non-blank bytes of a line kept (a power of 2) */
#define PM_SCAN_ZATTR 40 /* first bytes of a class, id or type value kept */

/* What the headers of one entity say. */
struct pm_part {
    char type[PM_SCAN_TYPE_MAX]; /* lower case "type/subtype" */
    char boundary[PM_SCAN_BOUNDARY_MAX];
    size_t blen;
    int boundary_bad; /* boundary parameter present but unusable */
    char charset[PM_SCAN_CHARSET_MAX];
    char filename[PM_SCAN_FILENAME_MAX]; /* decoded; the tail when longer */
    int has_filename;
    int disp_attachment;
    int cte;
    uint64_t cid;
    int has_cid;
    int alt;       /* a direct child of a multipart/alternative */
    unsigned seen; /* header fields already taken (the first one wins) */
};

/* One open multipart. */
struct pm_level {
    char boundary[PM_SCAN_BOUNDARY_MAX];
    size_t blen;
    int kind;
    int seen;   /* a delimiter occurred */
    int closed; /* the close delimiter occurred */
};

/* A URL read a byte at a time, hashed whole as it is normalised. */
struct pm_url {
    int st;                      /* off, in the authority, after it, or not a URL */
    uint64_t h;                  /* hash of the normalised URL so far */
    char tail[PM_SCAN_URL_TAIL]; /* blanks and punctuation that may end the URL */
    size_t tlen;
    size_t open_p, close_p, open_b, close_b; /* brackets, to keep a balanced last one */
    int npct;                     /* a %XX of the authority: 1 after '%', 2 after a digit */
    unsigned char pct;            /* that digit */
    char host[PM_SCAN_HOST_KEEP]; /* the host's last bytes (after the last '@') */
    size_t hkeep, hlen;           /* bytes kept, bytes of the whole host */
    int port, hbracket, hbad, halnum;
};

/* A run of URL-looking characters in text. */
struct pm_urltok {
    size_t len;         /* bytes of the run; 0: no run (the fields below are stale) */
    uint64_t win;       /* the last 8 bytes | 0x20, until a URL starts in the run */
    unsigned char last; /* the run's last byte */
    int held;           /* that byte is 0xc2, not yet given to the URL: the next may drop it */
    struct pm_url url;  /* the URL that started in the run */
};

/* The value of an attribute that may hold a URL or a cid: reference. */
struct pm_attrval {
    int kind;     /* PM_URL_LINK (a href), PM_URL_IMG (img src), -1: cid: only */
    int mode;     /* off, leading blanks, first bytes, cid: reference, URL */
    char ent[12]; /* a character reference being read */
    size_t elen;
    int in_ent;
    char val[PM_SCAN_URL_MAX]; /* the first bytes (decoded); a cid: reference */
    size_t vlen;
    struct pm_url url;
};

/* The lines of text seen by the signature and quote markers (scan_place.c). */
struct pm_zline {
    unsigned char head[PM_SCAN_ZHEAD]; /* the line's first bytes */
    size_t hlen;
    unsigned char tail[PM_SCAN_ZTAIL]; /* its last bytes above the blank: a ring */
    size_t tlen;                       /* bytes put in the ring */
    int from;                          /* the previous line started with "From:" */
    int on;                            /* the previous line started with "On " or "在" */
};

/* Distinct URL hashes, with their kind (an open-addressing hash set). */
struct pm_urls {
    uint64_t *h;         /* 0: empty slot */
    unsigned char *kind; /* kind | zone << 2 */
    size_t n, cap, slots;
    unsigned nkind[3]; /* entries of the set by kind */
    unsigned over[3];  /* new URLs beyond cap, counted without de-duplication */
    unsigned nzone[3]; /* links (not images), kept or over, by the zone placed in */
    uint64_t th[PM_SCAN_TENT_MAX];
    unsigned char tkind[PM_SCAN_TENT_MAX]; /* kind | zone << 2 */
    size_t nt;
    unsigned tover[3];
    unsigned tzover[3]; /* links beyond the tentative list, by zone */
    int tentative;      /* new URLs belong to a preamble that may be dropped */
};

/* HTML tokenizer state. */
struct pm_html {
    int st;
    int end; /* an end tag */
    char name[16];
    size_t nlen;
    char aname[16];
    size_t alen;
    int keep; /* this attribute's value is wanted */
    struct pm_attrval av;
    int dashes;
    int clen;  /* bytes of the comment so far, up to 2 */
    int cbang; /* a comment's "--!" was just seen */
    int in_head, in_title;
    int raw; /* 1: inside script, 2: inside style */
    size_t rawmatch;
    char ent[12];
    size_t elen;
    int in_ent;
    char zattr[PM_SCAN_ZATTR]; /* a class, id, type or name value, lower case (scan_place.c) */
    size_t zlen;
    int zwant; /* 1: class, 2: id, 3: type, 4: name; 0: not wanted */
    int zmark; /* the zone this tag's attributes start (PM_Z_BODY: none) */
    int pre;   /* inside <pre>: its source line ends are line ends (scan_place.c) */
};

/* Transfer decoding and charset conversion of the current part. */
struct pm_text {
    int active;
    int sink;
    int cte;
    int qst;
    unsigned char q1;
    uint32_t bacc;
    int bn;
    int conv;
    iconv_t cd;
    unsigned char in[PM_SCAN_CONV_MAX];
    size_t inlen;
};

enum { PM_M_HEADERS, PM_M_LEAF, PM_M_PREAMBLE, PM_M_EPILOGUE, PM_M_SKIP };

struct pm_scan {
    const char *const *shorteners;
    size_t n_shorteners;
    const char *const *spam_words; /* NULL: the built-in list */
    size_t n_spam_words;
    int subject_seen;
    unsigned long long size;
    int body_started;
    int finished;
    /* line splitter (the line itself is below) */
    size_t llen;
    int midline;
    /* the header field being collected (its value is below) */
    char hname[32];
    size_t hlen;
    int hactive;
    /* structure (the open multiparts are below) */
    struct pm_part part;
    int depth;
    int mode;
    int body_text; /* the current leaf is body text */
    /* content */
    struct pm_text text;
    struct pm_html html;
    struct pm_urltok tok;
    struct pm_urls urls;
    int zone; /* PM_Z_*: where the text of the current part is */
    struct pm_zline zl;
    size_t ncidref;
    size_t npend;
    /* counts */
    unsigned problems;
    struct pm_features f;
    /* from here on: buffers read only up to what was written (llen, hlen,
     * depth, ncidref, npend), left uncleared when a scan starts */
    unsigned char line[PM_SCAN_LINE_MAX];
    char hval[PM_SCAN_HDR_MAX];
    struct pm_level lv[PM_SCAN_MAX_DEPTH];
    uint64_t cidref[PM_SCAN_CID_MAX];
    uint64_t pend[PM_SCAN_CID_MAX];             /* Content-IDs of image parts awaiting the end */
    unsigned char pend_counts[PM_SCAN_CID_MAX]; /* 1: an attachment unless referenced */
};

/* scan_mime.c */
void pm_part_reset(struct pm_part *p, const char *deftype);
void pm_part_header(struct pm_scan *s, struct pm_part *p, const char *name, const char *val,
                    size_t vlen);
int pm_part_is_image(const struct pm_part *p);
uint64_t pm_hash(const void *p, size_t n);
/* Decode the RFC 2047 encoded words of a header value v (n bytes) into out
 * (at most cap - 1 bytes, not terminated); whitespace between adjacent words
 * goes. to_utf8: each word is converted from its charset to UTF-8 (iconv; a
 * charset iconv lacks stays as its bytes), else the words' bytes are kept.
 * Returns the length written. */
size_t pm_scan_rfc2047_decode(const char *v, size_t n, char *out, size_t cap, int to_utf8);

/* scan_decode.c */
const char *pm_scan_iconv_name(const char *cs); /* lower-case MIME name -> iconv's, NULL none */
void pm_text_open(struct pm_scan *s, int cte, const char *charset, int sink);
void pm_text_feed(struct pm_scan *s, const unsigned char *p, size_t n);
void pm_text_close(struct pm_scan *s);

/* scan_html.c */
void pm_html_reset(struct pm_html *h);
void pm_html_byte(struct pm_scan *s, unsigned char c);
void pm_html_end(struct pm_scan *s);
size_t pm_html_entity(const char *name, size_t n, char *out);

/* scan_url.c */
int pm_urls_init(struct pm_urls *u, size_t cap);
void pm_urls_free(struct pm_urls *u);
void pm_urls_commit(struct pm_scan *s);
void pm_urls_drop(struct pm_scan *s);
void pm_urls_count(const struct pm_urls *u, struct pm_features *f);
void pm_url_text(struct pm_scan *s, struct pm_urltok *t, unsigned char c);
void pm_url_text_run(struct pm_scan *s, struct pm_urltok *t, const unsigned char *p, size_t n);
void pm_url_flush(struct pm_scan *s, struct pm_urltok *t);
void pm_attr_begin(struct pm_attrval *a, int kind);
void pm_attr_byte(struct pm_scan *s, unsigned char c);
void pm_attr_end(struct pm_scan *s);
void pm_cid_ref(struct pm_scan *s, const char *v, size_t n);

/* scan_place.c */
void pm_place_open(struct pm_scan *s);
void pm_place_text_byte(struct pm_scan *s, unsigned char c);
void pm_place_set(struct pm_scan *s, int zone);
void pm_place_text_run(struct pm_scan *s, const unsigned char *p, size_t n);
void pm_place_attr_begin(struct pm_html *h);
void pm_place_attr_byte(struct pm_html *h, unsigned char c);
void pm_place_attr_end(struct pm_html *h);
void pm_place_tag(struct pm_scan *s);

#endif
