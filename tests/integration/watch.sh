#!/bin/bash
# watch.sh - postmeter notices when Postfix does not reach its socket. A fake
# Postfix master is a sleeping process whose pid is written where Postfix
# writes it, <queue_directory>/pid/master.pid (the file the daemon reads);
# postfix.idle_alarm = 5 s, the least.
#   1. The pid file names a process that has ended: Postfix is stopped, and
#      no warning comes.
#   2. It names a live one: after 5 s without a connection the warning is
#      logged, exactly once, with the socket's mode and group; postmeterctl
#      servers (text, --json) and status SENDER show the alarm.
#   3. The first connection (pmdrive) clears it with one info line; servers
#      shows the connection and no alarm.
#   4. A new stretch of 5 s without a connection raises it again, once,
#      without "none since postmeter started".
# The heartbeat's keys have their TTL; a clean stop still exits 0.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" redis-server redis-cli stat
pm_redis_start
SPOOL=$PM_TMP/spool
LOG=$PM_TMP/m.log
PM_FAIL_LOGS=$LOG
RAISE='postfix watch: no connection from Postfix'
CLEAR='postfix watch: Postfix connects again: the no-connection alarm is over'

# postmeterctl with the daemon's configuration.
ctl() {
    "$CTL" -c "$PM_TMP/m.conf" "$@"
}

# The daemon's log lines without the timestamp and pid.
lines() {
    sed 's/^[^ ]* postmeter\[[0-9]*\]: //' "$LOG"
}

# How many log lines start with $1.
count() {
    lines | grep -cF -- "$1"
}

