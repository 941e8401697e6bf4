#!/bin/bash
# incidents_e2e.sh - an incident end to end: a private redis-server, three
# postmeter daemons A, B and C on it, a private Postfix (SASL) with one smtpd
# per daemon, and an smtp-sink that stores what Postfix relays.
#   (a) through A, alice (SASL) sends 5 messages: they reach the sink;
#   (b) her 6th trips the burst floor (5 in 10 minutes): accepted and put on
#       Postfix's hold queue (postqueue -j: queue_name "hold"), with the
#       incident's hold note; her 7th is held too; A logs "incident opened"
#       once, and its metrics count the incident and the held messages;
#   (c) through B, which opened nothing, her next message is held as well
#       (the incident is in Redis), and B logs the held message, not an
#       opening; bob, another sender, still goes out through B;
#   (d) nothing is lost: 7 in the sink (alice's 5, bob's 1, the notice), alice's 3 others
#       on hold, the incident hash counts and lists them, and her quota
#       counted only the 5 that went;
#   (e) a third daemon C with action tempfail refuses her at RCPT TO with
#       451 4.7.1 and the incident's text, counted once in the incident;
#   (f) A, which opened the incident, sent one administrator notice through
#       that Postfix's sendmail: it reached the sink with the signal, the
#       figures and the commands; B sent none; the webhook, on a port
#       nobody listens on, failed and was counted, and mail kept flowing;
#   (g) postmeterctl incident release --requeue ends the incident and
#       delivers the 4 held messages (one her login sent as sales@, found
#       by the queue id the incident recorded): each of alice's 9 messages reached the
#       sink exactly once, the hold queue is empty, and her next message goes.
#
# SPDX-License-Identifier: BSD-2-Clause

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 postqueue postcat postconf python3 curl \
    "$top_builddir/postmeter"

pm_redis_start
MPORT=$(pm_free_port)
DEAD=$(pm_free_port) # a webhook nobody answers: the notice fails, mail flows
PLANS='plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };'
INC="incidents: { burst: { floor = 5; multiple = 10; }; };
$PLANS"
pm_write_conf "$PM_TMP/postmeter.conf" <<EOF
$INC
metrics: { listen = "127.0.0.1:$MPORT"; };
notify: { admin = [ "ops@example.net" ]; postfix_config_dir = "$PM_TMP/postfix/etc";
          webhook_url = "http://127.0.0.1:$DEAD/hook"; webhook_timeout_ms = 500; };
EOF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_milter_start b <<EOF
$INC
EOF
chgrp postfix "$PM_TMP/b.sock"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"
pm_postfix_sasl_user alice@example.com alice-pw
PF=(-c "$PM_PF_DIR/etc")
# a third smtpd, whose milter is postmeter B
PORT_B=$(pm_free_port)
echo "127.0.0.1:$PORT_B inet n - n - - smtpd -o smtpd_milters=unix:$PM_TMP/b.sock" \
    >>"$PM_PF_DIR/etc/master.cf"
postfix "${PF[@]}" reload >/dev/null 2>&1 || pm_fail "postfix reload failed"
pm_wait_port "$PORT_B" 200 || pm_fail "the smtpd of postmeter B is not listening on $PORT_B"
AUTH=(--auth PLAIN --auth-user alice@example.com --auth-password alice-pw)

# Send one message as alice (port $1, subject $2); print its queue id.
alice() {
    local reply
    reply=$(PM_SWAKS_PORT=$1 pm_swaks_send alice@example.com "r-$2@example.net" \
        --h-Subject "$2" "${AUTH[@]}")
    case $reply in
    "250 2.0.0 Ok: queued as "*) echo "${reply##* }" ;;
    *) pm_fail "alice's message $2 was not accepted: $reply" ;;
    esac
}

# Postfix's queue as "ID:QUEUE" lines, sorted.
queue() {
    pm_postfix_queue | awk '{ print $1 ":" $2 }'
}

# (a) 5 messages in 10 minutes: the floor, they go.
for i in 1 2 3 4 5; do
    alice "$PM_SMTP_PORT" "a$i" >/dev/null
done
pm_sink_expect 5 "messages in the sink after alice's 5"
pm_assert_eq 0 "$(grep -c 'incident' "$PM_POSTMETER_LOG")" "incident lines after 5 messages"

# (b) the 6th trips the burst: held, like the 7th.
q6=$(alice "$PM_SMTP_PORT" a6)
pm_postfix_wait_hold "$q6"
q7=$(alice "$PM_SMTP_PORT" a7)
pm_postfix_wait_hold "$q7"
pm_sink_expect 6 "messages in the sink with alice's 6th and 7th on hold (her 5, the notice)"
hold=$(postcat "${PF[@]}" -h -q "$q6" | grep '^X-Postmeter-Hold')
pm_assert_eq "X-Postmeter-Hold: <alice@example.com>: sending paused: unusual activity (burst: 6 messages in 10 minutes); message held for your mail administrator" \
    "$hold" "the hold note of $q6"
