#!/bin/bash
# notice_smtp.sh - the notices submitted by SMTP (notify.smtp, milter/notice_smtp.c),
# driven through tests/tools/noticecli (the module's real code path).
#
#   (a) with notify.smtp = "127.0.0.1:$PM_SMTP_PORT" (a private Postfix's smtpd,
#       relaying from 127.0.0.1 by permit_mynetworks to an smtp-sink) the admin
#       notice and the sender's notice arrive from the null sender, with the
#       exact text the sendmail path writes; a message with lines starting with
#       "." (one is "." alone) arrives intact (dot-stuffing); postmeter, that
#       smtpd's milter, lets them through unmetered (the null sender);
#   (b) failures are logged with the server's reply and counted: a closed port,
#       a server that accepts and never answers (cut at timeout_seconds), one
#       answering 554 at connect, one answering 550 to every RCPT; one refusing
#       one of two administrators still delivers to the other, and says so;
#   (c) no_new_privs: under `setpriv --no-new-privs` the notifier logs the line
#       and sends by SMTP to 127.0.0.1:25; without it the sendmail path is kept;
#   (d) bad notify.smtp values are refused with file:line;
#   (e) the digest by SMTP: alice goes over her plan (1 message per hour)
#       through that Postfix, the meter script records her refusal; the digest
#       of the day, sent to a port nobody listens on, fails and gives up its
#       claim; sent again, it reaches the sink through the smtpd with that row;
#   (f) the daemon itself under no_new_privs logs the line once at start, and
#       again at a reload only when its choice changes.
#
# SPDX-License-Identifier: BSD-2-Clause

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"
. "$here/../lib/notice.sh"

cli=$top_builddir/tests/tools/noticecli
pm_need postfix smtp-sink python3 setpriv redis-cli "$cli" "$top_builddir/postmeter"

pm_redis_start
pm_write_conf "$PM_TMP/postmeter.conf" <<EOF
plans: { default: { messages_per_hour = 1; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; }; };
EOF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"

# Write the notices' config $1 with notify settings from stdin.
notice_conf() {
    {
        echo 'timezone = "UTC";'
        echo 'local_domains = [ "example.com" ];' # the senders notify.sender may tell
        echo "notify = {"
        cat
        echo "};"
    } | pm_write_conf "$1"
}

# Run noticecli incident with config $1 (and the command before it, $PM_WRAP); output to $2.
incident() {
    ${PM_WRAP:-} "$cli" -c "$1" incident alice@example.com burst \
        "41 messages in 10 minutes; usual 2.0 per 10 minutes; floor 30, x10" held 3 \
        "4XyZ1 4XyZ2 4XyZ3" $'leaked\r\nBcc: evil@example.net' 1796000000 >"$2" 2>"$2.log" ||
        pm_fail "noticecli failed (exit $?): $(cat "$2" "$2.log")"
}

# The counters line of kind $1, result $2 in output $3.
counter() {
    sed -n "s/^postmeter_notices_total{kind=\"$1\",result=\"$2\"} //p" "$3"
}

# Assert the counters of output $1: "admin=S/F sender=S/F", then $3 the digest's
# ("digest=0/0" unless given; the webhook's are 0/0).
counters_are() {
    local got="" k
    for k in admin sender webhook digest; do
        got+="$k=$(counter $k sent "$1")/$(counter $k failed "$1") "
    done
    pm_assert_eq "$2 webhook=0/0 ${3:-digest=0/0}" "${got% }" "notice counters of $1 (log: $(cat "$1.log"))"
}

# Assert the log of output $1 holds exactly the line $2.
logged() {
    grep -qxF -- "$2" "$1.log" || pm_fail "no log line '$2' in: $(cat "$1.log")"
}

