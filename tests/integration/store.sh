#!/bin/bash
# store.sh - the Redis store (policy/store_redis.c, policy/meter.lua) against a
# private redis-server, driven by tests/tools/storecli: exact counts under
# concurrency, rolling windows walked second by second at bucket boundaries
# (store time shifted through the test clock key), retry_at, the four
# counters, the domain scope, the three modes, key TTLs, the bound on hash
# fields, error replies, a primary that becomes a replica and a replica named
# as the store, and an outage with recovery after the backoff.
#
# SPDX-License-Identifier: BSD-2-Clause

source "$top_srcdir/tests/lib/common.sh"

CLI="$top_builddir/tests/tools/storecli"
pm_need "$CLI"
pm_redis_start

P=pmt
B=1900800000 # a store time that starts a day (22000 * 86400)

# storecli against the private server with the test prefix; its log lines
# (stderr) go to a file, except with clie, for the tests that read them.
cli() {
    "$CLI" -p "$PM_REDIS_PORT" -x "$P" "$@" 2>>"$PM_TMP/cli.log"
}
clie() {
    "$CLI" -p "$PM_REDIS_PORT" -x "$P" "$@"
}

# The value of NAME= in a result line.
val() {
    sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | head -n 1
}

# Check every NAME=VALUE given against a result line.
expect() {
    local out=$1 kv
    shift
    for kv in "$@"; do
        [ "$(val "${kv%%=*}" "$out")" = "${kv#*=}" ] || pm_fail "expected $kv in: $out"
    done
}

# Wait (at most about a second) until a second has just begun, so that what
# follows within a few hundred milliseconds happens in that second.
second_start() {
    local i ms
    for i in $(seq 1 25); do
        ms=$(($(date +%N | sed 's/^0*//;s/^$/0/') / 1000000))
        ((ms < 150)) && return 0
        sleep 0.05
    done
}

# Shift store time so that it reads $1 now (give or take the next tick).
set_clock() {
    local t
    t=$(pm_rcli TIME | head -n 1)
    pm_rcli SET "$(PM_KEY_PREFIX=$P pm_key global clock)" $(($1 - t)) EX 3600 >/dev/null
}

# Run a request at exactly store time $1, starting just after a second
# begins (a probe is retried when the second ticked between setting the clock
# and the request; a commit is not: it may have counted).
at() {
    local t=$1 out i
    shift
    for i in 1 2 3 4 5; do
        second_start
        set_clock "$t"
        out=$(cli "$@")
        [ "$(val now "$out")" = "$t" ] && { echo "$out"; return 0; }
        # a request that counted must not be sent again
        [ "$1" = probe ] || pm_fail "store time ticked past $t during a $1: $out"
    done
    pm_fail "could not run at store time $t: $out"
}

# Run a request that may count at store time $1 .. $1+5 (inside one bucket).
near() {
    local t=$1 out now
    shift
    set_clock "$t"
    out=$(cli "$@")
    now=$(val now "$out")
    [ -n "$now" ] && ((now >= t && now <= t + 5)) || pm_fail "store time not near $t: $out"
    echo "$out"
}

# --- concurrency: exactly the limit passes -----------------------------------
out=$(cli probe conc@t.test 1 1 100,500,0,0)
expect "$out" fits=1 counted=0 used=0,0,0,0
now=$(val now "$out")
t=$(pm_rcli TIME | head -n 1)
((now >= t - 2 && now <= t)) || pm_fail "without a clock key store time is Redis TIME: $now vs $t"
# a stray test clock key moves nothing unless redis.test_clock says to honour it
pm_rcli SET "$(PM_KEY_PREFIX=$P pm_key global clock)" 86400 EX 60 >/dev/null
now=$(val now "$(cli -C probe conc@t.test 1 1 100,500,0,0)")
t=$(pm_rcli TIME | head -n 1)
((now >= t - 2 && now <= t)) || pm_fail "production store time moved by the test clock key: $now vs $t"
now=$(val now "$(cli probe conc@t.test 1 1 100,500,0,0)")
((now >= t + 86400 - 2 && now <= t + 86400 + 1)) || pm_fail "test_clock store time: $now vs $t + 1 day"
pm_rcli DEL "$(PM_KEY_PREFIX=$P pm_key global clock)" >/dev/null

