/*
 * main.c - postmeter: a Postfix milter that meters outgoing mail per sender.
 *
 * SYNOPSIS
 *   postmeter [-c file] [-f] [-n] [-s] [-v] [-V]
 *
 * DESCRIPTION
 *   Loads the configuration (default PM_SYSCONFDIR/postmeter/postmeter.conf),
 *   drops privileges to the configured user, opens the milter socket (a stale
 *   unix socket is removed) and serves Postfix until SIGTERM or SIGINT.
 *   -f stays in the foreground and logs to stderr (-s: to syslog instead);
 *   -n checks the configuration and exits; -v logs at debug level.
 *   SIGHUP reads the configuration again: new connections use the new one,
 *   connections in progress keep theirs, and a bad file keeps the running
 *   configuration (logged with file:line). SIGTERM and SIGINT stop.
 *   With metrics.listen set, GET /metrics serves Prometheus metrics
 *   (metrics_http.c); a reload moves the endpoint only when the address changed.
 *
 * DIAGNOSTICS
 *   Configuration errors are printed as "file:line: what is wrong"; the exit
 *   status is 0 on a clean stop, 1 on a configuration or start-up error.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "callbacks.h"
#include "config.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "store_redis.h"

#define DEFAULT_CONF PM_SYSCONFDIR "/postmeter/postmeter.conf"

/* Log sink: one line to stderr with a timestamp. */
static void
sink_stderr(void *ctx, int level, const char *line)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;

    (void)ctx;
    (void)level;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s postmeter[%ld]: %s\n", ts, (long)getpid(), line);
}

/* Log sink: syslog at the line's level. */
static void
sink_syslog(void *ctx, int level, const char *line)
{
    (void)ctx;
    syslog(level, "%s", line);
}

