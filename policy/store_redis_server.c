/*
 * store_redis_server.c - the Redis store's heartbeats of the daemons: each
 * postmeter writes one about once a minute (server.lua: the hash
 * "<prefix>:v2:{@}:srv:<host>:<milter.socket>" and the index
 * "<prefix>:v2:{@}:srv", both kept PM_SERVER_KEEP seconds), and postmeterctl
 * servers reads them back: the index's members of the last PM_SERVER_KEEP
 * seconds, latest first, then each one's hash.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "contract.h"
#include "server_lua.h"
#include "store_redis_int.h"
#include "watch.h"

/* Write a daemon's heartbeat with server.lua, with the names of the store's layout. */
static int
beat_once(void *impl, const struct pm_server_beat *b, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char *id = NULL, *keys[PM_HK_COUNT] = {NULL}, nb[10][24];
    const char *args[PM_HA_COUNT];
    size_t len = strlen(b->host) + strlen(b->socket) + 2;
    redisReply *r;
    int rc = PM_STORE_ERROR;

    if ((id = malloc(len)) != NULL)
        snprintf(id, len, "%s:%s", b->host, b->socket);
    if (!id || !(keys[PM_HK_INDEX] = rs_srv_key(rs, NULL)) ||
        !(keys[PM_HK_SRV] = rs_srv_key(rs, id))) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    snprintf(nb[0], sizeof(nb[0]), "%d", PM_SERVER_KEEP);
    snprintf(nb[1], sizeof(nb[1]), "%lld", b->pid);
    snprintf(nb[2], sizeof(nb[2]), "%lld", b->up);
    snprintf(nb[3], sizeof(nb[3]), "%lld", b->conns);
    snprintf(nb[4], sizeof(nb[4]), "%lld", b->conn_ago);
    snprintf(nb[5], sizeof(nb[5]), "%lld", b->postfix_pid);
    snprintf(nb[6], sizeof(nb[6]), "%lld", b->idle_alarm);
    snprintf(nb[7], sizeof(nb[7]), "%lld", b->quiet);
    snprintf(nb[8], sizeof(nb[8]), "%lld", b->alarm_ago);
    args[PM_HA_CLOCK] = NULL; /* rs_script's */
    args[PM_HA_ID] = id;
    args[PM_HA_KEEP] = nb[0];
    args[PM_HA_HOST] = b->host;
    args[PM_HA_SOCKET] = b->socket;
    args[PM_HA_VERSION] = b->version;
    args[PM_HA_PID] = nb[1];
    args[PM_HA_UP] = nb[2];
    args[PM_HA_CONNS] = nb[3];
    args[PM_HA_CONN_AGO] = nb[4];
    args[PM_HA_POSTFIX] = pm_watch_postfix_name((enum pm_postfix)b->postfix);
    args[PM_HA_POSTFIX_PID] = nb[5];
    args[PM_HA_IDLE_ALARM] = nb[6];
    args[PM_HA_QUIET] = nb[7];
    args[PM_HA_ALARM_AGO] = nb[8];
    if ((rc = rs_script(rs, pm_server_lua, PM_HK_COUNT, (const char **)keys, PM_HA_COUNT, args, &r,
                        err, errlen)) < 0)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != PM_HR_COUNT) {
        snprintf(err, errlen, "redis %s: unexpected reply from the server script", rs->name);
        rc = PM_STORE_ERROR;
    }
    freeReplyObject(r);
out:
    free(keys[PM_HK_INDEX]);
    free(keys[PM_HK_SRV]);
    free(id);
    return rc;
}

/* Write a daemon's heartbeat; once more when server.lua refused the names
 * of a layout the data left meanwhile. */
int
rs_server_beat(void *impl, const struct pm_server_beat *b, char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    int rc = beat_once(impl, b, err, errlen);

    if (rc == PM_STORE_RETRY && rs_layout_was_refused(rs))
        rc = beat_once(impl, b, err, errlen);
    return rc;
}