out=$(cli -t 8 -n 50 commit conc@t.test 1 1 100,500,0,0 | tail -n 1)
expect "$out" requests=400 fitted=100 counted=100 errors=0
out=$(cli probe conc@t.test 1 1 100,500,0,0)
expect "$out" fits=0 counted=0 over_counter=0 over_limit=100 over_used=100 used=100,100,100,100

# two processes (two mail servers) with a pool of 2 contexts for 4 threads each
cli -P 2 -t 4 -n 50 commit two@t.test 1 0 100,0,0,0 >"$PM_TMP/two.1" &
cli -P 2 -t 4 -n 50 commit two@t.test 1 0 100,0,0,0 >"$PM_TMP/two.2" &
wait
a=$(val counted "$(cat "$PM_TMP/two.1")")
b=$(val counted "$(cat "$PM_TMP/two.2")")
pm_assert_eq 100 $((a + b)) "counted by two processes"
expect "$(cat "$PM_TMP/two.1")" errors=0
expect "$(cat "$PM_TMP/two.2")" errors=0
expect "$(cli probe two@t.test 0 0 0,0,0,0)" used=100,100,0,0

# --- the rolling hour: 60 s buckets ------------------------------------------
L=5,0,0,0
expect "$(near $((B + 30)) commit hour@t.test 3 0 $L)" counted=1 used=3,3,0,0
expect "$(near $((B + 630)) commit hour@t.test 2 0 $L)" counted=1 used=5,5,0,0
out=$(at $((B + 1230)) probe hour@t.test 1 0 $L)
expect "$out" fits=0 over_scope=0 over_counter=0 over_limit=5 over_used=5 retry_at=$((B + 3660))
# need 4: the 3 of bucket K and the 2 of bucket K+10 must leave
expect "$(at $((B + 1230)) probe hour@t.test 4 0 $L)" fits=0 retry_at=$((B + 4260))
expect "$(at $((B + 1230)) probe hour@t.test 6 0 $L)" fits=0 retry_at=-1
expect "$(at $((B + 1230)) commit hour@t.test 1 0 $L)" fits=0 counted=0 used=5,5,0,0
# bucket K (B..B+59) counts until the last second of bucket K+60
expect "$(at $((B + 3659)) probe hour@t.test 1 0 $L)" fits=0 used=5,5,0,0
expect "$(at $((B + 3660)) probe hour@t.test 1 0 $L)" fits=1 used=2,5,0,0
expect "$(at $((B + 4259)) probe hour@t.test 1 0 $L)" used=2,5,0,0
expect "$(at $((B + 4260)) probe hour@t.test 1 0 $L)" used=0,5,0,0

# 300 s buckets: n = 12, bucket K leaves at (K + 13) * 300
expect "$(near $((B + 100)) -b 300,3600 commit h300@t.test 1 0 $L)" counted=1
expect "$(at $((B + 3899)) -b 300,3600 probe h300@t.test 1 0 $L)" used=1,1,0,0
expect "$(at $((B + 3900)) -b 300,3600 probe h300@t.test 1 0 $L)" used=0,1,0,0

