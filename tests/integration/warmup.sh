#!/bin/bash
# warmup.sh - warm-up curves against a real Redis, through the milter.
#
# A new sender is walked through 44 simulated days (time shifted through the
# store's clock key), sending on some days and not others: each active day
# exactly the curve's cap passes; days without mail do not advance the stage;
# a bounce rate above warmup.max_bounce_rate (a real bounce, read by the
# milter, of mail the sender sent) holds the stage; past the curve
# the plan alone applies; 31 days of silence restart the warm-up. A second
# daemon checks the hourly share of a day's cap.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE"
pm_redis_start

SENDER=walker@example.com
WU_KEY="$(pm_key "$SENDER" wu)"


# the store's clock jumps by days: the daemon asks the store for every
# recipient (its knowledge of a sender ages in real time)
pm_milter_start walk <<'CONF'
rcpt_check: { fresh_seconds = 0; };
local_domains = [ "example.com" ];
warmup: { dormant_days = 30; hourly_share = 1.0; max_bounce_rate = 0.03; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = [3, 5, 8, 12, 15]; }; };
CONF

# Store time now, and the first simulated day: two days ahead.
REAL=$(pm_rcli TIME | head -n 1)
BASE_DAY=$((REAL / 86400 + 2))

# Shift the store's clock to noon of simulated day $1.
at_day() {
    pm_clock_set $(((BASE_DAY + $1) * 86400 + 43200 - REAL)) >/dev/null
}

# Send $2 messages as $SENDER on day $1 through daemon walk to friend@ (and
# the recipients $3...); print accepted.
send_on() {
    local day=$1 n=$2 more=()
    shift 2
    for r; do more+=(-r "$r"); done
    at_day "$day"
    "$DRIVE" -S "unix:$PM_TMP/walk.sock" -c 1 -m "$n" -f "$SENDER" -r friend@example.org "${more[@]}" \
        >"$PM_TMP/day$day.out" 2>&1 || pm_fail "pmdrive failed on day $day: $(cat "$PM_TMP/day$day.out")"
    pm_summary "$PM_TMP/day$day.out" accepted
}

# A bounce for lost@example.org comes back to $SENDER on day $1, through the milter.
bounce_on() {
    at_day "$1"
    printf 'From: MAILER-DAEMON@mx.example.org\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; lost@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n' \
        "$SENDER" >"$PM_TMP/dsn.eml"
    "$DRIVE" -S "unix:$PM_TMP/walk.sock" -c 1 -m 1 -f "" -D "$PM_TMP/dsn.eml" -r "$SENDER" \
        >/dev/null 2>&1 || pm_fail "pmdrive failed to deliver the bounce"
    pm_wait_grep "feedback=hard_bounce sender=$SENDER rcpt=lost@example.org" "$PM_TMP/walk.log" ||
        pm_fail "the bounce was not counted"
}

# day, messages offered, messages accepted, what happens first. Day 3 also
# mails lost@ (8 messages to 2 recipients); its bounce on day 5 is 1 hard
# bounce in the recipients of the last 7 days: 1/24 = 4.2 % on day 6, 1/29 on
# day 7, 1/32 = 3.1 % on day 8 (above 3 %: the stage holds), 1/40 = 2.5 % on
# day 9 (it moves on).
WALK="
0 6 3
1 6 5
3 10 8 lost
6 10 8 bounce
7 10 8
8 10 8
9 15 12
10 20 15
11 25 25
42 6 3
43 6 5
"
while read -r day offered expected action; do
    [ -n "$day" ] || continue
    more=()
    case $action in
    lost) more=(lost@example.org) ;;
    bounce) bounce_on $((day - 1)) ;;
    esac
    got=$(send_on "$day" "$offered" "${more[@]}")
    pm_assert_eq "$expected" "$got" "accepted on simulated day $day"
done <<<"$WALK"

# The refusal on day 0 named the warm-up, its day and the next UTC midnight.
NEXT=$(date -u -d "@$(((BASE_DAY + 1) * 86400))" +%Y-%m-%d)
grep -qxF "reply 3 451 4.7.1 <$SENDER>: warm-up limit reached (day 1 of warm-up: 3 messages today); try again after $NEXT 00:00 UTC" \
    "$PM_TMP/day0.out" || pm_fail "day 0 reply: $(cat "$PM_TMP/day0.out")"
grep -q "reply 2 451 4.7.1 <$SENDER>: warm-up limit reached (day 3 of warm-up: 8 messages today)" \
    "$PM_TMP/day6.out" || pm_fail "day 6 (gate closed) reply: $(cat "$PM_TMP/day6.out")"
# The decision lines carry the warm-up day and today's count.
grep -q "reason=ok sender=$SENDER .* warmup_day=1 warmup_today=3/3" "$PM_TMP/walk.log" ||
    pm_fail "no warm-up fields in the log"
# The warm-up state key expires (dormant_days + 1 days).
ttl=$(pm_rcli TTL "$WU_KEY")
[ "$ttl" -gt $((30 * 86400)) ] && [ "$ttl" -le $((31 * 86400)) ] || pm_fail "warm-up key TTL $ttl"

# The hourly share: a day cap of 20 with a share of 1/4 lets 5 through per hour.
pm_milter_start hourly <<'CONF'
warmup: { hourly_share = 0.25; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = [20, 40]; }; };
CONF
pm_clock_del
"$DRIVE" -S "unix:$PM_TMP/hourly.sock" -c 2 -m 4 -f hasty@example.com -r x@example.org \
    >"$PM_TMP/hourly.out" 2>&1 || pm_fail "pmdrive (hourly) failed"
pm_assert_eq "messages=8 accepted=5 tempfail=3" \
    "$(head -n 1 "$PM_TMP/hourly.out" | cut -d' ' -f1-3)" "hourly share"
grep -q "reply 3 451 4.7.1 <hasty@example.com>: warm-up limit reached (day 1 of warm-up: 5 messages per hour); try again after " \
    "$PM_TMP/hourly.out" || pm_fail "hourly reply: $(cat "$PM_TMP/hourly.out")"
# A company's brand-new domain warms up too: a domain plan with a curve caps
# all its senders together (2 today), whatever their own plans allow.
pm_milter_start domain <<'CONF'
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; };
         brand: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                  warmup = [2, 4]; }; };
warmup: { hourly_share = 1.0; };
domains = ( { domain = "new-brand.example"; plan = "brand"; } );
CONF
# At noon of this UTC day, so that the day cap, not the hour cap (also 2), frees up last.
now=$(pm_rcli TIME | head -n 1)
pm_clock_set $((now / 86400 * 86400 + 43200 - now)) EX 3600 >/dev/null
"$DRIVE" -S "unix:$PM_TMP/domain.sock" -c 1 -m 2 -f ann@new-brand.example -r x@example.org \
    >"$PM_TMP/d1.out" 2>&1
"$DRIVE" -S "unix:$PM_TMP/domain.sock" -c 1 -m 2 -f ben@new-brand.example -r x@example.org \
    >"$PM_TMP/d2.out" 2>&1
pm_assert_eq "accepted=2 accepted=0" \
    "$(head -n 1 "$PM_TMP/d1.out" | cut -d' ' -f2) $(head -n 1 "$PM_TMP/d2.out" | cut -d' ' -f2)" \
    "domain warm-up"
grep -q "^reply 2 451 4.7.1 <ben@new-brand.example>: company-wide warm-up limit for new-brand.example reached (day 1 of warm-up: 2 messages today)" \
    "$PM_TMP/d2.out" || pm_fail "domain warm-up reply: $(cat "$PM_TMP/d2.out")"
echo "PASS: warmup"
