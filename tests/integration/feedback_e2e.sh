#!/bin/bash
# feedback_e2e.sh - the feedback loop through a real Postfix.
#
# Outgoing mail is authenticated mail only (outbound.networks = []), so mail
# from 127.0.0.1 without AUTH is incoming, as from the Internet:
#   (a) a forged report from outside names four addresses alice never mailed:
#       nothing is suppressed or counted; alice writes to bob and the real
#       delivery status notification for bob (5.1.1) comes back to her: her
#       next message to bob gets 550 5.1.1 naming the date of the bounce, only
#       bob is refused in a message to two, and zed of another company
#       (other.example) still writes to bob;
#   (b) a stranger writes to alice: her later first-contact rule for him no
#       longer applies (a PDF passes), while a PDF to another stranger is
#       refused; frank answers the message alice sent him (In-Reply-To): a reply;
#   (c) sam sends to 10 recipients, 2 of them hard-bounce (20 % >= 10 %): his
#       next external message is refused with the reputation text; a person
#       forwarding a bounce of a third lead counts nothing;
#   (d) the incoming messages themselves all reached the sink unchanged.
#
# SPDX-License-Identifier: BSD-2-Clause
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 "$top_builddir/postmeter"

pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
pm_write_conf "$PM_TMP/postmeter.conf" <<CONF
local_domains = [ "example.com", "other.example" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
reputation: { min_sends = 10; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
CONF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"
for u in alice@example.com sam@example.com zed@other.example; do
    pm_postfix_sasl_user "$u" "${u%@*}-pw"
done

# Send as authenticated user $1 (an address, or a name at example.com) to $2
# (more recipients may follow); prints the reply.
send_as() {
    local user=$1
    shift
    case $user in *@*) ;; *) user=$user@example.com ;; esac
    pm_swaks_send "$user" "$(IFS=,; echo "$*")" \
        --auth PLAIN --auth-user "$user" --auth-password "${user%@*}-pw"
}

# Inject (unauthenticated, incoming) message file $3 from envelope $1 to $2.
inject() {
    pm_swaks_send "$1" "$2" --data "@$3"
}

# Write a delivery status notification to $1 into file $2 for the recipients $3...
write_dsn() {
    local to=$1 file=$2 r
    shift 2
    {
        cat <<EOF
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: $to
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.example.org.
EOF
        for r; do echo "<$r>: host mx.example.org said: 550 5.1.1 <$r>: Recipient address rejected: User unknown"; done
        printf '\n--B1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n'
        for r; do
            printf '\nFinal-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: failed\n' "$r" "$r"
            printf 'Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <%s>: Recipient address rejected: User unknown\n' "$r"
        done
        printf '\n--B1\nContent-Type: text/rfc822-headers\n\nFrom: %s\nTo: %s\nSubject: hello\n\n--B1--\n.\n' "$to" "$1"
    } >"$file"
}

ok() {
    case $1 in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "$2: $1" ;; esac
}

# (a) a forged report changes nothing; the real bounce puts bob on the
# suppression list of alice's company.
SUP="$(pm_key sup "example.com" "")"
ok "$(send_as alice bob@example.org)" "alice to bob"
write_dsn alice@example.com "$PM_TMP/forged.eml" ceo@bigcustomer.example cfo@bigcustomer.example \
    sales@bigcustomer.example bob@bigcustomer.example
ok "$(inject '<>' alice@example.com "$PM_TMP/forged.eml")" "the forged report"
for _ in $(seq 1 50); do
    [ "$(grep -c 'feedback=unmatched sender=alice@example.com' "$PM_POSTMETER_LOG")" -ge 4 ] && break
    sleep 0.1
done
pm_assert_eq 4 "$(grep -c 'feedback=unmatched sender=alice@example.com rcpt=[a-z]*@bigcustomer.example status=5.1.1' "$PM_POSTMETER_LOG")" \
    "unmatched lines of the forged report"
pm_assert_eq 0 "$(redis-cli -p "$PM_REDIS_PORT" --scan --pattern 'pmtest:*sup:*' | wc -l)" \
    "suppression entries after the forged report"
pm_assert_eq "" "$(redis-cli -p "$PM_REDIS_PORT" HGET "$(pm_key "alice@example.com" rep)" "b:$(($(date +%s) / 86400))")" \
    "alice's hard bounces after the forged report"
write_dsn alice@example.com "$PM_TMP/dsn-bob.eml" bob@example.org
ok "$(inject '<>' alice@example.com "$PM_TMP/dsn-bob.eml")" "the DSN for bob"
pm_wait_grep "feedback=hard_bounce sender=alice@example.com rcpt=bob@example.org status=5\.1\.1" \
    "$PM_POSTMETER_LOG" || pm_fail "the hard bounce was not recorded"
# The dates in the reply come from the time the suppression entry records.
at=$(redis-cli -p "$PM_REDIS_PORT" HGET "${SUP}bob@example.org" at)
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
pm_assert_eq 1 "$(redis-cli -p "$PM_REDIS_PORT" EXISTS "${SUP}bob@example.org")" "suppression key"
# Another company's sender is not suppressed by alice's bounce.
ok "$(send_as zed@other.example bob@example.org)" "zed of other.example to bob"

