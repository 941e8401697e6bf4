#!/bin/bash
# metrics.sh - the Prometheus endpoint under traffic: a sender limited to 5
# messages per hour offers 8 (5 accepted at end of message, 3 tempfailed at
# RCPT) and the decision counters equal those decisions exactly; the scrape
# passes promtool check metrics; wrong paths (404), other methods (405), a
# huge header (431) and slow clients holding connections open do not change
# the mail results sent meanwhile; clients that trickle a request byte by
# byte neither stop scrapes nor stay beyond the request deadline; the
# per-sender quota gauges appear after
# one refresh period and scrapes do not read Redis; reloads are counted and
# keep the endpoint; a store outage is counted by kind. The alert rules pass
# promtool check rules and the dashboard is valid JSON.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$DRIVE" curl promtool python3
pm_redis_start

# On failure, show the end of the daemon's log and the last scrape first.
pm_fail() {
    tail -n 20 "$PM_TMP/pm.log" >&2 2>/dev/null
    grep -E "store_errors|decisions" "$PM_TMP/scrape.txt" >&2 2>/dev/null
    tail -n 40 "$PM_TMP/scrape.txt" >&2 2>/dev/null
    echo "FAIL: $*" >&2
    exit 1
}

MPORT=$(pm_free_port)
URL=http://127.0.0.1:$MPORT/metrics
SOCK=$PM_TMP/postmeter.sock
CONF=$PM_TMP/pm.conf

