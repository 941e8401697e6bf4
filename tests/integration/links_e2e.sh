#!/bin/bash
# links_e2e.sh - where a link is, through a real Postfix, with the shipped
# default rules (the configuration has no rules list):
#   (a) a first-contact message with a link in its new text reaches the sink
#       with the header "X-Postmeter: rule=cold-body-link";
#   (b) a first-contact message whose only link is in its "-- " signature,
#       (c) a Gmail-style HTML one whose only link is in its gmail_signature
#       block, and (d) a reply whose only link is in the quoted message reach
#       the sink untagged;
#   (e) the decision line of (a) names the rule, and each decision line
#       gives body_links, signature_links and quoted_links; postmeterctl
#       classify prints them for a message file.
#
# SPDX-License-Identifier: BSD-2-Clause
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 "$top_builddir/postmeter" "$top_builddir/postmeterctl"

pm_cold_start </dev/null

# Write message file $1 from alice to $2 of kind $3 (body, signature, gmail, quoted).
write_msg() {
    local f=$1 to=$2 kind=$3
    {
        printf 'From: alice@example.com\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n' "$to" "$kind"
        case $kind in
        body)
            printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nHello, our offer: https://offer.example.net/x\r\n'
            printf '\r\n-- \r\nAlice\r\n'
            ;;
        signature)
            printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nHello, a short introduction.\r\n'
            printf '\r\n-- \r\nAlice, ACME\r\nhttps://www.acme.example.net/\r\n'
            ;;
        gmail)
            printf 'Content-Type: text/html; charset=utf-8\r\n\r\n<div dir="ltr">Hello, a short introduction.'
            printf '<br clear="all"><div><br></div><span class="gmail_signature_prefix">-- </span><br>\r\n'
            printf '<div dir="ltr" class="gmail_signature" data-smartmail="gmail_signature">Alice<br>'
            printf '<a href="https://www.acme.example.net/">acme.example.net</a></div></div>\r\n'
            ;;
        quoted)
            printf 'Content-Type: text/plain; charset=utf-8\r\n\r\nThanks, that works.\r\n\r\n'
            printf 'On Mon, 7 Dec 2026 at 10:00, Dave <dave@example.org> wrote:\r\n'
            printf '> The form is at https://form.example.org/apply\r\n'
            ;;
        esac
        printf '.\r\n'
    } >"$f"
}

# Send message kind $2 from alice to $1; fail unless queued.
send() {
    local reply
    write_msg "$PM_TMP/msg.eml" "$1" "$2"
    reply=$(pm_swaks_send alice@example.com "$1" "${AUTH[@]}" --data "@$PM_TMP/msg.eml")
    case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "$2 to $1: $reply" ;; esac
}

# The X-Postmeter header lines of the sink's message with subject $1.
tag_of() {
    local f
    f=$(grep -l "^Subject: $1" "$PM_SINK_DIR"/*) || pm_fail "no '$1' message in the sink"
    grep -h '^X-Postmeter' $f || true
}

send bob@example.org body
send carol@example.org signature
send dan@example.org gmail
send erin@example.org quoted
pm_sink_wait 4 || pm_fail "the sink did not get the 4 messages"
# (a) a link in the new text of a first contact: tagged with the rule's name.
pm_assert_eq "X-Postmeter: rule=cold-body-link" "$(tag_of body)" "the body-link tag"
# (b)-(d) a link only in a signature or a quote: not tagged.
pm_assert_eq "" "$(tag_of signature)" "the signature-link message's tag"
pm_assert_eq "" "$(tag_of gmail)" "the Gmail signature message's tag"
pm_assert_eq "" "$(tag_of quoted)" "the quoted-link message's tag"
# (e) the decision line names the rule, with the link count and where the link is;
# the lines of (b)-(d) say where theirs is.
grep -Eq "action=tag reason=rule:cold-body-link sender=alice@example.com .* links=1 shortener_links=0 body_links=1 signature_links=0 quoted_links=0( |\$)" \
    "$PM_POSTMETER_LOG" || pm_fail "no tag decision line: $(grep 'stage=eom' "$PM_POSTMETER_LOG")"
pm_assert_eq 2 "$(grep -Ec "action=accept reason=ok .* links=1 shortener_links=0 body_links=0 signature_links=1 quoted_links=0( |\$)" "$PM_POSTMETER_LOG")" \
    "decision lines of the two signature-link messages"
pm_assert_eq 1 "$(grep -Ec "action=accept reason=ok .* links=1 shortener_links=0 body_links=0 signature_links=0 quoted_links=1( |\$)" "$PM_POSTMETER_LOG")" \
    "decision line of the quoted-link message"
[ "$(grep -c 'reason=rule:cold-body-link' "$PM_POSTMETER_LOG")" = 1 ] ||
    pm_fail "cold-body-link applied more than once: $(grep 'stage=eom' "$PM_POSTMETER_LOG")"
# classify: the three facts of a message with a link in each place.
{
    printf 'From: alice@example.com\r\nTo: bob@example.org\r\nSubject: x\r\n\r\n'
    printf 'See https://a.example.net/ and https://b.example.net/\r\n-- \r\nhttps://c.example.net/\r\n'
    printf 'On Mon, Bob wrote:\r\n> https://d.example.net/\r\n'
} >"$PM_TMP/places.eml"
"$top_builddir/postmeterctl" -c "$PM_TMP/postmeter.conf" classify "$PM_TMP/places.eml" >"$PM_TMP/cl.out" ||
    pm_fail "classify failed"
for want in "links 4" "body_links 2" "signature_links 1" "quoted_links 1"; do
    grep -Eq "^ +${want% *} +${want#* }\$" "$PM_TMP/cl.out" || pm_fail "classify: no '$want': $(cat "$PM_TMP/cl.out")"
done
grep -q "rule:cold-body-link" "$PM_TMP/cl.out" || pm_fail "classify: the rule: $(cat "$PM_TMP/cl.out")"
echo "PASS: links_e2e"
