#!/bin/bash
# subject_e2e.sh - fake replies and shouting subjects through a real Postfix,
# with the built-in rules (no rules list: cold-fake-reply, tempfail;
# cold-shouting-subject, tag):
#   (a) alice's introduction (Message-ID <intro-1@example.com>) to bob passes;
#   (b) a cold "RE: Our offer" without In-Reply-To/References to carol is
#       refused with the rule's text, naming carol; so is a GB2312-encoded
#       "回复：..." (RFC 2047) to gina;
#   (c) "RE: Our offer" with In-Reply-To naming the introduction, to dave (a
#       first contact too), passes: the meter call found the Message-ID
#       alice sent;
#   (d) "RE: Our offer" whose references name no message alice sent, to erin,
#       is refused, and counts nothing (the store answered in the same call);
#   (e) "RE: Our offer" without references to bob (known now) passes;
#   (f) a shouting subject to frank reaches the sink with the header
#       "X-Postmeter: rule=cold-shouting-subject";
#   (g) the decision lines show the facts;
#   (h) postmeterctl classify prints the facts; with references it cannot ask
#       the store and says it takes them to name a message the sender sent;
#       --json gives the same note in fake_reply_note (null without a prefix).
#
# SPDX-License-Identifier: BSD-2-Clause
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"

pm_need swaks postfix smtp-sink saslpasswd2 "$top_builddir/postmeter"

pm_cold_start </dev/null

# Send from alice to $1 a message with Subject $2, Message-ID <$3@example.com>
# and extra header lines $4 (CRLF-ended); print the decisive reply.
send() {
    printf 'From: alice@example.com\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.com>\r\n%sContent-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n.\r\n' \
        "$1" "$2" "$3" "${4:-}" >"$PM_TMP/msg.eml"
    pm_swaks_send alice@example.com "$1" "${AUTH[@]}" --data "@$PM_TMP/msg.eml"
}

# Assert that reply $1 (label $2) is a queued message.
queued() {
    case $1 in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "$2: $1" ;; esac
}

FAKE_TEXT='a first message to a new contact must not pretend to be a reply ("Re:" or "Fwd:" without an earlier message); send it without the prefix'

# (a) the introduction
queued "$(send bob@example.org 'Our offer' intro-1)" "the introduction to bob"
# (b) a cold "RE:" without references; a GB2312 "回复：" one
pm_assert_eq "451 4.7.1 <alice@example.com> to <carol@example.org>: $FAKE_TEXT" \
    "$(send carol@example.org 'RE: Our offer' cold-re)" "a cold RE: to carol"
pm_assert_eq "451 4.7.1 <alice@example.com> to <gina@example.org>: $FAKE_TEXT" \
    "$(send gina@example.org '=?gb2312?B?u9i4tKO6ztLDx7XEsai82w==?=' cold-cn)" "a cold 回复： to gina"
# (c) a real reply: its In-Reply-To names the introduction alice sent
queued "$(send dave@example.org 'RE: Our offer' reply-1 \
    $'In-Reply-To: <intro-1@example.com>\r\nReferences: <intro-1@example.com>\r\n')" \
    "a reply naming the introduction, to dave"
# (d) references that name nothing alice sent: refused, nothing counted
pm_assert_eq "451 4.7.1 <alice@example.com> to <erin@example.org>: $FAKE_TEXT" \
    "$(send erin@example.org 'RE: Our offer' fake-1 $'In-Reply-To: <nosuch@example.net>\r\n')" \
    "a reply naming no message alice sent, to erin"
# (e) the same cold subject to a known contact
queued "$(send bob@example.org 'RE: Our offer' known-1)" "RE: to bob, known"
# (f) a shouting subject to a first contact: tagged
queued "$(send frank@example.org 'LIMITED OFFER FOR YOUR TEAM!!' shout-1)" "shouting to frank"
pm_sink_expect 4 "the introduction, the reply, RE: to bob, the shouting one"
pm_assert_eq "X-Postmeter: rule=cold-shouting-subject" \
    "$(grep -h '^X-Postmeter' $(grep -l 'Subject: LIMITED OFFER' "$PM_SINK_DIR"/*))" "the tag header"
