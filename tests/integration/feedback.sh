#!/bin/bash
# feedback.sh - what incoming mail may teach, against a real Redis through the
# milter (tests/tools/pmdrive speaks the milter protocol): every branch of
# the feedback script, driven by real messages.
#   (a) a forged report naming four addresses alice never mailed: four
#       feedback=unmatched lines, no suppression, no reputation change;
#   (b) the real bounce for an address she mailed: suppressed for her company
#       only, counted once (the same bounce again is a duplicate);
#   (c) a block counts once per message sent; a bounce for mail sent before
#       the bounce window is unmatched;
#   (d) a report with a sender, and a person forwarding a bounce, are never
#       bounces;
#   (e) a reply naming a Message-ID alice sent counts as a reply; replies are
#       capped per day; 1,000 forged person messages to one mailbox teach
#       exactly learned_contacts_per_day contacts; a trusted
#       Authentication-Results failure teaches nothing;
#   (f) the reputation hash keeps 8 days whatever the days sent;
#   (g) postmeterctl suppress: per company, add, check, del, migrate.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$DRIVE" "$CTL" redis-server redis-cli
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
pm_milter_start m <<CONF
local_domains = [ "example.com", "other.example" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
feedback: { learned_contacts_per_day = 20; replies_per_day = 3; authserv_id = "mx.example.com"; };
plans: { default: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
                    new_recipients_per_day = 0; warmup = []; }; };
rules = ( );
CONF
LOG=$PM_TMP/m.log
PM_FAIL_LOGS=$LOG
ctl() { "$CTL" -c "$PM_TMP/m.conf" "$@"; }

# Drive one message: envelope sender $1 (login $2, "" for incoming mail), file
# $3 ("" for pmdrive's own), recipients $4...; prints pmdrive's output.
drive() {
    local from=$1 login=$2 file=$3 args=()
    shift 3
    [ -n "$login" ] && args+=(-a "$login")
    [ -n "$file" ] && args+=(-D "$file")
    for r in "$@"; do args+=(-r "$r"); done
    "$DRIVE" -S "unix:$PM_TMP/m.sock" -c 1 -m 1 -f "$from" "${args[@]}" 2>&1
}

# Send as local user $1 to $2... with Message-ID <$1-N@example.com>, N counting.
N=0
send_as() {
    local user=$1
    shift
    N=$((N + 1))
    printf 'From: %s\r\nTo: %s\r\nSubject: offer %d\r\nMessage-ID: <%s-%d@example.com>\r\n\r\nHello.\r\n' \
        "$user" "$1" "$N" "${user%@*}" "$N" >"$PM_TMP/out.eml"
    out=$(drive "$user" "$user" "$PM_TMP/out.eml" "$@")
    pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "$user to $*"
}

# Write a report to mailbox $1 failing recipients $3... with status $2 into $PM_TMP/dsn.eml.
write_dsn() {
    local to=$1 st=$2 r
    shift 2
    {
        printf 'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\nTo: %s\r\n' "$to"
        printf 'Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n'
        printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
        printf -- '--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n'
        printf -- '--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n'
        for r; do
            printf '\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\n' "$r" "$st"
            printf 'Diagnostic-Code: smtp; 550 %s <%s>: Recipient address rejected\r\n' "$st" "$r"
        done
        printf -- '\r\n--B1--\r\n'
    } >"$PM_TMP/dsn.eml"
}

# Lines of the log matching regex $1.
count() { grep -cE "$1" "$LOG" || true; }

# Wait until the log has $2 lines matching regex $1 (bounded), then check it.
expect_lines() {
    for _ in $(seq 1 50); do
        [ "$(count "$1")" -ge "$2" ] && break
        sleep 0.1
    done
    pm_assert_eq "$2" "$(count "$1")" "log lines matching $1"
}

REP="$(pm_key "alice@example.com" rep)"
SUP_A="$(pm_key sup "example.com" "")"
TODAY=$(($(pm_rcli TIME | head -n 1) / 86400))

