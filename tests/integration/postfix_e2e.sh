#!/bin/bash
# postfix_e2e.sh - postmeter in front of a real Postfix, end to end.
#
# A private redis-server, postmeter, a private Postfix (SASL with its own
# sasldb) and an smtp-sink that stores what Postfix relays. swaks sends one
# message per SMTP session and the test checks the exact replies, what reached
# the sink and postmeter's decision lines:
#   (0) Postfix alone (an smtpd without milters) relays to the sink;
#   (a) an authenticated sender with 5 messages per hour sends 8: 5 pass, 3 get 451 4.7.1;
#   (b) a relay client of mynetworks (no AUTH) with a plan of 3 per hour sends 6: 3 pass;
#   (c) the null sender and another sender still pass; the first one is still refused;
#   (d) a session that passed RCPT is refused at end of data once another took the last slot;
#   (e) a new authenticated sender on a warm-up plan hits its day-1 cap and sees the warm-up reply;
#   (f) mail injected with sendmail(1) is metered; one with a suppressed recipient is refused
#       whole at end of message (Postfix cannot refuse one recipient of local mail) and
#       returned to its sender, never deferred as a milter configuration error;
#   (g) over a plan that holds, the message waits in Postfix's hold queue with its reason
#       in an X-Postmeter-Hold header (postcat), Postfix's log names the hold and
#       postmeter's the reason under the same queue id; released (postsuper -H), it
#       leaves without the note, through the smtp_header_checks line of
#       etc/postfix-main.cf.snippet;
#   (h) over a plan that tags, the message goes out with no header at all: the sender's
#       quota is nobody else's business;
#   (i) a suppressed recipient written as bad+tag is refused quoted as given.
#
# SPDX-License-Identifier: BSD-2-Clause

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 python3 postqueue postcat postsuper postconf \
    "$top_builddir/postmeter"

pm_redis_start
# Warm-up is off: these new senders would otherwise start at 20 a day, 5 an hour.
pm_write_conf "$PM_TMP/postmeter.conf" <<'EOF'
plans: {
  default: { messages_per_hour = 5; messages_per_day = 0; recipients_per_day = 0; warmup = []; };
  relay: { messages_per_hour = 3; messages_per_day = 0; recipients_per_day = 0; warmup = []; };
  warm: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0; warmup = [3, 6]; };
  held: { messages_per_hour = 1; messages_per_day = 0; recipients_per_day = 0; warmup = [];
          action = "hold"; };
  tagged: { messages_per_hour = 1; messages_per_day = 0; recipients_per_day = 0; warmup = [];
            action = "tag"; };
};
warmup: { hourly_share = 1.0; };
assign = ( { sender = "news@example.org"; plan = "relay"; },
           { login = "wendy@example.com"; plan = "warm"; },
           { sender = "kim@example.org"; plan = "held"; },
           { sender = "tina@example.org"; plan = "tagged"; } );
EOF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"
pm_postfix_sasl_user alice@example.com alice-pw
pm_postfix_sasl_user carol@example.com carol-pw
pm_postfix_sasl_user wendy@example.com wendy-pw

# (0) Postfix alone works: a message through the smtpd without milters reaches the
# sink, and postmeter does not see it.
reply=$(PM_SWAKS_PORT=$PM_SMTP_PORT_PLAIN pm_swaks_send alice@example.com bob@example.net)
case $reply in
"250 2.0.0 Ok: queued as "*) ;;
*) pm_fail "Postfix alone (no milter) did not accept a message: $reply" ;;
esac
pm_sink_wait 1 || pm_fail "Postfix alone (no milter) delivered nothing to the sink"
grep -q "${reply##* }" "$PM_POSTMETER_LOG" && pm_fail "postmeter saw the message sent without milter"
base=1

# Print "YYYY-MM-DD HH:MM" for every minute from epoch second $1 to $2 (UTC).
minutes_between() {
    local t
    for ((t = $1 / 60 * 60; t <= $2; t += 60)); do
        date -u -d "@$t" '+%F %H:%M'
    done
}

# Send $1 messages as $2 (swaks options follow); record each reply in $PM_TMP/replies.
send_n() {
    local n=$1 from=$2 i
    shift 2
    : >"$PM_TMP/replies"
    for ((i = 1; i <= n; i++)); do
        pm_swaks_send "$from" "rcpt$i@example.net" --h-Subject "test $i from $from" "$@" \
            >>"$PM_TMP/replies"
    done
}

