/*
 * NAME
 *   supadd - add suppression entries in bulk as postmeterctl suppress add
 *   does (benchmarks, tests)
 *
 * SYNOPSIS
 *   supadd -c CONF [-t THREADS] [-d DAYS] COMPANY N
 *
 * DESCRIPTION
 *   Reads postmeter's configuration CONF, makes its Redis store and puts
 *   u0@example.org ... u<N-1>@example.org on COMPANY's suppression list for
 *   DAYS days (default 100), status 5.1.1, by "admin:supadd", each with
 *   pm_store_suppress_set(), the call behind postmeterctl suppress add: the
 *   stream's intent note, the company's script, the stream's final note.
 *   THREADS threads (default 4, at most 64) share the addresses and the
 *   store's connection pool. Prints "added N errors E ms M".
 *
 * DIAGNOSTICS
 *   Exit 0, 1 when any addition failed (the first error on stderr), 2 on
 *   bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "store.h"
#include "store_redis.h"

struct run {
    struct pm_store *store;
    const char *company;
    long n, days;
    int threads;
    pthread_mutex_t mu; /* guards added, errors and the first error's report */
    long added, errors;
};

struct worker {
    struct run *run;
    int index;
};

/* Add this worker's share: the addresses whose number modulo threads is its index. */
static void *
add_share(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    char rcpt[64], err[512];
    long i;
    int rc;

    for (i = w->index; i < r->n; i += r->threads) {
        snprintf(rcpt, sizeof(rcpt), "u%ld@example.org", i);
        rc = pm_store_suppress_set(r->store, r->company, rcpt, "5.1.1", "admin:supadd",
                                   (int)r->days, err, sizeof(err));
        pthread_mutex_lock(&r->mu);
        if (rc < 0 && !r->errors++)
            fprintf(stderr, "supadd: %s: %s\n", rcpt, err);
        else if (rc >= 0)
            r->added++;
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

/* Say how to call. */
static int
usage(void)
{
    fprintf(stderr, "usage: supadd -c CONF [-t THREADS] [-d DAYS] COMPANY N\n");
    return 2;
}

/* Add the entries, print the counts. */
int
main(int argc, char **argv)
{
    struct run r = {.threads = 4, .days = 100};
    struct worker w[64];
    pthread_t tid[64];
    struct pm_conf *conf;
    const char *file = NULL;
    char err[1024];
    long long t0;
    int c, i, started;

    while ((c = getopt(argc, argv, "c:d:t:")) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'd':
            r.days = atol(optarg);
            break;
        case 't':
            r.threads = atoi(optarg);
            break;
        default:
            return usage();
        }
    }
    if (!file || argc - optind != 2 || r.threads < 1 || r.threads > 64 || r.days < 1)
        return usage();
    r.company = argv[optind];
    r.n = atol(argv[optind + 1]);
    if (pm_conf_load(file, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "supadd: %s\n", err);
        return 2;
    }
    if (!(r.store = pm_store_redis_new(conf))) {
        fprintf(stderr, "supadd: cannot make the store\n");
        pm_conf_free(conf);
        return 1;
    }
    pthread_mutex_init(&r.mu, NULL);
    t0 = pm_mono_ms();
    for (started = 0; started < r.threads; started++) {
        w[started] = (struct worker){&r, started};
        if (pthread_create(&tid[started], NULL, add_share, &w[started]) != 0) {
            fprintf(stderr, "supadd: cannot start a thread\n");
            pthread_mutex_lock(&r.mu);
            r.errors++; /* the shares of the threads not started are not added */
            pthread_mutex_unlock(&r.mu);
            break;
        }
    }
    for (i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    printf("added %ld errors %ld ms %lld\n", r.added, r.errors, pm_mono_ms() - t0);
    pm_store_free(r.store);
    pm_conf_free(conf);
    return r.errors ? 1 : 0;
}