# Wait (bounded, 30 s) until $2 log lines start with $1.
wait_count() {
    for _ in $(seq 1 300); do
        [ "$(count "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    pm_fail "no $2 lines '$1'"
}

# Wait (bounded, 10 s) until postmeterctl servers prints a line matching $1.
wait_servers() {
    for _ in $(seq 1 100); do
        ctl servers 2>/dev/null | grep -qE -- "$1" && return 0
        sleep 0.1
    done
    pm_fail "servers never shows '$1': $(ctl servers 2>&1)"
}

# 1. A stale pid file: the process it names has ended.
mkdir -p "$SPOOL/pid"
sleep 0 &
DEAD=$!
wait "$DEAD"
printf '%10d\n' "$DEAD" >"$SPOOL/pid/master.pid"
pm_milter_start m <<EOF
postfix: { queue_directory = "$SPOOL"; idle_alarm = 5; };
EOF
PID=$PM_LAST_PID
wait_servers '^  postfix        stopped$'
sleep 7 # longer than the alarm's 5 s and a tick
pm_assert_eq 0 "$(count "$RAISE")" "warnings while Postfix is stopped"

# 2. A live master: the warning, once.
sleep 600 &
MASTER=$!
pm_on_exit "kill $MASTER"
printf '%10d\n' "$MASTER" >"$SPOOL/pid/master.pid"
wait_count "$RAISE" 1
GROUP=$(stat -c %G "$PM_TMP/m.sock")
MODE=$(printf '%04d' "$(stat -c %a "$PM_TMP/m.sock")")
WANT="$RAISE for 5 s while its master runs (pid $MASTER; none since postmeter started): Postfix may be unable to connect to unix:$PM_TMP/m.sock (mode $MODE, group $GROUP), and with milter_default_action = accept mail leaves unmetered; check that user postfix is in group $GROUP, the socket's mode, smtpd_milters in main.cf, and postfix's log: grep 'connect to Milter service'"
pm_assert_eq "$WANT" "$(lines | grep -F -- "$RAISE")" "the warning"
pm_assert_eq 0660 "$MODE" "the socket's mode"
sleep 3 # a few more ticks
pm_assert_eq 1 "$(count "$RAISE")" "warnings in one stretch"

HOST=$(hostname)
wait_servers '^1 server \(heartbeats of the last 10 min\), 1 alarm$'
OUT=$(ctl servers)
pm_assert_eq "$HOST  unix:$PM_TMP/m.sock" "$(sed -n 2p <<<"$OUT")" "servers: the server"
grep -qx '  connections    none since start' <<<"$OUT" || pm_fail "servers: connections: $OUT"
grep -qx "  postfix        running (master pid $MASTER)" <<<"$OUT" ||
    pm_fail "servers: postfix: $OUT"
grep -qE '^  alarm          no connection from Postfix for [0-9]+ s while Postfix runs$' \
    <<<"$OUT" || pm_fail "servers: alarm: $OUT"
grep -qE "^                 \(raised [0-9-]+ [0-9:]+ UTC; see postmeter's log\)$" <<<"$OUT" ||
    pm_fail "servers: raised: $OUT"
JSON=$(ctl --json servers)
grep -qE "^\{\"now\":[0-9]+,\"alarms\":1,\"servers\":\[\{\"host\":\"$HOST\",\"socket\":\"unix:$PM_TMP/m.sock\",.*\"connections\":0,\"last_connection\":null,\"postfix\":\"running\",\"postfix_pid\":$MASTER,\"idle_alarm\":5,\"quiet_since\":[0-9]+,\"alarm\":true,\"alarm_since\":[0-9]+\}\]\}$" \
    <<<"$JSON" || pm_fail "servers --json: $JSON"
ctl status alice@example.com | grep -qE "^  servers       $HOST: no connection from Postfix for [0-9]+ s while Postfix runs \(postmeterctl servers\)$" ||
    pm_fail "status: no alarm line: $(ctl status alice@example.com)"
ctl --json status alice@example.com | grep -q ',"servers_alarmed":1}$' ||
    pm_fail "status --json: $(ctl --json status alice@example.com)"

# The keys: the server's hash and the index, each kept 10 minutes.
KEY="$(pm_key global "srv:$HOST:unix:$PM_TMP/m.sock")"
pm_assert_eq "$(printf '%s\n' "$(pm_key global srv)" "$KEY")" \
    "$(pm_rcli --scan --pattern "$(pm_key global 'srv*')" | sort)" "heartbeat keys"
for k in "$(pm_key global srv)" "$KEY"; do
    ttl=$(pm_rcli TTL "$k")
    ((ttl > 0 && ttl <= 600)) || pm_fail "key $k has TTL $ttl"
done
pm_assert_eq 1 "$(pm_rcli HGET "$KEY" alarm)" "the stored alarm"

# 3. The first connection clears it.
"$DRIVE" -S "unix:$PM_TMP/m.sock" -m 1 -f alice@example.com -r bob@example.org >"$PM_TMP/d.out" ||
    pm_fail "pmdrive: $(cat "$PM_TMP/d.out")"
wait_count "$CLEAR" 1
pm_assert_eq "$CLEAR" "$(lines | grep -F -- "$CLEAR")" "the end of the alarm"
wait_servers '^1 server \(heartbeats of the last 10 min\), 0 alarms$'
OUT=$(ctl servers)
grep -qE '^  connections    1 since start, the last [0-9-]+ [0-9:]+ UTC \([0-9]+ s ago\)$' \
    <<<"$OUT" || pm_fail "servers after a connection: $OUT"
grep -qx '  alarm          none (it comes after 5 s without a connection while' <<<"$OUT" ||
    pm_fail "servers: no alarm: $OUT"
ctl status alice@example.com | grep -q '^  servers ' && pm_fail "status: an alarm line without alarm"

# 4. A new stretch raises it again, once.
wait_count "$RAISE" 2
WANT2="$RAISE for 5 s while its master runs (pid $MASTER): Postfix may be unable to connect to unix:$PM_TMP/m.sock (mode $MODE, group $GROUP), and with milter_default_action = accept mail leaves unmetered; check that user postfix is in group $GROUP, the socket's mode, smtpd_milters in main.cf, and postfix's log: grep 'connect to Milter service'"
pm_assert_eq "$WANT2" "$(lines | grep -F -- "$RAISE" | tail -n 1)" "the second warning"
sleep 3
pm_assert_eq 2 "$(count "$RAISE")" "warnings after two stretches"
pm_assert_eq 1 "$(count "$CLEAR")" "ends of the alarm"

pm_stop_clean "$PID" postmeter
