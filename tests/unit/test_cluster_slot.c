/*
 * test_cluster_slot.c - unit tests of policy/cluster_slot.c: the hash slots
 * of known keys, the slot map read from CLUSTER SLOTS replies (hand-built
 * reply trees, well formed and malformed) and MOVED/ASK error texts.
 *
 * SPDX-License-Identifier: BSD-2-Clause
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slot.h"

/* The slot of a C string. */
static unsigned
slot(const char *key)
{
    return pm_cluster_slot(key, strlen(key));
}

/* Slots of known keys. The figures are redis-server 7.0.15's answers to
 * CLUSTER KEYSLOT, asked once of a 6-node cluster started by
 * tests/lib/cluster.sh (redis-cli -c -p PORT CLUSTER KEYSLOT KEY). */
static void
test_known_slots(void **state)
{
    static const struct {
        const char *key;
        unsigned slot;
    } rows[] = {
        {"123456789", 12739},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"foo{}{bar}", 8363}, /* empty tag: the whole key */
        {"foo{{bar}}zap", 4015},
        {"{bar", 4015}, /* the tag of the line above */
        {"foo{bar}{zap}", 5061},
        {"pm:v2:{example.com}:s:a@example.com:w", 8592},
        {"pm:v2:{g}:supx", 7233},
        {"pm:{other.org}:b", 10895},
        {"", 0},
        {"{}", 15257},
        {"a}b{c", 13587}, /* '}' before '{' and none after: the whole key */
        {"{", 4092},
        {"foo", 12182},
    };
    size_t i;

    (void)state;
    assert_int_equal(pm_cluster_crc16("123456789", 9), 0x31C3);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (slot(rows[i].key) != rows[i].slot)
            fail_msg("%s: slot %u, Redis says %u", rows[i].key, slot(rows[i].key), rows[i].slot);
    }
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    assert_int_equal(slot("x{example.com}y"), slot("example.com"));
    /* bytes after a NUL count: the length is the key's */
    assert_int_not_equal(pm_cluster_slot("a\0b", 3), pm_cluster_slot("a", 1));
}

/* A reply node of a type with no payload. */
static redisReply *
node(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = type;
    return r;
}

/* An integer reply. */
static redisReply *
rnum(long long v)
{
    redisReply *r = node(REDIS_REPLY_INTEGER);

    r->integer = v;
    return r;
}

/* A bulk string reply. */
static redisReply *
rstr(const char *s)
{
    redisReply *r = node(REDIS_REPLY_STRING);

    r->str = strdup(s);
    r->len = strlen(s);
    return r;
}

/* An array reply of n elements, each NULL until the caller sets it. */
static redisReply *
rarr_blank(size_t n)
{
    redisReply *r = node(REDIS_REPLY_ARRAY);

    r->elements = n;
    r->element = calloc(n ? n : 1, sizeof(*r->element));
    assert_non_null(r->element);
    return r;
}

