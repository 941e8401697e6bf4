#!/bin/bash
# learn_maillog.sh - postmeterctl learn --maillog against a real Redis.
#
# 1. The log a real (private) Postfix wrote while it relayed mail: the
#    company's senders (a SASL login, a local envelope sender) get their
#    external recipients as contacts; a stranger's relayed mail and mail to a
#    colleague teach nothing.
# 2. A rotated set, oldest first whatever the order given (mail.log.3.gz,
#    mail.log.2.gz, mail.log.1, mail.log; syslog and RFC 3339 timestamps):
#    a message deferred in one file and delivered in the next, bounced and
#    deferred deliveries, broken lines, a delivery without its sender's line,
#    contacts older than contacts.ttl_days; exact contacts with their days (a
#    day never moves back), and the one sender with enough history
#    established (its warm-up ended, through the store as warmup skip does).
#    Running again changes nothing; with a new state too; --dry-run writes
#    nothing.
# 3. A run killed (SIGKILL) while it reads, resumed from its state, leaves
#    exactly what one whole run leaves; a second run on the same state is
#    refused while the first holds it.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/postfix.sh"

CTL=$top_builddir/postmeterctl
GEN=$top_srcdir/bench/maillog-gen
pm_need "$CTL" python3 gzip swaks
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"

# The configuration of prefix $2 into file $1.
write_conf() {
    cat >"$1" <<EOF
user = "";
redis: { host = "127.0.0.1"; port = $PM_REDIS_PORT; key_prefix = "$2"; };
local_domains = [ "example.com" ];
login_domain = "example.com";
# not the test Postfix's 127.0.0.1: its plain port stands for mail from outside
# (tests/package/run learns through networks, the default 127.0.0.0/8)
outbound: { networks = [ "198.18.0.0/15" ]; };
contacts: { secret_file = "$PM_TMP/contacts.key"; ttl_days = 30; };
learning: { established_days = 3; };
warmup: { dormant_days = 30; };
plans: { default: { warmup = [2, 4, 8]; }; };
EOF
}
write_conf "$PM_TMP/pm.conf" pmtest
write_conf "$PM_TMP/ref.conf" pmref

# postmeterctl with the test configuration; log timestamps are UTC.
ctl() {
    TZ=UTC "$CTL" -c "$PM_TMP/pm.conf" "$@"
}

# Print Python expression $1 over the JSON object d read from stdin.
json() {
    python3 -c "import json,sys; d = json.load(sys.stdin); print($1)"
}

# The state and last day of contact $2 of sender $1: "known 20793", "cold -1".
contact() {
    ctl --json contact check "$1" "$2" | json 'd["state"], d["last_day"]'
}

# Every key of prefix $1 (matching $2 after it, default all), without the
# prefix, with its content, sorted.
dump() {
    local k
    for k in $(pm_rcli --scan --pattern "$1:${2:-*}" | sort); do
        echo "${k#"$1":} $(pm_rcli TYPE "$k")"
        case $(pm_rcli TYPE "$k") in
        hash) pm_rcli HGETALL "$k" | paste - - | sort ;;
        string) pm_rcli GET "$k" ;;
        esac
    done
}

# learn's summary fields $2... (JSON names) of a run with arguments $1 (a string).
summary_of() {
    local args=$1
    shift
    # shellcheck disable=SC2086
    ctl --json learn $args >"$PM_TMP/learn.out" 2>"$PM_TMP/learn.err" ||
        pm_fail "postmeterctl learn $args failed: $(cat "$PM_TMP/learn.err")"
    local expr=""
    for f; do expr="$expr d[\"$f\"],"; done
    json "${expr%,}" <"$PM_TMP/learn.out"
}

# --- 1. the log of a real Postfix --------------------------------------------------
pm_postfix_start ""
pm_postfix_sasl_user alice@example.com secret
AUTH=(--auth PLAIN --auth-user alice@example.com --auth-password secret)
for m in "alice@example.com bob@example.org,carol@example.net auth" \
    "alice@example.com bob@example.org auth" \
    "alice@example.com colleague@example.com auth" \
    "dave@example.com erin@example.org plain" \
    "stranger@outside.example frank@example.org plain"; do
    read -r from to how <<<"$m"
    if [ "$how" = auth ]; then
        reply=$(pm_swaks_send "$from" "$to" "${AUTH[@]}")
    else
        reply=$(PM_SWAKS_PORT=$PM_SMTP_PORT_PLAIN pm_swaks_send "$from" "$to")
    fi
    case $reply in "250 2.0.0 Ok: queued as "*) ;; *) pm_fail "Postfix did not take $m: $reply" ;; esac