# --- (a) a forged report: nothing ------------------------------------------------
send_as alice@example.com bob@example.org
write_dsn alice@example.com 5.1.1 ceo@bigcustomer.example x1@bigcustomer.example \
    x2@bigcustomer.example x3@bigcustomer.example
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
expect_lines 'feedback=unmatched sender=alice@example.com rcpt=(ceo|x[123])@bigcustomer\.example status=5\.1\.1' 4
pm_assert_eq 0 "$(pm_rcli --scan --pattern 'pmtest:*sup:*' | wc -l)" "suppression entries after a forged report"
pm_assert_eq "" "$(pm_rcli HGET "$REP" "b:$TODAY")" "hard bounces after a forged report"
out=$(drive alice@example.com alice@example.com "" ceo@bigcustomer.example)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "alice may still write to the ceo"

# --- (b) the real bounce: suppressed for her company, counted once -----------------
write_dsn alice@example.com 5.1.1 bob@example.org
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
expect_lines 'feedback=hard_bounce sender=alice@example.com rcpt=bob@example\.org status=5\.1\.1' 1
pm_assert_eq 1 "$(pm_rcli EXISTS "${SUP_A}bob@example.org")" "bob suppressed for example.com"
pm_assert_eq "5.1.1 alice@example.com" "$(pm_rcli HMGET "${SUP_A}bob@example.org" status sender | tr '\n' ' ' | sed 's/ $//')" \
    "the entry's fields"
pm_assert_eq 1 "$(pm_rcli HGET "$REP" "b:$TODAY")" "one hard bounce"
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
expect_lines 'feedback=duplicate sender=alice@example.com rcpt=bob@example\.org' 1
pm_assert_eq 1 "$(pm_rcli HGET "$REP" "b:$TODAY")" "still one hard bounce"
out=$(drive alice@example.com alice@example.com "" bob@example.org)
grep -q '^reply 1 550 5.1.1 <bob@example.org>: this address bounced as invalid on ' <<<"$out" ||
    pm_fail "alice to a suppressed bob: $out"
# a colleague of the same company is refused too; another company is not
out=$(drive al@example.com al@example.com "" bob@example.org)
pm_assert_eq 0 "$(pm_summary - accepted <<<"$out")" "al (example.com) to bob"
out=$(drive zed@other.example zed@other.example "" bob@example.org)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "zed (other.example) to bob"
# "bob"@example.org. is bob
out=$(drive alice@example.com alice@example.com "" '"bob"@Example.ORG.')
pm_assert_eq 0 "$(pm_summary - accepted <<<"$out")" "alice to a quoted bob"
# an address with a '|' (legal in a local part) is suppressed like any other
send_as alice@example.com 'x|y@example.org'
write_dsn alice@example.com 5.1.1 'x|y@example.org'
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
expect_lines 'feedback=hard_bounce sender=alice@example.com rcpt=x\|y@example\.org' 1
out=$(drive alice@example.com alice@example.com "" 'x|y@example.org')
grep -q '^reply 1 550 5.1.1 <x|y@example.org>: this address bounced as invalid on ' <<<"$out" ||
    pm_fail "alice to a suppressed x|y: $out"

# --- (c) blocks once per recipient and day mailed; the bounce window ---------------
send_as alice@example.com carol@example.org
write_dsn alice@example.com 5.7.1 carol@example.org
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
send_as alice@example.com carol@example.org # the same day again
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
expect_lines 'feedback=block sender=alice@example.com rcpt=carol@example\.org status=5\.7\.1' 1
expect_lines 'feedback=duplicate sender=alice@example.com rcpt=carol@example\.org' 1
pm_clock_set 86400 EX 600 >/dev/null # the next day
send_as alice@example.com carol@example.org
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
expect_lines 'feedback=block sender=alice@example.com rcpt=carol@example\.org status=5\.7\.1' 2
pm_assert_eq "1 1" "$(pm_rcli HMGET "$REP" "k:$TODAY" "k:$((TODAY + 1))" | tr '\n' ' ' | sed 's/ $//')" \
    "one block on each day mailed"
