#!/bin/bash
# warmup.sh - warm-up curves against a real Redis, through the milter.
#
# A new sender is walked through 44 simulated days (time shifted through the
# store's clock key), sending on some days and not others: each active day
# exactly the curve's cap passes; days without mail do not advance the stage;
# a bounce rate above warmup.max_bounce_rate holds the stage; past the curve
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
WU_KEY="pmtest:v1:{s:$SENDER}:wu"


pm_milter_start walk <<'CONF'
warmup: { dormant_days = 30; hourly_share = 1.0; max_bounce_rate = 0.03; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    warmup = [3, 5, 8, 12, 15]; }; };
CONF

# Store time now, and the first simulated day: two days ahead.
REAL=$(pm_rcli TIME | head -n 1)
BASE_DAY=$((REAL / 86400 + 2))

# Shift the store's clock to noon of simulated day $1.
at_day() {
    pm_rcli SET pmtest:v1:clock $(((BASE_DAY + $1) * 86400 + 43200 - REAL)) >/dev/null
}

# Send $2 messages as $SENDER on day $1 through daemon walk; print accepted.
send_on() {
    at_day "$1"
    "$DRIVE" -S "unix:$PM_TMP/walk.sock" -c 1 -m "$2" -f "$SENDER" -r friend@example.org \
        >"$PM_TMP/day$1.out" 2>&1 || pm_fail "pmdrive failed on day $1: $(cat "$PM_TMP/day$1.out")"
    pm_summary "$PM_TMP/day$1.out" accepted
}

# day, messages offered, messages accepted, what to do before sending
WALK="
0 6 3
1 6 5
3 10 8
6 10 8 gate_on
7 10 8
8 15 12 gate_off
9 20 15
10 25 25
11 25 25
42 6 3
43 6 5
"
while read -r day offered expected action; do
    [ -n "$day" ] || continue
    case $action in
    gate_on) pm_rcli HSET "$WU_KEY" bounce_ppm 100000 >/dev/null ;;
    gate_off) pm_rcli HDEL "$WU_KEY" bounce_ppm >/dev/null ;;
    esac
    got=$(send_on "$day" "$offered")
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
pm_rcli DEL pmtest:v1:clock >/dev/null
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
pm_rcli SET pmtest:v1:clock $((now / 86400 * 86400 + 43200 - now)) EX 3600 >/dev/null
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
