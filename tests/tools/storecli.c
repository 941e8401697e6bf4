/*
 * NAME
 *   storecli - drive postmeter's Redis store from the command line (tests)
 *
 * SYNOPSIS
 *   storecli [-h host] [-p port] [-s socket] [-x prefix] [-u user] [-a password]
 *            [-D db] [-b hour_bucket,day_bucket] [-T connect_ms,command_ms]
 *            [-r retry_min_ms,retry_max_ms] [-P pool_size] [-t threads]
 *            [-n requests] [-i interval_ms] [-o s|d|sd] [-w caps] [-W ppm] [-C] [-v]
 *            probe|commit|force SENDER[,DOMAIN] MSGS RCPTS MH,MD,RH,RD [DMH,DMD,DRH,DRD]
 *
 * DESCRIPTION
 *   Builds a struct pm_conf by hand (defaults: 127.0.0.1:6379, prefix "pm",
 *   buckets 60,600, timeouts 200,500 ms, retry 100,5000 ms, pool 16), creates
 *   the Redis store with pm_store_redis_new() and frees the conf at once (the
 *   store must have copied what it needs). Then each of the threads sends
 *   requests identical requests, started together, sleeping interval_ms after
 *   each. The limits are messages/hour, messages/day, recipients/hour,
 *   recipients/day of the sender, then of the domain (0 = unlimited). -o
 *   marks the sender (s) and/or the domain (d) scope soft: over its limits
 *   the mail would still go (a plan that holds or tags). -w gives the sender
 *   scope a warm-up curve of daily caps "20,40,..." (each stage's hourly cap
 *   its daily cap, 30 dormant days), -W its max_bounce_ppm (default 30000).
 *   The store honours
 *   the test clock key (redis.test_clock), unless -C says to run as production
 *   does.
 *
 *   For a single request, or every request with -v, prints one line:
 *     fits=F counted=C over_scope=S over_counter=N over_limit=L over_used=U
 *     retry_at=R now=T used=MH,MD,RH,RD domain_used=MH,MD,RH,RD
 *     warmup=ACTIVE,STAGE,DAY_CAP,TODAY ms=M
 *   or "error: TEXT ms=M". Always ends with one summary line:
 *     requests=N fitted=F counted=C errors=E ms=M
 *   The store's log lines go to stderr.
 *
 * DIAGNOSTICS
 *   Exit 0 when no request failed, 1 when any did, 2 on bad usage.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "store_redis.h"

struct run {
    struct pm_store *store;
    struct pm_meter_req req;
    int requests, interval_ms, verbose;
    pthread_barrier_t start;
    pthread_mutex_t mu; /* guards the totals and stdout */
    long total, fitted, counted, errors;
};

/* Print usage and exit 2. */
static void
usage(void)
{
    fprintf(stderr,
            "usage: storecli [-h host] [-p port] [-s socket] [-x prefix] [-u user]\n"
            "  [-a password] [-D db] [-b hour_bucket,day_bucket] [-T connect_ms,command_ms]\n"
            "  [-r retry_min_ms,retry_max_ms] [-P pool] [-t threads] [-n requests]\n"
            "  [-i interval_ms] [-o s|d|sd] [-w caps] [-W ppm] [-C] [-v]\n"
            "  probe|commit|force SENDER[,DOMAIN] MSGS RCPTS\n"
            "  MH,MD,RH,RD [DMH,DMD,DRH,DRD]\n");
    exit(2);
}

/* Parse exactly n comma-separated integers into out, or exit with usage. */
static void
parse_list(const char *s, long long *out, int n)
{
    char *end;
    int i;

    /* four limits (messages and recipients), optionally a fifth (new recipients) */
    for (i = 0; i < n; i++) {
        out[i] = strtoll(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0') ||
            (*end == '\0' && i < (n < 4 ? n : 4) - 1) || (*end == ',' && i == n - 1))
            usage();
        if (*end == '\0') {
            for (i++; i < n; i++)
                out[i] = 0;
            return;
        }
        s = end + 1;
    }
}

/* Parse a pair "a,b" of ints. */
static void
parse_pair(const char *s, int *a, int *b)
{
    long long v[2];

    parse_list(s, v, 2);
    *a = (int)v[0];
    *b = (int)v[1];
}

