#!/bin/bash
# cold_e2e.sh - first-contact content rules through a real Postfix.
#
# With the default rules and a "hold" rule of its own:
#   (a) a first-contact message with a PDF attachment gets the tempfail text,
#       which names the new recipient (as given in RCPT TO), and does not
#       reach the sink;
#   (b) after a plain message to the same recipient (which makes it known),
#       the same PDF message is accepted;
#   (c) a first contact with a tracking pixel reaches the sink with the
#       header "X-Postmeter: rule=cold-rich-content" (the rule's name, no more);
#   (d) a message with more than 5 links is put on Postfix's hold queue with
#       its reason in an X-Postmeter-Hold header (postcat shows it);
#   (e) the decision lines show the features and the rules.
#
# SPDX-License-Identifier: BSD-2-Clause
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 postqueue postcat "$top_builddir/postmeter"

pm_cold_start <<CONF
rules = (
  { name = "cold-attachment";
    when = { first_contact = true; attachments = "> 0"; };
    action = "tempfail";
    reply = "a first message to a new contact should not carry attachments: send a short introduction first and share files by link"; },
  { name = "cold-rich-content";
    when = { first_contact = true; };
    any = { images = "> 0"; remote_images = "> 0"; links = "> 2"; shortener_links = "> 0"; };
    action = "tag";
    reply = "first contact with images, a tracking pixel, more than 2 links or a link shortener"; },
  { name = "many-links"; when = { links = "> 5"; }; action = "hold"; reply = "more than 5 links"; }
);
CONF

# Write message file $1 from alice to $2 with body type $3 (plain, pdf, pixel, links).
write_msg() {
    local f=$1 to=$2 kind=$3
    {
        printf 'From: alice@example.com\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n' "$to" "$kind"
        case $kind in
        plain)
            printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nHello, a short introduction.\r\n'
            ;;
        pdf)
            printf 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
            printf 'Content-Type: text/plain\r\n\r\nOur catalogue is attached.\r\n--b1\r\n'
            printf 'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="catalogue.pdf"\r\n'
            printf 'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK\r\n--b1--\r\n'
            ;;
        pixel)
            printf 'Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello</p>'
            printf '<img src="http://track.example.net/p.gif?id=42" width="1" height="1"></body></html>\r\n'
            ;;
        links)
            printf 'Content-Type: text/plain\r\n\r\n'
            for i in 1 2 3 4 5 6; do printf 'See https://www%d.example.net/page\r\n' "$i"; done
            ;;
        esac
        printf '.\r\n'
    } >"$f"
}

# Send message kind $2 from alice to $1; print the decisive reply.
send() {
    write_msg "$PM_TMP/msg.eml" "$1" "$2"
    pm_swaks_send alice@example.com "$1" "${AUTH[@]}" --data "@$PM_TMP/msg.eml"
}

COLD_TEXT="a first message to a new contact should not carry attachments: send a short introduction first and share files by link"

# (a) first contact with a PDF: refused with the rule's text, naming the new recipient.
pm_assert_eq "451 4.7.1 <alice@example.com> to <bob@example.org>: $COLD_TEXT" \
    "$(send bob@example.org pdf)" "first contact with a PDF"
# to two strangers: the first as the client spelled it, and how many more
pm_assert_eq "451 4.7.1 <alice@example.com> to <Dan+offer@Example.ORG> and 1 other new contact: $COLD_TEXT" \
    "$(send Dan+offer@Example.ORG,erin@example.org pdf)" "first contact with a PDF to two strangers"
# (b) a plain first message makes bob known; then the PDF passes.
reply=$(send bob@example.org plain)
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "plain first contact: $reply" ;; esac
reply=$(send bob@example.org pdf)
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "PDF to a known contact: $reply" ;; esac
pm_sink_wait 2 || pm_fail "the sink did not get the 2 messages to bob"
# (c) a tracking pixel to a stranger: tagged, delivered.
reply=$(send carol@example.org pixel)
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "pixel to a stranger: $reply" ;; esac
pm_sink_wait 3 || pm_fail "the tagged message did not reach the sink"
sleep 0.3
grep -l 'Subject: pixel' "$PM_SINK_DIR"/* >/dev/null || pm_fail "no pixel message in the sink"
# The header names the rule and says nothing else (no reply text, no quota).
pm_assert_eq "X-Postmeter: rule=cold-rich-content" \
    "$(grep -h '^X-Postmeter' $(grep -l 'Subject: pixel' "$PM_SINK_DIR"/*))" "the tag header"
# Internal mail and known contacts are not tagged.
grep -l 'Subject: plain' "$PM_SINK_DIR"/* | xargs grep -q '^X-Postmeter:' &&
    pm_fail "the plain message was tagged"
# (d) more than 5 links: on hold (it never reaches the sink).
reply=$(send bob@example.org links)
case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "message with links: $reply" ;; esac
qid=${reply##* }
pm_postfix_wait_hold "$qid"
pm_assert_eq 3 "$(pm_sink_count)" "messages in the sink"
# The reason is on the held message, where the administrator looks (postcat -q).
pm_assert_eq "X-Postmeter-Hold: many-links: more than 5 links" \
    "$(postcat -c "$PM_PF_DIR/etc" -h -q "$qid" | grep '^X-Postmeter')" "the hold note of $qid"
# (e) decision lines: features and rules.
grep -q "action=tempfail reason=rule:cold-attachment sender=alice@example.com .* cold=1 .*attachments=1 " "$PM_POSTMETER_LOG" ||
    pm_fail "no decision line for the refused PDF"
grep -q "$qid: stage=eom action=hold reason=rule:many-links .*links=6 " "$PM_POSTMETER_LOG" ||
    pm_fail "no hold decision line for $qid"
grep -q "action=tag reason=rule:cold-rich-content .*remote_images=1 " "$PM_POSTMETER_LOG" ||
    pm_fail "no tag decision line"
echo "PASS: cold_e2e"