# --- the rolling day: 600 s buckets ------------------------------------------
L=0,4,0,0
expect "$(near $((B + 300)) commit day@t.test 3 0 $L)" counted=1 used=3,3,0,0
expect "$(near $((B + 6300)) commit day@t.test 1 0 $L)" counted=1 used=1,4,0,0
out=$(at $((B + 7000)) probe day@t.test 1 0 $L)
expect "$out" fits=0 over_counter=1 over_limit=4 over_used=4 retry_at=$((B + 87000))
expect "$(at $((B + 7000)) probe day@t.test 2 0 $L)" retry_at=$((B + 87000))
expect "$(at $((B + 7000)) probe day@t.test 4 0 $L)" retry_at=$((B + 93000))
expect "$(at $((B + 86999)) probe day@t.test 1 0 $L)" fits=0 used=0,4,0,0
expect "$(at $((B + 87000)) probe day@t.test 1 0 $L)" fits=1 used=0,1,0,0
expect "$(at $((B + 92999)) probe day@t.test 1 0 $L)" used=0,1,0,0
expect "$(at $((B + 93000)) probe day@t.test 1 0 $L)" used=0,0,0,0

# --- recipients --------------------------------------------------------------
L=0,0,10,15
expect "$(near $((B + 30)) commit rcpt@t.test 1 6 $L)" counted=1 used=1,1,6,6
out=$(at $((B + 90)) commit rcpt@t.test 1 5 $L)
expect "$out" fits=0 counted=0 over_counter=2 over_limit=10 over_used=6 retry_at=$((B + 3660))
expect "$(near $((B + 90)) commit rcpt@t.test 1 4 $L)" counted=1 used=2,2,10,10
# bucket K+1 (the 4 recipients) still counts at B+3719, not at B+3720
expect "$(at $((B + 3719)) probe rcpt@t.test 0 0 $L)" used=1,2,4,10
out=$(at $((B + 3720)) commit rcpt@t.test 1 6 $L)
expect "$out" fits=0 counted=0 over_counter=3 over_limit=15 over_used=10 retry_at=$((B + 87000))
expect "$out" used=0,2,0,10

# --- the domain scope: a shared cap, all or nothing --------------------------
S=10,0,0,0 D=3,0,0,0
expect "$(cli commit a@dom.test,dom.test 1 0 $S $D)" counted=1 used=1,1,0,0 domain_used=1,1,0,0
expect "$(cli commit a@dom.test,dom.test 1 0 $S $D)" counted=1 used=2,2,0,0 domain_used=2,2,0,0
expect "$(cli commit b@dom.test,dom.test 1 0 $S $D)" counted=1 used=1,1,0,0 domain_used=3,3,0,0
out=$(cli commit b@dom.test,dom.test 1 0 $S $D)
expect "$out" fits=0 counted=0 over_scope=1 over_counter=0 over_limit=3 over_used=3
expect "$out" used=1,1,0,0 domain_used=3,3,0,0
expect "$(cli probe b@dom.test 1 0 0,0,0,0)" used=1,1,0,0
# refused by the sender's limit: the domain counts nothing either
expect "$(cli commit x@dom2.test,dom2.test 1 0 1,0,0,0 10,0,0,0)" counted=1 domain_used=1,1,0,0
out=$(cli commit x@dom2.test,dom2.test 1 0 1,0,0,0 10,0,0,0)
expect "$out" fits=0 counted=0 over_scope=0 over_limit=1 used=1,1,0,0 domain_used=1,1,0,0
expect "$(cli probe y@dom2.test,dom2.test 1 0 0,0,0,0 0,0,0,0)" domain_used=1,1,0,0

# --- soft scopes (a plan that holds or tags): a commit counts past them, and a
# limit that refuses is reported before a soft one, even one that frees later
S=1,0,0,0 D=0,1,0,0
expect "$(cli -o d commit s@soft.test,soft.test 1 0 $S $D)" fits=1 counted=1 domain_used=1,1,0,0
out=$(cli -o d commit s@soft.test,soft.test 1 0 $S $D)
expect "$out" fits=0 counted=0 over_scope=0 over_counter=0 over_limit=1 used=1,1,0,0 domain_used=1,1,0,0
# over the soft domain's limit alone: counted, and that limit reported
out=$(cli -o d commit t@soft.test,soft.test 1 0 $S $D)
expect "$out" fits=0 counted=1 over_scope=1 over_counter=1 over_limit=1 used=1,1,0,0 domain_used=2,2,0,0
expect "$(cli -o d probe t@soft.test,soft.test 1 0 0,0,0,0 $D)" fits=0 counted=0 domain_used=2,2,0,0
# a soft sender under a domain that refuses
out=$(cli -o s commit t@soft.test,soft.test 1 0 $S 0,5,0,0)
expect "$out" fits=0 counted=1 over_scope=0 over_counter=0 used=2,2,0,0 domain_used=3,3,0,0
out=$(cli -o s commit t@soft.test,soft.test 1 0 $S 0,3,0,0)
expect "$out" fits=0 counted=0 over_scope=1 over_counter=1 over_limit=3 over_used=3 used=2,2,0,0 domain_used=3,3,0,0