/* An array reply of the n elements given. */
static redisReply *
rarr(size_t n, ...)
{
    redisReply *r = rarr_blank(n);
    va_list ap;
    size_t i;

    va_start(ap, n);
    for (i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

/* A node entry as Redis 7 writes it: [ip, port, id, {}]. */
static redisReply *
rnode(const char *ip, int port)
{
    return rarr(4, rstr(ip), rnum(port), rstr("0123abcd"), rarr(0));
}

/* A range [start, end, primary, replica] */
static redisReply *
rrange(int start, int end, const char *ip, int port)
{
    return rarr(4, rnum(start), rnum(end), rnode(ip, port), rnode("127.0.0.1", 9999));
}

static struct pm_cluster_map map;

/* Parse r (freed) into map; the return code, with the message in err. */
static int
parse(redisReply *r, char *err, size_t errlen)
{
    int rc;

    err[0] = '\0';
    rc = pm_cluster_map_parse(r, &map, err, errlen);
    freeReplyObject(r);
    return rc;
}

/* Three primaries, one owning two ranges; an IPv6 endpoint; replicas ignored. */
static void
test_map(void **state)
{
    char err[200];

    (void)state;
    assert_int_equal(
        parse(rarr(4, rrange(0, 5460, "127.0.0.1", 7000), rrange(5461, 10922, "::1", 7001),
                   rrange(10923, 16000, "127.0.0.1", 7002),
                   rrange(16001, 16383, "127.0.0.1", 7000)),
              err, sizeof(err)),
        0);
    assert_int_equal(map.n_nodes, 3);
    assert_int_equal(map.covered, 16384);
    assert_string_equal(map.node[0].host, "127.0.0.1");
    assert_int_equal(map.node[0].port, 7000);
    assert_string_equal(map.node[1].host, "::1");
    assert_int_equal(map.node[2].port, 7002);
    assert_int_equal(map.owner[0], 0);
    assert_int_equal(map.owner[5460], 0);
    assert_int_equal(map.owner[5461], 1);
    assert_int_equal(map.owner[16000], 2);
    assert_int_equal(map.owner[16001], 0);
    assert_int_equal(map.owner[16383], 0);
    assert_int_equal(map.owner[slot("123456789")], 2);
    assert_int_equal(pm_cluster_served(map.owner), 16384);
    map.owner[16383] = PM_CLUSTER_NO_OWNER; /* one slot without a primary: not whole */
    assert_int_equal(pm_cluster_served(map.owner), 16383);
}

/* Uncovered slots, an unknown endpoint (NIL: the host asked), an empty reply. */
static void
test_map_partial(void **state)
{
    char err[200];

    (void)state;
    assert_int_equal(parse(rarr(1, rarr(3, rnum(100), rnum(199),
                                        rarr(3, node(REDIS_REPLY_NIL), rnum(7005), rstr("id")))),
                           err, sizeof(err)),
                     0);
    assert_int_equal(map.n_nodes, 1);
    assert_int_equal(map.covered, 100);
    assert_string_equal(map.node[0].host, "");
    assert_int_equal(map.node[0].port, 7005);
    assert_int_equal(map.owner[99], PM_CLUSTER_NO_OWNER);
    assert_int_equal(map.owner[100], 0);
    assert_int_equal(map.owner[200], PM_CLUSTER_NO_OWNER);
    assert_int_equal(pm_cluster_served(map.owner), 100);
    assert_int_equal(parse(rarr(0), err, sizeof(err)), 0);
    assert_int_equal(map.n_nodes, 0);
    assert_int_equal(map.covered, 0);
    assert_int_equal(pm_cluster_served(map.owner), 0);
}

/* One malformed reply: -1, a message containing want, and an empty map. */
static void
refused(redisReply *r, const char *want)
{
    char err[200];
    size_t i;

    if (parse(r, err, sizeof(err)) != -1)
        fail_msg("accepted; wanted \"%s\"", want);
    if (!strstr(err, want))
        fail_msg("message \"%s\"; wanted \"%s\"", err, want);
    if (map.n_nodes != 0 || map.covered != 0)
        fail_msg("\"%s\": a partial map (%u primaries, %u slots)", want, map.n_nodes, map.covered);
    for (i = 0; i < PM_CLUSTER_SLOTS; i++)
        if (map.owner[i] != PM_CLUSTER_NO_OWNER)
            fail_msg("\"%s\": slot %zu kept an owner", want, i);
}

/* Malformed replies: types, bounds, overlaps, endpoints, too many primaries. */
static void
test_map_malformed(void **state)
{
    char host[300], port_s[16];
    redisReply *big;
    int i, n;

    (void)state;
    refused(NULL, "no reply");
    refused(rnum(3), "not an array");
    refused(rarr(1, rnum(3)), "a range is not an array");
    refused(rarr(1, rarr(2, rnum(0), rnum(5))), "a range is not an array");
    refused(rarr(1, rarr(3, rstr("0"), rnum(5), rnode("h", 1))), "not integers");
    refused(rarr(1, rrange(-1, 5, "h", 1)), "not within 0-16383");
    refused(rarr(1, rrange(0, 16384, "h", 1)), "not within");
    refused(rarr(1, rrange(6, 5, "h", 1)), "not within");
    refused(rarr(2, rrange(0, 10, "h", 1), rrange(10, 20, "g", 2)), "slot 10 is listed twice");
    refused(rarr(1, rarr(3, rnum(0), rnum(5), rnum(7))), "a node is not an array");
    refused(rarr(1, rarr(3, rnum(0), rnum(5), rarr(1, rstr("h")))), "a node is not an array");
    refused(rarr(1, rarr(3, rnum(0), rnum(5), rarr(2, rstr("h"), rstr("7000")))), "port");
    refused(rarr(1, rrange(0, 5, "h", 0)), "port");
    refused(rarr(1, rrange(0, 5, "h", 65536)), "port");
    refused(rarr(1, rarr(3, rnum(0), rnum(5), rarr(2, rnum(1), rnum(7000)))), "not a string");
    refused(rarr(1, rrange(0, 5, "", 7000)), "no endpoint");
    refused(rarr(1, rrange(0, 5, "?", 7000)), "no endpoint");
    refused(rarr(1, rrange(0, 5, "a b", 7000)), "blank or control");
    memset(host, 'h', 256);
    host[256] = '\0';
    refused(rarr(1, rrange(0, 5, host, 7000)), "longer than 255");
    host[255] = '\0';
    assert_int_equal(parse(rarr(1, rrange(0, 5, host, 7000)), port_s, sizeof(port_s)), 0);
    {
        redisReply *e = node(REDIS_REPLY_ERROR);

        e->str = strdup("ERR This instance has cluster support disabled");
        e->len = strlen(e->str);
        refused(e, "cluster support disabled");
    }
    /* one slot per primary: 256 fit, 257 do not */
    for (n = PM_CLUSTER_MAX_PRIMARIES; n <= PM_CLUSTER_MAX_PRIMARIES + 1; n++) {
        big = rarr_blank((size_t)n);
        for (i = 0; i < n; i++)
            big->element[i] = rrange(i, i, "127.0.0.1", 1000 + i);
        if (n == PM_CLUSTER_MAX_PRIMARIES) {
            assert_int_equal(parse(big, port_s, sizeof(port_s)), 0);
            assert_int_equal(map.n_nodes, PM_CLUSTER_MAX_PRIMARIES);
        }
    }
    refused(big, "more than 256 primaries");
}

/* Well-formed MOVED and ASK texts, with and without the '-' of the wire. */
static void
test_redirect(void **state)
{
    static const struct {
        const char *text;
        int kind;
        unsigned slot;
        const char *host;
        int port;
    } rows[] = {
        {"MOVED 3999 127.0.0.1:6381", PM_CLUSTER_MOVED, 3999, "127.0.0.1", 6381},
        {"-MOVED 0 10.1.2.3:1", PM_CLUSTER_MOVED, 0, "10.1.2.3", 1},
        {"ASK 16383 redis-3.example.net:65535", PM_CLUSTER_ASK, 16383, "redis-3.example.net",
         65535},
        {"-ASK 12 ::1:7000", PM_CLUSTER_ASK, 12, "::1", 7000},
        {"MOVED 12 fe80::1:2:7001", PM_CLUSTER_MOVED, 12, "fe80::1:2", 7001},
        {"MOVED 12 [::1]:7002", PM_CLUSTER_MOVED, 12, "::1", 7002},
        {"MOVED 7 :6380", PM_CLUSTER_MOVED, 7, "", 6380}, /* unknown endpoint */
    };
    struct pm_cluster_redirect r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&r, 0x55, sizeof(r));
        if (pm_cluster_redirect_parse(rows[i].text, strlen(rows[i].text), &r) != rows[i].kind)
            fail_msg("%s: not parsed", rows[i].text);
        assert_int_equal(r.slot, rows[i].slot);
        assert_string_equal(r.host, rows[i].host);
        assert_int_equal(r.port, rows[i].port);
    }
}

