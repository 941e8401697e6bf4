#!/bin/bash
# notice_e2e.sh - the notices of an incident, end to end (milter/notice*.c,
# driven through tests/tools/noticecli: the module's real code path).
#
# A private Postfix (with postmeter as its milter, smtpd and non_smtpd) relays
# to an smtp-sink; a one-shot HTTP listener on 127.0.0.1 takes the webhook:
#   (a) an incident's admin notice, through that Postfix's real sendmail
#       (-C its config directory), reaches the sink from the null sender,
#       with the exact headers and text; the sender's notice too; the webhook
#       gets the exact JSON; a note with CR/LF cannot add a header; the
#       counters say admin, sender and webhook sent once; queuing took no time;
#   (b) the notices pass through postmeter's own milter unmetered: three in a
#       row under a plan of 1 message per hour all arrive, and postmeter's own
#       bounce parser does not take a notice for a bounce;
#   (c) failures are logged and counted, and queuing still returns at once: a
#       missing sendmail, one that exits 1, one that hangs (killed after
#       timeout_seconds), a webhook on a closed port, one that accepts and never
#       answers (cut at webhook_timeout_ms); a flood beyond the queue's bound;
#   (d) the digest: of two racing servers exactly one claims a day, the claim
#       lives 3 days; a day without refusals sends nothing; the daemon's own
#       notifier claims yesterday's digest from its serving child; the digest's
#       text from rows (sorted, "and N more");
#   (e) bad notify values are refused with file:line.
#   (f) the digest end to end: alice goes over her plan (1 message per hour)
#       through that Postfix, the meter script records her 2 refusals, and
#       once the store's clock is a day on, the restarted daemon's notifier
#       mails the administrator the digest with exactly that row.
#
# SPDX-License-Identifier: BSD-2-Clause

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/common.sh"
. "$here/../lib/postfix.sh"
. "$here/../lib/notice.sh"

cli=$top_builddir/tests/tools/noticecli
pm_need postfix smtp-sink python3 redis-cli curl "$cli" "$top_builddir/postmeter"

pm_redis_start
metrics_port=$(pm_free_port)
# the daemon gives its socket Postfix's group itself: its notifier sends the
# digest through Postfix (and its milter) as soon as it starts (f)
PM_MILTER_EXTRA='socket_group = "postfix";' pm_write_conf "$PM_TMP/postmeter.conf" <<EOF
metrics: { listen = "127.0.0.1:$metrics_port"; };
notify: { admin = [ "postmaster@example.net" ]; digest = true; digest_hour = 0;
          postfix_config_dir = "$PM_TMP/postfix/etc"; };
plans: { default: { messages_per_hour = 1; messages_per_day = 0; recipients_per_day = 0;
                    warmup = []; }; };
log: { level = "debug"; };
EOF
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_sink_start
pm_postfix_start "unix:$PM_TMP/postmeter.sock"

# A one-shot HTTP listener: $1 port, $2 mode (answer: reply 204 and keep the
# body in $PM_TMP/hook.body; silent: accept and never answer). Sets HOOK_PID.
hook_start() {
    python3 - "$1" "$2" "$PM_TMP/hook.body" <<'PY' &
import socket, sys, time
port, mode, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8); s.settimeout(60)
held = []
while True:  # the readiness probe connects and closes: wait for a request
    c, _ = s.accept(); c.settimeout(30)
    if mode == "silent":
        held.append(c); continue
    data = c.recv(4096)
    if data.strip():
        break
    c.close()
while b"\r\n\r\n" not in data:
    data += c.recv(4096)
head, body = data.split(b"\r\n\r\n", 1)
n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
while len(body) < n:
    body += c.recv(4096)
open(out, "wb").write(head.split(b"\r\n")[0] + b"\n" + body + b"\n")
c.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
c.close()
PY
    HOOK_PID=$!
    pm_on_exit "kill $HOOK_PID 2>/dev/null"
    pm_wait_port "$1" || pm_fail "the HTTP listener is not listening on $1"
}

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

# Run noticecli incident with config $1 for incident "alice@example.com burst ..."; output to $2.
incident() {
    "$cli" -c "$1" incident alice@example.com burst \
        "41 messages in 10 minutes; usual 2.0 per 10 minutes; floor 30, x10" held 3 \
        "4XyZ1 4XyZ2 4XyZ3" $'leaked\r\nBcc: evil@example.net' 1796000000 >"$2" 2>"$2.log" ||
        pm_fail "noticecli failed (exit $?): $(cat "$2" "$2.log")"
}

