/*
 * main.c - postmeter: a Postfix milter that meters outgoing mail per sender.
 *
 * SYNOPSIS
 *   postmeter [-c file] [-f] [-n] [-s] [-v] [-V]
 *
 * DESCRIPTION
 *   Loads the configuration (default PM_SYSCONFDIR/postmeter/postmeter.conf),
 *   drops privileges to the configured user, locks the unix socket's path
 *   (instance.c: a second postmeter on the same socket refuses to start),
 *   writes the pid file, then forks: the process started takes the signals
 *   (supervise.c), the child opens the milter socket (a stale unix socket is
 *   replaced) and serves Postfix until SIGTERM or SIGINT. Under systemd
 *   (Type=notify), the process started says READY=1 once the socket
 *   listens, RELOADING=1 and READY=1 around a reload, STOPPING=1 at a stop.
 *   -f stays in the foreground and logs to stderr (-s: to syslog instead);
 *   -n checks the configuration and exits: run as root, it reads the file
 *   again as the configured user, so that "OK" means the daemon can read
 *   every file it names; -v logs at debug level. Started as root, postmeter
 *   reads the file again once it switched to that user, as a reload will.
 *   With learning.days set, postmeter learns first (learning.c): the start is
 *   recorded in the store at the first start and said in the log at every
 *   start and reload, with when enforcement begins.
 *   SIGHUP reads the configuration again: new connections use the new one,
 *   connections in progress keep theirs, and a bad file keeps the running
 *   configuration (logged with file:line); any burst of SIGHUPs is reloads,
 *   never a stop. SIGTERM and SIGINT stop.
 *   With metrics.listen set, GET /metrics serves Prometheus metrics
 *   (metrics_http.c); a reload moves the endpoint only when the address changed.
 *   A thread watches whether Postfix reaches the socket and writes the
 *   daemon's heartbeat to Redis (watcher.c); another loads and follows the
 *   daemon's copy of the suppression lists (supfollow.c).
 *
 * DIAGNOSTICS
 *   Configuration errors are printed as "file:line: what is wrong"; the exit
 *   status is 0 on a clean stop, 1 on a configuration or start-up error
 *   (another postmeter on the socket among them) and when the milter process
 *   stopped without being asked.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
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
#include "instance.h"
#include "learning.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "notice.h"
#include "store_redis.h"
#include "supervise.h"
#include "supfollow.h"
#include "watcher.h"

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

/* Switch to the configured user and group, then read the configuration
 * again as that user, as every reload will: a file only root can read
 * stops the start, not the first reload. 0 ok (*conf may be replaced), -1
 * error (logged). */
static int
drop_privileges(const char *file, struct pm_conf **conf)
{
    struct pm_conf *again;
    char err[1024];
    int rc = pm_conf_switch_user(*conf, err, sizeof(err));

    if (rc < 0) {
        pm_log(PM_LOG_ERR, "%s", err);
        return -1;
    }
    if (rc == 0)
        return 0;
    if (pm_conf_load(file, &again, err, sizeof(err)) != 0) {
        pm_log(PM_LOG_ERR, "cannot start: %s", err);
        return -1;
    }
    pm_conf_free(*conf);
    *conf = again;
    return 0;
}

/* Log the configuration's warnings. */
static void
log_warnings(const struct pm_conf *conf)
{
    size_t i;

    for (i = 0; i < conf->n_warnings; i++)
        pm_log(PM_LOG_WARNING, "%s", conf->warnings[i]);
}

/* -n: check the file, as the user postmeter runs as too; the exit status. */
static int
check_only(const char *file, struct pm_conf *conf)
{
    char err[1024];
    size_t i;
    int rc = pm_conf_check_as_user(file, conf, err, sizeof(err));

    for (i = 0; i < conf->n_warnings; i++)
        fprintf(stderr, "%s\n", conf->warnings[i]);

    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
    } else if (rc == PM_CONF_USER_OK) {
        printf("%s: configuration OK (and readable by user %s)\n", file, conf->user);
    } else {
        if (rc == PM_CONF_USER_CANNOT)
            fprintf(stderr, "%s\n", err);
        printf("%s: configuration OK\n", file);
    }
    pm_conf_free(conf);
    return rc < 0 ? 1 : 0;
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

static int verbose; /* -v: debug logging, kept across reloads */

/* The serving thread's go-ahead and result. */
struct serve_args {
    sem_t go; /* posted once SIGHUP is ignored for good (see run()) */
    int rc;
};

