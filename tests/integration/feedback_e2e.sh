#!/bin/bash
# feedback_e2e.sh - the feedback loop through a real Postfix.
#
# Outgoing mail is authenticated mail only (outbound.networks = []), so mail
# from 127.0.0.1 without AUTH is incoming, as from the Internet:
#   (a) alice writes to bob; a delivery status notification for bob (5.1.1)
#       comes back to alice; her next message to bob gets 550 5.1.1 naming the
#       date of the bounce, and only bob is refused in a message to two;
#   (b) a stranger writes to alice: her later first-contact rule for him no
#       longer applies (a PDF passes), while a PDF to another stranger is
#       refused;
#   (c) sam sends to 10 recipients, 2 of them hard-bounce (20 % >= 10 %): his
#       next external message is refused with the reputation text;
#   (d) the incoming messages themselves all reached the sink unchanged.
#
# SPDX-License-Identifier: BSD-2-Clause
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 "$top_builddir/postmeter"

pm_redis_start
head -c 32 /dev/urandom >"$PM_TMP/contacts.key"
pm_write_conf "$PM_TMP/postmeter.conf" <<CONF
local_domains = [ "example.com" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
reputation: { min_sends = 10; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
CONF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"
for u in alice sam; do pm_postfix_sasl_user "$u@example.com" "$u-pw"; done

# Send as authenticated user $1 to $2 (more recipients may follow); prints the reply.
send_as() {
    local user=$1
    shift
    pm_swaks_send "$user@example.com" "$(IFS=,; echo "$*")" \
        --auth PLAIN --auth-user "$user@example.com" --auth-password "$user-pw"
}

# Inject (unauthenticated, incoming) message file $3 from envelope $1 to $2.
inject() {
    pm_swaks_send "$1" "$2" --data "@$3"
}

# Write a delivery status notification to $1 for recipient $2 into file $3.
write_dsn() {
    cat >"$3" <<EOF
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: $1
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.example.org.
<$2>: host mx.example.org said: 550 5.1.1 <$2>: Recipient address rejected: User unknown

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; $2
Original-Recipient: rfc822;$2
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <$2>: Recipient address rejected: User unknown

--B1
Content-Type: text/rfc822-headers

From: $1
To: $2
Subject: hello

--B1--
.
EOF
}

ok() {
    case $1 in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "$2: $1" ;; esac
}

# (a) a hard bounce puts bob on the suppression list.
ok "$(send_as alice bob@example.org)" "alice to bob"
write_dsn alice@example.com bob@example.org "$PM_TMP/dsn-bob.eml"
ok "$(inject '' alice@example.com "$PM_TMP/dsn-bob.eml")" "the DSN for bob"
pm_wait_grep "feedback=hard_bounce sender=alice@example.com rcpt=bob@example.org status=5\.1\.1" \
    "$PM_POSTMETER_LOG" || pm_fail "the hard bounce was not recorded"
# The dates in the reply come from the time the suppression entry records.
at=$(redis-cli -p "$PM_REDIS_PORT" GET 'pmtest:v1:sup:bob@example.org' | cut -d'|' -f1)
today=$(date -u -d "@$at" +%Y-%m-%d)
until=$(date -u -d "@$((at + 180 * 86400))" +%Y-%m-%d)
want="550 5.1.1 <bob@example.org>: this address bounced as invalid on $today (5.1.1); postmeter will not send to it before $until"
pm_assert_eq "$want" "$(send_as alice bob@example.org)" "alice to a suppressed bob"
# In a message to bob and carol, only bob is refused.
out=$(swaks --server 127.0.0.1 --port "$PM_SMTP_PORT" --from alice@example.com \
    --to bob@example.org,carol@example.org --auth PLAIN --auth-user alice@example.com \
    --auth-password alice-pw 2>&1)
grep -qF "<** $want" <<<"$out" || pm_fail "bob not refused in a message to two: $out"
grep -q '^<-  *250 .*queued as' <<<"$out" || pm_fail "carol's copy was not queued: $out"
pm_assert_eq 1 "$(redis-cli -p "$PM_REDIS_PORT" EXISTS 'pmtest:v1:sup:bob@example.org')" "suppression key"

# (b) a reply from a stranger makes him a known contact.
printf 'From: dan@example.net\r\nTo: alice@example.com\r\nSubject: re: catalogue\r\n\r\nPlease send the catalogue.\r\n.\r\n' >"$PM_TMP/reply.eml"
ok "$(inject dan@example.net alice@example.com "$PM_TMP/reply.eml")" "dan's reply"
pm_wait_grep "feedback=reply sender=alice@example.com rcpt=dan@example.net" "$PM_POSTMETER_LOG" ||
    pm_fail "dan's reply was not recorded"
pdf_to() {
    printf 'From: alice@example.com\r\nTo: %s\r\nSubject: catalogue\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="c.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n.\r\n' "$1" >"$PM_TMP/pdf.eml"
    pm_swaks_send alice@example.com "$1" --auth PLAIN --auth-user alice@example.com \
        --auth-password alice-pw --data "@$PM_TMP/pdf.eml"
}
ok "$(pdf_to dan@example.net)" "a PDF to dan, who wrote first"
case $(pdf_to erin@example.net) in
"451 4.7.1 <alice@example.com>: a first message to a new contact should not carry attachments"*) ;;
*) pm_fail "a PDF to a stranger was not refused" ;;
esac

# (c) sam's list is dirty: 2 of 10 recipients hard-bounce.
for i in $(seq 1 10); do
    ok "$(send_as sam "lead$i@example.org")" "sam to lead$i"
done
for i in 1 2; do
    write_dsn sam@example.com "lead$i@example.org" "$PM_TMP/dsn-sam$i.eml"
    ok "$(inject '' sam@example.com "$PM_TMP/dsn-sam$i.eml")" "the DSN for lead$i"
done
for _ in $(seq 1 50); do
    [ "$(grep -c "feedback=hard_bounce sender=sam@example.com" "$PM_POSTMETER_LOG")" = 2 ] && break
    sleep 0.1
done
pm_assert_eq "451 4.7.1 <sam@example.com>: sending paused: 20.0% of your recent mail bounced as invalid addresses; ask your administrator" \
    "$(send_as sam lead5@example.org)" "sam after 20 % hard bounces"
# Internal mail still flows.
ok "$(send_as sam colleague@example.com)" "sam to a colleague"

# (d) incoming mail is never refused or changed: the DSNs and the reply reached the sink.
pm_sink_wait 20 || true
sleep 0.5
pm_assert_eq 4 "$(grep -l 'Subject: Undelivered Mail Returned to Sender\|Subject: re: catalogue' "$PM_SINK_DIR"/* | wc -l)" \
    "incoming messages in the sink"
grep -l 'Subject: re: catalogue' "$PM_SINK_DIR"/* | xargs grep -q '^X-Postmeter' &&
    pm_fail "an incoming message was changed"
echo "PASS: feedback_e2e"
