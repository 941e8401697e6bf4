#!/bin/bash
# store_down.sh - Redis dies and comes back: two postmeter processes, one with
# on_store_error = "accept", one with "tempfail". While Redis is down (killed
# with -9 while milter sessions are open) every message gets exactly the
# configured answer, neither daemon crashes, and each logs the outage once,
# not once per message. Once Redis is back on the same port, enforcement
# resumes: with a limit of N, exactly N more messages pass.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE"
pm_redis_start

N=10
# The daemon's log lines for the link going down and coming back up.
LOST_RE='redis .*: (connection lost|cannot connect)'
UP_RE='redis .*: connected'

PM_FAIL_LOGS="$PM_TMP/pm*.log" # on failure, the end of each daemon's log first

# Run pmdrive against server $1 for sender $2 (more options follow); output in $PM_TMP/out.
drive() {
    local srv=$1 sender=$2
    shift 2
    "$DRIVE" -S "unix:$PM_TMP/pm$srv.sock" -f "$sender" "$@" >"$PM_TMP/out" 2>"$PM_TMP/err" ||
        pm_fail "pmdrive against $srv: $(cat "$PM_TMP/err")"
    cat "$PM_TMP/out"
}

# Assert the last run's counts: messages, accepted, tempfail (label $4).
expect() {
    pm_assert_eq "$1" "$(pm_summary "$PM_TMP/out" messages)" "$4: messages"
    pm_assert_eq "$2" "$(pm_summary "$PM_TMP/out" accepted)" "$4: accepted"
    pm_assert_eq "$3" "$(pm_summary "$PM_TMP/out" tempfail)" "$4: tempfailed"
    pm_assert_eq 0 "$(pm_summary "$PM_TMP/out" errors)" "$4: errors"
}

# Assert every reply of the last run matches regex $1 (label $2).
expect_texts() {
    local n
    n=$(pm_summary "$PM_TMP/out" tempfail)
    pm_assert_eq "$n" "$(pm_replies_matching "$1" "$PM_TMP/out")" "$2: replies matching $1"
    pm_assert_eq "$n" "$(pm_replies_matching '.' "$PM_TMP/out")" "$2: replies of any text"
}

# Assert server $1 is alive and has logged the outage once and $2 "connected" lines.
expect_log_lines() {
    kill -0 "${PIDS[$1]}" 2>/dev/null || pm_fail "postmeter $1 died"
    pm_assert_eq 1 "$(grep -Ec "$LOST_RE" "$PM_TMP/pm$1.log")" "postmeter $1: outage log lines"
    pm_assert_eq "$2" "$(grep -Ec "$UP_RE" "$PM_TMP/pm$1.log")" "postmeter $1: connected log lines"
}