done
pm_sink_expect 5 "messages relayed by the private Postfix"
# every message's deliveries and its "removed" line are in the log
for _ in $(seq 1 100); do
    [ "$(grep -c 'postfix/qmgr.*: removed$' "$PM_PF_DIR/maillog")" -ge 5 ] && break
    sleep 0.1
done
pm_assert_eq 5 "$(grep -c 'postfix/qmgr.*: removed$' "$PM_PF_DIR/maillog")" "messages done in the log"
cp "$PM_PF_DIR/maillog" "$PM_TMP/real.log"
LINES=$(wc -l <"$PM_TMP/real.log")
pm_assert_eq "$LINES 0 3 2 4 0 3 0" "$(summary_of "--maillog $PM_TMP/real.log --state $PM_TMP/real.state" \
    lines broken_lines messages senders deliveries unmatched_deliveries contacts_new established)" \
    "learning from a real Postfix's log"
TODAY=$(($(pm_rcli TIME | head -n 1) / 86400))
pm_assert_eq "known $TODAY" "$(contact alice@example.com bob@example.org)" "alice -> bob"
pm_assert_eq "known $TODAY" "$(contact alice@example.com carol@example.net)" "alice -> carol"
pm_assert_eq "known $TODAY" "$(contact dave@example.com erin@example.org)" "dave -> erin"
pm_assert_eq "cold -1" "$(contact alice@example.com erin@example.org)" "alice -> erin"
pm_assert_eq "cold -1" "$(contact stranger@outside.example frank@example.org)" "a stranger's relayed mail"
pm_assert_eq "internal -1" "$(contact alice@example.com colleague@example.com)" "a colleague"
pm_assert_eq "0 1" "$(summary_of "--maillog $PM_TMP/real.log --state $PM_TMP/real.state" lines files_done_before)" \
    "the same log again"

# --- 2. a rotated set -------------------------------------------------------------
NOW=$(pm_rcli TIME | head -n 1)
D0=$((NOW / 86400))
# Unix time of HH:MM on the day $1 days ago.
at() {
    echo $(((D0 - $1) * 86400 + $2))
}
# A syslog timestamp ("Dec  6 10:00:01", UTC) of day $1 ago, second $2 of the day.
sl() {
    LC_ALL=C date -u -d "@$(at "$1" "$2")" '+%b %e %H:%M:%S'
}
# An RFC 3339 timestamp of the same.
rf() {
    date -u -d "@$(at "$1" "$2")" '+%Y-%m-%dT%H:%M:%S.123456+00:00'
}
# The lines of one message: stamp function $1, day $2, queue id $3, client
# part $4, sender $5, then "rcpt:status" deliveries; with removed unless $6 is "keep".
msg() {
    local ts=$1 d=$2 q=$3 client=$4 from=$5 keep=$6 r
    shift 6
    echo "$($ts "$d" 36000) mx postfix/submission/smtpd[11]: $q: client=$client"
    echo "$($ts "$d" 36001) mx postfix/cleanup[12]: $q: message-id=<$q@example.com>"
    echo "$($ts "$d" 36001) mx postfix/qmgr[13]: $q: from=<$from>, size=900, nrcpt=$# (queue active)"
    for r; do
        echo "$($ts "$d" 36002) mx postfix/smtp[14]: $q: to=<${r%:*}>, relay=mx.example.net[203.0.113.5]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=${r#*:} (250 2.0.0 Ok)"
    done
    [ "$keep" = keep ] || echo "$($ts "$d" 36003) mx postfix/qmgr[13]: $q: removed"
}
SAM="h1.example.net[192.0.2.1], sasl_method=PLAIN, sasl_username=sam"
PLAIN="h2.example.net[192.0.2.2]"
mkdir -p "$PM_TMP/rot"
{
    msg sl 45 A0001 "$PLAIN" ugo@example.com - u1@far.example:sent
    msg sl 44 A0002 "$PLAIN" ugo@example.com - u1@far.example:sent
    echo "garbage without a timestamp"
    msg sl 40 A0003 "$PLAIN" ugo@example.com - u1@far.example:sent
    msg sl 35 A0004 "$SAM" sam@example.com - x1@partner.example:sent
} >"$PM_TMP/rot/mail.log.3"
{
    msg sl 20 B0001 "$SAM" sam@example.com - x2@partner.example:sent
    msg sl 10 B0002 "$PLAIN" tina@example.com keep y1@other.example:deferred y2@other.example:bounced
    msg sl 10 B0003 "$PLAIN" tina@example.com - y3@other.example:sent
    echo "$(sl 10 40000) mx postfix/qmgr[13]: B0004: from=<broken@example.com, size=1, nrcpt=1 (queue active)"
    msg sl 10 B0005 "$SAM" sam@example.com - x1@partner.example:sent
} >"$PM_TMP/rot/mail.log.2"
{
    echo "$(sl 2 30000) mx postfix/smtp[14]: B0002: to=<y1@other.example>, relay=mx.other.example[203.0.113.7]:25, delay=9, delays=9/0/0/0, dsn=2.0.0, status=sent (250 ok)"
    echo "$(sl 2 30001) mx postfix/qmgr[13]: B0002: removed"
    echo "Foo 99 99:99:99 mx postfix/qmgr[13]: C0001: from=<sam@example.com>, size=1, nrcpt=1 (queue active)"
    echo "$(sl 2 30002) mx postfix/smtp[14]: C0002: to=<z@lost.example>, relay=mx[203.0.113.8]:25, delay=1, delays=1/0/0/0, dsn=2.0.0, status=sent (250 ok)"
    msg sl 2 C0003 "$SAM" sam@example.com - x1@partner.example:sent
    msg sl 2 C0004 "$PLAIN" stranger@outside.example - w@other.example:sent
} >"$PM_TMP/rot/mail.log.1"
{
    msg rf 0 D0001 "$SAM" sam@example.com - x3@partner.example:sent colleague@example.com:sent
} >"$PM_TMP/rot/mail.log"
RLINES=$(cat "$PM_TMP"/rot/mail.log* | wc -l)
gzip "$PM_TMP/rot/mail.log.3" "$PM_TMP/rot/mail.log.2"
# each file was last written at its last line (the year of syslog timestamps)
touch -d "@$(at 35 36003)" "$PM_TMP/rot/mail.log.3.gz"
touch -d "@$(at 10 36003)" "$PM_TMP/rot/mail.log.2.gz"
touch -d "@$(at 2 36003)" "$PM_TMP/rot/mail.log.1"
ROT="$PM_TMP/rot/mail.log $PM_TMP/rot/mail.log.1 $PM_TMP/rot/mail.log.3.gz $PM_TMP/rot/mail.log.2.gz"