# A fake SMTP server on 127.0.0.1:$1 in mode $2 (silent: accept, never answer;
# busy: 554 at connect; rcpt550: 550 to every RCPT; rcpt1: 550 to postmaster@,
# 250 to the others, then take the message). Sets FAKE_PID.
fake_start() {
    python3 - "$1" "$2" <<'PY' &
import socket, sys
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
def serve(c):
    f = c.makefile("rwb")
    def say(t):
        f.write(t.encode() + b"\r\n"); f.flush()
    if mode == "busy":
        say("554-5.3.2 fake.test busy"); say("554 5.3.2 try later"); return
    say("220 fake.test ESMTP")
    for line in f:
        cmd = line.decode().strip().upper()
        if cmd.startswith("EHLO"):
            say("250-fake.test"); say("250-PIPELINING"); say("250 8BITMIME")
        elif cmd.startswith("MAIL"):
            say("250 2.1.0 Ok")
        elif cmd.startswith("RCPT"):
            if mode == "rcpt550" or "POSTMASTER@" in cmd:
                say("550 5.1.1 <%s>: Recipient address rejected: no such user" % cmd[9:-1].lower())
            else:
                say("250 2.1.5 Ok")
        elif cmd == "DATA":
            say("354 go ahead")
            for l in f:
                if l == b".\r\n":
                    break
            say("250 2.0.0 Ok: queued as FAKE1")
        elif cmd == "QUIT":
            say("221 2.0.0 Bye"); break
        else:
            say("502 5.5.2 what")
held = []
while True:
    c, _ = s.accept()
    if mode == "silent":
        held.append(c); continue
    try:
        serve(c)
    except OSError:  # the readiness probe connects and closes
        pass
    c.close()
PY
    FAKE_PID=$!
    pm_on_exit "kill $FAKE_PID 2>/dev/null"
    pm_wait_port "$1" || pm_fail "the fake SMTP server is not listening on $1"
}

# --- (a) the notices through Postfix's smtpd --------------------------------------
notice_conf "$PM_TMP/a.conf" <<EOF
  admin = [ "postmaster@example.net", "ops@example.net" ];
  sender = true;
  from = "postmeter@mx.postmeter.test";
  sendmail = "$PM_TMP/no-such-sendmail";
  smtp = "127.0.0.1:$PM_SMTP_PORT";
EOF
incident "$PM_TMP/a.conf" "$PM_TMP/a.out"
counters_are "$PM_TMP/a.out" "admin=1/0 sender=1/0"
logged "$PM_TMP/a.out" 'postmeter: notice: admin notice of alice@example.com (burst) sent'
logged "$PM_TMP/a.out" 'postmeter: notice: sender notice of alice@example.com (burst) sent'
pm_sink_expect 2 "messages at the sink (the admin's, the sender's)"
pm_notice_check_pair
# An envelope sender outside local_domains may be anyone's: no sender notice.
"$cli" -c "$PM_TMP/a.conf" incident mallory@example.org burst "41 messages in 10 minutes" held 1 \
    "4XyZ9" "" 1796000000 >"$PM_TMP/a2.out" 2>"$PM_TMP/a2.out.log" ||
    pm_fail "noticecli failed: $(cat "$PM_TMP/a2.out" "$PM_TMP/a2.out.log")"
counters_are "$PM_TMP/a2.out" "admin=1/0 sender=0/0"
logged "$PM_TMP/a2.out" 'postmeter: notice: no sender notice of mallory@example.org (burst): its domain is not one of local_domains'
pm_sink_expect 3 "messages at the sink with mallory's admin notice"
# it came through the smtpd, from 127.0.0.1
grep -qE '^Received: from [^ ]+ \([^ ]+ \[127\.0\.0\.1\]\)$' "$PM_TMP/admin.eml" ||
    pm_fail "the admin notice did not come through the smtpd from 127.0.0.1: $(cat "$PM_TMP/admin.eml")"

# Dot-stuffing: lines that start with "." (one is "." alone) arrive as written.
printf 'From: postmeter <postmeter@mx.postmeter.test>\nTo: postmaster@example.net\nSubject: dots\n\nfirst\n.\n..two\n.three\nlast\n' \
    >"$PM_TMP/dots.eml"
pm_assert_eq "rc=0" "$("$cli" -c "$PM_TMP/a.conf" send "$PM_TMP/dots.eml" postmaster@example.net)" \
    "the message with dots, submitted"
