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
                    warmup = []; }; };
rules = ( );
EOF
sed -i '/^redis: { host/d' "$PM_TMP/pm.conf"
"$PM" -c "$PM_TMP/pm.conf" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill -9 $PID"
pm_wait_file "$PM_TMP/pm.sock" || pm_fail "postmeter did not start: $(cat "$PM_TMP/pm.log")"

# Send $1 messages as alice; print "accepted tempfail" and keep the replies in $PM_TMP/last.
send() {
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m "$1" -f alice@example.com -r x@example.org \
        >"$PM_TMP/last" 2>&1
    pm_summary "$PM_TMP/last" accepted tempfail
}

pm_assert_eq "40 0" "$(send 40)" "before the failover"
pm_assert_eq 1 "$(redis-cli -p "$P1" WAIT 1 3000)" "the replica acknowledged the writes"

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
# postmeterctl finds the new primary through the Sentinels too, and sees the 100.
"$top_builddir/postmeterctl" -c "$PM_TMP/pm.conf" --json status alice@example.com >"$PM_TMP/ctl.out" 2>&1 ||
    pm_fail "postmeterctl through the Sentinels: $(cat "$PM_TMP/ctl.out")"
grep -q '"messages_per_hour":{"used":100,"limit":100}' "$PM_TMP/ctl.out" ||
    pm_fail "postmeterctl status after the failover: $(cat "$PM_TMP/ctl.out")"
echo "PASS: sentinel (failover gap: $gap messages answered 451 4.3.0)"