# --- modes and limits --------------------------------------------------------
expect "$(cli -n 3 force f@t.test 1 0 2,0,0,0 | tail -n 1)" requests=3 fitted=2 counted=3
expect "$(cli force f@t.test 1 0 2,0,0,0)" fits=0 counted=1 over_used=3 used=4,4,0,0
expect "$(cli probe f@t.test 1 0 2,0,0,0)" fits=0 counted=0 used=4,4,0,0
expect "$(cli commit u@t.test 1000 5000 0,0,0,0)" fits=1 counted=1 used=1000,1000,5000,5000
expect "$(cli commit g@t.test 6 0 5,0,0,0)" fits=0 counted=0 over_used=0 retry_at=-1 used=0,0,0,0
expect "$(cli commit g@t.test 0 11 0,0,0,10)" fits=0 counted=0 over_counter=3 retry_at=-1

# --- memory: stale buckets are deleted, the hash stays bounded -----------------
# 300 commits 600 s apart (50 hours): the last one leaves the hour buckets of
# steps 293..299 (7) and the day buckets of steps 155..299 (145), per counter.
# Each step sets the clock from Redis's own time, so a slow machine (or a
# sanitizer build) does not drift the walk across bucket boundaries.
for ((i = 0; i < 300; i++)); do
    real=$(pm_rcli TIME | head -n 1)
    pm_rcli SET "$(PM_KEY_PREFIX=$P pm_key global clock)" $((B + 30 + 600 * i - real)) EX 3600 >/dev/null
    cli commit walk@t.test 1 1 0,0,0,0 >"$PM_TMP/walk" || pm_fail "walk step $i: $(cat "$PM_TMP/walk")"
done
now=$(val now "$(cat "$PM_TMP/walk")")
((now >= B + 30 + 600 * 299 && now <= B + 30 + 600 * 299 + 5)) || pm_fail "walk ended at $now"
# 304 buckets, plus "cfg" and the seven counters' totals
pm_assert_eq 312 "$(pm_rcli HLEN "$(PM_KEY_PREFIX=$P pm_key "walk@t.test" w)")" "hash fields after the walk"
expect "$(cat "$PM_TMP/walk")" used=7,145,7,145
K=$(((B + 30 + 600 * 299) / 600))
pm_assert_eq "145:$((K - 144)):$K" "$(pm_rcli HGET "$(PM_KEY_PREFIX=$P pm_key "walk@t.test" w)" md600)" "the day total after the walk"

# --- running totals: an older hash, damaged totals, other buckets, silence -----
# A hash without totals (as an older postmeter wrote it): read whole once,
# what left its window and what is not a counter go, the totals are written.
T=$((B + 400020))
H="$(PM_KEY_PREFIX=$P pm_key "old@t.test" w)"
k=$((T / 60)) kd=$((T / 600))
pm_rcli HSET "$H" "mh60:$k" 2 "rh60:$k" 3 "md600:$kd" 2 "rd600:$kd" 3 \
    "mh60:$((k - 61))" 9 "md600:$((kd - 145))" 9 "mh60:$((k - 60))" 1 junk x >/dev/null
