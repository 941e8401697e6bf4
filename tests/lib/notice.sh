#!/bin/bash
# notice.sh - the checks of an incident's two notices at the sink, whichever
# way they went to Postfix (sendmail or SMTP): source it after postfix.sh.
#
# SPDX-License-Identifier: BSD-2-Clause

# The admin's and the sender's notice of tests/tools/noticecli's incident
# (alice@example.com, burst, 3 held, a note with CR/LF, to postmaster@ and
# ops@example.net) in the sink: envelope, headers and bodies exactly. Leaves
# them, without CRs, in $PM_TMP/admin.eml and $PM_TMP/sender.eml.
pm_notice_check_pair() {
    local admin sender
    admin=$(grep -l '^Subject: postmeter: outgoing mail' "$PM_SINK_DIR"/* | head -n 1)
    sender=$(grep -l '^Subject: Your outgoing mail is held' "$PM_SINK_DIR"/* | head -n 1)
    [ -n "$admin" ] && [ -n "$sender" ] || pm_fail "the sink lacks a notice: $(cat "$PM_SINK_DIR"/*)"
    tr -d '\r' <"$admin" >"$PM_TMP/admin.eml"
    tr -d '\r' <"$sender" >"$PM_TMP/sender.eml"
    # The envelope: the null sender, the two administrators.
    pm_assert_eq "X-Mail-Args: <> BODY=8BITMIME" "$(grep '^X-Mail-Args:' "$PM_TMP/admin.eml")" \
        "the admin notice's envelope sender"
    pm_assert_eq "<ops@example.net> <postmaster@example.net>" \
        "$(sed -n 's/^X-Rcpt-Args: \([^ ]*\) .*/\1/p' "$PM_TMP/admin.eml" | sort | tr '\n' ' ' | sed 's/ $//')" \
        "the admin notice's recipients"
    # The headers the notice was written with (Postfix adds Received: and its own).
    for h in 'From: postmeter <postmeter@mx.postmeter.test>' 'To: postmaster@example.net,' \
        '    ops@example.net' 'Subject: postmeter: outgoing mail of alice@example.com held: burst' \
        'Auto-Submitted: auto-generated' 'MIME-Version: 1.0' \
        'Content-Type: text/plain; charset=utf-8' 'Content-Transfer-Encoding: 8bit'; do
        grep -qxF -- "$h" "$PM_TMP/admin.eml" || pm_fail "the admin notice lacks '$h': $(cat "$PM_TMP/admin.eml")"
    done
    grep -qE '^Message-ID: <postmeter\.[0-9]+\.[0-9]+\.[0-9]+@' "$PM_TMP/admin.eml" ||
        pm_fail "the admin notice has no Message-ID of postmeter's"
    grep -qE '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} [0-9:]{8} \+0000$' "$PM_TMP/admin.eml" ||
        pm_fail "the admin notice has no Date"
    grep -qi '^Bcc:' "$PM_TMP/admin.eml" && pm_fail "the note added a header: $(cat "$PM_TMP/admin.eml")"
    # The body, exactly.
    printf "%s\n" "$(sed "1,/^$/d" "$PM_TMP/admin.eml")" >"$PM_TMP/admin.body" # the sink adds a blank line
    cat >"$PM_TMP/admin.want" <<'EOF'
<alice@example.com>: outgoing mail held since 2026-11-30 00:53 UTC: burst (41 messages in 10 minutes; usual 2.0 per 10 minutes; floor 30, x10)

Opened by postmeter. Note: leaked  Bcc: evil@example.net
Its mail goes to Postfix's hold queue: nothing is lost, and nothing
leaves until the incident is released.
Messages held so far: 3 (queue ids: 4XyZ1 4XyZ2 4XyZ3)

If the mailbox may have been taken over, change the mailbox's password
first. Then, on each mail server:

  postmeterctl incident show alice@example.com
  postmeterctl incident release alice@example.com --requeue
      (the mail is legitimate: send it)
  postmeterctl incident release alice@example.com --drop
      (the mail is spam: delete it)
EOF
    diff -u "$PM_TMP/admin.want" "$PM_TMP/admin.body" >&2 || pm_fail "the admin notice's text differs"
    pm_assert_eq "<alice@example.com>" "$(sed -n 's/^X-Rcpt-Args: \([^ ]*\) .*/\1/p' "$PM_TMP/sender.eml")" \
        "the sender notice's recipient"
    pm_assert_eq "X-Mail-Args: <> BODY=8BITMIME" "$(grep '^X-Mail-Args:' "$PM_TMP/sender.eml")" \
        "the sender notice's envelope sender"
    printf "%s\n" "$(sed "1,/^$/d" "$PM_TMP/sender.eml")" >"$PM_TMP/sender.body"
    cat >"$PM_TMP/sender.want" <<'EOF'
<alice@example.com>: your outgoing mail is held since 2026-11-30 00:53 UTC: burst (41 messages in 10 minutes; usual 2.0 per 10 minutes; floor 30, x10)

What you send now is kept on the mail server and not delivered until
an administrator has looked at it.
If you did not send this mail, someone else may know your password.

Please contact your administrator:
  postmaster@example.net
  ops@example.net
EOF
    diff -u "$PM_TMP/sender.want" "$PM_TMP/sender.body" >&2 || pm_fail "the sender notice's text differs"
    grep -qxF 'Auto-Submitted: auto-generated' "$PM_TMP/sender.eml" || pm_fail "the sender notice is not auto-generated"
}
