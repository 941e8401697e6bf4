/*
 * pf.h - postmeterctl check-postfix: Postfix's side, read the way Postfix
 * itself reads it.
 *
 * pf_conf.c runs postconf(1) (-x for the main.cf values that matter, -M for
 * the services, -Px for the services' -o overrides; -c DIR for another
 * instance) and keeps what it printed, bounded. pf_milter.c splits a milter
 * list as Postfix does ("{ address, name=value ... }" groups included) and
 * says where an address leads. pf_socket.c says whether the postfix user can
 * reach a unix socket. check_postfix.c decides what is missing or risky.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef PM_CTL_PF_H
#define PM_CTL_PF_H

#include <stddef.h>
#include <sys/types.h>

#define PF_OUTPUT_MAX (4 * 1024 * 1024) /* bytes read from one postconf run */
#define PF_SERVICES_MAX 256
#define PF_OVERRIDES_MAX 2048
#define PF_MILTERS_MAX 32 /* milters in one list */
#define PF_ADDR_MAX 1024  /* one milter address */
#define PF_ERR_MAX 1024

/* One main.cf parameter, or one -o override of a service. */
struct pf_param {
    char *service; /* "submission/inet" for an override, NULL for main.cf */
    char *name;
    char *value; /* expanded ($name references replaced) */
};

/* One master.cf service. */
struct pf_service {
    char *name;    /* "submission", "127.0.0.1:587" */
    char *type;    /* "inet", "unix", "pass" */
    char *command; /* "smtpd", "cleanup" */
    char *key;     /* "submission/inet", as postconf -P names it */
    int chroot;    /* column 5: "y" (a "-" is "n" since Postfix 3.0) */
};

/* Postfix's configuration as postconf printed it. */
struct pf_conf {
    struct pf_param *params; /* main.cf values, then the overrides */
    size_t n_params;
    struct pf_service *svc;
    size_t n_svc;
};

/* Read the configuration in dir (NULL: Postfix's default) with postconf;
 * 0, or -1 with what postconf said in err. */
int pf_conf_load(const char *dir, struct pf_conf *pc, char *err, size_t errlen);

/* A main.cf value ("" when postconf printed none). */
const char *pf_conf_get(const struct pf_conf *pc, const char *name);

/* A service's value: its -o override, else main.cf's; *overridden says which. */
const char *pf_conf_service_get(const struct pf_conf *pc, const struct pf_service *s,
                                const char *name, int *overridden);

/* The service named key ("cleanup/unix"), or NULL. */
const struct pf_service *pf_conf_service(const struct pf_conf *pc, const char *key);

/* Free what pf_conf_load() kept. */
void pf_conf_free(struct pf_conf *pc);

/* One entry of a milter list. */
struct pf_milter {
    char addr[PF_ADDR_MAX]; /* "unix:/postmeter/postmeter.sock", "inet:localhost:8891" */
    char action[32];        /* its own default_action inside { }, or "" */
};

/* Split a milter list; the number of entries, or -1 when it has more than
 * max or an entry longer than PF_ADDR_MAX. */
int pf_milter_parse(const char *list, struct pf_milter *out, size_t max);

/* Where a Postfix service reaches a milter address: the file of a unix
 * socket as seen from outside any chroot ("/var/spool/postfix/postmeter/
 * postmeter.sock"), or "inet:HOST:PORT". queue_dir: Postfix's queue
 * directory, where every daemon works and a chrooted one is jailed. */
void pf_milter_where(const char *addr, int chroot, const char *queue_dir, char *out, size_t len);

/* The same for postmeter's own socket as postmeter.conf writes it
 * ("unix:/path", "local:/path", "inet:PORT@HOST"). */
void pf_milter_where_pm(const char *sock, char *out, size_t len);

/* 1 when a unix address looks like postmeter's whatever the path: its file
 * name begins with "postmeter", or a directory on the way is "postmeter". */
int pf_milter_named_pm(const char *addr);

/* 1 when two places (pf_milter_where, pf_milter_where_pm) are the same socket. */
int pf_milter_same(const char *a, const char *b);

/* What keeps the postfix user from a unix socket. */
enum pf_sock_state {
    PF_SOCK_OK,
    PF_SOCK_NO_USER,    /* no such user */
    PF_SOCK_NO_DIR,     /* a directory on the way does not exist (path) */
    PF_SOCK_DIR_DENIED, /* the user cannot enter a directory on the way (path) */
    PF_SOCK_MISSING,    /* the socket does not exist: postmeter is not running */
    PF_SOCK_NOT_SOCKET, /* something else has its name */
    PF_SOCK_DENIED,     /* the user cannot write (connect to) the socket */
    PF_SOCK_UNSEEN,     /* this process may not look (path): not run as root */
};

/* What pf_socket_check() found about the file it stopped at. */
struct pf_sock_report {
    char path[PF_ADDR_MAX]; /* the directory or socket in question */
    char owner[64];         /* "postmeter:postmeter" */
    unsigned mode;          /* permission bits */
    int user_in_group;      /* the user is a member of the file's group */
};

/* Can user enter every directory above the socket path and connect to it? */
enum pf_sock_state pf_socket_check(const char *path, const char *user, struct pf_sock_report *r);

#endif
