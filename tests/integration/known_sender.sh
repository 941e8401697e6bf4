#!/bin/bash
# known_sender.sh - what the server knows of a sender saves round trips to
# Redis, counted with MONITOR (every EVALSHA or EVAL naming the sender's
# windows key): a sender far from its limits writing 20 one-recipient
# messages to a colleague costs 2 calls for the first message (the RCPT
# probe, the commit) and exactly 1 for each next one (the commit); a sender
# over its hourly limit retrying 50 times is refused 50 times at RCPT with
# the same 451 reply, with far fewer than 50 calls, and every one of those
# refusals is still counted in the digest's record of limit hits (those
# decided without a call are carried a second later). Their daemon runs as
# production does (redis.test_clock off): no command reads the test clock.
# With rcpt_check.fresh_seconds = 0 (and the test clock on) every message
# costs 2 calls again, each right after a GET of the clock on its connection.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$DRIVE" "$top_builddir/postmeter"
pm_redis_start

PM_FAIL_LOGS="$PM_TMP/pm.log $PM_TMP/pm0.log"

# Start postmeter $1 with rcpt_check.fresh_seconds $2.
start_pm() {
    pm_milter_start "$1" <<EOF
local_domains = [ "example.com" ];
rcpt_check: { fresh_seconds = $2; margin = 2; };
plans: {
  default: { messages_per_hour = 1000; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
  two: { messages_per_hour = 2; messages_per_day = 0; recipients_per_day = 0;
         new_recipients_per_day = 0; warmup = []; };
};
assign = ( { sender = "bob@example.com"; plan = "two"; } );
EOF
}

# Watch Redis: every command, one line each, into $PM_TMP/monitor.$1 (MON).
monitor_start() {
    MON=$PM_TMP/monitor.$1
    redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" monitor >"$MON" &
    MON_PID=$!
    pm_on_exit "kill $MON_PID 2>/dev/null"
    pm_wait_grep '^OK' "$MON" || pm_fail "redis-cli monitor did not start"
}

# Stop watching, once the last command has been written.
monitor_stop() {
    pm_rcli ping >/dev/null
    pm_wait_grep '"ping"' "$MON" || pm_fail "monitor missed the last command"
    kill "$MON_PID"
    wait "$MON_PID" 2>/dev/null || true
}

# Print how many meter calls naming $1's windows key the monitor saw.
calls_of() {
    grep -iE '"(evalsha|eval)" ' "$MON" | grep -cF "\"$(pm_key "$1" w)\"" || true
}

# Print how many reads of the test clock key the monitor saw.
clock_reads() {
    grep -ciF "\"get\" \"$(pm_key global clock)\"" "$MON" || true
}

# Print how many meter calls naming $1's windows key came right after a read
# of the test clock on the same connection (MONITOR's client address; the
# commands a script runs are the client "lua" and do not count).
calls_after_clock_of() {
    awk -v w="\"$(pm_key "$1" w)\"" -v clock="\"$(pm_key global clock)\"" '/^[0-9]/ && $3 != "lua]" {
        cmd = tolower($4)
        if (cmd == "\"get\"" && $5 == clock) { got[$3] = 1; next }
        if ((cmd == "\"evalsha\"" || cmd == "\"eval\"") && index($0, w)) n += got[$3] == 1
        got[$3] = 0
    } END { print n + 0 }' "$MON"
}

# Send $2 messages from $1 to recipient $3 over one connection into $PM_TMP/$4.out.
send() {
    "$DRIVE" -S "unix:$PM_TMP/$PM_NAME.sock" -c 1 -m "$2" -f "$1" -r "$3" >"$PM_TMP/$4.out" 2>&1 ||
        pm_fail "$4: $(cat "$PM_TMP/$4.out")"
}

PM_NAME=pm
PM_TEST_CLOCK=false start_pm pm 5
PM_PID=$PM_LAST_PID

