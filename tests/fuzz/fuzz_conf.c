/*
 * fuzz_conf.c - libFuzzer target for the configuration loader: any file
 * content must load or be refused with "file:line: ...", never crash, leak
 * or hang.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

/* Write the input to a temporary file and load it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/pm-fuzz-conf-XXXXXX", err[1024];
    struct pm_conf *conf = NULL;
    int fd = mkstemp(path);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    if (pm_conf_load(path, &conf, err, sizeof(err)) == 0)
        pm_conf_free(conf);
    else if (strchr(err, ':') == NULL)
        abort(); /* every error is "file:line: what is wrong" */
    unlink(path);
    return 0;
}
