#!/bin/bash
# acl.sh - postmeter works with exactly the Redis ACL user of
# etc/redis-acl.conf, and Redis refuses that user anything else.
#
# The README shows the same line. A private redis-server loads the shipped
# line (its placeholder replaced by the SHA-256 of a password made here,
# nothing else changed: key prefix pm), with the default user off and an
# admin user for the test's own reads.
# Redis refuses the line as shipped. postmeter logs in as "postmeter"
# through redis.password_file, with redis.db = 1 (SELECT), and every path
# runs: outgoing mail (the RCPT probe and the commit, contacts, Message-IDs,
# warm-up, the daily top index), incoming mail (a bounce, a reply, a
# person's message), a suppressed recipient refused at RCPT, the metrics
# refresh, the daemon's heartbeat, and every postmeterctl command that reads
# or writes Redis (learn --maillog, incident, migrate and forget --all included). Then
# Redis's ACL LOG is empty and nothing logged or printed a permission
# error; a command and a key outside the line are refused (NOPERM) and
# logged.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
DRIVE=$top_builddir/tests/tools/pmdrive
CTL=$top_builddir/postmeterctl
pm_need "$PM" "$DRIVE" "$CTL" redis-server redis-cli sha256sum sha1sum curl
SHIPPED=$top_srcdir/etc/redis-acl.conf

# --- the ACL file: the shipped line, a password, no default user ---------------
PW=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
ADMIN_PW=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
line=$(grep '^user postmeter ' "$SHIPPED") || pm_fail "no user line in $SHIPPED"
[ "$(grep -c '^user ' "$SHIPPED")" = 1 ] || pm_fail "$SHIPPED holds more than one user line"
grep -qxF "$line" "$top_srcdir/README.md" || pm_fail "the README shows another ACL line than $SHIPPED"
ACL=$PM_TMP/users.acl
{
    echo "$line"
    echo "user default off"
} >"$ACL"
# as shipped, Redis refuses it: the placeholder is no SHA-256
rc=0
timeout 10 redis-server --port "$(pm_free_port)" --bind 127.0.0.1 --save '' \
    --aclfile "$ACL" >"$PM_TMP/refused.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || pm_fail "redis-server started with the placeholder"
grep -q "password hash must be exactly 64 characters" "$PM_TMP/refused.log" ||
    pm_fail "the placeholder's refusal: $(tail -n 2 "$PM_TMP/refused.log")"
