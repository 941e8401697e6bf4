#!/bin/bash
# sentinel.sh - postmeter follows a Redis Sentinel failover.
#
# One primary, one replica and three Sentinels on loopback. postmeter finds
# the primary through the Sentinels; 40 messages pass and are replicated
# (WAIT); the primary is killed; while the Sentinels fail over, messages get
# the on_store_error answer (451 4.3.0, never a crash); once the replica is
# promoted, enforcement resumes by itself with the counts intact: with a
# limit of 100, exactly 100 pass in all, and postmeterctl finds the new
# primary through the Sentinels as well.
#
# Then the killed server returns as a replica and a planned switchover
# (SENTINEL FAILOVER) moves the primary back while about 250 messages a second
# flow: postmeter leaves the old primary when the Sentinels announce the
# promotion and logs it once; what the old primary took before that is lost
# when it is demoted, at most about one second of writes (bounded below from
# the load measured), so the counts read from the new primary and the
# messages a limited sender got through stay within that bound.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE" "$top_builddir/postmeterctl" redis-server redis-sentinel redis-cli

# Start a redis-server named $1 on port $2 with extra arguments.
start_redis() {
    local name=$1 port=$2
    shift 2
    mkdir -p "$PM_TMP/$name"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$PM_TMP/$name" --save '' \
        --appendonly no --daemonize yes --pidfile "$PM_TMP/$name/pid" \
        --logfile "$PM_TMP/$name/log" "$@" || pm_fail "redis $name did not start"
    pm_on_exit "kill -9 \$(cat $PM_TMP/$name/pid)"
    pm_wait_port "$port" || pm_fail "redis $name is not listening"
}

P1=$(pm_free_port)
P2=$(pm_free_port)
start_redis primary "$P1"
start_redis replica "$P2" --replicaof 127.0.0.1 "$P1"
SENTINELS=()
for i in 1 2 3; do
    port=$(pm_free_port)
    mkdir -p "$PM_TMP/s$i"
    cat >"$PM_TMP/s$i/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
daemonize yes
pidfile $PM_TMP/s$i/pid
logfile $PM_TMP/s$i/log
dir $PM_TMP/s$i
sentinel monitor mymaster 127.0.0.1 $P1 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel parallel-syncs mymaster 1
EOF
    redis-sentinel "$PM_TMP/s$i/sentinel.conf" || pm_fail "sentinel $i did not start"
    pm_on_exit "kill -9 \$(cat $PM_TMP/s$i/pid)"
    pm_wait_port "$port" || pm_fail "sentinel $i is not listening"
    SENTINELS+=("\"127.0.0.1:$port\"")
done
# The Sentinels must know the replica before the primary dies (bounded wait).
for _ in $(seq 1 100); do
    redis-cli -p "${SENTINELS[0]//[^0-9]/}" SENTINEL replicas mymaster 2>/dev/null | grep -q "$P2" && break
    sleep 0.1
done
SPORT=$(sed 's/.*://; s/"//g' <<<"${SENTINELS[0]}")
redis-cli -p "$SPORT" SENTINEL replicas mymaster | grep -q "$P2" || pm_fail "the Sentinels do not see the replica"

PM_MILTER_SOCKET="unix:$PM_TMP/pm.sock" pm_write_conf "$PM_TMP/pm.conf" <<EOF
redis: { sentinels = [ $(IFS=,; echo "${SENTINELS[*]}") ]; sentinel_master = "mymaster";
         connect_timeout_ms = 200; command_timeout_ms = 300; retry_min_ms = 100; retry_max_ms = 500; };
on_store_error = "tempfail";
plans: { default: { messages_per_hour = 100; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; };
         limited: { messages_per_hour = 300; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; };
         bulk: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                 warmup = []; }; };
assign = ( { sender = "carol@example.com"; plan = "limited"; },
           { sender = "bob@example.com"; plan = "bulk"; } );
rules = ( );
EOF
sed -i '/^redis: { host/,/};/d' "$PM_TMP/pm.conf"
"$PM" -c "$PM_TMP/pm.conf" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill -9 $PID"
pm_wait_file "$PM_TMP/pm.sock" || pm_fail "postmeter did not start: $(cat "$PM_TMP/pm.log")"

# Send $1 messages as ${2:-alice}@example.com; print "accepted tempfail" and keep
# the replies in $PM_TMP/last.
send() {
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m "$1" -f "${2:-alice}@example.com" -r x@example.org \
        >"$PM_TMP/last" 2>&1
    pm_summary "$PM_TMP/last" accepted tempfail
}

pm_assert_eq "40 0" "$(send 40)" "before the failover"
pm_assert_eq 1 "$(pm_redis_replicated "$P1")" "the replica acknowledged the writes"