# Check the replies: $1 accepted then $2 refused with the limit text for sender $3, limit $4.
check_replies() {
    local ok=$1 refused=$2 sender=$3 limit=$4 t0=$5 t1=$6 line n=0 hhmm pattern found minute
    local want="451 4.7.1 <$sender>: hourly sending limit reached ($limit messages per hour); try again after "
    while IFS= read -r line; do
        n=$((n + 1))
        if ((n <= ok)); then
            case $line in
            "250 2.0.0 Ok: queued as "*) ;;
            *) pm_fail "message $n of $sender: expected 250, got '$line'" ;;
            esac
        else
            # The time is "HH:MM UTC", with the date before it when it is on another UTC day.
            hhmm=${line#"$want"}
            hhmm=${hhmm% UTC}
            case $hhmm in
            [0-9][0-9]:[0-9][0-9]) pattern="* $hhmm" ;;
            [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\ [0-9][0-9]:[0-9][0-9]) pattern=$hhmm ;;
            *) pm_fail "message $n of $sender: expected '${want}[YYYY-MM-DD ]HH:MM UTC', got '$line'" ;;
            esac
            [ "${line#"$want"}" != "$line" ] || pm_fail "message $n of $sender: expected '${want}...', got '$line'"
            # The hour is counted in 60 s buckets: a slot frees about an hour after the first message.
            found=0
            while IFS= read -r minute; do
                # shellcheck disable=SC2053 # $pattern is a glob on purpose
                [[ $minute == $pattern ]] && found=1
            done < <(minutes_between $((t0 + 3600 - 120)) $((t1 + 3600 + 120)))
            [ "$found" = 1 ] ||
                pm_fail "message $n of $sender: 'try again after $hhmm' is not about an hour from now"
        fi
    done <"$PM_TMP/replies"
    pm_assert_eq $((ok + refused)) "$n" "replies of $sender"
}

# Check that each accepted queue id has postmeter's accept line naming sender $1.
check_accepted_logged() {
    local id
    for id in $(sed -n 's/^250 2.0.0 Ok: queued as //p' "$PM_TMP/replies"); do
        grep -E "^(.*[^A-Za-z0-9])?$id: .*action=accept" "$PM_POSTMETER_LOG" | grep -q "sender=$1" ||
            pm_fail "postmeter logged no accept line for $id ($1)"
    done
}

# Count postmeter's decision lines with action $1 and sender $2 (and reason $3).
count_decisions() {
    grep "action=$1" "$PM_POSTMETER_LOG" | grep "sender=$2" | grep -c -- "${3:-}"
}

# (a) SASL-authenticated alice: 5 per hour.
t0=$(date +%s)
send_n 8 alice@example.com --auth PLAIN --auth-user alice@example.com --auth-password alice-pw
t1=$(date +%s)
check_replies 5 3 alice@example.com 5 "$t0" "$t1"
pm_sink_expect $((base + 5)) "messages in the sink after (a)"
check_accepted_logged alice@example.com
pm_assert_eq 5 "$(count_decisions accept alice@example.com)" "accept lines for alice"
pm_assert_eq 3 "$(count_decisions tempfail alice@example.com reason=msgs_hour)" "tempfail lines for alice"
pm_assert_eq 3 "$(count_decisions tempfail alice@example.com stage=rcpt)" "alice refused early, at RCPT TO"
grep -q "sasl_method=PLAIN, sasl_username=alice@example.com" "$PM_PF_DIR/maillog" ||
    pm_fail "Postfix did not log alice's SASL login"

# (b) a relay client of mynetworks, no AUTH, plan "relay": 3 per hour.
t0=$(date +%s)
send_n 6 news@example.org
t1=$(date +%s)
check_replies 3 3 news@example.org 3 "$t0" "$t1"
pm_sink_expect $((base + 8)) "messages in the sink after (b)"
check_accepted_logged news@example.org
pm_assert_eq 3 "$(count_decisions accept news@example.org)" "accept lines for news@"
pm_assert_eq 3 "$(count_decisions tempfail news@example.org reason=msgs_hour)" "tempfail lines for news@"

# (c) the null sender and another authenticated sender are not affected...
send_n 3 '<>'
grep -vq '^250 2.0.0 Ok: queued as ' "$PM_TMP/replies" &&
    pm_fail "the null sender was refused: $(grep -v '^250 ' "$PM_TMP/replies" | head -n 1)"
pm_assert_eq 3 "$(grep -c '^250 ' "$PM_TMP/replies")" "null-sender messages accepted"
send_n 2 carol@example.com --auth PLAIN --auth-user carol@example.com --auth-password carol-pw
check_replies 2 0 carol@example.com 5 0 0
check_accepted_logged carol@example.com
# ...while alice is still over her limit.
t0=$(date +%s)
send_n 1 alice@example.com --auth LOGIN --auth-user alice@example.com --auth-password alice-pw
check_replies 0 1 alice@example.com 5 "$t0" "$t0"
pm_sink_expect $((base + 13)) "messages in the sink after (c)"
pm_assert_eq 5 "$(count_decisions accept alice@example.com)" "accept lines for alice at the end"
pm_assert_eq 3 "$(cat "$PM_SINK_DIR"/* | grep -c '^X-Mail-Args: <>')" "null-sender messages in the sink"
pm_assert_eq $((base + 5)) "$(cat "$PM_SINK_DIR"/* | grep -c '^X-Mail-Args: <alice@example.com>')" "alice's messages in the sink"