# The counters line of kind $1, result $2 in output $3.
counter() {
    sed -n "s/^postmeter_notices_total{kind=\"$1\",result=\"$2\"} //p" "$3"
}

# Assert the four kinds' sent/failed counters of output $1: admin sender webhook digest, each s/f.
counters_are() {
    local out=$1 got="" k
    shift
    for k in admin sender webhook digest; do
        got+="$k=$(counter $k sent "$out")/$(counter $k failed "$out") "
    done
    pm_assert_eq "$*" "${got% }" "notice counters of $out (log: $(cat "$out.log"))"
}

# Assert that queuing took at most 50 ms in output $1.
queued_at_once() {
    local ms
    ms=$(sed -n 's/^queued_ms=//p' "$1")
    [ -n "$ms" ] && [ "$ms" -le 50 ] || pm_fail "queuing the incident took ${ms:-?} ms ($1)"
}

# --- (a) the admin notice, the sender's notice and the webhook ---------------------
hook_port=$(pm_free_port)
hook_start "$hook_port" answer
notice_conf "$PM_TMP/a.conf" <<EOF
  admin = [ "postmaster@example.net", "ops@example.net" ];
  sender = true;
  from = "postmeter@mx.postmeter.test";
  postfix_config_dir = "$PM_PF_DIR/etc";
  webhook_url = "http://127.0.0.1:$hook_port/hook";
EOF
incident "$PM_TMP/a.conf" "$PM_TMP/a.out"
queued_at_once "$PM_TMP/a.out"
counters_are "$PM_TMP/a.out" admin=1/0 sender=1/0 webhook=1/0 digest=0/0
pm_assert_eq 3 "$(grep -c '^postmeter: notice: .* sent$' "$PM_TMP/a.out.log")" "log lines of sent notices"
grep -qx 'postmeter: notice: admin notice of alice@example.com (burst) sent' "$PM_TMP/a.out.log" ||
    pm_fail "no log line of the admin notice: $(cat "$PM_TMP/a.out.log")"
pm_sink_expect 2 "messages at the sink (the admin's, the sender's)"

pm_notice_check_pair
wait "$HOOK_PID" 2>/dev/null
pm_assert_eq 'POST /hook HTTP/1.1
{"sender":"alice@example.com","signal":"burst","figures":"41 messages in 10 minutes; usual 2.0 per 10 minutes; floor 30, x10","at":1796000000,"action":"held","held":3,"ids":["4XyZ1","4XyZ2","4XyZ3"],"by":"postmeter","note":"leaked\u000d\nBcc: evil@example.net"}' \
    "$(cat "$PM_TMP/hook.body")" "the webhook's request"

# --- (b) the notices are not metered; they are not bounces ---------------------------
notice_conf "$PM_TMP/b.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  from = "postmeter@mx.postmeter.test";
  postfix_config_dir = "$PM_PF_DIR/etc";
EOF
for i in 1 2 3; do
    incident "$PM_TMP/b.conf" "$PM_TMP/b$i.out"
    counters_are "$PM_TMP/b$i.out" admin=1/0 sender=0/0 webhook=0/0 digest=0/0
done
pm_sink_expect 5 "messages at the sink after three more admin notices (plan: 1 per hour)"
# postmeter's milter saw the five notices as outgoing mail, and decided nothing on them.
curl -s "http://127.0.0.1:$metrics_port/metrics" >"$PM_TMP/metrics.txt" || pm_fail "no metrics"
pm_assert_eq 'postmeter_messages_total{direction="outgoing"} 5' \
    "$(grep '^postmeter_messages_total{direction="outgoing"}' "$PM_TMP/metrics.txt")" \
    "notices the milter saw"