pm_sink_expect 4 "messages at the sink with the dots"
dots=$(grep -l '^Subject: dots' "$PM_SINK_DIR"/*) || pm_fail "no message with dots at the sink"
pm_assert_eq "first
.
..two
.three
last" "$(tr -d '\r' <"$dots" | sed '1,/^$/d')" "the body with dots at the sink"

# --- (b) failures: logged with the server's reply, counted --------------------------
dead_port=$(pm_free_port)
notice_conf "$PM_TMP/b1.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sender = true;
  smtp = "127.0.0.1:$dead_port";
EOF
incident "$PM_TMP/b1.conf" "$PM_TMP/b1.out"
counters_are "$PM_TMP/b1.out" "admin=0/1 sender=0/1"
logged "$PM_TMP/b1.out" "postmeter: notice: admin notice of alice@example.com (burst) failed: SMTP to 127.0.0.1:$dead_port: cannot connect: Connection refused"
logged "$PM_TMP/b1.out" "postmeter: notice: sender notice of alice@example.com (burst) failed: SMTP to 127.0.0.1:$dead_port: cannot connect: Connection refused"

silent_port=$(pm_free_port)
fake_start "$silent_port" silent
notice_conf "$PM_TMP/b2.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  smtp = "127.0.0.1:$silent_port";
  timeout_seconds = 1;
EOF
start=$(date +%s%N)
incident "$PM_TMP/b2.conf" "$PM_TMP/b2.out"
took=$((($(date +%s%N) - start) / 1000000))
counters_are "$PM_TMP/b2.out" "admin=0/1 sender=0/0"
logged "$PM_TMP/b2.out" "postmeter: notice: admin notice of alice@example.com (burst) failed: SMTP to 127.0.0.1:$silent_port: greeting: no reply within 1 s"
[ "$took" -ge 1000 ] && [ "$took" -lt 3000 ] || pm_fail "the silent server should be cut after 1 s, took $took ms"
kill "$FAKE_PID" 2>/dev/null

busy_port=$(pm_free_port)
fake_start "$busy_port" busy
notice_conf "$PM_TMP/b3.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  smtp = "127.0.0.1:$busy_port";
EOF
incident "$PM_TMP/b3.conf" "$PM_TMP/b3.out"
counters_are "$PM_TMP/b3.out" "admin=0/1 sender=0/0"
logged "$PM_TMP/b3.out" "postmeter: notice: admin notice of alice@example.com (burst) failed: SMTP to 127.0.0.1:$busy_port: greeting: 554-5.3.2 fake.test busy / 554 5.3.2 try later"
kill "$FAKE_PID" 2>/dev/null

rcpt_port=$(pm_free_port)
fake_start "$rcpt_port" rcpt550
notice_conf "$PM_TMP/b4.conf" <<EOF
  admin = [ "postmaster@example.net", "ops@example.net" ];
  smtp = "127.0.0.1:$rcpt_port";
EOF
incident "$PM_TMP/b4.conf" "$PM_TMP/b4.out"
counters_are "$PM_TMP/b4.out" "admin=0/1 sender=0/0"
logged "$PM_TMP/b4.out" "postmeter: notice: admin notice of alice@example.com (burst) failed: SMTP to 127.0.0.1:$rcpt_port: no recipient accepted: <postmaster@example.net>: 550 5.1.1 <postmaster@example.net>: Recipient address rejected: no such user; <ops@example.net>: 550 5.1.1 <ops@example.net>: Recipient address rejected: no such user"
kill "$FAKE_PID" 2>/dev/null

one_port=$(pm_free_port)
fake_start "$one_port" rcpt1
notice_conf "$PM_TMP/b5.conf" <<EOF
  admin = [ "postmaster@example.net", "ops@example.net" ];
  smtp = "127.0.0.1:$one_port";
EOF
incident "$PM_TMP/b5.conf" "$PM_TMP/b5.out"
counters_are "$PM_TMP/b5.out" "admin=1/0 sender=0/0"
logged "$PM_TMP/b5.out" "postmeter: notice: admin notice of alice@example.com (burst) sent"
logged "$PM_TMP/b5.out" "postmeter: notice: admin notice of alice@example.com (burst): SMTP to 127.0.0.1:$one_port: recipients refused: <postmaster@example.net>: 550 5.1.1 <postmaster@example.net>: Recipient address rejected: no such user"
kill "$FAKE_PID" 2>/dev/null

# --- (c) no_new_privs: sendmail cannot queue, the notices go by SMTP to 127.0.0.1:25 ---
nnp_line="postmeter: notices: no_new_privs is set (systemd NoNewPrivileges=): Postfix's sendmail cannot queue mail (postdrop is set-group-id); notices go by SMTP to 127.0.0.1:25 (set notify.smtp to choose)"
notice_conf "$PM_TMP/c.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/no-such-sendmail";
  timeout_seconds = 2;
EOF
incident "$PM_TMP/c.conf" "$PM_TMP/c1.out" # without no_new_privs: sendmail, as configured
counters_are "$PM_TMP/c1.out" "admin=0/1 sender=0/0"
logged "$PM_TMP/c1.out" "postmeter: notice: admin notice of alice@example.com (burst) failed: cannot run $PM_TMP/no-such-sendmail"
grep -qF "no_new_privs" "$PM_TMP/c1.out.log" && pm_fail "no_new_privs logged without it: $(cat "$PM_TMP/c1.out.log")"
PM_WRAP="setpriv --no-new-privs" incident "$PM_TMP/c.conf" "$PM_TMP/c2.out"
pm_assert_eq 1 "$(grep -cxF "$nnp_line" "$PM_TMP/c2.out.log")" "the no_new_privs line, once (log: $(cat "$PM_TMP/c2.out.log"))"
# Whatever listens on port 25 here (nothing, or a Postfix), the notice went by SMTP to it:
# the configured sendmail does not exist.
if grep -qxF "postmeter: notice: admin notice of alice@example.com (burst) sent" "$PM_TMP/c2.out.log"; then
    counters_are "$PM_TMP/c2.out" "admin=1/0 sender=0/0"
else
    counters_are "$PM_TMP/c2.out" "admin=0/1 sender=0/0"
    grep -qE "^postmeter: notice: admin notice of alice@example\.com \(burst\) failed: SMTP to 127\.0\.0\.1:25: " \
        "$PM_TMP/c2.out.log" || pm_fail "the notice did not go to 127.0.0.1:25: $(cat "$PM_TMP/c2.out.log")"
fi
# notify.smtp set: it is used, and nothing about no_new_privs is logged.
notice_conf "$PM_TMP/c3.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/no-such-sendmail";
  smtp = "127.0.0.1:$PM_SMTP_PORT";
EOF
PM_WRAP="setpriv --no-new-privs" incident "$PM_TMP/c3.conf" "$PM_TMP/c3.out"
counters_are "$PM_TMP/c3.out" "admin=1/0 sender=0/0"
grep -qF "no_new_privs" "$PM_TMP/c3.out.log" && pm_fail "no_new_privs logged with notify.smtp set"
pm_sink_expect 5 "messages at the sink after the notice under no_new_privs"

# --- (d) bad values are refused with file:line ------------------------------------
check() {
    printf '%s\n' "$2" >"$PM_TMP/bad.conf"
    pm_assert_eq "$1" "$("$top_builddir/postmeter" -n -c "$PM_TMP/bad.conf" 2>&1)" "postmeter -n on: $2"
}
f=$PM_TMP/bad.conf
for v in "localhost:25" "127.0.0.1" "127.0.0.1:0" "127.0.0.1:65536" "::1:25" "[::1]25" "[127.0.0.1]:25" \
    "127.0.0.1:25x" "[::1]:"; do
    check "$f:1: notify.smtp: \"$v\" must be an IP address and a port, like 127.0.0.1:25 or [::1]:25" \
        "notify = { smtp = \"$v\"; };"
done
printf 'user = "";\nnotify = { smtp = "[::1]:587"; };\n' >"$PM_TMP/good.conf"
"$top_builddir/postmeter" -n -c "$PM_TMP/good.conf" >"$PM_TMP/good.out" 2>&1 ||
    pm_fail "postmeter -n refused [::1]:587: $(cat "$PM_TMP/good.out")"

# --- (e) the digest by SMTP: a refusal through the milter, the day's digest ---------
today=$(($(pm_rcli TIME | head -n 1) / 86400))
replies=$(for i in 1 2; do pm_swaks_send alice@example.com "d$i@example.org" --h-Subject "d$i"; done)
pm_assert_eq "250 2.0.0 Ok: queued as
451 4.7.1" "$(sed -E 's/^(250 2\.0\.0 Ok: queued as|451 4\.7\.1) .*/\1/' <<<"$replies")" \
    "alice's two messages under a plan of 1 per hour"
pm_assert_eq 1 "$(pm_rcli HGET "$(pm_key company example.com "hits:$today")" 'alice@example.com|messages_per_hour')" \
    "alice's refusal in the day's record"
pm_sink_expect 6 "messages at the sink with alice's first"
# (the digest reads the companies of the registry: announced about a second after the mail)
pm_wait_registry example.com || pm_fail "example.com not in the company registry"
# A digest that cannot be sent (nothing listens on the port) gives up its
# claim: the next try, here or on another server, may send it.
closed=$(pm_free_port)
notice_conf "$PM_TMP/e0.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/no-such-sendmail";
  smtp = "127.0.0.1:$closed";
EOF
"$cli" -c "$PM_TMP/e0.conf" digest "$today" >"$PM_TMP/e0.out" 2>"$PM_TMP/e0.out.log" ||
    pm_fail "noticecli digest failed: $(cat "$PM_TMP/e0.out" "$PM_TMP/e0.out.log")"
counters_are "$PM_TMP/e0.out" "admin=0/0 sender=0/0" digest=0/1
grep -q "^postmeter: notice: digest of day $today failed: " "$PM_TMP/e0.out.log" ||
    pm_fail "no failed digest line: $(cat "$PM_TMP/e0.out.log")"
pm_assert_eq 0 "$(pm_rcli EXISTS "$(pm_key global digest:$today)")" "the failed digest's claim"
notice_conf "$PM_TMP/e.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/no-such-sendmail";
  smtp = "127.0.0.1:$PM_SMTP_PORT";
EOF
"$cli" -c "$PM_TMP/e.conf" digest "$today" >"$PM_TMP/e.out" 2>"$PM_TMP/e.out.log" ||
    pm_fail "noticecli digest failed: $(cat "$PM_TMP/e.out" "$PM_TMP/e.out.log")"
counters_are "$PM_TMP/e.out" "admin=0/0 sender=0/0" digest=1/0
logged "$PM_TMP/e.out" "postmeter: notice: digest of day $today sent to 1 address: 1 rows"
pm_sink_expect 7 "messages at the sink with the digest"
date=$(date -u -d "@$((today * 86400))" +%F)
digest=$(grep -l "^Subject: postmeter: daily digest of $date (UTC): 1 refusals" "$PM_SINK_DIR"/*) ||
    pm_fail "no digest at the sink: $(grep -h '^Subject:' "$PM_SINK_DIR"/*)"
pm_assert_eq "X-Mail-Args: <> BODY=8BITMIME" "$(tr -d '\r' <"$digest" | grep '^X-Mail-Args:')" \
    "the digest's envelope sender"
printf "%s\n" "$(tr -d '\r' <"$digest" | sed '1,/^$/d')" >"$PM_TMP/daily.body" # the sink adds a blank line
cat >"$PM_TMP/daily.want" <<EOF
Refusals on $date (UTC), by sender and limit: 1, 1 sender and limit.

sender                                   limit                     refusals
alice@example.com                        messages_per_hour                1

See a sender's use of its limits with: postmeterctl status SENDER
EOF
diff -u "$PM_TMP/daily.want" "$PM_TMP/daily.body" >&2 || pm_fail "the daily digest's text differs"
# The milter saw the notices and the digest (null sender) and metered none of them:
# the only per-sender keys are alice's.
pm_assert_eq "" "$(pm_rcli --scan --pattern "$(pm_key base)*:s:*" | grep -vF ":s:alice@example.com:")" \
    "per-sender keys of others than alice"

# --- (f) the daemon under no_new_privs: the line once at start, at a reload only when
# the choice changes (notify.smtp set, then "" again) --------------------------------
daemon_conf() { # $1: the notify group's smtp line, or nothing
    PM_MILTER_SOCKET="unix:$PM_TMP/nnp.sock" notice_conf "$PM_TMP/f.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  $1
EOF
}
nnp_count() {
    grep -cF "notices: no_new_privs is set (systemd NoNewPrivileges=): Postfix's sendmail cannot queue mail (postdrop is set-group-id); notices go by SMTP to 127.0.0.1:25 (set notify.smtp to choose)" \
        "$PM_TMP/f.log"
}
# Send SIGHUP and wait (bounded) for one more "reloaded" line.
reload() {
    local before
    before=$(grep -c "reloaded $PM_TMP/f.conf" "$PM_TMP/f.log")
    kill -HUP "$FPID"
    for _ in $(seq 1 100); do
        [ "$(grep -c "reloaded $PM_TMP/f.conf" "$PM_TMP/f.log")" -gt "$before" ] && return 0
        sleep 0.05
    done
    pm_fail "no reload: $(tail -n 5 "$PM_TMP/f.log")"
}
daemon_conf ""
setpriv --no-new-privs "$top_builddir/postmeter" -c "$PM_TMP/f.conf" -f >"$PM_TMP/f.log" 2>&1 </dev/null &
FPID=$!
pm_on_exit "kill $FPID 2>/dev/null"
pm_wait_file "$PM_TMP/nnp.sock" 200 || pm_fail "postmeter under no_new_privs did not start: $(cat "$PM_TMP/f.log")"
pm_wait_grep "no_new_privs is set" "$PM_TMP/f.log" || pm_fail "no no_new_privs line: $(cat "$PM_TMP/f.log")"
pm_assert_eq 1 "$(nnp_count)" "the no_new_privs line at the daemon's start"
reload
pm_assert_eq 1 "$(nnp_count)" "the no_new_privs line after a reload that changes nothing"
daemon_conf "smtp = \"127.0.0.1:$PM_SMTP_PORT\";"
reload
pm_assert_eq 1 "$(nnp_count)" "the no_new_privs line after a reload that sets notify.smtp"
daemon_conf ""
reload
pm_assert_eq 2 "$(nnp_count)" "the no_new_privs line after a reload back to \"\""
kill -TERM "$FPID"
wait "$FPID" 2>/dev/null

echo "PASS: notice_smtp"