# Kill the primary; until the replica is promoted, messages get 451 4.3.0.
kill -9 "$(cat "$PM_TMP/primary/pid")"
gap=0
accepted=40
for _ in $(seq 1 150); do
    r=$(send 1)
    if [ "$r" = "1 0" ]; then
        accepted=$((accepted + 1))
        break
    fi
    grep -q "^reply 1 451 4.3.0 <alice@example.com>: sending quota cannot be checked right now" "$PM_TMP/last" ||
        pm_fail "unexpected answer during the failover: $(cat "$PM_TMP/last")"
    gap=$((gap + 1))
    sleep 0.2
done
pm_assert_eq 41 "$accepted" "a message passed after the failover"
((gap > 0)) || pm_fail "no message met the failover gap"
kill -0 "$PID" || pm_fail "postmeter died during the failover"
redis-cli -p "$P2" ROLE | head -n 1 | grep -qx master || pm_fail "the replica was not promoted"

# Enforcement resumed with the counts intact: 100 in all.
pm_assert_eq "59 41" "$(send 100)" "after the failover"
grep -q "connection lost" "$PM_TMP/pm.log" || pm_fail "no 'connection lost' line"
pm_assert_eq 2 "$(grep -c ': connected$' "$PM_TMP/pm.log")" "'connected' lines (start, after the failover)"
# postmeterctl finds the new primary through the Sentinels too, and sees the
# 100. The daemon followed the promotion as the Sentinels announced it
# (+promoted-slave); their answer to get-master-addr-by-name changes only when
# the failover ends (+switch-master), a moment later: wait for it (about 15 s).
for _ in $(seq 1 150); do
    named=0
    for s in "${SENTINELS[@]}"; do
        redis-cli -p "$(sed 's/.*://; s/"//g' <<<"$s")" SENTINEL get-master-addr-by-name mymaster 2>/dev/null |
            grep -qx "$P2" && named=$((named + 1))
    done
    [ "$named" = "${#SENTINELS[@]}" ] && break
    sleep 0.1
done
pm_assert_eq "${#SENTINELS[@]}" "$named" "Sentinels that name the new primary"
"$top_builddir/postmeterctl" -c "$PM_TMP/pm.conf" --json status alice@example.com >"$PM_TMP/ctl.out" 2>&1 ||
    pm_fail "postmeterctl through the Sentinels: $(cat "$PM_TMP/ctl.out")"
grep -q '"messages_per_hour":{"used":100,"limit":100}' "$PM_TMP/ctl.out" ||
    pm_fail "postmeterctl status after the failover: $(cat "$PM_TMP/ctl.out")"

# --- A planned switchover: SENTINEL FAILOVER while messages flow -------------
# The old primary stays up and writable for about 10 s after the replica is
# promoted, until the Sentinels demote it and it resyncs from the new primary,
# dropping what it took meanwhile. postmeter must leave it as soon as the
# Sentinels announce the promotion, and say so once in its log.
#
# The killed server comes back as a replica of the new primary.
start_redis primary "$P1" --replicaof 127.0.0.1 "$P2"
# (a diskless full sync waits 5 s for more replicas before it starts)
for _ in $(seq 1 300); do
    redis-cli -p "$P1" INFO replication | grep -q '^master_link_status:up' && break
    sleep 0.1
done
redis-cli -p "$P1" INFO replication | grep -q '^master_link_status:up' || pm_fail "$P1 did not sync from $P2 within 30 s"
# Print the flags the Sentinel gives the replica on port $1.
replica_flags() {
    redis-cli -p "$SPORT" SENTINEL replicas mymaster |
        awk -v n="127.0.0.1:$1" 'prev == "name" { cur = $0 } prev == "flags" && cur == n { print } { prev = $0 }'
}
for _ in $(seq 1 150); do
    [ "$(replica_flags "$P1")" = slave ] && break
    sleep 0.2
done
pm_assert_eq slave "$(replica_flags "$P1")" "the Sentinel's flags of the returned replica"

# Send batches of $2 messages as $1@example.com, pausing $3 s after each, until
# $PM_TMP/stop exists (at most $4 batches); one line per batch in
# $PM_TMP/$1.batches: "start_ms end_ms accepted tempfail".
load() {
    local who=$1 k=$2 pause=$3 max=$4 t0 t1
    for _ in $(seq 1 "$max"); do
        [ -e "$PM_TMP/stop" ] && break
        t0=$(date +%s%3N)
        "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m "$k" -f "$who@example.com" -r x@example.org \
            >"$PM_TMP/$who.out" 2>&1
        t1=$(date +%s%3N)
        echo "$t0 $t1 $(pm_summary "$PM_TMP/$who.out" accepted tempfail)" >>"$PM_TMP/$who.batches"
        sleep "$pause"
    done
}
# Print the sum of column $2 of file $1.
column_sum() {
    awk -v c="$2" '{ t += $c } END { print t + 0 }' "$1"
}
# Print the most messages accepted in the batches of file $1 that overlap one
# window of $2 ms (the maximum is reached by a window that opens at a batch's end).
most_in_window() {
    awk -v w="$2" '{ s[NR] = $1; e[NR] = $2; a[NR] = $3 }
        END { for (i = 1; i <= NR; i++) {
                  t = 0
                  for (j = 1; j <= NR; j++) if (e[j] >= e[i] && s[j] <= e[i] + w) t += a[j]
                  if (t > m) m = t }
              print m + 0 }' "$1"
}
# Print the messages_per_hour used by $1@example.com, as postmeterctl reads it
# from the primary the Sentinels name.
used() {
    "$top_builddir/postmeterctl" -c "$PM_TMP/pm.conf" --json status "$1@example.com" >"$PM_TMP/ctl.out" 2>&1 ||
        pm_fail "postmeterctl status $1: $(cat "$PM_TMP/ctl.out")"
    sed -n 's/.*"messages_per_hour":{"used":\([0-9]*\),.*/\1/p' "$PM_TMP/ctl.out"
}