send_as dora@example.com old@example.org
pm_clock_set $((16 * 86400)) EX 600 >/dev/null # 15 days later
write_dsn dora@example.com 5.1.1 old@example.org
drive "" "" "$PM_TMP/dsn.eml" dora@example.com >/dev/null
expect_lines 'feedback=unmatched sender=dora@example.com rcpt=old@example\.org' 1
pm_clock_del

# --- (d) reports with a sender, forwarded bounces: never bounces -------------------
send_as erin@example.com lead1@example.org lead2@example.org
write_dsn erin@example.com 5.1.1 lead1@example.org
drive postmaster@mx.example.org "" "$PM_TMP/dsn.eml" erin@example.com >/dev/null
printf 'From: Pat <pat@example.net>\r\nTo: erin@example.com\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\n\r\n---------- Forwarded message ---------\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: erin@example.com\r\n\r\n<lead2@example.org>: host mx.example.org said: 550 5.1.1 <lead2@example.org>: User unknown\r\n' \
    >"$PM_TMP/fwd.eml"
drive pat@example.net "" "$PM_TMP/fwd.eml" erin@example.com >/dev/null
expect_lines 'feedback=learned sender=erin@example.com rcpt=pat@example\.net' 1
pm_assert_eq 0 "$(count 'sender=erin@example.com rcpt=lead')" "feedback about erin's leads"
pm_assert_eq 0 "$(pm_rcli --scan --pattern "${SUP_A}lead*" | wc -l)" "erin's leads suppressed"

# --- (e) replies, learned contacts and their caps -----------------------------------
MID=$(sed -n 's/^Message-ID: <\(.*\)>\r$/\1/p' "$PM_TMP/out.eml") # erin's message
reply() { # author $1 replying to mailbox $2 about Message-ID $3 (none: "")
    {
        printf 'From: %s\r\nTo: %s\r\nSubject: Re: offer\r\n' "$1" "$2"
        [ -n "$3" ] && printf 'In-Reply-To: <%s>\r\nReferences: <other@example.net> <%s>\r\n' "$3" "$3"
        printf '\r\nThanks.\r\n'
    } >"$PM_TMP/reply.eml"
    drive "$1" "" "$PM_TMP/reply.eml" "$2" >/dev/null
}
reply lead1@example.org erin@example.com "$MID"
expect_lines 'feedback=reply sender=erin@example.com rcpt=lead1@example\.org' 1
reply lead1@example.org erin@example.com "$MID" # the same author again today
pm_assert_eq 1 "$(pm_rcli HGET "$(pm_key "erin@example.com" rep)" "r:$TODAY")" "one reply counted"
for i in 2 3 4 5; do reply "r$i@example.net" erin@example.com "$MID"; done
expect_lines 'feedback=(reply|capped) sender=erin@example.com rcpt=r[2-5]@example\.net' 4
pm_assert_eq "2 2" "$(count 'feedback=reply sender=erin@example.com rcpt=r') $(count 'feedback=capped sender=erin@example.com')" \
    "replies within the cap of 3, the rest capped"
# a made-up reference is not a reply
reply mallory@example.net alice@example.com "alice-999@example.com"
expect_lines 'feedback=learned sender=alice@example.com rcpt=mallory@example\.net' 1
# 1,000 forged people writing to hank: exactly 20 learned
printf 'To: hank@example.com\r\nSubject: hello\r\n\r\nHi.\r\n' >"$PM_TMP/hi.eml"
out=$("$DRIVE" -S "unix:$PM_TMP/m.sock" -c 4 -m 250 -f 'stranger%d@example.net' -D "$PM_TMP/hi.eml" \
    -r hank@example.com 2>&1)
pm_assert_eq "1000 1000" "$(pm_summary - messages accepted <<<"$out")" "the forged messages passed"
expect_lines 'feedback=(learned|capped) sender=hank@example.com' 1000
pm_assert_eq "20 980" "$(count 'feedback=learned sender=hank@example.com') $(count 'feedback=capped sender=hank@example.com')" \
    "contacts learned from 1,000 forged messages"