#define CURVE_MAX 32

/* Parse a curve of daily caps "20,40,..." into w (each stage's hourly cap
 * its daily cap, 30 dormant days), or exit with usage. */
static void
parse_curve(const char *s, struct pm_warmup_req *w)
{
    static long long caps[CURVE_MAX];
    char *end;
    size_t n = 0;

    while (*s && n < CURVE_MAX) {
        caps[n++] = strtoll(s, &end, 10);
        if (end == s || (*end != ',' && *end != '\0'))
            usage();
        s = *end ? end + 1 : end;
    }
    if (*s || n == 0)
        usage();
    w->n = n;
    w->day_cap = caps;
    w->hour_cap = caps;
    w->dormant_days = 30;
    w->max_bounce_ppm = 30000;
}

/* Print one result line (called with the run's lock held). */
static void
print_result(int rc, const struct pm_meter_res *r, const char *err, long long ms)
{
    const long long *u = r->used[PM_SCOPE_SENDER], *d = r->used[PM_SCOPE_DOMAIN];

    if (rc < 0) {
        printf("error: %s ms=%lld\n", err, ms);
        fflush(stdout);
        return;
    }
    printf("fits=%d counted=%d over_scope=%d over_counter=%d over_limit=%lld over_used=%lld "
           "retry_at=%lld now=%lld used=%lld,%lld,%lld,%lld domain_used=%lld,%lld,%lld,%lld "
           "warmup=%d,%lld,%lld,%lld ms=%lld\n",
           r->fits, r->counted, (int)r->over_scope, (int)r->over_counter, r->over_limit,
           r->over_used, r->retry_at, r->now, u[0], u[1], u[2], u[3], d[0], d[1], d[2], d[3],
           r->warmup[0].active, r->warmup[0].stage, r->warmup[0].day_cap, r->warmup[0].today, ms);
    fflush(stdout); /* a test may watch the lines as they come */
}

/* One thread: send the requests and add up the outcomes. */
static void *
worker(void *arg)
{
    struct run *run = arg;
    struct pm_meter_res res;
    char err[512];
    long long t0;
    int i, rc;

    pthread_barrier_wait(&run->start);
    for (i = 0; i < run->requests; i++) {
        t0 = pm_mono_ms();
        err[0] = '\0';
        rc = pm_store_meter(run->store, &run->req, &res, err, sizeof(err));
        pthread_mutex_lock(&run->mu);
        run->total++;
        if (rc < 0)
            run->errors++;
        else {
            run->fitted += res.fits;
            run->counted += res.counted;
        }
        if (run->verbose)
            print_result(rc, &res, err, pm_mono_ms() - t0);
        pthread_mutex_unlock(&run->mu);
        if (run->interval_ms > 0)
            usleep((useconds_t)run->interval_ms * 1000);
    }
    return NULL;
}

/* Fill a configuration from the options; exits with usage on bad input. */
static int
parse_options(int argc, char **argv, struct pm_conf *conf, struct run *run, int *threads)
{
    int c;

    while ((c = getopt(argc, argv, "h:p:s:x:u:a:D:b:T:r:P:t:n:i:o:w:W:Cv")) != -1) {
        switch (c) {
        case 'h':
            conf->redis_host = optarg;
            break;
        case 'p':
            conf->redis_port = atoi(optarg);
            break;
        case 's':
            conf->redis_socket = optarg;
            break;
        case 'x':
            conf->key_prefix = optarg;
            break;
        case 'u':
            conf->redis_user = optarg;
            break;
        case 'a':
            conf->redis_password = optarg;
            break;
        case 'D':
            conf->redis_db = atoi(optarg);
            break;
        case 'b':
            parse_pair(optarg, &run->req.hour_bucket, &run->req.day_bucket);
            break;
        case 'T':
            parse_pair(optarg, &conf->connect_timeout_ms, &conf->command_timeout_ms);
            break;
        case 'r':
            parse_pair(optarg, &conf->retry_min_ms, &conf->retry_max_ms);
            break;
        case 'P':
            conf->pool_size = atoi(optarg);
            break;
        case 't':
            *threads = atoi(optarg);
            break;
        case 'n':
            run->requests = atoi(optarg);
            break;
        case 'i':
            run->interval_ms = atoi(optarg);
            break;
        case 'o':
            if (strspn(optarg, "sd") != strlen(optarg) || !*optarg)
                usage();
            run->req.scope[PM_SCOPE_SENDER].soft = strchr(optarg, 's') != NULL;
            run->req.scope[PM_SCOPE_DOMAIN].soft = strchr(optarg, 'd') != NULL;
            break;
        case 'C':
            conf->redis_test_clock = 0;
            break;
        case 'w':
            parse_curve(optarg, &run->req.scope[PM_SCOPE_SENDER].warmup);
            break;
        case 'W':
            run->req.scope[PM_SCOPE_SENDER].warmup.max_bounce_ppm = atoll(optarg);
            break;
        case 'v':
            run->verbose = 1;
            break;
        default:
            usage();
        }
    }
    if (*threads < 1 || *threads > 1024 || run->requests < 0)
        usage();
    return optind;
}