/* Give the bound unix socket its configured group and mode; 0 ok, -1 error (logged). */
static int
socket_owner(const struct pm_conf *conf)
{
    const char *path = pm_instance_bind_path();
    struct group *gr;

    if (!path)
        return 0;
    if (conf->socket_group && *conf->socket_group) {
        if (!(gr = getgrnam(conf->socket_group))) {
            pm_log(PM_LOG_ERR, "milter.socket_group: group \"%s\" does not exist",
                   conf->socket_group);
            return -1;
        }
        if (chown(path, (uid_t)-1, gr->gr_gid) != 0) {
            pm_log(PM_LOG_ERR, "cannot give %s to group %s: %s", path, conf->socket_group,
                   strerror(errno));
            return -1;
        }
    }
    if (chmod(path, (mode_t)conf->socket_mode) != 0) {
        pm_log(PM_LOG_ERR, "cannot set the mode of %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Open the milter socket and put it in place (Postfix may connect from
 * then on: the backlog holds connections until smfi_main() takes them); 0
 * ok, -1 error (logged). */
static int
open_socket(const struct pm_conf *conf)
{
    umask(~conf->socket_mode & 0777);
    if (smfi_register(pm_milter_desc) == MI_FAILURE) {
        pm_log(PM_LOG_ERR, "smfi_register failed");
        return -1;
    }
    if (smfi_setconn((char *)pm_instance_bind_conn()) == MI_FAILURE ||
        smfi_settimeout(conf->milter_timeout) == MI_FAILURE) {
        pm_log(PM_LOG_ERR, "cannot use milter socket %s", conf->milter_socket);
        return -1;
    }
    if (smfi_opensocket(1) == MI_FAILURE) {
        pm_log(PM_LOG_ERR, "cannot open milter socket %s", conf->milter_socket);
        return -1;
    }
    if (socket_owner(conf) != 0 || pm_instance_publish() != 0)
        return -1;
    pm_log(PM_LOG_NOTICE, "started: version %s, socket %s", PACKAGE_VERSION, conf->milter_socket);
    return 0;
}

/* Serve until stopped, once the main thread says go. */
static void *
serve(void *arg)
{
    struct serve_args *sa = arg;

    while (sem_wait(&sa->go) != 0 && errno == EINTR)
        ;
    sa->rc = smfi_main() == MI_SUCCESS ? 0 : 1;
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
    /* learning mode: the start is recorded once in the store, and logged */
    pm_learning_startup(conf, rt->store); /* conf stays alive: only this thread installs */
    return 0;
}

/* A reload request: read the configuration again; a bad file keeps the
 * running one (-1; 0 when the new one is in use). */
static int
reload(const char *file, const char *socket)
{
    struct pm_conf *conf;
    char err[1024];

    if (pm_conf_load(file, &conf, err, sizeof(err)) != 0) {
        pm_log(PM_LOG_ERR, "reload failed, keeping the running configuration: %s", err);
        pm_metrics_reload(0);
        return -1;
    }
    if (strcmp(conf->milter_socket, socket) != 0)
        pm_log(PM_LOG_WARNING, "milter.socket changed to %s: it takes effect at the next restart",
               conf->milter_socket);
    if (!verbose)
        pm_log_set_level(conf->log_level);
    log_warnings(conf);
    if (install(conf) != 0) {
        pm_metrics_reload(0);
        return -1;
    }
    pm_metrics_reload(1);
    pm_log(PM_LOG_NOTICE, "reloaded %s", file);
    pm_metrics_http_reload(conf->metrics_listen); /* conf stays alive: only this thread installs */
    /* the notices take the new settings */
    if (pm_notice_start(conf, err, sizeof(err)) != 0)
        pm_log(PM_LOG_ERR, "%s", err);
    return 0;
}

/* What the control thread needs. */
struct control_args {
    const char *file;
    char socket[1024]; /* copied: a reload may free the configuration */
    int ctl_fd;        /* from the supervisor: a byte per reload request, EOF when it is gone */
    int stop_fd[2];    /* written by the main thread when serving has ended */
};

/* Reload on the supervisor's requests until told to stop; its end stops the milter. */
static void *
control(void *arg)
{
    struct control_args *ca = arg;
    struct pollfd pfd[2];
    char buf[64];
    ssize_t n;

    pfd[0].fd = ca->stop_fd[0];
    pfd[0].events = POLLIN;
    pfd[1].fd = ca->ctl_fd;
    pfd[1].events = POLLIN;
    for (;;) {
        if (poll(pfd, pfd[1].fd < 0 ? 1 : 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            pm_log(PM_LOG_ERR, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[0].revents)
            break;
        if (!pfd[1].revents)
            continue;
        n = read(ca->ctl_fd, buf, sizeof(buf)); /* the requests waiting are one reload */
        if (n > 0) {
            pm_supervise_ready(reload(ca->file, ca->socket) != 0);
        } else if (n == 0 || errno != EINTR) {
            pm_log(PM_LOG_ERR, "the supervising process is gone: stopping");
            smfi_stop();
            pfd[1].fd = -1;
        }
    }
    return NULL;
}

/* The milter process: serve in a thread and reload in another, on the
 * supervisor's requests, until serving ends.
 * SIGHUP is ignored here (supervise.c). An ignored signal sent to the
 * process is dropped at once, unless the main thread blocks it: then it
 * waits, and libmilter's sigwait() takes it. glibc's pthread_create()
 * blocks every signal in the calling thread for a moment, so the main
 * thread creates the threads first, ignores SIGHUP again (which drops one
 * that arrived meanwhile), only then lets libmilter start, and from then on
 * only waits. */
static int
run(const char *file, struct pm_conf *conf, int ctl_fd)
{
    struct serve_args sa;
    struct control_args ca;
    struct sigaction act;
    pthread_t serve_tid, control_tid;
    char nerr[256];

    memset(&sa, 0, sizeof(sa));
    memset(&ca, 0, sizeof(ca));
    ca.file = file;
    snprintf(ca.socket, sizeof(ca.socket), "%s", conf->milter_socket);
    ca.ctl_fd = ctl_fd;
    if (install(conf) != 0)
        return 1;
    if (open_socket(conf) != 0) {
        pm_instance_unpublish();
        pm_runtime_shutdown();
        return 1;
    }
    pm_metrics_http_start(conf->metrics_listen); /* a failure is logged; mail flows anyway */
    pm_watcher_start(conf->milter_socket);       /* the same */
    pm_supfollow_start();                        /* the same: Redis answers meanwhile */
    /* the notifier runs as the daemon's user (privileges are dropped); a failure is logged */
    if (pm_notice_start(conf, nerr, sizeof(nerr)) != 0)
        pm_log(PM_LOG_ERR, "%s", nerr);
    /* conf may be replaced (and freed) by a reload from here on */
    if (sem_init(&sa.go, 0, 0) != 0 || pipe(ca.stop_fd) != 0 ||
        pthread_create(&control_tid, NULL, control, &ca) != 0) {
        pm_log(PM_LOG_ERR, "cannot start: %s", strerror(errno));
        pm_instance_unpublish();
        pm_watcher_stop();
        pm_supfollow_stop();
        pm_metrics_http_stop();
        pm_notice_stop();
        pm_runtime_shutdown();
        return 1;
    }
    if (pthread_create(&serve_tid, NULL, serve, &sa) != 0) {
        pm_log(PM_LOG_ERR, "cannot start: %s", strerror(errno));
        sa.rc = 1;
    } else {
        memset(&act, 0, sizeof(act));
        act.sa_handler = SIG_IGN;
        sigemptyset(&act.sa_mask);
        sigaction(SIGHUP, &act, NULL);
        sem_post(&sa.go);
        pm_supervise_ready(0); /* the socket listens since open_socket() */
        pthread_join(serve_tid, NULL);
    }
    pm_instance_unpublish();
    while (write(ca.stop_fd[1], "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(control_tid, NULL);
    close(ca.stop_fd[0]);
    close(ca.stop_fd[1]);
    sem_destroy(&sa.go);
    pm_watcher_stop();
    pm_supfollow_stop();
    pm_metrics_http_stop();
    pm_notice_stop();
    pm_runtime_shutdown();
    pm_log(PM_LOG_NOTICE, "stopped");
    return sa.rc;
}

/* Open the pid file (before dropping privileges) without truncating it: a
 * second instance, refused at the lock, leaves the first one's pid there. */
static int
open_pidfile(const struct pm_conf *conf)
{
    int fd;

    if (!conf->pidfile || !*conf->pidfile)
        return -1;
    if ((fd = open(conf->pidfile, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
        pm_log(PM_LOG_WARNING, "cannot write %s: %s", conf->pidfile, strerror(errno));
    return fd;
}

/* Write our pid to the file open_pidfile() opened; 0 when written. */
static int
write_pidfile(int fd, const char *name)
{
    int rc = 0;

    if (fd < 0)
        return -1;
    if (ftruncate(fd, 0) != 0 || dprintf(fd, "%ld\n", (long)getpid()) < 0) {
        pm_log(PM_LOG_WARNING, "cannot write %s: %s", name, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

/* Entry point. */
int
main(int argc, char **argv)
{
    const char *file = DEFAULT_CONF;
    int opt, check = 0, fg = 0, use_syslog = 0, rc, pidfd, ctl_fd, wrote_pidfile;
    struct pm_conf *conf;
    pid_t child;
    char err[1024], pidfile[1024], socket[1024];

    pm_supervise_block(); /* a signal sent while postmeter starts waits for it */
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
    if (check)
        return check_only(file, conf);
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
    log_warnings(conf);
    pidfd = open_pidfile(conf);
    if (drop_privileges(file, &conf) != 0 || pm_instance_lock(conf->milter_socket) != 0) {
        if (pidfd >= 0)
            close(pidfd);
        pm_conf_free(conf);
        return 1;
    }
    snprintf(pidfile, sizeof(pidfile), "%s", conf->pidfile ? conf->pidfile : "");
    wrote_pidfile = write_pidfile(pidfd, pidfile) == 0;
    if ((child = pm_supervise_fork(&ctl_fd)) == 0)
        return run(file, conf, ctl_fd); /* the milter process */
    snprintf(socket, sizeof(socket), "%s", conf->milter_socket);
    pm_conf_free(conf);
    rc = child < 0 ? 1 : pm_supervise(child, ctl_fd, socket);
    if (wrote_pidfile)
        unlink(pidfile);
    return rc;
}