# (b) a person writing to alice becomes a known contact (within the day's cap).
printf 'From: dan@example.net\r\nTo: alice@example.com\r\nSubject: re: catalogue\r\n\r\nPlease send the catalogue.\r\n.\r\n' >"$PM_TMP/reply.eml"
ok "$(inject dan@example.net alice@example.com "$PM_TMP/reply.eml")" "dan's message"
pm_wait_grep "feedback=learned sender=alice@example.com rcpt=dan@example.net" "$PM_POSTMETER_LOG" ||
    pm_fail "dan's message was not recorded"
pdf_to() {
    printf 'From: alice@example.com\r\nTo: %s\r\nSubject: catalogue\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="c.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n.\r\n' "$1" >"$PM_TMP/pdf.eml"
    pm_swaks_send alice@example.com "$1" --auth PLAIN --auth-user alice@example.com \
        --auth-password alice-pw --data "@$PM_TMP/pdf.eml"
}
ok "$(pdf_to dan@example.net)" "a PDF to dan, who wrote first"
case $(pdf_to erin@example.net) in
"451 4.7.1 <alice@example.com> to <erin@example.net>: a first message to a new contact should not carry attachments"*) ;;
*) pm_fail "a PDF to a stranger was not refused" ;;
esac

# A reply: frank answers the message alice sent him (its Message-ID, as
# Postfix delivered it to the sink).
ok "$(pm_swaks_send alice@example.com frank@example.org --header 'Subject: our offer' \
    --auth PLAIN --auth-user alice@example.com --auth-password alice-pw)" "alice to frank"
pm_sink_wait 20 || true
mid=$(grep -l '^Subject: our offer' "$PM_SINK_DIR"/* | head -n 1 | xargs sed -n 's/^Message-I[dD]: *\(<[^>]*>\).*/\1/p' | head -n 1)
[ -n "$mid" ] || pm_fail "alice's message to frank has no Message-ID in the sink"
printf 'From: frank@example.org\r\nTo: alice@example.com\r\nSubject: Re: our offer\r\nIn-Reply-To: %s\r\nReferences: %s\r\n\r\nInterested.\r\n.\r\n' "$mid" "$mid" >"$PM_TMP/frank.eml"
ok "$(inject frank@example.org alice@example.com "$PM_TMP/frank.eml")" "frank's reply"
pm_wait_grep "feedback=reply sender=alice@example.com rcpt=frank@example.org" "$PM_POSTMETER_LOG" ||
    pm_fail "frank's reply was not recorded"

# (c) sam's list is dirty: 2 of 10 recipients hard-bounce.
for i in $(seq 1 10); do
    ok "$(send_as sam "lead$i@example.org")" "sam to lead$i"
done
for i in 1 2; do
    write_dsn sam@example.com "$PM_TMP/dsn-sam$i.eml" "lead$i@example.org"
    ok "$(inject '<>' sam@example.com "$PM_TMP/dsn-sam$i.eml")" "the DSN for lead$i"
done
for _ in $(seq 1 50); do
    [ "$(grep -c "feedback=hard_bounce sender=sam@example.com" "$PM_POSTMETER_LOG")" = 2 ] && break
    sleep 0.1
done
pm_assert_eq "451 4.7.1 <sam@example.com>: sending paused: 20.0% of your recent mail bounced as invalid addresses; ask your administrator" \
    "$(send_as sam lead5@example.org)" "sam after 20 % hard bounces"
# Internal mail still flows.
ok "$(send_as sam colleague@example.com)" "sam to a colleague"
# A person forwarding a bounce of lead3 (whom sam did mail) is not a bounce.
printf 'From: Pat <pat@example.net>\r\nTo: sam@example.com\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\n\r\n---------- Forwarded message ---------\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n<lead3@example.org>: host mx.example.org said: 550 5.1.1 <lead3@example.org>: Recipient address rejected: User unknown\r\n.\r\n' \
    >"$PM_TMP/fwd.eml"
ok "$(inject pat@example.net sam@example.com "$PM_TMP/fwd.eml")" "pat's forwarded bounce"
pm_wait_grep "feedback=learned sender=sam@example.com rcpt=pat@example.net" "$PM_POSTMETER_LOG" ||
    pm_fail "pat's message was not read"
grep -q "rcpt=lead3@example.org" "$PM_POSTMETER_LOG" && pm_fail "a forwarded bounce was taken for one"
pm_assert_eq 0 "$(redis-cli -p "$PM_REDIS_PORT" EXISTS "${SUP}lead3@example.org")" "lead3 suppressed"

# (d) incoming mail is never refused or changed: the DSNs and the reply reached the sink.
pm_sink_wait 20 || true
sleep 0.5
pm_assert_eq 7 "$(grep -l '^Subject: Undelivered Mail Returned to Sender\|^Subject: re: catalogue\|^Subject: Re: our offer\|^Subject: Fwd: Undelivered' "$PM_SINK_DIR"/* | wc -l)" \
    "incoming messages in the sink (the forged report, 3 DSNs, dan, frank, pat)"
grep -l 'Subject: re: catalogue' "$PM_SINK_DIR"/* | xargs grep -q '^X-Postmeter' &&
    pm_fail "an incoming message was changed"
echo "PASS: feedback_e2e"
