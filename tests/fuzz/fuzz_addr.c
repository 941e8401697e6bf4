/*
 * fuzz_addr.c - libFuzzer target for address and identity parsing: SMTP
 * addresses, SASL logins and client addresses as Postfix may pass them
 * (8-bit bytes, NUL-terminated pieces of any content). A normalised address
 * must come out of the normaliser unchanged.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "identity.h"

/* Split the input at NUL bytes into up to three strings and parse them. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 3), *a, *b, *c, out[PM_ADDR_MAX], again[PM_ADDR_MAX];
    struct pm_cidr net;
    size_t n;
    int rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    a = buf;
    b = a + strlen(a) + 1;
    c = b <= buf + size ? b + strlen(b) + 1 : b;
    if (c > buf + size + 2)
        c = buf + size + 2;
    rc = pm_addr_normalise(a, out, sizeof(out));
    if (rc == 0) {
        n = strlen(out);
        if (n >= sizeof(out))
            abort();
        (void)pm_addr_domain(out);
        /* one mailbox, one string: the metering form is its own metering form */
        if (pm_addr_normalise(out, again, sizeof(again)) != 0 || strcmp(again, out) != 0)
            abort();
    }
    (void)pm_sender_identity(b, a, out, sizeof(out));
    if (pm_cidr_parse(b, &net) == 0)
        (void)pm_cidr_match(&net, c);
    free(buf);
    return 0;
}