expect "$(at $T probe old@t.test 1 0 0,0,0,0)" used=3,2,3,3
pm_assert_eq "60/600" "$(pm_rcli HGET "$H" cfg)" "cfg after the rebuild"
pm_assert_eq "3:$((k - 60)):$k" "$(pm_rcli HGET "$H" mh60)" "hour total after the rebuild"
pm_assert_eq 000 "$(pm_rcli HEXISTS "$H" junk)$(pm_rcli HEXISTS "$H" "mh60:$((k - 61))")$(pm_rcli HEXISTS "$H" "md600:$((kd - 145))")" \
    "stray and stale fields after the rebuild"
ttl=$(pm_rcli TTL "$H")
((ttl > 0 && ttl <= 87060)) || pm_fail "rebuilt hash has TTL $ttl"
# damaged totals are rebuilt the same way
pm_rcli HSET "$H" mh60 "3:x" rd600 "1:2" >/dev/null
expect "$(at $T probe old@t.test 1 0 0,0,0,0)" used=3,2,3,3
# the bucket of minute k - 60 leaves one minute later, and the count says so
expect "$(at $((T + 60)) commit old@t.test 1 0 0,0,0,0)" counted=1 used=3,3,3,3
pm_assert_eq 0 "$(pm_rcli HEXISTS "$H" "mh60:$((k - 60))")" "bucket left at the count"
pm_assert_eq "3:$((k - 59)):$((k + 1))" "$(pm_rcli HGET "$H" mh60)" "hour total after it left"

# Buckets of another length (a server with other bucket settings) move into
# ours at their last second: a 300 s bucket starting at T leaves the hour
# at T + 3900 in both.
T=$((B + 501000))
expect "$(near $T -b 300,3600 commit mix@t.test 2 1 0,0,0,0)" counted=1 used=2,2,1,1
expect "$(at $((T + 3899)) probe mix@t.test 1 0 0,0,0,0)" used=2,2,1,1
pm_assert_eq "60/600" "$(pm_rcli HGET "$(PM_KEY_PREFIX=$P pm_key "mix@t.test" w)" cfg)" "cfg after the fold"
pm_assert_eq 0 "$(pm_rcli HKEYS "$(PM_KEY_PREFIX=$P pm_key "mix@t.test" w)" | grep -cE '^[mrn][hd](300|3600)(:|$)')" "fields of other lengths"
expect "$(at $((T + 3900)) probe mix@t.test 1 0 0,0,0,0)" used=0,2,0,1
# and back: the other server folds ours into its buckets, counting them
expect "$(at $((T + 3899)) -b 300,3600 commit mix@t.test 1 0 0,0,0,0)" counted=1 used=3,3,1,1

# A long silence: every hour bucket has left; the count starts from zero.
T=$((B + 600000))
expect "$(near $T commit quiet@t.test 4 4 0,0,0,0)" counted=1 used=4,4,4,4
expect "$(near $((T + 7200)) commit quiet@t.test 1 1 0,0,0,0)" counted=1 used=1,5,1,5
# buckets: mh60 and rh60 of the second count, md600 and rd600 of both; cfg, 7 totals
pm_assert_eq 14 "$(pm_rcli HLEN "$(PM_KEY_PREFIX=$P pm_key "quiet@t.test" w)")" "fields after the silence"

# --- every key has a TTL -------------------------------------------------------
n=0
while read -r key; do
    ttl=$(pm_rcli TTL "$key")
    case $key in
    "$(PM_KEY_PREFIX=$P pm_key layout)") continue ;; # which layout the keys are in: kept
    *:w) max=90300 ;;              # windows: 24 h + a day and an hour bucket (3600 + 300 s here)
    *:top:*) max=$((8 * 86400)) ;; # the daily top index
    *) max=$((400 * 86400)) ;;     # contacts, warm-up, credits: see doc/redis-keys.md
    esac
    ((ttl > 0 && ttl <= max)) || pm_fail "key $key has TTL $ttl"
    n=$((n + 1))
done < <(pm_rcli --scan --pattern "$P:*")
((n >= 15)) || pm_fail "only $n keys found"