# A sender far from its limits, to a colleague: 1 call a message after the first.
monitor_start alice
send alice@example.com 20 colleague@example.com alice
monitor_stop
pm_assert_eq "20 20 0" "$(pm_summary "$PM_TMP/alice.out" messages accepted rcpt_refused)" \
    "alice: messages, accepted, recipients refused"
pm_assert_eq 21 "$(calls_of alice@example.com)" "alice: meter calls for 20 messages"
pm_assert_eq 0 "$(clock_reads)" "alice: reads of the test clock without redis.test_clock"
pm_assert_eq 20 "$(pm_rcli hget "$(pm_key "alice@example.com" w)" ih60 | cut -d: -f1)" \
    "alice: internal messages counted"

# A sender over its hourly limit (2 messages) retrying 50 times.
send bob@example.com 2 x@example.org bob_ok
pm_assert_eq "2 2" "$(pm_summary "$PM_TMP/bob_ok.out" messages accepted)" "bob: first messages"
monitor_start bob
send bob@example.com 50 x@example.org bob
monitor_stop
pm_assert_eq "50 0 50 50" \
    "$(pm_summary "$PM_TMP/bob.out" messages accepted tempfail rcpt_refused)" \
    "bob: messages, accepted, tempfailed, recipients refused"
BOB_RE='^451 4\.7\.1 <bob@example\.com>: hourly sending limit reached \(2 messages per hour\); try again after ([0-9]{4}-[0-9]{2}-[0-9]{2} )?[0-2][0-9]:[0-5][0-9] UTC$'
pm_assert_eq 50 "$(pm_replies_matching "$BOB_RE" "$PM_TMP/bob.out")" "bob: replies with the hourly text"
pm_assert_eq 1 "$(grep -c '^reply ' "$PM_TMP/bob.out")" "bob: distinct replies"
pm_assert_eq 0 "$(clock_reads)" "bob: reads of the test clock without redis.test_clock"
bob_calls=$(calls_of bob@example.com)
echo "bob: $bob_calls meter calls for 50 refused messages"
[ "$bob_calls" -ge 1 ] && [ "$bob_calls" -le 10 ] ||
    pm_fail "bob: $bob_calls meter calls for 50 refused messages (expected 1 to 10)"
pm_assert_eq 50 "$(grep -c "stage=rcpt action=tempfail reason=msgs_hour sender=bob@example.com" \
    "$PM_TMP/pm.log")" "bob: refusals logged at RCPT"
# bob sends nothing more: a second after his last request, the daemon sends
# the refusals it decided alone (its watcher thread), within a few seconds
hits=
for _ in $(seq 1 50); do
    hits=$(pm_rcli --scan --pattern "$(pm_key company example.com 'hits:*')" | head -n 1)
    [ -n "$hits" ] && [ "$(pm_rcli hget "$hits" 'bob@example.com|messages_per_hour')" = 50 ] && break
    sleep 0.1
done
[ -n "$hits" ] || pm_fail "no record of limit hits"
pm_assert_eq 50 "$(pm_rcli hget "$hits" 'bob@example.com|messages_per_hour')" \
    "bob: refusals counted for the digest"
sleep 1.5 # nothing more is carried twice
pm_assert_eq 50 "$(pm_rcli hget "$hits" 'bob@example.com|messages_per_hour')" \
    "bob: refusals counted once"

# Without the knowledge (fresh_seconds = 0): a probe and a commit every message.
kill "$PM_PID"
wait "$PM_PID" 2>/dev/null || true
PM_NAME=pm0
start_pm pm0 0
monitor_start carol
send carol@example.com 5 colleague@example.com carol
monitor_stop
pm_assert_eq "5 5" "$(pm_summary "$PM_TMP/carol.out" messages accepted)" "carol: messages"
pm_assert_eq 10 "$(calls_of carol@example.com)" "carol: meter calls without knowledge"
pm_assert_eq 10 "$(calls_after_clock_of carol@example.com)" \
    "carol: meter calls right after a read of the test clock on their connection"
echo "known_sender: ok"