/* Other errors are not redirections; malformed redirections are refused. */
static void
test_redirect_malformed(void **state)
{
    static const char *other[] = {
        "",
        "ERR unknown command",
        "MOVEDX 1 h:1",
        "ASKING",
        "TRYAGAIN Multiple keys",
        "CLUSTERDOWN The cluster is down",
        "moved 1 h:1",
        "-",
        "NOSCRIPT No matching script",
    };
    static const char *bad[] = {
        "MOVED",
        "ASK ",
        "MOVED 1",
        "MOVED 1 ",
        "MOVED  1 h:1",
        "ASK 1 [::1:6379",
        "ASK 1 ::1]:6379",
        "MOVED 1 [h]x:6379",
        "MOVED 16384 h:1",
        "MOVED 99999 h:1",
        "MOVED 123456 h:1",
        "MOVED -1 h:1",
        "MOVED x h:1",
        "MOVED 1 h",
        "MOVED 1 h:",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h:7000x",
        "MOVED 1 h:7000 ",
        "MOVED 1 h:+70",
        "MOVED 1 a b:1",
        "MOVED 1 h\t:1",
        "ASK 1x h:1",
        "MOVED 1 h:1234567",
        "-ASK 5 ::1:",
        "MOVED 1 h: 1",
    };
    struct pm_cluster_redirect r;
    char text[400];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (pm_cluster_redirect_parse(other[i], strlen(other[i]), &r) != PM_CLUSTER_NOT_REDIRECT)
            fail_msg("\"%s\" taken for a redirection", other[i]);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (pm_cluster_redirect_parse(bad[i], strlen(bad[i]), &r) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
    /* a NUL inside the text, and the host bound (255 bytes fit, 256 do not) */
    assert_int_equal(pm_cluster_redirect_parse("MOVED 1 h\0:1", 12, &r), -1);
    snprintf(text, sizeof(text), "MOVED 1 %0255d:7000", 0);
    assert_int_equal(pm_cluster_redirect_parse(text, strlen(text), &r), PM_CLUSTER_MOVED);
    assert_int_equal(strlen(r.host), 255);
    snprintf(text, sizeof(text), "MOVED 1 %0256d:7000", 0);
    assert_int_equal(pm_cluster_redirect_parse(text, strlen(text), &r), -1);
}

/* The key a command is routed by (pm_cluster_cmd_key). */
static void
test_cmd_key(void **state)
{
    const char *eval[] = {"EVAL", "return 1", "2", "pm:v2:{a.org}:s:x@a.org:w", "k2", "arg"};
    const char *evalsha[] = {"evalsha", "0123", "1", "pm:v2:{b.org}:top:", "0"};
    const char *nokeys[] = {"EVAL", "return now", "0", "0|2|pm:layout"};
    const char *xread[] = {"XREAD",   "COUNT",          "100", "BLOCK", "5000",
                           "STREAMS", "pm:v2:{@}:supx", "0-0"};
    const char *get[] = {"GET", "pm:v2:{@}:clock"};
    const char *unlink[] = {"UNLINK", "pm:v2:{a.org}:d:w", "pm:v2:{b.org}:d:w"};
    const char *scan[] = {"SCAN", "0", "MATCH", "pm:*", "COUNT", "1000"};
    const char *slots[] = {"CLUSTER", "SLOTS"};
    const char *time[] = {"TIME"};
    const char *cut[] = {"EVAL", "x", "1"}; /* numkeys 1 but no key: none */

    (void)state;
    assert_string_equal(pm_cluster_cmd_key(6, eval), "pm:v2:{a.org}:s:x@a.org:w");
    assert_string_equal(pm_cluster_cmd_key(5, evalsha), "pm:v2:{b.org}:top:");
    assert_null(pm_cluster_cmd_key(4, nokeys));
    assert_string_equal(pm_cluster_cmd_key(8, xread), "pm:v2:{@}:supx");
    assert_string_equal(pm_cluster_cmd_key(2, get), "pm:v2:{@}:clock");
    assert_string_equal(pm_cluster_cmd_key(3, unlink), "pm:v2:{a.org}:d:w");
    assert_null(pm_cluster_cmd_key(6, scan));
    assert_null(pm_cluster_cmd_key(2, slots));
    assert_null(pm_cluster_cmd_key(1, time));
    assert_null(pm_cluster_cmd_key(3, cut));
    /* the routing slot is the company's, whatever the kind of key */
    assert_int_equal(pm_cluster_slot(eval[3], strlen(eval[3])),
                     pm_cluster_slot("pm:v2:{a.org}:incidents", 23));
    assert_int_equal(pm_cluster_slot(get[1], strlen(get[1])), pm_cluster_slot("{@}", 3));
}

/* Run the tests. */
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_slots), cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_partial), cmocka_unit_test(test_map_malformed),
        cmocka_unit_test(test_redirect),    cmocka_unit_test(test_redirect_malformed),
        cmocka_unit_test(test_cmd_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