for f in $(grep -L 'Subject: LIMITED OFFER' "$PM_SINK_DIR"/*); do
    grep -q '^X-Postmeter' "$f" && pm_fail "$f was tagged"
done
# (g) decision lines: the facts; what was refused counted nothing: erin's line
# shows the 2 messages counted before it (the introduction, the reply), bob's
# after it the 3rd
grep -q "action=tempfail reason=rule:cold-fake-reply sender=alice@example.com .* cold=1 .*fake_reply=1" \
    "$PM_POSTMETER_LOG" || pm_fail "no decision line for the fake reply"
grep "reason=rule:cold-fake-reply" "$PM_POSTMETER_LOG" | grep -q " msgs_day=2/0 .*fake_reply=1" ||
    pm_fail "the gated fake reply to erin: $(grep 'reason=rule:cold-fake-reply' "$PM_POSTMETER_LOG")"
grep -q "action=accept reason=ok sender=alice@example.com .* msgs_day=3/0 .* cold=0 " "$PM_POSTMETER_LOG" ||
    pm_fail "no line for the RE: to bob after erin's refusal"
grep -q "action=tag reason=rule:cold-shouting-subject .* msgs_day=4/0 .*subject_caps=100 subject_exclamations=2 " \
    "$PM_POSTMETER_LOG" || pm_fail "no tag decision line"
# (h) classify: the GB2312 cold reply, and the reply with references
printf 'From: alice@example.com\r\nSubject: =?gb2312?B?u9i4tKO6ztLDx7XEsai82w==?=\r\n\r\nHi\r\n' >"$PM_TMP/cn.eml"
"$top_builddir/postmeterctl" -c "$PM_TMP/postmeter.conf" classify "$PM_TMP/cn.eml" >"$PM_TMP/cl.out" ||
    pm_fail "classify failed"
for want in "  subject_length        8" "  fake_reply            1" \
    "  fake_reply_note       a reply prefix without In-Reply-To or References" \
    "  first contact   tempfail (rule:cold-fake-reply)"; do
    grep -qxF "$want" "$PM_TMP/cl.out" || pm_fail "classify: no \"$want\" in $(cat "$PM_TMP/cl.out")"
done
send dave@example.org 'RE: Our offer' reply-2 $'In-Reply-To: <intro-1@example.com>\r\n' >/dev/null
"$top_builddir/postmeterctl" -c "$PM_TMP/postmeter.conf" classify "$PM_TMP/msg.eml" >"$PM_TMP/cl.out" ||
    pm_fail "classify failed"
for want in "  subject_caps          30" "  fake_reply            0" \
    "  fake_reply_note       a reply prefix with references: taken to name a message the sender sent (the store is not asked)"; do
    grep -qxF "$want" "$PM_TMP/cl.out" || pm_fail "classify: no \"$want\" in $(cat "$PM_TMP/cl.out")"
done
# (h) classify --json carries the same note, null without a reply prefix
json_note() {
    "$top_builddir/postmeterctl" -c "$PM_TMP/postmeter.conf" --json classify "$1" >"$PM_TMP/cl.json" ||
        pm_fail "classify --json $1 failed"
    grep -o '"fake_reply_note":\(null\|"[^"]*"\)' "$PM_TMP/cl.json" || echo "none in $(cat "$PM_TMP/cl.json")"
}
pm_assert_eq '"fake_reply_note":"a reply prefix with references: taken to name a message the sender sent (the store is not asked)"' \
    "$(json_note "$PM_TMP/msg.eml")" "classify --json: the reply with references"
pm_assert_eq '"fake_reply_note":"a reply prefix without In-Reply-To or References"' \
    "$(json_note "$PM_TMP/cn.eml")" "classify --json: the GB2312 cold reply"
printf 'From: alice@example.com\r\nSubject: Our offer\r\n\r\nHi\r\n' >"$PM_TMP/plain.eml"
pm_assert_eq '"fake_reply_note":null' "$(json_note "$PM_TMP/plain.eml")" "classify --json: no reply prefix"
echo "PASS: subject_e2e"