/* Copy field f with value v of a server hash into s. */
static void
server_field(struct pm_server *s, const char *f, const char *v)
{
    static const struct {
        const char *name;
        size_t off;
    } nums[] = {
        {"pid", offsetof(struct pm_server, pid)},
        {"started", offsetof(struct pm_server, started)},
        {"beat", offsetof(struct pm_server, beat)},
        {"conns", offsetof(struct pm_server, conns)},
        {"last_conn", offsetof(struct pm_server, last_conn)},
        {"postfix_pid", offsetof(struct pm_server, postfix_pid)},
        {"idle_alarm", offsetof(struct pm_server, idle_alarm)},
        {"quiet_since", offsetof(struct pm_server, quiet_since)},
        {"alarm_at", offsetof(struct pm_server, alarm_at)},
    };
    size_t i;

    if (strcmp(f, "host") == 0)
        snprintf(s->host, sizeof(s->host), "%s", v);
    else if (strcmp(f, "socket") == 0)
        snprintf(s->socket, sizeof(s->socket), "%s", v);
    else if (strcmp(f, "version") == 0)
        snprintf(s->version, sizeof(s->version), "%s", v);
    else if (strcmp(f, "postfix") == 0)
        s->postfix = pm_watch_postfix_parse(v);
    else if (strcmp(f, "alarm") == 0)
        s->alarm = strcmp(v, "1") == 0;
    else
        for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
            if (strcmp(f, nums[i].name) == 0)
                *(long long *)((char *)s + nums[i].off) = strtoll(v, NULL, 10);
}

/* Read one daemon's hash and pass it to each; 0, 1 when each asked to stop,
 * or a failure (< 0). A hash gone meanwhile is skipped. */
static int
server_read(struct redis_store *rs, const char *id,
            int (*each)(void *arg, const struct pm_server *s), void *arg, char *err, size_t errlen)
{
    char *key = rs_srv_key(rs, id);
    const char *argv[2] = {"HGETALL", key};
    struct pm_server s;
    redisReply *r;
    size_t i;
    int rc;

    if (!key) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    rc = rs_call(rs, 2, argv, &r, err, errlen);
    free(key);
    if (rc < 0)
        return rc;
    memset(&s, 0, sizeof(s));
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        for (i = 0; i + 1 < r->elements; i += 2)
            if (r->element[i]->type == REDIS_REPLY_STRING &&
                r->element[i + 1]->type == REDIS_REPLY_STRING)
                server_field(&s, r->element[i]->str, r->element[i + 1]->str);
        rc = s.beat > 0 && each(arg, &s) != 0;
    }
    freeReplyObject(r);
    return rc;
}

/* The daemons whose heartbeat is recent, latest first. */
int
rs_servers(void *impl, int (*each)(void *arg, const struct pm_server *s), void *arg, long long *now,
           char *err, size_t errlen)
{
    struct redis_store *rs = impl;
    char *index = rs_srv_key(rs, NULL), from[32], max[16];
    const char *argv[8] = {"ZREVRANGEBYSCORE", index, "+inf", from, "LIMIT", "0", max};
    redisReply *r = NULL;
    size_t i;
    int rc;

    if (!index) {
        snprintf(err, errlen, "out of memory");
        return PM_STORE_ERROR;
    }
    if ((rc = rs_now(rs, now, err, errlen)) < 0)
        goto out;
    snprintf(from, sizeof(from), "%lld", *now - PM_SERVER_KEEP);
    snprintf(max, sizeof(max), "%d", PM_SERVERS_MAX);
    if ((rc = rs_call(rs, 7, argv, &r, err, errlen)) < 0)
        goto out;
    if (r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "redis %s: unexpected reply to ZREVRANGEBYSCORE", rs->name);
        rc = PM_STORE_ERROR;
        goto out;
    }
    for (i = 0, rc = 0; i < r->elements && rc == 0; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            rc = server_read(rs, r->element[i]->str, each, arg, err, errlen);
    rc = rc < 0 ? rc : PM_STORE_OK;
out:
    if (r)
        freeReplyObject(r);
    free(index);
    return rc;
}
