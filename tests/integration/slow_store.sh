#!/bin/bash
# slow_store.sh - a commit whose reply is lost to a slow Redis counts once.
# Redis is made slow on purpose (a script that keeps it busy) between RCPT TO and end of
# message, with command_timeout_ms = 300 and on_store_error = "tempfail":
#   (a) Redis sleeps 0.45 s: the first reply is lost, postmeter asks again on
#       a fresh connection with the same transaction id and gets the verdict
#       the script recorded: the client gets 250 and the message counts once;
#   (b) Redis sleeps 0.9 s: both replies are lost, the client gets 451 4.3.0,
#       the script still counts the message once; when the client sends the
#       same message again (same Message-ID, sender and recipients) it is
#       accepted without counting a second time;
#   (c) a message without a Message-ID sent twice counts twice.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE" redis-server redis-cli
pm_redis_start
# as production runs, without the test clock: its read, a command before the
# script's on the same connection, would be the one whose reply is lost
PM_TEST_CLOCK=false PM_REDIS_EXTRA="command_timeout_ms = 300; retry_min_ms = 10; retry_max_ms = 50;" \
    pm_milter_start m <<'CONF'
on_store_error = "tempfail";
plans: { default: { messages_per_hour = 100; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
CONF
PM_FAIL_LOGS=$PM_TMP/m.log

# Messages alice counted in the last hour.
counted() {
    pm_rcli HGET "$(pm_key "alice@example.com" w)" mh60 | cut -d: -f1
}

# Send file $1 as alice; Redis sleeps $2 s between RCPT TO and end of message
# ("" for no sleep). Prints pmdrive's output.
send() {
    local go=$PM_TMP/go.$RANDOM
    if [ -z "$2" ]; then
        "$DRIVE" -S "unix:$PM_TMP/m.sock" -c 1 -m 1 -f alice@example.com -r bob@example.org -D "$1" 2>&1
        return
    fi
    "$DRIVE" -S "unix:$PM_TMP/m.sock" -c 1 -m 1 -f alice@example.com -r bob@example.org -D "$1" \
        -W "$go" >"$PM_TMP/send.out" 2>&1 &
    local job=$!
    pm_wait_file "$go.wait" || pm_fail "pmdrive did not reach the end of the message"
    pm_rcli EVAL "local function t() local x = redis.call('TIME') return x[1] + x[2] / 1e6 end
local t0 = t() while t() - t0 < $2 do end return 1" 0 >/dev/null &
    # Redis is busy once a PING no longer answers at once
    for _ in $(seq 1 50); do timeout 0.05 redis-cli -p "$PM_REDIS_PORT" PING >/dev/null 2>&1 || break; done
    touch "$go"
    wait "$job" || pm_fail "pmdrive failed: $(cat "$PM_TMP/send.out")"
    wait
    cat "$PM_TMP/send.out"
}

# (a) the first reply lost: asked again, answered, counted once
printf 'From: alice@example.com\r\nSubject: one\r\nMessage-ID: <one@example.com>\r\n\r\nHello.\r\n' >"$PM_TMP/one.eml"
out=$(send "$PM_TMP/one.eml" 0.45)
pm_assert_eq "1 0" "$(pm_summary - accepted tempfail <<<"$out")" "(a) a reply lost once"
pm_assert_eq 1 "$(counted)" "(a) counted"
grep -q 'stage=eom action=accept reason=ok sender=alice@example.com .*msgs_hour=1/100' "$PM_TMP/m.log" ||
    pm_fail "(a) the decision line"

# (b) both replies lost: 451 4.3.0, counted once; the client's retry is not counted again
printf 'From: alice@example.com\r\nSubject: two\r\nMessage-ID: <two@example.com>\r\n\r\nHello.\r\n' >"$PM_TMP/two.eml"
out=$(send "$PM_TMP/two.eml" 0.9)
pm_assert_eq "0 1" "$(pm_summary - accepted tempfail <<<"$out")" "(b) both replies lost"
grep -q '^reply 1 451 4.3.0 ' <<<"$out" || pm_fail "(b) the reply: $out"
for _ in $(seq 1 50); do
    [ "$(counted)" = 2 ] && break
    sleep 0.1
done
pm_assert_eq 2 "$(counted)" "(b) counted by the script all the same"
for _ in $(seq 1 100); do # until the link is back
    out=$(send "$PM_TMP/two.eml" "")
    [ "$(pm_summary - accepted <<<"$out")" = 1 ] && break
    sleep 0.05
done
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "(b) the client's retry"
pm_assert_eq 2 "$(counted)" "(b) the retry counted nothing"

# (c) without a Message-ID every message counts
printf 'From: alice@example.com\r\nSubject: three\r\n\r\nHello.\r\n' >"$PM_TMP/three.eml"
send "$PM_TMP/three.eml" "" >/dev/null
send "$PM_TMP/three.eml" "" >/dev/null
pm_assert_eq 4 "$(counted)" "(c) two messages without a Message-ID"
kill -0 "$PM_LAST_PID" || pm_fail "postmeter died"
exit 0