/* Parse the request words: mode, scopes, counts and limits. */
static void
parse_request(int argc, char **argv, struct pm_meter_req *req, char **ids)
{
    char *comma;
    long long n[1];

    if (argc != 5 && argc != 6)
        usage();
    if (strcmp(argv[0], "probe") == 0)
        req->mode = PM_METER_PROBE;
    else if (strcmp(argv[0], "commit") == 0)
        req->mode = PM_METER_COMMIT;
    else if (strcmp(argv[0], "force") == 0)
        req->mode = PM_METER_FORCE;
    else
        usage();
    *ids = strdup(argv[1]);
    if (!*ids)
        exit(1);
    req->scope[PM_SCOPE_SENDER].id = *ids;
    comma = strchr(*ids, ',');
    if (comma) {
        *comma = '\0';
        req->scope[PM_SCOPE_DOMAIN].id = comma + 1;
    }
    parse_list(argv[2], n, 1);
    req->msgs = n[0];
    parse_list(argv[3], n, 1);
    req->rcpts = n[0];
    parse_list(argv[4], req->scope[PM_SCOPE_SENDER].limit, PM_C_COUNT);
    if (argc == 6)
        parse_list(argv[5], req->scope[PM_SCOPE_DOMAIN].limit, PM_C_COUNT);
}

/* Run the requests and print the summary. */
int
main(int argc, char **argv)
{
    static struct run run;
    struct pm_conf *conf = calloc(1, sizeof(*conf));
    pthread_t *tids;
    char *ids = NULL;
    long long t0;
    int threads = 1, i, words;

    if (!conf)
        return 1;
    conf->redis_host = "127.0.0.1";
    conf->redis_port = 6379;
    conf->key_prefix = "pm";
    conf->connect_timeout_ms = 200;
    conf->command_timeout_ms = 500;
    conf->retry_min_ms = 100;
    conf->retry_max_ms = 5000;
    conf->pool_size = 16;
    conf->redis_test_clock = 1;
    run.requests = 1;
    run.req.hour_bucket = 60;
    run.req.day_bucket = 600;
    words = parse_options(argc, argv, conf, &run, &threads);
    parse_request(argc - words, argv + words, &run.req, &ids);
    if (threads * run.requests == 1)
        run.verbose = 1;

    pm_log_set_level(PM_LOG_DEBUG);
    run.store = pm_store_redis_new(conf);
    free(conf); /* the store keeps its own copies */
    tids = calloc(threads, sizeof(*tids));
    if (!run.store || !tids) {
        fprintf(stderr, "storecli: out of memory\n");
        return 1;
    }
    pthread_mutex_init(&run.mu, NULL);
    pthread_barrier_init(&run.start, NULL, threads);
    t0 = pm_mono_ms();
    for (i = 0; i < threads; i++)
        if (pthread_create(&tids[i], NULL, worker, &run) != 0) {
            fprintf(stderr, "storecli: cannot start thread %d\n", i);
            return 1;
        }
    for (i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    printf("requests=%ld fitted=%ld counted=%ld errors=%ld ms=%lld\n", run.total, run.fitted,
           run.counted, run.errors, pm_mono_ms() - t0);

    pm_store_free(run.store);
    pthread_barrier_destroy(&run.start);
    pthread_mutex_destroy(&run.mu);
    free(tids);
    free(ids);
    return run.errors ? 1 : 0;
}
