/*
 * scanspeed.c - times the content scan on whole messages, as the milter feeds it.
 *
 * usage: scanspeed [-t MB] FILE...
 *
 * Each FILE is a message (headers and body). It is scanned as postmeter's
 * milter scans a message (pm_scan_new, one pm_scan_header per field, the body
 * in chunks of 65535 bytes as libmilter hands them, pm_scan_finish), once
 * untimed, then as many times as it takes to scan at least MB megabytes of
 * it (default 32; at least 3 times; the count depends only on the file's
 * size, so two builds do the same work). Prints one line per file: its name,
 * size, the repetitions, the CPU time of this thread per byte (ns) and in
 * MB/s, and the links found (so that two builds can be compared). Built by
 * bench/scan-speed against policy/scan*.c; measurements, not tests.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"

#define CHUNK 65535 /* libmilter's largest body chunk */

/* Read a whole file into a new buffer; NULL on failure. */
static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL, *nb;
    size_t cap = 0, n = 0, r;

    if (f == NULL)
        return NULL;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            if ((nb = realloc(buf, cap)) == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

/* CPU time of this thread, in nanoseconds. */
static double
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Scan one message once; exit on out of memory. */
static void
scan_once(const unsigned char *buf, size_t len, struct pm_features *f)
{
    if (pm_scan_message_chunked(NULL, buf, len, CHUNK, f) != 0) {
        fprintf(stderr, "scanspeed: out of memory\n");
        exit(1);
    }
}

/* Time the message in path; print its line. */
static int
bench_file(const char *path, double target)
{
    struct pm_features f;
    unsigned char *buf;
    size_t len, reps, i;
    const char *name = strrchr(path, '/');
    double t0, ns;

    if ((buf = slurp(path, &len)) == NULL || len == 0) {
        fprintf(stderr, "scanspeed: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    reps = (size_t)(target / (double)len) + 1;
    if (reps < 3)
        reps = 3;
    scan_once(buf, len, &f); /* warm up the caches */
    t0 = cpu_ns();
    for (i = 0; i < reps; i++)
        scan_once(buf, len, &f);
    ns = (cpu_ns() - t0) / ((double)len * (double)reps);
    printf("%s %zu %zu %.4f %.1f %u\n", name != NULL ? name + 1 : path, len, reps, ns, 1e3 / ns,
           f.links);
    free(buf);
    return 0;
}

/* Parse the options and time each file. */
int
main(int argc, char **argv)
{
    double target = 32e6;
    int opt, rc = 0;

    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt != 't' || atof(optarg) <= 0) {
            fprintf(stderr, "usage: scanspeed [-t MB] FILE...\n");
            return 2;
        }
        target = atof(optarg) * 1e6;
    }
    for (; optind < argc; optind++)
        if (bench_file(argv[optind], target) != 0)
            rc = 1;
    return rc;
}
