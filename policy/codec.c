/*
 * codec.c - the digit values of the transfer encodings (base64 and the hex
 * digits of quoted-printable and RFC 2231 encodings).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "codec.h"

/* Value of one base64 character, or -1. */
int
pm_codec_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Value of one hexadecimal digit, or -1. */
int
pm_codec_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