# --dry-run first: it reports and writes nothing.
BEFORE=$(dump pmtest)
pm_assert_eq "True 4 $RLINES 3 10 3 10 1 4 5 1" "$(summary_of "--maillog $ROT --state $PM_TMP/rot.state --dry-run" \
    dry_run files lines broken_lines messages senders deliveries unmatched_deliveries too_old \
    contacts_new established)" "a dry run over the rotated set"
[ -e "$PM_TMP/rot.state" ] && pm_fail "a dry run wrote its state"
[ "$BEFORE" = "$(dump pmtest)" ] || pm_fail "a dry run changed the store"

pm_assert_eq "4 $RLINES 3 10 3 10 1 4 5 1 0 1 1" "$(summary_of "--maillog $ROT --state $PM_TMP/rot.state" \
    files lines broken_lines messages senders deliveries unmatched_deliveries too_old \
    contacts_new contacts_newer contacts_unchanged established warmups_ended)" "the rotated set"
pm_assert_eq "known $((D0 - 2))" "$(contact sam@example.com x1@partner.example)" "sam -> x1: its last day"
pm_assert_eq "known $((D0 - 20))" "$(contact sam@example.com x2@partner.example)" "sam -> x2"
pm_assert_eq "known $D0" "$(contact sam@example.com x3@partner.example)" "sam -> x3 (RFC 3339)"
pm_assert_eq "known $((D0 - 2))" "$(contact tina@example.com y1@other.example)" \
    "tina -> y1: deferred in one file, delivered in the next"
pm_assert_eq "cold -1" "$(contact tina@example.com y2@other.example)" "tina -> y2: bounced"
pm_assert_eq "known $((D0 - 10))" "$(contact tina@example.com y3@other.example)" "tina -> y3"
pm_assert_eq "cold -1" "$(contact ugo@example.com u1@far.example)" "ugo -> u1: older than ttl_days"
pm_assert_eq "cold -1" "$(contact stranger@outside.example w@other.example)" "a stranger"
pm_assert_eq "known $TODAY" "$(contact alice@example.com bob@example.org)" "alice -> bob kept"
# sam sent on 5 days: established; tina on 2 and ugo long ago: warming up
pm_assert_eq "over 3" "$(ctl --json status sam@example.com | json 'd["warmup"]["state"], d["warmup"]["stage"]')" \
    "sam's warm-up"
