/*
 * siphash.c - SipHash-2-4, a keyed 64-bit hash, written from the published
 * description of the algorithm (two compression rounds per 8-byte word, four
 * finalisation rounds, little-endian words).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include "siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound over the four state words. */
#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

/* Read 8 bytes as a little-endian word. */
static uint64_t
le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The SipHash-2-4 of data under a 16-byte key. */
uint64_t
pm_siphash(const unsigned char key[16], const void *data, size_t len)
{
    const unsigned char *in = data, *end = in + (len - len % 8);
    uint64_t k0 = le64(key), k1 = le64(key + 8), m, b = (uint64_t)len << 56;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    int i;

    for (; in != end; in += 8) {
        m = le64(in);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (i = (int)(len % 8) - 1; i >= 0; i--)
        b |= (uint64_t)in[i] << (8 * i);
    v3 ^= b;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* The keyed hash of data as 16 lower-case hex digits. */
void
pm_siphash_hex(const unsigned char key[16], const void *data, size_t len, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = pm_siphash(key, data, len);
    int i;

    for (i = 15; i >= 0; i--, h >>= 4)
        out[i] = hex[h & 15];
    out[16] = '\0';
}