# Start server $1 with on_store_error = $2.
start() {
    PM_MILTER_SOCKET="unix:$PM_TMP/pm$1.sock" pm_write_conf "$PM_TMP/pm$1.conf" <<EOF
on_store_error = "$2";
plans: { default: { messages_per_hour = $N; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
EOF
    # Short reconnect back-off keeps the test quick.
    sed -i 's|key_prefix = "pmtest";|& connect_timeout_ms = 100; retry_min_ms = 50; retry_max_ms = 300;|' \
        "$PM_TMP/pm$1.conf"
    "$PM" -n -c "$PM_TMP/pm$1.conf" >"$PM_TMP/check.out" 2>&1 ||
        pm_fail "postmeter -n rejects the test config: $(cat "$PM_TMP/check.out")"
    "$PM" -c "$PM_TMP/pm$1.conf" -f 2>"$PM_TMP/pm$1.log" &
    PIDS[$1]=$!
    pm_on_exit "kill -9 $!"
    disown "$!" # no job notice when the cleanup kills it
    pm_wait_file "$PM_TMP/pm$1.sock" || pm_fail "postmeter $1 did not create its socket"
}

declare -A PIDS
start A accept
start B tempfail
ALICE_RE="^451 4\\.7\\.1 <alice@example\\.com>: hourly sending limit reached \\($N messages per hour\\); try again after ([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] )?[0-2][0-9]:[0-5][0-9] UTC\$"
DAVE_RE="^451 4\\.7\\.1 <dave@example\\.com>: hourly sending limit reached \\($N messages per hour\\); try again after ([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] )?[0-2][0-9]:[0-5][0-9] UTC\$"

# 1. Redis up: messages are counted.
drive A alice@example.com -c 1 -m 3
expect 3 3 0 "A, Redis up"
drive B dave@example.com -c 1 -m 3
expect 3 3 0 "B, Redis up"

# 2. Kill Redis while sessions are open (each waits after HELO for the go file).
"$DRIVE" -S "unix:$PM_TMP/pmA.sock" -f alice@example.com -c 3 -m 5 -w "$PM_TMP/go" \
    >"$PM_TMP/downA.out" 2>"$PM_TMP/downA.err" &
JOB_A=$!
"$DRIVE" -S "unix:$PM_TMP/pmB.sock" -f dave@example.com -c 3 -m 5 -w "$PM_TMP/go" \
    >"$PM_TMP/downB.out" 2>"$PM_TMP/downB.err" &
JOB_B=$!
sleep 0.3
pm_redis_stop KILL
touch "$PM_TMP/go"
wait "$JOB_A" || pm_fail "pmdrive against A while Redis is down: $(cat "$PM_TMP/downA.err")"
wait "$JOB_B" || pm_fail "pmdrive against B while Redis is down: $(cat "$PM_TMP/downB.err")"
cat "$PM_TMP/downA.out" "$PM_TMP/downB.out"
cp "$PM_TMP/downA.out" "$PM_TMP/out"
expect 15 15 0 "A, Redis down (accept)"
cp "$PM_TMP/downB.out" "$PM_TMP/out"
expect 15 0 15 "B, Redis down (tempfail)"
expect_texts '^451 4\.3\.0 ' "B, Redis down"
# Still down: more traffic gives the same answers and no new log line.
drive A alice@example.com -c 2 -m 5
expect 10 10 0 "A, Redis still down"
drive B dave@example.com -c 2 -m 5
expect 10 0 10 "B, Redis still down"
expect_texts '^451 4\.3\.0 ' "B, Redis still down"
expect_log_lines A 1
expect_log_lines B 1

# 3. Redis back (empty) on the same port: B tempfails until it reconnects,
#    then counts again; the message that shows it is the first of N.
pm_redis_start "$PM_REDIS_PORT"
back=0
for _ in $(seq 1 100); do
    drive B dave@example.com -c 1 -m 1 >/dev/null
    if [ "$(pm_summary "$PM_TMP/out" accepted)" = 1 ]; then
        back=1
        break
    fi
    expect_texts '^451 4\.3\.0 ' "B, reconnecting"
    sleep 0.1
done
pm_assert_eq 1 "$back" "B accepts again after Redis is back"
drive B dave@example.com -c 3 -m 5
expect 15 $((N - 1)) $((16 - N)) "B, Redis back"
expect_texts "$DAVE_RE" "B, Redis back"

# A accepts either way; a message counted in Redis shows it has reconnected
# (alice's keys: the daemons also write their heartbeats).
keys=$(pm_rcli --scan --pattern '*alice@example.com*' | wc -l)
back=0
for _ in $(seq 1 100); do
    drive A alice@example.com -c 1 -m 1 >/dev/null
    expect 1 1 0 "A, reconnecting"
    if [ "$(pm_rcli --scan --pattern '*alice@example.com*' | wc -l)" != "$keys" ]; then
        back=1
        break
    fi
    sleep 0.1
done
pm_assert_eq 1 "$back" "A counts again after Redis is back"
drive A alice@example.com -c 3 -m 5
expect 15 $((N - 1)) $((16 - N)) "A, Redis back"
expect_texts "$ALICE_RE" "A, Redis back"

expect_log_lines A 2
expect_log_lines B 2
echo "PASS: store_down.sh"
exit 0
