#!/bin/bash
# ctl.sh - postmeterctl against a real Redis and two running postmeter daemons.
#
# Credits let exactly N more messages through after the limit, also with
# concurrent sessions on two servers, and are logged; an expired credit does
# not help; a plan override set with postmeterctl reaches a second daemon at
# the next message and "plan clear" undoes it; status --json shows what the
# milter enforced (also with limits halved by a bad reputation, and a
# company-wide warm-up); warm-up reset and skip change what the milter allows;
# contact check follows the milter's
# contact memory; an address put on the suppression list is refused by the
# milter until it is deleted; top ranks by messages and by bounces; classify
# reads content and bounces; every error path exits with its documented
# status.
#
# SPDX-License-Identifier: BSD-2-Clause
. "$(dirname "$0")/../lib/common.sh"

PM=$top_builddir/postmeter
CTL=$top_builddir/postmeterctl
DRIVE=$top_builddir/tests/tools/pmdrive
pm_need "$PM" "$CTL" "$DRIVE"
pm_redis_start
pm_secret_file "$PM_TMP/contacts.key"
unset SUDO_USER # credit notes name the user running postmeterctl: id -un

# postmeterctl changes what the store says (credits, overrides, warm-ups) and the
# store's clock jumps, faster than a daemon's knowledge of a sender ages: the
# daemons ask the store for every recipient.
CONF_BODY="warmup: { hourly_share = 1.0; };
rcpt_check: { fresh_seconds = 0; };
local_domains = [ \"example.com\" ];
contacts: { secret_file = \"$PM_TMP/contacts.key\"; };
plans: {
  default: { messages_per_hour = 0; messages_per_day = 10; recipients_per_day = 0;
             new_recipients_per_day = 0; warmup = []; };
  big: { messages_per_hour = 0; messages_per_day = 30; recipients_per_day = 0;
         new_recipients_per_day = 0; warmup = []; };
  warm: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
          new_recipients_per_day = 0; warmup = [3, 5, 8]; };
  brand: { messages_per_hour = 0; messages_per_day = 0; recipients_per_day = 0;
           new_recipients_per_day = 0; warmup = [2, 4]; };
  tagme: { messages_per_hour = 0; messages_per_day = 2; recipients_per_day = 0;
           new_recipients_per_day = 0; warmup = []; action = \"tag\"; };
};
assign = ( { sender = \"w-*@example.com\"; plan = \"warm\"; } );
domains = ( { domain = \"brand.example\"; plan = \"brand\"; },
            { domain = \"flat.example\"; plan = \"big\"; } );
rules = ( );"

# Start daemon $1 with the shared configuration.
start_pm() {
    PM_MILTER_SOCKET="unix:$PM_TMP/$1.sock" pm_write_conf "$PM_TMP/$1.conf" <<<"$CONF_BODY"
    "$PM" -n -c "$PM_TMP/$1.conf" >"$PM_TMP/check.out" 2>&1 ||
        pm_fail "postmeter -n rejects the config: $(cat "$PM_TMP/check.out")"
    "$PM" -c "$PM_TMP/$1.conf" -f 2>"$PM_TMP/$1.log" &
    pm_on_exit "kill $!"
    pm_wait_file "$PM_TMP/$1.sock" || pm_fail "postmeter $1 did not start: $(cat "$PM_TMP/$1.log")"
}
start_pm a
start_pm b

# postmeterctl with daemon a's configuration.
ctl() {
    "$CTL" -c "$PM_TMP/a.conf" "$@"
}

# Send $3 messages from $2 through daemon $1 (one connection); print accepted.
send() {
    "$DRIVE" -S "unix:$PM_TMP/$1.sock" -c 1 -m "$3" -f "$2" -r "${4:-friend@example.org}" \
        >"$PM_TMP/send.out" 2>&1 || pm_fail "pmdrive failed: $(cat "$PM_TMP/send.out")"
    pm_summary "$PM_TMP/send.out" accepted
}

# The number after "$2": in the JSON text $1 (first occurrence).
jnum() {
    grep -o "\"$2\":-\?[0-9]*" <<<"$1" | head -n 1 | cut -d: -f2
}

# The usage figure "used" of counter $2 in status JSON $1.
jused() {
    grep -o "\"$2\":{\"used\":[0-9]*" <<<"$1" | head -n 1 | sed 's/.*://'
}

# Expect exit status $1 from postmeterctl with the remaining arguments; the
# output (stdout and stderr) is left in $PM_TMP/ctl.out.
expect_rc() {
    local want=$1 got=0
    shift
    ctl "$@" >"$PM_TMP/ctl.out" 2>&1 || got=$?
    [ "$got" = "$want" ] ||
        pm_fail "postmeterctl $* exited $got, expected $want: $(cat "$PM_TMP/ctl.out")"
}

# --- error paths ----------------------------------------------------------------
expect_rc 2 frobnicate
grep -q '^postmeterctl: unknown command "frobnicate"' "$PM_TMP/ctl.out" || pm_fail "unknown command text"
expect_rc 3 credit show nobody@example.com
grep -q 'nobody@example.com has no credits' "$PM_TMP/ctl.out" || pm_fail "credit show text"
expect_rc 2 credit add carol@example.com 5x
grep -q 'bad number of messages "5x"' "$PM_TMP/ctl.out" || pm_fail "bad number text"
expect_rc 2 credit add carol@example.com 0
expect_rc 2 credit add carol@example.com 5 --expires soon
expect_rc 2 credit add carol@example.com 5 --expires 2001-01-01
pm_assert_eq "postmeterctl: credit add: expiry end of 2001-01-01 UTC is already past" \
    "$(cat "$PM_TMP/ctl.out")" "credit add: a past date as given"
expect_rc 2 credit add carol@example.com 5 --recipients -1
expect_rc 2 credit revoke carol@example.com abc
expect_rc 3 credit revoke carol@example.com 7
expect_rc 2 plan set carol@example.com nosuchplan
grep -q 'no plan "nosuchplan"' "$PM_TMP/ctl.out" || pm_fail "unknown plan text"
expect_rc 2 top -n zero
expect_rc 2 top --by week
expect_rc 2 warmup skip w-carol@example.com --to-stage x
# nothing to skip where a plan has no curve: said, and exit 2
expect_rc 2 warmup skip carol@example.com
pm_assert_eq "postmeterctl: warmup skip: carol@example.com has no warm-up: plan default has no curve" \
    "$(cat "$PM_TMP/ctl.out")" "warmup skip without a curve"
expect_rc 2 warmup skip --domain flat.example
pm_assert_eq "postmeterctl: warmup skip: company-wide flat.example has no warm-up: plan big has no curve" \
    "$(cat "$PM_TMP/ctl.out")" "warmup skip --domain without a curve"
expect_rc 2 warmup frob carol@example.com
expect_rc 2 status '<>'
expect_rc 2 status a@example.com b@example.com
# without a sender, status says where the installation stands (learning.sh)
expect_rc 0 status
pm_assert_eq "no learning mode (learning.days = 0): limits are enforced" "$(cat "$PM_TMP/ctl.out")" \
    "status without a sender"
expect_rc 2 suppress frob
expect_rc 2 suppress add not-an-address
expect_rc 2 suppress add x@example.org --status 9.9
expect_rc 2 suppress add x@example.org --status 4.1.1
expect_rc 2 suppress add x@example.org --status 5.7.1
expect_rc 2 suppress add @example.org
expect_rc 2 suppress add bad@
expect_rc 2 suppress check bad@.example
expect_rc 2 suppress add x@example.org --days 0
expect_rc 3 --json suppress check nobody@example.org
grep -qx 'postmeterctl: nobody@example.org is not on the suppression list' "$PM_TMP/ctl.out" ||
    pm_fail "suppress check text: $(cat "$PM_TMP/ctl.out")"
expect_rc 3 suppress del nobody@example.org
expect_rc 2 classify "$PM_TMP/no-such-file"
expect_rc 0 check-config "$PM_TMP/a.conf"
echo 'plans: { default: { messages_per_hour = "x"; }; };' >"$PM_TMP/bad.conf"
expect_rc 1 check-config "$PM_TMP/bad.conf"
grep -q "bad.conf:1:" "$PM_TMP/ctl.out" || pm_fail "check-config error text"
# Each command given (one string each) fails with exit 1 and exactly the
# message $2 under configuration $1 ($3: what the case is).
refused_all() {
    local conf=$1 msg=$2 what=$3 cmd rc
    shift 3
    for cmd in "$@"; do
        rc=0
        # shellcheck disable=SC2086
        "$CTL" -c "$conf" $cmd >"$PM_TMP/ctl.out" 2>&1 || rc=$?
        pm_assert_eq 1 "$rc" "exit status of '$cmd' $what"
        grep -qxF "$msg" "$PM_TMP/ctl.out" || pm_fail "'$cmd' $what: $(cat "$PM_TMP/ctl.out")"
    done
}
# Redis down: a port nothing listens on.
DEAD=$(pm_free_port)
sed "s/port = $PM_REDIS_PORT/port = $DEAD/" "$PM_TMP/a.conf" >"$PM_TMP/dead.conf"
refused_all "$PM_TMP/dead.conf" "postmeterctl: cannot reach redis 127.0.0.1:$DEAD: Connection refused" \
    "with Redis down" "status x@example.com" "credit add x@example.com 1" \
    "plan set x@example.com big" "top" "warmup reset x@example.com" \
    "contact check x@example.com y@example.org" "suppress list" "credit show x@example.com"

# --- a replica is never written to: every command refuses it, as the milter does ------
pm_rcli REPLICAOF 127.0.0.1 1 >/dev/null # read-only, following nothing reachable
refused_all "$PM_TMP/a.conf" \
    "postmeterctl: cannot reach redis 127.0.0.1:$PM_REDIS_PORT: the server is a replica, not a primary" \
    "on a replica" "credit add ro@example.com 1" "plan set ro@example.com big" "status ro@example.com"
pm_rcli REPLICAOF NO ONE >/dev/null
pm_assert_eq "" "$(pm_rcli --scan --pattern '*ro@example.com*')" "keys written to the replica"

# --- contacts -----------------------------------------------------------------------
expect_rc 0 --json contact check dave@example.com Erin+News@Example.ORG
grep -q '"state":"cold","known":false' "$PM_TMP/ctl.out" || pm_fail "cold before: $(cat "$PM_TMP/ctl.out")"
pm_assert_eq 1 "$(send a dave@example.com 1 erin@example.org)" "message to erin"
expect_rc 0 contact check Dave@Example.com erin+x@example.org
grep -q 'dave@example.com -> erin@example.org: known' "$PM_TMP/ctl.out" ||
    pm_fail "known after: $(cat "$PM_TMP/ctl.out")"
expect_rc 0 contact check dave@example.com colleague@example.com
grep -q 'internal recipient' "$PM_TMP/ctl.out" || pm_fail "internal recipient"

# --- credits: exactly N more after the limit, with concurrent sessions ----------------
S=sally@example.com
pm_assert_eq 10 "$(send a $S 12)" "accepted up to the limit"
json=$(ctl --json status $S) || pm_fail "status failed"
pm_assert_eq 10 "$(jused "$json" messages_per_day)" "status: messages in the day"
pm_assert_eq 10 "$(jused "$json" messages_per_hour)" "status: messages in the hour"
grep -q '"can_send":false,"spends_credits":false,"blocked_by":"messages_per_day","blocked_scope":"sender","blocked_limit":10' \
    <<<"$json" || pm_fail "status: not blocked: $json"
ctl status $S | grep -q '^    messages per day        ████████████████████  10/10$' ||
    pm_fail "status bar: $(ctl status $S)"
expect_rc 0 credit add Sally+promo@example.com 5 --note "spring campaign"
grep -q "granted #1 to $S: 5 messages, 0 recipients; expires never" "$PM_TMP/ctl.out" ||
    pm_fail "credit add text: $(cat "$PM_TMP/ctl.out")"
json=$(ctl --json status $S)
grep -q '"can_send":true,"spends_credits":true' <<<"$json" ||
    pm_fail "status: a credit lets the next message pass: $json"
pm_assert_eq 5 "$(jnum "$json" messages)" "status: credits"
PIDS=()
for d in a1 a2 b1 b2; do
    "$DRIVE" -S "unix:$PM_TMP/${d%?}.sock" -c 1 -m 5 -f $S -r friend@example.org \
        >"$PM_TMP/conc.$d.out" 2>&1 &
    PIDS+=($!)
done
for p in "${PIDS[@]}"; do wait "$p" || pm_fail "pmdrive failed (concurrent)"; done
total=0
for f in "$PM_TMP"/conc.*.out; do
    n=$(pm_summary "$f" accepted)
    total=$((total + n))
done
pm_assert_eq 5 "$total" "accepted after a credit of 5 (4 sessions x 5 messages)"
pm_assert_eq 5 "$(cat "$PM_TMP/a.log" "$PM_TMP/b.log" | grep -c "sender=$S .*credits_spent=1/0")" \
    "credit spends in the daemons' logs"
grep -q "sender=$S .*credits_spent=1/0 credits_left=0/0" "$PM_TMP/a.log" "$PM_TMP/b.log" ||
    pm_fail "last credit spend not logged"
json=$(ctl --json credit show $S) || pm_fail "credit show failed"
grep -q '"messages":0,"recipients":0,"grants":\[{"id":1,"messages_left":0,"recipients_left":0,"messages_granted":5,"recipients_granted":0,"expires":0,' \
    <<<"$json" || pm_fail "credit show grants: $json"
pm_assert_eq 5 "$(grep -o '"event":"spend","messages":1,"recipients":0' <<<"$json" | wc -l)" "spends logged"
grep -q "\"event\":\"grant\",\"messages\":5,\"recipients\":0,\"expires\":0,\"note\":\"$(id -un): spring campaign\"" \
    <<<"$json" || pm_fail "grant logged: $json"
ctl credit show $S | grep -A1 "  grant      5 msgs     0 rcpts  expires never$" |
    grep -qx "                    $(id -un): spring campaign" ||
    pm_fail "credit show text: $(ctl credit show $S)"
# a date is the end of that day, shown as given
D=dora@example.com
expect_rc 0 credit add $D 1 --expires 2099-01-31
pm_assert_eq "granted #1 to $D: 1 message, 0 recipients; expires end of 2099-01-31 UTC" \
    "$(cat "$PM_TMP/ctl.out")" "credit add --expires DATE"
pm_assert_eq "credits of $D: 1 message, 0 recipients left
  grant left m/r      granted m/r   expires
  #1    1/0           1/0           end of 2099-01-31 UTC" \
    "$(ctl credit show $D | head -n 3)" "credit show of a grant to a date"
ctl credit show $D | grep -q "  grant      1 msgs     0 rcpts  expires end of 2099-01-31$" ||
    pm_fail "credit show movements: $(ctl credit show $D)"
json=$(ctl --json status $S)
pm_assert_eq 15 "$(jused "$json" messages_per_day)" "status after the credits (10 + 5)"
key="$(pm_key "$S" cr)"
ttl=$(pm_rcli TTL "$key")
[ "$ttl" -gt $((399 * 86400)) ] && [ "$ttl" -le $((400 * 86400)) ] || pm_fail "credit TTL $ttl"
pm_assert_eq 1 "$(pm_rcli HGET "$key" seq)" "grant sequence"
# Revoking: the grant is gone and the movement logged.
expect_rc 0 credit add $S 2 --recipients 3 --expires 30d
expect_rc 0 credit revoke $S 2
json=$(ctl --json credit show $S)
grep -q '"event":"revoke","messages":2,"recipients":3,' <<<"$json" || pm_fail "revoke logged: $json"
pm_assert_eq 0 "$(send a $S 1)" "no credit left after the revoke"

# --- plan overrides reach a second daemon at the next message --------------------------
P=pete@example.com
pm_assert_eq 10 "$(send a $P 11)" "default plan on daemon a"
expect_rc 0 plan set Pete@example.com big
pm_assert_eq "set: $P: plan big (override)
  override expires in 400 days unless set again" "$(cat "$PM_TMP/ctl.out")" "plan set text"
ttl=$(pm_rcli TTL "$(pm_key "$P" plan)")
[ "$ttl" -gt $((399 * 86400)) ] && [ "$ttl" -le $((400 * 86400)) ] || pm_fail "override TTL $ttl"
pm_assert_eq 8 "$(send b $P 8)" "override on daemon b"
grep -q "sender=$P plan=big plan_from=override" "$PM_TMP/b.log" || pm_fail "override not logged by b"
json=$(ctl --json status $P)
grep -q '"plan":"big","plan_from":"override","plan_rule_line":0,"override_unknown_to_a_daemon":false,"override":"big"' <<<"$json" ||
    pm_fail "status: override: $json"
pm_assert_eq 18 "$(jused "$json" messages_per_day)" "status: messages with the override"
grep -q '"messages_per_day":{"used":18,"limit":30}' <<<"$json" || pm_fail "status: override limit"
ctl status $P | grep -qx '  new contacts  1 first-contact recipient in the last 24 hours' ||
    pm_fail "status: one new contact: $(ctl status $P)"
expect_rc 0 plan clear $P
pm_assert_eq "cleared: $P: plan default (default)" "$(cat "$PM_TMP/ctl.out")" "plan clear text"
# without an override, its time to live is no figure
expect_rc 0 --json plan clear $P
pm_assert_eq '{"sender":"pete@example.com","plan":"default","plan_from":"default","plan_rule_line":0,"override_unknown_to_a_daemon":false,"override":null,"override_ttl":null}' \
    "$(cat "$PM_TMP/ctl.out")" "plan clear --json"
pm_assert_eq 0 "$(send b $P 1)" "back on the default plan after plan clear"
expect_rc 0 --json plan show $P
grep -q '"plan":"default","plan_from":"default","plan_rule_line":0,"override_unknown_to_a_daemon":false,"override":null,"override_ttl":null}$' \
    "$PM_TMP/ctl.out" || pm_fail "plan show: $(cat "$PM_TMP/ctl.out")"

# --- top ------------------------------------------------------------------------------------
# (top reads the companies of the registry: the daemons announce theirs about
# a second after their first message)
pm_wait_registry example.com || pm_fail "example.com not in the company registry"
json=$(ctl --json top -n 2) || pm_fail "top failed"
grep -q "^{\"by\":\"day\",\"now\":[0-9]*,\"senders\":\[{\"rank\":1,\"sender\":\"$P\",\"plan\":\"default\",\"used\":18,\"limit\":10,[^]]*{\"rank\":2,\"sender\":\"$S\",\"plan\":\"default\",\"used\":15,\"limit\":10,[^]]*\]}$" \
    <<<"$json" || pm_fail "top: $json"
ctl top --by hour -n 3 | sed -n 4p | grep -q "^  3  dave@example.com  *1 (no limit)  *default$" ||
    pm_fail "top text: $(ctl top --by hour -n 3)"

# --- suppression list: what postmeterctl adds, the milter refuses -----------------------
expect_rc 0 suppress add Gone+x@Example.ORG --days 30
grep -qx "suppressed gone@example.org for the senders of example.com for 30 days" "$PM_TMP/ctl.out" ||
    pm_fail "suppress add text: $(cat "$PM_TMP/ctl.out")"
"$DRIVE" -S "unix:$PM_TMP/b.sock" -c 1 -m 1 -f dave@example.com -r gone@example.org \
    -r erin@example.org >"$PM_TMP/send.out" 2>&1 || pm_fail "pmdrive (suppressed) failed"
grep -q '^messages=1 accepted=1 .* rcpt_refused=1$' "$PM_TMP/send.out" ||
    pm_fail "suppressed recipient: $(cat "$PM_TMP/send.out")"
grep -q '^reply 1 550 5.1.1 <gone@example.org>' "$PM_TMP/send.out" ||
    pm_fail "suppressed reply: $(cat "$PM_TMP/send.out")"
expect_rc 0 --json suppress check gone@example.org
grep -q "^{\"suppressed\":true,\"entries\":\[{\"company\":\"example.com\",\"recipient\":\"gone@example.org\",\"since\":[0-9]*,\"until\":[0-9]*,\"status\":\"5.1.1\",\"sender\":\"admin:$(id -un)\"}\]}$" \
    "$PM_TMP/ctl.out" || pm_fail "suppress check: $(cat "$PM_TMP/ctl.out")"
ttl=$(pm_rcli TTL "$(pm_key sup "example.com" "gone@example.org")")
[ "$ttl" -gt $((29 * 86400)) ] && [ "$ttl" -le $((30 * 86400)) ] || pm_fail "suppression TTL $ttl"
expect_rc 0 suppress add other@example.net
expect_rc 0 --json suppress list
grep -q '"total":2,"entries":\[' "$PM_TMP/ctl.out" || pm_fail "suppress list: $(cat "$PM_TMP/ctl.out")"
grep -q '"recipient":"other@example.net"' "$PM_TMP/ctl.out" || pm_fail "suppress list entries"
expect_rc 0 suppress del gone@example.org
pm_assert_eq 1 "$(send b dave@example.com 1 gone@example.org)" "accepted after suppress del"
expect_rc 0 suppress list
pm_assert_eq "1 suppressed address" "$(head -n 1 "$PM_TMP/ctl.out")" "suppress list text"

# An override to a plan that tags: over its limit mail passes, is logged as
# tagged, and counts; it carries no header (her quota is not the recipients' business).
expect_rc 0 plan set tina@example.com tagme
pm_assert_eq 4 "$(send a tina@example.com 4)" "tina on a tag plan"
pm_assert_eq 0 "$(pm_summary "$PM_TMP/send.out" tagged)" "tina: no header over the limit"
pm_assert_eq 2 "$(grep -c "action=tag reason=msgs_day sender=tina@example.com " "$PM_TMP/a.log")" \
    "tina: tagged over the limit in the log"
pm_assert_eq 4 "$(jused "$(ctl --json status tina@example.com)" messages_per_day)" "tina: counted"

# --- reputation: status shows the halved limits the milter enforces ----------------------
REAL=$(pm_rcli TIME | head -n 1)
TODAY=$((REAL / 86400))

# Through daemon a, at 10:00 of day TODAY+$2, sender $1 sends $3 messages to $4
# external recipients each, NAME-d<day>-N@ext.example (NAME its local part,
# N counting from 1), with Message-ID <NAME-d<day>-M@example.com>.
history() {
    local s=$1 day=$2 msgs=$3 per=$4 name=${1%@*} m i n=0 args out
    pm_clock_set $(((TODAY + day) * 86400 + 36000 - REAL)) EX 3600 >/dev/null
    for ((m = 1; m <= msgs; m++)); do
        args=()
        for ((i = 1; i <= per; i++)); do
            n=$((n + 1))
            args+=(-r "$name-d${day#-}-$n@ext.example")
        done
        printf 'From: %s\r\nSubject: offer\r\nMessage-ID: <%s-d%s-%d@example.com>\r\n\r\nHello.\r\n' \
            "$s" "$name" "${day#-}" "$m" >"$PM_TMP/h.eml"
        out=$("$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f "$s" -D "$PM_TMP/h.eml" "${args[@]}" 2>&1)
        pm_assert_eq 1 "$(pm_summary - accepted <<<"$out")" "$s's history message $m"
    done
}

# At 11:00 of day TODAY+$2 a bounce comes back to sender $1 with status $3 for
# its recipients NAME-d<$4>-N@ext.example, N from $5 to $6; wait until daemon a
# counted them.
bounce() {
    local s=$1 status=$3 sday=$4 from=$5 to=$6 name=${1%@*} i before
    pm_clock_set $(((TODAY + $2) * 86400 + 39600 - REAL)) EX 3600 >/dev/null
    {
        printf 'From: MAILER-DAEMON@mx.ext.example\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n' "$s"
        printf 'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        printf -- '--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.ext.example\r\n'
        for ((i = from; i <= to; i++)); do
            printf '\r\nFinal-Recipient: rfc822; %s-d%s-%d@ext.example\r\nAction: failed\r\nStatus: %s\r\n' \
                "$name" "${sday#-}" "$i" "$status"
        done
        printf -- '\r\n--B--\r\n'
    } >"$PM_TMP/dsn.eml"
    before=$(grep -c "feedback=\(hard_bounce\|block\) sender=$s " "$PM_TMP/a.log")
    "$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f "" -D "$PM_TMP/dsn.eml" -r "$s" >/dev/null 2>&1 ||
        pm_fail "the bounce to $s was not delivered"
    for _ in $(seq 1 50); do
        [ "$(grep -c "feedback=\(hard_bounce\|block\) sender=$s " "$PM_TMP/a.log")" = $((before + to - from + 1)) ] && return
        sleep 0.1
    done
    pm_fail "daemon a counted $(($(grep -c "feedback=\(hard_bounce\|block\) sender=$s " "$PM_TMP/a.log") - before)) of the $((to - from + 1)) bounces to $s"
}

# At 12:00 of day TODAY+$2 recipient NAME-d<$3>-$4@ext.example of sender $1
# replies to its message 1 (from outside: a client address postmeter does not
# meter).
reply() {
    local s=$1 a="${1%@*}-d${3#-}-$4@ext.example"
    pm_clock_set $(((TODAY + $2) * 86400 + 43200 - REAL)) EX 3600 >/dev/null
    printf 'From: %s\r\nTo: %s\r\nSubject: Re: offer\r\nIn-Reply-To: <%s-d%s-1@example.com>\r\n\r\nYes.\r\n' \
        "$a" "$s" "${s%@*}" "${3#-}" >"$PM_TMP/reply.eml"
    "$DRIVE" -S "unix:$PM_TMP/a.sock" -c 1 -m 1 -f "$a" -i 192.0.2.7 -D "$PM_TMP/reply.eml" -r "$s" \
        >/dev/null 2>&1 || pm_fail "the reply to $s was not delivered"
    pm_wait_grep "feedback=reply sender=$s rcpt=$a" "$PM_TMP/a.log" || pm_fail "the reply to $s was not counted"
}

# randy mailed 100 recipients yesterday: 4 hard bounces, 1 block, 1 reply (4 %).
R=randy@example.com
history $R -1 1 100
bounce $R -1 5.1.1 -1 1 4
bounce $R -1 5.7.1 -1 5 5
reply $R -1 -1 6
pm_clock_set $((TODAY * 86400 + 43200 - REAL)) EX 3600 >/dev/null # noon: TODAY stays today
json=$(ctl --json status $R)
grep -q '"messages_per_day":{"used":0,"limit":5}' <<<"$json" || pm_fail "status: halved limit: $json"
grep -q '"reputation":{"sent":100,"hard_bounces":4,"blocks":1,"replies":1,"bounce_ppm":40000,"level":2,"level_name":"halved","first_contacts_30d":100,"first_contacts_replied":1,"reply_ppm":10000,"reply_brake":false}' \
    <<<"$json" || pm_fail "status: reputation: $json"
ctl status $R | grep -qx '  reputation    7 days: 100 sent, 4 hard bounces (4.0 %), 1 block, 1 reply' ||
    pm_fail "status: reputation text: $(ctl status $R)"
# the reply rate beside it: the reply came from one of the 100 first contacts
ctl status $R | grep -qx '  reply rate    30 days: 1 of 100 first contacts replied (1.0 %)' ||
    pm_fail "status: reply rate text: $(ctl status $R)"
pm_assert_eq 5 "$(send a $R 7)" "halved limit"
# At 6.45 % (31 of 480) only first-contact mail stops: status says so beside
# the next message, with the rate the milter's reply gives (rounded down).
K=cole@example.com
history $K -1 5 96
bounce $K -1 5.1.1 -1 1 31
pm_clock_set $((TODAY * 86400 + 43200 - REAL)) EX 3600 >/dev/null
json=$(ctl --json status $K)
grep -q '"can_send":true,"spends_credits":false,"blocked_by":null,.*"first_contact":{"can_send":false,"spends_credits":false,"blocked_by":"reputation_first_contact","blocked_scope":"sender",' \
    <<<"$json" || pm_fail "status: first contact at 6.45 %: $json"
grep -q '"bounce_ppm":64583,' <<<"$json" || pm_fail "status: 6.45 %: $json"
ctl status $K >"$PM_TMP/cole.txt"
grep -qx '  next message  can be sent now' "$PM_TMP/cole.txt" || pm_fail "status text: $(cat "$PM_TMP/cole.txt")"
grep -qx '  first contact refused: a bounce rate of 6.4 % stops first-contact mail' "$PM_TMP/cole.txt" ||
    pm_fail "status text, first contact: $(cat "$PM_TMP/cole.txt")"
grep -qx '  reputation    7 days: 480 sent, 31 hard bounces (6.4 %), 0 blocks, 0 replies' "$PM_TMP/cole.txt" ||
    pm_fail "status text, reputation: $(cat "$PM_TMP/cole.txt")"
pm_assert_eq 0 "$(send a $K 1 stranger@example.org)" "cole to a stranger, as status says"
# (the milter doubles '%' for Postfix, which shows one)
grep -q "^reply 1 451 4.7.1 <$K>: first-contact mail paused: 6.4%% of your recent mail bounced as invalid addresses; " \
    "$PM_TMP/send.out" || pm_fail "cole's reply: $(cat "$PM_TMP/send.out")"
json=$(ctl --json top --by bounces -n 5)
grep -q "{\"rank\":2,\"sender\":\"$R\",\"plan\":\"default\",\"used\":4,.*\"sent_7d\":105,\"hard_bounces_7d\":4," \
    <<<"$json" || pm_fail "top --by bounces: $json"
# A sender counted 5 and 2 days ago, with bounces since, is still a candidate
# (listed once); one whose only index day is 7 days old is not (nor are its
# bounces counted).
history olive@example.com -5 1 19
history olive@example.com -2 1 1
bounce olive@example.com -1 5.1.1 -5 1 9
history oscar@example.com -7 1 20
bounce oscar@example.com -7 5.1.1 -7 1 9
pm_clock_set $((TODAY * 86400 + 43200 - REAL)) EX 3600 >/dev/null
expect_rc 0 top --by bounces -n 5
pm_assert_eq "senders with the most hard bounces in 7 days (of those sending lately)
  1  cole@example.com                   31/480           6.4 %  default
  2  olive@example.com                  9/20            45.0 %  default
  3  randy@example.com                  4/105            3.8 %  default" "$(cat "$PM_TMP/ctl.out")" "top --by bounces over 7 days"
# Every sender of the index is a candidate, however small its day's score:
# 30 senders busier that day (9 messages each at 09:00) but with nothing in the
# last hour do not hide petra's 8 at noon. (Tomorrow, so that no message sent
# on the real clock above falls in that hour.)
pm_clock_set $(((TODAY + 1) * 86400 + 32400 - REAL)) EX 3600 >/dev/null # 09:00
for i in $(seq 1 30); do
    pm_assert_eq 9 "$(send a "ghost$i@example.com" 9)" "ghost $i"
done
pm_clock_set $(((TODAY + 1) * 86400 + 43200 - REAL)) EX 3600 >/dev/null # noon
pm_assert_eq 8 "$(send a petra@example.com 8)" "petra at noon"
json=$(ctl --json top --by hour -n 1)
grep -q '"senders":\[{"rank":1,"sender":"petra@example.com",.*"messages_per_hour":8,' <<<"$json" ||
    pm_fail "top --by hour behind busy index entries: $json"
pm_clock_del
# An 8-bit sender address still makes valid JSON (as the Latin-1 it would be).
pm_assert_eq 1 "$(send a $'caf\xe9@example.org' 1)" "an 8-bit sender"
pm_wait_registry example.org || pm_fail "example.org not in the company registry"
ctl --json top -n 100 >"$PM_TMP/top.json" || pm_fail "top failed"
python3 -m json.tool "$PM_TMP/top.json" >/dev/null || pm_fail "top --json is not JSON: $(cat -v "$PM_TMP/top.json")"
grep -qF '"sender":"caf\u00e9@example.org"' "$PM_TMP/top.json" || pm_fail "8-bit sender: $(cat -v "$PM_TMP/top.json")"

# --- classify -------------------------------------------------------------------------------
pm_write_conf "$PM_TMP/rules.conf" </dev/null
"$CTL" -c "$PM_TMP/rules.conf" --json classify "$top_srcdir/tests/scan/tnef.eml" >"$PM_TMP/cl.out" ||
    pm_fail "classify failed"
grep -q '"first_contact":{"action":"tempfail","dry_run":false,"reasons":"rule:cold-attachment"' \
    "$PM_TMP/cl.out" || pm_fail "classify: first contact: $(cat "$PM_TMP/cl.out")"
grep -q '"known_contact":{"action":"accept"' "$PM_TMP/cl.out" || pm_fail "classify: known contact"
grep -q '"bounce":{"is_bounce":false' "$PM_TMP/cl.out" || pm_fail "classify: not a bounce"
"$CTL" -c "$PM_TMP/rules.conf" classify "$top_srcdir/tests/dsn/exim.eml" >"$PM_TMP/cl.out" ||
    pm_fail "classify (bounce) failed"
grep -q '^  recipient: niaj@example.org 5.1.1 failed hard ' "$PM_TMP/cl.out" ||
    pm_fail "classify: bounce recipients: $(cat "$PM_TMP/cl.out")"

# --- an expired credit does not help (the clock moves from here on) -----------------------
E=eve@example.com
pm_assert_eq 10 "$(send a $E 11)" "eve up to the limit"
expect_rc 0 credit add $E 3 --expires 1h
REAL=$(pm_rcli TIME | head -n 1)
pm_clock_set 7200 >/dev/null
pm_assert_eq 0 "$(send b $E 2)" "an expired credit"
json=$(ctl --json credit show $E)
grep -q '"messages":0,"recipients":0,"grants":\[{"id":1,"messages_left":3,.*"expired":true}' <<<"$json" ||
    pm_fail "credit show: expired grant: $json"
expect_rc 0 credit add $E 1 --expires 2h
grep -q "^granted #2 to $E: 1 message, 0 recipients; expires " "$PM_TMP/ctl.out" ||
    pm_fail "credit add text: $(cat "$PM_TMP/ctl.out")"
pm_assert_eq 1 "$(send b $E 2)" "a live credit next to an expired one"
# A sender holds at most 100 live grants; a full hash drops its spent and
# expired grants to make room.
for i in $(seq 1 100); do
    ctl credit add gina@example.com 1 --expires 1h >/dev/null || pm_fail "credit add #$i"
done
expect_rc 1 credit add gina@example.com 1
grep -q "^postmeterctl: credit add: gina@example.com has 100 grants with credits left; revoke some first" "$PM_TMP/ctl.out" ||
    pm_fail "the 101st grant: $(cat "$PM_TMP/ctl.out")"
pm_clock_set $((7200 + 2 * 3600)) >/dev/null # the 100 have expired
expect_rc 0 credit add gina@example.com 1
pm_assert_eq 2 "$(pm_rcli HLEN "$(pm_key "gina@example.com" cr)")" "grants kept (seq and the new one)"
pm_clock_set 7200 >/dev/null

# --- warm-up reset and skip, on a simulated day (hours apart) -----------------------------
W=w-new@example.com
DAY=$((REAL / 86400 + 5))
# Shift the store's clock to $1 (HH:MM) of the simulated day.
at() {
    pm_clock_set $((DAY * 86400 + 10#${1%:*} * 3600 + 10#${1#*:} * 60 - REAL)) >/dev/null
}
at 12:00
pm_assert_eq 3 "$(send a $W 5)" "warm-up day 1"
json=$(ctl --json status $W)
grep -q '"plan":"warm","plan_from":"config rule"' <<<"$json" || pm_fail "status: rule plan: $json"
grep -q '"can_send":false,"spends_credits":false,"blocked_by":"warmup_day"' <<<"$json" || pm_fail "status: warm-up block: $json"
grep -q '"warmup":{"state":"warming_up","stage":0,"stages":3,"day_cap":3,"hour_cap":3,"today":3,' \
    <<<"$json" || pm_fail "status: warm-up: $json"
ctl status $W | grep -q '^                ^ today (stage 0: 3 a day)$' || pm_fail "warm-up chart: $(ctl status $W)"
expect_rc 0 warmup skip $W --to-stage 2
at 13:05
pm_assert_eq 8 "$(send a $W 10)" "after warmup skip --to-stage 2"
expect_rc 0 warmup reset $W
at 14:10
pm_assert_eq 3 "$(send b $W 5)" "after warmup reset"
expect_rc 0 warmup skip $W
at 15:15
pm_assert_eq 10 "$(send a $W 10)" "after warmup skip to the end"
json=$(ctl --json status $W)
grep -q '"warmup":{"state":"over"' <<<"$json" || pm_fail "status: warm-up over: $json"
ttl=$(pm_rcli TTL "$(pm_key "$W" wu)")
[ "$ttl" -gt $((30 * 86400)) ] && [ "$ttl" -le $((31 * 86400)) ] || pm_fail "warm-up TTL $ttl"

# --- a company-wide warm-up: the domain's stage and count in status -----------------------
at 16:20
pm_assert_eq 2 "$(send a ann@brand.example 3)" "brand.example warm-up day 1"
json=$(ctl --json status ann@brand.example)
grep -q '"domain":{"domain":"brand.example","plan":"brand",.*"warmup":{"state":"warming_up","stage":0,"stages":2,"day_cap":2,"hour_cap":2,"today":2,"bounce_ppm":0,"curve":\[2,4\]}},' \
    <<<"$json" || pm_fail "status: domain warm-up: $json"
grep -q '"blocked_by":"warmup_day","blocked_scope":"domain"' <<<"$json" || pm_fail "status: domain block: $json"
grep -q '"warmup":{"state":"none","stage":0,"stages":0,' <<<"$json" || pm_fail "status: sender warm-up: $json"
ctl status ann@brand.example >"$PM_TMP/brand.txt"
grep -qx '    warm-up                 stage 0 (day 1 of 2): 2 today, 2 an hour; 2 sent today' "$PM_TMP/brand.txt" ||
    pm_fail "status text: domain warm-up: $(cat "$PM_TMP/brand.txt")"
grep -qx '  warm-up       not warming up (plan default has no curve)' "$PM_TMP/brand.txt" ||
    pm_fail "status text: sender warm-up: $(cat "$PM_TMP/brand.txt")"
# The company-wide warm-up is skipped and reset with --domain.
expect_rc 2 warmup reset --domain example.com
grep -q 'no company-wide plan for example.com' "$PM_TMP/ctl.out" || pm_fail "warmup --domain: $(cat "$PM_TMP/ctl.out")"
expect_rc 2 warmup reset ann@brand.example --domain brand.example
expect_rc 0 warmup skip --domain Brand.Example --to-stage 1
pm_assert_eq "company-wide brand.example: warm-up at stage 1 of 2: 4 messages today" "$(cat "$PM_TMP/ctl.out")" \
    "warmup skip --domain text"
# stage 1: 4 a day, 4 an hour; ann's 2 of this hour leave 2
pm_assert_eq 2 "$(send a bo@brand.example 5)" "brand.example at stage 1"
expect_rc 0 --json warmup reset --domain brand.example
pm_assert_eq '{"domain":"brand.example","reset":true,"had_state":true}' "$(cat "$PM_TMP/ctl.out")" \
    "warmup reset --domain"
json=$(ctl --json status cy@brand.example)
grep -q '"domain":{"domain":"brand.example",.*"warmup":{"state":"warming_up","stage":0,"stages":2,"day_cap":2,"hour_cap":2,"today":0,' \
    <<<"$json" || pm_fail "status after warmup reset --domain: $json"
echo "PASS: ctl"