# (d) the authoritative check at end of data: session A passes RCPT at 4 of 5,
# session B then sends the 5th, so A's DATA must be refused with the same text.
send_n 4 dave@example.org
check_replies 4 0 dave@example.org 5 0 0
t0=$(date +%s)
python3 - "$PM_SMTP_PORT" >"$PM_TMP/replies" <<'PY' || pm_fail "the interleaved sessions failed"
import smtplib, sys
port = int(sys.argv[1])
msg = "Subject: interleaved\r\n\r\nbody\r\n"
a = smtplib.SMTP("127.0.0.1", port, timeout=20)
a.ehlo("a.test")
a.mail("dave@example.org")
a.rcpt("a@example.net")
b = smtplib.SMTP("127.0.0.1", port, timeout=20)
b.ehlo("b.test")
b.mail("dave@example.org")
b.rcpt("b@example.net")
code, text = b.data(msg)
print(code, text.decode())
b.quit()
try:
    code, text = a.data(msg)
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error
print(code, text.decode())
a.quit()
PY
t1=$(date +%s)
check_replies 1 1 dave@example.org 5 "$t0" "$t1"
pm_sink_expect $((base + 18)) "messages in the sink after (d)"
pm_assert_eq 5 "$(count_decisions accept dave@example.org)" "accept lines for dave"
pm_assert_eq 1 "$(count_decisions tempfail dave@example.org reason=msgs_hour)" "tempfail lines for dave"
pm_assert_eq 1 "$(count_decisions tempfail dave@example.org stage=eom)" "dave refused at end of data"

# (e) wendy is new and on the "warm" plan: day 1 of her warm-up allows 3 messages.
# The store's clock reads noon of this UTC day, so that the day cap, not the
# hour cap, is the limit that frees up last at whatever hour the test runs.
now=$(redis-cli -p "$PM_REDIS_PORT" TIME | head -n 1)
pm_clock_set $((now / 86400 * 86400 + 43200 - now)) EX 3600 >/dev/null
send_n 5 wendy@example.com --auth PLAIN --auth-user wendy@example.com --auth-password wendy-pw
tomorrow=$(date -u -d "@$((now / 86400 * 86400 + 86400))" +%Y-%m-%d)
pm_assert_eq 3 "$(grep -c '^250 2.0.0 Ok: queued as ' "$PM_TMP/replies")" "wendy's accepted messages"
pm_assert_eq 2 "$(grep -cxF "451 4.7.1 <wendy@example.com>: warm-up limit reached (day 1 of warm-up: 3 messages today); try again after $tomorrow 00:00 UTC" "$PM_TMP/replies")" \
    "wendy's warm-up replies"
pm_sink_expect $((base + 21)) "messages in the sink after (e)"
pm_assert_eq 2 "$(count_decisions tempfail wendy@example.com reason=warmup_day)" "warm-up lines for wendy"

# (f) local submission through sendmail(1) and pickup.
local_send() {
    printf 'From: %s\nSubject: %s\n\nlocal\n' "$1" "$2" >"$PM_TMP/local.eml"
    shift 2
    sendmail -C "$PM_PF_DIR/etc" -f lou@example.com -- "$@" <"$PM_TMP/local.eml" ||
        pm_fail "sendmail failed"
}
"$top_builddir/postmeterctl" -c "$PM_TMP/postmeter.conf" suppress add gone@example.net \
    --domain example.com --days 1 >/dev/null || pm_fail "postmeterctl suppress add failed"
local_send lou@example.com "local one" ok@example.net
pm_sink_expect $((base + 22)) "messages in the sink after lou's local message"
grep -q 'stage=eom action=accept reason=ok sender=lou@example.com ' "$PM_POSTMETER_LOG" ||
    pm_fail "lou's local message was not metered"
local_send lou@example.com "local two" gone@example.net ok@example.net
pm_wait_grep 'milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.1\.1 <gone@example\.net>: this address was put on the suppression list' \
    "$PM_PF_DIR/maillog" 100 || pm_fail "lou's message to a suppressed address was not refused at end of message"
