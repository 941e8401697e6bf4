/*
 * codec.h - the digit values of the transfer encodings, shared by the
 * content scanner and the bounce parser.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CODEC_H
#define PM_CODEC_H

/* Value of one base64 character (RFC 2045), or -1. */
int pm_codec_b64val(unsigned char c);

/* Value of one hexadecimal digit (either case), or -1. */
int pm_codec_hexval(unsigned char c);

#endif