pm_assert_eq "" "$(grep '^postmeter_decisions_total{' "$PM_TMP/metrics.txt")" "decisions on notices"
# The endpoint shows the notices' counters (this daemon sent none: noticecli did).
pm_assert_eq 'postmeter_notices_total{kind="admin",result="sent"} 0
postmeter_notices_total{kind="admin",result="failed"} 0
postmeter_notices_total{kind="sender",result="sent"} 0
postmeter_notices_total{kind="sender",result="failed"} 0
postmeter_notices_total{kind="webhook",result="sent"} 0
postmeter_notices_total{kind="webhook",result="failed"} 0
postmeter_notices_total{kind="digest",result="sent"} 0
postmeter_notices_total{kind="digest",result="failed"} 0' \
    "$(grep '^postmeter_notices_total{' "$PM_TMP/metrics.txt")" "the notices' counters on the endpoint"
pm_assert_eq "0" "$(pm_rcli --scan --pattern "$(pm_key base)*:s:*" | wc -l)" "per-sender keys written for notices"
pm_assert_eq "is_bounce=0 is_auto=1" "$("$cli" -c "$PM_TMP/a.conf" bounce alice@example.com burst \
    "41 messages in 10 minutes" held 3 "4XyZ1" "" 1796000000)" "postmeter's bounce parser on a notice"

# --- (c) failures: logged, counted, and queuing returns at once ----------------------
printf '#!/bin/sh\n: >"$0.started"\nexec sleep 30\n' >"$PM_TMP/hang.sh" # says when it started
chmod 755 "$PM_TMP/hang.sh"
dead_port=$(pm_free_port)
notice_conf "$PM_TMP/c1.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/no-such-sendmail";
  webhook_url = "http://127.0.0.1:$dead_port/hook";
EOF
incident "$PM_TMP/c1.conf" "$PM_TMP/c1.out"
queued_at_once "$PM_TMP/c1.out"
counters_are "$PM_TMP/c1.out" admin=0/1 sender=0/0 webhook=0/1 digest=0/0
grep -qxF "postmeter: notice: admin notice of alice@example.com (burst) failed: cannot run $PM_TMP/no-such-sendmail" \
    "$PM_TMP/c1.out.log" || pm_fail "no log line of the missing sendmail: $(cat "$PM_TMP/c1.out.log")"
grep -qE "^postmeter: notice: webhook of alice@example.com \(burst\) failed: .*(onnect|refused)" "$PM_TMP/c1.out.log" ||
    pm_fail "no log line of the closed port: $(cat "$PM_TMP/c1.out.log")"

notice_conf "$PM_TMP/c2.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "/bin/false";
EOF
incident "$PM_TMP/c2.conf" "$PM_TMP/c2.out"
counters_are "$PM_TMP/c2.out" admin=0/1 sender=0/0 webhook=0/0 digest=0/0
grep -qxF "postmeter: notice: admin notice of alice@example.com (burst) failed: /bin/false exited with status 1" \
    "$PM_TMP/c2.out.log" || pm_fail "no log line of the exit status: $(cat "$PM_TMP/c2.out.log")"

slow_port=$(pm_free_port)
hook_start "$slow_port" silent
notice_conf "$PM_TMP/c3.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/hang.sh";
  timeout_seconds = 1;
  webhook_url = "http://127.0.0.1:$slow_port/hook";
  webhook_timeout_ms = 500;
EOF
start=$(date +%s%N)
incident "$PM_TMP/c3.conf" "$PM_TMP/c3.out"
took=$((($(date +%s%N) - start) / 1000000))
queued_at_once "$PM_TMP/c3.out"
counters_are "$PM_TMP/c3.out" admin=0/1 sender=0/0 webhook=0/1 digest=0/0
grep -qxF "postmeter: notice: admin notice of alice@example.com (burst) failed: $PM_TMP/hang.sh killed after 1 s" \
    "$PM_TMP/c3.out.log" || pm_fail "no log line of the killed sendmail: $(cat "$PM_TMP/c3.out.log")"
grep -qE "^postmeter: notice: webhook of alice@example.com \(burst\) failed: Operation timed out after 5[0-9]{2} milliseconds with 0 bytes received$" "$PM_TMP/c3.out.log" ||
    pm_fail "no log line of the silent webhook: $(cat "$PM_TMP/c3.out.log")"
[ "$took" -ge 1400 ] && [ "$took" -lt 5000 ] ||
    pm_fail "sendmail (1 s) and the webhook (0.5 s) should take about 1.5 s, took $took ms"
kill "$HOOK_PID" 2>/dev/null

# A flood: the notifier busy with one (sendmail hangs), 64 wait, 5 are dropped at once;
# the stop drops the 64 and waits for the one (killed after 1 s).
notice_conf "$PM_TMP/c4.conf" <<EOF
  admin = [ "postmaster@example.net" ];
  sendmail = "$PM_TMP/hang.sh";
  timeout_seconds = 1;
EOF
rm -f "$PM_TMP/hang.sh.started"
NOTICECLI_BUSY=$PM_TMP/hang.sh.started "$cli" -c "$PM_TMP/c4.conf" flood 70 alice@example.com burst "41 messages" held 3 "" "" 1796000000 \
    >"$PM_TMP/c4.out" 2>"$PM_TMP/c4.out.log" || pm_fail "noticecli flood failed"
queued_at_once "$PM_TMP/c4.out"
counters_are "$PM_TMP/c4.out" admin=0/6 sender=0/0 webhook=0/0 digest=0/0
pm_assert_eq 5 "$(grep -cxF 'postmeter: notice: queue full (64 incidents): notices of alice@example.com (burst) dropped' \
    "$PM_TMP/c4.out.log")" "incidents dropped from a full queue"
grep -qxF 'postmeter: notice: stopping: the notices of 64 incidents were not sent' "$PM_TMP/c4.out.log" ||
    pm_fail "no log line of the stop: $(cat "$PM_TMP/c4.out.log")"

# --- (d) the digest: the election, and the text ------------------------------------
"$cli" -c "$PM_TMP/a.conf" elect 20500 mx1 >"$PM_TMP/e1" &
e1=$!
"$cli" -c "$PM_TMP/a.conf" elect 20500 mx2 >"$PM_TMP/e2" &
e2=$!
wait "$e1" "$e2"
pm_assert_eq "won=0 won=1" "$(cat "$PM_TMP/e1" "$PM_TMP/e2" | sort | tr '\n' ' ' | sed 's/ $//')" \
    "two racing servers claim one day's digest"
pm_assert_eq "won=1" "$("$cli" -c "$PM_TMP/a.conf" elect 20501 mx2)" "the next day is free"
pm_assert_eq "won=0" "$("$cli" -c "$PM_TMP/a.conf" elect 20501 mx1)" "the next day is claimed"
ttl=$(pm_rcli ttl "$(pm_key global digest:20500)")
[ "$ttl" -gt 259000 ] && [ "$ttl" -le 259200 ] || pm_fail "the claim lives $ttl s, not 3 days"

# A day nothing was refused on: claimed, no digest, nothing counted; claimed once only.
"$cli" -c "$PM_TMP/a.conf" digest 20400 >"$PM_TMP/d1.out" 2>"$PM_TMP/d1.out.log" || pm_fail "digest failed"
counters_are "$PM_TMP/d1.out" admin=0/0 sender=0/0 webhook=0/0 digest=0/0
grep -qxF "postmeter: notice: digest of day 20400: nothing was refused, no digest" "$PM_TMP/d1.out.log" ||
    pm_fail "no log line of the empty digest: $(cat "$PM_TMP/d1.out.log")"
"$cli" -c "$PM_TMP/a.conf" digest 20400 >"$PM_TMP/d2.out" 2>"$PM_TMP/d2.out.log" || pm_fail "digest failed"
grep -qxF "postmeter: notice: digest of day 20400: another server sends it" "$PM_TMP/d2.out.log" ||
    pm_fail "the second claim of a day was not refused: $(cat "$PM_TMP/d2.out.log")"
"$cli" -c "$PM_TMP/a.conf" digest-text 20500 bob@example.com messages_per_hour 4 \
    alice@example.com messages_per_day 12 carol@example.com warmup_day 4 >"$PM_TMP/digest.eml"
grep -qxF 'Subject: postmeter: daily digest of 2026-02-16 (UTC): 20 refusals' "$PM_TMP/digest.eml" ||
    pm_fail "the digest's subject: $(cat "$PM_TMP/digest.eml")"
sed '1,/^$/d' "$PM_TMP/digest.eml" >"$PM_TMP/digest.body"
cat >"$PM_TMP/digest.want" <<'EOF'
Refusals on 2026-02-16 (UTC), by sender and limit: 20, 3 senders and limits.

sender                                   limit                     refusals
alice@example.com                        messages_per_day                12
bob@example.com                          messages_per_hour                4
carol@example.com                        warmup_day                       4

See a sender's use of its limits with: postmeterctl status SENDER
EOF
diff -u "$PM_TMP/digest.want" "$PM_TMP/digest.body" >&2 || pm_fail "the digest's text differs"
rows=()
for i in $(seq 1 205); do rows+=("s$i@example.com" messages_per_hour "$i"); done
"$cli" -c "$PM_TMP/a.conf" digest-text 20500 "${rows[@]}" | sed '1,/^$/d' >"$PM_TMP/big.body"
pm_assert_eq 205 "$(sed -n '4p' "$PM_TMP/big.body" | awk '{print $3}')" "the first row: most refusals"
pm_assert_eq "s6@example.com" "$(sed -n '203p' "$PM_TMP/big.body" | awk '{print $1}')" "the 200th row"
pm_assert_eq "and 5 more" "$(sed -n '204p' "$PM_TMP/big.body")" "the rows left out"

# The daemon's own notifier (in the serving child, started with it) claimed
# yesterday's digest at once (digest_hour 0), and found nothing refused.
yesterday=$(($(date -u +%s) / 86400 - 1))
pm_wait_grep "notice: digest of day $yesterday: nothing was refused, no digest" "$PM_POSTMETER_LOG" ||
    pm_fail "postmeter's notifier did not look at yesterday's digest: $(cat "$PM_POSTMETER_LOG")"
holder=$(pm_rcli get "$(pm_key global digest:$yesterday)")
pm_assert_eq "$(awk '/^PPid:/ { print $2 }' "/proc/${holder##*:}/status" 2>/dev/null)" "$PM_POSTMETER_PID" \
    "the digest's claim $holder is the serving child's"

# --- (e) bad values are refused with file:line ------------------------------------
check() {
    printf '%s\n' "$2" >"$PM_TMP/bad.conf"
    pm_assert_eq "$1" "$("$top_builddir/postmeter" -n -c "$PM_TMP/bad.conf" 2>&1)" "postmeter -n on: $2"
}
f=$PM_TMP/bad.conf
check "$f:1: notify.admin[0]: \"postmaster\" is not an address like postmaster@example.com" \
    'notify = { admin = [ "postmaster" ]; };'
check "$f:1: notify.webhook_url: \"ftp://x.example\" must start with http:// or https://" \
    'notify = { webhook_url = "ftp://x.example"; };'
check "$f:1: notify.digest_hour: 24 is out of range (0-23)" 'notify = { digest_hour = 24; };'
check "$f:1: notify.timeout_seconds: 0 is out of range (1-600)" 'notify = { timeout_seconds = 0; };'
check "$f:1: notify.digest: needs notify.admin (the digest goes to them)" 'notify = { digest = true; };'
check "$f:1: notify.sendmail: \"sendmail\" must be an absolute path" 'notify = { sendmail = "sendmail"; };'
admins=$(for i in $(seq 1 21); do printf '"a%d@example.com", ' "$i"; done)
check "$f:1: notify.admin: 21 addresses, at most 20" "notify = { admin = [ ${admins%, } ]; };"

# --- (f) the digest end to end: refusals through the milter, the daemon's digest ---
today=$(($(pm_rcli TIME | head -n 1) / 86400))
replies=$(for i in 1 2 3; do pm_swaks_send alice@example.com "d$i@example.org" --h-Subject "d$i"; done)
pm_assert_eq "250 2.0.0 Ok: queued as
451 4.7.1
451 4.7.1" "$(sed -E 's/^(250 2\.0\.0 Ok: queued as|451 4\.7\.1) .*/\1/' <<<"$replies")" \
    "alice's three messages under a plan of 1 per hour"
# the second refusal may be decided from what the daemon knows: it is sent
# to Redis a second after alice's last request
for _ in $(seq 1 50); do
    [ "$(pm_rcli HGET "$(pm_key company example.com "hits:$today")" 'alice@example.com|messages_per_hour')" = 2 ] && break
    sleep 0.1
done
pm_assert_eq 2 "$(pm_rcli HGET "$(pm_key company example.com "hits:$today")" 'alice@example.com|messages_per_hour')" \
    "alice's refusals in the day's record"
before=$(pm_sink_count)
pm_clock_set 86400 >/dev/null # the store's clock: a day on
pm_postmeter_stop
rm -f "$PM_TMP/postmeter.sock" # wait for the new daemon's socket, not the old one
pm_postmeter_start "$PM_TMP/postmeter.conf"
pm_wait_grep "notice: digest of day $today sent to 1 address: 1 rows" "$PM_POSTMETER_LOG" ||
    pm_fail "no digest of day $today: $(grep 'notice:' "$PM_POSTMETER_LOG")"
pm_sink_expect $((before + 1)) "messages at the sink with the digest"
date=$(date -u -d "@$((today * 86400))" +%F)
digest=$(grep -l "^Subject: postmeter: daily digest of $date (UTC): 2 refusals" "$PM_SINK_DIR"/*) ||
    pm_fail "no digest in the sink"
printf '%s\n' "$(tr -d '\r' <"$digest" | sed '1,/^$/d')" >"$PM_TMP/daily.body" # the sink adds a blank line
cat >"$PM_TMP/daily.want" <<EOF
Refusals on $date (UTC), by sender and limit: 2, 1 sender and limit.

sender                                   limit                     refusals
alice@example.com                        messages_per_hour                2

See a sender's use of its limits with: postmeterctl status SENDER
EOF
diff -u "$PM_TMP/daily.want" "$PM_TMP/daily.body" >&2 || pm_fail "the daily digest's text differs"

echo "PASS: notice_e2e"