hash=$(printf '%s' "$PW" | sha256sum | cut -d' ' -f1)
{
    echo "${line/\#PASSWORD-SHA256/#$hash}"
    echo "user default off"
    echo "user admin on >$ADMIN_PW ~* &* +@all"
} >"$ACL"
PM_REDIS_ARGS=(--aclfile "$ACL")
pm_redis_start
admin() { redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" --no-auth-warning --user admin --pass "$ADMIN_PW" "$@"; }
as_pm() { redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" --no-auth-warning --user postmeter --pass "$PW" "$@"; }
pm_assert_eq "NOAUTH Authentication required." "$(redis-cli -h 127.0.0.1 -p "$PM_REDIS_PORT" PING 2>&1)" \
    "the default user is off"
pm_assert_eq "" "$(admin ACL LOG)" "ACL LOG before the test"

# --- postmeter as that user --------------------------------------------------------
(umask 077 && printf 'postmeter %s\n' "$PW" >"$PM_TMP/redis.pass")
pm_secret_file "$PM_TMP/contacts.key"
MPORT=$(pm_free_port)
CONF=$PM_TMP/pm.conf
cat >"$CONF" <<EOF
milter: { socket = "unix:$PM_TMP/pm.sock"; };
user = "";
redis: { host = "127.0.0.1"; port = $PM_REDIS_PORT; db = 1; password_file = "$PM_TMP/redis.pass"; };
local_domains = [ "example.com" ];
outbound: { networks = [ ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; };
metrics: { listen = "127.0.0.1:$MPORT"; top_senders = 10; refresh_seconds = 5; };
plans: {
  default: { messages_per_hour = 50; messages_per_day = 100; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = [ 20, 40, 60 ]; };
  big: { messages_per_hour = 0; messages_per_day = 1000; warmup = [ ]; };
};
domains = ( { domain = "example.com"; plan = "default"; } );
EOF
out=$("$PM" -n -c "$CONF" 2>&1) || pm_fail "postmeter -n: $out"
pm_assert_eq "$CONF: configuration OK" "$out" "postmeter -n"
"$PM" -c "$CONF" -f 2>"$PM_TMP/pm.log" &
PID=$!
pm_on_exit "kill $PID"
PM_FAIL_LOGS=$PM_TMP/pm.log
pm_wait_file "$PM_TMP/pm.sock" || pm_fail "postmeter did not start"

# Drive one message: envelope sender $1, login $2 ("" for incoming mail), file
# $3 ("" for pmdrive's own), recipients $4...; prints pmdrive's output.
drive() {
    local from=$1 login=$2 file=$3 args=()
    shift 3
    [ -n "$login" ] && args+=(-a "$login")
    [ -n "$file" ] && args+=(-D "$file")
    for r in "$@"; do args+=(-r "$r"); done
    "$DRIVE" -S "unix:$PM_TMP/pm.sock" -c 1 -m 1 -f "$from" "${args[@]}" 2>&1
}

# outgoing: first contacts, with Message-IDs, a colleague, warm-up and the top index
for n in 1 2 3; do
    printf 'From: alice@example.com\r\nTo: r%d@example.org\r\nSubject: offer %d\r\nMessage-ID: <alice-%d@example.com>\r\n\r\nHello.\r\n' \
        "$n" "$n" "$n" >"$PM_TMP/out.eml"
    out=$(drive alice@example.com alice@example.com "$PM_TMP/out.eml" "r$n@example.org" carol@example.com)
    pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "alice's message $n"
done
out=$(drive carol@example.com carol@example.com "" bob@example.com)
pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "mail to a colleague"

# incoming: a bounce for r1, a reply to alice-2, a person's message
{
    printf 'From: MAILER-DAEMON@mx.example.org\r\nTo: alice@example.com\r\nSubject: Undelivered Mail\r\n'
    printf 'Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n'
    printf 'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n\r\n'
    printf -- '--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n\r\n'
    printf -- '--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n'
    printf 'Final-Recipient: rfc822; r1@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n'
    printf 'Diagnostic-Code: smtp; 550 5.1.1 <r1@example.org>: user unknown\r\n\r\n--B1--\r\n'
} >"$PM_TMP/dsn.eml"
drive "" "" "$PM_TMP/dsn.eml" alice@example.com >/dev/null
pm_wait_grep "feedback=hard_bounce sender=alice@example.com rcpt=r1@example.org" "$PM_TMP/pm.log" ||
    pm_fail "no hard bounce"
printf 'From: r2@example.org\r\nTo: alice@example.com\r\nSubject: Re: offer 2\r\nIn-Reply-To: <alice-2@example.com>\r\n\r\nYes.\r\n' \
    >"$PM_TMP/reply.eml"
drive r2@example.org "" "$PM_TMP/reply.eml" alice@example.com >/dev/null
pm_wait_grep "feedback=reply sender=alice@example.com rcpt=r2@example.org" "$PM_TMP/pm.log" ||
    pm_fail "no reply"
printf 'From: dave@example.net\r\nTo: alice@example.com\r\nSubject: hello\r\n\r\nHi.\r\n' >"$PM_TMP/person.eml"
drive dave@example.net "" "$PM_TMP/person.eml" alice@example.com >/dev/null
pm_wait_grep "feedback=learned sender=alice@example.com rcpt=dave@example.net" "$PM_TMP/pm.log" ||
    pm_fail "no learned contact"
# the suppressed recipient is refused at RCPT
out=$(drive alice@example.com alice@example.com "" r1@example.org)
pm_assert_eq 1 "$(pm_summary - rcpt_refused <<<"$out")" "the suppressed recipient"

# the metrics refresh reads the top index and probes each sender
for _ in $(seq 1 100); do
    curl -s -m 5 "http://127.0.0.1:$MPORT/metrics" >"$PM_TMP/scrape.txt" || true
    grep -q '^postmeter_sender_used{sender="alice@example.com",window="day",counter="messages"} 3$' \
        "$PM_TMP/scrape.txt" && break
    sleep 0.1
done
grep -q '^postmeter_sender_used{sender="alice@example.com",window="day",counter="messages"} 3$' \
    "$PM_TMP/scrape.txt" || pm_fail "no refreshed gauge: $(grep sender_used "$PM_TMP/scrape.txt" | head -n 3)"

# --- every postmeterctl command that talks to Redis ------------------------------
ctl() {
    "$CTL" -c "$CONF" "$@" >>"$PM_TMP/ctl.out" 2>&1 || pm_fail "postmeterctl $*: $(tail -n 3 "$PM_TMP/ctl.out")"
}
ctl status alice@example.com
ctl --json status alice@example.com
ctl top
ctl top --by hour
ctl top --by bounces -n 5
ctl credit add alice@example.com 5 --recipients 10 --expires 30d --note acl
id=$("$CTL" -c "$CONF" --json credit show alice@example.com | sed -n 's/.*"grants":\[{"id":\([0-9]*\).*/\1/p')
[ -n "$id" ] || pm_fail "no credit grant id"
ctl credit revoke alice@example.com "$id"
ctl credit show alice@example.com
ctl plan set alice@example.com big
ctl plan show alice@example.com
ctl plan clear alice@example.com
ctl warmup skip alice@example.com --to-stage 2
ctl warmup reset alice@example.com
ctl warmup skip --domain example.com
ctl warmup reset --domain example.com
ctl contact check alice@example.com r2@example.org
ctl suppress add gone@example.org --domain example.com --days 3
ctl suppress check gone@example.org --domain example.com
ctl suppress list
ctl suppress list --domain example.com
ctl suppress del gone@example.org --domain example.com
ctl suppress migrate
ctl check-config
ctl servers
ctl status
# incidents: opened by hand (one ending by itself, one replaced), read, listed, released
ctl incident open mallory@example.com --note acl --hours 1
ctl incident open eve@example.com
ctl incident open eve@example.com --force --note again
ctl incident show mallory@example.com
ctl --json incident list
ctl incident release eve@example.com
ctl incident release mallory@example.com
ctl incident list
# learn --maillog: a delivery of alice's from Postfix's log, seeded as a contact
d=$(date -u +%Y-%m-%dT%H:%M:%S)
cat >"$PM_TMP/mail.log" <<EOF
$d.000000+00:00 mx postfix/smtpd[12]: C0001: client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=alice@example.com
$d.000001+00:00 mx postfix/qmgr[13]: C0001: from=<alice@example.com>, size=900, nrcpt=1 (queue active)
$d.000002+00:00 mx postfix/smtp[14]: C0001: to=<seeded@example.org>, relay=mx.example.org[203.0.113.5]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)
$d.000003+00:00 mx postfix/qmgr[13]: C0001: removed
EOF
ctl learn --maillog "$PM_TMP/mail.log" --state "$PM_TMP/learn.state"
grep -q "contacts: 1 new" "$PM_TMP/ctl.out" || pm_fail "learn did not seed the contact: $(tail -n 4 "$PM_TMP/ctl.out")"
# migrate: the store says layout 1 (as an installation of an earlier version
# does), the daemon goes back to it and meters a sender of its own in it, then
# postmeterctl migrate moves the keys (RENAME, the indexes merged) under the ACL
admin -n 1 SET pm:layout 1 >/dev/null
drive frank@example.com frank@example.com "" f1@example.org >"$PM_TMP/frank.out"
[ -n "$(admin -n 1 --scan --pattern 'pm:v1:{s:frank@example.com}:*' | head -n 1)" ] ||
    pm_fail "no layout 1 key of frank: $(cat "$PM_TMP/frank.out")"
ctl migrate
grep -q "^key layout 1 -> 2: moved [1-9]" "$PM_TMP/ctl.out" || pm_fail "migrate: $(tail -n 1 "$PM_TMP/ctl.out")"
pm_assert_eq 2 "$(admin -n 1 GET pm:layout)" "the layout after migrate"

# --- nothing was refused ------------------------------------------------------------
pm_assert_eq "" "$(admin ACL LOG)" "ACL LOG after every path"
! grep -iE "noperm|no permissions|can't access|can't run" "$PM_TMP/pm.log" "$PM_TMP/ctl.out" ||
    pm_fail "a permission error above"
grep -q "store_error" "$PM_TMP/pm.log" && pm_fail "a store error: $(grep store_error "$PM_TMP/pm.log" | head -n 1)"
[ -n "$(admin -n 1 --scan --pattern 'pm:v2:*' | head -n 1)" ] || pm_fail "no key in database 1"
[ -z "$(admin -n 0 --scan | head -n 1)" ] || pm_fail "a key in database 0"

# --- and anything else is refused ---------------------------------------------------
pm_assert_eq "NOPERM this user has no permissions to run the 'flushall' command" \
    "$(as_pm FLUSHALL 2>&1)" "FLUSHALL"
pm_assert_eq "NOPERM this user has no permissions to run the 'config|get' command" \
    "$(as_pm CONFIG GET requirepass 2>&1)" "CONFIG GET"
pm_assert_eq "NOPERM this user has no permissions to access one of the keys used as arguments" \
    "$(as_pm GET other:key 2>&1)" "a key outside pm:*"
script="return redis.call('GET', 'other:key')"
sha=$(printf '%s' "$script" | sha1sum | cut -d' ' -f1)
pm_assert_eq "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: $sha, on @user_script:1." \
    "$(as_pm EVAL "$script" 0 2>&1)" "a key outside pm:* inside a script"
pm_assert_eq 4 "$(admin ACL LOG | grep -c '^postmeter$')" "ACL LOG entries of the refusals"
# forget --all, last: every key of the prefix goes, and Redis refuses nothing more
ctl forget --all --yes
pm_assert_eq "" "$(admin -n 1 --scan --pattern 'pm:*' | head -n 1)" "keys of pm: after forget --all"
pm_assert_eq 4 "$(admin ACL LOG | grep -c '^postmeter$')" "ACL LOG entries after forget --all"
pm_stop_clean "$PID" postmeter
echo "acl: ok"
