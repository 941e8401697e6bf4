#!/bin/bash
# replyrate_e2e.sh - the reply rate and its brake, driven by real replies
# through a real Postfix and the milter.
#
# reputation.min_first_contacts = 4 and min_reply_rate = 0.5 (50 %); the
# default plan allows 10 new recipients a day. Outgoing mail is
# authenticated mail; mail from 127.0.0.1 without AUTH is incoming.
#   (a) alice mails 5 first contacts c1..c5; from the fifth on, none replied
#       (0 of 4, then 0 of 5) and the brake halves her new-recipient limit to
#       5: c6 is refused with the reason, and the log line and status (text
#       and --json) say so;
#   (b) c1 and c2 answer the messages alice sent them (In-Reply-To names the
#       Message-ID the sink received); x, who was never mailed, answers with
#       c1's Message-ID, and c1 answers again: neither counts: 2 of 5
#       (40 %), the brake stays on; c3 answers: 3 of 5 (60 %), the brake is
#       off and c6 goes;
#   (c) bob mails 4 first contacts, nobody answers: postmeterctl top --by
#       replies lists bob (0 of 4) before alice (3 of 6), and the digest
#       (noticecli digest: the notifier's path, sent through Postfix) has
#       alice's two refusals and lists bob alone as a sender with 4 or more
#       first contacts and no reply.
#
# SPDX-License-Identifier: BSD-2-Clause
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

cli=$top_builddir/tests/tools/noticecli
ctl=$top_builddir/postmeterctl
pm_need swaks postfix smtp-sink saslpasswd2 redis-cli "$top_builddir/postmeter" "$cli" "$ctl"

pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
PM_MILTER_EXTRA='socket_group = "postfix";' pm_write_conf "$PM_TMP/postmeter.conf" <<CONF
local_domains = [ "example.com" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
reputation: { min_sends = 1000; min_first_contacts = 4; min_reply_rate = 0.5; };
notify: { admin = [ "postmaster@example.net" ]; digest = true; digest_hour = 0;
          postfix_config_dir = "$PM_TMP/postfix/etc"; };
log: { level = "debug"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 10; warmup = []; }; };
CONF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"
for u in alice bob; do
    pm_postfix_sasl_user "$u@example.com" "$u-pw"
done

# Send as authenticated user $1 (a name at example.com) to $2 with subject $3; prints the reply.
send_as() {
    pm_swaks_send "$1@example.com" "$2" --header "Subject: $3" \
        --auth PLAIN --auth-user "$1@example.com" --auth-password "$1-pw"
}

ok() {
    case $1 in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "$2: $1" ;; esac
}

# The Message-ID of the message with subject $1 at the sink.
mid_of() {
    local f
    f=$(grep -l "^Subject: $1\$" "$PM_SINK_DIR"/* | head -n 1)
    [ -n "$f" ] || pm_fail "no message \"$1\" in the sink"
    tr -d '\r' <"$f" | sed -n 's/^Message-I[dD]: *\(<[^>]*>\).*/\1/p' | head -n 1
}

# $1 (envelope and From) answers alice's message with subject $2; the
# feedback line for it is the n-th ($3) reply line of alice.
reply() {
    local mid n=$3
    mid=$(mid_of "$2")
    [ -n "$mid" ] || pm_fail "the message \"$2\" has no Message-ID"
    printf 'From: %s\r\nTo: alice@example.com\r\nSubject: Re: %s\r\nIn-Reply-To: %s\r\nReferences: %s\r\n\r\nYes, tell me more.\r\n.\r\n' \
        "$1" "$2" "$mid" "$mid" >"$PM_TMP/reply.eml"
    ok "$(pm_swaks_send "$1" alice@example.com --data "@$PM_TMP/reply.eml")" "the reply of $1"
    for _ in $(seq 1 100); do
        [ "$(grep -c "feedback=[a-z]* sender=alice@example.com rcpt=$1" "$PM_POSTMETER_LOG")" -ge "$n" ] && return 0
        sleep 0.1
    done
    pm_fail "the reply of $1 was not read: $(grep feedback= "$PM_POSTMETER_LOG")"
}

# postmeterctl with the test's configuration.
pmctl() {
    "$ctl" -c "$PM_TMP/postmeter.conf" "$@"
}

# (a) five first contacts, none replied: the brake halves alice's 10 new recipients to 5
for i in 1 2 3 4 5; do
    ok "$(send_as alice "c$i@example.org" "offer $i")" "alice to c$i"
done
pm_sink_wait 5 || pm_fail "alice's five messages did not reach the sink"
# Refused with the reason: the reply rate (retry time: a day after the first of the five)
refused() {
    local pct=$1 out
    out=$(send_as alice c6@example.org "offer 6")
    case $out in
    "451 4.7.1 <alice@example.com>: daily limit of new recipients reached (5 first-contact recipients per 24 hours, first-contact limit halved: $pct% of 5 new contacts replied in 30 days (at least 50.0% wanted)); try again after "*) ;;
    *) pm_fail "alice's sixth first contact at $pct% replied: $out" ;;
    esac
}
refused 0.0
grep -q "sender=alice@example.com .*new_rcpts_day=5/5 .*reply_brake=1 replied=0/5" "$PM_POSTMETER_LOG" ||
    pm_fail "no log line with the brake: $(grep 'sender=alice' "$PM_POSTMETER_LOG" | tail -n 1)"