# carol (300 an hour) has 250 before the switchover, replicated.
pm_assert_eq "250 0" "$(send 250 carol)" "carol before the switchover"
pm_assert_eq 1 "$(pm_redis_replicated "$P2")" "the replica acknowledged carol's 250"
moved_before=$(grep -c "the primary moved" "$PM_TMP/pm.log")
# bob (no limit) sends about 200 messages a second, carol about 8.
load bob 20 0.05 2000 &
LOAD_BOB=$!
load carol 1 0.1 2000 &
LOAD_CAROL=$!
pm_on_exit "touch $PM_TMP/stop; wait $LOAD_BOB $LOAD_CAROL"
sleep 1
for _ in $(seq 1 100); do
    # NOGOODSLAVE until the Sentinel's INFO of the replica is fresh (it asks every 10 s)
    [ "$(redis-cli -p "$SPORT" SENTINEL FAILOVER mymaster)" = OK ] && break
    sleep 0.2
done
switch_ms=$(date +%s%3N)
# Wait (bounded) until the old primary is demoted and has resynced from the new one:
# what it took after the promotion is gone then.
for _ in $(seq 1 400); do
    redis-cli -p "$P2" INFO replication | grep -q '^master_link_status:up' && break
    sleep 0.1
done
redis-cli -p "$P1" ROLE | head -n 1 | grep -qx master || pm_fail "the switchover did not promote $P1"
redis-cli -p "$P2" INFO replication | grep -q '^master_link_status:up' ||
    pm_fail "the old primary $P2 was not demoted within 40 s"
sleep 1
touch "$PM_TMP/stop"
wait "$LOAD_BOB" "$LOAD_CAROL"
kill -0 "$PID" || pm_fail "postmeter died during the switchover"
awk -v t="$switch_ms" '$1 > t + 5000 { n++ } END { exit !(n > 0) }' "$PM_TMP/bob.batches" ||
    pm_fail "bob's load ended before the switchover had settled"

# The bound: what the old primary took between the replica's promotion and
# postmeter leaving it. During a failover the Sentinel asks the promoted
# replica for INFO once a second after the last answer (checked by a timer
# that runs at least 10 times a second), and announces the promotion
# (+promoted-slave) with the answer that shows it: at most 1.1 s after it.
# postmeter drops every connection to the old primary when it hears that
# (a loopback round trip); a request already sent on one is in a batch that
# overlaps the window. So at most the messages of the batches that overlap
# one window of 1.1 s are lost, and a sender gets at most that many more
# than her limit.
W=1100
acc_b=$(column_sum "$PM_TMP/bob.batches" 3)
acc_c=$((250 + $(column_sum "$PM_TMP/carol.batches" 3)))
bound_b=$(most_in_window "$PM_TMP/bob.batches" "$W")
bound_c=$(most_in_window "$PM_TMP/carol.batches" "$W")
used_b=$(used bob)
used_c=$(used carol)
echo "switchover: bob accepted $acc_b, counted $used_b (bound $bound_b); carol accepted $acc_c, counted $used_c (limit 300, bound $bound_c)"
((acc_b >= used_b && acc_b - used_b <= bound_b)) ||
    pm_fail "bob: $acc_b accepted, $used_b counted on the new primary: more lost than $bound_b (one second of bob's writes)"
pm_assert_eq 300 "$used_c" "carol's count on the new primary (limit 300)"
((acc_c >= 300 && acc_c <= 300 + bound_c)) ||
    pm_fail "carol: $acc_c accepted against a limit of 300 (allowed: 300 + $bound_c, one second of her writes)"
pm_assert_eq $((moved_before + 1)) "$(grep -c "the primary moved" "$PM_TMP/pm.log")" "'the primary moved' lines"
grep "the primary moved" "$PM_TMP/pm.log" | tail -n 1 | grep -q "from 127.0.0.1:$P2 to 127.0.0.1:$P1" ||
    pm_fail "the log does not name the switch from $P2 to $P1: $(grep "the primary moved" "$PM_TMP/pm.log")"
# postmeter stops cleanly, its watcher of the Sentinels with it.
pm_stop_clean "$PID" postmeter
echo "PASS: sentinel (failover gap: $gap messages answered 451 4.3.0; switchover: bob lost $((acc_b - used_b)) of $acc_b, carol $acc_c accepted against 300)"