/* The syslog facility for a configured name. */
static int
facility_of(const char *name)
{
    static const struct {
        const char *name;
        int fac;
    } tab[] = {{"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"user", LOG_USER},
               {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
               {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
               {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
    size_t i;

    for (i = 0; name && i < sizeof(tab) / sizeof(tab[0]); i++)
        if (strcmp(tab[i].name, name) == 0)
            return tab[i].fac;
    return LOG_MAIL;
}

/* Switch to the configured user and group; 0 ok, -1 error (logged). */
static int
drop_privileges(const struct pm_conf *conf)
{
    struct passwd *pw;
    struct group *gr;
    gid_t gid;

    if (!conf->user || !*conf->user)
        return 0;
    if (!(pw = getpwnam(conf->user))) {
        pm_log(PM_LOG_ERR, "%s: user \"%s\" does not exist", conf->file, conf->user);
        return -1;
    }
    gid = pw->pw_gid;
    if (conf->group && *conf->group) {
        if (!(gr = getgrnam(conf->group))) {
            pm_log(PM_LOG_ERR, "%s: group \"%s\" does not exist", conf->file, conf->group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (getuid() == pw->pw_uid && getgid() == gid)
        return 0;
    if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0) {
        pm_log(PM_LOG_ERR, "cannot switch to user %s: %s", conf->user, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0) {
        pm_log(PM_LOG_ERR, "privileges could be regained after switching to %s", conf->user);
        return -1;
    }
    return 0;
}

/* Write the pid file, if one is configured. */
static void
write_pidfile(const struct pm_conf *conf)
{
    FILE *f;

    if (!conf->pidfile || !*conf->pidfile)
        return;
    if (!(f = fopen(conf->pidfile, "w"))) {
        pm_log(PM_LOG_WARNING, "cannot write %s: %s", conf->pidfile, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

/* Print usage and exit. */
static void
usage(void)
{
    fprintf(stderr,
            "usage: postmeter [-c file] [-f] [-n] [-s] [-v] [-V]\n"
            "  -c file  configuration file (default %s)\n"
            "  -f       stay in the foreground, log to stderr\n"
            "  -n       check the configuration and exit\n"
            "  -s       log to syslog even in the foreground\n"
            "  -v       log at debug level\n"
            "  -V       print the version and exit\n",
            DEFAULT_CONF);
    exit(1);
}

/* Remove a unix socket that libmilter leaves behind when it stops. */
static void
remove_socket(const char *conn)
{
    const char *path = NULL;

    if (strncmp(conn, "unix:", 5) == 0)
        path = conn + 5;
    else if (strncmp(conn, "local:", 6) == 0)
        path = conn + 6;
    if (path && unlink(path) != 0 && errno != ENOENT)
        pm_log(PM_LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
}

static int verbose; /* -v: debug logging, kept across reloads */

/* What the serving thread needs, copied: a reload may free the configuration. */
struct serve_args {
    char socket[1024];
    char group[256];
    int socket_mode;
    int timeout;
    int rc;
};

/* The main loop's wake-ups: 'h' from the SIGHUP handler, 'x' when serving ends. */
static int wake_fd[2] = {-1, -1};
static volatile sig_atomic_t reload_wanted;

/* SIGHUP: ask the main loop for a reload (async-signal-safe). */
static void
on_hup(int sig)
{
    int saved = errno;

    (void)sig;
    reload_wanted = 1;
    if (write(wake_fd[1], "h", 1) < 0) {
        /* the pipe is full: the main loop has wake-ups enough */
    }
    errno = saved;
}

/* Give a unix socket its configured group and mode; 0 ok, -1 error (logged). */
static int
socket_owner(const struct serve_args *sa)
{
    const char *path = NULL;
    struct group *gr;

    if (strncmp(sa->socket, "unix:", 5) == 0)
        path = sa->socket + 5;
    else if (strncmp(sa->socket, "local:", 6) == 0)
        path = sa->socket + 6;
    if (!path)
        return 0;
    if (sa->group[0]) {
        if (!(gr = getgrnam(sa->group))) {
            pm_log(PM_LOG_ERR, "milter.socket_group: group \"%s\" does not exist", sa->group);
            return -1;
        }
        if (chown(path, (uid_t)-1, gr->gr_gid) != 0) {
            pm_log(PM_LOG_ERR, "cannot give %s to group %s: %s", path, sa->group, strerror(errno));
            return -1;
        }
    }
    if (chmod(path, (mode_t)sa->socket_mode) != 0) {
        pm_log(PM_LOG_ERR, "cannot set the mode of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Open the milter socket and serve until stopped; then wake the main thread. */
static void *
serve(void *arg)
{
    struct serve_args *sa = arg;

    sa->rc = 1;
    umask(~sa->socket_mode & 0777);
    if (smfi_register(pm_milter_desc) == MI_FAILURE)
        pm_log(PM_LOG_ERR, "smfi_register failed");
    else if (smfi_setconn(sa->socket) == MI_FAILURE || smfi_settimeout(sa->timeout) == MI_FAILURE)
        pm_log(PM_LOG_ERR, "cannot use milter socket %s", sa->socket);
    else if (smfi_opensocket(1) == MI_FAILURE)
        pm_log(PM_LOG_ERR, "cannot open milter socket %s", sa->socket);
    else if (socket_owner(sa) != 0)
        ;
    else {
        pm_log(PM_LOG_NOTICE, "started: version %s, socket %s", PACKAGE_VERSION, sa->socket);
        sa->rc = smfi_main() == MI_SUCCESS ? 0 : 1;
        remove_socket(sa->socket);
    }
    while (write(wake_fd[1], "x", 1) < 0 && errno == EAGAIN)
        usleep(1000);
    return NULL;
}

/* Build and install a runtime for conf; 0 ok, -1 (conf freed) on failure. */
static int
install(struct pm_conf *conf)
{
    struct pm_runtime *rt = calloc(1, sizeof(*rt));

    if (!rt || !(rt->store = pm_store_redis_new(conf))) {
        pm_log(PM_LOG_ERR, "out of memory");
        free(rt);
        pm_conf_free(conf);
        return -1;
    }
    rt->conf = conf;
    pm_runtime_install(rt);
    return 0;
}

/* SIGHUP: read the configuration again; a bad file keeps the running one. */
static void
reload(const char *file, const char *socket)
{
    struct pm_conf *conf;
    char err[1024];

    if (pm_conf_load(file, &conf, err, sizeof(err)) != 0) {
        pm_log(PM_LOG_ERR, "reload failed, keeping the running configuration: %s", err);
        pm_metrics_reload(0);
        return;
    }
    if (strcmp(conf->milter_socket, socket) != 0)
        pm_log(PM_LOG_WARNING, "milter.socket changed to %s: it takes effect at the next restart",
               conf->milter_socket);
    if (!verbose)
        pm_log_set_level(conf->log_level);
    if (install(conf) != 0) {
        pm_metrics_reload(0);
        return;
    }
    pm_metrics_reload(1);
    pm_log(PM_LOG_NOTICE, "reloaded %s", file);
    pm_metrics_http_reload(conf->metrics_listen); /* conf stays alive: only this thread installs */
}

/* Serve in a thread; the main thread reloads on SIGHUP until serving ends.
 * libmilter's own signal thread waits for SIGHUP too, and stops the milter
 * on it. The main thread therefore takes SIGHUP with a handler, not sigwait:
 * with the signal unblocked there, Linux gives a signal sent to the process
 * to the main thread, also while it is busy reloading, so libmilter's thread
 * only ever sees SIGTERM and SIGINT. */
static int
run(const char *file, const struct pm_conf *conf)
{
    struct serve_args sa;
    struct sigaction act;
    sigset_t set;
    pthread_t tid;
    ssize_t n;
    char ch;

    memset(&sa, 0, sizeof(sa));
    snprintf(sa.socket, sizeof(sa.socket), "%s", conf->milter_socket);
    sa.socket_mode = conf->socket_mode;
    snprintf(sa.group, sizeof(sa.group), "%s", conf->socket_group ? conf->socket_group : "");
    sa.timeout = conf->milter_timeout;
    if (pipe(wake_fd) != 0 || fcntl(wake_fd[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(wake_fd[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(wake_fd[1], F_SETFD, FD_CLOEXEC) != 0) {
        pm_log(PM_LOG_ERR, "cannot start: %s", strerror(errno));
        return 1;
    }
    /* the serving threads (and libmilter's signal thread) inherit this mask */
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (pthread_create(&tid, NULL, serve, &sa) != 0) {
        pm_log(PM_LOG_ERR, "cannot start: %s", strerror(errno));
        return 1;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_hup;
    act.sa_flags = SA_RESTART;
    sigemptyset(&act.sa_mask);
    sigaction(SIGHUP, &act, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    for (;;) {
        n = read(wake_fd[0], &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || ch == 'x')
            break;
        while (reload_wanted) { /* a SIGHUP during a reload asks for one more */
            reload_wanted = 0;
            reload(file, sa.socket);
        }
    }
    pthread_join(tid, NULL);
    pm_log(PM_LOG_NOTICE, "stopped");
    return sa.rc;
}

/* Entry point. */
int
main(int argc, char **argv)
{
    const char *file = DEFAULT_CONF;
    int opt, check = 0, fg = 0, use_syslog = 0, rc;
    struct pm_conf *conf;
    char err[1024], pidfile[1024];

    while ((opt = getopt(argc, argv, "c:fnsvV")) != -1) {
        switch (opt) {
        case 'c':
            file = optarg;
            break;
        case 'f':
            fg = 1;
            break;
        case 'n':
            check = 1;
            break;
        case 's':
            use_syslog = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'V':
            printf("postmeter %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    if (pm_conf_load(file, &conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK\n", file);
        pm_conf_free(conf);
        return 0;
    }
    pm_log_set_level(verbose ? PM_LOG_DEBUG : conf->log_level);
    if (!fg || use_syslog) {
        openlog("postmeter", LOG_PID | LOG_NDELAY, facility_of(conf->log_facility));
        pm_log_set_sink(sink_syslog, NULL);
    } else {
        pm_log_set_sink(sink_stderr, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    if (!fg && daemon(0, 0) != 0) {
        pm_log(PM_LOG_ERR, "cannot become a daemon: %s", strerror(errno));
        return 1;
    }
    write_pidfile(conf);
    if (drop_privileges(conf) != 0)
        return 1;
    snprintf(pidfile, sizeof(pidfile), "%s", conf->pidfile ? conf->pidfile : "");
    if (install(conf) != 0)
        return 1;
    pm_metrics_http_start(conf->metrics_listen); /* a failure is logged; mail flows anyway */
    rc = run(file, conf); /* conf may be replaced (and freed) by a reload from here on */
    pm_metrics_http_stop();
    if (*pidfile)
        unlink(pidfile);
    pm_runtime_shutdown();
    return rc;
}
