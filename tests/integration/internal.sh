#!/bin/bash
# internal.sh - mail to colleagues only spends no outgoing quota and no
# warm-up, and counts against limits of its own, through the milter with a
# real Redis: with messages_per_hour = 3, a warm-up day cap of 2 and
# internal_messages_per_hour = 5, exactly 5 internal messages pass (the 6th
# is refused with its own text) and exactly 2 outgoing ones (the warm-up cap;
# a message to a colleague and a stranger is outgoing); postmeterctl status
# shows both kinds.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$DRIVE" "$CTL" redis-server redis-cli
pm_redis_start
pm_milter_start m <<'CONF'
local_domains = [ "example.com" ];
warmup: { hourly_share = 1.0; };
plans: { default: { messages_per_hour = 3; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; internal_messages_per_hour = 5;
                    warmup = [2, 4]; }; };
rules = ( );
CONF
PM_FAIL_LOGS=$PM_TMP/m.log

# Send N=$1 messages as alice to the recipients $2...; print the summary line and replies.
send() {
    local n=$1 args=()
    shift
    for r; do args+=(-r "$r"); done
    "$DRIVE" -S "unix:$PM_TMP/m.sock" -c 1 -m "$n" -f alice@example.com "${args[@]}" 2>&1
}

out=$(send 4 colleague@example.com)
pm_assert_eq "4 0" "$(pm_summary - accepted tempfail <<<"$out")" "4 internal messages"
# a colleague and a stranger: an outgoing message, not an internal one
out=$(send 1 colleague@example.com carol@example.org)
pm_assert_eq "1 0" "$(pm_summary - accepted rcpt_refused <<<"$out")" "a message to a colleague and a stranger"
out=$(send 2 colleague@example.com)
pm_assert_eq "1 1" "$(pm_summary - accepted tempfail <<<"$out")" "the 5th and 6th internal messages"
grep -q '^reply 1 451 4.7.1 <alice@example.com>: hourly limit of internal messages reached (5 messages to colleagues per hour); try again after ' <<<"$out" ||
    pm_fail "the internal limit's reply: $out"
grep -q 'stage=eom action=accept reason=ok sender=alice@example.com .*msgs_hour=1/3 .*int_msgs_hour=5/5 int_msgs_day=5/0' "$PM_TMP/m.log" ||
    pm_fail "no internal counters in the log"
out=$(send 2 bob@example.org)
pm_assert_eq "1 1" "$(pm_summary - accepted tempfail <<<"$out")" "external messages: the warm-up cap of 2"
grep -q '^reply 1 451 4.7.1 <alice@example.com>: warm-up limit reached (day 1 of warm-up: 2 messages today)' <<<"$out" ||
    pm_fail "the warm-up reply: $out"

pm_assert_eq "2 5" "$(pm_rcli HGET "$(pm_key "alice@example.com" w)" mh60 | cut -d: -f1) $(pm_rcli HGET "$(pm_key "alice@example.com" w)" ih60 | cut -d: -f1)" \
    "outgoing and internal messages counted"
out=$("$CTL" -c "$PM_TMP/m.conf" status alice@example.com) || pm_fail "status: $out"
grep -qxE '    internal msgs per hour  +.* 5/5' <<<"$out" || pm_fail "status shows no internal line: $out"
grep -qE '^ +messages per hour .* 2/3$' <<<"$out" || pm_fail "status outgoing line: $out"
out=$("$CTL" -c "$PM_TMP/m.conf" --json status alice@example.com)
grep -q '"internal_messages_per_hour":{"used":5,"limit":5}' <<<"$out" || pm_fail "status --json: $out"
exit 0
