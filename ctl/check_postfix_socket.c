/*
 * check_postfix_socket.c - postmeterctl check-postfix: can Postfix reach
 * postmeter's unix socket?
 *
 * The socket postmeter.conf names (milter.socket) is checked as Postfix's
 * user (mail_owner) would meet it (pf_socket.c): every directory on the way
 * entered, the socket writable. A missing socket means postmeter is not
 * running: a warning. Each finding says the fix, in the terms of the Debian
 * package (the postmeter group, which the postfix user joins).
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stdio.h>
#include <string.h>

#include "check_postfix.h"

/* The fix for a directory or socket user cannot pass (state: DIR_DENIED or
 * DENIED): a group the user is in, and the group's bit. A file of group root
 * gets the package's group, postmeter, rather than the user root's group. */
static void
access_fix(const char *user, enum pf_sock_state state, const struct pf_sock_report *r, char *fix,
           size_t len)
{
    const char *colon = strchr(r->owner, ':'), *group = colon ? colon + 1 : r->owner;
    int sock = state == PF_SOCK_DENIED, has_bit = (r->mode & (sock ? 020u : 010u)) != 0;

    if (r->user_in_group && sock)
        snprintf(fix, len, "milter.socket_mode = 0660 in postmeter.conf, then restart postmeter");
    else if (r->user_in_group)
        snprintf(fix, len, "chmod g+x %s", r->path);
    else if (strcmp(group, "root") == 0 && sock)
        snprintf(fix, len,
                 "milter.socket_group = \"postmeter\" and milter.socket_mode = 0660 in "
                 "postmeter.conf, adduser %s postmeter, then restart postmeter and Postfix",
                 user);
    else if (strcmp(group, "root") == 0)
        snprintf(fix, len,
                 "chgrp postmeter %s, chmod g+x %s, adduser %s postmeter, then restart "
                 "Postfix",
                 r->path, r->path, user);
    else if (has_bit)
        snprintf(fix, len, "adduser %s %s, then restart Postfix", user, group);
    else if (sock)
        snprintf(fix, len,
                 "adduser %s %s and milter.socket_mode = 0660 in postmeter.conf, then restart "
                 "postmeter and Postfix",
                 user, group);
    else
        snprintf(fix, len, "adduser %s %s and chmod g+x %s, then restart Postfix", user, group,
                 r->path);
}

/* postmeter's unix socket: can the postfix user reach it? */
void
cp_check_socket(struct cp *k)
{
    const char *user = pf_conf_get(&k->pc, "mail_owner");
    struct pf_sock_report r;
    char fix[CP_FIX_MAX];
    enum pf_sock_state state;

    if (k->pm[0] != '/')
        return; /* an inet socket: nothing on disk */
    switch ((state = pf_socket_check(k->pm, user, &r))) {
    case PF_SOCK_OK:
        break;
    case PF_SOCK_NO_USER:
        cp_add(k, 1, "main.cf", "set mail_owner to Postfix's user",
               "mail_owner is \"%s\", which is not a user here", user);
        break;
    case PF_SOCK_NO_DIR:
        snprintf(fix, sizeof(fix), "install -d -o postmeter -g postmeter -m 0750 %s", r.path);
        cp_add(k, 1, r.path, fix, "does not exist: postmeter cannot make its socket %s", k->pm);
        break;
    case PF_SOCK_MISSING:
        cp_add(k, 0, k->pm, "start postmeter (systemctl start postmeter)",
               "postmeter's socket does not exist: postmeter is not running");
        break;
    case PF_SOCK_UNSEEN:
        cp_add(k, 0, r.path, "run check-postfix as root",
               "cannot be looked at by this user: the socket was not checked");
        break;
    case PF_SOCK_NOT_SOCKET:
        cp_add(k, 1, k->pm, "remove it, then restart postmeter", "is not a socket");
        break;
    case PF_SOCK_DIR_DENIED:
        access_fix(user, state, &r, fix, sizeof(fix));
        cp_add(k, 1, r.path, fix, "user %s cannot enter this directory on the way to %s (%s %04o)",
               user, k->pm, r.owner, r.mode);
        break;
    case PF_SOCK_DENIED:
        access_fix(user, state, &r, fix, sizeof(fix));
        cp_add(k, 1, r.path, fix, "user %s cannot connect to postmeter's socket (%s %04o)", user,
               r.owner, r.mode);
        break;
    }
}