pm_assert_eq 1 "$(grep -c "$q6: incident opened: sender=alice@example.com signal=burst figures=\"6 messages in 10 minutes; usual 0.0 per 10 minutes; floor 5, x10\" action=hold" "$PM_POSTMETER_LOG")" \
    "A's incident opened line"
pm_assert_eq 1 "$(grep -c 'incident opened' "$PM_POSTMETER_LOG")" "incident opened lines of A"
grep -q "$q6: stage=eom action=hold reason=incident:burst sender=alice@example.com " "$PM_POSTMETER_LOG" ||
    pm_fail "A logged no hold decision for $q6"
grep -q "$q7: sender=alice@example.com in incident (signal=burst since [0-9]*, by postmeter): message held, 2 so far" \
    "$PM_POSTMETER_LOG" || pm_fail "A logged no held line naming the incident for $q7"
metrics=$(curl -s -m 5 "http://127.0.0.1:$MPORT/metrics") || pm_fail "no metrics from A"
pm_assert_eq 'postmeter_incidents_opened_total{signal="burst"} 1' \
    "$(grep '^postmeter_incidents_opened_total{signal="burst"}' <<<"$metrics")" "A's incidents opened"
pm_assert_eq 'postmeter_incident_messages_total{action="held"} 2' \
    "$(grep '^postmeter_incident_messages_total{action="held"}' <<<"$metrics")" "A's held messages"

# (c) through B: the incident is in Redis, so B holds alice's mail too; bob goes.
q8=$(alice "$PORT_B" b8)
pm_postfix_wait_hold "$q8"
pm_assert_eq 0 "$(grep -c 'incident opened' "$PM_TMP/b.log")" "incident opened lines of B"
grep -q "$q8: sender=alice@example.com in incident (signal=burst since [0-9]*, by postmeter): message held, 3 so far" \
    "$PM_TMP/b.log" || pm_fail "B logged no held line for $q8: $(tail -n 5 "$PM_TMP/b.log")"
reply=$(PM_SWAKS_PORT=$PORT_B pm_swaks_send bob@example.org x@example.net --h-Subject bob)
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "bob's message through B: $reply" ;; esac
pm_sink_expect 7 "messages in the sink after bob's"

# (d) nothing lost: the three held messages are on hold, the incident lists them.
pm_assert_eq "$(printf '%s\n' "$q6:hold" "$q7:hold" "$q8:hold" | sort)" "$(queue)" "the queue"
K="$(pm_key "alice@example.com" inc)"
pm_assert_eq 3 "$(pm_rcli HGET "$K" held)" "held in the incident"
pm_assert_eq "$q6 $q7 $q8" "$(pm_rcli HGET "$K" ids)" "ids in the incident"
pm_assert_eq burst "$(pm_rcli HGET "$K" signal)" "the incident's signal"
pm_assert_eq postmeter "$(pm_rcli HGET "$K" by)" "who opened it"
pm_assert_eq alice@example.com "$(pm_rcli ZRANGE "$(pm_key company example.com incidents)" 0 -1)" "the index"
# the held messages were not counted against alice's quota: 5 messages this hour
day=$(($(pm_rcli TIME | head -n 1) / 86400))
pm_assert_eq 5 "$(pm_rcli ZSCORE "$(pm_key company example.com "top:$day")" alice@example.com)" "alice's messages counted today"

# (e) postmeter C, with action tempfail, refuses alice at RCPT TO with the
# incident's reply; the refused message counts in the incident once.
pm_milter_start c <<EOF
incidents: { action = "tempfail"; burst: { floor = 5; multiple = 10; }; };
$PLANS
EOF
chgrp postfix "$PM_TMP/c.sock"
PORT_C=$(pm_free_port)
echo "127.0.0.1:$PORT_C inet n - n - - smtpd -o smtpd_milters=unix:$PM_TMP/c.sock" \
    >>"$PM_PF_DIR/etc/master.cf"
postfix "${PF[@]}" reload >/dev/null 2>&1 || pm_fail "postfix reload failed"
pm_wait_port "$PORT_C" 200 || pm_fail "the smtpd of postmeter C is not listening on $PORT_C"
pm_assert_eq "451 4.7.1 <alice@example.com>: sending paused: unusual activity (burst: 6 messages in 10 minutes); contact your mail administrator" \
    "$(PM_SWAKS_PORT=$PORT_C pm_swaks_send alice@example.com c@example.net "${AUTH[@]}")" \
    "alice's reply through C"