# --- script errors are store errors; NOSCRIPT is answered by EVAL -----------------
pm_rcli CONFIG RESETSTAT >/dev/null
clie -P 1 -n 3 -i 300 -v commit ns@t.test 1 0 0,0,0,0 >"$PM_TMP/ns" 2>&1 &
for _ in $(seq 1 100); do grep -q '^fits' "$PM_TMP/ns" && break; sleep 0.02; done
pm_rcli SCRIPT FLUSH >/dev/null
wait $! || pm_fail "requests after SCRIPT FLUSH failed: $(cat "$PM_TMP/ns")"
pm_assert_eq 3 "$(grep -c '^fits=1 counted=1' "$PM_TMP/ns")" "requests after SCRIPT FLUSH"
pm_rcli INFO commandstats | grep -q '^cmdstat_eval:calls=1,' || pm_fail "EVAL not used once"

# The primary becomes a replica under an open connection: READONLY means the
# primary moved, so the connection is dropped (and, with Sentinel, the
# primary looked up again), while other error replies keep it; a new
# connection to the replica is refused before any write.
clie -P 1 -n 3 -i 300 -v commit ro@t.test 1 0 0,0,0,0 >"$PM_TMP/ro" 2>"$PM_TMP/ro.err" &
pid=$!
for _ in $(seq 1 100); do grep -q '^fits' "$PM_TMP/ro" && break; sleep 0.02; done
pm_rcli REPLICAOF 127.0.0.1 1 >/dev/null # a replica is read-only
wait $pid && pm_fail "wrote to a replica"
pm_assert_eq 1 "$(grep -c '^fits=1 counted=1' "$PM_TMP/ro")" "writes before the switch"
pm_assert_eq 1 "$(grep -c '^error: redis 127.0.0.1:[0-9]*: READONLY' "$PM_TMP/ro")" "READONLY errors"
grep -q '^error: redis 127.0.0.1:[0-9]*: the server is a replica, not a primary' "$PM_TMP/ro" ||
    pm_fail "a new connection to the replica: $(cat "$PM_TMP/ro")"
grep -q 'connection lost.*READONLY' "$PM_TMP/ro.err" || pm_fail "READONLY did not drop the connection"
pm_rcli REPLICAOF NO ONE >/dev/null
expect "$(cli probe ro@t.test 1 0 0,0,0,0)" fits=1 used=1,1,0,0

# --- AUTH (password, ACL user) and SELECT ----------------------------------------
pm_rcli ACL SETUSER meter on '>s3cret-pw' '~*' '+@all' >/dev/null
expect "$(clie -u meter -a s3cret-pw -D 3 commit acl@t.test 1 0 0,0,0,0 2>"$PM_TMP/acl.err")" counted=1
pm_assert_eq 1 "$(pm_rcli -n 3 EXISTS "$(PM_KEY_PREFIX=$P pm_key "acl@t.test" w)")" "key in database 3"
out=$(clie -u meter -a bad-pw-42 commit acl@t.test 1 0 0,0,0,0 2>>"$PM_TMP/acl.err") && pm_fail "bad password accepted"
grep -q 'WRONGPASS' <<<"$out" || pm_fail "no WRONGPASS: $out"
grep -q 's3cret-pw\|bad-pw-42' "$PM_TMP/acl.err" && pm_fail "a password was logged"

# --- a unix socket -----------------------------------------------------------------
sock=$PM_TMP/redis.sock
redis-server --port 0 --unixsocket "$sock" --dir "$PM_TMP" --save '' --appendonly no \
    --daemonize yes --pidfile "$PM_TMP/unix.pid" --logfile "$PM_TMP/unix.log" ||
    pm_fail "redis-server on a unix socket did not start"
pm_on_exit 'kill "$(cat "$PM_TMP/unix.pid")"'
pm_wait_file "$sock" || pm_fail "no unix socket $sock"
expect "$("$CLI" -s "$sock" -x "$P" commit unix@t.test 1 0 0,0,0,0 2>"$PM_TMP/unix.err")" counted=1
grep -qx "postmeter: redis $sock: connected" "$PM_TMP/unix.err" || pm_fail "$(cat "$PM_TMP/unix.err")"
pm_assert_eq 1 "$(redis-cli -s "$sock" EXISTS "$(PM_KEY_PREFIX=$P pm_key "unix@t.test" w)")" "key over the unix socket"

