#!/bin/bash
# timezone.sh - timezone = "Asia/Shanghai" (UTC+8, no daylight saving),
# through the milter with a real Redis and the store's clock pinned:
#   - the warm-up day turns at local midnight (16:00 UTC), not at UTC's: at
#     23:59 local, day 1's cap of 2 (spent at 20:00) refuses with a reply
#     naming the next local midnight; 30 s after it, day 2 allows 4 more (under UTC it would
#     still be day 1);
#   - an hourly limit's reply gives the local time, "UTC+8";
#   - postmeterctl prints times in the zone;
#   - an unknown zone is a configuration error with its file and line.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$DRIVE" "$CTL" redis-server redis-cli
[ -r /usr/share/zoneinfo/Asia/Shanghai ] || pm_need /usr/share/zoneinfo/Asia/Shanghai
pm_redis_start
# the store's clock jumps across midnights: the daemon asks the store for
# every recipient (its knowledge of a sender ages in real time)
pm_milter_start m <<'CONF'
rcpt_check: { fresh_seconds = 0; };
timezone = "Asia/Shanghai";
warmup: { hourly_share = 1.0; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = [2, 4]; };
         hourly: { messages_per_hour = 1; messages_per_day = 0; recipients_per_day = 0;
                   new_recipients_per_day = 0; warmup = []; }; };
assign = ( { sender = "hh@example.com"; plan = "hourly"; } );
rules = ( );
CONF
PM_FAIL_LOGS=$PM_TMP/m.log
REAL=$(pm_rcli TIME | head -n 1)
DAY=$((REAL / 86400 + 2)) # a UTC day two days ahead

# Pin store time to second $1 of UTC day DAY.
at() {
    pm_clock_set $((DAY * 86400 + $1 - REAL)) EX 600 >/dev/null
}

# Send $2 messages as $1; print the summary line and replies.
send() {
    "$DRIVE" -S "unix:$PM_TMP/m.sock" -c 1 -m "$2" -f "$1" -r x@example.org 2>&1
}

at $((12 * 3600)) # 12:00 UTC = 20:00 in Shanghai
out=$(send wu@example.com 2)
pm_assert_eq "2 0" "$(pm_summary - accepted tempfail <<<"$out")" "day 1 at 20:00 local"
at $((15 * 3600 + 59 * 60)) # 15:59 UTC = 23:59 in Shanghai
out=$(send wu@example.com 1)
pm_assert_eq "0 1" "$(pm_summary - accepted tempfail <<<"$out")" "day 1 at 23:59 local"
next=$(date -u -d "@$(((DAY + 1) * 86400))" +%Y-%m-%d) # the local date after DAY's 23:59
grep -qx "reply 1 451 4.7.1 <wu@example.com>: warm-up limit reached (day 1 of warm-up: 2 messages today); try again after $next 00:00 UTC+8" <<<"$out" ||
    pm_fail "the warm-up reply names the local midnight: $out"
at $((16 * 3600 + 30)) # 00:00:30 local, the next local day; still the same UTC day
out=$(send wu@example.com 5)
pm_assert_eq "4 1" "$(pm_summary - accepted tempfail <<<"$out")" "day 2 just after local midnight"

at $((3 * 3600 + 10 * 60)) # 03:10 UTC = 11:10 local
out=$(send hh@example.com 2)
pm_assert_eq "1 1" "$(pm_summary - accepted tempfail <<<"$out")" "the hourly plan"
grep -qx 'reply 1 451 4.7.1 <hh@example.com>: hourly sending limit reached (1 message per hour); try again after 12:11 UTC+8' <<<"$out" ||
    pm_fail "the hourly reply in local time: $out"
out=$("$CTL" -c "$PM_TMP/m.conf" status hh@example.com) || pm_fail "status: $out"
grep -q "next slot at 12:11 UTC+8" <<<"$out" || pm_fail "status in local time: $out"
pm_clock_del

printf 'user = "";\ntimezone = "Mars/Olympus_Mons";\n' >"$PM_TMP/bad.conf"
out=$("$PM" -n -c "$PM_TMP/bad.conf" 2>&1) && pm_fail "an unknown zone was accepted"
grep -q "bad.conf:2: .*unknown time zone \"Mars/Olympus_Mons\"" <<<"$out" || pm_fail "the error: $out"
echo "PASS: timezone"