grep -q 'milter configuration error' "$PM_PF_DIR/maillog" && pm_fail "Postfix reports a milter configuration error"
pm_assert_eq 1 "$(count_decisions reject lou@example.com stage=eom)" "lou's refused local message"
# Postfix returns it to lou: a bounce naming the reason reaches the sink, and nothing else
pm_sink_expect $((base + 23)) "messages in the sink after lou's refused message"
grep -l '<gone@example.net>: this address was put on the' "$PM_SINK_DIR"/* >/dev/null 2>&1 ||
    pm_fail "no bounce to lou with the reason in the sink"

# Print the X-Postmeter header lines of the sink's message with subject $1.
sink_tags() {
    local f
    f=$(grep -l "^Subject: $1" "$PM_SINK_DIR"/*) || {
        echo "no message '$1' in the sink"
        return
    }
    grep -h '^X-Postmeter' $f
}

# (g) kim's plan holds over 1 message an hour (a relay client, like news@).
PF=(-c "$PM_PF_DIR/etc")
reply=$(pm_swaks_send kim@example.org k1@example.net --h-Subject "kim 1")
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "kim's first message: $reply" ;; esac
reply=$(pm_swaks_send kim@example.org k2@example.net --h-Subject "kim 2")
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "kim's held message: $reply" ;; esac
qid=${reply##* }
for _ in $(seq 1 50); do
    postqueue "${PF[@]}" -p | grep -q "^$qid!" && break
    sleep 0.1
done
postqueue "${PF[@]}" -p | grep -q "^$qid! .* kim@example.org\$" ||
    pm_fail "kim's message $qid is not on hold: $(postqueue "${PF[@]}" -p)"
pm_sink_expect $((base + 24)) "messages in the sink with kim's second on hold"
# the reason, where the administrator reviews held mail
hold=$(postcat "${PF[@]}" -h -q "$qid" | grep '^X-Postmeter')
case $hold in
"X-Postmeter-Hold: <kim@example.org>: hourly sending limit reached (1 message per hour); try again after "*" UTC") ;;
*) pm_fail "the hold note of $qid: '$hold'" ;;
esac
# Postfix 3.7 logs the hold without the reason milters give; postmeter's line has it
pm_wait_grep "$qid: milter-hold: END-OF-MESSAGE from unknown\\[127\\.0\\.0\\.1\\]: milter triggers HOLD action; from=<kim@example.org> to=<k2@example.net>" \
    "$PM_PF_DIR/maillog" 50 || pm_fail "Postfix did not log the hold of $qid"
grep -q "$qid: stage=eom action=hold reason=msgs_hour sender=kim@example.org .* note=\"<kim@example.org>: hourly sending limit reached (1 message per hour); try again after " \
    "$PM_POSTMETER_LOG" || pm_fail "postmeter logged no hold line with the reason for $qid"
# released with the snippet's smtp_header_checks, the note stays home
postconf "${PF[@]}" -e "$(grep '^smtp_header_checks = ' "$top_srcdir/etc/postfix-main.cf.snippet")" ||
    pm_fail "the snippet's smtp_header_checks line does not apply"
postfix "${PF[@]}" reload >/dev/null 2>&1 || pm_fail "postfix reload failed"
postsuper "${PF[@]}" -H "$qid" >/dev/null 2>&1 || pm_fail "postsuper -H $qid failed"
postqueue "${PF[@]}" -f
pm_sink_expect $((base + 25)) "messages in the sink after kim's release"
pm_assert_eq "" "$(sink_tags "kim 2")" "postmeter's headers on kim's released message"

# (h) tina's plan tags over 1 message an hour: her second message goes out untagged.
for i in 1 2; do
    reply=$(pm_swaks_send tina@example.org "t$i@example.net" --h-Subject "tina $i")
    case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "tina's message $i: $reply" ;; esac
done
pm_sink_expect $((base + 27)) "messages in the sink after tina's"
grep -q "${reply##* }: stage=eom action=tag reason=msgs_hour sender=tina@example.org .* note=\"<tina@example.org>: hourly sending limit reached (1 message per hour); try again after " \
    "$PM_POSTMETER_LOG" || pm_fail "postmeter logged no tag line for tina's second message"
pm_assert_eq "" "$(sink_tags "tina 2")" "postmeter's headers on tina's message over her limit"

# (i) gone@example.net is suppressed for example.com: carol writes to Gone+news@example.net.
# (the store's clock is at noon of today since (e): the entry ends tomorrow)
pm_assert_eq "550 5.1.1 <Gone+news@example.net>: this address was put on the suppression list by an administrator on $(date -u +%F) (5.1.1); postmeter will not send to it before $(date -u -d tomorrow +%F)" \
    "$(pm_swaks_send carol@example.com Gone+news@example.net --auth PLAIN --auth-user carol@example.com --auth-password carol-pw)" \
    "a suppressed recipient with a +tag"

echo "PASS: postfix_e2e"