pm_assert_eq 21 "$(pm_rcli HLEN "$(pm_key "hank@example.com" lc)")" "hank's learned contacts (and the day sweep's state)"
# a trusted failure teaches nothing; another server's word is not trusted
printf 'Authentication-Results: mx.example.com; spf=pass; dmarc=fail (p=reject)\r\nFrom: ceo@bank.example\r\nTo: ivy@example.com\r\n\r\nUrgent.\r\n' >"$PM_TMP/ar.eml"
drive ceo@bank.example "" "$PM_TMP/ar.eml" ivy@example.com >/dev/null
expect_lines 'feedback=untrusted rcpt=ceo@bank\.example' 1
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key "ivy@example.com" lc)")" "ivy learned nothing"

# --- (f) the reputation hash keeps 8 days --------------------------------------------
for d in $(seq 1 40); do
    pm_clock_set $((d * 86400)) EX 600 >/dev/null
    out=$(drive kim@example.com kim@example.com "" "x$d@example.org")
    pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "kim on day $d"
done
pm_assert_eq 8 "$(pm_rcli HLEN "$(pm_key "kim@example.com" rep)")" "reputation fields after 40 days"
pm_clock_del

# --- (g) postmeterctl suppress ---------------------------------------------------------
out=$(ctl suppress check bob@example.org) || pm_fail "suppress check: $out"
grep -qE '^bob@example\.org +example\.com +5\.1\.1 .* alice@example\.com$' <<<"$out" ||
    pm_fail "suppress check names the company: $out"
out=$(ctl suppress check bob@example.org --domain other.example) && pm_fail "bob is not suppressed for other.example: $out"
out=$(ctl --json suppress add gone@example.net --domain other.example --days 10)
grep -q '"company":"other.example","recipient":"gone@example.net",.*"status":"5.1.1","sender":"admin:' <<<"$out" ||
    pm_fail "suppress add: $out"
out=$(drive zed@other.example zed@other.example "" gone@example.net)
grep -q '^reply 1 550 5.1.1 <gone@example.net>: this address was put on the suppression list by an administrator on ' <<<"$out" ||
    pm_fail "zed to gone@: $out"
grep -q 'with --domain' <<<"$(ctl suppress add x@example.net 2>&1)" ||
    pm_fail "add without a company when local_domains names two"
pm_assert_eq 3 "$(ctl --json suppress list | grep -o '"recipient"' | wc -l)" "entries listed (bob, x|y, gone)"
ctl suppress del gone@example.net >/dev/null || pm_fail "suppress del"
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key sup "other.example" "gone@example.net")")" "entry removed"
# an entry in the layout of earlier versions moves to its sender's company
pm_rcli SET "$(PM_LAYOUT=1 pm_key base)sup:old|pipe@example.net" "1700000000|5.1.1|a|b@other.example" EX 1000 >/dev/null
pm_rcli SET "$(PM_LAYOUT=1 pm_key base)sup:adm@example.net" "1700000000|5.1.2|admin:root" EX 1000 >/dev/null
out=$(ctl suppress migrate) || pm_fail "suppress migrate: $out"
pm_assert_eq "moved 2 entries to the lists of their companies" "$out" "migrate output"
pm_assert_eq "1700000000 5.1.1 a|b@other.example" \
    "$(pm_rcli HMGET "$(pm_key sup "other.example" "old|pipe@example.net")" at status sender | tr '\n' ' ' | sed 's/ $//')" \
    "a migrated entry"
for d in example.com other.example; do
    pm_assert_eq 1 "$(pm_rcli EXISTS "$(pm_key sup "$d" "adm@example.net")")" "admin entry for $d"
done
pm_assert_eq 0 "$(pm_rcli --scan --pattern "$(PM_LAYOUT=1 pm_key base)sup:*" | wc -l)" "old entries left"
exit 0