pmctl status alice@example.com >"$PM_TMP/st1" || pm_fail "status failed"
grep -qxF "  usage (first-contact limit halved: reply rate)" "$PM_TMP/st1" || pm_fail "status: $(cat "$PM_TMP/st1")"
grep -qxF "  reply rate    30 days: 0 of 5 first contacts replied (0.0 %)" "$PM_TMP/st1" ||
    pm_fail "status: $(cat "$PM_TMP/st1")"
grep -qxF "                first-contact limit halved: at least 50.0 % wanted" "$PM_TMP/st1" ||
    pm_fail "status: $(cat "$PM_TMP/st1")"
pmctl --json status alice@example.com >"$PM_TMP/st1.json" || pm_fail "status --json failed"
grep -qF '"first_contacts_30d":5,"first_contacts_replied":0,"reply_ppm":0,"reply_brake":true}' "$PM_TMP/st1.json" ||
    pm_fail "status --json: $(cat "$PM_TMP/st1.json")"

# (b) real replies: c1 and c2; x (never mailed) and c1 again count nothing
reply c1@example.org "offer 1" 1
reply c2@example.org "offer 2" 1
reply x@example.net "offer 1" 1
reply c1@example.org "offer 1" 2
pmctl status alice@example.com >"$PM_TMP/st2" || pm_fail "status failed"
grep -qxF "  reply rate    30 days: 2 of 5 first contacts replied (40.0 %)" "$PM_TMP/st2" ||
    pm_fail "status after two replies: $(cat "$PM_TMP/st2")"
refused 40.0
reply c3@example.org "offer 3" 1
pmctl status alice@example.com >"$PM_TMP/st3" || pm_fail "status failed"
grep -qxF "  reply rate    30 days: 3 of 5 first contacts replied (60.0 %)" "$PM_TMP/st3" ||
    pm_fail "status after three replies: $(cat "$PM_TMP/st3")"
grep -q "halved" "$PM_TMP/st3" && pm_fail "status still halved: $(cat "$PM_TMP/st3")"
pmctl --json status alice@example.com >"$PM_TMP/st3.json" || pm_fail "status --json failed"
grep -qF '"first_contacts_30d":5,"first_contacts_replied":3,"reply_ppm":600000,"reply_brake":false}' "$PM_TMP/st3.json" ||
    pm_fail "status --json: $(cat "$PM_TMP/st3.json")"
ok "$(send_as alice c6@example.org "offer 6")" "alice's sixth first contact, the brake off"

# (c) bob: 4 first contacts, no reply
for i in 1 2 3 4; do
    ok "$(send_as bob "b$i@example.org" "bob $i")" "bob to b$i"
done
# (top reads the companies of the registry: announced about a second after the mail)
pm_wait_registry example.com || pm_fail "example.com not in the company registry"
pmctl top --by replies >"$PM_TMP/top" || pm_fail "top failed"
cat >"$PM_TMP/top.want" <<'EOF'
senders with the lowest reply rate of first contacts in 30 days (of those sending lately)
  1  bob@example.com                    0/4              0.0 %  default  halved
  2  alice@example.com                  3/6             50.0 %  default
EOF
diff -u "$PM_TMP/top.want" "$PM_TMP/top" >&2 || pm_fail "top --by replies differs"
pmctl --json top --by replies >"$PM_TMP/top.json" || pm_fail "top --json failed"
grep -qF '"sender":"bob@example.com","plan":"default","used":4,' "$PM_TMP/top.json" ||
    pm_fail "top --json: $(cat "$PM_TMP/top.json")"
grep -qF '"first_contacts_30d":6,"first_contacts_replied":3,"reply_ppm":500000,"reply_brake":false}]}' "$PM_TMP/top.json" ||
    pm_fail "top --json: $(cat "$PM_TMP/top.json")"

# the digest of today (nobody claimed it: the daemon's notifier claims
# yesterday's): alice's two refusals (c6 under the brake), then bob alone
today=$(($(pm_rcli TIME | head -n 1) / 86400))
before=$(pm_sink_count)
"$cli" -c "$PM_TMP/postmeter.conf" digest "$today" >"$PM_TMP/d.out" 2>"$PM_TMP/d.log" ||
    pm_fail "noticecli digest failed: $(cat "$PM_TMP/d.log")"
grep -qF "notice: digest of day $today sent to 1 address: 2 rows" "$PM_TMP/d.log" ||
    pm_fail "the digest was not sent: $(cat "$PM_TMP/d.log")"
pm_sink_expect $((before + 1)) "messages at the sink with the digest"
date=$(date -u -d "@$((today * 86400))" +%F)
digest=$(grep -l "^Subject: postmeter: daily digest of $date (UTC): 2 refusals" "$PM_SINK_DIR"/*) ||
    pm_fail "no digest in the sink"
printf '%s\n' "$(tr -d '\r' <"$digest" | sed '1,/^$/d')" >"$PM_TMP/digest.body"
cat >"$PM_TMP/digest.want" <<EOF
Refusals on $date (UTC), by sender and limit: 2, 1 sender and limit.

sender                                   limit                     refusals
alice@example.com                        new_recipients_per_day           2

Senders with 4 or more first contacts and no reply in 30 days: 1.

sender                                   first contacts
bob@example.com                                       4

See a sender's use of its limits with: postmeterctl status SENDER
EOF
diff -u "$PM_TMP/digest.want" "$PM_TMP/digest.body" >&2 || pm_fail "the digest's text differs"
echo "PASS: replyrate_e2e"