# Write the config: top_senders $1, extra text $2.
write_conf() {
    pm_write_conf "$CONF" <<EOF
plans: {
  default: { messages_per_hour = 5; messages_per_day = 0; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
};
metrics: { listen = "127.0.0.1:$MPORT"; top_senders = $1; refresh_seconds = 5; };
$2
EOF
}

# Scrape into $PM_TMP/scrape.txt; fail unless the answer is 200.
scrape() {
    local code
    code=$(curl -s -m 5 -o "$PM_TMP/scrape.txt" -w '%{http_code}' "$URL") || code="curl failed"
    pm_assert_eq 200 "$code" "scrape status"
}

# Print the value of the series $1 (name and labels exactly) in the last scrape.
value() {
    awk -v s="$1" 'substr($0, 1, length(s) + 1) == s " " { print $NF; n++ } END { if (!n) print "absent" }' \
        "$PM_TMP/scrape.txt"
}

# Print the HTTP status of curl arguments "$@" against the endpoint.
status() {
    curl -s -m 5 -o /dev/null -w '%{http_code}' "$@" || true
}

# Send $2 messages from $1 through the milter; print pmdrive's summary line.
send() {
    "$DRIVE" -S "unix:$SOCK" -m "$2" -f "$1" >"$PM_TMP/drive.out" 2>"$PM_TMP/drive.err" ||
        pm_fail "pmdrive failed: $(cat "$PM_TMP/drive.err")"
    head -n 1 "$PM_TMP/drive.out"
}

DEC='postmeter_decisions_total{stage="eom",action="accept",reason="ok",dry_run="no"}'
REF='postmeter_decisions_total{stage="rcpt",action="tempfail",reason="msgs_hour",dry_run="no"}'

# no quota gauges at first: every store request below is the mail's own
write_conf 0 ""
"$PM" -n -c "$CONF" >"$PM_TMP/check.out" 2>&1 || pm_fail "postmeter -n: $(cat "$PM_TMP/check.out")"
"$PM" -c "$CONF" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill -9 $PID"
pm_wait_file "$SOCK" || pm_fail "postmeter did not create its socket"
pm_wait_port "$MPORT" || pm_fail "the metrics endpoint is not listening on $MPORT"

# 1. The counters equal the decisions.
# the copy of the suppression lists loaded (bounded wait), so that which
# recipient needs its RCPT probe does not depend on when the traffic starts
for _ in $(seq 1 100); do
    scrape
    [ "$(value postmeter_suppression_local_ready)" = 1 ] && break
    sleep 0.05
done
pm_assert_eq 1 "$(value postmeter_suppression_local_ready)" "the suppression copy loaded"
pm_assert_eq absent "$(value "$DEC")" "no decision before traffic"
pm_assert_eq "messages=8 accepted=5 tempfail=3 reject=0 discard=0 quarantined=0 tagged=0 errors=0 rcpt_refused=3" \
    "$(send alice@example.com 8)" "alice's mail"
# the 6th message's probe finds alice over her limit: the 7th and 8th are
# refused from what the daemon knows (within a second of that probe), and a
# second later the daemon sends those two refusals in a request of their own
for _ in $(seq 1 50); do
    hits=$(pm_rcli --scan --pattern "$(pm_key company example.com 'hits:*')" | head -n 1)
    [ -n "$hits" ] && [ "$(pm_rcli hget "$hits" 'alice@example.com|messages_per_hour')" = 3 ] && break
    sleep 0.1
done
scrape
pm_assert_eq 5 "$(value "$DEC")" "accept decisions"
pm_assert_eq 3 "$(value "$REF")" "tempfail decisions"
pm_assert_eq 2 "$(grep -c '^postmeter_decisions_total{' "$PM_TMP/scrape.txt")" "decision series"
pm_assert_eq 8 "$(value 'postmeter_messages_total{direction="outgoing"}')" "outgoing messages"
pm_assert_eq 8 "$(value 'postmeter_recipients_total{direction="outgoing"}')" "outgoing recipients"
pm_assert_eq 0 "$(value 'postmeter_messages_total{direction="incoming"}')" "incoming messages"
pm_assert_eq 3 "$(pm_rcli hget "$hits" 'alice@example.com|messages_per_hour')" \
    "alice's refusals counted for the digest"
# RCPT probes: the 1st message (alice unknown), the 4th and 5th (within
# rcpt_check.margin of her limit), the 6th (over it); the 2nd and 3rd are let
# through from what the daemon knows, friend@ being on no suppression list
pm_assert_eq 10 "$(value postmeter_store_request_duration_seconds_count)" \
    "store round trips (4 RCPT + 5 EOM + 1 carrying 2 refusals)"
pm_assert_eq 10 "$(value 'postmeter_store_request_duration_seconds_bucket{le="+Inf"}')" "histogram +Inf"
pm_assert_eq 1 "$(value postmeter_first_contact_messages_total)" "first-contact messages"
pm_assert_eq 0 "$(value 'postmeter_store_errors_total{kind="connect"}')" "store errors"
pm_assert_eq 5 "$(grep -c ' action=accept reason=ok sender=alice@example.com ' "$PM_TMP/pm.log")" \
    "accept log lines"
for _ in $(seq 1 40); do # pmdrive is gone; its connection closes soon after
    scrape
    [ "$(value postmeter_milter_connections_open)" = 0 ] && break
    sleep 0.05
done
pm_assert_eq 0 "$(value postmeter_milter_connections_open)" "connections open after the driver left"
promtool check metrics <"$PM_TMP/scrape.txt" >"$PM_TMP/promtool.out" 2>&1 ||
    pm_fail "promtool check metrics: $(cat "$PM_TMP/promtool.out")"
grep -q '^# TYPE postmeter_store_request_duration_seconds histogram$' "$PM_TMP/scrape.txt" ||
    pm_fail "no histogram TYPE line"

# 2. Bad requests and slow clients during mail: the mail results stay exact.
pm_assert_eq 404 "$(status "http://127.0.0.1:$MPORT/")" "GET /"
pm_assert_eq 404 "$(status "http://127.0.0.1:$MPORT/metrics/x")" "GET /metrics/x"
pm_assert_eq 405 "$(status -X POST -d x=1 "$URL")" "POST /metrics"
pm_assert_eq 405 "$(status -X DELETE "$URL")" "DELETE /metrics"
BIG=$(head -c 65536 /dev/zero | tr '\0' a)
pm_assert_eq 431 "$(status -H "X-Big: $BIG" "$URL")" "a 64 KiB header"
# ten slow clients (more than the per-address limit): each sends half a
# request line and then nothing
SLOW=()
for i in $(seq 1 10); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$MPORT" || pm_fail "cannot open slow connection $i"
    printf 'GET /metr' >&"$fd"
    SLOW+=("$fd")
done
(for _ in $(seq 1 20); do
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$MPORT/nope" || true
    curl -s -m 2 -o /dev/null -X PUT "$URL" || true
done) &
NOISE=$!
pm_assert_eq "messages=7 accepted=5 tempfail=2 reject=0 discard=0 quarantined=0 tagged=0 errors=0 rcpt_refused=2" \
    "$(send bob@example.com 7)" "bob's mail during bad requests"
wait "$NOISE"
# the slow clients are dropped after the connection timeout (5 s)
START=$SECONDS
for fd in "${SLOW[@]}"; do
    rc=0
    timeout 10 cat <&"$fd" >/dev/null 2>&1 || rc=$? # EOF, or a reset beyond the per-address limit
    [ "$rc" != 124 ] || pm_fail "a slow client was kept over 10 s"
    exec {fd}>&-
done
((SECONDS - START <= 8)) || pm_fail "slow clients were dropped only after $((SECONDS - START)) s"
scrape
pm_assert_eq 10 "$(value "$DEC")" "accept decisions after the bad requests"
pm_assert_eq 5 "$(value "$REF")" "tempfail decisions after the bad requests"
pm_assert_eq 15 "$(value 'postmeter_messages_total{direction="outgoing"}')" "outgoing messages"

# 2b. Trickling clients: 16 connections (8 from 127.0.0.1, the scraper's
# address, 4 from 127.0.0.2, 4 from 127.0.0.4) send a request line and then
# one header byte a second, never idle for the 5 s timeout. Scrapes meanwhile
# get through (the oldest connection gives way to a new one), and every
# trickling connection is cut within the request deadline (10 s, swept every
# second; the clients look every second), counted from its connect, where
# the idle timeout never fires. The clients give up after 25 s.
cat >"$PM_TMP/trickle.py" <<'EOF'
import socket, sys, time
port, conns = int(sys.argv[1]), []
for src in sys.argv[2:]:
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    s.setblocking(False)
    conns.append([src, s, time.monotonic(), None])
print("open", flush=True)
end = time.monotonic() + 25
while time.monotonic() < end and any(c[3] is None for c in conns):
    for c in conns:
        if c[3] is not None:
            continue
        try:
            if c[1].recv(4096) == b"":
                c[3] = time.monotonic()
                continue
        except BlockingIOError:
            pass
        except OSError:
            c[3] = time.monotonic()
            continue
        try:
            c[1].send(b"a")
        except BlockingIOError:
            pass
        except OSError:
            c[3] = time.monotonic()
    time.sleep(1)
for src, s, start, closed in conns:
    print(src, "open" if closed is None else "%.1f" % (closed - start))
EOF
python3 "$PM_TMP/trickle.py" "$MPORT" 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 \
    127.0.0.1 127.0.0.1 127.0.0.2 127.0.0.2 127.0.0.2 127.0.0.2 127.0.0.4 127.0.0.4 127.0.0.4 \
    127.0.0.4 >"$PM_TMP/trickle.out" 2>&1 &
TRICKLE=$! # it ends by itself within 25 s
for _ in $(seq 1 50); do
    grep -q '^open$' "$PM_TMP/trickle.out" && break
    sleep 0.1
done
grep -q '^open$' "$PM_TMP/trickle.out" ||
    pm_fail "the trickling clients did not connect: $(cat "$PM_TMP/trickle.out")"
for i in 1 2 3 4 5 6; do
    sleep 1
    scrape
    pm_assert_eq 10 "$(value "$DEC")" "scrape $i among trickling clients"
done
wait "$TRICKLE" || pm_fail "the trickling clients failed: $(cat "$PM_TMP/trickle.out")"
pm_assert_eq 16 "$(grep -c '^127' "$PM_TMP/trickle.out")" "trickling clients reported"
awk '$1 ~ /^127/ && ($2 == "open" || $2 > 14) { bad++ } END { exit bad > 0 }' "$PM_TMP/trickle.out" ||
    pm_fail "trickling clients kept beyond the deadline (address, seconds): $(tr '\n' ' ' <"$PM_TMP/trickle.out")"

# 3. Reload with top_senders = 10: the quota gauges appear within one
# refresh period, and the endpoint stayed up across the reload.
write_conf 10 ""
kill -HUP "$PID"
for _ in $(seq 1 50); do
    grep -q 'reloaded ' "$PM_TMP/pm.log" && break
    sleep 0.1
done
scrape
pm_assert_eq 1 "$(value postmeter_config_reloads_total)" "reloads"
pm_assert_eq 10 "$(value "$DEC")" "counters survive a reload"
for _ in $(seq 1 120); do
    scrape
    [ "$(value 'postmeter_sender_used{sender="bob@example.com",window="hour",counter="messages"}')" = 5 ] &&
        break
    sleep 0.1
done
for who in alice bob; do
    S="sender=\"$who@example.com\""
    pm_assert_eq 5 "$(value "postmeter_sender_used{$S,window=\"hour\",counter=\"messages\"}")" "$who used"
    pm_assert_eq 5 "$(value "postmeter_sender_used{$S,window=\"day\",counter=\"recipients\"}")" \
        "$who recipients"
    pm_assert_eq 5 "$(value "postmeter_sender_limit{$S,window=\"hour\",counter=\"messages\"}")" "$who limit"
    pm_assert_eq absent "$(value "postmeter_sender_limit{$S,window=\"day\",counter=\"messages\"}")" \
        "$who unlimited day"
    pm_assert_eq 0 "$(value "postmeter_sender_warmup_stage{$S}")" "$who warm-up"
done
[ "$(value postmeter_quota_refresh_timestamp_seconds)" -gt 0 ] || pm_fail "no refresh time"
promtool check metrics <"$PM_TMP/scrape.txt" >"$PM_TMP/promtool.out" 2>&1 ||
    pm_fail "promtool check metrics with quota gauges: $(cat "$PM_TMP/promtool.out")"
# twenty scrapes in a row cost at most one refresh (two probes), not one per scrape
BEFORE=$(value postmeter_store_request_duration_seconds_count)
for _ in $(seq 1 20); do scrape; done
AFTER=$(value postmeter_store_request_duration_seconds_count)
((AFTER - BEFORE <= 2)) || pm_fail "20 scrapes made $((AFTER - BEFORE)) store requests"

# 4. A bad file is counted as a failed reload.
write_conf 10 "frobnicate = 1;"
kill -HUP "$PID"
for _ in $(seq 1 50); do
    grep -q 'reload failed' "$PM_TMP/pm.log" && break
    sleep 0.1
done
scrape
pm_assert_eq 1 "$(value postmeter_config_reload_failures_total)" "reload failures"

# 5. Redis down: on_store_error = accept; both store requests fail. One
# message first, so that the store of the reloaded runtime has a pooled
# connection: it is found closed before use, and no new one can be opened.
pm_assert_eq "messages=1 accepted=1 tempfail=0 reject=0 discard=0 quarantined=0 tagged=0 errors=0 rcpt_refused=0" \
    "$(send dave@example.com 1)" "dave's mail after the reloads"
pm_redis_stop
pm_assert_eq "messages=1 accepted=1 tempfail=0 reject=0 discard=0 quarantined=0 tagged=0 errors=0 rcpt_refused=0" \
    "$(send carol@example.com 1)" "carol's mail with Redis down"
scrape
pm_assert_eq 1 "$(value 'postmeter_decisions_total{stage="rcpt",action="accept",reason="store_error",dry_run="no"}')" \
    "store_error decision at RCPT"
pm_assert_eq 1 "$(value 'postmeter_decisions_total{stage="eom",action="accept",reason="store_error",dry_run="no"}')" \
    "store_error decision at EOM"
# the closed pooled connection is dropped unused (no io error); no new one
# can be opened, at RCPT nor (backing off) at end of message
pm_assert_eq 0 "$(value 'postmeter_store_errors_total{kind="io"}')" "io errors"
pm_assert_eq 2 "$(value 'postmeter_store_errors_total{kind="connect"}')" "connect errors"
grep -q 'store error at RCPT: redis 127.0.0.1:[0-9]*: Connection refused$' "$PM_TMP/pm.log" ||
    pm_fail "the store error is not logged: $(tail -n 5 "$PM_TMP/pm.log")"
promtool check metrics <"$PM_TMP/scrape.txt" >"$PM_TMP/promtool.out" 2>&1 ||
    pm_fail "promtool check metrics at the end: $(cat "$PM_TMP/promtool.out")"

# 6. The alert rules and the dashboard.
promtool check rules "$top_srcdir/etc/postmeter-alerts.yml" >"$PM_TMP/rules.out" 2>&1 ||
    pm_fail "promtool check rules: $(cat "$PM_TMP/rules.out")"
python3 -m json.tool "$top_srcdir/etc/postmeter-dashboard.json" >/dev/null ||
    pm_fail "the dashboard is not valid JSON"

# A clean stop.
pm_stop_clean "$PID" postmeter
echo "PASS: metrics.sh"
exit 0