pm_assert_eq warming_up "$(ctl --json status tina@example.com | json 'd["warmup"]["state"]')" "tina's warm-up"
pm_assert_eq warming_up "$(ctl --json status ugo@example.com | json 'd["warmup"]["state"]')" "ugo's warm-up"
[ "$(pm_rcli EXISTS "$(pm_key "tina@example.com" wu)")" = 0 ] || pm_fail "tina's warm-up was written"
# Idempotent: the same state again reads nothing; a new state rereads and
# changes nothing (a day never moves back, sam is past his curve already).
AFTER=$(dump pmtest)
pm_assert_eq "0 4 0" "$(summary_of "--maillog $ROT --state $PM_TMP/rot.state" lines files_done_before contacts_new)" \
    "the rotated set again"
pm_assert_eq "$RLINES 0 0 6 1 0" "$(summary_of "--maillog $ROT --state $PM_TMP/rot2.state" \
    lines contacts_new contacts_newer contacts_unchanged established warmups_ended)" \
    "the rotated set with a new state"
[ "$AFTER" = "$(dump pmtest)" ] || pm_fail "learning the same logs again changed the store"

# --- 3. an interrupted run resumes -------------------------------------------------
"$GEN" --lines 30000 --days 10 --end "$NOW" --senders 40 --contacts 3000 --format rfc3339 \
    >"$PM_TMP/big.log" || pm_fail "maillog-gen failed"
BLINES=$(wc -l <"$PM_TMP/big.log")
"$CTL" -c "$PM_TMP/ref.conf" learn --maillog "$PM_TMP/big.log" --state "$PM_TMP/ref.state" \
    >"$PM_TMP/ref.out" 2>&1 || pm_fail "the whole run failed: $(cat "$PM_TMP/ref.out")"
# The interrupted run reads a FIFO that gives it the first 25000 lines and
# then nothing: it writes its checkpoints at 10000 and 20000 lines, and is
# killed while it waits for more.
mkdir -p "$PM_TMP/fifo"
mkfifo "$PM_TMP/fifo/big.log"
{ head -n 25000 "$PM_TMP/big.log" && sleep 60; } >"$PM_TMP/fifo/big.log" &
WRITER=$!
pm_on_exit "kill $WRITER"
TZ=UTC "$CTL" -c "$PM_TMP/pm.conf" learn --maillog "$PM_TMP/fifo/big.log" \
    --state "$PM_TMP/cut.state" --checkpoint 10000 >"$PM_TMP/cut.out" 2>&1 &
CUT=$!
pm_on_exit "kill -9 $CUT"
WANT=$(head -n 20000 "$PM_TMP/big.log" | wc -c)
for _ in $(seq 1 200); do
    grep -q "^file [^ ]* $WANT 0 " "$PM_TMP/cut.state" 2>/dev/null && break
    sleep 0.05
done
grep -q "^file [^ ]* $WANT 0 " "$PM_TMP/cut.state" ||
    pm_fail "no checkpoint at 20000 lines: $(cat "$PM_TMP/cut.state" "$PM_TMP/cut.out" 2>&1)"
# while it holds its state, another run on it is refused
ctl learn --maillog "$PM_TMP/big.log" --state "$PM_TMP/cut.state" >"$PM_TMP/second.out" 2>&1 &&
    pm_fail "a second run on a state in use was not refused"
grep -q "another postmeterctl learn uses this state" "$PM_TMP/second.out" ||
    pm_fail "the refusal of a second run: $(cat "$PM_TMP/second.out")"
kill -9 "$CUT"
wait "$CUT" 2>/dev/null
kill "$WRITER" 2>/dev/null
# the generated senders are s0..s39@example.com
GENERATED='v2:{example.com}:s:s[0-9]*@example.com:*'
REF=$(dump pmref "$GENERATED")
[ "$(echo "$REF" | grep -c ':ct hash$')" -ge 30 ] || pm_fail "the whole run wrote too little: $REF"
[ "$REF" != "$(dump pmtest "$GENERATED")" ] || pm_fail "the killed run had written everything"
pm_assert_eq $((BLINES - 20000)) "$(summary_of "--maillog $PM_TMP/big.log --state $PM_TMP/cut.state" lines)" \
    "the resumed run reads from its last checkpoint"
[ "$REF" = "$(dump pmtest "$GENERATED")" ] ||
    pm_fail "the killed and resumed runs left another store than one whole run"
echo "PASS: learn_maillog"