# --- a Redis busy for 1.5 s: the request fails within the command timeout -----------
busy="local function t() local x = redis.call('TIME') return x[1] + x[2] / 1e6 end
local t0 = t() while t() - t0 < 1.5 do end return 1"
pm_rcli EVAL "$busy" 0 >/dev/null &
busy_pid=$!
for _ in $(seq 1 50); do timeout 0.1 redis-cli -p "$PM_REDIS_PORT" PING >/dev/null 2>&1 || break; done
out=$(cli -T 200,300 commit slow@t.test 1 0 0,0,0,0) && pm_fail "a busy Redis answered: $out"
grep -q "^error: redis 127.0.0.1:$PM_REDIS_PORT: no reply within 300 ms" <<<"$out" || pm_fail "$out"
(($(val ms "$out") < 1000)) || pm_fail "the timeout took too long: $out"
wait $busy_pid
expect "$(cli commit slow@t.test 1 0 0,0,0,0)" counted=1 used=1,1,0,0

# --- a server that closes idle connections (CONFIG timeout): the closed
# connection is noticed before use and replaced; no error, no log line ---
pm_rcli CONFIG SET timeout 1 >/dev/null
clie -P 1 -n 2 -i 2500 -v commit idle@t.test 1 0 0,0,0,0 >"$PM_TMP/idle" 2>"$PM_TMP/idle.err" ||
    pm_fail "a request after an idle close failed: $(cat "$PM_TMP/idle")"
pm_rcli CONFIG SET timeout 0 >/dev/null
pm_assert_eq 2 "$(grep -c '^fits=1 counted=1' "$PM_TMP/idle")" "requests around an idle close"
pm_assert_eq "postmeter: redis 127.0.0.1:$PM_REDIS_PORT: connected" "$(cat "$PM_TMP/idle.err")" \
    "log lines around an idle close"

# --- outage: fast errors, one log line per change, recovery after the backoff -----
clie -T 200,500 -r 50,400 -P 4 -n 400 -i 10 -v commit out@t.test 1 0 0,0,0,0 \
    >"$PM_TMP/out" 2>"$PM_TMP/out.err" &
pid=$!
for _ in $(seq 1 200); do (($(grep -c '^fits' "$PM_TMP/out") >= 10)) && break; sleep 0.02; done
pm_redis_stop
for _ in $(seq 1 200); do (($(grep -c '^error' "$PM_TMP/out") >= 20)) && break; sleep 0.02; done
t0=$(date +%s%N)
out=$(clie -T 200,500 commit down@t.test 1 0 0,0,0,0 2>&1)
rc=$?
pm_assert_eq 1 "$rc" "exit status with Redis down"
(($(date +%s%N) - t0 < 1500000000)) || pm_fail "error took too long"
grep -q "^error: redis 127.0.0.1:$PM_REDIS_PORT: Connection refused" <<<"$out" || pm_fail "$out"
pm_redis_start "$PM_REDIS_PORT"
wait $pid && pm_fail "no request failed during the outage"
grep -q '^requests=400 ' "$PM_TMP/out" || pm_fail "driver did not finish: $(tail -n 3 "$PM_TMP/out")"
# the last requests succeeded, errors were quick, backoff errors were immediate
pm_assert_eq fits "$(grep -v '^requests' "$PM_TMP/out" | tail -n 1 | cut -c1-4)" "last request"
awk '/^error/ { sub(/.*ms=/, ""); if ($0 + 0 > 1000) bad = 1 } END { exit bad }' "$PM_TMP/out" ||
    pm_fail "an error took longer than 1 s"
