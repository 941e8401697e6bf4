#!/bin/bash
# migrate.sh - postmeterctl migrate moves a live installation from key
# layout 1 to layout 2 (doc/redis-keys.md) without losing a count.
#
# Two daemons start on a store that says layout 1 ("<prefix>:layout" 1), as
# an installation of an earlier version does, and meter mail; an override,
# a credit, a suppression entry and an incident are set with postmeterctl:
# every key they write has a layout 1 name. Then postmeterctl migrate runs
# while three pmdrive sessions send (on_store_error = tempfail: a failed
# store call would show as a 4xx): no 4xx, each sender's count is the one
# before plus the messages accepted during, no layout 1 key is left, the
# layout is 2, top and the incident list read the same senders, the
# override, the credit and the suppression entry still apply, and a second
# migrate moves nothing.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE"
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
unset SUDO_USER

CONF_BODY="on_store_error = \"tempfail\";
rcpt_check: { fresh_seconds = 0; };
local_domains = [ \"example.com\", \"example.net\" ];
contacts: { secret_file = \"$PM_TMP/contacts.key\"; };
plans: {
  default: { messages_per_hour = 0; messages_per_day = 200; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
  big: { messages_per_hour = 0; messages_per_day = 300; recipients_per_day = 0;
         new_recipients_per_day = 0; warmup = []; };
};
rules = ( );"

# Start daemon $1.
start_pm() {
    PM_MILTER_SOCKET="unix:$PM_TMP/$1.sock" pm_write_conf "$PM_TMP/$1.conf" <<<"$CONF_BODY"
    "$PM" -c "$PM_TMP/$1.conf" -f 2>"$PM_TMP/$1.log" &
    pm_on_exit "kill $!"
    pm_wait_file "$PM_TMP/$1.sock" || pm_fail "postmeter $1 did not start: $(cat "$PM_TMP/$1.log")"
}

# postmeterctl with daemon a's configuration.
ctl() {
    "$CTL" -c "$PM_TMP/a.conf" "$@"
}

# Send $3 messages from $2 through daemon $1 into $PM_TMP/$4.out (to friend@example.org).
send() {
    "$DRIVE" -S "unix:$PM_TMP/$1.sock" -c 1 -m "$3" -f "$2" -r "${5:-friend@example.org}" \
        >"$PM_TMP/$4.out" 2>&1 || pm_fail "pmdrive $4 failed: $(cat "$PM_TMP/$4.out")"
}

# Messages sender $1 sent today, as status reads them.
used() {
    ctl --json status "$1" | grep -o '"messages_per_day":{"used":[0-9]*' | head -n 1 | sed 's/.*://'
}

# The layout 1 and layout 2 keys of the prefix.
v1_keys() { pm_rcli --scan --pattern "$(PM_LAYOUT=1 pm_key base)*" | sort; }
v2_keys() { pm_rcli --scan --pattern "$(pm_key base)*" | sort; }

# --- an installation of layout 1 ------------------------------------------------
pm_rcli SET "$(pm_key layout)" 1 >/dev/null
start_pm a
start_pm b
send a alice@example.com 7 a1
send b bob@example.com 5 b1
send a carol@example.net 4 c1
send b dave@example.net 3 d1
for s in a1 b1 c1 d1; do
    pm_assert_eq 0 "$(pm_summary "$PM_TMP/$s.out" rcpt_refused)" "refusals in layout 1 ($s)"
done
ctl plan set bob@example.com big >/dev/null || pm_fail "plan set"
ctl credit add carol@example.net 5 >/dev/null || pm_fail "credit add"
ctl suppress add gone@example.org --domain example.com >/dev/null || pm_fail "suppress add"
ctl incident open dave@example.net --note "before the move" >/dev/null || pm_fail "incident open"
send b dave@example.net 1 d2
DAVE=$(pm_summary "$PM_TMP/d2.out" accepted quarantined tempfail reject)
[ "$DAVE" != "1 0 0 0" ] || pm_fail "dave's mail in incident went through as before: $DAVE"
pm_assert_eq "" "$(v2_keys)" "layout 2 keys before the move"
for k in "alice@example.com w" "bob@example.com plan" "carol@example.net cr" "dave@example.net inc"; do
    # shellcheck disable=SC2086
    pm_assert_eq 1 "$(pm_rcli EXISTS "$(PM_LAYOUT=1 pm_key $k)")" "layout 1 key $k"
done
pm_assert_eq 1 "$(pm_rcli EXISTS "$(PM_LAYOUT=1 pm_key sup example.com gone@example.org)")" \
    "layout 1 suppression entry"
declare -A BEFORE
for s in alice@example.com bob@example.com carol@example.net dave@example.net; do
    BEFORE[$s]=$(used "$s")
done
pm_assert_eq "7 5 4 ${BEFORE[dave@example.net]}" "${BEFORE[alice@example.com]} ${BEFORE[bob@example.com]} ${BEFORE[carol@example.net]} ${BEFORE[dave@example.net]}" \
    "counts in layout 1"
TOP_BEFORE=$(ctl top | awk 'NR > 1 { print $1 }' | sort)
INC_BEFORE=$(ctl --json incident list | grep -o '"sender":"[^"]*","at":[0-9]*')
[ -n "$INC_BEFORE" ] || pm_fail "no incident listed before the move"

# --- the move, under mail --------------------------------------------------------
N=100
send a alice@example.com $N a2 &
p1=$!
send b bob@example.com $N b2 &
p2=$!
send a carol@example.net $N c2 &
p3=$!
for _ in $(seq 1 200); do # the move starts once the sessions are under way
    (($(used alice@example.com) > BEFORE[alice@example.com])) && break
    sleep 0.01
done
ctl migrate >"$PM_TMP/migrate.out" 2>&1 || pm_fail "migrate failed: $(cat "$PM_TMP/migrate.out")"
wait $p1 $p2 $p3
cat "$PM_TMP/migrate.out"
for s in a2 b2 c2; do
    pm_assert_eq "$N $N 0" "$(pm_summary "$PM_TMP/$s.out" messages accepted rcpt_refused)" \
        "messages during the move ($s)"
    pm_assert_eq 0 "$(pm_replies_matching '^4' "$PM_TMP/$s.out")" "4xx replies during the move ($s)"
done
pm_assert_eq 2 "$(pm_rcli GET "$(pm_key layout)")" "the layout after the move"
pm_assert_eq "" "$(v1_keys)" "layout 1 keys left"
for s in alice@example.com bob@example.com carol@example.net; do
    pm_assert_eq $((BEFORE[$s] + N)) "$(used "$s")" "$s: count before plus the messages during the move"
done
pm_assert_eq "${BEFORE[dave@example.net]}" "$(used dave@example.net)" "dave's count"
pm_assert_eq "$TOP_BEFORE" "$(ctl top | awk 'NR > 1 { print $1 }' | sort)" "the senders of top"
pm_assert_eq "$INC_BEFORE" "$(ctl --json incident list | grep -o '"sender":"[^"]*","at":[0-9]*')" \
    "the incident list"
ctl plan show bob@example.com | grep -q 'big' || pm_fail "bob's override: $(ctl plan show bob@example.com)"
ctl --json credit show carol@example.net | grep -q '"messages":5' ||
    pm_fail "carol's credit: $(ctl --json credit show carol@example.net)"
send a alice@example.com 1 x gone@example.org
pm_assert_eq "1 0 1" "$(pm_summary "$PM_TMP/x.out" messages accepted rcpt_refused)" \
    "a suppressed recipient after the move"
send b dave@example.net 1 d3
pm_assert_eq "$DAVE" "$(pm_summary "$PM_TMP/d3.out" accepted quarantined tempfail reject)" \
    "dave's mail in incident after the move"

# --- again: nothing to move --------------------------------------------------------
ctl migrate >"$PM_TMP/again.out" 2>&1 || pm_fail "a second migrate failed: $(cat "$PM_TMP/again.out")"
pm_assert_eq "key layout 2 -> 2: moved 0 keys, merged 0 indexes (0 entries), deleted 0, left 0" \
    "$(cat "$PM_TMP/again.out")" "a second migrate"
echo "PASS: migrate"
