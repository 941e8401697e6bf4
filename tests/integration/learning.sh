#!/bin/bash
# learning.sh - learn first, enforce later (learning.days) against a real
# Redis, through the milter.
#
# A fresh installation with learning.days = 7 and limits that would refuse
# (5 messages an hour, 2 first contacts a day, the cold-attachment rule, a
# warm-up curve): during the 7 days nothing is refused, every message is
# counted exactly and its contacts learned, and what would have been refused
# is logged with learning=yes. The start is recorded once in the store: a
# restart, and a second server sharing the store, keep it. A sender active on
# learning.established_days (3) days is established (its warm-up over); one
# active on 1 day is not. Once the store's clock (the test clock key) is past
# the 7 days, the limits apply, and the log and postmeterctl status say so.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE" python3
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"

CONF_BODY="local_domains = [ \"example.com\" ];
contacts: { secret_file = \"$PM_TMP/contacts.key\"; };
learning: { days = 7; established_days = 3; };
warmup: { hourly_share = 1.0; };
plans: {
  default: { messages_per_hour = 5; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 2; warmup = []; };
  warm: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
          new_recipients_per_day = 0; warmup = [2, 4, 8]; };
};
assign = ( { sender = \"w-*@example.com\"; plan = \"warm\"; } );"

# Start daemon $1 with the configuration above; its log is $PM_TMP/$1.log.
start_pm() {
    pm_milter_start "$1" <<<"$CONF_BODY"
    eval "PID_$1=$PM_LAST_PID"
}

# Shift the store's clock $1 seconds ahead of Redis's own.
clock() {
    pm_clock_set "$1" >/dev/null
}

# Send $3 messages from $2 through daemon $1 (then pmdrive options, e.g.
# recipients); print pmdrive's summary line.
send() {
    local d=$1 from=$2 n=$3
    shift 3
    "$DRIVE" -S "unix:$PM_TMP/$d.sock" -c 1 -m "$n" -f "$from" "$@" >"$PM_TMP/send.out" 2>&1 ||
        pm_fail "pmdrive failed: $(cat "$PM_TMP/send.out")"
    cat "$PM_TMP/send.out" >>"$PM_TMP/sends.log"
    head -n 1 "$PM_TMP/send.out"
}

# Print accepted, tempfail and rcpt_refused of a pmdrive summary line $1.
counts() {
    tr ' ' '\n' <<<"$1" | sed -n 's/^\(accepted\|tempfail\|rcpt_refused\)=//p' | tr '\n' ' ' |
        sed 's/ $//'
}

# postmeterctl with daemon a's configuration.
ctl() {
    "$CTL" -c "$PM_TMP/a.conf" "$@"
}

# Print Python expression $1 over the JSON object d read from stdin.
json() {
    python3 -c "import json,sys; d = json.load(sys.stdin); print($1)"
}

# "YYYY-MM-DD HH:MM UTC" of a store time.
stamp() {
    date -u -d "@$1" '+%Y-%m-%d %H:%M UTC'
}

# --- the first start records the learning start; the log says until when -------
start_pm a
START=$(pm_rcli GET "$(pm_key global learning)")
[[ $START =~ ^[0-9]+$ ]] || pm_fail "no learning start in the store: '$START'"
UNTIL=$((START + 7 * 86400))
SINCE_TEXT="learning mode since $(stamp "$START"): every message is counted and its contacts learned, nothing is refused; limits are enforced from $(stamp "$UNTIL")"
pm_wait_grep "$SINCE_TEXT" "$PM_TMP/a.log" 20 || pm_fail "no learning line in the log"
ttl=$(pm_rcli TTL "$(pm_key global learning)")
[ "$ttl" -gt $((399 * 86400)) ] && [ "$ttl" -le $((400 * 86400)) ] ||
    pm_fail "the learning start's TTL: $ttl"

# --- learning: limits that would refuse refuse nothing; all is counted -----------
# 12 messages against 5 an hour: 12 pass, the 7 over the limit are logged
# (at RCPT TO and at end of message) as what learning let through.
pm_assert_eq "12 0 0" "$(counts "$(send a alice@example.com 12 -r friend@example.org)")" \
    "alice while learning"
pm_assert_eq 7 "$(grep -c "stage=rcpt action=tempfail learning=yes reason=msgs_hour sender=alice@example.com " "$PM_TMP/a.log")" \
    "alice's refusals at RCPT logged as learning"
pm_assert_eq 7 "$(grep -c "stage=eom action=tempfail learning=yes reason=msgs_hour sender=alice@example.com " "$PM_TMP/a.log")" \
    "alice's refusals at end of message logged as learning"
pm_assert_eq 5 "$(grep -c "stage=eom action=accept reason=ok sender=alice@example.com " "$PM_TMP/a.log")" \
    "alice's messages within the limit"
pm_assert_eq 0 "$(grep -c "dry_run=yes" "$PM_TMP/a.log")" "learning is not logged as a dry run"
pm_assert_eq 12 "$(ctl --json status alice@example.com | json 'd["usage"]["messages_per_hour"]["used"]')" \
    "alice's messages counted"
# A first contact with an attachment (the cold-attachment rule) passes, and
# its recipient is a contact from then on.
printf 'From: bob@example.com\r\nSubject: invoice\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nThe invoice is attached.\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n' \
    >"$PM_TMP/invoice.eml"
pm_assert_eq "1 0 0" "$(counts "$(send a bob@example.com 1 -r customer@example.net -D "$PM_TMP/invoice.eml")")" \
    "a first contact with an attachment while learning"
grep -q "stage=eom action=tempfail learning=yes reason=rule:cold-attachment sender=bob@example.com " \
    "$PM_TMP/a.log" || pm_fail "the cold attachment was not logged as learning"
pm_assert_eq known "$(ctl --json contact check bob@example.com customer@example.net | json 'd["state"]')" \
    "bob's customer learned"
# 4 first contacts in one message against 2 a day: none refused, all learned.
pm_assert_eq "1 0 0" "$(counts "$(send a carol@example.com 1 -r n1@example.org -r n2@example.org \
    -r n3@example.org -r n4@example.org)")" "carol's four first contacts while learning"
for r in n1 n2 n3 n4; do
    pm_assert_eq known "$(ctl --json contact check carol@example.com $r@example.org | json 'd["state"]')" \
        "carol's contact $r"
done
pm_assert_eq 4 "$(ctl --json status carol@example.com | json 'd["usage"]["new_recipients_per_day"]["used"]')" \
    "carol's first contacts counted"
# Warm-up (2, 4, 8 a day): dave sends on 3 days (established), erin on 1.
pm_assert_eq "5 0 0" "$(counts "$(send a w-dave@example.com 5 -r x@example.org)")" "dave, day 1"
pm_assert_eq "5 0 0" "$(counts "$(send a w-erin@example.com 5 -r x@example.org)")" "erin, day 1"
pm_assert_eq 3 "$(grep -c "stage=eom action=tempfail learning=yes reason=warmup_day sender=w-dave@example.com " "$PM_TMP/a.log")" \
    "dave's day-1 warm-up refusals logged as learning"
status=$(ctl status)
pm_assert_eq "$SINCE_TEXT" "$status" "postmeterctl status while learning"
pm_assert_eq "on $START $UNTIL 7" "$(ctl --json status |
    json 'd["learning"]["state"], d["learning"]["start"], d["learning"]["until"], d["learning"]["days"]')" \
    "postmeterctl status --json while learning"
ctl status alice@example.com | grep -qF "  mode          learning until $(stamp "$UNTIL"): nothing is refused" ||
    pm_fail "status SENDER does not say learning: $(ctl status alice@example.com)"

# --- a restart and a second server keep the start --------------------------------
clock 86400
pm_assert_eq "5 0 0" "$(counts "$(send a w-dave@example.com 5 -r x@example.org)")" "dave, day 2"
pm_stop_clean "$PID_a" "postmeter a"
mv "$PM_TMP/a.log" "$PM_TMP/a1.log"
clock $((2 * 86400))
start_pm a
start_pm b
pm_assert_eq "$START" "$(pm_rcli GET "$(pm_key global learning)")" "the learning start after a restart"
pm_wait_grep "$SINCE_TEXT" "$PM_TMP/a.log" 20 || pm_fail "the restarted daemon does not say the same start"
pm_wait_grep "$SINCE_TEXT" "$PM_TMP/b.log" 20 || pm_fail "the second server does not say the same start"
pm_assert_eq "5 0 0" "$(counts "$(send b w-dave@example.com 5 -r x@example.org)")" "dave, day 3"
pm_assert_eq over "$(ctl --json status w-dave@example.com | json 'd["warmup"]["state"]')" \
    "dave's warm-up after 3 active days of learning"
pm_assert_eq warming_up "$(ctl --json status w-erin@example.com | json 'd["warmup"]["state"]')" \
    "erin's warm-up after 1 active day"

# --- 7 days after the start, limits apply ----------------------------------------
clock $((7 * 86400 + 60))
pm_assert_eq "5 3 3" "$(counts "$(send a alice@example.com 8 -r friend@example.org)")" \
    "alice once learning is over"
pm_assert_eq 3 "$(grep -c "stage=rcpt action=tempfail reason=msgs_hour sender=alice@example.com " "$PM_TMP/a.log")" \
    "alice refused at RCPT once learning is over"
pm_wait_grep "learning mode ended $(stamp "$UNTIL") \\(it began $(stamp "$START")\\): limits are enforced" \
    "$PM_TMP/a.log" 20 || pm_fail "no end of learning in the log"
pm_assert_eq "10 0 0" "$(counts "$(send a w-dave@example.com 10 -r x@example.org)")" \
    "dave (established) once learning is over"
# erin's next active day is her warm-up's day 2: 4 messages
pm_assert_eq "4 6 6" "$(counts "$(send b w-erin@example.com 10 -r x@example.org)")" \
    "erin (warming up) once learning is over"
pm_assert_eq "1 0 1" "$(counts "$(send a carol@example.com 1 -r n5@example.org -r n6@example.org \
    -r n7@example.org)")" "carol's first contacts once learning is over"
status=$(ctl status)
pm_assert_eq "learning mode ended $(stamp "$UNTIL") (it began $(stamp "$START")): limits are enforced" \
    "$status" "postmeterctl status after learning"
pm_assert_eq over "$(ctl --json status | json 'd["learning"]["state"]')" "status --json after learning"
echo "PASS: learning"