pm_assert_eq 4 "$(pm_rcli HGET "$K" held)" "held in the incident after C's refusal"
grep -q "sender=alice@example.com in incident (signal=burst since [0-9]*, by postmeter): message tempfailed, 4 so far" \
    "$PM_TMP/c.log" || pm_fail "C logged no tempfailed line: $(tail -n 5 "$PM_TMP/c.log")"
pm_sink_expect 7 "messages in the sink after C's refusal"

# (f) one administrator notice, from A (whose request opened the incident).
notice=$(grep -l '^Subject: postmeter: outgoing mail of alice@example.com held: burst' "$PM_SINK_DIR"/*) ||
    pm_fail "no administrator notice in the sink"
pm_assert_eq 1 "$(wc -l <<<"$notice")" "administrator notices in the sink"
tr -d '\r' <"$notice" >"$PM_TMP/notice.eml"
for line in "<ops@example.net>" "6 messages in 10 minutes; usual 0.0 per 10 minutes; floor 5, x10" \
    "postmeterctl incident release alice@example.com --requeue" \
    "postmeterctl incident release alice@example.com --drop"; do
    grep -qF -- "$line" "$PM_TMP/notice.eml" || pm_fail "the notice lacks '$line': $(cat "$PM_TMP/notice.eml")"
done
grep -q "notice: admin notice of alice@example.com (burst) sent" "$PM_POSTMETER_LOG" ||
    pm_fail "A logged no sent notice: $(grep notice "$PM_POSTMETER_LOG")"
pm_assert_eq 0 "$(grep -c 'notice' "$PM_TMP/b.log")" "notice lines of B"
metrics=$(curl -s -m 5 "http://127.0.0.1:$MPORT/metrics") || pm_fail "no metrics from A"
pm_assert_eq 'postmeter_notices_total{kind="admin",result="sent"} 1' \
    "$(grep '^postmeter_notices_total{kind="admin",result="sent"}' <<<"$metrics")" "A's notices sent"
pm_assert_eq 'postmeter_notices_total{kind="webhook",result="failed"} 1' \
    "$(grep '^postmeter_notices_total{kind="webhook",result="failed"}' <<<"$metrics")" "A's failed webhook"
grep -q "notice: webhook of alice@example.com (burst) failed: " "$PM_POSTMETER_LOG" ||
    pm_fail "A logged no failed webhook: $(grep notice "$PM_POSTMETER_LOG")"

# (g) release --requeue: the incident ends everywhere, the held mail goes,
# also what alice's login sent with another MAIL FROM (found by the queue id
# the incident recorded, not by the envelope sender).
reply=$(pm_swaks_send sales@example.com r-s10@example.net --h-Subject s10 "${AUTH[@]}")
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "alice's login as sales@: $reply" ;; esac
q10=${reply##* }
pm_postfix_wait_hold "$q10"
out=$("$top_builddir/postmeterctl" -c "$PM_TMP/postmeter.conf" incident release alice@example.com \
    --requeue --config-dir "$PM_PF_DIR/etc") || pm_fail "incident release --requeue failed: $out"
line=$(grep '^requeued ' <<<"$out") || pm_fail "release --requeue said: $out"
pm_assert_eq "requeued 4 held messages of alice@example.com on this server:" "${line%%: *}:" \
    "release --requeue"
pm_assert_eq "$(printf '%s\n' "$q6" "$q7" "$q8" "$q10" | sort)" "$(tr ' ' '\n' <<<"${line#*: }" | sort)" \
    "the messages requeued"
pm_sink_expect 11 "messages in the sink after the release"
pm_assert_eq "a1,a2,a3,a4,a5,a6,a7,b8,bob,postmeter: outgoing mail of alice@example.com held: burst,s10" \
    "$(cat "$PM_SINK_DIR"/* | sed -n 's/^Subject: //p' | sort | paste -sd, -)" "the subjects in the sink"
pm_assert_eq "" "$(queue)" "the queue after the release"
pm_assert_eq 0 "$(pm_rcli EXISTS "$K")" "the incident after the release"
pm_assert_eq "" "$(pm_rcli ZRANGE "$(pm_key company example.com incidents)" 0 -1)" "the index after the release"
q9=$(alice "$PORT_B" a9)
pm_sink_expect 12 "messages in the sink after alice's next message"
pm_assert_eq 1 "$(grep -c "$q9: stage=eom action=accept " "$PM_TMP/b.log")" "B's decision on $q9"

echo "PASS: incidents_e2e"
