/*
 * siphash.h - SipHash-2-4, a keyed 64-bit hash (Aumasson and Bernstein).
 *
 * Contacts are stored in Redis as keyed hashes of addresses, so that a copy
 * of the store does not reveal who wrote to whom without the secret key.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_SIPHASH_H
#define PM_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The SipHash-2-4 of data under a 16-byte key. */
uint64_t pm_siphash(const unsigned char key[16], const void *data, size_t len);

/* The keyed hash of data as 16 lower-case hex digits (as "%016llx"): how a
 * contact's address or a Message-ID is stored. */
void pm_siphash_hex(const unsigned char key[16], const void *data, size_t len, char out[17]);

#endif
