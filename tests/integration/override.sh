#!/bin/bash
# override.sh - plan overrides set with postmeterctl, through the milter with
# a real Redis:
#   (a) an override to a plan with a warm-up curve, for a sender whose
#       configured plan has none, warms the sender up day by day (it used to
#       restart the warm-up at every message: day 1 forever);
#   (b) an override naming a plan a running postmeter does not have (its
#       configuration not yet reloaded) is logged once per sender, the plan
#       it does have applies, and postmeterctl status says so; a postmeter
#       that has the plan applies it.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$DRIVE" "$CTL" redis-server redis-cli
pm_redis_start
PLANS='plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; };
         warm: { messages_per_hour = 0; messages_per_day = 100; recipients_per_day = 0;
                 new_recipients_per_day = 0; warmup = [2, 4, 6]; };'
# overrides set by postmeterctl and a store clock that jumps by days: the
# daemons ask the store for every recipient (their knowledge of a sender
# ages in real time)
pm_milter_start old <<CONF
rcpt_check: { fresh_seconds = 0; };
warmup: { hourly_share = 1.0; };
$PLANS };
rules = ( );
CONF
pm_milter_start new <<CONF
rcpt_check: { fresh_seconds = 0; };
warmup: { hourly_share = 1.0; };
$PLANS
         vip: { messages_per_hour = 2; messages_per_day = 0; recipients_per_day = 0;
                new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
CONF
PM_FAIL_LOGS="$PM_TMP/old.log $PM_TMP/new.log"

# Send $3 messages as $2 through daemon $1; print the summary line and replies.
send() {
    "$DRIVE" -S "unix:$PM_TMP/$1.sock" -c 1 -m "$3" -f "$2" -r x@example.org 2>&1
}

# --- (a) a warm-up brought by an override advances day by day ----------------------
REAL=$(pm_rcli TIME | head -n 1)
DAY=$((REAL / 86400 + 2))
"$CTL" -c "$PM_TMP/old.conf" plan set bob@example.com warm >/dev/null || pm_fail "plan set warm"
for d in 0 1 2; do
    pm_clock_set $(((DAY + d) * 86400 + 43200 - REAL)) EX 600 >/dev/null
    out=$(send old bob@example.com 8)
    pm_assert_eq "$((2 * (d + 1)))" "$(pm_summary - accepted <<<"$out")" "bob on warm-up day $((d + 1))"
    grep -q "reply $((8 - 2 * (d + 1))) 451 4.7.1 <bob@example.com>: warm-up limit reached (day $((d + 1)) of warm-up: $((2 * (d + 1))) messages today)" <<<"$out" ||
        pm_fail "bob's reply on day $((d + 1)): $out"
done
pm_clock_del

# --- (b) an override to a plan the running postmeter lacks ---------------------------------
"$CTL" -c "$PM_TMP/new.conf" plan set carol@example.com vip >/dev/null || pm_fail "plan set vip"
out=$(send old carol@example.com 3)
pm_assert_eq 3 "$(pm_summary - accepted <<<"$out")" "carol through the postmeter without vip (default: no limit)"
pm_assert_eq 1 "$(grep -c 'sender=carol@example.com: the plan override set for this sender names a plan this configuration does not have; plan default applies' "$PM_TMP/old.log")" \
    "the warning, once"
grep -q 'stage=eom action=accept reason=ok sender=carol@example.com plan=default ' "$PM_TMP/old.log" ||
    pm_fail "the decision line names the plan applied"
out=$("$CTL" -c "$PM_TMP/new.conf" status carol@example.com)
grep -qF 'a running postmeter does not know plan "vip" yet and applies its configured plan: reload it' <<<"$out" ||
    pm_fail "status does not say the plan is not applied: $out"
out=$("$CTL" -c "$PM_TMP/new.conf" --json plan show carol@example.com)
grep -q '"override_unknown_to_a_daemon":true' <<<"$out" || pm_fail "plan show --json: $out"
# the postmeter that has the plan applies it: 2 an hour, and carol sent 3
out=$(send new carol@example.com 1)
pm_assert_eq 0 "$(pm_summary - accepted <<<"$out")" "carol through the postmeter with vip"
grep -q '^reply 1 451 4.7.1 <carol@example.com>: hourly sending limit reached (2 messages per hour)' <<<"$out" ||
    pm_fail "carol's reply under vip: $out"
grep -q 'sender=carol@example.com plan=vip plan_from=override ' "$PM_TMP/new.log" ||
    pm_fail "the new postmeter does not apply vip"
pm_assert_eq 0 "$(grep -c 'names a plan this configuration does not have' "$PM_TMP/new.log")" \
    "a warning from the postmeter that has the plan"
# setting the override again clears what the old postmeter reported
"$CTL" -c "$PM_TMP/new.conf" plan set carol@example.com vip >/dev/null || pm_fail "plan set vip again"
out=$("$CTL" -c "$PM_TMP/new.conf" --json plan show carol@example.com)
grep -q '"override_unknown_to_a_daemon":false' <<<"$out" || pm_fail "plan show after plan set: $out"
exit 0
