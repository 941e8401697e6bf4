/*
 * fuzz_scan.c - libFuzzer target for the streaming content scan.
 *
 * Each input is scanned as a whole message, then again with its body fed
 * in chunks of a size taken from the first byte; both must give the same
 * features. A third scan with a tiny URL set exercises the overflow path.
 * Built and run by tests/fuzz/run (clang -fsanitize=fuzzer,address,undefined).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pm_scan_conf small = {pm_scan_default_shorteners, pm_scan_default_n_shorteners, 2, NULL,
                                 0};
    struct pm_features whole, chunked, tiny;
    size_t chunk = size > 0 ? (size_t)data[0] % 17 + 1 : 1;
    char buf[1024];

    if (pm_scan_message(NULL, data, size, &whole) != 0)
        return 0;
    if (pm_scan_message_chunked(NULL, data, size, chunk, &chunked) != 0)
        return 0;
    if (memcmp(&whole, &chunked, sizeof(whole)) != 0)
        abort();
    if (pm_scan_message(&small, data, size, &tiny) != 0)
        return 0;
    if (tiny.links < whole.links || tiny.parts != whole.parts)
        abort();
    pm_features_text(&whole, buf, sizeof(buf));
    pm_features_json(&whole, buf, sizeof(buf));
    return 0;
}