grep -q '^error: redis unavailable, retrying in [0-9]* ms' "$PM_TMP/out" || pm_fail "no backoff errors"
pm_assert_eq 1 "$(grep -c 'connection lost' "$PM_TMP/out.err")" "'connection lost' lines"
pm_assert_eq 2 "$(grep -c ": connected$" "$PM_TMP/out.err")" "'connected' lines"
pm_assert_eq 3 "$(wc -l <"$PM_TMP/out.err")" "log lines"
ok=$(grep -c '^fits=1 counted=1' "$PM_TMP/out")
errors=$(grep -c '^error' "$PM_TMP/out")
pm_assert_eq 400 $((ok + errors)) "results during the outage"
# after the restart only the requests counted since then are in the new Redis
after=$(awk '/^error/ { n = 0; next } /^fits/ { n++ } END { print n }' "$PM_TMP/out")
expect "$(cli probe out@t.test 1 0 0,0,0,0)" used=$after,$after,0,0

# --- a replica is not a store: one log line, then the backoff, never a write ------
RP=$(pm_free_port)
mkdir -p "$PM_TMP/replica"
redis-server --port "$RP" --bind 127.0.0.1 --dir "$PM_TMP/replica" --save '' --appendonly no \
    --daemonize yes --pidfile "$PM_TMP/replica/pid" --replicaof 127.0.0.1 "$PM_REDIS_PORT" \
    >/dev/null || pm_fail "the replica did not start"
pm_on_exit "kill \$(cat $PM_TMP/replica/pid)"
pm_wait_port "$RP" || pm_fail "the replica is not listening"
"$CLI" -p "$RP" -x "$P" -T 200,500 -r 100,400 -n 50 -i 10 -v commit rep@t.test 1 0 0,0,0,0 \
    >"$PM_TMP/rep.out" 2>"$PM_TMP/rep.err" && pm_fail "a replica took a write"
pm_assert_eq 50 "$(grep -c '^error' "$PM_TMP/rep.out")" "requests refused by a replica"
grep -q "^error: redis 127.0.0.1:$RP: the server is a replica, not a primary" "$PM_TMP/rep.out" ||
    pm_fail "replica error: $(head -n 3 "$PM_TMP/rep.out")"
grep -q '^error: redis unavailable, retrying in [0-9]* ms' "$PM_TMP/rep.out" || pm_fail "no backoff against a replica"
pm_assert_eq 1 "$(wc -l <"$PM_TMP/rep.err")" "log lines against a replica"
grep -q "cannot connect: the server is a replica, not a primary" "$PM_TMP/rep.err" ||
    pm_fail "replica log line: $(cat "$PM_TMP/rep.err")"

# --- the warm-up stages, as the meter script keeps them ------------------------------
# One stage per active sending day, days without mail do not move it, 30 days
# of silence restart it, past the curve it is over. Each row: day (from a base
# day), request (commit: one message; probe: none), then the reported
# warm-up: active, stage, day cap, messages today.
WBASE=$(($(pm_rcli TIME | head -n 1) / 86400 + 10))
while read -r day req want; do
    [ -n "$day" ] || continue
    set_clock $(((WBASE + day) * 86400 + 43200))
    out=$(cli -w 3,5,8,12,15,20 -v "$req" walker@t.test "$([ "$req" = commit ] && echo 1 || echo 0)" 0 0,0,0,0)
    expect "$out" "warmup=$want"
done <<'WALK'
0 commit 1,0,3,1
1 commit 1,1,5,1
2 probe 1,2,8,0
3 probe 1,2,8,0
4 commit 1,2,8,1
4 commit 1,2,8,2
5 commit 1,3,12,1
6 commit 1,4,15,1
38 commit 1,0,3,1
39 commit 1,1,5,1
40 commit 1,2,8,1
41 commit 1,3,12,1
42 commit 1,4,15,1
43 commit 1,5,20,1
44 commit 0,6,0,1
WALK
pm_rcli DEL "$(PM_KEY_PREFIX=$P pm_key global clock)" >/dev/null

echo "PASS: store"
