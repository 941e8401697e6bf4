#!/bin/bash
# reputation.sh - the bounce-rate brakes against a real Redis, through the
# milter, with the default thresholds: below 50 sends nothing happens; 2 %
# tags, 3 % halves the limits, 5 % refuses first-contact recipients, 10 %
# refuses all external mail; internal mail always passes. (In the milter
# protocol a reply's "%" travels as "%%"; Postfix shows the client "%".)
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE"
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
PM_FAIL_LOGS=$PM_TMP/pm.log
pm_milter_start pm <<CONF
local_domains = [ "example.com" ];
contacts: { secret_file = "$PM_TMP/contacts.key"; };
plans: { default: { messages_per_hour = 10; messages_per_day = 0; recipients_per_day = 0;
                    recipients_per_message = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
CONF
# The store's clock reads noon of this UTC day, so that "today" and
# "yesterday" below stay the store's days whenever the test runs.
REAL=$(pm_rcli TIME | head -n 1)
TODAY=$((REAL / 86400))
pm_clock_set $((TODAY * 86400 + 43200 - REAL)) EX 3600 >/dev/null

# Give sender $1 a history through the milter: yesterday it mailed $2
# external recipients (NAME-1..NAME-$2@ext.example, NAME its local part) and
# bounces came back for the first $3 of them.
history() {
    local sender=$1 sent=$2 bounced=$3 i rcpts=()
    for ((i = 1; i <= sent; i++)); do rcpts+=(-r "${sender%@*}-$i@ext.example"); done
    pm_clock_set $(((TODAY - 1) * 86400 + 43200 - REAL)) EX 3600 >/dev/null
    out=$("$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m 1 -f "$sender" "${rcpts[@]}" 2>&1)
    pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "$sender's history"
    {
        printf 'From: MAILER-DAEMON@mx.ext.example\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n' "$sender"
        printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        printf -- '--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.ext.example\r\n'
        for ((i = 1; i <= bounced; i++)); do
            printf '\r\nFinal-Recipient: rfc822; %s-%d@ext.example\r\nAction: failed\r\nStatus: 5.1.1\r\n' "${sender%@*}" "$i"
        done
        printf -- '\r\n--B--\r\n'
    } >"$PM_TMP/dsn.eml"
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m 1 -f "" -D "$PM_TMP/dsn.eml" -r "$sender" >/dev/null 2>&1 ||
        pm_fail "the bounce for $sender was not delivered"
    for _ in $(seq 1 50); do
        [ "$(grep -c "feedback=hard_bounce sender=$sender " "$PM_TMP/pm.log")" -ge "$bounced" ] && break
        sleep 0.1
    done
    pm_assert_eq "$bounced" "$(grep -c "feedback=hard_bounce sender=$sender " "$PM_TMP/pm.log")" \
        "hard bounces counted for $sender"
    pm_clock_set $((TODAY * 86400 + 43200 - REAL)) EX 3600 >/dev/null
}

# Send $3 messages from $1 to $2; print the summary line and replies.
send() {
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m "$3" -f "$1" -r "$2" 2>&1
}

# Too few sends: 40 recipients, 20 bounces (50 %) still passes, untagged.
history few@example.com 40 20
out=$(send few@example.com x@example.org 2)
pm_assert_eq "2 0" "$(pm_summary - accepted tagged <<<"$out")" "under min_sends"

# 2.5 %: passes, tagged in the log only (no header tells recipients the bounce rate).
history warn@example.com 200 5
out=$(send warn@example.com x@example.org 2)
pm_assert_eq "2 0" "$(pm_summary - accepted tagged <<<"$out")" "2.5 % warns"
grep -q "action=tag reason=bounce_rate_warning sender=warn@example.com .*bounce_rate_ppm=25000 bounce_level=1" "$PM_TMP/pm.log" ||
    pm_fail "no warning in the log"

# 3.5 %: the hourly limit of 10 is halved to 5.
history half@example.com 200 7
out=$(send half@example.com x@example.org 8)
pm_assert_eq "5 3" "$(pm_summary - accepted tempfail <<<"$out")" "3.5 % halves the limits"
grep -q "^reply 3 451 4.7.1 <half@example.com>: hourly sending limit reached (5 messages per hour, halved: 3.4%% of your recent mail bounced); try again after " <<<"$out" ||
    pm_fail "halved limit reply: $out"
# the log shows the limits in force, and why
grep -q "stage=eom action=tag reason=bounce_rate_warning sender=half@example.com .* msgs_hour=5/5 .* limits=halved" "$PM_TMP/pm.log" ||
    pm_fail "the log does not show the halved limits"

# 6 %: a known contact passes, a first contact is refused.
out=$(send cold@example.com known@example.org 1)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "the first message makes known@ a contact"
history cold@example.com 98 6 # with the two messages to known@: 6 of 100
out=$(send cold@example.com known@example.org 1)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "6 %: a known contact"
out=$(send cold@example.com stranger@example.org 1)
pm_assert_eq 0 "$(pm_summary - accepted <<<"$out")" "6 %: a first contact"
grep -q "^reply 1 451 4.7.1 <cold@example.com>: first-contact mail paused: 6.0%% of your recent mail bounced as invalid addresses" <<<"$out" ||
    pm_fail "first-contact pause reply: $out"

# 12 %: all external mail stops; internal mail passes.
history stop@example.com 100 12
out=$(send stop@example.com known@example.org 1)
grep -q "^reply 1 451 4.7.1 <stop@example.com>: sending paused: 12.0%% of your recent mail bounced as invalid addresses; ask your administrator" <<<"$out" ||
    pm_fail "stop reply: $out"
out=$(send stop@example.com colleague@example.com 3)
pm_assert_eq 3 "$(pm_summary - accepted <<<"$out")" "12 %: internal mail"
echo "PASS: reputation"
